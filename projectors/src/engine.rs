//! The projection engine: applies the feed to each projection a batch at a
//! time, the batch's rows and the checkpoint in one transaction.
//!
//! # One worker per projection
//!
//! A worker leads its projection while it holds the projection's session
//! advisory lock, and it applies every batch on the very session that holds
//! the lock. A session cannot lose its lock and live on: when the database
//! restarts, or ends the session, the batch's statements fail on the dead
//! connection and nothing commits, so a batch that commits was applied by
//! the leader. The worker then stands by and takes the lock again like any
//! other standby.
//!
//! A leader that hangs rather than dies (a paused process, a partition)
//! keeps its connection open, and with it the lock. Its session therefore
//! runs with `idle_session_timeout` and `idle_in_transaction_session_timeout`
//! set to [`LEASE`]: a live worker sends a statement at least every
//! [`POLL_INTERVAL`], so only a stuck one goes quiet that long, and then
//! PostgreSQL ends its session, which frees the lock for a standby within
//! `LEASE + POLL_INTERVAL`. These are server-side timers, so they hold when
//! the client's kernel still answers TCP keepalives for a paused process.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
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
/// How often an idle worker looks for events appended by other processes;
/// each look is also the leader's heartbeat.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How long a leader's session may stay quiet before PostgreSQL ends it and
/// a standby takes over.
pub const LEASE: Duration = Duration::from_secs(3);
/// The longest a worker waits before trying again after losing its session.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// The longest a worker's statement waits for a lock (a rebuild swapping a
/// table in): it then gives the batch up and tries again.
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest one of a worker's statements may run.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(120);

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
    batches: Arc<Mutex<BTreeMap<&'static str, u64>>>,
}

/// How a worker's term as leader ended.
enum Term {
    /// The service is stopping.
    Shutdown,
    /// Its session failed or ended: it no longer leads.
    Lost(EngineError),
}

impl Engine {
    /// An engine over `pool`, with batches of [`DEFAULT_BATCH_SIZE`] events.
    pub fn new(pool: PgPool) -> Self {
        Engine {
            pool,
            batch_size: DEFAULT_BATCH_SIZE,
            batches: Arc::default(),
        }
    }

    /// The same engine with batches of `events`.
    pub fn with_batch_size(mut self, events: i64) -> Self {
        self.batch_size = events.max(1);
        self
    }

    /// How many batches this engine (and its clones) has committed to
    /// `projection`.
    pub fn batches_committed(&self, projection: &str) -> u64 {
        let batches = self.batches.lock().unwrap_or_else(|p| p.into_inner());
        batches.get(projection).copied().unwrap_or(0)
    }

    /// Applies the next batch to `projection` on a pooled connection;
    /// returns how many events it applied (0 when the projection has caught
    /// up). Safe beside a live worker: the checkpoint row is locked for the
    /// batch, so the two apply batches one after the other.
    pub async fn step(&self, projection: &dyn Projection) -> Result<usize, EngineError> {
        let mut conn = self.pooled(projection).await?;
        self.step_on(&mut conn, projection).await
    }

    /// A pooled connection, for one-off steps outside a worker.
    async fn pooled(
        &self,
        projection: &dyn Projection,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, EngineError> {
        self.pool
            .acquire()
            .await
            .map_err(|source| EngineError::Database {
                projection: projection.name().to_owned(),
                source,
            })
    }

    /// Applies the next batch to `projection` on `conn`. When the batch
    /// breaks a rule of the database (a value too large for an index, a
    /// constraint), it is applied again one event at a time, so that the
    /// projection stops at the very event it cannot apply.
    async fn step_on(
        &self,
        conn: &mut PgConnection,
        projection: &dyn Projection,
    ) -> Result<usize, EngineError> {
        match self.apply_next(conn, projection, self.batch_size).await {
            Err(Failure::Unappliable { events, .. }) if events > 1 => {
                let mut applied = 0;
                for _ in 0..events {
                    match self.apply_next(conn, projection, 1).await {
                        Ok(0) => break,
                        Ok(n) => applied += n,
                        Err(failure) => return Err(self.fail(conn, projection, failure).await),
                    }
                }
                Ok(applied)
            }
            Err(failure) => Err(self.fail(conn, projection, failure).await),
            Ok(applied) => Ok(applied),
        }
    }

    /// Turns a failed batch into the engine's error, stopping the projection
    /// at an event it cannot apply.
    async fn fail(
        &self,
        conn: &mut PgConnection,
        projection: &dyn Projection,
        failure: Failure,
    ) -> EngineError {
        let name = projection.name();
        let (position, message) = match failure {
            Failure::Engine(error) => return error,
            Failure::Unappliable {
                position, message, ..
            } => (position, message),
        };
        tracing::error!(projection = name, position, %message, "projection stopped");
        failed(name, "stopped");
        if let Err(source) = checkpoint::stop(conn, name, position, &message).await {
            return EngineError::Database {
                projection: name.to_owned(),
                source,
            };
        }
        EngineError::Stopped {
            projection: name.to_owned(),
            position,
            message,
        }
    }

    /// Reads up to `limit` events after the checkpoint and applies them, with
    /// the checkpoint, in one transaction on `conn`.
    async fn apply_next(
        &self,
        conn: &mut PgConnection,
        projection: &dyn Projection,
        limit: i64,
    ) -> Result<usize, Failure> {
        let name = projection.name();
        let database = |source| {
            Failure::Engine(EngineError::Database {
                projection: name.to_owned(),
                source,
            })
        };
        let mut tx = conn.begin().await.map_err(database)?;
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
            return Err(Failure::Engine(EngineError::Stopped {
                projection: name.to_owned(),
                position: checkpoint.error_position.unwrap_or_default(),
                message: checkpoint.error.unwrap_or_default(),
            }));
        }
        let batch = read_batch(&mut tx, checkpoint.position, limit)
            .await
            .map_err(database)?;
        let Some(last) = batch.last().map(|event| event.position) else {
            // Commit: the first step creates the checkpoint row.
            tx.commit().await.map_err(database)?;
            return Ok(0);
        };
        let mut store = StateStore::stored(name, checkpoint.position, &batch);
        let applied = match projection.apply(&mut tx, &mut store, &batch).await {
            Ok(()) => checkpoint::advance(&mut tx, name, last, batch.len() as i64).await,
            Err(ProjectionError::Poison { position, message }) => {
                tx.rollback().await.map_err(database)?;
                return Err(Failure::Unappliable {
                    events: 1,
                    position,
                    message,
                });
            }
            Err(ProjectionError::Database(source)) => Err(source),
        };
        let committed = match applied {
            Ok(()) => tx.commit().await,
            Err(source) => Err(source),
        };
        match committed {
            Ok(()) => {
                let mut batches = self.batches.lock().unwrap_or_else(|p| p.into_inner());
                *batches.entry(name).or_default() += 1;
                metrics::counter!("foldline_projection_events_total", "projection" => name)
                    .increment(batch.len() as u64);
                metrics::gauge!("foldline_projection_position", "projection" => name)
                    .set(last.global_position as f64);
                Ok(batch.len())
            }
            Err(source) if breaks_a_rule(&source) => Err(Failure::Unappliable {
                events: batch.len(),
                position: batch[0].position.global_position,
                message: source.to_string(),
            }),
            // The connection may be broken; its transaction ends with it.
            Err(source) => Err(database(source)),
        }
    }

    /// Applies batches to `projection` until it has caught up; returns how
    /// many events it applied.
    pub async fn catch_up(&self, projection: &dyn Projection) -> Result<u64, EngineError> {
        let mut conn = self.pooled(projection).await?;
        self.catch_up_on(&mut conn, projection).await
    }

    async fn catch_up_on(
        &self,
        conn: &mut PgConnection,
        projection: &dyn Projection,
    ) -> Result<u64, EngineError> {
        let mut applied = 0;
        loop {
            match self.step_on(conn, projection).await? {
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

    /// Starts one worker per projection. A worker leads its projection while
    /// it holds the projection's advisory lock, and applies its batches on
    /// the session that holds it (see the module's documentation); across
    /// every process one worker moves a projection, and a standby takes over
    /// when the leader's session ends or goes quiet for [`LEASE`]. Workers
    /// catch up when `wake` changes (the local command bus committed) or
    /// every [`POLL_INTERVAL`], and stop when `shutdown` turns true, after
    /// their current batch. A worker that panics is started again.
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
                tokio::spawn(engine.supervise(projection, wake.clone(), shutdown.clone()))
            })
            .collect()
    }

    /// Runs a worker, and runs it again when it panics.
    async fn supervise(
        self,
        projection: Arc<dyn Projection>,
        wake: watch::Receiver<i64>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let name = projection.name();
        loop {
            let worker = tokio::spawn(self.clone().work(
                projection.clone(),
                wake.clone(),
                shutdown.clone(),
            ));
            match worker.await {
                Ok(()) => return,
                Err(error) if error.is_panic() => {
                    // Its session, and so its lock, ended with the task.
                    tracing::error!(
                        projection = name,
                        "projection worker panicked; restarting it"
                    );
                    failed(name, "panic");
                }
                Err(_) => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }

    /// Stands by for the lock, leads while it holds it, and stands by again
    /// when it loses it, until shut down.
    async fn work(
        self,
        projection: Arc<dyn Projection>,
        mut wake: watch::Receiver<i64>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let name = projection.name();
        let mut failures = 0u32;
        loop {
            let Some(mut lead) = self.lock(name, &mut shutdown).await else {
                return;
            };
            tracing::info!(projection = name, "projection worker leads");
            let leads = metrics::gauge!("foldline_projection_leader", "projection" => name);
            leads.set(1.0);
            let began = std::time::Instant::now();
            let term = self
                .lead(projection.as_ref(), &mut lead, &mut wake, &mut shutdown)
                .await;
            leads.set(0.0);
            match term {
                Term::Shutdown => {
                    // Release the lock before leaving, so a standby or a
                    // rebuild gets it at once rather than when the server has
                    // cleaned up the session.
                    let _ = sqlx::query(
                        "SELECT pg_advisory_unlock(hashtext('foldline.projection.' || $1))",
                    )
                    .bind(name)
                    .execute(&mut lead)
                    .await;
                    let _ = lead.close().await;
                    tracing::info!(projection = name, "projection worker stopped");
                    return;
                }
                Term::Lost(error) => {
                    // Closing the connection ends the session, and with it
                    // the lock, if the session is still there.
                    let _ = lead.close().await;
                    // Failures in a row back off; a long term starts afresh.
                    if began.elapsed() > MAX_BACKOFF {
                        failures = 0;
                    }
                    failures += 1;
                    let backoff = backoff(failures);
                    failed(name, "session_lost");
                    tracing::warn!(
                        projection = name,
                        %error,
                        ?backoff,
                        "projection worker lost its session; standing by"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.wait_for(|stop| *stop) => return,
                    }
                }
            }
        }
    }

    /// Catches up whenever woken, on the lock's session, until shut down or
    /// the session fails.
    async fn lead(
        &self,
        projection: &dyn Projection,
        lead: &mut PgConnection,
        wake: &mut watch::Receiver<i64>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Term {
        loop {
            match self.catch_up_on(lead, projection).await {
                // A stopped projection is looked at again at every poll, which
                // also keeps the lease: a rebuild or `projections resume`
                // sets it going.
                Ok(_) | Err(EngineError::Stopped { .. }) => {}
                Err(error) => return Term::Lost(error),
            }
            tokio::select! {
                _ = wake.changed() => {}
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
                _ = shutdown.wait_for(|stop| *stop) => return Term::Shutdown,
            }
        }
    }

    /// Waits for the projection's advisory lock; `None` when shut down first.
    /// The lock lives as long as the returned connection, whose session is
    /// ended by PostgreSQL when it goes quiet for [`LEASE`].
    async fn lock(&self, name: &str, shutdown: &mut watch::Receiver<bool>) -> Option<PgConnection> {
        loop {
            if *shutdown.borrow() {
                return None;
            }
            match self.leader_session().await {
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

    /// A connection of its own for a worker, whose session PostgreSQL ends
    /// when it stays quiet for [`LEASE`] (`idle_session_timeout` needs
    /// PostgreSQL 14; on older servers only a quiet open transaction ends
    /// it).
    async fn leader_session(&self) -> Result<PgConnection, sqlx::Error> {
        let mut conn = PgConnection::connect_with(&self.pool.connect_options()).await?;
        sqlx::query(
            "SELECT set_config('idle_in_transaction_session_timeout', $1, false),
                    set_config('lock_timeout', $2, false),
                    set_config('statement_timeout', $3, false),
                    CASE WHEN current_setting('server_version_num')::int >= 140000
                         THEN set_config('idle_session_timeout', $1, false) END",
        )
        .bind(LEASE.as_millis().to_string())
        .bind(LOCK_TIMEOUT.as_millis().to_string())
        .bind(STATEMENT_TIMEOUT.as_millis().to_string())
        .execute(&mut conn)
        .await?;
        Ok(conn)
    }
}

/// Why a batch was not applied.
enum Failure {
    /// Its events break a rule of the database, which no retry mends.
    Unappliable {
        /// How many events the batch held.
        events: usize,
        /// The first event's position (the event's, for a batch of one).
        position: i64,
        /// Why.
        message: String,
    },
    /// Anything else.
    Engine(EngineError),
}

/// Whether the database refused the batch for what it holds (a value out of
/// range or too large, a broken constraint) rather than for the state it
/// was in: applying it again would fail the same way.
fn breaks_a_rule(error: &sqlx::Error) -> bool {
    let Some(code) = error.as_database_error().and_then(|e| e.code()) else {
        return false;
    };
    // 22: data exception; 23: integrity constraint violation; 54: program
    // limit exceeded (an index row over its maximum size).
    ["22", "23", "54"]
        .iter()
        .any(|class| code.starts_with(class))
}

/// Counts a failure of `projection`'s worker: `stopped` at an event,
/// `session_lost`, or `panic`.
fn failed(projection: &'static str, kind: &'static str) {
    metrics::counter!("foldline_projection_failures_total", "projection" => projection, "kind" => kind)
        .increment(1);
}

/// How long to wait after `failures` lost sessions in a row: doubling from
/// [`POLL_INTERVAL`] up to [`MAX_BACKOFF`].
fn backoff(failures: u32) -> Duration {
    POLL_INTERVAL
        .saturating_mul(1 << failures.saturating_sub(1).min(5))
        .min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        assert_eq!(backoff(1), POLL_INTERVAL);
        assert_eq!(backoff(2), POLL_INTERVAL * 2);
        assert_eq!(backoff(3), POLL_INTERVAL * 4);
        assert_eq!(backoff(40), MAX_BACKOFF);
    }
}
