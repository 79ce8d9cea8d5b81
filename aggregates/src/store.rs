//! The event store: loads aggregates from their snapshot and the events after
//! it, and appends a command's events in one statement.
//!
//! This replaces postgres-es's repository, which inserts one row per round trip,
//! binds the sequence as a 32-bit integer and replays the whole stream on every
//! load. The table layout stays postgres-es's.

use std::any::Any;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use cqrs_es::{Aggregate, DomainEvent};
use lru::LruCache;
use serde::Deserialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{DomainAggregate, DomainCommand, RosterEntry};
use crate::metadata::EventMetadata;
use crate::reference::{Claim, References};

/// How often, in events, a snapshot is written by default.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 100;
/// How many aggregates' states the store keeps in memory by default.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

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

/// What an aggregate decided: the events, its state after them, and its full
/// new set of claims when they changed.
pub(crate) struct Decision<'a, A: Aggregate> {
    pub(crate) events: &'a [A::Event],
    pub(crate) state: &'a A,
    pub(crate) claims: Option<&'a [Claim]>,
}

/// Why an append did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Another writer appended at the same sequence first.
    #[error("another command appended to the stream first")]
    Conflict,
    /// A claim clashes with another aggregate's.
    #[error("{0}")]
    Claim(String),
    /// A command with the same idempotency key appended first.
    #[error("a command with the same idempotency key was appended first")]
    Repeated,
    /// Anything else.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a command sent with an idempotency key appended (`command_keys`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Keyed {
    /// The aggregate type it went to.
    pub aggregate_type: String,
    /// The aggregate it went to.
    pub aggregate_id: String,
    /// The aggregate's version after it.
    pub version: i64,
    /// The global position of its last event.
    pub global_position: i64,
}

/// What the command sent under `key` in `organization_id` appended, if one was.
pub async fn keyed(
    conn: &mut PgConnection,
    organization_id: Uuid,
    key: &str,
) -> Result<Option<Keyed>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT aggregate_type, aggregate_id, version, global_position FROM command_keys
         WHERE organization_id = $1 AND key = $2",
    )
    .bind(organization_id)
    .bind(key)
    .fetch_optional(conn)
    .await?)
}

/// A member's role and capabilities as stored in the roster, read in the same
/// round trip as the aggregate a command goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterRow {
    /// The role's name.
    pub role: String,
    /// The capabilities' names.
    pub capabilities: Vec<String>,
}

/// Who sends a command, and what it refers to, as the command bus's read needs it.
pub(crate) struct Asker<'a> {
    pub(crate) organization_id: Uuid,
    pub(crate) user_id: Uuid,
    pub(crate) references: &'a References,
}

/// The command bus's read: the asker's roster row, the aggregate, and the
/// referenced members and aggregates that exist in the organization.
pub(crate) struct CommandRead<A> {
    pub(crate) roster: Option<RosterRow>,
    pub(crate) loaded: Loaded<A>,
    pub(crate) found: References,
}

/// One row of the command bus's combined read (see `load_for_command`).
#[derive(sqlx::FromRow)]
struct LoadRow {
    /// 0: roster row; 1: snapshot; 2: event; 3: referenced aggregate; 4: referenced member.
    kind: i16,
    /// The snapshot's or event's sequence.
    sequence: i64,
    /// The role, the event type, the referenced aggregate type or member id.
    text: Option<String>,
    /// The capabilities, the event version or the referenced aggregate id.
    detail: Option<String>,
    /// The snapshot's state or the event's payload.
    payload: Option<Value>,
}

type CacheKey = (&'static str, String);
type CachedState = (u64, Arc<dyn Any + Send + Sync>);

/// The PostgreSQL event store.
///
/// It keeps the last state it loaded or wrote of recently used aggregates in
/// memory, with its version. A cached state is never trusted as current: each
/// load still reads the events after its version in the same round trip, so
/// another process's appends are seen, and a state is only ever cached for a
/// version whose events are committed (the log is append-only).
#[derive(Clone)]
pub struct EventStore {
    pool: PgPool,
    snapshot_every: u64,
    cache: Option<Arc<Mutex<LruCache<CacheKey, CachedState>>>>,
}

impl std::fmt::Debug for EventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStore")
            .field("snapshot_every", &self.snapshot_every)
            .field("cache", &self.cache.is_some())
            .finish_non_exhaustive()
    }
}

impl EventStore {
    /// A store over `pool`, snapshotting every [`DEFAULT_SNAPSHOT_EVERY`] events
    /// and caching up to [`DEFAULT_CACHE_CAPACITY`] states.
    pub fn new(pool: PgPool) -> Self {
        EventStore {
            pool,
            snapshot_every: DEFAULT_SNAPSHOT_EVERY,
            cache: None,
        }
        .with_cache_capacity(DEFAULT_CACHE_CAPACITY)
    }

    /// The same store, caching up to `capacity` aggregate states (0 turns the
    /// cache off).
    pub fn with_cache_capacity(mut self, capacity: usize) -> Self {
        self.cache = NonZeroUsize::new(capacity).map(|c| Arc::new(Mutex::new(LruCache::new(c))));
        self
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

    /// Loads an aggregate: from the cache or its snapshot, then the events after.
    pub async fn load<A>(&self, aggregate_id: &str) -> Result<Loaded<A>, StoreError>
    where
        A: DomainAggregate,
        A::Command: DomainCommand,
    {
        let mut conn = self.pool.acquire().await?;
        let nobody = Asker {
            organization_id: Uuid::nil(),
            user_id: Uuid::nil(),
            references: &References::none(),
        };
        let read = self
            .load_for_command::<A>(&mut conn, aggregate_id, &nobody)
            .await?;
        Ok(read.loaded)
    }

    /// The command bus's read, in one round trip: the asker's roster row, the
    /// aggregate, and which of the members and aggregates the command refers
    /// to exist in the organization.
    pub(crate) async fn load_for_command<A>(
        &self,
        conn: &mut PgConnection,
        aggregate_id: &str,
        asker: &Asker<'_>,
    ) -> Result<CommandRead<A>, StoreError>
    where
        A: DomainAggregate,
        A::Command: DomainCommand,
    {
        let cached = self.cached::<A>(aggregate_id);
        let cached_version = cached.as_ref().map_or(-1, |(version, _)| *version as i64);
        let (reference_types, reference_ids): (Vec<&str>, Vec<String>) = asker
            .references
            .lookups()
            .map(|(t, id)| (t, id.to_string()))
            .unzip();
        // kind 0: the roster row; 1: the snapshot (only without a cached state);
        // 2: the events after the cached state or the snapshot; 3: referenced
        // aggregates found in the organization; 4: referenced members found.
        let rows: Vec<LoadRow> = sqlx::query_as(
            "WITH snapshot AS (
                 SELECT last_sequence, payload FROM snapshots
                 WHERE aggregate_type = $1 AND aggregate_id = $2 AND $5 < 0
             )
             SELECT 0::int2 AS kind, 0::int8 AS sequence, role AS text,
                    array_to_string(capabilities, ',') AS detail, NULL::jsonb AS payload
             FROM organization_members WHERE organization_id = $3 AND user_id = $4
             UNION ALL
             SELECT 1::int2, last_sequence, NULL, NULL, payload FROM snapshot
             UNION ALL
             SELECT 2::int2, sequence, event_type, event_version, payload FROM events
             WHERE aggregate_type = $1 AND aggregate_id = $2
               AND sequence > GREATEST($5, (SELECT coalesce(max(last_sequence), 0) FROM snapshot))
             UNION ALL
             SELECT 3::int2, 0::int8, r.aggregate_type, r.aggregate_id, NULL
             FROM UNNEST($6::text[], $7::text[]) AS r(aggregate_type, aggregate_id)
             -- A scalar subquery, so that each reference is one primary-key
             -- lookup whatever the planner thinks of the organization's size.
             WHERE (SELECT e.organization_id FROM events e
                    WHERE e.aggregate_type = r.aggregate_type
                      AND e.aggregate_id = r.aggregate_id AND e.sequence = 1) = $3
             UNION ALL
             SELECT 4::int2, 0::int8, user_id::text, NULL, NULL FROM organization_members
             WHERE organization_id = $3 AND user_id = ANY($8)
             ORDER BY 1, 2",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .bind(asker.organization_id)
        .bind(asker.user_id)
        .bind(cached_version)
        .bind(&reference_types)
        .bind(&reference_ids)
        .bind(&asker.references.members)
        .fetch_all(&mut *conn)
        .await?;

        let mut roster = None;
        let mut found = References::none();
        let (mut aggregate, mut version) = match cached {
            Some((version, aggregate)) => (aggregate, version),
            None => (A::default(), 0),
        };
        let mut snapshot_version = None;
        let upcasters = A::upcasters();
        for LoadRow {
            kind,
            sequence,
            text,
            detail,
            payload,
        } in rows
        {
            match kind {
                0 => {
                    roster = Some(RosterRow {
                        role: text.unwrap_or_default(),
                        capabilities: detail
                            .filter(|d| !d.is_empty())
                            .map(|d| d.split(',').map(str::to_owned).collect())
                            .unwrap_or_default(),
                    });
                }
                1 => match serde_json::from_value::<A>(payload.unwrap_or_default()) {
                    Ok(state) => {
                        aggregate = state;
                        version = sequence as u64;
                        snapshot_version = Some(version);
                    }
                    Err(error) => {
                        // A snapshot is only a cache: when the state's shape
                        // changed since it was taken, replay the stream instead.
                        tracing::warn!(%error, aggregate_type = A::TYPE, aggregate_id,
                            "ignoring a snapshot that no longer deserializes");
                        return Box::pin(self.replay_without_snapshot::<A>(
                            conn,
                            aggregate_id,
                            asker,
                        ))
                        .await;
                    }
                },
                3 => {
                    if let (Some(t), Some(id)) = (text, detail.and_then(|d| d.parse().ok())) {
                        found.aggregates.push((t, id));
                    }
                }
                4 => found
                    .members
                    .extend(text.and_then(|m| m.parse::<Uuid>().ok())),
                _ => {
                    let event = decode_event::<A>(
                        &upcasters,
                        aggregate_id,
                        sequence,
                        text.unwrap_or_default(),
                        detail.unwrap_or_default(),
                        payload.unwrap_or_default(),
                    )?;
                    aggregate.apply(event);
                    version = sequence as u64;
                }
            }
        }
        self.remember(aggregate_id, version, &aggregate);
        Ok(CommandRead {
            roster,
            loaded: Loaded {
                aggregate,
                version,
                snapshot_version,
            },
            found,
        })
    }

    /// Replays a whole stream, ignoring its snapshot.
    async fn replay_without_snapshot<A>(
        &self,
        conn: &mut PgConnection,
        aggregate_id: &str,
        asker: &Asker<'_>,
    ) -> Result<CommandRead<A>, StoreError>
    where
        A: DomainAggregate,
        A::Command: DomainCommand,
    {
        sqlx::query("DELETE FROM snapshots WHERE aggregate_type = $1 AND aggregate_id = $2")
            .bind(A::TYPE)
            .bind(aggregate_id)
            .execute(&mut *conn)
            .await?;
        self.load_for_command::<A>(conn, aggregate_id, asker).await
    }

    fn cached<A: DomainAggregate>(&self, aggregate_id: &str) -> Option<(u64, A)>
    where
        A::Command: DomainCommand,
    {
        let cache = self.cache.as_ref()?;
        let mut cache = cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (version, state) = cache.get(&(A::TYPE, aggregate_id.to_owned()))?;
        state
            .downcast_ref::<A>()
            .map(|aggregate| (*version, aggregate.clone()))
    }

    /// Caches `aggregate` as the state at `version`, unless a newer one is cached.
    fn remember<A: DomainAggregate>(&self, aggregate_id: &str, version: u64, aggregate: &A)
    where
        A::Command: DomainCommand,
    {
        let Some(cache) = self.cache.as_ref() else {
            return;
        };
        if version == 0 {
            return;
        }
        let mut cache = cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = (A::TYPE, aggregate_id.to_owned());
        if cache
            .peek(&key)
            .is_some_and(|(cached, _)| *cached >= version)
        {
            return;
        }
        cache.put(key, (version, Arc::new(aggregate.clone())));
    }

    /// Appends a command's events after `expected_version` in one statement.
    /// The decision's state feeds the snapshot and, for organizations, the
    /// roster, written in the same transaction, as are its claims when given.
    pub(crate) async fn append<A>(
        &self,
        conn: &mut PgConnection,
        aggregate_id: &str,
        expected_version: u64,
        decision: Decision<'_, A>,
        metadata: &EventMetadata,
    ) -> Result<Appended, AppendError>
    where
        A: DomainAggregate,
        A::Command: DomainCommand,
    {
        let Decision {
            events,
            state,
            claims,
        } = decision;
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

        if roster.is_none() && claims.is_none() && !snapshot_due {
            // The common case: one autocommitted statement, one round trip.
            let global_position = insert_events(
                conn,
                A::TYPE,
                aggregate_id,
                &sequences,
                &types,
                &versions,
                &payloads,
                &metadata,
            )
            .await?;
            self.remember(aggregate_id, version, state);
            return Ok(Appended {
                version,
                global_position,
            });
        }

        let mut tx = sqlx::Connection::begin(&mut *conn)
            .await
            .map_err(StoreError::from)?;
        let written = async {
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
            let organization_id = metadata_organization(&metadata);
            if let Some(roster) = roster {
                replace_roster(&mut tx, organization_id, &roster).await?;
            }
            if let Some(claims) = claims {
                replace_claims(&mut tx, organization_id, A::TYPE, aggregate_id, claims).await?;
            }
            if snapshot_due {
                let payload = serde_json::to_value(state).map_err(StoreError::from)?;
                save_snapshot(&mut tx, A::TYPE, aggregate_id, version, payload).await?;
            }
            Ok::<_, AppendError>(global_position)
        }
        .await;
        let global_position = match written {
            Ok(position) => position,
            Err(error) => {
                // Roll back now: a transaction left to roll back lazily would
                // sit open on the pooled connection and hold back every reader
                // of the feed.
                tx.rollback().await.map_err(StoreError::from)?;
                return Err(error);
            }
        };
        tx.commit().await.map_err(StoreError::from)?;
        self.remember(aggregate_id, version, state);
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

/// [`decode_event`] for a payload held elsewhere: read in place, without a
/// copy, unless an upcaster must rewrite it first.
pub fn decode_event_ref<A: Aggregate>(
    upcasters: &[Box<dyn EventUpcaster>],
    aggregate_id: &str,
    sequence: i64,
    event_type: &str,
    event_version: &str,
    payload: &Value,
) -> Result<A::Event, StoreError> {
    if upcasters
        .iter()
        .any(|upcaster| upcaster.can_upcast(event_type, event_version))
    {
        return decode_event::<A>(
            upcasters,
            aggregate_id,
            sequence,
            event_type.to_owned(),
            event_version.to_owned(),
            payload.clone(),
        );
    }
    A::Event::deserialize(payload).map_err(|error| StoreError::Unreadable {
        event: format!(
            "{} {aggregate_id} #{sequence} ({event_type} v{event_version})",
            A::TYPE
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
             RETURNING sequence, global_position
         ),
         -- The idempotency key, if the command has one, in the same
         -- statement: its events and its key commit together or not at all.
         keyed AS (
             INSERT INTO command_keys
                 (organization_id, key, aggregate_type, aggregate_id, version, global_position)
             SELECT ($7->>'organization_id')::uuid, $7->>'idempotency_key', $1, $2,
                    max(sequence), max(global_position)
             FROM appended
             HAVING $7 ? 'idempotency_key'
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
        Err(sqlx::Error::Database(error))
            if error.is_unique_violation() && error.constraint() == Some("command_keys_pkey") =>
        {
            Err(AppendError::Repeated)
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

/// Replaces an aggregate's claims. A clash with another aggregate's claim is
/// reported with the claim, so the caller can say what is taken.
async fn replace_claims(
    conn: &mut PgConnection,
    organization_id: Uuid,
    aggregate_type: &str,
    aggregate_id: &str,
    claims: &[Claim],
) -> Result<(), AppendError> {
    for table in ["unique_claims", "member_bookings"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE aggregate_type = $1 AND aggregate_id = $2"
        ))
        .bind(aggregate_type)
        .bind(aggregate_id)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::from)?;
    }
    for claim in claims {
        let result = match claim {
            Claim::Unique { scope, value } => {
                sqlx::query(
                    "INSERT INTO unique_claims
                         (organization_id, scope, value, aggregate_type, aggregate_id)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(organization_id)
                .bind(scope)
                .bind(value)
                .bind(aggregate_type)
                .bind(aggregate_id)
                .execute(&mut *conn)
                .await
            }
            Claim::Booking {
                member_id,
                starts_at,
                ends_at,
            } => {
                sqlx::query(
                    "INSERT INTO member_bookings
                         (organization_id, member_id, period, aggregate_type, aggregate_id)
                     VALUES ($1, $2, tstzrange($3, $4), $5, $6)",
                )
                .bind(organization_id)
                .bind(member_id)
                .bind(starts_at)
                .bind(ends_at)
                .bind(aggregate_type)
                .bind(aggregate_id)
                .execute(&mut *conn)
                .await
            }
        };
        match result {
            Ok(_) => {}
            Err(sqlx::Error::Database(error))
                if error.is_unique_violation() || error.code().as_deref() == Some("23P01") =>
            {
                return Err(AppendError::Claim(match claim {
                    Claim::Unique { scope, value } => {
                        format!("{} `{value}` is already in use", scope.replace('_', " "))
                    }
                    Claim::Booking { member_id, .. } => {
                        format!("member {member_id} is already booked for an overlapping period")
                    }
                }));
            }
            Err(error) => return Err(StoreError::Database(error).into()),
        }
    }
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
