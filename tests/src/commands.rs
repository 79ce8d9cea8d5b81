//! Commands the scenarios and benchmarks use again and again.

use chrono::NaiveDate;
use foldline_aggregates::invoice::{Direction, InvoiceCommand};
use foldline_aggregates::money::Currency;
use foldline_aggregates::production_advance::{AdvanceType, ProductionAdvanceCommand};
use foldline_aggregates::task::TaskCommand;
use foldline_aggregates::Visibility;
use uuid::Uuid;

/// A draft receivable invoice to the company `counterparty`.
pub fn draft_invoice(number: &str, counterparty: Uuid) -> InvoiceCommand {
    InvoiceCommand::DraftInvoice {
        number: number.to_owned(),
        direction: Direction::Receivable,
        counterparty_id: counterparty,
        counterparty_name: "Acme Festivals".into(),
        currency: Currency::default(),
        due_on: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
        visibility: Visibility::Restricted,
        owner_id: None,
    }
}

/// A line of `quantity` × 1.00.
pub fn invoice_line(quantity: i64) -> InvoiceCommand {
    InvoiceCommand::AddInvoiceLine {
        line_id: Uuid::new_v4(),
        description: "Crew day".into(),
        quantity,
        unit_price: 100,
    }
}

/// A show-day advance for `event`, in the default currency, nothing else set.
pub fn create_advance(code: &str, event: Uuid) -> ProductionAdvanceCommand {
    ProductionAdvanceCommand::CreateAdvance {
        event_id: event,
        code: code.to_owned(),
        advance_type: AdvanceType::ShowDay,
        priority: Default::default(),
        currency: Default::default(),
        due_date: None,
        assignee: None,
        visibility: Default::default(),
    }
}

/// A task titled `title` for `assignee`, if any, with nothing else set.
pub fn create_task(title: &str, assignee: Option<Uuid>) -> TaskCommand {
    TaskCommand::CreateTask {
        title: title.to_owned(),
        description: None,
        event_id: None,
        project: None,
        assignee,
        due_at: None,
        priority: Default::default(),
        visibility: Default::default(),
    }
}
