//! The workflows as an organization's owners and admins see them: whether
//! each is on, how far it has read, its instances and commands, and a retry
//! of what the domain refused. Only the caller's organization's instances
//! and commands are counted, shown or retried. A workflow is switched on
//! and off by the organization's `enableWorkflow` / `disableWorkflow`.

use async_graphql::{Context, Enum, ErrorExtensions, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use foldline_aggregates::workflow_kind::WorkflowKind;
use foldline_workflows::{report, Dispatcher};
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;
use crate::request::Request;

/// One workflow in the caller's organization.
#[derive(Debug, Clone, SimpleObject)]
pub struct WorkflowStatus {
    /// Which workflow.
    pub workflow: WorkflowKind,
    /// Whether it is on, as far as it has read the feed.
    pub on: bool,
    /// The global position it has read the feed up to (all organizations').
    pub position: i64,
    /// Events committed that it has not read yet (all organizations').
    pub events_behind: i64,
    /// Instances it folds in the organization.
    pub instances: i64,
    /// Commands decided and not yet sent.
    pub pending: i64,
    /// Pending commands whose time to be sent has come.
    pub due: i64,
    /// Timers set and waiting for their time.
    pub timers: i64,
    /// Commands the domain refused, waiting for a retry.
    pub failed: i64,
    /// Commands sent.
    pub sent: i64,
}

/// What became of a workflow's command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum WorkflowCommandStatus {
    /// Decided, not yet sent (or to be tried again).
    Pending,
    /// Appended.
    Sent,
    /// Refused by the domain; waits for a retry.
    Failed,
    /// Not sent, and not to be: a timer replaced or no longer wanted, or a
    /// command the domain refused as no longer needed.
    Cancelled,
}

/// A command a workflow decided on.
#[derive(Debug, Clone, SimpleObject)]
pub struct WorkflowCommand {
    /// Its idempotency key: (workflow, instance, triggering event, n).
    pub key: String,
    /// The command's name.
    pub command_name: String,
    /// The aggregate type it goes to.
    pub aggregate_type: String,
    /// The aggregate it goes to.
    pub aggregate_id: Uuid,
    /// The command, as the bus takes it.
    pub command: Json<Value>,
    /// The id of the event that caused it (its events' `causationId`).
    pub caused_by: Uuid,
    /// The global position of that event, where known.
    pub caused_at: Option<i64>,
    /// The timer it waits under, when it is sent at a time
    /// (`nextAttemptAt`).
    pub timer: Option<String>,
    /// What became of it.
    pub status: WorkflowCommandStatus,
    /// Sends so far.
    pub attempts: i32,
    /// Why the last send failed.
    pub last_error: Option<String>,
    /// When it is next sent, if pending.
    pub next_attempt_at: DateTime<Utc>,
    /// The global position of its last event, once sent.
    pub sent_position: Option<i64>,
    /// When it was decided.
    pub created_at: DateTime<Utc>,
}

/// One instance of a workflow.
#[derive(Debug, Clone, SimpleObject)]
pub struct WorkflowInstance {
    /// Which workflow.
    pub workflow: WorkflowKind,
    /// What it is about (the task, the invoice…).
    pub instance_id: Uuid,
    /// The state it folded.
    pub state: Json<Value>,
    /// The global position of the last event it folded.
    pub last_position: i64,
    /// What it decided, oldest first.
    pub commands: Vec<WorkflowCommand>,
}

/// The workflow queries.
#[derive(Default)]
pub struct WorkflowQuery;

#[Object]
impl WorkflowQuery {
    /// Every workflow in the caller's organization (owners and admins).
    async fn workflows(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<WorkflowStatus>> {
        let run = async {
            let request = operator(ctx)?;
            let overviews =
                report::overview(&request.pool, Some(request.caller.organization_id)).await?;
            overviews
                .into_iter()
                .map(|o| {
                    Ok(WorkflowStatus {
                        workflow: kind_named(&o.lag.projection)?,
                        on: o.on,
                        position: o
                            .lag
                            .checkpoint
                            .as_ref()
                            .map_or(0, |c| c.position.global_position),
                        events_behind: o.lag.events_behind,
                        instances: o.instances,
                        pending: o.pending,
                        due: o.due,
                        timers: o.timers,
                        failed: o.failed,
                        sent: o.sent,
                    })
                })
                .collect::<Result<Vec<_>, ApiError>>()
        };
        run.await.map_err(|e: ApiError| e.extend())
    }

    /// One instance of a workflow in the caller's organization (owners and
    /// admins); null if it has none.
    async fn workflow_instance(
        &self,
        ctx: &Context<'_>,
        workflow: WorkflowKind,
        instance_id: Uuid,
    ) -> async_graphql::Result<Option<WorkflowInstance>> {
        let run = async {
            let request = operator(ctx)?;
            let found = report::instance(&request.pool, workflow.name(), instance_id).await?;
            // Another organization's instance is answered as none.
            let Some(found) = found.filter(|f| f.organization_id == request.caller.organization_id)
            else {
                return Ok(None);
            };
            Ok(Some(WorkflowInstance {
                workflow,
                instance_id,
                state: Json(found.state),
                last_position: found.last_position,
                commands: found.decisions.into_iter().map(command).collect(),
            }))
        };
        run.await.map_err(|e: ApiError| e.extend())
    }
}

/// The workflow mutations.
#[derive(Default)]
pub struct WorkflowMutation;

#[Object]
impl WorkflowMutation {
    /// Puts the commands a workflow had refused in the caller's organization
    /// (of one instance, if given) back to be sent now; gives how many.
    /// Owners and admins.
    async fn retry_workflow_commands(
        &self,
        ctx: &Context<'_>,
        workflow: WorkflowKind,
        instance_id: Option<Uuid>,
    ) -> async_graphql::Result<i64> {
        let run = async {
            let request = operator(ctx)?;
            let retried = Dispatcher::new(request.pool.clone(), request.bus.clone())
                .retry(
                    workflow.name(),
                    instance_id,
                    Some(request.caller.organization_id),
                )
                .await?;
            Ok(retried as i64)
        };
        run.await.map_err(|e: ApiError| e.extend())
    }
}

fn command(d: report::Decision) -> WorkflowCommand {
    WorkflowCommand {
        key: d.key,
        command_name: d.command_name,
        aggregate_type: d.aggregate_type,
        aggregate_id: d.aggregate_id,
        command: Json(d.command),
        caused_by: d.caused_by,
        caused_at: d.caused_at,
        timer: d.timer,
        status: match d.status.as_str() {
            "sent" => WorkflowCommandStatus::Sent,
            "failed" => WorkflowCommandStatus::Failed,
            "cancelled" => WorkflowCommandStatus::Cancelled,
            _ => WorkflowCommandStatus::Pending,
        },
        attempts: d.attempts,
        last_error: d.last_error,
        next_attempt_at: d.next_attempt_at,
        sent_position: d.sent_position,
        created_at: d.created_at,
    }
}

/// The workflow the engine runs under `name`.
fn kind_named(name: &str) -> Result<WorkflowKind, ApiError> {
    foldline_aggregates::stored_name::parse(name)
        .map_err(|_| ApiError::Internal(format!("no workflow kind for `{name}`")))
}

/// The request, if its caller is an owner or an admin of the organization.
fn operator<'a>(ctx: &'a Context<'_>) -> Result<&'a Request, ApiError> {
    Request::of_operator(ctx, "see and retry workflows")
}
