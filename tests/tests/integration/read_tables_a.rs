//! activity_feed and document_registry over a real event store: each source
//! lands in its row with the right columns, deletes remove (documents) or add
//! (activities) what they should, and a rebuild gives the same rows.

use chrono::{DateTime, NaiveDate, Utc};
use foldline_aggregates::address::Address;
use foldline_aggregates::asset::{Asset, AssetCommand, AssetKind};
use foldline_aggregates::comment::{Comment, CommentCommand, CommentKind};
use foldline_aggregates::contact::{Contact, ContactCommand, ContactKind};
use foldline_aggregates::contract::{Contract, ContractCommand, ContractTerms};
use foldline_aggregates::document::{Document, DocumentCommand, DocumentKind};
use foldline_aggregates::expense::{Expense, ExpenseCommand, ExpenseKind};
use foldline_aggregates::invoice::{Invoice, InvoiceCommand};
use foldline_aggregates::production_advance::{
    AttachmentKind, ProductionAdvance, ProductionAdvanceCommand,
};
use foldline_aggregates::shift::{Shift, ShiftCommand};
use foldline_aggregates::task::{Task, TaskCommand};
use foldline_aggregates::venue::{Venue, VenueCommand, VenueKind};
use foldline_aggregates::{CommandBus, EntityRef, Visibility};
use foldline_projectors::activity_feed::ActivityFeed;
use foldline_projectors::document_registry::DocumentRegistry;
use foldline_projectors::Engine;
use foldline_tests::commands::{create_advance, draft_invoice, invoice_line};
use foldline_tests::read_side::{at, catch_up, rebuild_from_scratch, row_json};
use foldline_tests::{Org, TestDb};
use serde_json::{json, Value};
use uuid::Uuid;

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn entity(entity_type: &str, entity_id: Uuid) -> EntityRef {
    EntityRef {
        entity_type: entity_type.into(),
        entity_id,
    }
}

/// Every row of `table` as JSON, by external id.
async fn rows(db: &TestDb, table: &str) -> Vec<Value> {
    sqlx::query_scalar(&format!(
        "SELECT to_jsonb(t) FROM {table} t ORDER BY external_id"
    ))
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

/// The activities on one entity, oldest first.
async fn activities(db: &TestDb, entity_id: Uuid) -> Vec<Value> {
    sqlx::query_scalar(
        "SELECT to_jsonb(t) FROM activity_feed t WHERE entity_id = $1 ORDER BY last_position",
    )
    .bind(entity_id)
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

/// The global position and recording time of an aggregate's last event.
async fn last_event(db: &TestDb, aggregate_id: Uuid) -> (i64, DateTime<Utc>) {
    sqlx::query_as(
        "SELECT global_position, recorded_at FROM events
         WHERE aggregate_id = $1 ORDER BY sequence DESC LIMIT 1",
    )
    .bind(aggregate_id.to_string())
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

/// A timestamp column of a JSON row.
fn time(row: &Value, column: &str) -> DateTime<Utc> {
    row[column].as_str().unwrap().parse().unwrap()
}

fn create_task(title: &str) -> TaskCommand {
    TaskCommand::CreateTask {
        title: title.into(),
        description: None,
        event_id: None,
        project: None,
        assignee: None,
        due_at: None,
        priority: Default::default(),
        visibility: Visibility::Private,
    }
}

fn upload(linked_to: EntityRef, kind: DocumentKind, title: &str, url: &str) -> DocumentCommand {
    DocumentCommand::UploadDocument {
        linked_to,
        kind,
        title: title.into(),
        url: url.into(),
        size_bytes: 48_000,
        mime_type: Some("application/pdf".into()),
        expires_on: None,
        visibility: Visibility::Organization,
    }
}

fn terms(title: &str, value: i64, document_url: Option<&str>) -> ContractTerms {
    ContractTerms {
        title: title.into(),
        value,
        starts_on: Some(day("2026-12-01")),
        expires_on: Some(day("2027-01-31")),
        document_url: document_url.map(Into::into),
        event_id: None,
        payment_terms: Vec::new(),
    }
}

fn post(on: EntityRef, kind: CommentKind, body: &str, visibility: Visibility) -> CommentCommand {
    CommentCommand::PostComment {
        on,
        parent_id: None,
        kind,
        body: body.into(),
        visibility,
    }
}

#[tokio::test]
async fn every_event_of_every_aggregate_is_an_activity_on_its_entity() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Activity").await;
    let member = org.request(org.member);
    let [venue, task, shift, asset, contact, expense, document, invoice, contract, advance, comment, pdf] =
        std::array::from_fn(|_| Uuid::new_v4());

    bus.execute::<Venue>(
        &member,
        venue,
        VenueCommand::RegisterVenue {
            name: "Harbour Hall".into(),
            kind: VenueKind::Venue,
            address: Address {
                line1: "North Wall Quay".into(),
                line2: None,
                city: "Dublin".into(),
                region: None,
                postal_code: None,
                country: "IE".into(),
            },
            coordinates: None,
            capacity: Some(2_400),
            contact: None,
            visibility: Visibility::Public,
        },
        None,
    )
    .await
    .unwrap();
    bus.execute::<Task>(&member, task, create_task("Book the hotel"), None)
        .await
        .unwrap();
    bus.execute::<Shift>(
        &member,
        shift,
        ShiftCommand::ScheduleShift {
            member_id: org.member,
            event_id: org.event,
            role: "Rigger".into(),
            starts_at: at("2026-12-12T08:00:00Z"),
            ends_at: at("2026-12-12T16:00:00Z"),
            visibility: Default::default(),
        },
        None,
    )
    .await
    .unwrap();
    bus.execute::<Asset>(
        &member,
        asset,
        AssetCommand::RegisterAsset {
            kind: AssetKind::Equipment,
            name: "Stage deck".into(),
            tag: None,
            quantity: 4,
            value: 1_200_00,
            currency: Default::default(),
            location_id: None,
            visibility: Default::default(),
        },
        None,
    )
    .await
    .unwrap();
    bus.execute::<Contact>(
        &member,
        contact,
        ContactCommand::AddContact {
            kind: ContactKind::Talent,
            name: "Mara Quinn".into(),
            email: "mara@example.com".into(),
            phone: None,
            title: None,
            company_id: None,
            visibility: Default::default(),
        },
        None,
    )
    .await
    .unwrap();
    bus.execute::<Expense>(
        &member,
        expense,
        ExpenseCommand::RecordExpense {
            kind: ExpenseKind::Expense,
            description: "Taxi to the venue".into(),
            amount: 35_00,
            currency: Default::default(),
            payee: "City Cabs".into(),
            payee_id: None,
            event_id: Some(org.event),
            incurred_on: day("2026-12-12"),
            visibility: Visibility::Restricted,
        },
        None,
    )
    .await
    .unwrap();
    bus.execute::<Document>(
        &member,
        document,
        upload(
            entity("Event", org.event),
            DocumentKind::Permit,
            "Noise permit",
            "https://files.example.com/noise.pdf",
        ),
        None,
    )
    .await
    .unwrap();
    bus.execute::<Invoice>(&member, invoice, draft_invoice("INV-1", org.client), None)
        .await
        .unwrap();
    bus.execute::<Document>(
        &member,
        pdf,
        upload(
            entity("Invoice", invoice),
            DocumentKind::Invoice,
            "INV-1.pdf",
            "https://files.example.com/inv-1.pdf",
        ),
        None,
    )
    .await
    .unwrap();
    bus.execute::<Invoice>(
        &member,
        invoice,
        InvoiceCommand::AttachInvoicePdf {
            document_id: pdf,
            url: "https://files.example.com/inv-1.pdf".into(),
        },
        None,
    )
    .await
    .unwrap();
    bus.execute::<Contract>(
        &member,
        contract,
        ContractCommand::DraftContract {
            counterparty_id: org.client,
            counterparty_name: "Acme Festivals".into(),
            currency: Default::default(),
            terms: terms("Gala agreement", 10_000_00, None),
            visibility: Visibility::Restricted,
        },
        None,
    )
    .await
    .unwrap();
    bus.execute::<ProductionAdvance>(&member, advance, create_advance("ADV-1", org.event), None)
        .await
        .unwrap();
    // Posted in the same batch as the task it is on.
    bus.execute::<Comment>(
        &org.request(org.admin),
        comment,
        post(
            entity("Task", task),
            CommentKind::Comment,
            "Two rooms, late check-in",
            Visibility::Organization,
        ),
        None,
    )
    .await
    .unwrap();
    catch_up(&db, &engine, &[&ActivityFeed]).await;

    // One row per event, each dated and placed by its event.
    let events = db.event_count().await;
    let rows = rows(&db, "activity_feed").await;
    assert_eq!(rows.len() as i64, events);
    let mismatched: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM activity_feed a JOIN events e ON e.global_position = a.last_position
         WHERE a.external_id <> 'event:' || e.global_position
            OR a.created_at <> e.recorded_at OR a.updated_at <> e.recorded_at
            OR a.organization_id <> e.organization_id
            OR a.actor_id IS DISTINCT FROM (e.metadata ->> 'actor_id')::uuid
            OR a.event_type <> e.event_type
            OR a.metadata ->> 'correlation_id' <> e.metadata ->> 'correlation_id'
            OR a.metadata ->> 'source' <> e.metadata ->> 'source'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(mismatched, 0);

    // Each creation names its entity the way people do.
    let created: Vec<(String, Uuid, Option<String>)> = sqlx::query_as(
        "SELECT entity_type, entity_id, entity_name FROM activity_feed
         WHERE activity_type = 'created' ORDER BY last_position",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let expected = [
        ("Organization", org.id, "Activity"),
        ("Company", org.client, "Acme Festivals"),
        ("Event", org.event, "Winter Gala"),
        ("Venue", venue, "Harbour Hall"),
        ("Task", task, "Book the hotel"),
        ("Shift", shift, "Rigger"),
        ("Asset", asset, "Stage deck"),
        ("Contact", contact, "Mara Quinn"),
        ("Expense", expense, "Taxi to the venue"),
        ("Document", document, "Noise permit"),
        ("Invoice", invoice, "INV-1"),
        ("Document", pdf, "INV-1.pdf"),
        ("Contract", contract, "Gala agreement"),
        ("ProductionAdvance", advance, "ADV-1"),
    ];
    let expected: Vec<(String, Uuid, Option<String>)> = expected
        .into_iter()
        .map(|(t, id, name)| (t.to_owned(), id, Some(name.to_owned())))
        .collect();
    assert_eq!(created, expected);

    // The task's creation, column by column.
    let (position, recorded_at) = last_event(&db, task).await;
    let created_task = row_json(&db, "activity_feed", &format!("event:{position}"))
        .await
        .unwrap();
    assert_eq!(created_task["organization_id"], json!(org.id));
    assert_eq!(created_task["activity_type"], "created");
    assert_eq!(created_task["event_type"], "TaskCreated");
    assert_eq!(created_task["entity_type"], "Task");
    assert_eq!(created_task["entity_id"], json!(task));
    assert_eq!(created_task["entity_name"], "Book the hotel");
    assert_eq!(created_task["actor_id"], json!(org.member));
    assert_eq!(created_task["title"], "Task created");
    assert_eq!(created_task["content"], Value::Null);
    assert_eq!(created_task["visibility"], "private");
    assert_eq!(created_task["owner_id"], json!(org.member));
    assert_eq!(created_task["last_position"], json!(position));
    assert_eq!(time(&created_task, "created_at"), recorded_at);
    assert_eq!(created_task["metadata"]["source"], "api");
    assert_eq!(created_task["metadata"]["command"], "CreateTask");
    assert_eq!(created_task["metadata"]["aggregate_type"], "Task");
    assert_eq!(created_task["metadata"]["sequence"], 1);

    // Visibility and owner are the entity's.
    for (entity_id, visibility, owner) in [
        (venue, "public", Some(org.member)),
        (expense, "restricted", Some(org.member)),
        (invoice, "restricted", Some(org.member)),
        (contract, "restricted", Some(org.member)),
        (advance, "organization", Some(org.member)),
        (org.id, "organization", None),
    ] {
        for activity in activities(&db, entity_id).await {
            assert_eq!(activity["visibility"], visibility, "{activity}");
            assert_eq!(activity["owner_id"], json!(owner), "{activity}");
        }
    }
    let attached = activities(&db, invoice).await;
    assert_eq!(attached.len(), 2);
    assert_eq!(attached[1]["activity_type"], "updated");
    assert_eq!(attached[1]["title"], "Invoice pdf attached");
    assert_eq!(attached[1]["entity_name"], "INV-1");

    // The comment is an activity on the task, by its author, with its body.
    let on_task = activities(&db, task).await;
    assert_eq!(on_task.len(), 2);
    let posted = &on_task[1];
    assert_eq!(posted["activity_type"], "comment");
    assert_eq!(posted["event_type"], "CommentPosted");
    assert_eq!(posted["entity_type"], "Task");
    assert_eq!(posted["entity_name"], "Book the hotel");
    assert_eq!(posted["actor_id"], json!(org.admin));
    assert_eq!(posted["content"], "Two rooms, late check-in");
    // Seen by whoever may see the (private) task: its visibility and owner,
    // not the comment's own.
    assert_eq!(posted["visibility"], "private");
    assert_eq!(posted["owner_id"], json!(org.member));
    assert_eq!(posted["metadata"]["comment_id"], json!(comment));
    assert_eq!(posted["metadata"]["aggregate_type"], "Comment");
}

#[tokio::test]
async fn activities_show_their_entity_as_of_their_event_and_outlive_it() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "History").await;
    let (member, admin) = (org.request(org.member), org.request(org.admin));
    let task = Uuid::new_v4();
    let note = Uuid::new_v4();

    bus.execute::<Task>(&member, task, create_task("Book the hotel"), None)
        .await
        .unwrap();
    catch_up(&db, &engine, &[&ActivityFeed]).await;
    for command in [
        TaskCommand::UpdateTask {
            title: Some("Book the hotels".into()),
            description: None,
        },
        TaskCommand::StartTask,
    ] {
        bus.execute::<Task>(&member, task, command, None)
            .await
            .unwrap();
    }
    catch_up(&db, &engine, &[&ActivityFeed]).await;
    // In a batch of its own: the task's state comes from the stored states.
    bus.execute::<Comment>(
        &admin,
        note,
        post(
            entity("Task", task),
            CommentKind::Note,
            "Gate code 1234",
            Visibility::Private,
        ),
        None,
    )
    .await
    .unwrap();
    catch_up(&db, &engine, &[&ActivityFeed]).await;
    bus.execute::<Task>(
        &member,
        task,
        TaskCommand::BlockTask {
            reason: "Waiting for the rooming list".into(),
        },
        None,
    )
    .await
    .unwrap();
    bus.execute::<Task>(&admin, task, TaskCommand::DeleteTask, None)
        .await
        .unwrap();
    bus.execute::<Comment>(
        &admin,
        note,
        CommentCommand::EditComment {
            body: "Gate code 4321".into(),
        },
        None,
    )
    .await
    .unwrap();
    bus.execute::<Comment>(&admin, note, CommentCommand::DeleteComment, None)
        .await
        .unwrap();
    catch_up(&db, &engine, &[&ActivityFeed]).await;

    let rows = activities(&db, task).await;
    let summary: Vec<(String, String, String, Value, Value, String)> = rows
        .iter()
        .map(|r| {
            (
                r["event_type"].as_str().unwrap().to_owned(),
                r["activity_type"].as_str().unwrap().to_owned(),
                r["entity_name"].as_str().unwrap().to_owned(),
                r["content"].clone(),
                r["actor_id"].clone(),
                r["visibility"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let (m, a) = (json!(org.member), json!(org.admin));
    let expected = vec![
        ("TaskCreated", "created", "Book the hotel", Value::Null, &m),
        ("TaskUpdated", "updated", "Book the hotels", Value::Null, &m),
        (
            "TaskStarted",
            "status_change",
            "Book the hotels",
            json!("Status changed from todo to in_progress"),
            &m,
        ),
        (
            "CommentPosted",
            "note",
            "Book the hotels",
            json!("Gate code 1234"),
            &a,
        ),
        (
            "TaskBlocked",
            "status_change",
            "Book the hotels",
            json!(
                "Status changed from in_progress to blocked. Reason: Waiting for the rooming list"
            ),
            &m,
        ),
        ("TaskDeleted", "deleted", "Book the hotels", Value::Null, &a),
        (
            "CommentEdited",
            "note",
            "Book the hotels",
            json!("Gate code 4321"),
            &a,
        ),
        ("CommentDeleted", "note", "Book the hotels", Value::Null, &a),
    ];
    let expected: Vec<(String, String, String, Value, Value, String)> = expected
        .into_iter()
        .map(|(event_type, activity_type, name, content, actor)| {
            (
                event_type.to_owned(),
                activity_type.to_owned(),
                name.to_owned(),
                content,
                actor.clone(),
                "private".to_owned(),
            )
        })
        .collect();
    assert_eq!(summary, expected);

    // The note's rows name the task, so they are seen by whoever may see the
    // task: private, owned by the task's creator, like the task's own rows.
    for r in &rows {
        assert_eq!(&r["owner_id"], &m, "{r}");
    }
    assert_eq!(rows[2]["metadata"]["previous_status"], "todo");
    assert_eq!(rows[2]["metadata"]["status"], "in_progress");
    assert_eq!(rows[3]["title"], "Comment posted");
    assert_eq!(rows[3]["metadata"]["comment_id"], json!(note));

    // Nothing left the feed: each event still has its row.
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM activity_feed")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(total, db.event_count().await);
}

#[tokio::test]
async fn an_uploaded_document_is_registered_on_its_entity_until_deleted() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Documents").await;
    let member = org.request(org.member);
    let document = Uuid::new_v4();
    let external_id = format!("Document:{document}");

    bus.execute::<Document>(
        &member,
        document,
        DocumentCommand::UploadDocument {
            linked_to: entity("Event", org.event),
            kind: DocumentKind::Permit,
            title: "Noise permit".into(),
            url: "https://files.example.com/permits/noise.pdf".into(),
            size_bytes: 120_000,
            mime_type: Some("application/pdf".into()),
            expires_on: Some(day("2026-12-31")),
            visibility: Visibility::Public,
        },
        None,
    )
    .await
    .unwrap();
    catch_up(&db, &engine, &[&DocumentRegistry]).await;
    let (position, recorded_at) = last_event(&db, document).await;
    let registered = row_json(&db, "document_registry", &external_id)
        .await
        .unwrap();
    assert_eq!(registered["organization_id"], json!(org.id));
    assert_eq!(registered["document_type"], "permit");
    assert_eq!(registered["source_type"], "document");
    assert_eq!(registered["document_id"], json!(document));
    assert_eq!(registered["entity_type"], "Event");
    assert_eq!(registered["entity_id"], json!(org.event));
    assert_eq!(registered["title"], "Noise permit");
    assert_eq!(
        registered["file_url"],
        "https://files.example.com/permits/noise.pdf"
    );
    assert_eq!(registered["file_type"], "pdf");
    assert_eq!(registered["file_size"], 120_000);
    assert_eq!(registered["status"], "active");
    assert_eq!(registered["expires_on"], "2026-12-31");
    assert_eq!(registered["visibility"], "public");
    assert_eq!(registered["owner_id"], json!(org.member));
    assert_eq!(registered["uploaded_by"], json!(org.member));
    assert_eq!(registered["last_position"], json!(position));
    assert_eq!(time(&registered, "created_at"), recorded_at);
    assert_eq!(time(&registered, "updated_at"), recorded_at);

    for command in [
        DocumentCommand::RenameDocument {
            title: "Noise permit (council)".into(),
        },
        DocumentCommand::SignDocument {
            signed_by: "City Council".into(),
            signed_on: day("2026-11-20"),
        },
    ] {
        bus.execute::<Document>(&member, document, command, None)
            .await
            .unwrap();
    }
    catch_up(&db, &engine, &[&DocumentRegistry]).await;
    let (position, updated_at) = last_event(&db, document).await;
    let signed = row_json(&db, "document_registry", &external_id)
        .await
        .unwrap();
    assert_eq!(signed["title"], "Noise permit (council)");
    assert_eq!(signed["status"], "signed");
    assert_eq!(signed["last_position"], json!(position));
    assert_eq!(time(&signed, "created_at"), recorded_at);
    assert_eq!(time(&signed, "updated_at"), updated_at);

    bus.execute::<Document>(
        &org.request(org.admin),
        document,
        DocumentCommand::DeleteDocument,
        None,
    )
    .await
    .unwrap();
    catch_up(&db, &engine, &[&DocumentRegistry]).await;
    assert_eq!(row_json(&db, "document_registry", &external_id).await, None);
}

#[tokio::test]
async fn a_contract_registers_the_document_of_its_version_in_force() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Contracts").await;
    let (member, admin) = (org.request(org.member), org.request(org.admin));
    let contract = Uuid::new_v4();
    let external_id = format!("Contract:{contract}:document");
    let v1 = "https://files.example.com/contracts/gala-v1.pdf";
    let v2 = "https://files.example.com/contracts/gala-v2.docx";

    bus.execute::<Contract>(
        &member,
        contract,
        ContractCommand::DraftContract {
            counterparty_id: org.client,
            counterparty_name: "Acme Festivals".into(),
            currency: Default::default(),
            terms: terms("Gala agreement", 10_000_00, Some(v1)),
            visibility: Visibility::Restricted,
        },
        None,
    )
    .await
    .unwrap();
    catch_up(&db, &engine, &[&DocumentRegistry]).await;
    let drafted = row_json(&db, "document_registry", &external_id)
        .await
        .unwrap();
    assert_eq!(drafted["document_type"], "contract");
    assert_eq!(drafted["source_type"], "contract_document");
    assert_eq!(drafted["document_id"], Value::Null);
    assert_eq!(drafted["entity_type"], "Contract");
    assert_eq!(drafted["entity_id"], json!(contract));
    assert_eq!(drafted["title"], "Gala agreement");
    assert_eq!(drafted["file_url"], v1);
    assert_eq!(drafted["file_type"], "pdf");
    assert_eq!(drafted["status"], "draft");
    assert_eq!(drafted["expires_on"], "2027-01-31");
    assert_eq!(drafted["visibility"], "restricted");
    assert_eq!(drafted["owner_id"], json!(org.member));
    assert_eq!(drafted["uploaded_by"], json!(org.member));

    // A new document by the admin; then a change of value that keeps it.
    let amend = |terms, summary: &str| ContractCommand::AmendContract {
        terms,
        summary: summary.into(),
    };
    bus.execute::<Contract>(
        &admin,
        contract,
        amend(terms("Gala agreement", 12_000_00, Some(v2)), "New fee"),
        None,
    )
    .await
    .unwrap();
    bus.execute::<Contract>(&member, contract, ContractCommand::SendContract, None)
        .await
        .unwrap();
    catch_up(&db, &engine, &[&DocumentRegistry]).await;
    bus.execute::<Contract>(
        &member,
        contract,
        amend(terms("Gala agreement", 12_500_00, Some(v2)), "Fee again"),
        None,
    )
    .await
    .unwrap();
    catch_up(&db, &engine, &[&DocumentRegistry]).await;
    let amended = row_json(&db, "document_registry", &external_id)
        .await
        .unwrap();
    assert_eq!(amended["file_url"], v2);
    assert_eq!(amended["file_type"], "docx");
    assert_eq!(amended["status"], "sent");
    assert_eq!(amended["uploaded_by"], json!(org.admin));
    assert_eq!(amended["owner_id"], json!(org.member));
    assert_eq!(amended["created_at"], drafted["created_at"]);
    assert_eq!(
        amended["last_position"],
        json!(last_event(&db, contract).await.0)
    );

    // No document in force, no row; one again, a row again; deleted, none.
    bus.execute::<Contract>(
        &member,
        contract,
        amend(terms("Gala agreement", 12_500_00, None), "Paper copy only"),
        None,
    )
    .await
    .unwrap();
    catch_up(&db, &engine, &[&DocumentRegistry]).await;
    assert_eq!(row_json(&db, "document_registry", &external_id).await, None);
    bus.execute::<Contract>(
        &member,
        contract,
        amend(terms("Gala agreement", 12_500_00, Some(v1)), "Scanned"),
        None,
    )
    .await
    .unwrap();
    catch_up(&db, &engine, &[&DocumentRegistry]).await;
    let again = row_json(&db, "document_registry", &external_id)
        .await
        .unwrap();
    assert_eq!(again["file_url"], v1);
    assert_eq!(again["uploaded_by"], json!(org.member));
    bus.execute::<Contract>(&admin, contract, ContractCommand::DeleteContract, None)
        .await
        .unwrap();
    catch_up(&db, &engine, &[&DocumentRegistry]).await;
    assert_eq!(row_json(&db, "document_registry", &external_id).await, None);
}

#[tokio::test]
async fn an_invoice_registers_its_pdf_until_it_is_deleted() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Invoices").await;
    let (member, admin) = (org.request(org.member), org.request(org.admin));
    let invoice = Uuid::new_v4();
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    let external_id = format!("Invoice:{invoice}:pdf");
    let url_1 = "https://files.example.com/invoices/inv-7.pdf";
    let url_2 = "https://files.example.com/invoices/inv-7-corrected.pdf";

    bus.execute::<Invoice>(&member, invoice, draft_invoice("INV-7", org.client), None)
        .await
        .unwrap();
    for (id, url) in [(first, url_1), (second, url_2)] {
        bus.execute::<Document>(
            &member,
            id,
            upload(
                entity("Invoice", invoice),
                DocumentKind::Invoice,
                "INV-7",
                url,
            ),
            None,
        )
        .await
        .unwrap();
    }
    catch_up(&db, &engine, &[&DocumentRegistry]).await;
    assert_eq!(row_json(&db, "document_registry", &external_id).await, None);

    bus.execute::<Invoice>(
        &member,
        invoice,
        InvoiceCommand::AttachInvoicePdf {
            document_id: first,
            url: url_1.into(),
        },
        None,
    )
    .await
    .unwrap();
    catch_up(&db, &engine, &[&DocumentRegistry]).await;
    let (attached_position, attached_at) = last_event(&db, invoice).await;
    let attached = row_json(&db, "document_registry", &external_id)
        .await
        .unwrap();
    assert_eq!(attached["organization_id"], json!(org.id));
    assert_eq!(attached["document_type"], "invoice");
    assert_eq!(attached["source_type"], "invoice_pdf");
    assert_eq!(attached["document_id"], json!(first));
    assert_eq!(attached["entity_type"], "Invoice");
    assert_eq!(attached["entity_id"], json!(invoice));
    assert_eq!(attached["title"], "Invoice INV-7");
    assert_eq!(attached["file_url"], url_1);
    assert_eq!(attached["file_type"], "pdf");
    assert_eq!(attached["status"], "draft");
    assert_eq!(attached["visibility"], "restricted");
    assert_eq!(attached["owner_id"], json!(org.member));
    assert_eq!(attached["uploaded_by"], json!(org.member));
    assert_eq!(attached["last_position"], json!(attached_position));
    assert_eq!(time(&attached, "created_at"), attached_at);

    // A later event of the invoice keeps what only the attaching event said.
    bus.execute::<Invoice>(&member, invoice, invoice_line(3), None)
        .await
        .unwrap();
    catch_up(&db, &engine, &[&DocumentRegistry]).await;
    let kept = row_json(&db, "document_registry", &external_id)
        .await
        .unwrap();
    assert_eq!(kept["file_url"], url_1);
    assert_eq!(kept["uploaded_by"], json!(org.member));
    assert_eq!(kept["created_at"], attached["created_at"]);
    assert_eq!(
        kept["last_position"],
        json!(last_event(&db, invoice).await.0)
    );

    // A corrected PDF replaces it.
    bus.execute::<Invoice>(
        &admin,
        invoice,
        InvoiceCommand::AttachInvoicePdf {
            document_id: second,
            url: url_2.into(),
        },
        None,
    )
    .await
    .unwrap();
    catch_up(&db, &engine, &[&DocumentRegistry]).await;
    let replaced = row_json(&db, "document_registry", &external_id)
        .await
        .unwrap();
    assert_eq!(replaced["document_id"], json!(second));
    assert_eq!(replaced["file_url"], url_2);
    assert_eq!(replaced["uploaded_by"], json!(org.admin));
    assert_eq!(replaced["created_at"], attached["created_at"]);

    bus.execute::<Invoice>(&admin, invoice, InvoiceCommand::DeleteInvoice, None)
        .await
        .unwrap();
    catch_up(&db, &engine, &[&DocumentRegistry]).await;
    assert_eq!(row_json(&db, "document_registry", &external_id).await, None);
    // The uploaded files are documents of their own and stay.
    for id in [first, second] {
        assert!(
            row_json(&db, "document_registry", &format!("Document:{id}"))
                .await
                .is_some()
        );
    }
}

#[tokio::test]
async fn an_advance_registers_each_attachment_until_it_is_deleted() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Advances").await;
    let member = org.request(org.member);
    let advance = Uuid::new_v4();
    let (rider, spec) = (Uuid::new_v4(), Uuid::new_v4());
    let rider_url = "https://files.example.com/riders/hospitality.pdf";
    let spec_url = "https://files.example.com/specs/stage-plot.png";

    bus.execute::<ProductionAdvance>(&member, advance, create_advance("ADV-9", org.event), None)
        .await
        .unwrap();
    for (id, url) in [(rider, rider_url), (spec, spec_url)] {
        bus.execute::<Document>(
            &member,
            id,
            upload(
                entity("ProductionAdvance", advance),
                DocumentKind::Rider,
                "file",
                url,
            ),
            None,
        )
        .await
        .unwrap();
    }
    let attach =
        |document_id, kind, name: &str, url: &str| ProductionAdvanceCommand::AttachDocument {
            document_id,
            kind,
            name: name.into(),
            url: url.into(),
        };
    bus.execute::<ProductionAdvance>(
        &member,
        advance,
        attach(rider, AttachmentKind::Rider, "Hospitality rider", rider_url),
        None,
    )
    .await
    .unwrap();
    catch_up(&db, &engine, &[&DocumentRegistry]).await;
    let (rider_position, rider_at) = last_event(&db, advance).await;
    bus.execute::<ProductionAdvance>(
        &org.request(org.production_manager),
        advance,
        attach(spec, AttachmentKind::Spec, "Stage plot", spec_url),
        None,
    )
    .await
    .unwrap();
    catch_up(&db, &engine, &[&DocumentRegistry]).await;
    let (spec_position, spec_at) = last_event(&db, advance).await;

    let rider_row = format!("ProductionAdvance:{advance}:attachment:{rider}");
    let spec_row = format!("ProductionAdvance:{advance}:attachment:{spec}");
    let hospitality = row_json(&db, "document_registry", &rider_row)
        .await
        .unwrap();
    assert_eq!(hospitality["organization_id"], json!(org.id));
    assert_eq!(hospitality["document_type"], "rider");
    assert_eq!(hospitality["source_type"], "advance_attachment");
    assert_eq!(hospitality["document_id"], json!(rider));
    assert_eq!(hospitality["entity_type"], "ProductionAdvance");
    assert_eq!(hospitality["entity_id"], json!(advance));
    assert_eq!(hospitality["title"], "Hospitality rider");
    assert_eq!(hospitality["file_url"], rider_url);
    assert_eq!(hospitality["file_type"], "pdf");
    assert_eq!(hospitality["status"], "draft");
    assert_eq!(hospitality["visibility"], "organization");
    assert_eq!(hospitality["owner_id"], json!(org.member));
    assert_eq!(hospitality["uploaded_by"], json!(org.member));
    assert_eq!(time(&hospitality, "created_at"), rider_at);
    // Every row of the advance follows its last event.
    assert_eq!(hospitality["last_position"], json!(spec_position));
    assert!(spec_position > rider_position);
    let plot = row_json(&db, "document_registry", &spec_row).await.unwrap();
    assert_eq!(plot["document_type"], "spec");
    assert_eq!(plot["title"], "Stage plot");
    assert_eq!(plot["file_type"], "png");
    assert_eq!(plot["uploaded_by"], json!(org.production_manager));
    assert_eq!(time(&plot, "created_at"), spec_at);

    bus.execute::<ProductionAdvance>(
        &org.request(org.admin),
        advance,
        ProductionAdvanceCommand::DeleteAdvance,
        None,
    )
    .await
    .unwrap();
    catch_up(&db, &engine, &[&DocumentRegistry]).await;
    assert_eq!(row_json(&db, "document_registry", &rider_row).await, None);
    assert_eq!(row_json(&db, "document_registry", &spec_row).await, None);
    // The files themselves stay registered as documents.
    assert!(
        row_json(&db, "document_registry", &format!("Document:{rider}"))
            .await
            .is_some()
    );
}

/// A day of work on every source of both tables, caught up after each command
/// as a live server would.
async fn a_day_of_work(db: &TestDb, bus: &CommandBus, engine: &Engine, org: &Org) {
    let (member, admin) = (org.request(org.member), org.request(org.admin));
    let [task, note, permit, pdf, rider, invoice, contract, advance, gone] =
        std::array::from_fn(|_| Uuid::new_v4());
    macro_rules! run {
        ($aggregate:ty, $request:expr, $id:expr, $command:expr) => {
            bus.execute::<$aggregate>($request, $id, $command, None)
                .await
                .unwrap();
            catch_up(db, engine, &[&ActivityFeed, &DocumentRegistry]).await;
        };
    }
    run!(Task, &member, task, create_task("Book the hotel"));
    run!(
        Comment,
        &admin,
        note,
        post(
            entity("Task", task),
            CommentKind::Note,
            "Late check-in",
            Visibility::Private
        )
    );
    run!(
        Task,
        &member,
        task,
        TaskCommand::UpdateTask {
            title: Some("Book the hotels".into()),
            description: None,
        }
    );
    run!(
        Document,
        &member,
        permit,
        upload(
            entity("Event", org.event),
            DocumentKind::Permit,
            "Noise permit",
            "https://files.example.com/noise.pdf"
        )
    );
    run!(
        Invoice,
        &member,
        invoice,
        draft_invoice("INV-3", org.client)
    );
    run!(
        Document,
        &member,
        pdf,
        upload(
            entity("Invoice", invoice),
            DocumentKind::Invoice,
            "INV-3",
            "https://files.example.com/inv-3.pdf"
        )
    );
    run!(
        Invoice,
        &member,
        invoice,
        InvoiceCommand::AttachInvoicePdf {
            document_id: pdf,
            url: "https://files.example.com/inv-3.pdf".into(),
        }
    );
    run!(Invoice, &member, invoice, invoice_line(2));
    run!(
        Invoice,
        &admin,
        invoice,
        InvoiceCommand::AttachInvoicePdf {
            document_id: pdf,
            url: "https://files.example.com/inv-3-v2.pdf".into(),
        }
    );
    run!(
        Contract,
        &member,
        contract,
        ContractCommand::DraftContract {
            counterparty_id: org.client,
            counterparty_name: "Acme Festivals".into(),
            currency: Default::default(),
            terms: terms(
                "Gala agreement",
                10_000_00,
                Some("https://files.example.com/gala.pdf")
            ),
            visibility: Visibility::Restricted,
        }
    );
    run!(
        Contract,
        &admin,
        contract,
        ContractCommand::AmendContract {
            terms: terms(
                "Gala agreement",
                11_000_00,
                Some("https://files.example.com/gala-v2.pdf")
            ),
            summary: "Fee".into(),
        }
    );
    run!(
        ProductionAdvance,
        &member,
        advance,
        create_advance("ADV-3", org.event)
    );
    run!(
        Document,
        &member,
        rider,
        upload(
            entity("ProductionAdvance", advance),
            DocumentKind::Rider,
            "Rider",
            "https://files.example.com/rider.pdf"
        )
    );
    run!(
        ProductionAdvance,
        &member,
        advance,
        ProductionAdvanceCommand::AttachDocument {
            document_id: rider,
            kind: AttachmentKind::Rider,
            name: "Tech rider".into(),
            url: "https://files.example.com/rider.pdf".into(),
        }
    );
    run!(
        Document,
        &member,
        gone,
        upload(
            entity("Task", task),
            DocumentKind::Other,
            "Old quote",
            "https://files.example.com/quote.pdf"
        )
    );
    run!(Document, &admin, gone, DocumentCommand::DeleteDocument);
    run!(Task, &admin, task, TaskCommand::DeleteTask);
}

#[tokio::test]
async fn a_rebuild_gives_the_same_rows() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Rebuild").await;
    catch_up(&db, &engine, &[&ActivityFeed, &DocumentRegistry]).await;
    a_day_of_work(&db, &bus, &engine, &org).await;

    let feed = rows(&db, "activity_feed").await;
    let documents = rows(&db, "document_registry").await;
    assert_eq!(feed.len() as i64, db.event_count().await);
    // Permit, invoice PDF and its document, contract, rider and its document.
    assert_eq!(documents.len(), 6);

    for batch in [3, 1_000] {
        rebuild_from_scratch(&db, &ActivityFeed, batch).await;
        assert_eq!(rows(&db, "activity_feed").await, feed, "batches of {batch}");
        rebuild_from_scratch(&db, &DocumentRegistry, batch).await;
        assert_eq!(
            rows(&db, "document_registry").await,
            documents,
            "batches of {batch}"
        );
    }
}
