//! Advance approval routing (seeds 001/003): a submitted production advance
//! waits for approvals in tier order; each member holding the capability
//! the next step needs gets a task "approve advance X". When the step is
//! given (or the advance leaves approval: approved, rejected, cancelled)
//! the step's tasks close, and the next step's open.
//!
//! Closing is sent "unless done": a task its assignee already completed or
//! deleted is not a failure.

use cqrs_es::Aggregate;
use foldline_aggregates::access::Capability;
use foldline_aggregates::production_advance::{AdvanceStatus, ProductionAdvance};
use foldline_aggregates::task::TaskCommand;
use foldline_aggregates::workflow_kind::WorkflowKind;
use foldline_projectors::StoredEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::workflow::{fold, Context, Intent, Reaction, Workflow};

/// The workflow.
pub struct AdvanceApproval;

/// What it remembers of an advance.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Routing {
    /// The advance, folded.
    pub advance: ProductionAdvance,
    /// The tasks open for the step waiting, by id.
    pub open_tasks: Vec<Uuid>,
}

/// The step an advance waits for: how many approvals it has, and whose it
/// needs next.
fn step(advance: &ProductionAdvance) -> Option<(usize, Capability)> {
    if advance.status != AdvanceStatus::PendingApproval {
        return None;
    }
    Some((advance.approvals.len(), advance.awaiting_capability()?))
}

impl Workflow for AdvanceApproval {
    const KIND: WorkflowKind = WorkflowKind::AdvanceApproval;
    const ROOT: &'static str = ProductionAdvance::TYPE;
    const READS_ORGANIZATIONS: bool = true;
    type State = Routing;

    fn react(
        &self,
        routing: &mut Routing,
        event: &StoredEvent,
        context: &Context,
    ) -> Result<Reaction, String> {
        let before = step(&routing.advance);
        fold(&mut routing.advance, event)?;
        let after = step(&routing.advance);
        if before == after {
            return Ok(Reaction::none());
        }
        let mut send: Vec<Intent> = routing
            .open_tasks
            .drain(..)
            .map(|task| Intent::now(task, TaskCommand::CompleteTask).unless_done())
            .collect();
        if let Some((_, capability)) = after {
            let advance = &routing.advance;
            for member in context.members_with(event.organization_id, capability) {
                let task = Intent::derived_id(event, &format!("approval task for {member}"));
                routing.open_tasks.push(task);
                send.push(Intent::now(
                    task,
                    TaskCommand::CreateTask {
                        title: format!(
                            "Approve advance {} as {}",
                            advance.code,
                            capability.as_str().replace('_', " ")
                        ),
                        description: None,
                        event_id: advance.event_id,
                        project: None,
                        assignee: Some(member),
                        due_at: advance.due_date,
                        priority: advance.priority,
                        visibility: advance.visibility,
                    },
                ));
            }
        }
        Ok(Reaction::send(send))
    }
}
