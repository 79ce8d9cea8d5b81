//! The checked-in SDL matches the schema, and every command has its mutation.

use foldline_aggregates::asset::AssetCommand;
use foldline_aggregates::comment::CommentCommand;
use foldline_aggregates::company::CompanyCommand;
use foldline_aggregates::contact::ContactCommand;
use foldline_aggregates::contract::ContractCommand;
use foldline_aggregates::document::DocumentCommand;
use foldline_aggregates::event::EventCommand;
use foldline_aggregates::expense::ExpenseCommand;
use foldline_aggregates::invoice::InvoiceCommand;
use foldline_aggregates::organization::OrganizationCommand;
use foldline_aggregates::production_advance::ProductionAdvanceCommand;
use foldline_aggregates::shift::ShiftCommand;
use foldline_aggregates::task::TaskCommand;
use foldline_aggregates::venue::VenueCommand;
use foldline_graphql::mutation::COMMANDS;
use strum::VariantNames;

#[test]
fn the_checked_in_sdl_is_the_schema() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let sdl = foldline_graphql::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &sdl).unwrap();
    }
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        checked_in == sdl,
        "graphql/schema.graphql differs from the schema; review the change and run \
         `UPDATE_SCHEMA=1 cargo test -p foldline-graphql --test schema` to update it"
    );
}

fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn every_command_has_a_mutation_and_every_mutation_a_command() {
    let variants: [(&str, &[&str]); 14] = [
        ("Organization", OrganizationCommand::VARIANTS),
        ("ProductionAdvance", ProductionAdvanceCommand::VARIANTS),
        ("Invoice", InvoiceCommand::VARIANTS),
        ("Contract", ContractCommand::VARIANTS),
        ("Event", EventCommand::VARIANTS),
        ("Venue", VenueCommand::VARIANTS),
        ("Task", TaskCommand::VARIANTS),
        ("Shift", ShiftCommand::VARIANTS),
        ("Asset", AssetCommand::VARIANTS),
        ("Company", CompanyCommand::VARIANTS),
        ("Contact", ContactCommand::VARIANTS),
        ("Expense", ExpenseCommand::VARIANTS),
        ("Document", DocumentCommand::VARIANTS),
        ("Comment", CommentCommand::VARIANTS),
    ];
    assert_eq!(COMMANDS.len(), variants.len());
    for (aggregate, names) in variants {
        let commands: Vec<String> = names.iter().map(|name| snake(name)).collect();
        let mutations = COMMANDS
            .iter()
            .find(|(a, _)| *a == aggregate)
            .map(|(_, m)| m.iter().map(|m| m.to_string()).collect::<Vec<_>>())
            .unwrap_or_default();
        assert_eq!(mutations, commands, "{aggregate}");
    }
}
