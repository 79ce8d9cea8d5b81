//! The projection engine: applies the feed to each projection a batch at a
//! time, the batch's rows and the checkpoint in one transaction.

use std::sync::Arc;
use std::time::Duration;

use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::checkpoint;
use crate::feed::{read_batch, Position};
use crate::projection::{Projection, ProjectionError};
use crate::state_store::StateStore;

/// Events read and applied per transaction by default.
pub const DEFAULT_BATCH_SIZE: i64 = 1_000;
/// How often an idle worker looks for events appended by other processes.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Why the engine could not move a projection forward.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The projection met an event it cannot apply and stopped there; it
    /// stays stopped until it is rebuilt.
    #[error("projection {projection} is stopped at position {position}: {message}")]
    Stopped {
        /// The projection.
        projection: String,
        /// The global position of the event it could not apply.
        position: i64,
        /// Why.
        message: String,
    },
    /// The projection did not reach the wanted position in time, held back by
    /// a transaction still open.
    #[error("projection {projection} did not reach position {position} within {waited:?}")]
    Timeout {
        /// The projection.
        projection: String,
        /// The position waited for.
        position: i64,
        /// How long it waited.
        waited: Duration,
    },
    /// The database failed; the batch was rolled back and will be retried.
    #[error("projection {projection}: {source}")]
    Database {
        /// The projection.
        projection: String,
        /// The error.
        source: sqlx::Error,
    },
}

/// Runs projections over the feed.
#[derive(Debug, Clone)]
pub struct Engine {
    pool: PgPool,
    batch_size: i64,
}

impl Engine {
    /// An engine over `pool`, with batches of [`DEFAULT_BATCH_SIZE`] events.
    pub fn new(pool: PgPool) -> Self {
        Engine {
            pool,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }

    /// The same engine with batches of `events`.
    pub fn with_batch_size(mut self, events: i64) -> Self {
        self.batch_size = events.max(1);
        self
    }

    /// Applies the next batch to `projection`; returns how many events it
    /// applied (0 when the projection has caught up).
    pub async fn step(&self, projection: &dyn Projection) -> Result<usize, EngineError> {
        let name = projection.name();
        let database = |source| EngineError::Database {
            projection: name.to_owned(),
            source,
        };
        let mut tx = self.pool.begin().await.map_err(database)?;
        // A batch lost in a crash loses its checkpoint with it: it is simply
        // applied again, so the projection need not wait for the disk.
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await
            .map_err(database)?;
        let checkpoint = checkpoint::lock(&mut tx, name).await.map_err(database)?;
        // Every path ends its transaction explicitly: one left to roll back
        // lazily would sit open on a pooled connection and hold back the feed
        // of every reader.
        if checkpoint.state == "stopped" {
            tx.rollback().await.map_err(database)?;
            return Err(EngineError::Stopped {
                projection: name.to_owned(),
                position: checkpoint.error_position.unwrap_or_default(),
                message: checkpoint.error.unwrap_or_default(),
            });
        }
        let batch = read_batch(&mut tx, checkpoint.position, self.batch_size)
            .await
            .map_err(database)?;
        let Some(last) = batch.last().map(|event| event.position) else {
            // Commit: the first step creates the checkpoint row.
            tx.commit().await.map_err(database)?;
            return Ok(0);
        };
        let mut store = StateStore::stored(name, checkpoint.position, &batch);
        match projection.apply(&mut tx, &mut store, &batch).await {
            Ok(()) => {}
            Err(ProjectionError::Poison { position, message }) => {
                tx.rollback().await.map_err(database)?;
                tracing::error!(projection = name, position, %message, "projection stopped");
                checkpoint::stop(&self.pool, name, position, &message)
                    .await
                    .map_err(database)?;
                return Err(EngineError::Stopped {
                    projection: name.to_owned(),
                    position,
                    message,
                });
            }
            Err(ProjectionError::Database(source)) => {
                // The connection may be broken; its transaction ends with it.
                let _ = tx.rollback().await;
                return Err(database(source));
            }
        }
        checkpoint::advance(&mut tx, name, last, batch.len() as i64)
            .await
            .map_err(database)?;
        tx.commit().await.map_err(database)?;
        Ok(batch.len())
    }

    /// Applies batches to `projection` until it has caught up; returns how
    /// many events it applied.
    pub async fn catch_up(&self, projection: &dyn Projection) -> Result<u64, EngineError> {
        let mut applied = 0;
        loop {
            match self.step(projection).await? {
                0 => return Ok(applied),
                n => applied += n as u64,
            }
        }
    }

    /// Applies batches to `projection` until it has applied the event at
    /// `global_position`, waiting (up to `timeout`) for transactions still
    /// open before it to end: what a reader of its own write needs.
    pub async fn catch_up_to(
        &self,
        projection: &dyn Projection,
        global_position: i64,
        timeout: Duration,
    ) -> Result<u64, EngineError> {
        self.catch_up_to_reporting(projection, global_position, timeout, &|_| {})
            .await
    }

    /// [`Engine::catch_up_to`], calling `applied` with the running count of
    /// events applied after each batch.
    pub async fn catch_up_to_reporting(
        &self,
        projection: &dyn Projection,
        global_position: i64,
        timeout: Duration,
        applied_so_far: &(dyn Fn(u64) + Sync),
    ) -> Result<u64, EngineError> {
        let name = projection.name();
        let database = |source| EngineError::Database {
            projection: name.to_owned(),
            source,
        };
        let transaction_id: Option<String> = sqlx::query_scalar(
            "SELECT transaction_id::text FROM events WHERE global_position = $1",
        )
        .bind(global_position)
        .fetch_optional(&self.pool)
        .await
        .map_err(database)?;
        let target = Position {
            transaction_id: transaction_id.and_then(|t| t.parse().ok()).unwrap_or(0),
            global_position,
        };
        let started = std::time::Instant::now();
        let mut applied = 0;
        loop {
            match self.step(projection).await? {
                0 => {
                    let reached = checkpoint::get(&self.pool, name)
                        .await
                        .map_err(database)?
                        .is_some_and(|c| c.position >= target);
                    if reached {
                        return Ok(applied);
                    }
                    if started.elapsed() > timeout {
                        return Err(EngineError::Timeout {
                            projection: name.to_owned(),
                            position: global_position,
                            waited: timeout,
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                n => {
                    applied += n as u64;
                    applied_so_far(applied);
                }
            }
        }
    }

    /// Starts one worker per projection. Each first takes the projection's
    /// advisory lock on a connection of its own, so across every process only
    /// one worker moves a projection and a standby takes over when the
    /// holder's connection ends. Workers catch up when `wake` changes (the
    /// local command bus committed) or every [`POLL_INTERVAL`], and stop when
    /// `shutdown` turns true, after their current batch.
    pub fn spawn(
        &self,
        projections: Vec<Arc<dyn Projection>>,
        wake: watch::Receiver<i64>,
        shutdown: watch::Receiver<bool>,
    ) -> Vec<JoinHandle<()>> {
        projections
            .into_iter()
            .map(|projection| {
                let engine = self.clone();
                let wake = wake.clone();
                let shutdown = shutdown.clone();
                tokio::spawn(async move { engine.work(projection, wake, shutdown).await })
            })
            .collect()
    }

    async fn work(
        self,
        projection: Arc<dyn Projection>,
        mut wake: watch::Receiver<i64>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let name = projection.name();
        let Some(lock) = self.lock(name, &mut shutdown).await else {
            return;
        };
        tracing::info!(projection = name, "projection worker started");
        self.serve(projection.as_ref(), &mut wake, &mut shutdown)
            .await;
        // Release the lock before leaving, so a standby or a rebuild gets it at
        // once rather than when the server has cleaned up the session.
        let mut lock = lock;
        let _ = sqlx::query("SELECT pg_advisory_unlock(hashtext('foldline.projection.' || $1))")
            .bind(name)
            .execute(&mut lock)
            .await;
        let _ = lock.close().await;
        tracing::info!(projection = name, "projection worker stopped");
    }

    /// Catches up whenever woken, until shut down.
    async fn serve(
        &self,
        projection: &dyn Projection,
        wake: &mut watch::Receiver<i64>,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        loop {
            match self.catch_up(projection).await {
                Ok(_) => {}
                Err(EngineError::Stopped { .. }) => {
                    // Stays stopped until rebuilt; hold the lock until shutdown.
                    let _ = shutdown.wait_for(|stop| *stop).await;
                    return;
                }
                Err(error) => tracing::warn!(%error, "projection batch failed; retrying"),
            }
            tokio::select! {
                _ = wake.changed() => {}
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }

    /// Waits for the projection's advisory lock; `None` when shut down first.
    /// The lock lives as long as the returned connection.
    async fn lock(&self, name: &str, shutdown: &mut watch::Receiver<bool>) -> Option<PgConnection> {
        loop {
            if *shutdown.borrow() {
                return None;
            }
            match PgConnection::connect_with(&self.pool.connect_options()).await {
                Ok(mut conn) => loop {
                    let locked: Result<bool, _> = sqlx::query_scalar(
                        "SELECT pg_try_advisory_lock(hashtext('foldline.projection.' || $1))",
                    )
                    .bind(name)
                    .fetch_one(&mut conn)
                    .await;
                    match locked {
                        Ok(true) => return Some(conn),
                        Ok(false) => {}
                        Err(error) => {
                            tracing::warn!(%error, projection = name, "advisory lock failed");
                            break;
                        }
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(POLL_INTERVAL) => {}
                        _ = shutdown.wait_for(|stop| *stop) => return None,
                    }
                },
                Err(error) => {
                    tracing::warn!(%error, projection = name, "cannot connect for the lock")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
                _ = shutdown.wait_for(|stop| *stop) => return None,
            }
        }
    }
}
