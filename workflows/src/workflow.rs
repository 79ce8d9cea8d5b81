//! What a workflow is: the events it follows, the state it folds per
//! instance, and the commands it decides on.

use foldline_aggregates::command::Command;
use foldline_aggregates::workflow_kind::WorkflowKind;
use foldline_projectors::StoredEvent;
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

/// A command a workflow decided to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    /// The aggregate it goes to. A command that creates one names it by an
    /// id derived from the cause ([`Intent::derived_id`]), so that deciding
    /// it again gives the same id.
    pub aggregate_id: Uuid,
    /// The command.
    pub command: Command,
}

impl Intent {
    /// The id of an aggregate a workflow creates, derived from the event
    /// that caused it and what it is for (`purpose`), never random: a
    /// decision made again after a crash names the same aggregate.
    pub fn derived_id(cause: &StoredEvent, purpose: &str) -> Uuid {
        Uuid::new_v5(&cause.id(), purpose.as_bytes())
    }
}

/// A process manager over the feed.
pub trait Workflow: Send + Sync + 'static {
    /// Which workflow it is: its name, its actor, the switch that turns it
    /// on for an organization.
    const KIND: WorkflowKind;

    /// What it remembers of one instance.
    type State: Serialize + DeserializeOwned + Default + Send;

    /// The instance `event` belongs to, if the workflow follows it.
    fn instance(&self, event: &StoredEvent) -> Option<Uuid>;

    /// Folds `event` into its instance's `state`, and gives the commands
    /// the event calls for. The state is folded whether or not the
    /// workflow is on in the organization (an instance may start before it
    /// is switched on); the commands are sent only if it is. An event the
    /// workflow cannot read is an error: it stops there, as a projection
    /// does.
    fn react(&self, state: &mut Self::State, event: &StoredEvent) -> Result<Vec<Intent>, String>;
}
