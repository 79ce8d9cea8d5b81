//! Foldline's workflows: the seeds' business processes, run by themselves.
//!
//! A workflow is a process manager. It reads the event feed as a projection
//! does, run by the same engine (gap-safe feed order, one worker under an
//! advisory lock with standbys), and folds a state per instance (a task, an
//! invoice…). What it decides to do are commands, written as rows of
//! `workflow_commands` in the transaction that commits its state and its
//! checkpoint ([`runner`]); the [`dispatcher`] then sends each through the
//! command bus under an idempotency key derived from the workflow, the
//! instance and the triggering event, which the bus records with the
//! command's events. So a crash anywhere neither loses a command (it is
//! decided again, or still waiting to be sent) nor repeats one (the bus
//! answers a second send with what the first appended).
//!
//! Replaying the projections does not run the workflows again: they are not
//! projections of the replay (`foldline_projectors::all`), and write no
//! table a rebuild replaces.

use std::sync::Arc;

use foldline_projectors::projection::Projection;

pub mod advance_approval;
pub mod advance_completion;
mod backoff;
pub mod contract_signed;
pub mod dispatcher;
pub mod document_renewal;
pub mod invoice_follow_up;
pub mod invoice_reminders;
pub mod report;
pub mod runner;
pub mod task_timeline;
pub mod webhooks;
pub mod workflow;

pub use dispatcher::Dispatcher;
pub use workflow::{Intent, Reaction, Timer, Workflow};

/// Every workflow, as the engine runs it.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(runner::Runner(task_timeline::TaskTimeline)),
        Arc::new(runner::Runner(invoice_reminders::InvoiceReminders)),
        Arc::new(runner::Runner(invoice_follow_up::InvoiceFollowUp)),
        Arc::new(runner::Runner(document_renewal::DocumentRenewal)),
        Arc::new(runner::Runner(advance_completion::AdvanceCompletion)),
        Arc::new(runner::Runner(advance_approval::AdvanceApproval)),
        Arc::new(runner::Runner(contract_signed::ContractSigned)),
    ]
}

/// The workflow named `name`, as the engine runs it.
pub fn by_name(name: &str) -> Option<Arc<dyn Projection>> {
    all().into_iter().find(|workflow| workflow.name() == name)
}
