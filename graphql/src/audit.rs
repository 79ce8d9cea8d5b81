//! The audit queries: a stream's events, an entity at a moment, a field's
//! history, a request's events. For owners and admins of the organization
//! only, only its own events, and only of entities they may see: the
//! organization filter is on every query of the event store here, and the
//! visibility rule of the entity's rows is applied to its history, since
//! row-level security covers neither.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ErrorExtensions, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use foldline_aggregates::audit::{self, At, AuditedEvent, FieldChange, StateAt};
use foldline_aggregates::graphql::Node;
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;
use crate::page::Page;
use crate::request::Request;

/// One stored event, as an auditor reads it.
#[derive(Debug, Clone, SimpleObject)]
pub struct AuditEvent {
    /// Its place in the whole store.
    pub global_position: i64,
    /// The stream's aggregate type.
    pub aggregate_type: String,
    /// The stream's aggregate id.
    pub aggregate_id: String,
    /// Its place in the stream.
    pub sequence: i64,
    /// The event's type.
    pub event_type: String,
    /// The schema version it was stored with.
    pub event_version: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Who caused it.
    pub actor_id: Option<Uuid>,
    /// The channel: `api`, `cli`, `fixture`, `import`, `workflow`.
    pub source: Option<String>,
    /// The command that produced it.
    pub command: Option<String>,
    /// Shared by every event of one request.
    pub correlation_id: Option<Uuid>,
    /// The message that caused it.
    pub causation_id: Option<Uuid>,
    /// The transport's request id.
    pub request_id: Option<String>,
    /// The payload as stored.
    pub payload: Json<Value>,
    /// The current version of its shape, when an upcaster rewrites it.
    pub upcasted_version: Option<String>,
    /// The payload in that shape.
    pub upcasted_payload: Option<Json<Value>>,
    /// The metadata as stored.
    pub metadata: Json<Value>,
    /// Its link in the stream's hash chain, in hex.
    pub chain_hash: String,
}

impl From<AuditedEvent> for AuditEvent {
    fn from(event: AuditedEvent) -> Self {
        let (upcasted_version, upcasted_payload) = match event.upcasted {
            Some(upcasted) => (Some(upcasted.event_version), Some(Json(upcasted.payload))),
            None => (None, None),
        };
        AuditEvent {
            global_position: event.global_position,
            aggregate_type: event.aggregate_type,
            aggregate_id: event.aggregate_id,
            sequence: event.sequence,
            event_type: event.event_type,
            event_version: event.event_version,
            recorded_at: event.recorded_at,
            actor_id: event.actor_id,
            source: event.source,
            command: event.command,
            correlation_id: event.correlation_id,
            causation_id: event.causation_id,
            request_id: event.request_id,
            payload: Json(event.payload),
            upcasted_version,
            upcasted_payload,
            metadata: Json(event.metadata),
            chain_hash: event.chain_hash,
        }
    }
}

/// An entity as it was after one of its events.
#[derive(Debug, Clone, SimpleObject)]
pub struct EntityAt {
    /// The aggregate type.
    pub aggregate_type: String,
    /// The id.
    pub id: String,
    /// The version: the sequence of the last event folded.
    pub version: i64,
    /// When that event was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Who caused it.
    pub actor_id: Option<Uuid>,
    /// Its type.
    pub event_type: String,
    /// The whole state then, as the aggregate serializes it.
    pub state: Json<Value>,
    /// The same state through the entity's typed fields.
    pub node: Node,
}

/// One value a field took.
#[derive(Debug, Clone, SimpleObject)]
pub struct FieldValue {
    /// The field's path: `status`, `items.<id>.cost`.
    pub field: String,
    /// The value; null once removed.
    pub value: Json<Value>,
    /// The version that set it.
    pub version: i64,
    /// The event that set it.
    pub event_type: String,
    /// When.
    pub recorded_at: DateTime<Utc>,
    /// Who.
    pub actor_id: Option<Uuid>,
    /// Through which channel.
    pub source: Option<String>,
}

impl From<FieldChange> for FieldValue {
    fn from(change: FieldChange) -> Self {
        FieldValue {
            field: change.field,
            value: Json(change.value),
            version: change.version,
            event_type: change.event_type,
            recorded_at: change.recorded_at,
            actor_id: change.actor_id,
            source: change.source,
        }
    }
}

/// Audit queries.
#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The events of one stream, in order; `after` is a sequence.
    #[graphql(complexity = "crate::page::cost(first, child_complexity)")]
    async fn audit_stream(
        &self,
        ctx: &Context<'_>,
        aggregate_type: String,
        id: String,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, AuditEvent>> {
        let run = async {
            let request = auditor(ctx)?;
            let (first, after) = page(first, after)?;
            seen_by(request, &aggregate_type, &id).await?;
            let events = audit::stream(
                &request.pool,
                &aggregate_type,
                &id,
                Some(request.caller.organization_id),
                after,
                first + 1,
            )
            .await?;
            Ok(connection(events, first, after > 0, |e| e.sequence))
        };
        run.await.map_err(|e: ApiError| e.extend())
    }

    /// Every event, across aggregates, one request caused; `after` is a
    /// global position.
    #[graphql(complexity = "crate::page::cost(first, child_complexity)")]
    async fn audit_request(
        &self,
        ctx: &Context<'_>,
        correlation_id: Uuid,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, AuditEvent>> {
        let run = async {
            let request = auditor(ctx)?;
            let (first, after) = page(first, after)?;
            // The events of entities the caller may not see are left out;
            // cursors are positions, so paging goes on past them, and a page
            // of only hidden events is read through rather than sent empty.
            let mut visible = Visible::default();
            let mut cursor = after;
            loop {
                let mut events = audit::request(
                    &request.pool,
                    correlation_id,
                    Some(request.caller.organization_id),
                    cursor,
                    first + 1,
                )
                .await?;
                let has_next = events.len() as i64 > first;
                events.truncate(first as usize);
                cursor = events.last().map_or(cursor, |e| e.global_position);
                let mut shown = Vec::with_capacity(events.len());
                for event in events {
                    if visible
                        .check(request, &event.aggregate_type, &event.aggregate_id)
                        .await?
                    {
                        shown.push(event);
                    }
                }
                if !shown.is_empty() || !has_next {
                    let mut page = connection(shown, first, after > 0, |e| e.global_position);
                    page.has_next_page = has_next;
                    return Ok(page);
                }
            }
        };
        run.await.map_err(|e: ApiError| e.extend())
    }

    /// An entity as it was after its event `version`, or at `at`; now if
    /// neither is given.
    async fn entity_at(
        &self,
        ctx: &Context<'_>,
        aggregate_type: String,
        id: String,
        version: Option<i64>,
        at: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<EntityAt> {
        let run = async {
            let request = auditor(ctx)?;
            let moment = match (version, at) {
                (Some(_), Some(_)) => {
                    return Err(ApiError::BadUserInput(
                        "give `version` or `at`, not both".into(),
                    ))
                }
                (Some(version), None) if version < 1 => {
                    return Err(ApiError::BadUserInput("a version is 1 or more".into()))
                }
                (Some(version), None) => At::Version(version),
                (None, Some(at)) => At::Time(at),
                (None, None) => At::Latest,
            };
            seen_by(request, &aggregate_type, &id).await?;
            let states = audit::states(&request.pool, &aggregate_type, &id, moment, false).await?;
            let state = own(request, states.into_iter().last(), &aggregate_type, &id)?;
            let node = match id.parse() {
                Ok(uuid) => audit::typed(&aggregate_type, uuid, &state)?,
                Err(_) => {
                    return Err(ApiError::NotFound(format!(
                        "{aggregate_type} {id} not found"
                    )))
                }
            };
            Ok(EntityAt {
                node,
                aggregate_type,
                id,
                version: state.version,
                recorded_at: state.recorded_at,
                actor_id: state.actor_id,
                event_type: state.event_type,
                state: Json(state.state),
            })
        };
        run.await.map_err(|e: ApiError| e.extend())
    }

    /// Each field's successive values, with when, who and from which
    /// source; only `field` and the fields under it, if given. `after` is
    /// the cursor of the last value of the previous page.
    #[graphql(complexity = "crate::page::cost(first, child_complexity)")]
    async fn field_history(
        &self,
        ctx: &Context<'_>,
        aggregate_type: String,
        id: String,
        field: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, FieldValue>> {
        let run = async {
            let request = auditor(ctx)?;
            let (first, after) = page(first, after)?;
            let states =
                audit::states(&request.pool, &aggregate_type, &id, At::Latest, true).await?;
            // Every state is here already, the present one last.
            if !states
                .last()
                .is_some_and(|now| seen_in(request, &aggregate_type, now))
            {
                return Err(no_history(&aggregate_type, &id));
            }
            let changes = audit::lineage(&states, field.as_deref());
            let start = after as usize;
            let has_next = changes.len() > start + first as usize;
            let mut connection = Connection::new(after > 0, has_next);
            connection.edges.extend(
                changes
                    .into_iter()
                    .enumerate()
                    .skip(start)
                    .take(first as usize)
                    .map(|(n, change)| Edge::new((n + 1).to_string(), FieldValue::from(change))),
            );
            Ok(connection)
        };
        run.await.map_err(|e: ApiError| e.extend())
    }
}

/// The request, if its caller is an owner or an admin of the organization.
fn auditor<'a>(ctx: &'a Context<'_>) -> Result<&'a Request, ApiError> {
    Request::of_operator(ctx, "review the event store")
}

/// `first` (1 to 100, 20 by default) and the number in `after`.
fn page(first: Option<i32>, after: Option<String>) -> Result<(i64, i64), ApiError> {
    let first = Page::new(first, None)?.first;
    let after = match after {
        None => 0,
        Some(after) => after
            .parse::<i64>()
            .ok()
            .filter(|after| *after >= 0)
            .ok_or_else(|| ApiError::BadUserInput(format!("`{after}` is not a cursor here")))?,
    };
    Ok((i64::from(first), after))
}

/// `events` fetched with one more than `first`, as a connection whose
/// cursors are `cursor` of each event.
fn connection(
    mut events: Vec<AuditedEvent>,
    first: i64,
    has_previous: bool,
    cursor: impl Fn(&AuditedEvent) -> i64,
) -> Connection<String, AuditEvent> {
    let has_next = events.len() as i64 > first;
    events.truncate(first as usize);
    let mut connection = Connection::new(has_previous, has_next);
    connection.edges.extend(
        events
            .into_iter()
            .map(|event| Edge::new(cursor(&event).to_string(), AuditEvent::from(event))),
    );
    connection
}

/// `state`, if it is of the caller's organization: another organization's
/// entity is not found, as it would not be there.
fn own(
    request: &Request,
    state: Option<StateAt>,
    aggregate_type: &str,
    id: &str,
) -> Result<StateAt, ApiError> {
    state
        .filter(|state| state.organization_id == request.caller.organization_id)
        .ok_or_else(|| no_history(aggregate_type, id))
}

/// Fails as "not found" unless the caller may see the entity `id` of
/// `aggregate_type` as it is now: its organization, visibility and owner,
/// by the rule its rows follow ([`crate::caller::Caller::may_see_entity`]).
/// An auditor reviews the history of what they may see, and nothing else.
async fn seen_by(request: &Request, aggregate_type: &str, id: &str) -> Result<(), ApiError> {
    let now = audit::states(&request.pool, aggregate_type, id, At::Latest, false).await?;
    if now
        .last()
        .is_some_and(|now| seen_in(request, aggregate_type, now))
    {
        Ok(())
    } else {
        Err(no_history(aggregate_type, id))
    }
}

/// Whether the caller may see an entity whose present state is `now`.
fn seen_in(request: &Request, aggregate_type: &str, now: &StateAt) -> bool {
    let visibility = now.state.get("visibility").and_then(Value::as_str);
    let owner = now
        .state
        .get("owner_id")
        .and_then(Value::as_str)
        .and_then(|owner| owner.parse().ok());
    now.organization_id == request.caller.organization_id
        // An organization has no visibility of its own: its members see it.
        && request.caller.may_see_entity(
            aggregate_type,
            visibility.unwrap_or("organization"),
            owner,
        )
}

/// What the caller is told of a stream they may not review, or that has
/// no event: the same either way.
fn no_history(aggregate_type: &str, id: &str) -> ApiError {
    ApiError::NotFound(format!("{aggregate_type} {id} has no such history"))
}

/// Which streams the caller may see, looked up once each per request.
#[derive(Default)]
struct Visible(std::collections::HashMap<(String, String), bool>);

impl Visible {
    async fn check(
        &mut self,
        request: &Request,
        aggregate_type: &str,
        id: &str,
    ) -> Result<bool, ApiError> {
        let key = (aggregate_type.to_owned(), id.to_owned());
        if let Some(known) = self.0.get(&key) {
            return Ok(*known);
        }
        let visible = match seen_by(request, aggregate_type, id).await {
            Ok(()) => true,
            Err(ApiError::NotFound(_)) => false,
            Err(error) => return Err(error),
        };
        self.0.insert(key, visible);
        Ok(visible)
    }
}
