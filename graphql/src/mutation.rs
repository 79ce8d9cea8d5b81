//! Mutations: one per command of every aggregate, derived from the command
//! types (`foldline_derive::GraphqlInput`): each takes the aggregate's id (a
//! new one for a command that creates), the command's typed `input` when it
//! has fields, and optionally the version the client based it on. They reach
//! the command bus through [`ApiSink`], which authorizes them as the caller.

use async_graphql::{Context, ErrorExtensions, MergedObject};
use foldline_aggregates::asset::AssetMutations;
use foldline_aggregates::comment::CommentMutations;
use foldline_aggregates::company::CompanyMutations;
use foldline_aggregates::contact::ContactMutations;
use foldline_aggregates::contract::ContractMutations;
use foldline_aggregates::document::DocumentMutations;
use foldline_aggregates::event::EventMutations;
use foldline_aggregates::expense::ExpenseMutations;
use foldline_aggregates::graphql::{CommandResult, CommandSink};
use foldline_aggregates::invoice::InvoiceMutations;
use foldline_aggregates::organization::OrganizationMutations;
use foldline_aggregates::production_advance::ProductionAdvanceMutations;
use foldline_aggregates::shift::ShiftMutations;
use foldline_aggregates::task::TaskMutations;
use foldline_aggregates::venue::VenueMutations;
use foldline_aggregates::{Command, RequestContext, Source};
use uuid::Uuid;

use crate::error::ApiError;
use crate::request::Request;

/// The mutations that are no command of an aggregate: operations on the
/// machinery (a retry of what the workflows' dispatcher was refused).
pub const OPERATIONS: &[&str] = &["retryWorkflowCommands"];

/// Every command of every aggregate, and the [`OPERATIONS`].
#[derive(MergedObject, Default)]
pub struct Mutation(
    OrganizationMutations,
    ProductionAdvanceMutations,
    InvoiceMutations,
    ContractMutations,
    EventMutations,
    VenueMutations,
    TaskMutations,
    ShiftMutations,
    AssetMutations,
    CompanyMutations,
    ContactMutations,
    ExpenseMutations,
    DocumentMutations,
    CommentMutations,
    crate::workflows::WorkflowMutation,
);

/// Sends the mutations' commands through the request's command bus, as its
/// caller.
pub struct ApiSink;

#[async_trait::async_trait]
impl CommandSink for ApiSink {
    async fn send(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        command: Command,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<CommandResult> {
        send(ctx, id, command, expected_version)
            .await
            .map_err(|error| error.extend())
    }
}

async fn send(
    ctx: &Context<'_>,
    id: Uuid,
    command: Command,
    expected_version: Option<u64>,
) -> Result<CommandResult, ApiError> {
    let request = Request::of(ctx)?;
    let aggregate_type = command.aggregate_type();
    let context = RequestContext::new(
        request.caller.organization_id,
        request.caller.user_id,
        Source::Api,
    )
    .with_request_id(request.request_id.clone());
    let outcome = request
        .bus
        .dispatch(&context, id, command, expected_version)
        .await?;
    Ok(CommandResult {
        id: outcome.aggregate_id,
        aggregate_type,
        version: outcome.version,
        position: outcome.global_position,
        events: outcome.events,
    })
}
