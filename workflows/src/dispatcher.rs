//! Sends the commands the workflows decided on through the command bus.
//!
//! Each is sent under its key as the bus's idempotency key, as the
//! workflow's system actor, caused by the triggering event and in its
//! request's correlation. Sending is at least once (a dispatcher may stop
//! after the command committed and before it marked it sent, and two may
//! send the same row), and the key makes the effect exactly once: the bus
//! answers a repeat with what the first appended.
//!
//! No transaction is held while a command is sent: an open transaction
//! would hold back every reader of the feed.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;

use foldline_aggregates::command::Command;
use foldline_aggregates::metadata::{RequestContext, Source};
use foldline_aggregates::workflow_kind::WorkflowKind;
use foldline_aggregates::{BusError, CommandBus};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::backoff::backoff;

/// The channel a workflow's batch notifies, on commit, when it decided a
/// command to send now.
pub const DECIDED: &str = "foldline_workflow_commands";
/// How often an idle dispatcher that hears [`DECIDED`] looks for commands
/// anyway: for timers coming due.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How often one that cannot listen (the database restarting) looks.
const DEAF_POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Commands sent per look.
const BATCH: i64 = 100;
/// Aggregates sent to at once.
const SENDING: usize = 8;
/// Sends of one command that lost a race for its aggregate, at once,
/// before it is deferred.
const CONFLICT_TRIES: u32 = 3;
/// The first wait before a command that failed for a transient reason is
/// tried again, and the longest.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// A command a workflow decided on, waiting to be sent.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Pending {
    /// Its idempotency key.
    pub key: String,
    /// The workflow that decided it.
    pub workflow: String,
    /// The organization it acts in.
    pub organization_id: Uuid,
    /// The aggregate it goes to.
    pub aggregate_id: Uuid,
    /// The command.
    pub command: sqlx::types::Json<Command>,
    /// The event that caused it.
    pub caused_by: Uuid,
    /// The request that event belonged to.
    pub correlation_id: Uuid,
    /// Sends so far.
    pub attempts: i32,
    /// Whether a refusal means only that it is no longer needed.
    pub unless_done: bool,
}

/// What became of one send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The command was appended (now or, under its key, before).
    Appended,
    /// The domain refused it (a rule, a permission): the row is failed, with
    /// the reason, until retried.
    Refused,
    /// A transient failure: tried again later.
    Deferred,
    /// The domain refused a command that was to be sent only if still
    /// needed: the row is cancelled, with the reason.
    NotNeeded,
}

/// Sends pending workflow commands.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    pool: PgPool,
    bus: CommandBus,
}

impl Dispatcher {
    /// A dispatcher reading `pool` and sending through `bus`.
    pub fn new(pool: PgPool, bus: CommandBus) -> Self {
        Dispatcher { pool, bus }
    }

    /// Sends what is due now; gives how many rows it looked at.
    ///
    /// A command waits while an earlier one to the same aggregate is still
    /// pending (not a timer, which waits for its own time): one aggregate's
    /// commands go in the order they were decided, different aggregates'
    /// side by side.
    pub async fn dispatch_due(&self) -> Result<usize, sqlx::Error> {
        let due: Vec<Pending> = sqlx::query_as(
            "SELECT key, workflow, organization_id, aggregate_id, command, caused_by,
                    correlation_id, attempts, unless_done
             FROM workflow_commands c
             WHERE status = 'pending' AND next_attempt_at <= now()
               AND NOT EXISTS (
                   SELECT FROM workflow_commands earlier
                   WHERE earlier.aggregate_id = c.aggregate_id AND earlier.status = 'pending'
                     AND earlier.seq < c.seq
                     AND (earlier.timer IS NULL OR earlier.next_attempt_at <= now()))
             ORDER BY next_attempt_at, seq
             LIMIT $1",
        )
        .bind(BATCH)
        .fetch_all(&self.pool)
        .await?;
        let looked = due.len();
        let mut by_aggregate: Vec<Vec<Pending>> = Vec::new();
        let mut index: HashMap<Uuid, usize> = HashMap::new();
        for pending in due {
            let at = *index.entry(pending.aggregate_id).or_insert_with(|| {
                by_aggregate.push(Vec::new());
                by_aggregate.len() - 1
            });
            by_aggregate[at].push(pending);
        }
        let sent: Vec<Result<(), sqlx::Error>> = futures::stream::iter(by_aggregate)
            .map(|commands| async move {
                for pending in &commands {
                    // One that must wait holds back the ones after it.
                    if self.send(pending).await? == Sent::Deferred {
                        break;
                    }
                }
                Ok(())
            })
            .buffer_unordered(SENDING)
            .collect()
            .await;
        sent.into_iter().collect::<Result<(), _>>()?;
        Ok(looked)
    }

    /// Sends one command and records what became of it.
    pub async fn send(&self, pending: &Pending) -> Result<Sent, sqlx::Error> {
        let Some(kind) = kind_named(&pending.workflow) else {
            self.refuse(pending, "no such workflow").await?;
            return Ok(Sent::Refused);
        };
        let request = RequestContext::new(
            pending.organization_id,
            kind.actor_id(pending.organization_id),
            Source::Workflow,
        )
        .with_correlation_id(pending.correlation_id)
        .caused_by(pending.caused_by)
        .with_request_id(pending.key.clone())
        .with_idempotency_key(pending.key.clone());
        // A workflow's command names no version: one that lost a race to
        // another command on its aggregate is decided again at once on the
        // new state, a few times, before it is deferred.
        let mut tries = 0;
        let result = loop {
            let result = self
                .bus
                .dispatch(
                    &request,
                    pending.aggregate_id,
                    pending.command.0.clone(),
                    None,
                )
                .await;
            tries += 1;
            match result {
                Err(BusError::Conflict { .. }) if tries < CONFLICT_TRIES => continue,
                result => break result,
            }
        };
        match result {
            Ok(outcome) => {
                sqlx::query(
                    "UPDATE workflow_commands
                     SET status = 'sent', attempts = attempts + 1, sent_position = $2,
                         sent_at = now(), last_error = NULL
                     WHERE key = $1",
                )
                .bind(&pending.key)
                .bind(outcome.global_position)
                .execute(&self.pool)
                .await?;
                metrics::counter!("foldline_workflow_commands_total", "workflow" => kind.name(), "outcome" => "sent").increment(1);
                Ok(Sent::Appended)
            }
            Err(error) if transient(&error) => {
                let wait = backoff(FIRST_BACKOFF, pending.attempts, MAX_BACKOFF);
                tracing::warn!(key = %pending.key, %error, ?wait, "workflow command deferred");
                sqlx::query(
                    "UPDATE workflow_commands
                     SET attempts = attempts + 1, last_error = $2,
                         next_attempt_at = now() + $3 * interval '1 millisecond'
                     WHERE key = $1",
                )
                .bind(&pending.key)
                .bind(error.to_string())
                .bind(wait.as_millis() as f64)
                .execute(&self.pool)
                .await?;
                metrics::counter!("foldline_workflow_commands_total", "workflow" => kind.name(), "outcome" => "deferred").increment(1);
                Ok(Sent::Deferred)
            }
            Err(BusError::Domain(error)) if pending.unless_done => {
                sqlx::query(
                    "UPDATE workflow_commands
                     SET status = 'cancelled', attempts = attempts + 1, last_error = $2
                     WHERE key = $1",
                )
                .bind(&pending.key)
                .bind(format!("no longer needed: {error}"))
                .execute(&self.pool)
                .await?;
                metrics::counter!("foldline_workflow_commands_total", "workflow" => kind.name(), "outcome" => "not needed").increment(1);
                Ok(Sent::NotNeeded)
            }
            Err(error) => {
                tracing::warn!(key = %pending.key, %error, "workflow command refused");
                self.refuse(pending, &error.to_string()).await?;
                metrics::counter!("foldline_workflow_commands_total", "workflow" => kind.name(), "outcome" => "refused").increment(1);
                Ok(Sent::Refused)
            }
        }
    }

    /// Marks a command failed, with why.
    async fn refuse(&self, pending: &Pending, reason: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE workflow_commands
             SET status = 'failed', attempts = attempts + 1, last_error = $2
             WHERE key = $1",
        )
        .bind(&pending.key)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Puts failed commands of `workflow` back to be sent now: those of one
    /// instance, or of one organization, if given; gives how many.
    pub async fn retry(
        &self,
        workflow: &str,
        instance: Option<Uuid>,
        organization: Option<Uuid>,
    ) -> Result<u64, sqlx::Error> {
        let retried = sqlx::query(
            "UPDATE workflow_commands
             SET status = 'pending', next_attempt_at = now()
             WHERE workflow = $1 AND status = 'failed'
               AND ($2::uuid IS NULL OR instance_id = $2)
               AND ($3::uuid IS NULL OR organization_id = $3)",
        )
        .bind(workflow)
        .bind(instance)
        .bind(organization)
        .execute(&self.pool)
        .await?;
        Ok(retried.rows_affected())
    }

    /// Runs the dispatcher until `shutdown` says stop: it sends what is due,
    /// then waits until a workflow decides something ([`DECIDED`]) or
    /// [`POLL_INTERVAL`] passes. A failed look (the database restarting) is
    /// logged and tried again; while it cannot listen it looks more often.
    pub fn spawn(self, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut listener: Option<PgListener> = None;
            loop {
                if *shutdown.borrow() {
                    return;
                }
                if listener.is_none() {
                    listener = self.listen().await;
                }
                let wait = match self.dispatch_due().await {
                    Ok(n) if n as i64 == BATCH => Duration::ZERO,
                    Ok(_) if listener.is_some() => POLL_INTERVAL,
                    Ok(_) => DEAF_POLL_INTERVAL,
                    Err(error) => {
                        tracing::warn!(%error, "workflow dispatcher could not look for commands");
                        Duration::from_secs(1)
                    }
                };
                let heard = async {
                    match listener.as_mut() {
                        Some(l) => l.try_recv().await.map(|_| ()),
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    result = heard => {
                        if let Err(error) = result {
                            tracing::warn!(%error, "workflow dispatcher stopped listening");
                            listener = None;
                        }
                    }
                    _ = shutdown.changed() => {}
                }
            }
        })
    }

    /// A listener on [`DECIDED`], if the database takes one.
    async fn listen(&self) -> Option<PgListener> {
        let mut listener = PgListener::connect_with(&self.pool).await.ok()?;
        listener.listen(DECIDED).await.ok()?;
        Some(listener)
    }
}

/// The workflow named `name`.
fn kind_named(name: &str) -> Option<WorkflowKind> {
    foldline_aggregates::stored_name::parse(name).ok()
}

/// Whether a failed send may succeed if tried again: the store failed, or
/// another command appended to the aggregate first.
fn transient(error: &BusError) -> bool {
    matches!(error, BusError::Store(_) | BusError::Conflict { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflows_are_found_by_their_stored_names() {
        let kind = WorkflowKind::TaskTimeline;
        assert_eq!(kind_named(kind.name()), Some(kind));
        assert_eq!(kind_named("nope"), None);
    }
}
