//! One visibility rule on every surface (DOMAIN.md): rows derived from an
//! entity, comments naming it, its detail and its audit history are seen by
//! whoever may see the entity, and by no one else.

use chrono::NaiveDate;
use foldline_aggregates::comment::{Comment, CommentCommand};
use foldline_aggregates::invoice::{Invoice, InvoiceCommand};
use foldline_aggregates::task::{Task, TaskCommand};
use foldline_aggregates::{EntityRef, RequestContext, Source, Visibility};
use foldline_projectors::Engine;
use foldline_tests::api::{codes, Api};
use foldline_tests::commands::{draft_invoice, invoice_line};
use foldline_tests::read_side::catch_up_all;
use foldline_tests::{Org, TestDb};
use serde_json::{json, Value};
use uuid::Uuid;

/// A task of `org` with `visibility`, created by its member.
async fn task(db: &TestDb, org: &Org, title: &str, visibility: Visibility) -> Uuid {
    let id = Uuid::new_v4();
    let command = TaskCommand::CreateTask {
        title: title.into(),
        description: None,
        event_id: None,
        project: None,
        assignee: None,
        due_at: Some("2027-02-01T09:00:00Z".parse().unwrap()),
        priority: Default::default(),
        visibility,
    };
    db.bus()
        .execute::<Task>(&org.request(org.member), id, command, None)
        .await
        .unwrap();
    id
}

/// A comment by `author`, open to the whole organization, on the task.
async fn comment(db: &TestDb, org: &Org, author: Uuid, task: Uuid, body: &str) {
    let command = CommentCommand::PostComment {
        on: EntityRef {
            entity_type: "Task".into(),
            entity_id: task,
        },
        parent_id: None,
        kind: Default::default(),
        body: body.into(),
        visibility: Visibility::Public,
    };
    db.bus()
        .execute::<Comment>(&org.request(author), Uuid::new_v4(), command, None)
        .await
        .unwrap();
}

/// How many rows of `field` about `entity` `user` sees.
async fn rows_about(api: &Api, org: &Org, user: Uuid, field: &str, entity: Uuid) -> usize {
    let query = format!("{{ {field}(first: 100) {{ edges {{ node {{ entityId }} }} }} }}");
    let (_, response) = api.query(user, org.id, &query, json!({})).await;
    response["data"][field]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{field}: {response}"))
        .iter()
        .filter(|edge| edge["node"]["entityId"] == json!(entity))
        .count()
}

#[tokio::test]
async fn comments_are_seen_by_whoever_may_see_what_they_are_on() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Comments").await;
    let private = task(&db, &org, "Owner's errand", Visibility::Private).await;
    let restricted = task(&db, &org, "Payroll run", Visibility::Restricted).await;
    let open = task(&db, &org, "Strike the set", Visibility::Organization).await;
    // The member who created them comments on each; an admin too.
    for task in [private, restricted, open] {
        comment(&db, &org, org.member, task, "Done by Friday").await;
        comment(&db, &org, org.admin, task, "Noted").await;
    }
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let api = Api::new(&db);
    // (task, who, activity rows seen: the creation and both comments, or none)
    let cases = [
        (private, org.owner, 3),
        (private, org.member, 3), // its creator
        (private, org.admin, 0),
        (private, org.guest, 0),
        (restricted, org.owner, 3),
        (restricted, org.admin, 3),
        (restricted, org.member, 0), // though its creator and a commenter
        (restricted, org.finance, 0),
        (open, org.member, 3),
        (open, org.guest, 0),
    ];
    for (task, user, expected) in cases {
        let seen = rows_about(&api, &org, user, "activityFeed", task).await;
        assert_eq!(seen, expected, "task {task} as {user}");
    }
}

#[tokio::test]
async fn a_finance_member_sees_a_restricted_invoice_on_every_surface() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Finance").await;
    let bus = db.bus();
    let invoice = Uuid::new_v4();
    let as_finance = org.request(org.finance);
    for command in [
        draft_invoice("INV-9", org.client),
        invoice_line(3),
        InvoiceCommand::IssueInvoice {
            issued_on: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        },
    ] {
        bus.execute::<Invoice>(&as_finance, invoice, command, None)
            .await
            .unwrap();
    }
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let api = Api::new(&db);
    for field in ["ledger", "statuses", "activityFeed", "calendarEvents"] {
        let seen = rows_about(&api, &org, org.finance, field, invoice).await;
        assert!(seen > 0, "{field}: the finance member sees the invoice");
        let seen = rows_about(&api, &org, org.member, field, invoice).await;
        assert_eq!(seen, 0, "{field}: a plain member does not");
    }
    let detail = "query($id: UUID!) { invoice(id: $id) { version } }";
    let (_, response) = api
        .query(org.finance, org.id, detail, json!({"id": invoice}))
        .await;
    assert_eq!(response["data"]["invoice"]["version"], 3, "{response}");
    let (_, response) = api
        .query(org.member, org.id, detail, json!({"id": invoice}))
        .await;
    assert_eq!(codes(&response), ["NOT_FOUND"], "{response}");
}

#[tokio::test]
async fn audit_queries_show_only_entities_the_auditor_may_see() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Audited").await;
    let correlation = Uuid::new_v4();
    let private = Uuid::new_v4();
    let mut request = RequestContext::new(org.id, org.member, Source::Api);
    request.correlation_id = correlation;
    db.bus()
        .execute::<Task>(
            &request,
            private,
            TaskCommand::CreateTask {
                title: "Owner's errand".into(),
                description: None,
                event_id: None,
                project: None,
                assignee: None,
                due_at: None,
                priority: Default::default(),
                visibility: Visibility::Private,
            },
            None,
        )
        .await
        .unwrap();
    let invoice = Uuid::new_v4();
    let mut private_invoice = draft_invoice("INV-P", org.client);
    if let InvoiceCommand::DraftInvoice { visibility, .. } = &mut private_invoice {
        *visibility = Visibility::Private;
    }
    db.bus()
        .execute::<Invoice>(&org.request(org.finance), invoice, private_invoice, None)
        .await
        .unwrap();
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let api = Api::new(&db);
    let queries = |aggregate: &str| {
        [
            format!("query($id: String!) {{ auditStream(aggregateType: \"{aggregate}\", id: $id) {{ edges {{ node {{ sequence }} }} }} }}"),
            format!("query($id: String!) {{ entityAt(aggregateType: \"{aggregate}\", id: $id) {{ version }} }}"),
            format!("query($id: String!) {{ fieldHistory(aggregateType: \"{aggregate}\", id: $id) {{ edges {{ node {{ field }} }} }} }}"),
        ]
    };
    for (aggregate, id) in [("Task", private), ("Invoice", invoice)] {
        for query in queries(aggregate) {
            let (_, response) = api
                .query(org.admin, org.id, &query, json!({"id": id}))
                .await;
            assert_eq!(
                codes(&response),
                ["NOT_FOUND"],
                "admin, {aggregate}: {query}: {response}"
            );
            let (_, response) = api
                .query(org.owner, org.id, &query, json!({"id": id}))
                .await;
            assert!(
                response["errors"].is_null(),
                "owner, {aggregate}: {query}: {response}"
            );
        }
    }
    let by_request =
        "query($c: UUID!) { auditRequest(correlationId: $c) { edges { node { aggregateId } } } }";
    let ids = |response: Value| -> Vec<Value> {
        response["data"]["auditRequest"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|edge| edge["node"]["aggregateId"].clone())
            .collect()
    };
    let (_, response) = api
        .query(org.admin, org.id, by_request, json!({"c": correlation}))
        .await;
    assert_eq!(ids(response), Vec::<Value>::new());
    let (_, response) = api
        .query(org.owner, org.id, by_request, json!({"c": correlation}))
        .await;
    assert_eq!(ids(response), vec![json!(private.to_string())]);
}
