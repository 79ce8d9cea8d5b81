//! Task completed → a note on the timeline of the event it is for.
//!
//! Seed 002's timeline shows what was done for an event; a task's
//! completion is written there as a note on the event, as visible as the
//! task (a private task's completion is nobody else's business, and is not
//! written).

use cqrs_es::Aggregate;
use foldline_aggregates::comment::{CommentCommand, CommentKind};
use foldline_aggregates::event::Event;
use foldline_aggregates::reference::EntityRef;
use foldline_aggregates::task::{Task, TaskEvent};
use foldline_aggregates::visibility::Visibility;
use foldline_aggregates::workflow_kind::WorkflowKind;
use foldline_projectors::StoredEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::workflow::{Context, Intent, Reaction, Workflow};

/// The workflow.
pub struct TaskTimeline;

/// What it remembers of a task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskNotes {
    /// Its title.
    pub title: String,
    /// The event it is for.
    pub event_id: Option<Uuid>,
    /// Who may see it.
    pub visibility: Visibility,
}

impl Workflow for TaskTimeline {
    const KIND: WorkflowKind = WorkflowKind::TaskTimeline;
    const ROOT: &'static str = Task::TYPE;
    type State = TaskNotes;

    fn react(
        &self,
        state: &mut TaskNotes,
        event: &StoredEvent,
        _: &Context,
    ) -> Result<Reaction, String> {
        match event.decode::<Task>().map_err(|e| e.to_string())? {
            TaskEvent::TaskCreated {
                title,
                event_id,
                visibility,
                ..
            } => {
                *state = TaskNotes {
                    title,
                    event_id,
                    visibility,
                };
            }
            TaskEvent::TaskUpdated {
                title: Some(title), ..
            } => state.title = title,
            TaskEvent::TaskCompleted => {
                let Some(event_id) = state.event_id else {
                    return Ok(Reaction::none());
                };
                if state.visibility == Visibility::Private {
                    return Ok(Reaction::none());
                }
                let note = CommentCommand::PostComment {
                    on: EntityRef {
                        entity_type: Event::TYPE.to_owned(),
                        entity_id: event_id,
                    },
                    parent_id: None,
                    kind: CommentKind::Note,
                    body: format!("Task “{}” completed.", state.title),
                    visibility: state.visibility,
                };
                return Ok(Reaction::send([Intent::now(
                    Intent::derived_id(event, "timeline note"),
                    note,
                )]));
            }
            _ => {}
        }
        Ok(Reaction::none())
    }
}
