//! The event feed: the events table read in commit-safe order.
//!
//! Identity values are handed out before commit, so a reader that follows
//! `global_position` alone would skip an event whose transaction commits after
//! a later position's. The feed reads in `(transaction_id, global_position)`
//! order and only events whose transaction is older than every transaction
//! still open: once the feed has passed a point, nothing can appear before it.

use chrono::{DateTime, Utc};
use foldline_aggregates::store::{decode_event_ref, StoreError};
use foldline_aggregates::{DomainAggregate, DomainCommand};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// A point in the feed: the transaction and position of an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// The appending transaction's id (`xid8`).
    pub transaction_id: u64,
    /// The event's global position.
    pub global_position: i64,
}

/// An event as the feed delivers it.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Where it is in the feed.
    pub position: Position,
    /// Its aggregate's type.
    pub aggregate_type: String,
    /// Its aggregate's id.
    pub aggregate_id: String,
    /// Its sequence in the aggregate's stream.
    pub sequence: i64,
    /// Its type.
    pub event_type: String,
    /// Its stored version.
    pub event_version: String,
    /// Its payload as stored.
    pub payload: Value,
    /// Its metadata.
    pub metadata: Value,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Its organization.
    pub organization_id: Uuid,
}

/// The namespace of the ids derived from events' places ([`StoredEvent::id`]).
const EVENT_IDS: Uuid = Uuid::from_u128(0x6f6c_646c_696e_6545_7665_6e74_4964_0001);

impl StoredEvent {
    /// The user whose command appended it.
    pub fn actor_id(&self) -> Option<Uuid> {
        self.metadata["actor_id"].as_str()?.parse().ok()
    }

    /// The id shared by every event of the request or workflow it belongs to.
    pub fn correlation_id(&self) -> Option<Uuid> {
        self.metadata["correlation_id"].as_str()?.parse().ok()
    }

    /// Its id, derived from its place in its stream: events carry none of
    /// their own, and this one is the same however often it is read. What
    /// it causes names it as its cause.
    pub fn id(&self) -> Uuid {
        let place = format!(
            "{}/{}/{}",
            self.aggregate_type, self.aggregate_id, self.sequence
        );
        Uuid::new_v5(&EVENT_IDS, place.as_bytes())
    }

    /// The payload as the aggregate's current event type, upcast if older.
    pub fn decode<A>(&self) -> Result<A::Event, StoreError>
    where
        A: DomainAggregate,
        A::Command: DomainCommand,
    {
        decode_event_ref::<A>(
            &A::upcasters(),
            &self.aggregate_id,
            self.sequence,
            &self.event_type,
            &self.event_version,
            &self.payload,
        )
    }
}

#[derive(sqlx::FromRow)]
struct FeedRow {
    transaction_id: String,
    global_position: i64,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: Value,
    metadata: Value,
    recorded_at: DateTime<Utc>,
    organization_id: Uuid,
}

/// The columns of an event, as [`FeedRow`] reads them.
const COLUMNS: &str = "transaction_id::text AS transaction_id, global_position, aggregate_type,
                       aggregate_id, sequence, event_type, event_version, payload, metadata,
                       recorded_at, organization_id";

/// Reads up to `limit` events after `after`, in feed order, that no open
/// transaction can still precede.
pub async fn read_batch(
    conn: &mut PgConnection,
    after: Position,
    limit: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let rows: Vec<FeedRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}
         FROM events
         WHERE (transaction_id, global_position) > ($1::text::xid8, $2)
           AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
         -- Qualified: a bare `transaction_id` would name the text column of
         -- the select list, sorting '10' before '9' and defeating the index.
         ORDER BY events.transaction_id, events.global_position
         LIMIT $3"
    ))
    .bind(after.transaction_id.to_string())
    .bind(after.global_position)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(StoredEvent::from).collect())
}

/// Reads the streams of the aggregates `ids` of `aggregate_type` up to and
/// including `upto`, each in sequence order.
pub async fn read_streams(
    conn: &mut PgConnection,
    aggregate_type: &str,
    ids: &[String],
    upto: Position,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let rows: Vec<FeedRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}
         FROM events
         WHERE aggregate_type = $1 AND aggregate_id = ANY($2)
           AND (transaction_id, global_position) <= ($3::text::xid8, $4)
         ORDER BY aggregate_id, sequence"
    ))
    .bind(aggregate_type)
    .bind(ids)
    .bind(upto.transaction_id.to_string())
    .bind(upto.global_position)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(StoredEvent::from).collect())
}

impl From<FeedRow> for StoredEvent {
    fn from(row: FeedRow) -> Self {
        StoredEvent {
            position: Position {
                // xid8 is an unsigned 64-bit number; its text form always parses.
                transaction_id: row.transaction_id.parse().unwrap_or(u64::MAX),
                global_position: row.global_position,
            },
            aggregate_type: row.aggregate_type,
            aggregate_id: row.aggregate_id,
            sequence: row.sequence,
            event_type: row.event_type,
            event_version: row.event_version,
            payload: row.payload,
            metadata: row.metadata,
            recorded_at: row.recorded_at,
            organization_id: row.organization_id,
        }
    }
}
