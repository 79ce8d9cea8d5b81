//! Rebuilding projections from the whole event store.
//!
//! The feed is read once, and every batch goes to all the projections being
//! rebuilt, each folding on a task and a connection of its own, with the
//! aggregate states in memory (nothing is written to `projection_states`; a
//! live worker folds a state it does not find from the events).
//!
//! In shadow mode the projections write copies of their tables in the
//! `foldline_shadow` schema, on connections whose `search_path` puts that
//! schema first, so their own statements write the copies while the live
//! tables keep serving queries. When a copy has caught up, one transaction
//! holds the live checkpoint, applies the last events to the copy, and renames
//! the copy into place ([`crate::swap`]): readers see the old rows until that
//! commit and the new ones after.
//!
//! In place, the projections' rows, states and checkpoints are cleared and the
//! feed folded again; queries see the tables fill up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::mpsc;

use crate::checkpoint;
use crate::engine::EngineError;
use crate::feed::{read_batch, Position, StoredEvent};
use crate::projection::{Projection, ProjectionError};
use crate::state_store::StateStore;
use crate::swap::{create_copy, index_copy, replace_table};
/// How long a rebuild waits for transactions still open before the events it
/// must reach; `idle_in_transaction_session_timeout` ends idle ones sooner.
const OPEN_TRANSACTIONS_WAIT: Duration = Duration::from_secs(120);

/// The schema shadow copies live in.
pub const SHADOW_SCHEMA: &str = "foldline_shadow";

/// Why a rebuild failed.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// Another process runs the projection (for an in-place rebuild) or
    /// rebuilds it already.
    #[error("projection {0} is busy in another process: stop it, or rebuild without --in-place")]
    Busy(String),
    /// The projection stopped at an event during the rebuild.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The database failed.
    #[error("rebuild database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// How a rebuild reports progress: events folded so far, and events in the
/// store when it started.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// Where a rebuild writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Into copies of the tables, swapped in when caught up.
    Shadow,
    /// Into the live tables, cleared first.
    InPlace,
}

/// How many batches the feed reader may be ahead of the slowest projection.
const BATCHES_AHEAD: usize = 2;

/// Rebuilds `projection` into shadow tables and swaps them in when caught up;
/// returns how many events it folded.
pub async fn rebuild_in_shadow(
    pool: &PgPool,
    projection: Arc<dyn Projection>,
    batch_size: i64,
    progress: Progress<'_>,
) -> Result<u64, RebuildError> {
    rebuild(pool, &[projection], Target::Shadow, batch_size, progress).await
}

/// Clears `projection`'s rows, states and checkpoint and folds it again.
pub async fn rebuild_in_place(
    pool: &PgPool,
    projection: Arc<dyn Projection>,
    batch_size: i64,
    progress: Progress<'_>,
) -> Result<u64, RebuildError> {
    rebuild(pool, &[projection], Target::InPlace, batch_size, progress).await
}

/// Rebuilds `projections` in one pass over the feed; returns how many events
/// each folded (the most, when the swaps folded a few more for some).
pub async fn rebuild(
    pool: &PgPool,
    projections: &[Arc<dyn Projection>],
    target: Target,
    batch_size: i64,
    progress: Progress<'_>,
) -> Result<u64, RebuildError> {
    // A shadow rebuild leaves the live workers running; one in place needs
    // the projections to itself.
    let prefix = match target {
        Target::Shadow => "foldline.rebuild",
        Target::InPlace => "foldline.projection",
    };
    let mut guards = Vec::new();
    for projection in projections {
        let key = format!("{prefix}.{}", projection.name());
        match lock(pool, &key).await {
            Ok(guard) => guards.push((guard, key)),
            Err(error) => {
                for (guard, key) in guards {
                    release(guard, &key).await;
                }
                return Err(error);
            }
        }
    }
    let result = run(pool, projections, target, batch_size.max(1), progress).await;
    for (guard, key) in guards {
        release(guard, &key).await;
    }
    result
}

async fn run(
    pool: &PgPool,
    projections: &[Arc<dyn Projection>],
    target: Target,
    batch_size: i64,
    progress: Progress<'_>,
) -> Result<u64, RebuildError> {
    match target {
        Target::Shadow => {
            for projection in projections {
                prepare_shadow(pool, projection.as_ref()).await?;
            }
        }
        Target::InPlace => {
            for projection in projections {
                clear(pool, projection.as_ref()).await?;
            }
        }
    }
    // A connection for each projection and one for the feed, whatever the
    // size of the caller's pool.
    // The copies start empty and grow by a batch at a time: a plan made for
    // the first batch (a scan of an empty table) would be kept for the last.
    let mut options = (*pool.connect_options())
        .clone()
        .options([("plan_cache_mode", "auto")]);
    if target == Target::Shadow {
        options = options.options([("search_path", format!("{SHADOW_SCHEMA},public"))]);
    }
    let writers = PgPoolOptions::new()
        .max_connections(projections.len() as u32 + 1)
        // Index builds and bulk writes over the whole store run as long as
        // they need, whatever limit the caller's pool sets.
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("SET statement_timeout = 0")
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    let result = fold_and_swap(pool, &writers, projections, target, batch_size, progress).await;
    if target == Target::Shadow && result.is_ok() {
        for projection in projections {
            drop_shadow(&writers, projection.as_ref()).await?;
        }
    }
    writers.close().await;
    result
}

async fn fold_and_swap(
    pool: &PgPool,
    writers: &PgPool,
    projections: &[Arc<dyn Projection>],
    target: Target,
    batch_size: i64,
    progress: Progress<'_>,
) -> Result<u64, RebuildError> {
    let (folded, stores) = fold_to_head(pool, writers, projections, batch_size, progress).await?;
    let mut most = folded;
    if target == Target::Shadow {
        // One index build per connection at a time, side by side.
        let builds = projections.iter().map(|projection| async move {
            let mut tx = writers.begin().await?;
            sqlx::query("SET LOCAL maintenance_work_mem = '256MB'")
                .execute(&mut *tx)
                .await?;
            for table in projection.tables() {
                index_copy(&mut tx, SHADOW_SCHEMA, table).await?;
                // The copy goes live with statistics, not with none until
                // autovacuum comes by: its first readers are planned well.
                sqlx::query(&format!("ANALYZE {SHADOW_SCHEMA}.{table}"))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        });
        futures::future::try_join_all(builds).await?;
        for (projection, store) in projections.iter().zip(stores) {
            let last = swap_in_retrying(writers, projection.as_ref(), store, batch_size).await?;
            most = most.max(folded + last);
        }
    }
    progress(most, most);
    Ok(most)
}

/// Reads the feed once, up to the head it had when the rebuild started
/// (waiting for transactions still open before it), and has every projection
/// fold each batch on a task of its own; returns the events read and each
/// projection's states.
async fn fold_to_head(
    pool: &PgPool,
    writers: &PgPool,
    projections: &[Arc<dyn Projection>],
    batch_size: i64,
    progress: Progress<'_>,
) -> Result<(u64, Vec<StateStore>), RebuildError> {
    let (head, total) = head(pool).await?;
    let mut senders = Vec::new();
    let mut folders = Vec::new();
    for projection in projections {
        let (sender, receiver) = mpsc::channel::<Arc<Vec<StoredEvent>>>(BATCHES_AHEAD);
        senders.push(sender);
        folders.push(tokio::spawn(fold(
            writers.clone(),
            projection.clone(),
            receiver,
        )));
    }
    let read = read_to(pool, head, batch_size, &senders, &|read| {
        progress(read, total)
    })
    .await;
    // Closing the channels tells the folders the feed has ended.
    drop(senders);
    let mut stores = Vec::new();
    let mut failure = None;
    for folder in folders {
        match folder.await {
            Ok(Ok(store)) => stores.push(store),
            Ok(Err(error)) => failure = failure.or(Some(error)),
            Err(panic) => std::panic::resume_unwind(panic.into_panic()),
        }
    }
    // A folder's own error explains a reader that stopped because it left.
    match (failure, read) {
        (Some(error), _) => Err(error),
        (None, Err(error)) => Err(error),
        (None, Ok(read)) => Ok((read, stores)),
    }
}

/// The feed position of the newest event, and how many events there are.
async fn head(pool: &PgPool) -> Result<(Position, u64), RebuildError> {
    let (transaction_id, global_position, total): (Option<String>, Option<i64>, i64) =
        sqlx::query_as(
            "SELECT (SELECT transaction_id::text FROM events ORDER BY global_position DESC LIMIT 1),
                    (SELECT max(global_position) FROM events),
                    (SELECT count(*) FROM events)",
        )
        .fetch_one(pool)
        .await?;
    let head = Position {
        transaction_id: transaction_id.and_then(|t| t.parse().ok()).unwrap_or(0),
        global_position: global_position.unwrap_or(0),
    };
    Ok((head, total as u64))
}

/// Sends every batch of the feed up to `head` to each of `senders`; returns
/// how many events it read.
async fn read_to(
    pool: &PgPool,
    head: Position,
    batch_size: i64,
    senders: &[mpsc::Sender<Arc<Vec<StoredEvent>>>],
    read_so_far: &(dyn Fn(u64) + Sync),
) -> Result<u64, RebuildError> {
    let mut conn = pool.acquire().await?;
    let started = Instant::now();
    let mut at = Position::default();
    let mut read = 0u64;
    while at < head {
        let batch = read_batch(&mut conn, at, batch_size).await?;
        let Some(last) = batch.last().map(|event| event.position) else {
            if started.elapsed() > OPEN_TRANSACTIONS_WAIT {
                return Err(RebuildError::Engine(EngineError::Timeout {
                    projection: "rebuild".into(),
                    position: head.global_position,
                    waited: OPEN_TRANSACTIONS_WAIT,
                }));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        at = last;
        read += batch.len() as u64;
        let batch = Arc::new(batch);
        for sender in senders {
            if sender.send(batch.clone()).await.is_err() {
                // That folder failed; its error is reported.
                return Ok(read);
            }
        }
        read_so_far(read);
    }
    Ok(read)
}

/// Folds every batch it receives into `projection`, one transaction a batch.
async fn fold(
    writers: PgPool,
    projection: Arc<dyn Projection>,
    mut batches: mpsc::Receiver<Arc<Vec<StoredEvent>>>,
) -> Result<StateStore, RebuildError> {
    let mut store = StateStore::in_memory(projection.name());
    let mut conn = writers.acquire().await?;
    while let Some(batch) = batches.recv().await {
        let mut tx = conn.begin().await?;
        // A rebuild that fails starts again from the beginning; its batches
        // need not wait for the disk.
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
        if let Err(error) = apply(&mut tx, projection.as_ref(), &mut store, &batch).await {
            let _ = tx.rollback().await;
            return Err(error);
        }
        tx.commit().await?;
    }
    Ok(store)
}

/// Applies a batch and moves the checkpoint past it, in `tx`.
async fn apply(
    tx: &mut PgConnection,
    projection: &dyn Projection,
    store: &mut StateStore,
    batch: &[StoredEvent],
) -> Result<(), RebuildError> {
    let Some(last) = batch.last().map(|event| event.position) else {
        return Ok(());
    };
    match projection.apply(tx, store, batch).await {
        Ok(()) => {}
        Err(ProjectionError::Poison { position, message }) => {
            return Err(RebuildError::Engine(EngineError::Stopped {
                projection: projection.name().to_owned(),
                position,
                message,
            }))
        }
        Err(ProjectionError::Database(error)) => return Err(RebuildError::Database(error)),
    }
    checkpoint::advance(tx, projection.name(), last, batch.len() as i64).await?;
    Ok(())
}

/// Clears a projection's rows, states and checkpoint.
async fn clear(pool: &PgPool, projection: &dyn Projection) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL statement_timeout = 0")
        .execute(&mut *tx)
        .await?;
    for table in projection.tables() {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut *tx)
            .await?;
    }
    reset(&mut tx, projection.name()).await?;
    tx.commit().await
}

/// Clears a projection's states and sets its checkpoint to the start.
async fn reset(conn: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM projection_states WHERE projection = $1")
        .bind(name)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO projection_checkpoints (projection) VALUES ($1)
         ON CONFLICT (projection) DO UPDATE
             SET transaction_id = '0', global_position = 0, events_applied = 0,
                 state = 'running', error = NULL, error_position = NULL, updated_at = now()",
    )
    .bind(name)
    .execute(conn)
    .await?;
    Ok(())
}

async fn prepare_shadow(pool: &PgPool, projection: &dyn Projection) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {SHADOW_SCHEMA}"))
        .execute(&mut *tx)
        .await?;
    for table in ["projection_states", "projection_checkpoints"] {
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {SHADOW_SCHEMA}.{table} (LIKE public.{table} INCLUDING ALL)"
        ))
        .execute(&mut *tx)
        .await?;
    }
    // The projection's own copies are made anew, so they match the live
    // tables' current schema even if a crashed rebuild left old ones.
    for table in projection.tables() {
        create_copy(&mut tx, SHADOW_SCHEMA, table).await?;
    }
    sqlx::query(&format!("SET LOCAL search_path = {SHADOW_SCHEMA}, public"))
        .execute(&mut *tx)
        .await?;
    reset(&mut tx, projection.name()).await?;
    tx.commit().await?;
    Ok(())
}

/// How long the swap waits for the live tables' locks before it gives up
/// and tries again: every query of a table queues behind the swap's
/// ACCESS EXCLUSIVE request, so the swap must not wait behind a long read.
const SWAP_LOCK_TIMEOUT: &str = "2s";
/// How many times the swap is tried before the rebuild fails.
const SWAP_TRIES: u32 = 10;

/// [`swap_in`], tried again (after a pause) when it could not have the live
/// tables' locks within [`SWAP_LOCK_TIMEOUT`].
async fn swap_in_retrying(
    shadow: &PgPool,
    projection: &dyn Projection,
    mut store: StateStore,
    batch_size: i64,
) -> Result<u64, RebuildError> {
    let mut tries = 0;
    loop {
        tries += 1;
        match swap_in(shadow, projection, &mut store, batch_size).await {
            Err(RebuildError::Database(error))
                if lock_not_available(&error) && tries < SWAP_TRIES =>
            {
                tracing::warn!(
                    projection = projection.name(),
                    tries,
                    "the swap waited too long for its locks; trying again"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            result => return result,
        }
    }
}

/// Whether `error` is a lock wait that ran out (`lock_timeout`).
fn lock_not_available(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "55P03")
}

/// Applies the last events to the shadow copy and puts it in place of the
/// live tables, with its states and checkpoint, in one transaction that holds
/// the live checkpoint so the live worker waits; returns the events applied.
async fn swap_in(
    shadow: &PgPool,
    projection: &dyn Projection,
    store: &mut StateStore,
    batch_size: i64,
) -> Result<u64, RebuildError> {
    let name = projection.name();
    let mut conn = shadow.acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query(
        "INSERT INTO public.projection_checkpoints (projection) VALUES ($1) ON CONFLICT DO NOTHING",
    )
    .bind(name)
    .execute(&mut *tx)
    .await?;
    sqlx::query("SELECT 1 FROM public.projection_checkpoints WHERE projection = $1 FOR UPDATE")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    // Then the live tables' locks (in the live worker's order: checkpoint,
    // then tables), before any event is folded into `store`: a swap that
    // cannot have them in time has changed nothing, and is tried again.
    sqlx::query(&format!("SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'"))
        .execute(&mut *tx)
        .await?;
    for table in projection.tables() {
        sqlx::query(&format!(
            "LOCK TABLE public.{table} IN ACCESS EXCLUSIVE MODE"
        ))
        .execute(&mut *tx)
        .await?;
    }
    let mut applied = 0u64;
    loop {
        let at = checkpoint::lock(&mut tx, name).await?;
        let batch = read_batch(&mut tx, at.position, batch_size).await?;
        if batch.is_empty() {
            break;
        }
        if let Err(error) = apply(&mut tx, projection, store, &batch).await {
            tx.rollback().await?;
            return Err(error);
        }
        applied += batch.len() as u64;
    }
    for table in projection.tables() {
        replace_table(&mut tx, SHADOW_SCHEMA, table).await?;
    }
    sqlx::query("DELETE FROM public.projection_states WHERE projection = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!(
        "INSERT INTO public.projection_states
         SELECT * FROM {SHADOW_SCHEMA}.projection_states WHERE projection = $1"
    ))
    .bind(name)
    .execute(&mut *tx)
    .await?;
    sqlx::query(&format!(
        "UPDATE public.projection_checkpoints AS live
         SET transaction_id = copy.transaction_id, global_position = copy.global_position,
             events_applied = copy.events_applied, state = 'running', error = NULL,
             error_position = NULL, updated_at = now()
         FROM {SHADOW_SCHEMA}.projection_checkpoints AS copy
         WHERE live.projection = $1 AND copy.projection = $1"
    ))
    .bind(name)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(applied)
}

async fn drop_shadow(shadow: &PgPool, projection: &dyn Projection) -> Result<(), sqlx::Error> {
    let mut tx = shadow.begin().await?;
    for table in projection.tables() {
        sqlx::query(&format!("DROP TABLE IF EXISTS {SHADOW_SCHEMA}.{table}"))
            .execute(&mut *tx)
            .await?;
    }
    for table in ["projection_states", "projection_checkpoints"] {
        sqlx::query(&format!(
            "DELETE FROM {SHADOW_SCHEMA}.{table} WHERE projection = $1"
        ))
        .bind(projection.name())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Releases a lock taken by [`lock`] and ends its session.
async fn release(mut conn: PgConnection, key: &str) {
    let _ = sqlx::query("SELECT pg_advisory_unlock(hashtext($1))")
        .bind(key)
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
}

/// Takes a session advisory lock on a connection of its own.
async fn lock(pool: &PgPool, key: &str) -> Result<PgConnection, RebuildError> {
    let mut conn = PgConnection::connect_with(&pool.connect_options()).await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($1))")
        .bind(key)
        .fetch_one(&mut conn)
        .await?;
    if locked {
        Ok(conn)
    } else {
        let _ = conn.close().await;
        Err(RebuildError::Busy(
            key.rsplit('.').next().unwrap_or(key).to_owned(),
        ))
    }
}
