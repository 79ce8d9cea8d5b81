//! Invoice paid: the company that paid becomes an active client at once,
//! and the invoice's owner, who holds the account, gets a follow-up task 7
//! days later (seed 002, "invoice.paid → CRM status updated, follow-up
//! scheduled"). Only invoices to clients: paying a vendor's bill calls for
//! neither. The payment goes to the outbox as `invoice.paid`, for the
//! ledger.

use chrono::Days;
use cqrs_es::Aggregate;
use foldline_aggregates::company::{CompanyCommand, Relationship};
use foldline_aggregates::invoice::{Direction, Invoice, InvoiceEvent};
use foldline_aggregates::priority::Priority;
use foldline_aggregates::task::TaskCommand;
use foldline_aggregates::workflow_kind::WorkflowKind;
use foldline_projectors::StoredEvent;
use serde_json::json;

use crate::workflow::{fold, Context, Intent, Reaction, Workflow};

/// The workflow.
pub struct InvoiceFollowUp;

/// The topic of the message for the ledger.
pub const PAID_TOPIC: &str = "invoice.paid";

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
            // A client already active is not a failure.
            send.push(
                Intent::now(
                    company,
                    CompanyCommand::SetCompanyRelationship {
                        relationship: Relationship::Active,
                    },
                )
                .unless_done(),
            );
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
        // For the ledger (seed 002: "Revenue → GL"): the payment as the
        // accounting system books it.
        let paid = json!({
            "invoice_id": event.aggregate_id,
            "number": invoice.number,
            "counterparty_id": invoice.counterparty_id,
            "counterparty_name": invoice.counterparty_name,
            "currency": invoice.currency.code(),
            "total_minor_units": invoice.total().map_err(|e| e.to_string())?,
            "payments": invoice.payments,
            "paid_at": event.recorded_at,
        });
        Ok(Reaction::send(send).emit(PAID_TOPIC, paid))
    }
}
