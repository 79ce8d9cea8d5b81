//! Where a projection keeps the aggregate states it folds between batches.
//!
//! A live worker keeps them in `projection_states`, read and written in the
//! batch's own transaction, so they move with its checkpoint. The table is a
//! cache of the event store: an aggregate without a stored state is folded
//! from its events up to the checkpoint, which is what a rebuild relies on. A
//! rebuild keeps every state in memory instead (it folds every stream from its
//! first event) and stores none: no JSON written and read back per batch.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use foldline_aggregates::DomainCommand;
use serde_json::Value;
use sqlx::PgConnection;

use crate::feed::{read_streams, Position, StoredEvent};
use crate::projection::ProjectionError;
use crate::state::{Entity, Tracked};

/// The states one projection folds.
pub struct StateStore {
    projection: &'static str,
    place: Place,
}

enum Place {
    /// In `projection_states`, for a batch applied after `after`.
    Table {
        after: Position,
        /// Streams the batch begins, which have no earlier state to load.
        started: HashSet<(String, String)>,
    },
    /// In memory, one `HashMap<String, Arc<Tracked<A>>>` per aggregate type:
    /// shared with the batch that folded them, never copied.
    Memory(HashMap<&'static str, Box<dyn Any + Send + Sync>>),
}

impl StateStore {
    /// The stored states of `projection`, for a batch of `events` applied
    /// after its checkpoint `after`.
    pub fn stored(projection: &'static str, after: Position, events: &[StoredEvent]) -> Self {
        let started = events
            .iter()
            .filter(|event| event.sequence == 1)
            .map(|event| (event.aggregate_type.clone(), event.aggregate_id.clone()))
            .collect();
        StateStore {
            projection,
            place: Place::Table { after, started },
        }
    }

    /// States kept in memory by a projection folding the feed from its start.
    pub fn in_memory(projection: &'static str) -> Self {
        StateStore {
            projection,
            place: Place::Memory(HashMap::new()),
        }
    }

    /// Takes out the states of the aggregates `ids` of type `A`; those that
    /// have no event before the batch are absent. Give them back with
    /// [`StateStore::put`].
    pub async fn take<A>(
        &mut self,
        conn: &mut PgConnection,
        ids: &[String],
    ) -> Result<HashMap<String, Tracked<A>>, ProjectionError>
    where
        A: Entity + Clone + 'static,
        A::Command: DomainCommand,
    {
        match &mut self.place {
            Place::Memory(types) => {
                // The batch that shared a state has ended: it is ours alone.
                let kept = kept::<A>(types);
                Ok(ids
                    .iter()
                    .filter_map(|id| kept.remove_entry(id))
                    .map(|(id, state)| (id, Arc::unwrap_or_clone(state)))
                    .collect())
            }
            Place::Table { after, started } => {
                let mut states = load_states::<A>(conn, self.projection, ids).await?;
                let missing: Vec<String> = ids
                    .iter()
                    .filter(|id| !states.contains_key(*id))
                    .filter(|id| !started.contains(&(A::TYPE.to_owned(), (*id).clone())))
                    .cloned()
                    .collect();
                if !missing.is_empty() {
                    for event in read_streams(conn, A::TYPE, &missing, *after).await? {
                        states
                            .entry(event.aggregate_id.clone())
                            .or_default()
                            .fold(&event)?;
                    }
                }
                Ok(states)
            }
        }
    }

    /// Keeps `states` for the next batches.
    pub async fn put<A>(
        &mut self,
        conn: &mut PgConnection,
        states: HashMap<String, Tracked<A>>,
    ) -> Result<(), ProjectionError>
    where
        A: Entity + Clone + 'static,
        A::Command: DomainCommand,
    {
        let shared = states
            .into_iter()
            .map(|(id, state)| (id, Arc::new(state)))
            .collect();
        self.share(conn, &shared).await
    }

    /// Keeps `states`, which the caller goes on reading, for the next batches.
    async fn share<A>(
        &mut self,
        conn: &mut PgConnection,
        states: &HashMap<String, Arc<Tracked<A>>>,
    ) -> Result<(), ProjectionError>
    where
        A: Entity + Clone + 'static,
        A::Command: DomainCommand,
    {
        match &mut self.place {
            Place::Memory(types) => {
                kept::<A>(types)
                    .extend(states.iter().map(|(id, state)| (id.clone(), state.clone())));
                Ok(())
            }
            Place::Table { .. } => save_states(conn, self.projection, states).await,
        }
    }
}

/// The states of type `A` kept in memory.
fn kept<'a, A>(
    types: &'a mut HashMap<&'static str, Box<dyn Any + Send + Sync>>,
) -> &'a mut KeptStates<A>
where
    A: Entity + Clone + 'static,
    A::Command: DomainCommand,
{
    types
        .entry(A::TYPE)
        .or_insert_with(|| Box::new(KeptStates::<A>::new()))
        .downcast_mut::<KeptStates<A>>()
        // Only this function puts maps in, each under its own type's name.
        .expect("the states of one aggregate type are kept in one map type")
}

/// The states of one aggregate type kept in memory, by aggregate id.
type KeptStates<A> = HashMap<String, Arc<Tracked<A>>>;

/// Folds a batch's events of aggregate type `A` into the states the
/// projection keeps, and returns the touched states by aggregate id.
pub async fn fold_batch<A>(
    conn: &mut PgConnection,
    store: &mut StateStore,
    events: &[StoredEvent],
) -> Result<HashMap<String, Arc<Tracked<A>>>, ProjectionError>
where
    A: Entity + Clone + 'static,
    A::Command: DomainCommand,
{
    let mine: Vec<&StoredEvent> = events
        .iter()
        .filter(|event| event.aggregate_type == A::TYPE)
        .collect();
    if mine.is_empty() {
        return Ok(HashMap::new());
    }
    let mut ids: Vec<String> = mine.iter().map(|e| e.aggregate_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let mut states = store.take::<A>(conn, &ids).await?;
    for event in mine {
        states
            .entry(event.aggregate_id.clone())
            .or_default()
            .fold(event)?;
    }
    let states = states
        .into_iter()
        .map(|(id, state)| (id, Arc::new(state)))
        .collect();
    store.share(conn, &states).await?;
    Ok(states)
}

/// The states `projection` stored of the aggregates `ids` of type `A`; those
/// it has none of are absent.
async fn load_states<A>(
    conn: &mut PgConnection,
    projection: &str,
    ids: &[String],
) -> Result<HashMap<String, Tracked<A>>, ProjectionError>
where
    A: Entity,
    A::Command: DomainCommand,
{
    let stored: Vec<(String, Value)> = sqlx::query_as(
        "SELECT aggregate_id, state FROM projection_states
         WHERE projection = $1 AND aggregate_type = $2 AND aggregate_id = ANY($3)",
    )
    .bind(projection)
    .bind(A::TYPE)
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut states = HashMap::with_capacity(ids.len());
    for (id, state) in stored {
        // The table is a cache: a state an older release wrote, which this
        // one no longer reads, is left out and folded again from its events.
        match serde_json::from_value(state) {
            Ok(state) => {
                states.insert(id, state);
            }
            Err(error) => tracing::warn!(
                projection,
                aggregate_type = A::TYPE,
                aggregate_id = %id,
                %error,
                "a stored state no longer reads; folding it from the event store"
            ),
        }
    }
    Ok(states)
}

/// Stores `states` for `projection`'s next batches.
async fn save_states<A>(
    conn: &mut PgConnection,
    projection: &str,
    states: &HashMap<String, Arc<Tracked<A>>>,
) -> Result<(), ProjectionError>
where
    A: Entity,
    A::Command: DomainCommand,
{
    if states.is_empty() {
        return Ok(());
    }
    let mut keys = Vec::with_capacity(states.len());
    let mut sequences = Vec::with_capacity(states.len());
    let mut payloads = Vec::with_capacity(states.len());
    for (id, state) in states {
        keys.push(id.clone());
        sequences.push(state.sequence);
        payloads.push(
            serde_json::to_value(state).map_err(|error| ProjectionError::Poison {
                position: state.last_position,
                message: format!("cannot store the state of {} {id}: {error}", A::TYPE),
            })?,
        );
    }
    sqlx::query(
        "INSERT INTO projection_states (projection, aggregate_type, aggregate_id, sequence, state)
         SELECT $1, $2, s.aggregate_id, s.sequence, s.state
         FROM UNNEST($3::text[], $4::bigint[], $5::jsonb[]) AS s(aggregate_id, sequence, state)
         ON CONFLICT (projection, aggregate_type, aggregate_id) DO UPDATE
             SET sequence = EXCLUDED.sequence, state = EXCLUDED.state",
    )
    .bind(projection)
    .bind(A::TYPE)
    .bind(&keys)
    .bind(&sequences)
    .bind(&payloads)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
