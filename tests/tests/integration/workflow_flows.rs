//! Each flow of step 9 end to end: commands through the real bus, the
//! workflow run by the engine over the real feed, its commands (and timers)
//! sent by the dispatcher, and what they did read back from the store and
//! the read tables.

use chrono::{Days, NaiveDate, Utc};
use foldline_aggregates::company::{Company, CompanyCommand, CompanyKind, Relationship};
use foldline_aggregates::contract::{Contract, ContractCommand, ContractTerms, PaymentTerm};
use foldline_aggregates::document::{Document, DocumentCommand, DocumentKind};
use foldline_aggregates::event::EventStatus;
use foldline_aggregates::invoice::{Direction, Invoice, InvoiceCommand, InvoiceStatus};
use foldline_aggregates::production_advance::{
    AdvanceStatus, ItemCategory, ItemStatus, ProductionAdvance, ProductionAdvanceCommand,
};
use foldline_aggregates::reference::EntityRef;
use foldline_aggregates::store::Loaded;
use foldline_aggregates::task::{Task, TaskCommand, TaskStatus};
use foldline_aggregates::workflow_kind::WorkflowKind;
use foldline_aggregates::CommandBus;
use foldline_projectors::Engine;
use foldline_tests::commands::{create_advance, draft_invoice, invoice_line};
use foldline_tests::read_side::{catch_up_all, row_json};
use foldline_tests::{Org, TestDb};
use foldline_workflows::workflow::start_of;
use serde_json::Value;
use uuid::Uuid;

use foldline_workflows::Dispatcher;

use crate::command_bus::{wait_for_blocked_inserts, InsertGate};
use crate::workflows::{react, run_workflows, switch_on};

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// `org`'s workflow commands of `workflow`: (command, timer, status, when
/// due), oldest first.
async fn decided(
    db: &TestDb,
    org: &Org,
    workflow: WorkflowKind,
) -> Vec<(String, Option<String>, String, chrono::DateTime<Utc>)> {
    sqlx::query_as(
        "SELECT command_name, timer, status, next_attempt_at FROM workflow_commands
         WHERE organization_id = $1 AND workflow = $2 ORDER BY created_at, key",
    )
    .bind(org.id)
    .bind(workflow.name())
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

/// What became of `org`'s commands of `workflow`: (command, status).
#[derive(Debug)]
struct Outcomes(Vec<(String, String)>);

impl Outcomes {
    async fn of(db: &TestDb, org: &Org, workflow: WorkflowKind) -> Outcomes {
        let decided = decided(db, org, workflow).await;
        Outcomes(
            decided
                .into_iter()
                .map(|(name, _, status, _)| (name, status))
                .collect(),
        )
    }

    /// How many `name` commands ended `status`.
    fn count(&self, name: &str, status: &str) -> usize {
        self.0
            .iter()
            .filter(|(n, s)| n == name && s == status)
            .count()
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// The tasks of `org` created by `workflow`'s actor: (title, payload).
async fn tasks_by(db: &TestDb, org: &Org, workflow: WorkflowKind) -> Vec<(String, Value)> {
    sqlx::query_as(
        "SELECT payload -> 'TaskCreated' ->> 'title', payload -> 'TaskCreated' FROM events
         WHERE organization_id = $1 AND event_type = 'TaskCreated'
           AND metadata ->> 'actor_id' = $2
         ORDER BY global_position",
    )
    .bind(org.id)
    .bind(workflow.actor_id(org.id).to_string())
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

async fn invoice(bus: &CommandBus, org: &Org, id: Uuid, command: InvoiceCommand) {
    bus.execute::<Invoice>(&org.request(org.finance), id, command, None)
        .await
        .unwrap();
}

/// An invoice to `org`'s client for 10.00, due `due_on`, issued the day
/// before.
async fn issued_invoice(bus: &CommandBus, org: &Org, number: &str, due_on: NaiveDate) -> Uuid {
    issued_invoice_to(bus, org, org.client, number, due_on).await
}

/// [`issued_invoice`], to the company `client`.
async fn issued_invoice_to(
    bus: &CommandBus,
    org: &Org,
    client: Uuid,
    number: &str,
    due_on: NaiveDate,
) -> Uuid {
    let id = Uuid::new_v4();
    let mut draft = draft_invoice(number, client);
    if let InvoiceCommand::DraftInvoice { due_on: due, .. } = &mut draft {
        *due = due_on;
    }
    invoice(bus, org, id, draft).await;
    invoice(bus, org, id, invoice_line(10)).await;
    let issued_on = due_on.pred_opt().unwrap();
    invoice(bus, org, id, InvoiceCommand::IssueInvoice { issued_on }).await;
    id
}

/// Pays the 10.00 of an invoice of [`issued_invoice`].
async fn pay_in_full(bus: &CommandBus, org: &Org, id: Uuid) {
    let payment = InvoiceCommand::RecordPayment {
        payment_id: Uuid::new_v4(),
        amount: 1000,
        paid_on: today(),
        method: "card".into(),
        reference: None,
    };
    invoice(bus, org, id, payment).await;
}

async fn load<A: foldline_aggregates::domain::DomainAggregate>(bus: &CommandBus, id: Uuid) -> A
where
    A::Command: foldline_aggregates::domain::DomainCommand,
{
    let loaded: Loaded<A> = bus.store().load(&id.to_string()).await.unwrap();
    loaded.aggregate
}

#[tokio::test]
async fn an_invoice_unpaid_after_its_due_date_is_marked_overdue_once_and_chased() {
    const FLOW: WorkflowKind = WorkflowKind::InvoiceReminders;
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Overdue").await;
    switch_on(&bus, &org, FLOW).await;
    let yesterday = today().pred_opt().unwrap();
    let late = issued_invoice(&bus, &org, "INV-LATE", yesterday).await;

    // The timer is decided with the workflow's checkpoint, for the start of
    // the day after the due date: today, so it is due. No dispatcher runs
    // yet, as if the service were down when it came due.
    run_workflows(&db).await;
    assert_eq!(
        decided(&db, &org, FLOW).await,
        [(
            "MarkInvoiceOverdue".into(),
            Some("overdue".into()),
            "pending".into(),
            start_of(today())
        )]
    );
    // Started, the dispatcher sends it once, however often it looks.
    assert_eq!(react(&db, &bus).await, 1);
    assert_eq!(react(&db, &bus).await, 1, "the reminder task");
    assert_eq!(react(&db, &bus).await, 0);
    assert_eq!(
        load::<Invoice>(&bus, late).await.status,
        InvoiceStatus::Overdue
    );
    let overdue_events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_id = $1 AND event_type = 'InvoiceOverdue'",
    )
    .bind(late.to_string())
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(overdue_events, 1);

    // The ledger shows it, and the owner has a task to chase it.
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let row = row_json(&db, "financial_ledger", &format!("Invoice:{late}"))
        .await
        .unwrap();
    assert_eq!(row["status"], "overdue");
    let tasks = tasks_by(&db, &org, FLOW).await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(
        tasks[0].0,
        "Chase payment of invoice INV-LATE from Acme Festivals"
    );
    assert_eq!(tasks[0].1["assignee"], org.finance.to_string());
    assert_eq!(tasks[0].1["priority"], "high");
    let emails: Vec<(String, Value)> =
        sqlx::query_as("SELECT topic, payload FROM outbox WHERE organization_id = $1")
            .bind(org.id)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(emails.len(), 1, "the client's reminder");
    assert_eq!(emails[0].0, "invoice.overdue");
    assert_eq!(emails[0].1["number"], "INV-LATE");

    // A vendor's bill overdue: a task to pay it, and no e-mail to anyone.
    let bill = Uuid::new_v4();
    let mut draft = draft_invoice("BILL-LATE", org.client);
    if let InvoiceCommand::DraftInvoice {
        due_on, direction, ..
    } = &mut draft
    {
        *due_on = yesterday;
        *direction = Direction::Payable;
    }
    invoice(&bus, &org, bill, draft).await;
    invoice(&bus, &org, bill, invoice_line(10)).await;
    let issued_on = yesterday.pred_opt().unwrap();
    invoice(&bus, &org, bill, InvoiceCommand::IssueInvoice { issued_on }).await;
    assert_eq!(react(&db, &bus).await, 1);
    assert_eq!(react(&db, &bus).await, 1);
    let tasks = tasks_by(&db, &org, FLOW).await;
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[1].0, "Pay invoice BILL-LATE to Acme Festivals");
    let messages: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE organization_id = $1")
            .bind(org.id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(messages, 1);
}

#[tokio::test]
async fn an_overdue_timer_moves_with_the_due_date_and_goes_when_the_invoice_is_paid() {
    const FLOW: WorkflowKind = WorkflowKind::InvoiceReminders;
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Not yet due").await;
    switch_on(&bus, &org, FLOW).await;
    let due_on = today().checked_add_days(Days::new(20)).unwrap();
    let id = issued_invoice(&bus, &org, "INV-FUTURE", due_on).await;

    // Not due: waiting, and not sent.
    assert_eq!(react(&db, &bus).await, 0);
    let day_after = |d: NaiveDate| start_of(d.succ_opt().unwrap());
    assert_eq!(
        decided(&db, &org, FLOW).await,
        [(
            "MarkInvoiceOverdue".into(),
            Some("overdue".into()),
            "pending".into(),
            day_after(due_on)
        )]
    );

    // The due date moves: the old timer is cancelled, a new one waits.
    let moved = due_on.checked_add_days(Days::new(10)).unwrap();
    invoice(
        &bus,
        &org,
        id,
        InvoiceCommand::ChangeDueDate { due_on: moved },
    )
    .await;
    assert_eq!(react(&db, &bus).await, 0);
    let timers: Vec<(String, chrono::DateTime<Utc>)> = decided(&db, &org, FLOW)
        .await
        .into_iter()
        .map(|(_, _, status, at)| (status, at))
        .collect();
    assert_eq!(
        timers,
        [
            ("cancelled".into(), day_after(due_on)),
            ("pending".into(), day_after(moved))
        ]
    );

    // Paid in full: nothing is left waiting.
    pay_in_full(&bus, &org, id).await;
    assert_eq!(react(&db, &bus).await, 0);
    let statuses: Vec<String> = decided(&db, &org, FLOW)
        .await
        .into_iter()
        .map(|(_, _, status, _)| status)
        .collect();
    assert_eq!(statuses, ["cancelled", "cancelled"]);
}

#[tokio::test]
async fn a_paid_invoice_makes_its_company_a_client_and_a_follow_up_a_week_later() {
    const FLOW: WorkflowKind = WorkflowKind::InvoiceFollowUp;
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Follow-up").await;
    switch_on(&bus, &org, FLOW).await;
    let due_on = today().checked_add_days(Days::new(30)).unwrap();
    let id = issued_invoice(&bus, &org, "INV-PAID", due_on).await;
    assert_eq!(react(&db, &bus).await, 0, "nothing until it is paid");
    assert_eq!(
        load::<Company>(&bus, org.client).await.relationship,
        Relationship::Prospect
    );
    pay_in_full(&bus, &org, id).await;

    // The company at once; the follow-up waits a week from the payment.
    assert_eq!(react(&db, &bus).await, 1);
    assert_eq!(
        load::<Company>(&bus, org.client).await.relationship,
        Relationship::Active
    );
    let (paid_at,): (chrono::DateTime<Utc>,) = sqlx::query_as(
        "SELECT recorded_at FROM events WHERE aggregate_id = $1 AND event_type = 'InvoicePaid'",
    )
    .bind(id.to_string())
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let follow_up = decided(&db, &org, FLOW).await;
    assert_eq!(follow_up.len(), 2, "{follow_up:?}");
    assert_eq!(follow_up[1].0, "CreateTask");
    assert_eq!(follow_up[1].1.as_deref(), Some("follow up"));
    assert_eq!(follow_up[1].2, "pending");
    assert_eq!(follow_up[1].3, paid_at + Days::new(7));
    assert!(tasks_by(&db, &org, FLOW).await.is_empty());

    // A week passes (the timer's time is brought to now): the task opens,
    // once.
    sqlx::query(
        "UPDATE workflow_commands SET next_attempt_at = now()
         WHERE organization_id = $1 AND timer = 'follow up'",
    )
    .bind(org.id)
    .execute(&db.pool)
    .await
    .unwrap();
    assert_eq!(react(&db, &bus).await, 1);
    assert_eq!(react(&db, &bus).await, 0);
    let tasks = tasks_by(&db, &org, FLOW).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        tasks[0].0,
        "Follow up with Acme Festivals after invoice INV-PAID was paid"
    );
    assert_eq!(tasks[0].1["assignee"], org.finance.to_string());

    // A second invoice paid by the same client: already active, which is no
    // failure.
    let again = issued_invoice(&bus, &org, "INV-AGAIN", due_on).await;
    pay_in_full(&bus, &org, again).await;
    assert_eq!(react(&db, &bus).await, 1);
    let relationship: Vec<String> = decided(&db, &org, FLOW)
        .await
        .into_iter()
        .filter(|(name, ..)| name == "SetCompanyRelationship")
        .map(|(_, _, status, _)| status)
        .collect();
    assert_eq!(relationship, ["sent", "cancelled"]);
}

#[tokio::test]
async fn a_document_near_its_expiry_gets_a_renewal_task_for_its_owner() {
    const FLOW: WorkflowKind = WorkflowKind::DocumentRenewal;
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Renewal").await;
    switch_on(&bus, &org, FLOW).await;
    let upload = |title: &str, expires_on: NaiveDate| DocumentCommand::UploadDocument {
        linked_to: EntityRef {
            entity_type: "Event".into(),
            entity_id: org.event,
        },
        kind: DocumentKind::Rider,
        title: title.to_owned(),
        url: "https://files.example/rider.pdf".into(),
        size_bytes: 1024,
        mime_type: None,
        expires_on: Some(expires_on),
        visibility: Default::default(),
    };
    let soon = today().checked_add_days(Days::new(10)).unwrap();
    let later = today().checked_add_days(Days::new(100)).unwrap();
    let (insurance, permit) = (Uuid::new_v4(), Uuid::new_v4());
    for (id, command) in [
        (insurance, upload("Insurance", soon)),
        (permit, upload("Permit", later)),
    ] {
        bus.execute::<Document>(&org.request(org.member), id, command, None)
            .await
            .unwrap();
    }

    // Inside the 30 days: the task opens at once, on the document's event.
    assert_eq!(react(&db, &bus).await, 1);
    let tasks = tasks_by(&db, &org, FLOW).await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0].0, "Renew “Insurance”");
    assert_eq!(tasks[0].1["assignee"], org.member.to_string());
    assert_eq!(tasks[0].1["event_id"], org.event.to_string());
    assert_eq!(
        tasks[0].1["due_at"],
        serde_json::to_value(start_of(soon)).unwrap()
    );

    // The other waits for 30 days before its expiry; clearing the expiry
    // cancels it.
    let waiting: Vec<_> = decided(&db, &org, FLOW)
        .await
        .into_iter()
        .filter(|(_, _, status, _)| status == "pending")
        .map(|(_, _, _, at)| at)
        .collect();
    assert_eq!(
        waiting,
        [start_of(later.checked_sub_days(Days::new(30)).unwrap())]
    );
    bus.execute::<Document>(
        &org.request(org.member),
        permit,
        DocumentCommand::SetDocumentExpiry { expires_on: None },
        None,
    )
    .await
    .unwrap();
    assert_eq!(react(&db, &bus).await, 0);
    let mut statuses: Vec<String> = decided(&db, &org, FLOW)
        .await
        .into_iter()
        .map(|(_, _, status, _)| status)
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["cancelled", "sent"]);
    assert_eq!(tasks_by(&db, &org, FLOW).await.len(), 1);
}

#[tokio::test]
async fn an_approved_advance_is_completed_when_its_last_item_is() {
    const FLOW: WorkflowKind = WorkflowKind::AdvanceCompletion;
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Completion").await;
    switch_on(&bus, &org, FLOW).await;
    let id = Uuid::new_v4();
    let (stage, lights) = (Uuid::new_v4(), Uuid::new_v4());
    let item = |item_id| ProductionAdvanceCommand::AddItem {
        item_id,
        name: "Kit".into(),
        category: ItemCategory::Technical,
        vendor_id: None,
        quantity_required: 1,
        unit_cost: 10_00,
        schedule: Default::default(),
        critical_path: false,
        depends_on: Default::default(),
    };
    let complete = |item_id| ProductionAdvanceCommand::ChangeItemStatus {
        item_id,
        status: ItemStatus::Complete,
    };
    for command in [
        create_advance("ADV-DONE", org.event),
        item(stage),
        item(lights),
        // Small enough to be approved on submission.
        ProductionAdvanceCommand::SubmitForApproval,
        complete(stage),
    ] {
        bus.execute::<ProductionAdvance>(&org.request(org.member), id, command, None)
            .await
            .unwrap();
    }
    assert_eq!(react(&db, &bus).await, 0, "one item is still open");
    bus.execute::<ProductionAdvance>(&org.request(org.member), id, complete(lights), None)
        .await
        .unwrap();
    assert_eq!(react(&db, &bus).await, 1);
    assert_eq!(react(&db, &bus).await, 0);
    let advance = load::<ProductionAdvance>(&bus, id).await;
    assert_eq!(advance.status, AdvanceStatus::Completed);
    let (actor,): (String,) = sqlx::query_as(
        "SELECT metadata ->> 'actor_id' FROM events
         WHERE aggregate_id = $1 AND event_type = 'AdvanceCompleted'",
    )
    .bind(id.to_string())
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(actor, FLOW.actor_id(org.id).to_string());
}

#[tokio::test]
async fn a_submitted_advance_gets_approval_tasks_step_by_step() {
    const FLOW: WorkflowKind = WorkflowKind::AdvanceApproval;
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Approval routing").await;
    switch_on(&bus, &org, FLOW).await;
    let id = Uuid::new_v4();
    let as_member = |user: Uuid, command: ProductionAdvanceCommand| {
        let bus = bus.clone();
        let request = org.request(user);
        async move {
            bus.execute::<ProductionAdvance>(&request, id, command, None)
                .await
                .unwrap();
        }
    };
    as_member(org.member, create_advance("ADV-BIG", org.event)).await;
    as_member(
        org.member,
        ProductionAdvanceCommand::AddItem {
            item_id: Uuid::new_v4(),
            name: "LED wall".into(),
            category: ItemCategory::Technical,
            vendor_id: None,
            quantity_required: 1,
            // Above 5,000.00: the production manager, then the event director.
            unit_cost: 10_000_00,
            schedule: Default::default(),
            critical_path: false,
            depends_on: Default::default(),
        },
    )
    .await;
    as_member(org.member, ProductionAdvanceCommand::SubmitForApproval).await;

    // The first step: a task for the production manager, and no one else.
    assert_eq!(react(&db, &bus).await, 1);
    let tasks = tasks_by(&db, &org, FLOW).await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0].0, "Approve advance ADV-BIG as production manager");
    assert_eq!(tasks[0].1["assignee"], org.production_manager.to_string());
    assert_eq!(tasks[0].1["event_id"], org.event.to_string());
    let first_task: Uuid = tasks[0].1["task_id"].as_str().unwrap().parse().unwrap();

    // The manager ticks the task, then approves: the workflow's closing of
    // it is not needed, and is no failure; the director's task opens.
    bus.execute::<Task>(
        &org.request(org.production_manager),
        first_task,
        TaskCommand::CompleteTask,
        None,
    )
    .await
    .unwrap();
    as_member(org.production_manager, ProductionAdvanceCommand::Approve).await;
    assert_eq!(react(&db, &bus).await, 2);
    let tasks = tasks_by(&db, &org, FLOW).await;
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[1].0, "Approve advance ADV-BIG as event director");
    assert_eq!(tasks[1].1["assignee"], org.event_director.to_string());
    let second_task: Uuid = tasks[1].1["task_id"].as_str().unwrap().parse().unwrap();

    // The director approves: the advance is approved and the task closed
    // by the workflow.
    as_member(org.event_director, ProductionAdvanceCommand::Approve).await;
    assert_eq!(react(&db, &bus).await, 1);
    assert_eq!(react(&db, &bus).await, 0);
    assert_eq!(
        load::<ProductionAdvance>(&bus, id).await.status,
        AdvanceStatus::Approved
    );
    assert_eq!(
        load::<Task>(&bus, second_task).await.status,
        TaskStatus::Done
    );
    let outcomes = Outcomes::of(&db, &org, FLOW).await;
    let count = |name: &str, status: &str| outcomes.count(name, status);
    assert_eq!(count("CreateTask", "sent"), 2, "{outcomes:?}");
    assert_eq!(count("CompleteTask", "sent"), 1, "{outcomes:?}");
    assert_eq!(count("CompleteTask", "cancelled"), 1, "{outcomes:?}");
    assert_eq!(outcomes.len(), 4, "nothing failed: {outcomes:?}");
}

/// Drafts, sends and signs (today) a contract with `org`'s client for
/// 10,000.00 on `org`'s event, paid as `payment_terms` say; gives its id.
async fn signed_contract(
    bus: &CommandBus,
    org: &Org,
    title: &str,
    payment_terms: Vec<PaymentTerm>,
) -> Uuid {
    let id = Uuid::new_v4();
    let terms = ContractTerms {
        title: title.into(),
        value: 10_000_00,
        starts_on: None,
        expires_on: None,
        document_url: None,
        event_id: Some(org.event),
        payment_terms,
    };
    let steps = [
        (
            org.member,
            ContractCommand::DraftContract {
                counterparty_id: org.client,
                counterparty_name: "Acme Festivals".into(),
                currency: Default::default(),
                terms,
                visibility: Default::default(),
            },
        ),
        (org.member, ContractCommand::SendContract),
        (
            org.admin,
            ContractCommand::SignContract {
                signed_by: "A. Acme".into(),
                signed_on: today(),
            },
        ),
    ];
    for (actor, command) in steps {
        bus.execute::<Contract>(&org.request(actor), id, command, None)
            .await
            .unwrap();
    }
    id
}

/// Reacts until nothing more is due; gives how many rounds sent something.
async fn react_fully(db: &TestDb, bus: &CommandBus) -> usize {
    let mut rounds = 0;
    while react(db, bus).await > 0 {
        rounds += 1;
        assert!(rounds < 10, "the workflows never settled");
    }
    rounds
}

#[tokio::test]
async fn a_signed_contract_confirms_its_event_and_drafts_its_invoices() {
    const FLOW: WorkflowKind = WorkflowKind::ContractSigned;
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Contracts").await;
    switch_on(&bus, &org, FLOW).await;
    let pay = |label: &str, percent, due_days| PaymentTerm {
        label: label.into(),
        percent,
        due_days,
    };

    // An event that is not the organization's cannot be named.
    let elsewhere = Org::create(&bus, "Elsewhere").await;
    let refused = bus
        .execute::<Contract>(
            &org.request(org.member),
            Uuid::new_v4(),
            ContractCommand::DraftContract {
                counterparty_id: org.client,
                counterparty_name: "Acme Festivals".into(),
                currency: Default::default(),
                terms: ContractTerms {
                    title: "Elsewhere".into(),
                    value: 1,
                    starts_on: None,
                    expires_on: None,
                    document_url: None,
                    event_id: Some(elsewhere.event),
                    payment_terms: Vec::new(),
                },
                visibility: Default::default(),
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("does not exist in the organization"),
        "{refused}"
    );

    assert_eq!(
        load::<foldline_aggregates::event::Event>(&bus, org.event)
            .await
            .status,
        EventStatus::Planning
    );
    let contract = signed_contract(
        &bus,
        &org,
        "Festival production",
        vec![pay("Deposit", 33, 0), pay("Balance", 67, 30)],
    )
    .await;
    react_fully(&db, &bus).await;

    assert_eq!(
        load::<foldline_aggregates::event::Event>(&bus, org.event)
            .await
            .status,
        EventStatus::Confirmed
    );
    let drafted: Vec<(String, Value)> = sqlx::query_as(
        "SELECT aggregate_id, payload -> 'InvoiceDrafted' FROM events
         WHERE organization_id = $1 AND event_type = 'InvoiceDrafted'
           AND metadata ->> 'actor_id' = $2
         ORDER BY payload -> 'InvoiceDrafted' ->> 'number'",
    )
    .bind(org.id)
    .bind(FLOW.actor_id(org.id).to_string())
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(drafted.len(), 2, "{drafted:?}");
    let series = &contract.to_string()[..8];
    let mut total = 0;
    for ((id, draft), (n, due_on, amount, label)) in drafted.iter().zip([
        (1, today(), 3_300_00, "Deposit"),
        (2, today() + Days::new(30), 6_700_00, "Balance"),
    ]) {
        assert_eq!(draft["number"], format!("C-{series}-{n}"));
        assert_eq!(
            draft["owner_id"],
            org.member.to_string(),
            "the contract's owner's"
        );
        assert_eq!(draft["counterparty_id"], org.client.to_string());
        let invoice = load::<Invoice>(&bus, id.parse().unwrap()).await;
        assert_eq!(invoice.status, InvoiceStatus::Draft);
        assert_eq!(invoice.due_on, Some(due_on));
        assert_eq!(invoice.total().unwrap(), amount);
        assert_eq!(
            invoice.lines[0].description,
            format!("Festival production: {label}")
        );
        total += amount;
    }
    assert_eq!(total, 10_000_00, "the schedule bills the whole value");

    // A second contract on the event, now confirmed: nothing to confirm,
    // which is no failure; its invoices are its own.
    signed_contract(&bus, &org, "Encore", vec![pay("In full", 100, 14)]).await;
    react_fully(&db, &bus).await;
    let outcomes = Outcomes::of(&db, &org, FLOW).await;
    let count = |name: &str, status: &str| outcomes.count(name, status);
    assert_eq!(count("ConfirmEvent", "sent"), 1, "{outcomes:?}");
    assert_eq!(count("ConfirmEvent", "cancelled"), 1, "{outcomes:?}");
    assert_eq!(count("DraftInvoice", "sent"), 3, "{outcomes:?}");
    assert_eq!(count("AddInvoiceLine", "sent"), 3, "{outcomes:?}");
    assert_eq!(outcomes.len(), 8, "{outcomes:?}");
}

#[tokio::test]
async fn a_workflow_command_that_loses_a_race_for_its_aggregate_is_decided_again_at_once() {
    const FLOW: WorkflowKind = WorkflowKind::InvoiceFollowUp;
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Race").await;
    switch_on(&bus, &org, FLOW).await;
    let due_on = today().checked_add_days(Days::new(30)).unwrap();
    // Which of two commands held at their insert appends first is a race:
    // rounds go on until the person's command wins it once.
    for round in 0..40 {
        // A new client each round, one the workflow's command changes.
        let client = Uuid::new_v4();
        let register = CompanyCommand::RegisterCompany {
            kind: CompanyKind::Client,
            name: format!("Client {round}"),
            website: None,
            email: None,
            phone: None,
            office: None,
            visibility: Default::default(),
        };
        bus.execute::<Company>(&org.request(org.member), client, register, None)
            .await
            .unwrap();
        let id = issued_invoice_to(&bus, &org, client, &format!("INV-RACE-{round}"), due_on).await;
        pay_in_full(&bus, &org, id).await;
        run_workflows(&db).await;

        let gate = InsertGate::close(&db).await;
        let person = {
            let (bus, request) = (bus.clone(), org.request(org.member));
            tokio::spawn(async move {
                let update = CompanyCommand::UpdateCompany {
                    name: None,
                    kind: None,
                    website: None,
                    email: None,
                    phone: Some(format!("+1 555 01{round:02}")),
                };
                bus.execute::<Company>(&request, client, update, None).await
            })
        };
        // The person's insert waits first, so that it is woken first: the
        // odds favour it.
        wait_for_blocked_inserts(&db, 1).await;
        let dispatcher = {
            let dispatcher = Dispatcher::new(db.pool.clone(), bus.clone());
            tokio::spawn(async move { dispatcher.dispatch_due().await })
        };
        gate.open_when_waited_on(&db, 2).await;
        let person_won = person.await.unwrap().is_ok();
        dispatcher.await.unwrap().unwrap();

        // However the race went, the workflow's command was settled in one
        // send, not put off.
        let (status, attempts): (String, i32) = sqlx::query_as(
            "SELECT c.status, c.attempts FROM workflow_commands c
             JOIN events e ON e.global_position = c.caused_at
             WHERE c.organization_id = $1 AND c.command_name = 'SetCompanyRelationship'
               AND e.aggregate_id = $2",
        )
        .bind(org.id)
        .bind(id.to_string())
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(status, "sent", "round {round}");
        assert_eq!(attempts, 1, "round {round}");
        if person_won {
            // The workflow's command lost the race and was decided again.
            assert_eq!(
                load::<Company>(&bus, client).await.relationship,
                Relationship::Active
            );
            return;
        }
    }
    panic!("the person's command never won the race");
}
