//! Advance completion: an approved production advance whose items are all
//! complete is completed, by the event that made it so (the last item
//! completed, or the approval of one whose items already were).

use cqrs_es::Aggregate;
use foldline_aggregates::production_advance::{
    AdvanceStatus, ItemStatus, ProductionAdvance, ProductionAdvanceCommand,
};
use foldline_aggregates::workflow_kind::WorkflowKind;
use foldline_projectors::StoredEvent;

use crate::workflow::{fold, Context, Intent, Reaction, Workflow};

/// The workflow.
pub struct AdvanceCompletion;

/// Whether `advance` is approved with every item complete.
fn done(advance: &ProductionAdvance) -> bool {
    advance.status == AdvanceStatus::Approved
        && !advance.items.is_empty()
        && advance
            .items
            .values()
            .all(|item| item.status == ItemStatus::Complete)
}

impl Workflow for AdvanceCompletion {
    const KIND: WorkflowKind = WorkflowKind::AdvanceCompletion;
    const ROOT: &'static str = ProductionAdvance::TYPE;
    type State = ProductionAdvance;

    fn react(
        &self,
        advance: &mut ProductionAdvance,
        event: &StoredEvent,
        _: &Context,
    ) -> Result<Reaction, String> {
        let before = done(advance);
        fold(advance, event)?;
        if before || !done(advance) {
            return Ok(Reaction::none());
        }
        let id = event.aggregate_id.parse().map_err(|_| "advance id")?;
        Ok(Reaction::send([Intent::now(
            id,
            ProductionAdvanceCommand::CompleteAdvance,
        )]))
    }
}
