//! Single entities, folded live from their event streams: the state the
//! command bus decides on, as of the request.

use async_graphql::{Context, ErrorExtensions, Json, Object, SimpleObject};
use foldline_aggregates::contract::Contract;
use foldline_aggregates::event::Event;
use foldline_aggregates::invoice::Invoice;
use foldline_aggregates::production_advance::ProductionAdvance;
use foldline_aggregates::task::Task;
use foldline_aggregates::DomainCommand;
use foldline_projectors::state::Entity;
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;
use crate::request::Request;

/// An entity as its stream says it is now.
#[derive(Debug, Clone, SimpleObject)]
pub struct EntityState {
    /// Its id.
    pub id: Uuid,
    /// Its aggregate type.
    pub aggregate_type: String,
    /// The sequence of its last event: pass it as `expectedVersion`.
    pub version: u64,
    /// Every field, nested parts included (an advance's items and approvals,
    /// an invoice's lines and payments, a contract's versions).
    pub state: Json<Value>,
}

/// Detail queries.
#[derive(Default)]
pub struct DetailQuery;

#[Object]
impl DetailQuery {
    /// A production advance, with its items, approvals and ratings.
    async fn production_advance(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<EntityState> {
        detail::<ProductionAdvance>(ctx, id).await
    }

    /// An invoice, with its lines and payments.
    async fn invoice(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<EntityState> {
        detail::<Invoice>(ctx, id).await
    }

    /// A contract, with every version of its terms.
    async fn contract(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<EntityState> {
        detail::<Contract>(ctx, id).await
    }

    /// An event.
    async fn event(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<EntityState> {
        detail::<Event>(ctx, id).await
    }

    /// A task.
    async fn task(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<EntityState> {
        detail::<Task>(ctx, id).await
    }
}

async fn detail<A>(ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<EntityState>
where
    A: Entity,
    A::Command: DomainCommand,
{
    let request = Request::of(ctx).map_err(|e| e.extend())?;
    load::<A>(request, id).await.map_err(|e| e.extend())
}

/// Folds `id`'s stream; another organization's entity, a deleted one, or one
/// the caller's role may not see is not found, as its rows would be.
async fn load<A>(request: &Request, id: Uuid) -> Result<EntityState, ApiError>
where
    A: Entity,
    A::Command: DomainCommand,
{
    let loaded = request
        .bus
        .store()
        .load::<A>(&id.to_string())
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let entity = loaded.aggregate;
    let visible = entity.exists()
        && !entity.is_deleted()
        && entity.organization_id() == Some(request.caller.organization_id)
        && request
            .caller
            .may_see_entity(A::TYPE, entity.visibility().as_str(), entity.owner());
    if !visible {
        return Err(ApiError::NotFound(format!("{} {id} not found", A::TYPE)));
    }
    let state =
        serde_json::to_value(&entity).map_err(|error| ApiError::Internal(error.to_string()))?;
    Ok(EntityState {
        id,
        aggregate_type: A::TYPE.to_owned(),
        version: loaded.version,
        state: Json(state),
    })
}
