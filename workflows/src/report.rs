//! What an operator sees of the workflows (`foldline workflows`): how far
//! each has read the feed, its instances, and what it sent and why.

use chrono::{DateTime, Utc};
use foldline_projectors::checkpoint::{self, Lag};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

/// One workflow at a glance, in one organization or in all.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Its checkpoint and how far behind the feed it is.
    pub lag: Lag,
    /// Whether it is on, as it has read the feed (in the organization
    /// asked about; in any, when asked about all).
    pub on: bool,
    /// Instances it folds.
    pub instances: i64,
    /// Commands decided and not yet sent.
    pub pending: i64,
    /// Pending commands whose time to be sent has come.
    pub due: i64,
    /// Timers set and waiting for their time.
    pub timers: i64,
    /// Commands refused, waiting for a retry.
    pub failed: i64,
    /// Commands sent.
    pub sent: i64,
}

/// Each workflow at a glance, in `organization` or, without one, in all.
pub async fn overview(
    pool: &PgPool,
    organization: Option<Uuid>,
) -> Result<Vec<Overview>, sqlx::Error> {
    let workflows = crate::all();
    let names: Vec<&str> = workflows.iter().map(|w| w.name()).collect();
    let mut overviews = Vec::with_capacity(names.len());
    for lag in checkpoint::lags(pool, &names).await? {
        let (on, instances, pending, due, timers, failed, sent): (
            bool,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
        ) = sqlx::query_as(
            "SELECT EXISTS (SELECT FROM workflow_switches
                                WHERE workflow = $1 AND ($2::uuid IS NULL OR organization_id = $2)),
                        (SELECT count(*) FROM workflow_instances
                         WHERE workflow = $1 AND ($2::uuid IS NULL OR organization_id = $2)),
                        count(*) FILTER (WHERE status = 'pending'),
                        count(*) FILTER (WHERE status = 'pending' AND next_attempt_at <= now()),
                        count(*) FILTER (WHERE status = 'pending' AND timer IS NOT NULL
                                           AND next_attempt_at > now()),
                        count(*) FILTER (WHERE status = 'failed'),
                        count(*) FILTER (WHERE status = 'sent')
                 FROM workflow_commands
                 WHERE workflow = $1 AND ($2::uuid IS NULL OR organization_id = $2)",
        )
        .bind(&lag.projection)
        .bind(organization)
        .fetch_one(pool)
        .await?;
        overviews.push(Overview {
            lag,
            on,
            instances,
            pending,
            due,
            timers,
            failed,
            sent,
        });
    }
    Ok(overviews)
}

/// A command a workflow decided on, and what became of it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Decision {
    /// Its idempotency key.
    pub key: String,
    /// The command's name.
    pub command_name: String,
    /// The aggregate type it goes to.
    pub aggregate_type: String,
    /// The aggregate it goes to.
    pub aggregate_id: Uuid,
    /// The command.
    pub command: Value,
    /// The event that caused it.
    pub caused_by: Uuid,
    /// That event's feed position, if known.
    pub caused_at: Option<i64>,
    /// The timer it waits under, if it is sent at a time.
    pub timer: Option<String>,
    /// `pending`, `sent`, `failed` or `cancelled`.
    pub status: String,
    /// Sends so far.
    pub attempts: i32,
    /// Why the last send failed.
    pub last_error: Option<String>,
    /// When it is next sent, if pending.
    pub next_attempt_at: DateTime<Utc>,
    /// The position of its last event, once sent.
    pub sent_position: Option<i64>,
    /// When it was decided.
    pub created_at: DateTime<Utc>,
}

/// One instance of a workflow: its state and its decisions.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Its organization.
    pub organization_id: Uuid,
    /// The state it folded.
    pub state: Value,
    /// The position of the last event it folded.
    pub last_position: i64,
    /// What it decided, oldest first.
    pub decisions: Vec<Decision>,
}

/// The instance `instance_id` of `workflow`, if it has one.
pub async fn instance(
    pool: &PgPool,
    workflow: &str,
    instance_id: Uuid,
) -> Result<Option<Instance>, sqlx::Error> {
    let Some((organization_id, state, last_position)) = sqlx::query_as::<_, (Uuid, Value, i64)>(
        "SELECT organization_id, state, last_position FROM workflow_instances
             WHERE workflow = $1 AND instance_id = $2",
    )
    .bind(workflow)
    .bind(instance_id)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let decisions = sqlx::query_as(
        "SELECT key, command_name, aggregate_type, aggregate_id, command, caused_by, caused_at,
                timer, status,
                attempts, last_error, next_attempt_at, sent_position, created_at
         FROM workflow_commands WHERE workflow = $1 AND instance_id = $2
         ORDER BY created_at, key",
    )
    .bind(workflow)
    .bind(instance_id)
    .fetch_all(pool)
    .await?;
    Ok(Some(Instance {
        organization_id,
        state,
        last_position,
        decisions,
    }))
}
