//! The command bus against a real event store: authorization, tenancy,
//! concurrency, and what is appended when a command is refused.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use foldline_aggregates::contract::{Contract, ContractCommand, ContractTerms};
use foldline_aggregates::invoice::{Invoice, InvoiceCommand, InvoiceStatus};
use foldline_aggregates::organization::{Organization, OrganizationCommand};
use foldline_aggregates::production_advance::{
    AdvanceStatus, ItemCategory, ProductionAdvance, ProductionAdvanceCommand,
};
use foldline_aggregates::{BusError, Capability, DomainError, Loaded, Role};
use foldline_tests::eventually::eventually;
use foldline_tests::{Org, TestDb};
use sqlx::Connection;
use uuid::Uuid;

use foldline_tests::commands::{create_advance, draft_invoice, invoice_line};

#[tokio::test]
async fn racing_commands_one_wins_the_other_conflicts() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Race").await;
    let id = Uuid::new_v4();
    let request = org.request(org.member);
    bus.execute::<Invoice>(&request, id, draft_invoice("INV-R", org.client), None)
        .await
        .unwrap();
    let before = db.event_count().await;

    // Hold inserts back so both commands load version 1 before either appends.
    let gate = InsertGate::close(&db).await;
    let race = |quantity| {
        let bus = bus.clone();
        let request = request.clone();
        tokio::spawn(async move {
            bus.execute::<Invoice>(&request, id, invoice_line(quantity), None)
                .await
        })
    };
    let first = race(1);
    let second = race(2);
    gate.open_when_waited_on(&db, 2).await;

    let results = [first.await.unwrap(), second.await.unwrap()];
    let wins: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    let conflicts: Vec<_> = results
        .iter()
        .filter_map(|r| match r {
            Err(BusError::Conflict {
                expected, actual, ..
            }) => Some((*expected, *actual)),
            _ => None,
        })
        .collect();
    assert_eq!(wins.len(), 1, "{results:?}");
    assert_eq!(conflicts, vec![(1, 2)]);
    assert_eq!(wins[0].version, 2);
    assert_eq!(db.event_count().await, before + 1);
    let loaded: Loaded<Invoice> = bus.store().load(&id.to_string()).await.unwrap();
    assert_eq!(loaded.version, 2);
    assert_eq!(loaded.aggregate.lines.len(), 1);
}

/// A session holding back every insert into `events` (reads go on), so
/// that racing commands both load before either appends.
pub(crate) struct InsertGate(sqlx::PgConnection);

impl InsertGate {
    /// Holds inserts back from now.
    pub(crate) async fn close(db: &TestDb) -> InsertGate {
        let mut conn = sqlx::PgConnection::connect_with(&db.options).await.unwrap();
        sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
        sqlx::query("LOCK TABLE events IN EXCLUSIVE MODE")
            .execute(&mut conn)
            .await
            .unwrap();
        InsertGate(conn)
    }

    /// Lets them go once `count` sessions wait at it.
    pub(crate) async fn open_when_waited_on(mut self, db: &TestDb, count: i64) {
        wait_for_blocked_inserts(db, count).await;
        sqlx::query("COMMIT").execute(&mut self.0).await.unwrap();
    }
}

/// Waits until `count` sessions are held up by a lock.
pub(crate) async fn wait_for_blocked_inserts(db: &TestDb, count: i64) {
    eventually("the racing commands never reached their insert", || async {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        (waiting >= count).then_some(())
    })
    .await
}

#[tokio::test]
async fn a_stale_expected_version_is_a_conflict() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Stale").await;
    let id = Uuid::new_v4();
    let request = org.request(org.member);
    bus.execute::<Invoice>(&request, id, draft_invoice("INV-V", org.client), None)
        .await
        .unwrap();
    bus.execute::<Invoice>(&request, id, invoice_line(1), Some(1))
        .await
        .unwrap();
    let before = db.event_count().await;
    let error = bus
        .execute::<Invoice>(&request, id, invoice_line(1), Some(1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            BusError::Conflict {
                expected: 1,
                actual: 2,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("expected version 1, found 2"));
    assert_eq!(db.event_count().await, before);
}

#[tokio::test]
async fn another_organizations_aggregate_is_not_found_and_nothing_is_appended() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let a = Org::create(&bus, "A").await;
    let b = Org::create(&bus, "B").await;
    let invoice = Uuid::new_v4();
    bus.execute::<Invoice>(
        &a.request(a.member),
        invoice,
        draft_invoice("A-1", a.client),
        None,
    )
    .await
    .unwrap();
    let before = db.event_count().await;

    // B's owner, acting in B, sends a command to A's invoice.
    let error = bus
        .execute::<Invoice>(&b.request(b.owner), invoice, invoice_line(1), None)
        .await
        .unwrap_err();
    assert!(matches!(error, BusError::NotFound { .. }), "{error}");

    // B's owner claims to act in A.
    let mut claim = b.request(b.owner);
    claim.organization_id = a.id;
    let error = bus
        .execute::<Invoice>(&claim, invoice, invoice_line(1), None)
        .await
        .unwrap_err();
    assert!(matches!(error, BusError::NotMember { .. }), "{error}");

    // B's owner tries to add themselves to A, in A's name and in B's.
    let join = OrganizationCommand::AddMember {
        user_id: b.owner,
        display_name: "Intruder".into(),
        email: "intruder@example.com".into(),
        role: Role::Owner,
        capabilities: BTreeSet::new(),
    };
    let error = bus
        .execute::<Organization>(&b.request(b.owner), a.id, join.clone(), None)
        .await
        .unwrap_err();
    assert!(matches!(error, BusError::NotFound { .. }), "{error}");
    let error = bus
        .execute::<Organization>(&claim, a.id, join, None)
        .await
        .unwrap_err();
    assert!(matches!(error, BusError::NotMember { .. }), "{error}");

    assert_eq!(db.event_count().await, before);
}

#[tokio::test]
async fn the_permission_matrix_refuses_before_anything_is_appended() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Matrix").await;
    let invoice = Uuid::new_v4();
    bus.execute::<Invoice>(
        &org.request(org.member),
        invoice,
        draft_invoice("M-1", org.client),
        None,
    )
    .await
    .unwrap();
    bus.execute::<Invoice>(&org.request(org.member), invoice, invoice_line(5), None)
        .await
        .unwrap();
    let before = db.event_count().await;

    let refused = [
        // Guests send no commands.
        (org.guest, draft_invoice("G-1", org.client), Uuid::new_v4()),
        // Issuing needs admin or finance.
        (
            org.member,
            InvoiceCommand::IssueInvoice {
                issued_on: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            },
            invoice,
        ),
        // Voiding needs admin, finance is not enough.
        (
            org.finance,
            InvoiceCommand::VoidInvoice { reason: "x".into() },
            invoice,
        ),
    ];
    for (actor, command, id) in refused {
        let error = bus
            .execute::<Invoice>(&org.request(actor), id, command, None)
            .await
            .unwrap_err();
        assert!(matches!(error, BusError::Forbidden { .. }), "{error}");
    }
    assert_eq!(db.event_count().await, before);

    // The finance capability may issue.
    bus.execute::<Invoice>(
        &org.request(org.finance),
        invoice,
        InvoiceCommand::IssueInvoice {
            issued_on: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        },
        None,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_broken_invariant_appends_nothing() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Invariant").await;
    let invoice = Uuid::new_v4();
    let finance = org.request(org.finance);
    for command in [
        draft_invoice("I-1", org.client),
        invoice_line(10),
        InvoiceCommand::IssueInvoice {
            issued_on: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        },
    ] {
        bus.execute::<Invoice>(&finance, invoice, command, None)
            .await
            .unwrap();
    }
    let before = db.event_count().await;
    let error = bus
        .execute::<Invoice>(
            &finance,
            invoice,
            InvoiceCommand::RecordPayment {
                payment_id: Uuid::new_v4(),
                amount: 1_001,
                paid_on: NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
                method: "card".into(),
                reference: None,
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, BusError::Domain(DomainError::Rule(_))),
        "{error}"
    );
    assert!(error
        .to_string()
        .contains("exceeds the open balance of 1000"));
    assert_eq!(db.event_count().await, before);
    let loaded: Loaded<Invoice> = bus.store().load(&invoice.to_string()).await.unwrap();
    assert_eq!(loaded.aggregate.status, InvoiceStatus::Issued);
}

#[tokio::test]
async fn approvals_walk_the_tiers_with_the_roster_capabilities() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Approvals").await;
    let advance = Uuid::new_v4();
    let send = |actor: Uuid, command: ProductionAdvanceCommand| {
        let bus = bus.clone();
        let request = org.request(actor);
        async move {
            bus.execute::<ProductionAdvance>(&request, advance, command, None)
                .await
        }
    };
    send(org.member, create_advance("ADV-1", org.event))
        .await
        .unwrap();
    send(
        org.member,
        ProductionAdvanceCommand::AddItem {
            item_id: Uuid::new_v4(),
            name: "LED wall".into(),
            category: ItemCategory::Technical,
            vendor_id: None,
            quantity_required: 3,
            unit_cost: 10_000_00,
            schedule: Default::default(),
            critical_path: true,
            depends_on: BTreeSet::new(),
        },
    )
    .await
    .unwrap();
    send(org.member, ProductionAdvanceCommand::SubmitForApproval)
        .await
        .unwrap();

    // 30,000.00 needs production manager, event director, then finance.
    let out_of_order = send(org.finance, ProductionAdvanceCommand::Approve)
        .await
        .unwrap_err();
    assert!(
        matches!(
            out_of_order,
            BusError::Domain(DomainError::MissingCapability(
                Capability::ProductionManager
            ))
        ),
        "{out_of_order}"
    );
    // An admin without the capability cannot approve either.
    assert!(send(org.admin, ProductionAdvanceCommand::Approve)
        .await
        .is_err());
    for approver in [org.production_manager, org.event_director, org.finance] {
        send(approver, ProductionAdvanceCommand::Approve)
            .await
            .unwrap();
    }
    let loaded: Loaded<ProductionAdvance> = bus.store().load(&advance.to_string()).await.unwrap();
    assert_eq!(loaded.aggregate.status, AdvanceStatus::Approved);
    let approvers: Vec<Uuid> = loaded
        .aggregate
        .approvals
        .iter()
        .map(|a| a.approver_id)
        .collect();
    assert_eq!(
        approvers,
        vec![org.production_manager, org.event_director, org.finance]
    );
}

#[tokio::test]
async fn roster_changes_take_effect_on_the_next_command() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Roster").await;
    let owner = org.request(org.owner);
    // Demote the admin to guest: the matrix now refuses their writes.
    bus.execute::<Organization>(
        &owner,
        org.id,
        OrganizationCommand::ChangeMemberRole {
            user_id: org.admin,
            role: Role::Guest,
        },
        None,
    )
    .await
    .unwrap();
    let error = bus
        .execute::<Invoice>(
            &org.request(org.admin),
            Uuid::new_v4(),
            draft_invoice("X", org.client),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(error, BusError::Forbidden { .. }), "{error}");

    // Remove the member: they are no longer a member at all.
    bus.execute::<Organization>(
        &owner,
        org.id,
        OrganizationCommand::RemoveMember {
            user_id: org.member,
        },
        None,
    )
    .await
    .unwrap();
    let error = bus
        .execute::<Invoice>(
            &org.request(org.member),
            Uuid::new_v4(),
            draft_invoice("Y", org.client),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(error, BusError::NotMember { .. }), "{error}");
}

#[tokio::test]
async fn an_admin_cannot_make_an_owner_through_the_bus() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Owners").await;
    let before = db.event_count().await;
    let error = bus
        .execute::<Organization>(
            &org.request(org.admin),
            org.id,
            OrganizationCommand::ChangeMemberRole {
                user_id: org.member,
                role: Role::Owner,
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, BusError::Domain(DomainError::Forbidden(_))),
        "{error}"
    );
    assert_eq!(db.event_count().await, before);
}

#[tokio::test]
async fn an_organization_is_created_only_under_its_own_id() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let user = Uuid::new_v4();
    let org_id = Uuid::new_v4();
    let create = OrganizationCommand::CreateOrganization {
        name: "Elsewhere".into(),
        founder_name: "F".into(),
        founder_email: "f@example.com".into(),
    };
    let request =
        foldline_aggregates::RequestContext::new(org_id, user, foldline_aggregates::Source::Api);
    let error = bus
        .execute::<Organization>(&request, Uuid::new_v4(), create.clone(), None)
        .await
        .unwrap_err();
    assert!(matches!(error, BusError::NotFound { .. }), "{error}");
    assert_eq!(db.event_count().await, 0);
    let outcome = bus
        .execute::<Organization>(&request, org_id, create, None)
        .await
        .unwrap();
    assert_eq!(outcome.version, 2);
}

/// A command to another organization's aggregate and one to an id nothing
/// has are answered alike, with or without an expected version: the answer
/// tells nothing of what exists elsewhere.
#[tokio::test]
async fn another_organizations_aggregate_and_a_missing_one_are_answered_alike() {
    use foldline_aggregates::task::{Task, TaskCommand};
    let db = TestDb::new().await;
    let bus = db.bus();
    let a = Org::create(&bus, "A").await;
    let b = Org::create(&bus, "B").await;
    let (invoice, task) = (Uuid::new_v4(), Uuid::new_v4());
    bus.execute::<Invoice>(
        &a.request(a.member),
        invoice,
        draft_invoice("A-1", a.client),
        None,
    )
    .await
    .unwrap();
    bus.execute::<Task>(
        &a.request(a.member),
        task,
        foldline_tests::commands::create_task("A's task", None),
        None,
    )
    .await
    .unwrap();
    let answer = |error: BusError, id: Uuid| error.to_string().replace(&id.to_string(), "ID");
    for expected in [None, Some(1), Some(3)] {
        let missing = Uuid::new_v4();
        let theirs = bus
            .execute::<Invoice>(&b.request(b.owner), invoice, invoice_line(1), expected)
            .await
            .unwrap_err();
        let nothing = bus
            .execute::<Invoice>(&b.request(b.owner), missing, invoice_line(1), expected)
            .await
            .unwrap_err();
        assert_eq!(
            answer(theirs, invoice),
            answer(nothing, missing),
            "expected {expected:?}"
        );
        let theirs = bus
            .execute::<Task>(&b.request(b.owner), task, TaskCommand::StartTask, expected)
            .await
            .unwrap_err();
        let nothing = bus
            .execute::<Task>(
                &b.request(b.owner),
                missing,
                TaskCommand::StartTask,
                expected,
            )
            .await
            .unwrap_err();
        assert!(matches!(nothing, BusError::NotFound { .. }), "{nothing}");
        assert_eq!(
            answer(theirs, task),
            answer(nothing, missing),
            "expected {expected:?}"
        );
        // A command naming a reference that does not exist either.
        let stranger = TaskCommand::AssignTask {
            assignee: Some(Uuid::new_v4()),
        };
        let theirs = bus
            .execute::<Task>(&b.request(b.owner), task, stranger.clone(), expected)
            .await
            .unwrap_err();
        let nothing = bus
            .execute::<Task>(&b.request(b.owner), missing, stranger, expected)
            .await
            .unwrap_err();
        assert_eq!(
            answer(theirs, task),
            answer(nothing, missing),
            "a bad reference, expected {expected:?}"
        );
    }
}

/// An expense's payee must be a company or contact of the organization.
#[tokio::test]
async fn an_expense_payee_of_another_organization_is_refused() {
    use foldline_aggregates::expense::{Expense, ExpenseCommand, ExpenseKind};
    let db = TestDb::new().await;
    let bus = db.bus();
    let a = Org::create(&bus, "A").await;
    let b = Org::create(&bus, "B").await;
    let expense = |payee_id| ExpenseCommand::RecordExpense {
        kind: ExpenseKind::PurchaseOrder,
        description: "Signage".into(),
        amount: 850_00,
        currency: Default::default(),
        payee: "Printhouse".into(),
        payee_id: Some(payee_id),
        event_id: None,
        incurred_on: NaiveDate::from_ymd_opt(2027, 1, 3).unwrap(),
        visibility: Default::default(),
    };
    let before = db.event_count().await;
    for payee in [a.client, Uuid::new_v4(), a.event] {
        let error = bus
            .execute::<Expense>(&b.request(b.member), Uuid::new_v4(), expense(payee), None)
            .await
            .unwrap_err();
        assert!(
            matches!(error, BusError::Domain(DomainError::Invalid(ref why)) if why.contains("Company or Contact")),
            "{error}"
        );
    }
    assert_eq!(db.event_count().await, before, "nothing appended");
    bus.execute::<Expense>(
        &b.request(b.member),
        Uuid::new_v4(),
        expense(b.client),
        None,
    )
    .await
    .expect("its own client is a payee");
}

/// A text no read table could index, or with a NUL, is refused before
/// anything is appended, naming its field.
#[tokio::test]
async fn an_oversized_or_nul_text_is_refused_and_nothing_is_appended() {
    use foldline_aggregates::contact::{Contact, ContactCommand, ContactKind};
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Limits").await;
    let add = |name: String| ContactCommand::AddContact {
        kind: ContactKind::Talent,
        name,
        email: format!("{}@example.com", Uuid::new_v4().simple()),
        phone: None,
        title: None,
        company_id: None,
        visibility: Default::default(),
    };
    let before = db.event_count().await;
    for (name, field_says) in [
        ("x".repeat(200_000), "`name` is 200000 bytes"),
        ("Carol\u{0}".to_owned(), "`name` contains a NUL"),
    ] {
        let error = bus
            .execute::<Contact>(&org.request(org.member), Uuid::new_v4(), add(name), None)
            .await
            .unwrap_err();
        assert!(
            matches!(error, BusError::Domain(DomainError::InvalidField { ref field, ref message })
                if field == "name" && message.contains(field_says)),
            "{error}"
        );
    }
    assert_eq!(db.event_count().await, before);
    bus.execute::<Contact>(
        &org.request(org.member),
        Uuid::new_v4(),
        add("Carol".into()),
        None,
    )
    .await
    .expect("a plain name");
}

#[tokio::test]
async fn an_invoice_is_owned_by_the_member_it_names_and_never_by_a_stranger() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Owners").await;
    let other = Org::create(&bus, "Strangers").await;
    let draft = |number: &str, owner: Uuid| {
        let mut draft = draft_invoice(number, org.client);
        if let InvoiceCommand::DraftInvoice { owner_id, .. } = &mut draft {
            *owner_id = Some(owner);
        }
        draft
    };

    // A member named holds the account, not the one who drafted it.
    let id = Uuid::new_v4();
    bus.execute::<Invoice>(
        &org.request(org.member),
        id,
        draft("INV-OWN", org.finance),
        None,
    )
    .await
    .unwrap();
    let loaded: Loaded<Invoice> = bus.store().load(&id.to_string()).await.unwrap();
    assert_eq!(loaded.aggregate.owner_id, Some(org.finance));

    // Another organization's member is refused, and nothing is appended.
    let before = db.event_count().await;
    let error = bus
        .execute::<Invoice>(
            &org.request(org.member),
            Uuid::new_v4(),
            draft("INV-STRANGER", other.member),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("is not a member of the organization"),
        "{error}"
    );
    assert_eq!(db.event_count().await, before);
}

#[tokio::test]
async fn a_contract_cannot_be_amended_onto_another_organizations_event() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Own events").await;
    let other = Org::create(&bus, "Other events").await;
    let id = Uuid::new_v4();
    let terms = |event_id| ContractTerms {
        title: "Hire".into(),
        value: 100_00,
        starts_on: None,
        expires_on: None,
        document_url: None,
        event_id: Some(event_id),
        payment_terms: Vec::new(),
    };
    let request = org.request(org.member);
    let drafted = ContractCommand::DraftContract {
        counterparty_id: org.client,
        counterparty_name: "Acme Festivals".into(),
        currency: Default::default(),
        terms: terms(org.event),
        visibility: Default::default(),
    };
    bus.execute::<Contract>(&request, id, drafted, None)
        .await
        .unwrap();
    let before = db.event_count().await;
    let amended = ContractCommand::AmendContract {
        terms: terms(other.event),
        summary: "moved".into(),
    };
    let error = bus
        .execute::<Contract>(&request, id, amended, None)
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("does not exist in the organization"),
        "{error}"
    );
    assert_eq!(db.event_count().await, before);
}
