//! Rebuilding a projection from the whole event store.
//!
//! In shadow mode the projection is folded again into copies of its tables in
//! the `foldline_shadow` schema, on connections whose `search_path` puts that
//! schema first, so the projection's own statements write the copies while
//! the live tables keep serving queries. When the copy has caught up, one
//! transaction holds the live checkpoint, applies the last events to the copy,
//! and replaces the live tables' rows, states and checkpoint with the copy's:
//! readers see the old rows until that commit and the new ones after.
//!
//! In place, the projection's rows, states and checkpoint are cleared and the
//! projection is folded again; queries see the tables fill up.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};

use crate::checkpoint;
use crate::engine::{Engine, EngineError};
use crate::feed::read_batch;
use crate::projection::{Projection, ProjectionError};

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

/// How a rebuild reports progress: events applied so far, and events in the
/// store when it started.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// Rebuilds `projection` into shadow tables and swaps them in when caught up.
pub async fn rebuild_in_shadow(
    pool: &PgPool,
    projection: &dyn Projection,
    batch_size: i64,
    progress: Progress<'_>,
) -> Result<u64, RebuildError> {
    let key = format!("foldline.rebuild.{}", projection.name());
    let guard = lock(pool, &key).await?;
    let result = shadow_rebuild(pool, projection, batch_size, progress).await;
    release(guard, &key).await;
    result
}

async fn shadow_rebuild(
    pool: &PgPool,
    projection: &dyn Projection,
    batch_size: i64,
    progress: Progress<'_>,
) -> Result<u64, RebuildError> {
    prepare_shadow(pool, projection).await?;
    let options = (*pool.connect_options())
        .clone()
        .options([("search_path", format!("{SHADOW_SCHEMA},public"))]);
    let shadow = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await?;
    let engine = Engine::new(shadow.clone()).with_batch_size(batch_size);
    let mut applied = catch_up_to_head(pool, &engine, projection, progress).await?;
    applied += swap_in(&shadow, projection, batch_size).await?;
    progress(applied, applied);
    drop_shadow(&shadow, projection).await?;
    shadow.close().await;
    Ok(applied)
}

/// Clears `projection`'s rows, states and checkpoint and folds it again.
pub async fn rebuild_in_place(
    pool: &PgPool,
    projection: &dyn Projection,
    batch_size: i64,
    progress: Progress<'_>,
) -> Result<u64, RebuildError> {
    let key = format!("foldline.projection.{}", projection.name());
    let guard = lock(pool, &key).await?;
    let result = in_place_rebuild(pool, projection, batch_size, progress).await;
    release(guard, &key).await;
    result
}

async fn in_place_rebuild(
    pool: &PgPool,
    projection: &dyn Projection,
    batch_size: i64,
    progress: Progress<'_>,
) -> Result<u64, RebuildError> {
    let name = projection.name();
    let mut tx = pool.begin().await?;
    for table in projection.tables() {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut *tx)
            .await?;
    }
    reset(&mut tx, name).await?;
    tx.commit().await?;
    let engine = Engine::new(pool.clone()).with_batch_size(batch_size);
    catch_up_to_head(pool, &engine, projection, progress).await
}

/// Folds every event that was in the store when the rebuild started, waiting
/// for transactions still open before them, with progress after each batch.
async fn catch_up_to_head(
    pool: &PgPool,
    engine: &Engine,
    projection: &dyn Projection,
    progress: Progress<'_>,
) -> Result<u64, RebuildError> {
    let (head, total): (i64, i64) =
        sqlx::query_as("SELECT coalesce(max(global_position), 0), count(*) FROM events")
            .fetch_one(pool)
            .await?;
    let total = total as u64;
    let applied = engine
        .catch_up_to_reporting(projection, head, OPEN_TRANSACTIONS_WAIT, &|applied| {
            progress(applied, total)
        })
        .await?;
    Ok(applied)
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
        sqlx::query(&format!("DROP TABLE IF EXISTS {SHADOW_SCHEMA}.{table}"))
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!(
            "CREATE TABLE {SHADOW_SCHEMA}.{table} (LIKE public.{table} INCLUDING ALL)"
        ))
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(&format!("SET LOCAL search_path = {SHADOW_SCHEMA}, public"))
        .execute(&mut *tx)
        .await?;
    reset(&mut tx, projection.name()).await?;
    tx.commit().await?;
    Ok(())
}

/// Applies the last events to the shadow copy and replaces the live rows,
/// states and checkpoint with it, in one transaction that holds the live
/// checkpoint so the live worker waits.
async fn swap_in(
    shadow: &PgPool,
    projection: &dyn Projection,
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
    let mut applied = 0u64;
    loop {
        let at = checkpoint::lock(&mut tx, name).await?;
        let batch = read_batch(&mut tx, at.position, batch_size).await?;
        let Some(last) = batch.last().map(|event| event.position) else {
            break;
        };
        if let Err(error) = projection.apply(&mut tx, &batch).await {
            tx.rollback().await?;
            return Err(match error {
                ProjectionError::Poison { position, message } => {
                    RebuildError::Engine(EngineError::Stopped {
                        projection: name.to_owned(),
                        position,
                        message,
                    })
                }
                ProjectionError::Database(error) => RebuildError::Database(error),
            });
        }
        checkpoint::advance(&mut tx, name, last, batch.len() as i64).await?;
        applied += batch.len() as u64;
    }
    for table in projection.tables() {
        sqlx::query(&format!("DELETE FROM public.{table}"))
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!(
            "INSERT INTO public.{table} SELECT * FROM {SHADOW_SCHEMA}.{table}"
        ))
        .execute(&mut *tx)
        .await?;
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
