//! The event store as an auditor reads it: a stream's events with who, when,
//! through which request; an aggregate's state at a moment; each field's
//! successive values; everything one request caused; an organization's
//! events for export. Everything here is read from the `events` table
//! alone.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::store::decode_event_ref;
use crate::{DomainAggregate, DomainCommand, EventMetadata};

/// Why an audit query could not answer.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// No aggregate type of that name.
    #[error("no aggregate type `{0}`")]
    UnknownType(String),
    /// A stored event the aggregate cannot read.
    #[error("{0}")]
    Unreadable(String),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// One stored event, as an auditor reads it.
#[derive(Debug, Clone, Serialize)]
pub struct AuditedEvent {
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
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
    /// The organization it belongs to.
    pub organization_id: Uuid,
    /// Who caused it, where the metadata says.
    pub actor_id: Option<Uuid>,
    /// The channel the command came through (`api`, `cli`, `fixture`…).
    pub source: Option<String>,
    /// The command that produced it.
    pub command: Option<String>,
    /// Every event one request caused shares it.
    pub correlation_id: Option<Uuid>,
    /// The message that caused it.
    pub causation_id: Option<Uuid>,
    /// The transport's request id.
    pub request_id: Option<String>,
    /// The payload as stored.
    pub payload: Value,
    /// The payload in the current shape, when an upcaster rewrites the stored
    /// one; absent when the stored shape is current.
    pub upcasted: Option<Upcasted>,
    /// The metadata as stored.
    pub metadata: Value,
    /// The event's link in its stream's hash chain, in hex.
    pub chain_hash: String,
}

/// An event's current shape, when it differs from the stored one.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Upcasted {
    /// The current version.
    pub event_version: String,
    /// The payload in that version.
    pub payload: Value,
}

#[derive(sqlx::FromRow)]
struct Row {
    global_position: i64,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    recorded_at: DateTime<Utc>,
    organization_id: Uuid,
    payload: Value,
    metadata: Value,
    chain_hash: Vec<u8>,
}

const COLUMNS: &str = "global_position, aggregate_type, aggregate_id, sequence, event_type, \
    event_version, recorded_at, organization_id, payload, metadata, chain_hash";

impl Row {
    fn audited(self) -> AuditedEvent {
        let metadata: Option<EventMetadata> = serde_json::from_value(self.metadata.clone()).ok();
        let upcasted = upcast(
            &self.aggregate_type,
            &self.aggregate_id,
            self.sequence,
            &self.event_type,
            &self.event_version,
            &self.payload,
        );
        AuditedEvent {
            global_position: self.global_position,
            aggregate_type: self.aggregate_type,
            aggregate_id: self.aggregate_id,
            sequence: self.sequence,
            event_type: self.event_type,
            event_version: self.event_version,
            recorded_at: self.recorded_at,
            organization_id: self.organization_id,
            actor_id: metadata.as_ref().map(|m| m.actor_id),
            source: metadata.as_ref().and_then(|m| {
                serde_json::to_value(m.source)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
            }),
            command: metadata.as_ref().map(|m| m.command.clone()),
            correlation_id: metadata.as_ref().map(|m| m.correlation_id),
            causation_id: metadata.as_ref().map(|m| m.causation_id),
            request_id: metadata.as_ref().map(|m| m.request_id.clone()),
            payload: self.payload,
            upcasted,
            metadata: self.metadata,
            chain_hash: hex::encode(self.chain_hash),
        }
    }
}

/// Calls `$f::<A>($args…)` for the aggregate type named `$name`.
macro_rules! by_type {
    ($name:expr, $f:ident ( $($arg:expr),* )) => {{
        use crate::*;
        match $name {
            "Organization" => $f::<organization::Organization>($($arg),*),
            "ProductionAdvance" => $f::<production_advance::ProductionAdvance>($($arg),*),
            "Invoice" => $f::<invoice::Invoice>($($arg),*),
            "Contract" => $f::<contract::Contract>($($arg),*),
            "Event" => $f::<event::Event>($($arg),*),
            "Venue" => $f::<venue::Venue>($($arg),*),
            "Task" => $f::<task::Task>($($arg),*),
            "Shift" => $f::<shift::Shift>($($arg),*),
            "Asset" => $f::<asset::Asset>($($arg),*),
            "Company" => $f::<company::Company>($($arg),*),
            "Contact" => $f::<contact::Contact>($($arg),*),
            "Expense" => $f::<expense::Expense>($($arg),*),
            "Document" => $f::<document::Document>($($arg),*),
            "Comment" => $f::<comment::Comment>($($arg),*),
            other => Err(AuditError::UnknownType(other.to_owned())),
        }
    }};
}

/// The stored payload in its current shape, if an upcaster of the type
/// rewrites it.
fn upcast(
    aggregate_type: &str,
    aggregate_id: &str,
    sequence: i64,
    event_type: &str,
    event_version: &str,
    payload: &Value,
) -> Option<Upcasted> {
    let upcasters = by_type!(aggregate_type, upcasters_of()).ok()?;
    if !upcasters
        .iter()
        .any(|upcaster| upcaster.can_upcast(event_type, event_version))
    {
        return None;
    }
    let mut event = SerializedEvent {
        aggregate_id: aggregate_id.to_owned(),
        sequence: sequence as usize,
        aggregate_type: aggregate_type.to_owned(),
        event_type: event_type.to_owned(),
        event_version: event_version.to_owned(),
        payload: payload.clone(),
        metadata: Value::Null,
    };
    for upcaster in &upcasters {
        if upcaster.can_upcast(&event.event_type, &event.event_version) {
            event = upcaster.upcast(event);
        }
    }
    Some(Upcasted {
        event_version: event.event_version,
        payload: event.payload,
    })
}

/// Whether `A` is an aggregate type: the macro answers for the name.
fn known<A>() -> Result<(), AuditError>
where
    A: DomainAggregate,
    A::Command: DomainCommand,
{
    Ok(())
}

fn upcasters_of<A>() -> Result<Vec<Box<dyn EventUpcaster>>, AuditError>
where
    A: DomainAggregate,
    A::Command: DomainCommand,
{
    Ok(A::upcasters())
}

/// Up to `limit` events of one stream after `after_sequence`, in order;
/// only `organization`'s, if given.
pub async fn stream(
    pool: &PgPool,
    aggregate_type: &str,
    aggregate_id: &str,
    organization: Option<Uuid>,
    after_sequence: i64,
    limit: i64,
) -> Result<Vec<AuditedEvent>, AuditError> {
    by_type!(aggregate_type, known())?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM events
         WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3
           AND ($4::uuid IS NULL OR organization_id = $4)
         ORDER BY sequence LIMIT $5"
    ))
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(after_sequence)
    .bind(organization)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Row::audited).collect())
}

/// Up to `limit` events, across aggregates, that the request with
/// `correlation_id` caused, in order after `after_position`; only
/// `organization`'s, if given.
pub async fn request(
    pool: &PgPool,
    correlation_id: Uuid,
    organization: Option<Uuid>,
    after_position: i64,
    limit: i64,
) -> Result<Vec<AuditedEvent>, AuditError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM events
         WHERE metadata ->> 'correlation_id' = $1 AND global_position > $2
           AND ($3::uuid IS NULL OR organization_id = $3)
         ORDER BY global_position LIMIT $4"
    ))
    .bind(correlation_id.to_string())
    .bind(after_position)
    .bind(organization)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Row::audited).collect())
}

/// An exported event: the event, and the exact texts its chain hash
/// covers, so that an auditor can recompute every link
/// (`migrations/0011_event_chain.sql` defines it).
#[derive(Debug, Clone, Serialize)]
pub struct ExportedEvent {
    /// The event.
    #[serde(flatten)]
    pub event: AuditedEvent,
    /// The payload as the database hashed it (jsonb's text).
    pub payload_text: String,
    /// The metadata as the database hashed it.
    pub metadata_text: String,
}

#[derive(sqlx::FromRow)]
struct ExportRow {
    #[sqlx(flatten)]
    row: Row,
    payload_text: String,
    metadata_text: String,
}

/// Up to `limit` of `organization`'s events after `after_position`, recorded
/// at or after `since` if given, in order: an export a page at a time.
pub async fn export(
    pool: &PgPool,
    organization: Uuid,
    since: Option<DateTime<Utc>>,
    after_position: i64,
    limit: i64,
) -> Result<Vec<ExportedEvent>, AuditError> {
    let rows: Vec<ExportRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, payload::text AS payload_text, metadata::text AS metadata_text
         FROM events
         WHERE organization_id = $1 AND global_position > $2
           AND ($3::timestamptz IS NULL OR recorded_at >= $3)
         ORDER BY global_position LIMIT $4"
    ))
    .bind(organization)
    .bind(after_position)
    .bind(since)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ExportedEvent {
            event: row.row.audited(),
            payload_text: row.payload_text,
            metadata_text: row.metadata_text,
        })
        .collect())
}

/// A point in a stream's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// After the event with this sequence.
    Version(i64),
    /// After the last event recorded at or before this time.
    Time(DateTime<Utc>),
    /// Now.
    Latest,
}

/// An aggregate's state after one of its events.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StateAt {
    /// The event's sequence: the aggregate's version.
    pub version: i64,
    /// When the event was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Who caused it.
    pub actor_id: Option<Uuid>,
    /// Through which channel.
    pub source: Option<String>,
    /// The event's type.
    pub event_type: String,
    /// The organization.
    pub organization_id: Uuid,
    /// The whole state, as the aggregate serializes it.
    pub state: Value,
}

/// The stream of `aggregate_type` `aggregate_id` folded up to `at`: the
/// state after each of its events (every one, when `every`; else only the
/// last). Empty when the stream has no event up to `at`.
///
/// For the last state alone, the fold starts from the aggregate's snapshot
/// when the snapshot is not later than `at`: the store keeps one, of the
/// state at its last hundredth event, so the present and the recent past
/// are read from it rather than from the whole stream.
pub async fn states(
    pool: &PgPool,
    aggregate_type: &str,
    aggregate_id: &str,
    at: At,
    every: bool,
) -> Result<Vec<StateAt>, AuditError> {
    let (version, time) = match at {
        At::Version(version) => (version, None),
        At::Time(time) => (i64::MAX, Some(time)),
        At::Latest => (i64::MAX, None),
    };
    let snapshot: Option<(i64, Value)> = if every {
        None
    } else {
        sqlx::query_as(
            "SELECT s.last_sequence, s.payload FROM snapshots s
             JOIN events e ON e.aggregate_type = s.aggregate_type
              AND e.aggregate_id = s.aggregate_id AND e.sequence = s.last_sequence
             WHERE s.aggregate_type = $1 AND s.aggregate_id = $2 AND s.last_sequence <= $3
               AND ($4::timestamptz IS NULL OR e.recorded_at <= $4)",
        )
        .bind(aggregate_type)
        .bind(aggregate_id)
        .bind(version)
        .bind(time)
        .fetch_optional(pool)
        .await?
    };
    // From the snapshot's own event, whose metadata the state reports if no
    // later one is folded.
    let from = snapshot.as_ref().map_or(1, |(sequence, _)| *sequence);
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM events
         WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence BETWEEN $3 AND $4
           AND ($5::timestamptz IS NULL OR recorded_at <= $5)
         ORDER BY sequence"
    ))
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(from)
    .bind(version)
    .bind(time)
    .fetch_all(pool)
    .await?;
    by_type!(aggregate_type, fold(rows, snapshot, every))
}

fn fold<A>(
    rows: Vec<Row>,
    snapshot: Option<(i64, Value)>,
    every: bool,
) -> Result<Vec<StateAt>, AuditError>
where
    A: DomainAggregate,
    A::Command: DomainCommand,
{
    let upcasters = A::upcasters();
    let (mut aggregate, folded) = match snapshot {
        Some((sequence, payload)) => (
            serde_json::from_value::<A>(payload)
                .map_err(|error| AuditError::Unreadable(format!("snapshot: {error}")))?,
            sequence,
        ),
        None => (A::default(), 0),
    };
    let mut states = Vec::new();
    let last = rows.len();
    for (n, row) in rows.into_iter().enumerate() {
        if row.sequence > folded {
            let event = decode_event_ref::<A>(
                &upcasters,
                &row.aggregate_id,
                row.sequence,
                &row.event_type,
                &row.event_version,
                &row.payload,
            )
            .map_err(|error| AuditError::Unreadable(error.to_string()))?;
            aggregate.apply(event);
        }
        if every || n + 1 == last {
            let audited = row.audited();
            states.push(StateAt {
                version: audited.sequence,
                recorded_at: audited.recorded_at,
                actor_id: audited.actor_id,
                source: audited.source,
                event_type: audited.event_type,
                organization_id: audited.organization_id,
                state: serde_json::to_value(&aggregate)
                    .map_err(|error| AuditError::Unreadable(error.to_string()))?,
            });
        }
    }
    Ok(states)
}

/// A state read by [`states`] as its GraphQL object, for an auditor to read
/// the past through the same typed fields as the present.
#[cfg(feature = "graphql")]
pub fn typed(
    aggregate_type: &str,
    id: Uuid,
    state: &StateAt,
) -> Result<crate::graphql::Node, AuditError> {
    by_type!(aggregate_type, typed_as(id, state))
}

#[cfg(feature = "graphql")]
fn typed_as<A>(id: Uuid, state: &StateAt) -> Result<crate::graphql::Node, AuditError>
where
    A: DomainAggregate,
    A::Command: DomainCommand,
    crate::graphql::Node: From<crate::graphql::Read<A>>,
{
    let aggregate = serde_json::from_value::<A>(state.state.clone())
        .map_err(|error| AuditError::Unreadable(error.to_string()))?;
    Ok(crate::graphql::Read {
        id,
        version: u64::try_from(state.version).unwrap_or_default(),
        state: aggregate,
    }
    .into())
}

/// One value a field took.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldChange {
    /// The field's path in the state: `status`, `items.<id>.cost`.
    pub field: String,
    /// The value it took; null when it was removed.
    pub value: Value,
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

/// Each field's successive values over `states` (in version order), a
/// field being a leaf of the state's objects (arrays are values whole);
/// only the fields at or under `field`, if given.
pub fn lineage(states: &[StateAt], field: Option<&str>) -> Vec<FieldChange> {
    let mut before: BTreeMap<String, Value> = BTreeMap::new();
    let mut changes = Vec::new();
    for state in states {
        let mut now = BTreeMap::new();
        flatten(&state.state, String::new(), &mut now);
        let removed: Vec<String> = before
            .keys()
            .filter(|path| !now.contains_key(*path))
            .cloned()
            .collect();
        let changed = now
            .iter()
            .filter(|(path, value)| before.get(*path) != Some(*value))
            .map(|(path, value)| (path.clone(), value.clone()))
            .chain(removed.into_iter().map(|path| (path, Value::Null)));
        for (path, value) in changed {
            let wanted =
                field.is_none_or(|field| path == field || path.starts_with(&format!("{field}.")));
            if wanted {
                changes.push(FieldChange {
                    field: path,
                    value,
                    version: state.version,
                    event_type: state.event_type.clone(),
                    recorded_at: state.recorded_at,
                    actor_id: state.actor_id,
                    source: state.source.clone(),
                });
            }
        }
        before = now;
    }
    changes
}

fn flatten(value: &Value, path: String, into: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(fields) if !fields.is_empty() => {
            for (name, value) in fields {
                let path = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                flatten(value, path, into);
            }
        }
        _ => {
            into.insert(path, value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(version: i64, state: Value) -> StateAt {
        StateAt {
            version,
            recorded_at: Utc::now(),
            actor_id: None,
            source: Some("api".into()),
            event_type: format!("Changed{version}"),
            organization_id: Uuid::nil(),
            state,
        }
    }

    #[test]
    fn lineage_lists_each_leaf_when_it_changes_and_when_it_goes() {
        let states = [
            state(
                1,
                json!({"title": "A", "items": {"x": {"cost": 1}}, "tags": ["a"]}),
            ),
            state(
                2,
                json!({"title": "B", "items": {"x": {"cost": 1}}, "tags": ["a"]}),
            ),
            state(
                3,
                json!({"title": "B", "items": {"x": {"cost": 2}, "y": {"cost": 5}}, "tags": ["a", "b"]}),
            ),
            state(
                4,
                json!({"title": "B", "items": {"y": {"cost": 5}}, "tags": ["a", "b"]}),
            ),
        ];
        let all: Vec<(String, Value, i64)> = lineage(&states, None)
            .into_iter()
            .map(|c| (c.field, c.value, c.version))
            .collect();
        assert_eq!(
            all,
            vec![
                ("items.x.cost".into(), json!(1), 1),
                ("tags".into(), json!(["a"]), 1),
                ("title".into(), json!("A"), 1),
                ("title".into(), json!("B"), 2),
                ("items.x.cost".into(), json!(2), 3),
                ("items.y.cost".into(), json!(5), 3),
                ("tags".into(), json!(["a", "b"]), 3),
                ("items.x.cost".into(), Value::Null, 4),
            ]
        );
        let items: Vec<i64> = lineage(&states, Some("items.x"))
            .iter()
            .map(|c| c.version)
            .collect();
        assert_eq!(items, [1, 3, 4]);
        assert!(lineage(&states, Some("item")).is_empty());
    }
}
