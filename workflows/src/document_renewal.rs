//! Document renewal: 30 days before a document expires, its owner gets a
//! task to renew it, on the event it belongs to if it belongs to one.
//!
//! The timer is set when the document gets an expiry date and set again
//! when the date moves; clearing the date, marking the document expired or
//! deleting it cancels it. A date already inside the 30 days opens the task
//! at once.

use chrono::Days;
use cqrs_es::Aggregate;
use foldline_aggregates::document::{Document, DocumentEvent};
use foldline_aggregates::event::Event;
use foldline_aggregates::priority::Priority;
use foldline_aggregates::task::TaskCommand;
use foldline_aggregates::workflow_kind::WorkflowKind;
use foldline_projectors::StoredEvent;

use crate::workflow::{fold, start_of, Context, Intent, Reaction, Workflow};

/// The workflow.
pub struct DocumentRenewal;

/// The timer that opens the renewal task.
pub const RENEWAL: &str = "renewal";

/// How long before expiry the renewal task opens.
pub const RENEW_BEFORE: Days = Days::new(30);

impl Workflow for DocumentRenewal {
    const KIND: WorkflowKind = WorkflowKind::DocumentRenewal;
    const ROOT: &'static str = Document::TYPE;
    type State = Document;

    fn react(
        &self,
        document: &mut Document,
        event: &StoredEvent,
        _: &Context,
    ) -> Result<Reaction, String> {
        Ok(match fold(document, event)? {
            DocumentEvent::DocumentUploaded { .. } | DocumentEvent::DocumentExpirySet { .. } => {
                let Some(expires_on) = document.expires_on else {
                    return Ok(Reaction::cancel(RENEWAL));
                };
                let renew_on = expires_on.checked_sub_days(RENEW_BEFORE).ok_or("date")?;
                let event_id = document
                    .linked_to
                    .as_ref()
                    .filter(|linked| linked.entity_type == Event::TYPE)
                    .map(|linked| linked.entity_id);
                Reaction::send([Intent::at(
                    RENEWAL,
                    start_of(renew_on),
                    Intent::derived_id(event, "renewal task"),
                    TaskCommand::CreateTask {
                        title: format!("Renew “{}”", document.title),
                        description: Some(format!("“{}” expires on {expires_on}.", document.title)),
                        event_id,
                        project: None,
                        assignee: document.owner_id,
                        due_at: Some(start_of(expires_on)),
                        priority: Priority::High,
                        visibility: document.visibility,
                    },
                )])
            }
            DocumentEvent::DocumentExpired | DocumentEvent::DocumentDeleted => {
                Reaction::cancel(RENEWAL)
            }
            _ => Reaction::none(),
        })
    }
}
