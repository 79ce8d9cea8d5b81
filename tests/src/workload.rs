//! A realistic workload across every aggregate, for benchmarks: one iteration
//! is a production's life in 37 commands (vendors, venue, event, an advance
//! through two approvals, tasks, a shift, an asset, an invoice paid, an
//! expense approved, a document, a comment, a contract).

// Amounts are written in minor units grouped as major_minor.
#![allow(clippy::inconsistent_digit_grouping)]

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use foldline_aggregates::address::Address;
use foldline_aggregates::asset::{AssetCommand, AssetKind};
use foldline_aggregates::comment::{CommentCommand, CommentKind};
use foldline_aggregates::company::{CompanyCommand, CompanyKind};
use foldline_aggregates::contact::{ContactCommand, ContactKind};
use foldline_aggregates::contract::{ContractCommand, ContractTerms};
use foldline_aggregates::document::{DocumentCommand, DocumentKind};
use foldline_aggregates::event::{EventCommand, EventKind};
use foldline_aggregates::expense::{ExpenseCommand, ExpenseKind};
use foldline_aggregates::invoice::{Direction, InvoiceCommand};
use foldline_aggregates::production_advance::{
    FulfillmentStage, ItemCategory, ItemStatus, ProductionAdvanceCommand,
};
use foldline_aggregates::shift::ShiftCommand;
use foldline_aggregates::task::TaskCommand;
use foldline_aggregates::venue::{VenueCommand, VenueKind};
use foldline_aggregates::{Command, EntityRef};
use uuid::Uuid;

use crate::commands::create_advance;
use crate::Org;

/// One step of the mix: who sends which command to which aggregate.
pub struct Step {
    /// Who sends it.
    pub actor: Uuid,
    /// The aggregate it goes to.
    pub id: Uuid,
    /// The command.
    pub command: Command,
}

fn hour(offset: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::hours(offset)
}

/// The commands of one iteration `n` of `client` in `run`; ids are fresh, and
/// emails and the shift's hours are the run's and client's own, so runs never
/// clash. The shift's
/// hours are the client's own so confirmed shifts never clash.
pub fn iteration(org: &Org, run: usize, client: usize, n: usize) -> Vec<Step> {
    let tag = format!("{run}-{client}-{n}");
    let (vendor, contact, venue, event, advance, task, shift, asset, invoice, expense) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    let (document, comment, contract) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let items: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
    let slot = ((run * 100 + client) * 10_000 + n) as i64 * 24;
    let member = org.member;
    let mut steps = Vec::new();
    let mut step =
        |actor: Uuid, id: Uuid, command: Command| steps.push(Step { actor, id, command });
    let address = Address {
        line1: "North Wall Quay".into(),
        city: "Dublin".into(),
        country: "IE".into(),
        ..Default::default()
    };
    step(
        member,
        vendor,
        Command::Company(CompanyCommand::RegisterCompany {
            kind: CompanyKind::Vendor,
            name: format!("Vendor {tag}"),
            website: None,
            email: Some(format!("hello+{tag}@vendor.example")),
            phone: None,
            office: None,
            visibility: Default::default(),
        }),
    );
    step(
        member,
        contact,
        Command::Contact(ContactCommand::AddContact {
            kind: ContactKind::CompanyContact,
            name: "Sara Byrne".into(),
            email: format!("sara+{tag}@vendor.example"),
            phone: None,
            title: Some("Account manager".into()),
            company_id: Some(vendor),
            visibility: Default::default(),
        }),
    );
    step(
        member,
        venue,
        Command::Venue(VenueCommand::RegisterVenue {
            name: format!("Hall {tag}"),
            kind: VenueKind::Venue,
            address,
            coordinates: None,
            capacity: Some(1200),
            contact: None,
            visibility: Default::default(),
        }),
    );
    step(
        member,
        event,
        Command::Event(EventCommand::PlanEvent {
            title: format!("Show {tag}"),
            kind: EventKind::Show,
            starts_at: hour(slot + 18),
            ends_at: hour(slot + 23),
            venue_id: Some(venue),
            visibility: Default::default(),
        }),
    );
    step(member, event, Command::Event(EventCommand::ConfirmEvent));
    step(
        member,
        advance,
        Command::ProductionAdvance(create_advance(&format!("ADV-{tag}"), event)),
    );
    for (i, item) in items.iter().enumerate() {
        step(
            member,
            advance,
            Command::ProductionAdvance(ProductionAdvanceCommand::AddItem {
                item_id: *item,
                name: format!("Item {i}"),
                category: ItemCategory::Technical,
                vendor_id: Some(vendor),
                quantity_required: 2,
                unit_cost: 1_500_00,
                schedule: Default::default(),
                critical_path: i == 0,
                depends_on: Default::default(),
            }),
        );
    }
    // 12,000.00: a production manager, then an event director.
    step(
        member,
        advance,
        Command::ProductionAdvance(ProductionAdvanceCommand::SubmitForApproval),
    );
    step(
        org.production_manager,
        advance,
        Command::ProductionAdvance(ProductionAdvanceCommand::Approve),
    );
    step(
        org.event_director,
        advance,
        Command::ProductionAdvance(ProductionAdvanceCommand::Approve),
    );
    for status in [ItemStatus::Confirmed, ItemStatus::Delivered] {
        step(
            member,
            advance,
            Command::ProductionAdvance(ProductionAdvanceCommand::ChangeItemStatus {
                item_id: items[0],
                status,
            }),
        );
    }
    step(
        member,
        advance,
        Command::ProductionAdvance(ProductionAdvanceCommand::RecordFulfillment {
            item_id: items[1],
            stage: FulfillmentStage::Shipped,
            percentage: 50,
        }),
    );
    step(
        member,
        task,
        Command::Task(TaskCommand::CreateTask {
            title: "Confirm power".into(),
            description: None,
            event_id: Some(event),
            project: None,
            assignee: Some(member),
            due_at: Some(hour(slot + 10)),
            priority: Default::default(),
            visibility: Default::default(),
        }),
    );
    step(member, task, Command::Task(TaskCommand::StartTask));
    step(member, task, Command::Task(TaskCommand::CompleteTask));
    step(
        member,
        shift,
        Command::Shift(ShiftCommand::ScheduleShift {
            member_id: member,
            event_id: event,
            role: "Rigger".into(),
            starts_at: hour(slot + 8),
            ends_at: hour(slot + 16),
            visibility: Default::default(),
        }),
    );
    step(member, shift, Command::Shift(ShiftCommand::ConfirmShift));
    step(
        member,
        asset,
        Command::Asset(AssetCommand::RegisterAsset {
            kind: AssetKind::Equipment,
            name: "Radio kit".into(),
            tag: Some(format!("RAD-{tag}")),
            quantity: 10,
            value: 2_400_00,
            currency: Default::default(),
            location_id: Some(venue),
            visibility: Default::default(),
        }),
    );
    step(
        member,
        asset,
        Command::Asset(AssetCommand::CheckOutAsset {
            holder: member,
            due_back: Some(hour(slot + 30)),
        }),
    );
    step(member, asset, Command::Asset(AssetCommand::CheckInAsset));
    step(
        member,
        invoice,
        Command::Invoice(InvoiceCommand::DraftInvoice {
            number: format!("INV-{tag}"),
            direction: Direction::Receivable,
            counterparty_id: org.client,
            counterparty_name: "Acme Festivals".into(),
            currency: Default::default(),
            due_on: NaiveDate::from_ymd_opt(2027, 3, 31).unwrap(),
            visibility: Default::default(),
            owner_id: None,
        }),
    );
    for quantity in [1, 3] {
        step(
            member,
            invoice,
            Command::Invoice(InvoiceCommand::AddInvoiceLine {
                line_id: Uuid::new_v4(),
                description: "Production services".into(),
                quantity,
                unit_price: 2_000_00,
            }),
        );
    }
    step(
        org.finance,
        invoice,
        Command::Invoice(InvoiceCommand::IssueInvoice {
            issued_on: NaiveDate::from_ymd_opt(2027, 1, 2).unwrap(),
        }),
    );
    for amount in [3_000_00, 5_000_00] {
        step(
            org.finance,
            invoice,
            Command::Invoice(InvoiceCommand::RecordPayment {
                payment_id: Uuid::new_v4(),
                amount,
                paid_on: NaiveDate::from_ymd_opt(2027, 1, 20).unwrap(),
                method: "bank transfer".into(),
                reference: None,
            }),
        );
    }
    step(
        member,
        expense,
        Command::Expense(ExpenseCommand::RecordExpense {
            kind: ExpenseKind::PurchaseOrder,
            description: "Signage".into(),
            amount: 850_00,
            currency: Default::default(),
            payee: "Printhouse".into(),
            payee_id: Some(vendor),
            event_id: Some(event),
            incurred_on: NaiveDate::from_ymd_opt(2027, 1, 3).unwrap(),
            visibility: Default::default(),
        }),
    );
    step(
        member,
        expense,
        Command::Expense(ExpenseCommand::SubmitExpense),
    );
    step(
        org.finance,
        expense,
        Command::Expense(ExpenseCommand::ApproveExpense),
    );
    step(
        member,
        document,
        Command::Document(DocumentCommand::UploadDocument {
            linked_to: EntityRef {
                entity_type: "ProductionAdvance".into(),
                entity_id: advance,
            },
            kind: DocumentKind::Rider,
            title: "Rider".into(),
            url: "https://files.example.com/rider.pdf".into(),
            size_bytes: 284_113,
            mime_type: Some("application/pdf".into()),
            expires_on: None,
            visibility: Default::default(),
        }),
    );
    step(
        member,
        comment,
        Command::Comment(CommentCommand::PostComment {
            on: EntityRef {
                entity_type: "Event".into(),
                entity_id: event,
            },
            parent_id: None,
            kind: CommentKind::Comment,
            body: "Load-in moved to 08:00.".into(),
            visibility: Default::default(),
        }),
    );
    step(
        member,
        contract,
        Command::Contract(ContractCommand::DraftContract {
            counterparty_id: org.client,
            counterparty_name: "Acme Festivals".into(),
            currency: Default::default(),
            terms: ContractTerms {
                title: "Production services".into(),
                value: 8_000_00,
                starts_on: None,
                expires_on: None,
                document_url: None,
                event_id: None,
                payment_terms: Vec::new(),
            },
            visibility: Default::default(),
        }),
    );
    step(
        member,
        contract,
        Command::Contract(ContractCommand::SendContract),
    );
    steps
}
