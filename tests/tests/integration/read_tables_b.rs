//! `financial_ledger` and `people_directory` (with `organizations` and
//! `memberships`) over a real event store: commands through the bus, rows
//! through the engine, and a rebuild that gives the same rows.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use foldline_aggregates::company::{Company, CompanyCommand, CompanyKind};
use foldline_aggregates::contact::{Contact, ContactCommand, ContactKind};
use foldline_aggregates::expense::{Expense, ExpenseCommand, ExpenseKind};
use foldline_aggregates::invoice::{Invoice, InvoiceCommand};
use foldline_aggregates::organization::{Organization, OrganizationCommand};
use foldline_aggregates::production_advance::{
    AdvanceType, ItemCategory, ProductionAdvance, ProductionAdvanceCommand,
};
use foldline_aggregates::{Capability, CommandBus, Role, Visibility};
use foldline_projectors::financial_ledger::FinancialLedger;
use foldline_projectors::people_directory::PeopleDirectory;
use foldline_projectors::{Engine, Projection};
use foldline_tests::commands::{create_advance, draft_invoice, invoice_line};
use foldline_tests::read_side::{catch_up, rebuild_from_scratch, row_json, table_json};
use foldline_tests::{Org, TestDb};
use serde_json::{json, Value};
use uuid::Uuid;

fn projections() -> [&'static dyn Projection; 2] {
    [&FinancialLedger, &PeopleDirectory]
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
}

/// A row's creation and update times and position.
async fn stamps(
    db: &TestDb,
    table: &str,
    external_id: &str,
) -> (DateTime<Utc>, DateTime<Utc>, i64) {
    sqlx::query_as(&format!(
        "SELECT created_at, updated_at, last_position FROM {table} WHERE external_id = $1"
    ))
    .bind(external_id)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

/// An aggregate's first and last event times and last position.
async fn stream(db: &TestDb, aggregate_id: Uuid) -> (DateTime<Utc>, DateTime<Utc>, i64) {
    sqlx::query_as(
        "SELECT min(recorded_at), max(recorded_at), max(global_position) FROM events
         WHERE aggregate_id = $1",
    )
    .bind(aggregate_id.to_string())
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

/// The time and position of an aggregate's last event of `event_type`.
async fn last_of(db: &TestDb, aggregate_id: Uuid, event_type: &str) -> (DateTime<Utc>, i64) {
    sqlx::query_as(
        "SELECT recorded_at, global_position FROM events
         WHERE aggregate_id = $1 AND event_type = $2
         ORDER BY global_position DESC LIMIT 1",
    )
    .bind(aggregate_id.to_string())
    .bind(event_type)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

async fn invoice(bus: &CommandBus, org: &Org, actor: Uuid, id: Uuid, command: InvoiceCommand) {
    bus.execute::<Invoice>(&org.request(actor), id, command, None)
        .await
        .unwrap();
}

async fn expense(bus: &CommandBus, org: &Org, actor: Uuid, id: Uuid, command: ExpenseCommand) {
    bus.execute::<Expense>(&org.request(actor), id, command, None)
        .await
        .unwrap();
}

async fn advance(
    bus: &CommandBus,
    org: &Org,
    actor: Uuid,
    id: Uuid,
    command: ProductionAdvanceCommand,
) {
    bus.execute::<ProductionAdvance>(&org.request(actor), id, command, None)
        .await
        .unwrap();
}

async fn organization(bus: &CommandBus, org: &Org, actor: Uuid, command: OrganizationCommand) {
    bus.execute::<Organization>(&org.request(actor), org.id, command, None)
        .await
        .unwrap();
}

fn record_expense(kind: ExpenseKind, amount: i64, event: Option<Uuid>) -> ExpenseCommand {
    ExpenseCommand::RecordExpense {
        kind,
        description: "Truck hire".into(),
        amount,
        currency: Default::default(),
        payee: "Road Kings".into(),
        payee_id: None,
        event_id: event,
        incurred_on: day(2),
        visibility: Visibility::Restricted,
    }
}

fn add_item(vendor: Option<Uuid>, quantity: i64, unit_cost: i64) -> ProductionAdvanceCommand {
    ProductionAdvanceCommand::AddItem {
        item_id: Uuid::new_v4(),
        name: "Line array".into(),
        category: ItemCategory::Technical,
        vendor_id: vendor,
        quantity_required: quantity,
        unit_cost,
        schedule: Default::default(),
        critical_path: false,
        depends_on: BTreeSet::new(),
    }
}

fn register(kind: CompanyKind, name: &str) -> CompanyCommand {
    CompanyCommand::RegisterCompany {
        kind,
        name: name.into(),
        website: None,
        email: Some("office@example.com".into()),
        phone: Some("+1 555 0100".into()),
        office: None,
        visibility: Visibility::Organization,
    }
}

fn add_contact(kind: ContactKind, name: &str, company: Option<Uuid>) -> ContactCommand {
    ContactCommand::AddContact {
        kind,
        name: name.into(),
        email: format!("{}@example.com", Uuid::new_v4().simple()),
        phone: None,
        title: Some("Tour manager".into()),
        company_id: company,
        visibility: Visibility::Private,
    }
}

#[tokio::test]
async fn an_invoice_lands_once_issued_and_each_payment_in_its_own_row() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Ledger invoices").await;
    let id = Uuid::new_v4();
    let invoice_row = format!("Invoice:{id}");

    invoice(
        &bus,
        &org,
        org.member,
        id,
        draft_invoice("INV-1", org.client),
    )
    .await;
    invoice(&bus, &org, org.member, id, invoice_line(10)).await;
    catch_up(&db, &engine, &projections()).await;
    assert_eq!(row_json(&db, "financial_ledger", &invoice_row).await, None);

    let issue = InvoiceCommand::IssueInvoice { issued_on: day(1) };
    invoice(&bus, &org, org.finance, id, issue).await;
    catch_up(&db, &engine, &projections()).await;
    let issued = row_json(&db, "financial_ledger", &invoice_row)
        .await
        .unwrap();
    assert_eq!(issued["organization_id"], json!(org.id));
    assert_eq!(issued["transaction_type"], "invoice");
    assert_eq!(issued["direction"], "receivable");
    assert_eq!(issued["entity_type"], "Invoice");
    assert_eq!(issued["entity_id"], json!(id));
    assert_eq!(issued["amount"], 10_00);
    assert_eq!(issued["currency"], "USD");
    assert_eq!(issued["status"], "issued");
    assert_eq!(issued["counterparty_type"], "client");
    assert_eq!(issued["counterparty_id"], json!(org.client));
    assert_eq!(issued["counterparty_name"], "Acme Festivals");
    assert_eq!(issued["transaction_date"], "2026-12-01");
    assert_eq!(issued["issued_date"], "2026-12-01");
    assert_eq!(issued["due_date"], "2026-12-31");
    assert_eq!(issued["paid_date"], Value::Null);
    assert_eq!(issued["reference"], "INV-1");
    assert_eq!(issued["visibility"], "restricted");
    assert_eq!(issued["owner_id"], json!(org.member));
    let (first, last, position) = stream(&db, id).await;
    assert_eq!(
        stamps(&db, "financial_ledger", &invoice_row).await,
        (first, last, position)
    );

    let (partial, rest) = (Uuid::new_v4(), Uuid::new_v4());
    for (payment, amount, paid_on, reference) in [
        (partial, 4_00, day(5), Some("BANK-1".to_owned())),
        (rest, 6_00, day(9), None),
    ] {
        let pay = InvoiceCommand::RecordPayment {
            payment_id: payment,
            amount,
            paid_on,
            method: "bank transfer".into(),
            reference,
        };
        invoice(&bus, &org, org.finance, id, pay).await;
    }
    catch_up(&db, &engine, &projections()).await;
    let first_payment = row_json(
        &db,
        "financial_ledger",
        &format!("{invoice_row}:payment:{partial}"),
    )
    .await
    .unwrap();
    assert_eq!(first_payment["transaction_type"], "payment");
    assert_eq!(first_payment["direction"], "receivable");
    assert_eq!(first_payment["entity_type"], "Invoice");
    assert_eq!(first_payment["entity_id"], json!(id));
    assert_eq!(first_payment["amount"], 4_00);
    assert_eq!(first_payment["status"], "paid");
    assert_eq!(first_payment["counterparty_id"], json!(org.client));
    assert_eq!(first_payment["transaction_date"], "2026-12-05");
    assert_eq!(first_payment["paid_date"], "2026-12-05");
    assert_eq!(first_payment["reference"], "BANK-1");
    assert_eq!(first_payment["visibility"], "restricted");
    assert_eq!(first_payment["owner_id"], json!(org.member));
    let second_payment = row_json(
        &db,
        "financial_ledger",
        &format!("{invoice_row}:payment:{rest}"),
    )
    .await
    .unwrap();
    assert_eq!(second_payment["amount"], 6_00);
    assert_eq!(second_payment["transaction_date"], "2026-12-09");
    assert_eq!(second_payment["reference"], Value::Null);
    let paid = row_json(&db, "financial_ledger", &invoice_row)
        .await
        .unwrap();
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["amount"], 10_00);
    assert_eq!(paid["paid_date"], "2026-12-09");
    assert_eq!(paid["last_position"], json!(stream(&db, id).await.2));
}

#[tokio::test]
async fn a_voided_invoice_stays_as_void_and_a_deleted_one_leaves() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Ledger voids").await;
    let (issued, draft) = (Uuid::new_v4(), Uuid::new_v4());
    for (id, number) in [(issued, "INV-2"), (draft, "INV-3")] {
        invoice(
            &bus,
            &org,
            org.member,
            id,
            draft_invoice(number, org.client),
        )
        .await;
        invoice(&bus, &org, org.member, id, invoice_line(3)).await;
    }
    let issue = InvoiceCommand::IssueInvoice { issued_on: day(1) };
    invoice(&bus, &org, org.admin, issued, issue).await;
    for id in [issued, draft] {
        let void = InvoiceCommand::VoidInvoice {
            reason: "duplicate".into(),
        };
        invoice(&bus, &org, org.admin, id, void).await;
    }
    catch_up(&db, &engine, &projections()).await;
    let voided = row_json(&db, "financial_ledger", &format!("Invoice:{issued}"))
        .await
        .unwrap();
    assert_eq!(voided["status"], "void");
    assert_eq!(voided["amount"], 3_00);
    // Never issued, never in the ledger.
    assert_eq!(
        row_json(&db, "financial_ledger", &format!("Invoice:{draft}")).await,
        None
    );

    invoice(&bus, &org, org.admin, issued, InvoiceCommand::DeleteInvoice).await;
    catch_up(&db, &engine, &projections()).await;
    assert_eq!(
        row_json(&db, "financial_ledger", &format!("Invoice:{issued}")).await,
        None
    );
}

#[tokio::test]
async fn an_expense_follows_its_review_and_payment_and_leaves_when_deleted() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Ledger expenses").await;
    let id = Uuid::new_v4();
    let external_id = format!("Expense:{id}");
    let record = record_expense(ExpenseKind::PurchaseOrder, 250_00, Some(org.event));
    expense(&bus, &org, org.member, id, record).await;
    catch_up(&db, &engine, &projections()).await;
    let recorded = row_json(&db, "financial_ledger", &external_id)
        .await
        .unwrap();
    assert_eq!(recorded["organization_id"], json!(org.id));
    assert_eq!(recorded["transaction_type"], "purchase_order");
    assert_eq!(recorded["direction"], "payable");
    assert_eq!(recorded["entity_type"], "Expense");
    assert_eq!(recorded["entity_id"], json!(id));
    assert_eq!(recorded["amount"], 250_00);
    assert_eq!(recorded["currency"], "USD");
    assert_eq!(recorded["status"], "draft");
    assert_eq!(recorded["counterparty_type"], "vendor");
    assert_eq!(recorded["counterparty_name"], "Road Kings");
    assert_eq!(recorded["event_id"], json!(org.event));
    assert_eq!(recorded["transaction_date"], "2026-12-02");
    assert_eq!(recorded["description"], "Truck hire");
    assert_eq!(recorded["visibility"], "restricted");
    assert_eq!(recorded["owner_id"], json!(org.member));

    let steps = [
        (
            org.member,
            ExpenseCommand::ReviseExpense {
                description: None,
                amount: Some(275_00),
                payee: Some("Road Kings Ltd".into()),
            },
            "draft",
        ),
        (org.member, ExpenseCommand::SubmitExpense, "submitted"),
        (org.finance, ExpenseCommand::ApproveExpense, "approved"),
        (
            org.finance,
            ExpenseCommand::PayExpense {
                paid_on: day(20),
                reference: Some("PO-PAY-7".into()),
            },
            "paid",
        ),
    ];
    for (actor, command, status) in steps {
        expense(&bus, &org, actor, id, command).await;
        catch_up(&db, &engine, &projections()).await;
        let current = row_json(&db, "financial_ledger", &external_id)
            .await
            .unwrap();
        assert_eq!(current["status"], status);
        assert_eq!(current["amount"], 275_00);
        assert_eq!(current["counterparty_name"], "Road Kings Ltd");
        assert_eq!(current["last_position"], json!(stream(&db, id).await.2));
    }
    let paid = row_json(&db, "financial_ledger", &external_id)
        .await
        .unwrap();
    assert_eq!(paid["paid_date"], "2026-12-20");
    assert_eq!(paid["reference"], "PO-PAY-7");

    let payroll = Uuid::new_v4();
    let record = record_expense(ExpenseKind::Payroll, 900_00, None);
    expense(&bus, &org, org.member, payroll, record).await;
    catch_up(&db, &engine, &projections()).await;
    let wages = row_json(&db, "financial_ledger", &format!("Expense:{payroll}"))
        .await
        .unwrap();
    assert_eq!(wages["transaction_type"], "payroll");
    assert_eq!(wages["counterparty_type"], "employee");
    assert_eq!(wages["event_id"], Value::Null);
    expense(
        &bus,
        &org,
        org.member,
        payroll,
        ExpenseCommand::DeleteExpense,
    )
    .await;
    catch_up(&db, &engine, &projections()).await;
    assert_eq!(
        row_json(&db, "financial_ledger", &format!("Expense:{payroll}")).await,
        None
    );
}

#[tokio::test]
async fn an_advance_commits_its_cost_once_approved() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Ledger advances").await;
    let (small, large, dropped) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let committed = |id: Uuid| format!("ProductionAdvance:{id}:committed");

    // Within the automatic tier: approved on submission.
    advance(
        &bus,
        &org,
        org.member,
        small,
        create_advance("ADV-1", org.event),
    )
    .await;
    for command in [
        add_item(Some(org.client), 2, 100_00),
        add_item(Some(org.client), 1, 50_00),
    ] {
        advance(&bus, &org, org.member, small, command).await;
    }
    catch_up(&db, &engine, &projections()).await;
    assert_eq!(
        row_json(&db, "financial_ledger", &committed(small)).await,
        None
    );
    let submit = ProductionAdvanceCommand::SubmitForApproval;
    advance(&bus, &org, org.member, small, submit.clone()).await;
    catch_up(&db, &engine, &projections()).await;
    let row_small = row_json(&db, "financial_ledger", &committed(small))
        .await
        .unwrap();
    let (approved_at, _) = last_of(&db, small, "AdvanceApproved").await;
    assert_eq!(row_small["organization_id"], json!(org.id));
    assert_eq!(row_small["transaction_type"], "commitment");
    assert_eq!(row_small["direction"], "payable");
    assert_eq!(row_small["entity_type"], "ProductionAdvance");
    assert_eq!(row_small["entity_id"], json!(small));
    assert_eq!(row_small["amount"], 250_00);
    assert_eq!(row_small["currency"], "USD");
    assert_eq!(row_small["status"], "approved");
    assert_eq!(row_small["counterparty_type"], "vendor");
    assert_eq!(row_small["counterparty_id"], json!(org.client));
    assert_eq!(row_small["event_id"], json!(org.event));
    assert_eq!(
        row_small["transaction_date"],
        json!(approved_at.date_naive())
    );
    assert_eq!(row_small["reference"], "ADV-1");
    assert_eq!(row_small["visibility"], "organization");
    assert_eq!(row_small["owner_id"], json!(org.member));

    // Above it: pending until the production manager approves.
    let create = ProductionAdvanceCommand::CreateAdvance {
        event_id: org.event,
        code: "ADV-2".into(),
        advance_type: AdvanceType::LoadIn,
        priority: Default::default(),
        currency: Default::default(),
        due_date: Some("2026-12-10T08:00:00Z".parse().unwrap()),
        assignee: None,
        visibility: Visibility::Private,
    };
    advance(&bus, &org, org.member, large, create).await;
    for command in [
        add_item(Some(org.client), 3, 400_00),
        add_item(None, 1, 10_00),
    ] {
        advance(&bus, &org, org.member, large, command).await;
    }
    advance(&bus, &org, org.member, large, submit.clone()).await;
    catch_up(&db, &engine, &projections()).await;
    assert_eq!(
        row_json(&db, "financial_ledger", &committed(large)).await,
        None
    );
    let approve = ProductionAdvanceCommand::Approve;
    advance(&bus, &org, org.production_manager, large, approve).await;
    catch_up(&db, &engine, &projections()).await;
    let row_large = row_json(&db, "financial_ledger", &committed(large))
        .await
        .unwrap();
    assert_eq!(row_large["amount"], 1_210_00);
    assert_eq!(row_large["status"], "approved");
    assert_eq!(row_large["counterparty_id"], json!(org.client));
    assert_eq!(row_large["visibility"], "private");
    assert_eq!(row_large["due_date"], "2026-12-10");
    assert_eq!(row_large["description"], "Advance ADV-2 (load_in)");

    // A cancelled commitment stays, as cancelled, on the day it was approved.
    let (large_approved_at, _) = last_of(&db, large, "AdvanceApproved").await;
    let cancel = ProductionAdvanceCommand::CancelAdvance {
        reason: "Show moved".into(),
    };
    advance(&bus, &org, org.member, large, cancel.clone()).await;
    catch_up(&db, &engine, &projections()).await;
    let cancelled = row_json(&db, "financial_ledger", &committed(large))
        .await
        .unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        cancelled["transaction_date"],
        json!(large_approved_at.date_naive())
    );
    assert_eq!(
        cancelled["last_position"],
        json!(stream(&db, large).await.2)
    );

    // Cancelled before approval: never committed.
    advance(
        &bus,
        &org,
        org.member,
        dropped,
        create_advance("ADV-3", org.event),
    )
    .await;
    advance(&bus, &org, org.member, dropped, add_item(None, 1, 10_00)).await;
    advance(&bus, &org, org.member, dropped, cancel).await;
    catch_up(&db, &engine, &projections()).await;
    assert_eq!(
        row_json(&db, "financial_ledger", &committed(dropped)).await,
        None
    );

    // Deleted: its commitment leaves.
    let delete = ProductionAdvanceCommand::DeleteAdvance;
    advance(&bus, &org, org.admin, small, delete).await;
    catch_up(&db, &engine, &projections()).await;
    assert_eq!(
        row_json(&db, "financial_ledger", &committed(small)).await,
        None
    );
}

#[tokio::test]
async fn members_are_in_the_directory_organizations_and_memberships() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "People").await;
    catch_up(&db, &engine, &projections()).await;
    let member_row = |user: Uuid| format!("Member:{}:{user}", org.id);

    let members: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM people_directory WHERE organization_id = $1 AND person_type = 'internal'",
    )
    .bind(org.id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(members, 7);
    let owner = row_json(&db, "people_directory", &member_row(org.owner))
        .await
        .unwrap();
    assert_eq!(owner["organization_id"], json!(org.id));
    assert_eq!(owner["person_type"], "internal");
    assert_eq!(owner["entity_type"], "Member");
    assert_eq!(owner["entity_id"], json!(org.owner));
    assert_eq!(owner["name"], "Owner");
    assert_eq!(owner["email"], "owner@example.com");
    assert_eq!(owner["role"], "owner");
    assert_eq!(owner["visibility"], "organization");
    assert_eq!(owner["owner_id"], json!(org.owner));
    let finance = row_json(&db, "people_directory", &member_row(org.finance))
        .await
        .unwrap();
    assert_eq!(finance["name"], format!("member {}", org.finance));
    assert_eq!(
        finance["email"],
        format!("{}@example.com", org.finance.simple())
    );
    assert_eq!(finance["role"], "member");
    // Added by the owner, at the time and position of its own event.
    assert_eq!(finance["owner_id"], json!(org.owner));
    let added = sqlx::query_as::<_, (DateTime<Utc>, i64)>(
        "SELECT recorded_at, global_position FROM events
         WHERE aggregate_id = $1 AND event_type = 'MemberAdded'
           AND payload -> 'MemberAdded' ->> 'user_id' = $2",
    )
    .bind(org.id.to_string())
    .bind(org.finance.to_string())
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        stamps(&db, "people_directory", &member_row(org.finance)).await,
        (added.0, added.0, added.1)
    );

    let tenant: (String, i64) =
        sqlx::query_as("SELECT name, last_position FROM organizations WHERE id = $1")
            .bind(org.id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(tenant, ("People".to_owned(), stream(&db, org.id).await.2));
    let roster: Vec<(Uuid, String, Vec<String>, String, String)> = sqlx::query_as(
        "SELECT user_id, role, capabilities, display_name, email FROM memberships
         WHERE organization_id = $1",
    )
    .bind(org.id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(roster.len(), 7);
    let finance_membership = roster.iter().find(|m| m.0 == org.finance).unwrap();
    assert_eq!(finance_membership.1, "member");
    assert_eq!(finance_membership.2, vec!["finance".to_owned()]);
    assert_eq!(finance_membership.3, format!("member {}", org.finance));

    // A role, capabilities, a name: each lands in both tables, and only the
    // member concerned is touched.
    let before = stamps(&db, "people_directory", &member_row(org.guest)).await;
    organization(
        &bus,
        &org,
        org.owner,
        OrganizationCommand::ChangeMemberRole {
            user_id: org.member,
            role: Role::Admin,
        },
    )
    .await;
    organization(
        &bus,
        &org,
        org.admin,
        OrganizationCommand::SetMemberCapabilities {
            user_id: org.member,
            capabilities: [Capability::Finance, Capability::ProductionManager].into(),
        },
    )
    .await;
    organization(
        &bus,
        &org,
        org.admin,
        OrganizationCommand::RenameOrganization {
            name: "People & Co".into(),
        },
    )
    .await;
    catch_up(&db, &engine, &projections()).await;
    let promoted = row_json(&db, "people_directory", &member_row(org.member))
        .await
        .unwrap();
    assert_eq!(promoted["role"], "admin");
    let (changed_at, changed_position) = last_of(&db, org.id, "MemberCapabilitiesChanged").await;
    let (created_at, updated_at, last_position) =
        stamps(&db, "people_directory", &member_row(org.member)).await;
    assert!(created_at < updated_at);
    assert_eq!((updated_at, last_position), (changed_at, changed_position));
    assert_eq!(
        stamps(&db, "people_directory", &member_row(org.guest)).await,
        before
    );
    let membership: (String, Vec<String>) = sqlx::query_as(
        "SELECT role, capabilities FROM memberships WHERE organization_id = $1 AND user_id = $2",
    )
    .bind(org.id)
    .bind(org.member)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        membership,
        (
            "admin".to_owned(),
            vec!["production_manager".to_owned(), "finance".to_owned()]
        )
    );
    let name: String = sqlx::query_scalar("SELECT name FROM organizations WHERE id = $1")
        .bind(org.id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(name, "People & Co");

    // Removed (the guest leaves): gone from both tables.
    organization(
        &bus,
        &org,
        org.guest,
        OrganizationCommand::RemoveMember { user_id: org.guest },
    )
    .await;
    catch_up(&db, &engine, &projections()).await;
    assert_eq!(
        row_json(&db, "people_directory", &member_row(org.guest)).await,
        None
    );
    let guests: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM memberships WHERE organization_id = $1 AND user_id = $2",
    )
    .bind(org.id)
    .bind(org.guest)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(guests, 0);

    // Back again: a new row from the time it was added again.
    organization(
        &bus,
        &org,
        org.admin,
        OrganizationCommand::AddMember {
            user_id: org.guest,
            display_name: "Guest again".into(),
            email: "guest@example.com".into(),
            role: Role::Guest,
            capabilities: BTreeSet::new(),
        },
    )
    .await;
    catch_up(&db, &engine, &projections()).await;
    let back = row_json(&db, "people_directory", &member_row(org.guest))
        .await
        .unwrap();
    assert_eq!(back["name"], "Guest again");
    assert_eq!(back["owner_id"], json!(org.admin));
    let (readded_at, readded_position) = last_of(&db, org.id, "MemberAdded").await;
    assert_eq!(
        stamps(&db, "people_directory", &member_row(org.guest)).await,
        (readded_at, readded_at, readded_position)
    );
}

#[tokio::test]
async fn companies_and_contacts_are_in_the_directory_until_deleted() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Contacts").await;
    let vendor = Uuid::new_v4();
    let (rigger, singer) = (Uuid::new_v4(), Uuid::new_v4());
    bus.execute::<Company>(
        &org.request(org.member),
        vendor,
        register(CompanyKind::Vendor, "Northern Rigging"),
        None,
    )
    .await
    .unwrap();
    for (id, command) in [
        (
            rigger,
            add_contact(ContactKind::CompanyContact, "Rita Rigger", Some(vendor)),
        ),
        (singer, add_contact(ContactKind::Talent, "Sam Singer", None)),
    ] {
        bus.execute::<Contact>(&org.request(org.member), id, command, None)
            .await
            .unwrap();
    }
    catch_up(&db, &engine, &projections()).await;

    let client = row_json(&db, "people_directory", &format!("Company:{}", org.client))
        .await
        .unwrap();
    assert_eq!(client["person_type"], "client");
    assert_eq!(client["entity_type"], "Company");
    assert_eq!(client["name"], "Acme Festivals");
    assert_eq!(client["owner_id"], json!(org.owner));
    let company = row_json(&db, "people_directory", &format!("Company:{vendor}"))
        .await
        .unwrap();
    assert_eq!(company["organization_id"], json!(org.id));
    assert_eq!(company["person_type"], "vendor");
    assert_eq!(company["entity_id"], json!(vendor));
    assert_eq!(company["name"], "Northern Rigging");
    assert_eq!(company["email"], "office@example.com");
    assert_eq!(company["phone"], "+1 555 0100");
    assert_eq!(company["visibility"], "organization");
    assert_eq!(company["owner_id"], json!(org.member));
    let contact = row_json(&db, "people_directory", &format!("Contact:{rigger}"))
        .await
        .unwrap();
    assert_eq!(contact["person_type"], "company_contact");
    assert_eq!(contact["entity_type"], "Contact");
    assert_eq!(contact["entity_id"], json!(rigger));
    assert_eq!(contact["name"], "Rita Rigger");
    assert_eq!(contact["job_title"], "Tour manager");
    assert_eq!(contact["company_id"], json!(vendor));
    assert_eq!(contact["company_name"], "Northern Rigging");
    assert_eq!(contact["visibility"], "private");
    assert_eq!(contact["owner_id"], json!(org.member));
    let talent = row_json(&db, "people_directory", &format!("Contact:{singer}"))
        .await
        .unwrap();
    assert_eq!(talent["person_type"], "talent");
    assert_eq!(talent["company_id"], Value::Null);
    assert_eq!(talent["company_name"], Value::Null);
    let (first, last, position) = stream(&db, rigger).await;
    assert_eq!(
        stamps(&db, "people_directory", &format!("Contact:{rigger}")).await,
        (first, last, position)
    );

    // The full-text index finds people by name.
    let found: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM people_directory
         WHERE organization_id = $1 AND to_tsvector('simple', name) @@ to_tsquery('simple', 'rita')",
    )
    .bind(org.id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(found, vec!["Rita Rigger".to_owned()]);

    // The company's new name and kind reach its row and its contact's.
    bus.execute::<Company>(
        &org.request(org.member),
        vendor,
        CompanyCommand::UpdateCompany {
            name: Some("Northern Rigging Ltd".into()),
            kind: Some(CompanyKind::Partner),
            website: None,
            email: None,
            phone: None,
        },
        None,
    )
    .await
    .unwrap();
    bus.execute::<Contact>(
        &org.request(org.member),
        singer,
        ContactCommand::UpdateContact {
            name: Some("Sam Singer-Songwriter".into()),
            phone: Some("+1 555 0199".into()),
            title: None,
        },
        None,
    )
    .await
    .unwrap();
    catch_up(&db, &engine, &projections()).await;
    let company = row_json(&db, "people_directory", &format!("Company:{vendor}"))
        .await
        .unwrap();
    assert_eq!(company["name"], "Northern Rigging Ltd");
    assert_eq!(company["person_type"], "partner");
    let contact = row_json(&db, "people_directory", &format!("Contact:{rigger}"))
        .await
        .unwrap();
    assert_eq!(contact["company_name"], "Northern Rigging Ltd");
    let talent = row_json(&db, "people_directory", &format!("Contact:{singer}"))
        .await
        .unwrap();
    assert_eq!(talent["name"], "Sam Singer-Songwriter");
    assert_eq!(talent["phone"], "+1 555 0199");

    // Deleted: the contact leaves; the company leaves, and its contact no
    // longer shows its name.
    bus.execute::<Contact>(
        &org.request(org.admin),
        singer,
        ContactCommand::DeleteContact,
        None,
    )
    .await
    .unwrap();
    bus.execute::<Company>(
        &org.request(org.admin),
        vendor,
        CompanyCommand::DeleteCompany,
        None,
    )
    .await
    .unwrap();
    catch_up(&db, &engine, &projections()).await;
    assert_eq!(
        row_json(&db, "people_directory", &format!("Contact:{singer}")).await,
        None
    );
    assert_eq!(
        row_json(&db, "people_directory", &format!("Company:{vendor}")).await,
        None
    );
    let contact = row_json(&db, "people_directory", &format!("Contact:{rigger}"))
        .await
        .unwrap();
    assert_eq!(contact["company_id"], json!(vendor));
    assert_eq!(contact["company_name"], Value::Null);
}

/// Every row of the four tables, as JSON in a stable order.
async fn snapshot(db: &TestDb) -> Vec<Value> {
    let mut tables = Vec::new();
    for table in [
        "financial_ledger",
        "people_directory",
        "organizations",
        "memberships",
    ] {
        tables.push(table_json(db, table).await);
    }
    tables
}

#[tokio::test]
async fn a_rebuild_gives_the_same_rows() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Rebuild").await;
    catch_up(&db, &engine, &projections()).await;

    // A bit of everything, projected a command at a time.
    let paid = Uuid::new_v4();
    invoice(
        &bus,
        &org,
        org.member,
        paid,
        draft_invoice("INV-9", org.client),
    )
    .await;
    invoice(&bus, &org, org.member, paid, invoice_line(5)).await;
    catch_up(&db, &engine, &projections()).await;
    let issue = InvoiceCommand::IssueInvoice { issued_on: day(1) };
    invoice(&bus, &org, org.finance, paid, issue).await;
    catch_up(&db, &engine, &projections()).await;
    let pay = InvoiceCommand::RecordPayment {
        payment_id: Uuid::new_v4(),
        amount: 2_00,
        paid_on: day(3),
        method: "card".into(),
        reference: None,
    };
    invoice(&bus, &org, org.finance, paid, pay).await;
    let spent = Uuid::new_v4();
    expense(
        &bus,
        &org,
        org.member,
        spent,
        record_expense(ExpenseKind::TalentPayment, 80_00, Some(org.event)),
    )
    .await;
    catch_up(&db, &engine, &projections()).await;
    expense(&bus, &org, org.member, spent, ExpenseCommand::SubmitExpense).await;
    let gone = Uuid::new_v4();
    expense(
        &bus,
        &org,
        org.member,
        gone,
        record_expense(ExpenseKind::Expense, 1_00, None),
    )
    .await;
    catch_up(&db, &engine, &projections()).await;
    expense(&bus, &org, org.member, gone, ExpenseCommand::DeleteExpense).await;
    let (approved, cancelled) = (Uuid::new_v4(), Uuid::new_v4());
    for id in [approved, cancelled] {
        advance(
            &bus,
            &org,
            org.member,
            id,
            create_advance("ADV-R", org.event),
        )
        .await;
        advance(
            &bus,
            &org,
            org.member,
            id,
            add_item(Some(org.client), 1, 99_00),
        )
        .await;
        catch_up(&db, &engine, &projections()).await;
        let submit = ProductionAdvanceCommand::SubmitForApproval;
        advance(&bus, &org, org.member, id, submit).await;
        catch_up(&db, &engine, &projections()).await;
    }
    let cancel = ProductionAdvanceCommand::CancelAdvance {
        reason: "Rained off".into(),
    };
    advance(&bus, &org, org.member, cancelled, cancel).await;
    let vendor = Uuid::new_v4();
    bus.execute::<Company>(
        &org.request(org.member),
        vendor,
        register(CompanyKind::Vendor, "Sound Co"),
        None,
    )
    .await
    .unwrap();
    catch_up(&db, &engine, &projections()).await;
    for (name, company) in [("Cara Contact", Some(vendor)), ("Tina Talent", None)] {
        let kind = match company {
            Some(_) => ContactKind::CompanyContact,
            None => ContactKind::Talent,
        };
        bus.execute::<Contact>(
            &org.request(org.member),
            Uuid::new_v4(),
            add_contact(kind, name, company),
            None,
        )
        .await
        .unwrap();
        catch_up(&db, &engine, &projections()).await;
    }
    bus.execute::<Company>(
        &org.request(org.member),
        vendor,
        CompanyCommand::UpdateCompany {
            name: Some("Sound Company".into()),
            kind: None,
            website: None,
            email: None,
            phone: None,
        },
        None,
    )
    .await
    .unwrap();
    catch_up(&db, &engine, &projections()).await;
    organization(
        &bus,
        &org,
        org.owner,
        OrganizationCommand::RemoveMember { user_id: org.guest },
    )
    .await;
    catch_up(&db, &engine, &projections()).await;
    organization(
        &bus,
        &org,
        org.owner,
        OrganizationCommand::AddMember {
            user_id: org.guest,
            display_name: "Returning guest".into(),
            email: "back@example.com".into(),
            role: Role::Guest,
            capabilities: BTreeSet::new(),
        },
    )
    .await;
    catch_up(&db, &engine, &projections()).await;
    organization(
        &bus,
        &org,
        org.owner,
        OrganizationCommand::ChangeMemberRole {
            user_id: org.guest,
            role: Role::Member,
        },
    )
    .await;
    organization(
        &bus,
        &org,
        org.owner,
        OrganizationCommand::RemoveMember {
            user_id: org.event_director,
        },
    )
    .await;
    catch_up(&db, &engine, &projections()).await;

    let live = snapshot(&db).await;
    assert!(live[0].as_array().unwrap().len() >= 5, "{}", live[0]);
    assert!(live[1].as_array().unwrap().len() >= 9, "{}", live[1]);

    // Rebuilt from scratch, in one batch and in batches of three events.
    for batch_size in [1_000, 3] {
        for projection in projections() {
            rebuild_from_scratch(&db, projection, batch_size).await;
        }
        let again = snapshot(&db).await;
        for (table, (live, again)) in live.iter().zip(&again).enumerate() {
            assert_eq!(live, again, "table {table} with batches of {batch_size}");
        }
    }
}
