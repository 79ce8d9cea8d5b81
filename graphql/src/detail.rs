//! Single entities, folded live from their event streams: the state the
//! command bus decides on, as of the request, as typed objects (derived from
//! the aggregates' state types) behind the Relay `Node` interface.

use async_graphql::{Context, ErrorExtensions, Object, ID};
use foldline_aggregates::asset::Asset;
use foldline_aggregates::comment::Comment;
use foldline_aggregates::company::Company;
use foldline_aggregates::contact::Contact;
use foldline_aggregates::contract::Contract;
use foldline_aggregates::document::Document;
use foldline_aggregates::event::Event;
use foldline_aggregates::expense::Expense;
use foldline_aggregates::graphql::{Node, NodeSource, Read};
use foldline_aggregates::invoice::Invoice;
use foldline_aggregates::organization::Organization;
use foldline_aggregates::production_advance::ProductionAdvance;
use foldline_aggregates::shift::Shift;
use foldline_aggregates::task::Task;
use foldline_aggregates::venue::Venue;
use foldline_aggregates::{DomainAggregate, DomainCommand};
use foldline_projectors::state::Entity;
use uuid::Uuid;

use crate::error::ApiError;
use crate::request::Request;

/// Most ids one `nodes` may ask for.
pub const MOST_NODES: usize = 100;

/// Detail queries.
#[derive(Default)]
pub struct DetailQuery;

/// Defines [`DetailQuery`] with a read per aggregate, and [`node`], which
/// dispatches on the aggregate type.
macro_rules! reads {
    ($($field:ident: $aggregate:ident => $doc:literal,)*) => {
        #[Object]
        impl DetailQuery {
            /// Any aggregate by its global id (Relay): `null` if there is none
            /// the caller may see.
            async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
                let run = async {
                    let request = Request::of(ctx)?;
                    Ok(find(request, std::slice::from_ref(&id)).await?.pop().flatten())
                };
                run.await.map_err(|e: ApiError| e.extend())
            }

            /// Aggregates by their global ids (at most 100), in the order
            /// asked: `null` where `node` would be.
            async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> async_graphql::Result<Vec<Option<Node>>> {
                let run = async {
                    if ids.len() > MOST_NODES {
                        return Err(ApiError::BadUserInput(format!(
                            "ask for at most {MOST_NODES} nodes at once"
                        )));
                    }
                    let request = Request::of(ctx)?;
                    find(request, &ids).await
                };
                run.await.map_err(|e| e.extend())
            }

            /// The caller's organization and its members (not for guests).
            async fn organization(&self, ctx: &Context<'_>) -> async_graphql::Result<Read<Organization>> {
                let run = async {
                    let request = Request::of(ctx)?;
                    let id = request.caller.organization_id;
                    organization(request, id)
                        .await?
                        .ok_or_else(|| ApiError::NotFound(format!("Organization {id} not found")))
                };
                run.await.map_err(|e| e.extend())
            }

            $(
                #[doc = $doc]
                async fn $field(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Read<$aggregate>> {
                    let run = async {
                        let request = Request::of(ctx)?;
                        entity::<$aggregate>(request, id).await?.ok_or_else(|| {
                            ApiError::NotFound(format!("{} {id} not found", type_of::<$aggregate>()))
                        })
                    };
                    run.await.map_err(|e| e.extend())
                }
            )*
        }

        /// The aggregate `id` of `aggregate_type`, as the caller may see it.
        async fn node(request: &Request, aggregate_type: &str, id: Uuid) -> Result<Option<Node>, ApiError> {
            Ok(match aggregate_type {
                t if t == type_of::<Organization>() => organization(request, id).await?.map(Node::Organization),
                $(t if t == type_of::<$aggregate>() => entity::<$aggregate>(request, id).await?.map(Node::$aggregate),)*
                _ => None,
            })
        }

        /// Every type `node` knows.
        fn types() -> Vec<&'static str> {
            vec![type_of::<Organization>(), $(type_of::<$aggregate>()),*]
        }
    };
}

reads! {
    production_advance: ProductionAdvance => "A production advance, with its items, approval steps and ratings.",
    invoice: Invoice => "An invoice, with its lines, payments, total and balance.",
    contract: Contract => "A contract, with every version of its terms and its signature.",
    event: Event => "An event (show, rehearsal, meeting).",
    venue: Venue => "A venue.",
    task: Task => "A task.",
    shift: Shift => "A shift.",
    asset: Asset => "An asset.",
    company: Company => "A company.",
    contact: Contact => "A contact.",
    expense: Expense => "An expense.",
    document: Document => "A document.",
    comment: Comment => "A comment.",
}

/// The aggregate type `A` names its streams with.
fn type_of<A>() -> &'static str
where
    A: DomainAggregate,
    A::Command: DomainCommand,
{
    A::TYPE
}

/// The nodes with global ids `ids`, in their order: each one's type is
/// that of the one stream of its id, found for all of them in one statement.
async fn find(request: &Request, ids: &[ID]) -> Result<Vec<Option<Node>>, ApiError> {
    let ids = ids
        .iter()
        .map(|id| {
            id.parse::<Uuid>()
                .map_err(|_| ApiError::BadUserInput(format!("`{}` is not a node id", id.as_str())))
        })
        .collect::<Result<Vec<Uuid>, _>>()?;
    // Every stream has one first event: with `aggregate_type = ANY` the
    // primary key is probed once per type and id.
    let streams: Vec<(String, String)> = sqlx::query_as(
        "SELECT aggregate_id, aggregate_type FROM events
         WHERE aggregate_type = ANY($1) AND aggregate_id = ANY($2) AND sequence = 1",
    )
    .bind(types())
    .bind(ids.iter().map(Uuid::to_string).collect::<Vec<_>>())
    .fetch_all(&request.pool)
    .await?;
    let mut nodes = Vec::with_capacity(ids.len());
    for id in ids {
        let text = id.to_string();
        let found = streams.iter().find(|(stream, _)| *stream == text);
        nodes.push(match found {
            Some((_, aggregate_type)) => node(request, aggregate_type, id).await?,
            None => None,
        });
    }
    Ok(nodes)
}

/// Folds `id`'s stream; another organization's entity, a deleted one, or one
/// the caller's role may not see is `None`, as its rows would be absent.
async fn entity<A>(request: &Request, id: Uuid) -> Result<Option<Read<A>>, ApiError>
where
    A: Entity,
    A::Command: DomainCommand,
{
    let loaded = request.bus.store().load::<A>(&id.to_string()).await?;
    let entity = loaded.aggregate;
    let visible = entity.exists()
        && !entity.is_deleted()
        && entity.organization_id() == Some(request.caller.organization_id)
        && request
            .caller
            .may_see_entity(A::TYPE, entity.visibility().as_str(), entity.owner());
    Ok(visible.then_some(Read {
        id,
        version: loaded.version,
        state: entity,
    }))
}

/// The caller's own organization, to its members (guests see only what the
/// tables show them).
async fn organization(request: &Request, id: Uuid) -> Result<Option<Read<Organization>>, ApiError> {
    let caller = &request.caller;
    if id != caller.organization_id || caller.role == "guest" {
        return Ok(None);
    }
    let loaded = request
        .bus
        .store()
        .load::<Organization>(&id.to_string())
        .await?;
    Ok(Some(Read {
        id,
        version: loaded.version,
        state: loaded.aggregate,
    }))
}

/// Reads for [`CommandResult::node`](foldline_aggregates::graphql::CommandResult),
/// under the same rule as the queries.
pub struct ApiNodes;

#[async_trait::async_trait]
impl NodeSource for ApiNodes {
    async fn node(
        &self,
        ctx: &Context<'_>,
        aggregate_type: &str,
        id: Uuid,
    ) -> async_graphql::Result<Option<Node>> {
        let request = Request::of(ctx).map_err(|e| e.extend())?;
        node(request, aggregate_type, id)
            .await
            .map_err(|e| e.extend())
    }
}
