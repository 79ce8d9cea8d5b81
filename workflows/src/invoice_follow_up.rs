//! Invoice paid: the company that paid becomes an active client at once,
//! and the invoice's owner, who holds the account, gets a follow-up task 7
//! days later (seed 002, "invoice.paid → CRM status updated, follow-up
//! scheduled"). Only invoices to clients: paying a vendor's bill calls for
//! neither.

use chrono::Days;
use cqrs_es::Aggregate;
use foldline_aggregates::company::{CompanyCommand, Relationship};
use foldline_aggregates::invoice::{Direction, Invoice, InvoiceEvent};
use foldline_aggregates::priority::Priority;
use foldline_aggregates::task::TaskCommand;
use foldline_aggregates::workflow_kind::WorkflowKind;
use foldline_projectors::StoredEvent;

use crate::workflow::{fold, Context, Intent, Reaction, Workflow};

/// The workflow.
pub struct InvoiceFollowUp;

/// The timer that opens the follow-up task.
pub const FOLLOW_UP: &str = "follow up";

/// How long after the payment the follow-up comes.
pub const FOLLOW_UP_AFTER: Days = Days::new(7);

impl Workflow for InvoiceFollowUp {
    const KIND: WorkflowKind = WorkflowKind::InvoiceFollowUp;
    const ROOT: &'static str = Invoice::TYPE;
    type State = Invoice;

    fn react(
        &self,
        invoice: &mut Invoice,
        event: &StoredEvent,
        _: &Context,
    ) -> Result<Reaction, String> {
        let paid = matches!(fold(invoice, event)?, InvoiceEvent::InvoicePaid);
        if !paid || invoice.direction != Direction::Receivable {
            return Ok(Reaction::none());
        }
        let mut send = Vec::new();
        if let Some(company) = invoice.counterparty_id {
            send.push(Intent::now(
                company,
                CompanyCommand::SetCompanyRelationship {
                    relationship: Relationship::Active,
                },
            ));
        }
        let at = event
            .recorded_at
            .checked_add_days(FOLLOW_UP_AFTER)
            .ok_or("date")?;
        send.push(Intent::at(
            FOLLOW_UP,
            at,
            Intent::derived_id(event, "follow-up task"),
            TaskCommand::CreateTask {
                title: format!(
                    "Follow up with {} after invoice {} was paid",
                    invoice.counterparty_name, invoice.number
                ),
                description: None,
                event_id: None,
                project: None,
                assignee: invoice.owner_id,
                due_at: Some(at),
                priority: Priority::default(),
                visibility: invoice.visibility,
            },
        ));
        Ok(Reaction::send(send))
    }
}
