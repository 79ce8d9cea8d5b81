//! The event store: loads aggregates from their snapshot and the events after
//! it, and appends a command's events in one statement.
//!
//! This replaces postgres-es's repository, which inserts one row per round trip,
//! binds the sequence as a 32-bit integer and replays the whole stream on every
//! load. The table layout stays postgres-es's.

use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use cqrs_es::{Aggregate, DomainEvent};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{DomainAggregate, DomainCommand, RosterEntry};
use crate::metadata::EventMetadata;

/// How often, in events, a snapshot is written by default.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 100;

/// An event store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed or could not be reached.
    #[error("event store database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored event could not be read as the aggregate's event type.
    #[error("cannot read stored event {event}: {reason}")]
    Unreadable {
        /// `type id #sequence (event_type vversion)`.
        event: String,
        /// What failed.
        reason: String,
    },
    /// An event or a snapshot could not be serialized.
    #[error("cannot serialize {0}")]
    Serialize(#[from] serde_json::Error),
}

/// An aggregate as loaded from the store.
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    /// Its state.
    pub aggregate: A,
    /// The sequence of its last event; 0 when it has none.
    pub version: u64,
    /// The sequence its snapshot was taken at, if one was used.
    pub snapshot_version: Option<u64>,
}

/// What an append wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The aggregate's version after the append.
    pub version: u64,
    /// The global position of the last appended event.
    pub global_position: i64,
}

/// Why an append did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Another writer appended at the same sequence first.
    #[error("another command appended to the stream first")]
    Conflict,
    /// Anything else.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The PostgreSQL event store.
#[derive(Debug, Clone)]
pub struct EventStore {
    pool: PgPool,
    snapshot_every: u64,
}

impl EventStore {
    /// A store over `pool`, snapshotting every [`DEFAULT_SNAPSHOT_EVERY`] events.
    pub fn new(pool: PgPool) -> Self {
        EventStore {
            pool,
            snapshot_every: DEFAULT_SNAPSHOT_EVERY,
        }
    }

    /// The same store, snapshotting every `events` events (0 turns snapshots off).
    pub fn with_snapshot_every(mut self, events: u64) -> Self {
        self.snapshot_every = events;
        self
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Loads an aggregate from its snapshot, if any, and the events after it.
    pub async fn load<A>(&self, aggregate_id: &str) -> Result<Loaded<A>, StoreError>
    where
        A: DomainAggregate,
        A::Command: DomainCommand,
    {
        let snapshot: Option<(i64, Value)> = sqlx::query_as(
            "SELECT last_sequence, payload FROM snapshots
             WHERE aggregate_type = $1 AND aggregate_id = $2",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .fetch_optional(&self.pool)
        .await?;

        let (mut aggregate, from) = match snapshot {
            Some((sequence, payload)) => match serde_json::from_value::<A>(payload) {
                Ok(aggregate) => (aggregate, sequence),
                Err(error) => {
                    // A snapshot is only a cache: when the state's shape changed
                    // since it was taken, replay the stream instead.
                    tracing::warn!(%error, aggregate_type = A::TYPE, aggregate_id,
                        "ignoring a snapshot that no longer deserializes");
                    (A::default(), 0)
                }
            },
            None => (A::default(), 0),
        };
        let snapshot_version = (from > 0).then_some(from as u64);

        let rows: Vec<(i64, String, String, Value)> = sqlx::query_as(
            "SELECT sequence, event_type, event_version, payload FROM events
             WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3
             ORDER BY sequence",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .bind(from)
        .fetch_all(&self.pool)
        .await?;

        let upcasters = A::upcasters();
        let mut version = from as u64;
        for (sequence, event_type, event_version, payload) in rows {
            let event = decode_event::<A>(
                &upcasters,
                aggregate_id,
                sequence,
                event_type,
                event_version,
                payload,
            )?;
            aggregate.apply(event);
            version = sequence as u64;
        }
        Ok(Loaded {
            aggregate,
            version,
            snapshot_version,
        })
    }

    /// Appends `events` after `expected_version` in one statement. `state` is
    /// the aggregate with the events applied: it feeds the snapshot and, for
    /// organizations, the roster, written in the same transaction.
    pub(crate) async fn append<A>(
        &self,
        aggregate_id: &str,
        expected_version: u64,
        events: &[A::Event],
        metadata: &EventMetadata,
        state: &A,
    ) -> Result<Appended, AppendError>
    where
        A: DomainAggregate,
        A::Command: DomainCommand,
    {
        let mut sequences = Vec::with_capacity(events.len());
        let mut types = Vec::with_capacity(events.len());
        let mut versions = Vec::with_capacity(events.len());
        let mut payloads = Vec::with_capacity(events.len());
        for (offset, event) in events.iter().enumerate() {
            sequences.push((expected_version + offset as u64 + 1) as i64);
            types.push(event.event_type());
            versions.push(event.event_version());
            payloads.push(serde_json::to_value(event).map_err(StoreError::from)?);
        }
        let metadata = serde_json::to_value(metadata).map_err(StoreError::from)?;
        let version = expected_version + events.len() as u64;

        let roster = state.roster();
        let snapshot_due = self.snapshot_every > 0
            && version / self.snapshot_every > expected_version / self.snapshot_every;

        if roster.is_none() && !snapshot_due {
            // The common case: one autocommitted statement, one round trip.
            let mut conn = self.pool.acquire().await.map_err(StoreError::from)?;
            let global_position = insert_events(
                &mut conn,
                A::TYPE,
                aggregate_id,
                &sequences,
                &types,
                &versions,
                &payloads,
                &metadata,
            )
            .await?;
            return Ok(Appended {
                version,
                global_position,
            });
        }

        let mut tx = self.pool.begin().await.map_err(StoreError::from)?;
        let global_position = insert_events(
            &mut tx,
            A::TYPE,
            aggregate_id,
            &sequences,
            &types,
            &versions,
            &payloads,
            &metadata,
        )
        .await?;
        if let Some(roster) = roster {
            replace_roster(&mut tx, metadata_organization(&metadata), &roster).await?;
        }
        if snapshot_due {
            let payload = serde_json::to_value(state).map_err(StoreError::from)?;
            save_snapshot(&mut tx, A::TYPE, aggregate_id, version, payload).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(Appended {
            version,
            global_position,
        })
    }

    /// The sequence of an aggregate's last event; 0 when it has none.
    pub async fn version_of(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<u64, StoreError> {
        let version: Option<i64> = sqlx::query_scalar(
            "SELECT max(sequence) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2",
        )
        .bind(aggregate_type)
        .bind(aggregate_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(version.unwrap_or(0) as u64)
    }
}

/// Reads one stored event as the aggregate's current event type, upcasting
/// older versions first.
pub fn decode_event<A: Aggregate>(
    upcasters: &[Box<dyn EventUpcaster>],
    aggregate_id: &str,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: Value,
) -> Result<A::Event, StoreError> {
    let mut event = SerializedEvent {
        aggregate_id: aggregate_id.to_owned(),
        sequence: sequence as usize,
        aggregate_type: A::TYPE.to_owned(),
        event_type,
        event_version,
        payload,
        metadata: Value::Null,
    };
    for upcaster in upcasters {
        if upcaster.can_upcast(&event.event_type, &event.event_version) {
            event = upcaster.upcast(event);
        }
    }
    serde_json::from_value(event.payload).map_err(|error| StoreError::Unreadable {
        event: format!(
            "{} {aggregate_id} #{sequence} ({} v{})",
            A::TYPE,
            event.event_type,
            event.event_version
        ),
        reason: error.to_string(),
    })
}

fn metadata_organization(metadata: &Value) -> Uuid {
    metadata["organization_id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
async fn insert_events(
    conn: &mut PgConnection,
    aggregate_type: &str,
    aggregate_id: &str,
    sequences: &[i64],
    types: &[String],
    versions: &[String],
    payloads: &[Value],
    metadata: &Value,
) -> Result<i64, AppendError> {
    let result: Result<Option<i64>, sqlx::Error> = sqlx::query_scalar(
        "WITH appended AS (
             INSERT INTO events
                 (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             SELECT $1, $2, e.sequence, e.event_type, e.event_version, e.payload, $7
             FROM UNNEST($3::bigint[], $4::text[], $5::text[], $6::jsonb[])
                  AS e(sequence, event_type, event_version, payload)
             RETURNING global_position
         )
         SELECT max(global_position) FROM appended",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(sequences)
    .bind(types)
    .bind(versions)
    .bind(payloads)
    .bind(metadata)
    .fetch_one(conn)
    .await;
    match result {
        Ok(Some(position)) => Ok(position),
        Ok(None) => Err(StoreError::Database(sqlx::Error::RowNotFound).into()),
        Err(sqlx::Error::Database(error))
            if error.is_unique_violation() && error.constraint() == Some("events_pkey") =>
        {
            Err(AppendError::Conflict)
        }
        Err(error) => Err(StoreError::Database(error).into()),
    }
}

async fn replace_roster(
    conn: &mut PgConnection,
    organization_id: Uuid,
    roster: &[RosterEntry],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM organization_members WHERE organization_id = $1")
        .bind(organization_id)
        .execute(&mut *conn)
        .await?;
    let users: Vec<Uuid> = roster.iter().map(|entry| entry.user_id).collect();
    let roles: Vec<&str> = roster.iter().map(|entry| entry.role.as_str()).collect();
    // Capabilities travel as one comma-separated string per member, since
    // UNNEST cannot take a ragged two-dimensional array.
    let capabilities: Vec<String> = roster
        .iter()
        .map(|entry| {
            entry
                .capabilities
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    sqlx::query(
        "INSERT INTO organization_members (organization_id, user_id, role, capabilities)
         SELECT $1, m.user_id, m.role,
                COALESCE(string_to_array(NULLIF(m.capabilities, ''), ','), '{}')
         FROM UNNEST($2::uuid[], $3::text[], $4::text[]) AS m(user_id, role, capabilities)",
    )
    .bind(organization_id)
    .bind(&users)
    .bind(&roles)
    .bind(&capabilities)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn save_snapshot(
    conn: &mut PgConnection,
    aggregate_type: &str,
    aggregate_id: &str,
    version: u64,
    payload: Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, payload)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
             SET last_sequence = EXCLUDED.last_sequence,
                 payload = EXCLUDED.payload,
                 taken_at = now()
             WHERE snapshots.last_sequence < EXCLUDED.last_sequence",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(version as i64)
    .bind(payload)
    .execute(conn)
    .await?;
    Ok(())
}
