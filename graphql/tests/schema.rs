//! The checked-in SDL matches the schema, and every command has its mutation.
#![recursion_limit = "256"]

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

fn camel(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The schema's answer to an introspection query.
fn introspect(query: &str) -> serde_json::Value {
    let schema = foldline_graphql::schema(foldline_graphql::Limits::default());
    let response = futures::executor::block_on(schema.execute(query));
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    response.data.into_json().unwrap()
}

#[test]
fn every_command_has_a_typed_mutation_and_every_mutation_a_command() {
    let variants: Vec<&str> = [
        OrganizationCommand::VARIANTS,
        ProductionAdvanceCommand::VARIANTS,
        InvoiceCommand::VARIANTS,
        ContractCommand::VARIANTS,
        EventCommand::VARIANTS,
        VenueCommand::VARIANTS,
        TaskCommand::VARIANTS,
        ShiftCommand::VARIANTS,
        AssetCommand::VARIANTS,
        CompanyCommand::VARIANTS,
        ContactCommand::VARIANTS,
        ExpenseCommand::VARIANTS,
        DocumentCommand::VARIANTS,
        CommentCommand::VARIANTS,
    ]
    .concat();
    let data = introspect(
        "{ __type(name: \"Mutation\") { fields { name args { name type { kind name ofType { kind name } } } } } }",
    );
    let fields = data["__type"]["fields"].as_array().unwrap();
    let fields: Vec<&serde_json::Value> = fields
        .iter()
        .filter(|field| {
            !foldline_graphql::mutation::OPERATIONS.contains(&field["name"].as_str().unwrap())
        })
        .collect();
    let mut mutations: Vec<String> = fields
        .iter()
        .map(|field| field["name"].as_str().unwrap().to_owned())
        .collect();
    let mut commands: Vec<String> = variants.iter().map(|name| camel(name)).collect();
    mutations.sort();
    commands.sort();
    assert_eq!(mutations, commands);
    for field in fields {
        let args = field["args"].as_array().unwrap();
        // Never the untyped JSON of the first API: a command's input is its
        // own input object, required, or absent when it has no fields.
        for arg in args {
            let ty = &arg["type"];
            assert_ne!(ty["name"], "JSON", "{}", field["name"]);
            assert_ne!(ty["ofType"]["name"], "JSON", "{}", field["name"]);
        }
        if let Some(input) = args.iter().find(|arg| arg["name"] == "input") {
            let name = field["name"].as_str().unwrap();
            assert_eq!(input["type"]["kind"], "NON_NULL", "{name}");
            assert_eq!(
                input["type"]["ofType"]["name"].as_str().unwrap(),
                format!("{}{}Input", name[..1].to_uppercase(), &name[1..]),
            );
        }
    }
}
