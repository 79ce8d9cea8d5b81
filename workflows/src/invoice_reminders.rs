//! Invoice overdue: an issued invoice still unpaid the day after it is due
//! is marked overdue (the ledger shows it so), and its owner gets a task:
//! to chase a client's payment (and the client an e-mail reminder, through
//! the outbox), or to pay a vendor's bill.
//!
//! The timer is set when the invoice is issued and set again when its due
//! date moves; paying, voiding or deleting the invoice cancels it. A timer
//! that fires after a payment the workflow has not read yet is harmless:
//! marking a paid invoice overdue changes nothing, and the bus's refusal
//! of a command that changed nothing cancels the timer's row. The reminder to the client
//! goes to the outbox as `invoice.overdue`, for the e-mail provider.

use chrono::{Days, NaiveDate};
use cqrs_es::Aggregate;
use foldline_aggregates::invoice::{
    Direction, Invoice, InvoiceCommand, InvoiceEvent, InvoiceStatus,
};
use foldline_aggregates::priority::Priority;
use foldline_aggregates::task::TaskCommand;
use foldline_aggregates::workflow_kind::WorkflowKind;
use foldline_projectors::StoredEvent;
use serde_json::json;

use crate::workflow::{fold, start_of, Context, Intent, Reaction, Workflow};

/// The workflow.
pub struct InvoiceReminders;

/// The timer that marks the invoice overdue.
pub const OVERDUE: &str = "overdue";

/// The topic of the message for the client's reminder e-mail.
pub const OVERDUE_TOPIC: &str = "invoice.overdue";

/// Days the owner has to chase (or make) a payment once it is overdue.
const ACT_WITHIN: Days = Days::new(3);

impl Workflow for InvoiceReminders {
    const KIND: WorkflowKind = WorkflowKind::InvoiceReminders;
    const ROOT: &'static str = Invoice::TYPE;
    type State = Invoice;

    fn react(
        &self,
        invoice: &mut Invoice,
        event: &StoredEvent,
        _: &Context,
    ) -> Result<Reaction, String> {
        let instance = event.aggregate_id.parse().map_err(|_| "invoice id")?;
        Ok(match fold(invoice, event)? {
            InvoiceEvent::InvoiceIssued { .. } | InvoiceEvent::DueDateChanged { .. } => {
                let open = matches!(
                    invoice.status,
                    InvoiceStatus::Issued | InvoiceStatus::PartiallyPaid
                );
                match invoice.due_on.filter(|_| open) {
                    Some(due_on) => {
                        let as_of = day_after(due_on)?;
                        Reaction::send([Intent::at(
                            OVERDUE,
                            start_of(as_of),
                            instance,
                            InvoiceCommand::MarkInvoiceOverdue { as_of },
                        )
                        .unless_done()])
                    }
                    None => Reaction::none(),
                }
            }
            InvoiceEvent::InvoicePaid
            | InvoiceEvent::InvoiceVoided { .. }
            | InvoiceEvent::InvoiceDeleted => Reaction::cancel(OVERDUE),
            InvoiceEvent::InvoiceOverdue { as_of } => overdue(invoice, event, as_of)?,
            _ => Reaction::none(),
        })
    }
}

/// What an overdue invoice calls for: a client's is chased, and reminded by
/// e-mail; a vendor's bill is paid.
fn overdue(invoice: &Invoice, event: &StoredEvent, as_of: NaiveDate) -> Result<Reaction, String> {
    let act_by = as_of.checked_add_days(ACT_WITHIN).ok_or("date")?;
    let due_on = invoice.due_on.map(|d| d.to_string()).unwrap_or_default();
    let (title, email) = match invoice.direction {
        Direction::Receivable => (
            format!(
                "Chase payment of invoice {} from {}",
                invoice.number, invoice.counterparty_name
            ),
            true,
        ),
        Direction::Payable => (
            format!(
                "Pay invoice {} to {}",
                invoice.number, invoice.counterparty_name
            ),
            false,
        ),
    };
    let task = Intent::now(
        Intent::derived_id(event, "payment reminder"),
        TaskCommand::CreateTask {
            title,
            description: Some(format!(
                "Invoice {} was due on {due_on} and is not paid in full.",
                invoice.number
            )),
            event_id: None,
            project: None,
            assignee: invoice.owner_id,
            due_at: Some(start_of(act_by)),
            priority: Priority::High,
            visibility: invoice.visibility,
        },
    );
    let reaction = Reaction::send([task]);
    if !email {
        return Ok(reaction);
    }
    // For the e-mail provider: a reminder to the client.
    let reminder = json!({
        "invoice_id": event.aggregate_id,
        "number": invoice.number,
        "counterparty_id": invoice.counterparty_id,
        "counterparty_name": invoice.counterparty_name,
        "due_on": invoice.due_on,
        "as_of": as_of,
        "currency": invoice.currency.code(),
        "balance_minor_units": invoice.balance().map_err(|e| e.to_string())?,
    });
    Ok(reaction.emit(OVERDUE_TOPIC, reminder))
}

fn day_after(day: NaiveDate) -> Result<NaiveDate, String> {
    day.succ_opt().ok_or_else(|| format!("no day after {day}"))
}
