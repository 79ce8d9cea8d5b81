//! Projections over a real event store: the seeds' trigger test, ordering
//! without gaps, rows carried from their entities, poison events.

use chrono::{DateTime, Utc};
use foldline_aggregates::event::{Event, EventCommand, EventKind};
use foldline_aggregates::task::{Task, TaskCommand};
use foldline_aggregates::{CommandBus, Visibility};
use foldline_projectors::calendar::Calendar;
use foldline_projectors::status_tracker::StatusTracker;
use foldline_projectors::{checkpoint, Engine, EngineError, Projection};
use foldline_tests::read_side::{at, catch_up_all, last_position, WAIT};
use foldline_tests::{Org, TestDb};
use sqlx::Connection;
use uuid::Uuid;

fn create_task(title: &str, due_at: Option<DateTime<Utc>>) -> TaskCommand {
    TaskCommand::CreateTask {
        title: title.into(),
        description: None,
        event_id: None,
        project: None,
        assignee: None,
        due_at,
        priority: Default::default(),
        visibility: Visibility::Private,
    }
}

async fn count(db: &TestDb, table: &str, external_id: &str) -> i64 {
    sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {table} WHERE external_id = $1"
    ))
    .bind(external_id)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_seeds_trigger_test_through_commands() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Triggers").await;
    let request = org.request(org.member);
    let task = Uuid::new_v4();
    let status_row = format!("Task:{task}");
    let calendar_row = format!("Task:{task}:due");

    bus.execute::<Task>(&request, task, create_task("Book the hotel", None), None)
        .await
        .unwrap();
    catch_up_all(&db, &engine).await;
    assert_eq!(count(&db, "status_tracker", &status_row).await, 1);
    assert_eq!(count(&db, "calendar_events", &calendar_row).await, 0);

    bus.execute::<Task>(
        &request,
        task,
        TaskCommand::SetTaskDueDate {
            due_at: Some(at("2026-12-05T12:00:00Z")),
        },
        None,
    )
    .await
    .unwrap();
    catch_up_all(&db, &engine).await;
    assert_eq!(count(&db, "calendar_events", &calendar_row).await, 1);
    let (title, starts_at): (String, DateTime<Utc>) =
        sqlx::query_as("SELECT title, starts_at FROM calendar_events WHERE external_id = $1")
            .bind(&calendar_row)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    // The title comes from the task's creation, not from the event that set the date.
    assert_eq!(title, "Due: Book the hotel");
    assert_eq!(starts_at, at("2026-12-05T12:00:00Z"));

    bus.execute::<Task>(&request, task, TaskCommand::DeleteTask, None)
        .await
        .unwrap();
    catch_up_all(&db, &engine).await;
    assert_eq!(count(&db, "status_tracker", &status_row).await, 0);
    assert_eq!(count(&db, "calendar_events", &calendar_row).await, 0);
}

#[tokio::test]
async fn status_rows_carry_status_history_visibility_and_owner() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Status").await;
    let task = Uuid::new_v4();
    bus.execute::<Task>(
        &org.request(org.member),
        task,
        create_task("Rig the truss", Some(at("2026-12-10T09:00:00Z"))),
        None,
    )
    .await
    .unwrap();
    for (actor, command) in [
        (org.member, TaskCommand::StartTask),
        (
            org.admin,
            TaskCommand::BlockTask {
                reason: "Waiting for the motors".into(),
            },
        ),
    ] {
        bus.execute::<Task>(&org.request(actor), task, command, None)
            .await
            .unwrap();
    }
    catch_up_all(&db, &engine).await;
    let row: StatusRow = sqlx::query_as(
        "SELECT organization_id, entity_name, current_status, previous_status, status_category,
                changed_by, visibility, owner_id, due_date, last_position
         FROM status_tracker WHERE entity_id = $1",
    )
    .bind(task)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let last_position: i64 =
        sqlx::query_scalar("SELECT max(global_position) FROM events WHERE aggregate_id = $1")
            .bind(task.to_string())
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(row.organization_id, org.id);
    assert_eq!(row.entity_name, "Rig the truss");
    assert_eq!(row.current_status, "blocked");
    assert_eq!(row.previous_status.as_deref(), Some("in_progress"));
    assert_eq!(row.status_category, "blocked");
    assert_eq!(row.changed_by, Some(org.admin));
    assert_eq!(row.visibility, "private");
    assert_eq!(row.owner_id, Some(org.member));
    assert_eq!(row.due_date, chrono::NaiveDate::from_ymd_opt(2026, 12, 10));
    assert_eq!(row.last_position, last_position);
}

#[derive(sqlx::FromRow)]
struct StatusRow {
    organization_id: Uuid,
    entity_name: String,
    current_status: String,
    previous_status: Option<String>,
    status_category: String,
    changed_by: Option<Uuid>,
    visibility: String,
    owner_id: Option<Uuid>,
    due_date: Option<chrono::NaiveDate>,
    last_position: i64,
}

/// A transaction that takes its position early and commits late is projected,
/// and not skipped by a reader that already saw later positions.
#[tokio::test]
async fn a_transaction_committing_late_is_not_skipped() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Gaps").await;
    catch_up_all(&db, &engine).await;

    // The slow writer: appends a task's creation and holds its transaction open.
    let slow_task = Uuid::new_v4();
    let mut slow = sqlx::PgConnection::connect_with(&db.options).await.unwrap();
    let mut slow_tx = slow.begin().await.unwrap();
    let metadata = serde_json::json!({
        "organization_id": org.id, "actor_id": org.member,
        "correlation_id": Uuid::new_v4(), "causation_id": Uuid::new_v4(),
        "command_id": Uuid::new_v4(), "command": "CreateTask",
        "source": "import", "request_id": "slow",
    });
    let payload = serde_json::json!({"TaskCreated": {
        "task_id": slow_task, "organization_id": org.id, "owner_id": org.member,
        "title": "Slow", "description": null, "event_id": null, "project": null,
        "assignee": null, "due_at": null, "priority": "medium", "visibility": "organization",
    }});
    let slow_position: i64 = sqlx::query_scalar(
        "INSERT INTO events
             (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('Task', $1, 1, 'TaskCreated', '1.0', $2, $3)
         RETURNING global_position",
    )
    .bind(slow_task.to_string())
    .bind(&payload)
    .bind(&metadata)
    .fetch_one(&mut *slow_tx)
    .await
    .unwrap();

    // A fast writer commits after it, at a later position.
    let fast_task = Uuid::new_v4();
    let fast = bus
        .execute::<Task>(
            &org.request(org.member),
            fast_task,
            create_task("Fast", None),
            None,
        )
        .await
        .unwrap();
    assert!(fast.global_position > slow_position);

    // While the slow transaction is open, the projection waits before it.
    let held = engine
        .catch_up_to(
            &StatusTracker,
            fast.global_position,
            std::time::Duration::from_millis(300),
        )
        .await
        .unwrap_err();
    assert!(matches!(held, EngineError::Timeout { .. }), "{held}");
    assert_eq!(
        count(&db, "status_tracker", &format!("Task:{fast_task}")).await,
        0
    );
    assert_eq!(
        count(&db, "status_tracker", &format!("Task:{slow_task}")).await,
        0
    );

    slow_tx.commit().await.unwrap();
    catch_up_all(&db, &engine).await;
    assert_eq!(
        count(&db, "status_tracker", &format!("Task:{slow_task}")).await,
        1
    );
    assert_eq!(
        count(&db, "status_tracker", &format!("Task:{fast_task}")).await,
        1
    );
}

#[tokio::test]
async fn a_poison_event_stops_only_its_projection_with_its_position() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Poison").await;
    catch_up_all(&db, &engine).await;

    // A good event and, in the same batch, an expense event no release can
    // read. The status tracker reads expenses; the calendar does not.
    let good = Uuid::new_v4();
    plan(&bus, &org, good).await;
    let poison_position: i64 = sqlx::query_scalar(
        "INSERT INTO events
             (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('Expense', $1, 1, 'ExpenseRecorded', '1.0', '{\"ExpenseRecorded\": {\"amount\": \"lots\"}}',
                 (SELECT metadata FROM events WHERE aggregate_id = $2 LIMIT 1))
         RETURNING global_position",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(good.to_string())
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let task = Uuid::new_v4();
    bus.execute::<Task>(
        &org.request(org.member),
        task,
        create_task("After", Some(at("2026-12-20T10:00:00Z"))),
        None,
    )
    .await
    .unwrap();

    let last = last_position(&db).await;
    let error = engine
        .catch_up_to(&StatusTracker, last, WAIT)
        .await
        .unwrap_err();
    match &error {
        EngineError::Stopped { position, .. } => assert_eq!(*position, poison_position),
        other => panic!("expected a stop, got {other}"),
    }
    assert!(error.to_string().contains(&poison_position.to_string()));
    // Nothing at or after the poison was written: the task comes after it in
    // the feed, in the failed batch or in none.
    assert_eq!(
        count(&db, "status_tracker", &format!("Task:{task}")).await,
        0
    );
    // It stays stopped, and says where.
    assert!(matches!(
        engine.catch_up(&StatusTracker).await,
        Err(EngineError::Stopped { .. })
    ));
    let checkpoints = checkpoint::list(&db.pool).await.unwrap();
    let tracker = checkpoints
        .iter()
        .find(|c| c.projection == StatusTracker.name())
        .unwrap();
    assert_eq!(tracker.state, "stopped");
    assert_eq!(tracker.error_position, Some(poison_position));

    // The calendar does not read expenses and goes on.
    engine.catch_up_to(&Calendar, last, WAIT).await.unwrap();
    assert_eq!(
        count(&db, "calendar_events", &format!("Event:{good}")).await,
        1
    );
    assert_eq!(
        count(&db, "calendar_events", &format!("Task:{task}:due")).await,
        1
    );
}

async fn plan(bus: &CommandBus, org: &Org, id: Uuid) {
    bus.execute::<Event>(
        &org.request(org.member),
        id,
        EventCommand::PlanEvent {
            title: "Gala".into(),
            kind: EventKind::Show,
            starts_at: at("2026-12-12T19:00:00Z"),
            ends_at: at("2026-12-13T00:30:00Z"),
            venue_id: None,
            visibility: Default::default(),
        },
        None,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn one_worker_per_projection_and_a_standby_takes_over() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Standby").await;
    let (stop_a, shutdown_a) = tokio::sync::watch::channel(false);
    let (stop_b, shutdown_b) = tokio::sync::watch::channel(false);
    let first =
        Engine::new(db.pool.clone()).spawn(foldline_projectors::all(), bus.committed(), shutdown_a);
    let projections = foldline_projectors::all().len() as i64;
    wait_for_locks(&db, projections).await;
    let second =
        Engine::new(db.pool.clone()).spawn(foldline_projectors::all(), bus.committed(), shutdown_b);
    // One lock per projection: the second engine holds none of them.
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(held_locks(&db).await, projections);

    stop_a.send(true).unwrap();
    for handle in first {
        handle.await.unwrap();
    }
    // The standby takes every lock and projects what comes next.
    wait_for_locks(&db, projections).await;
    let task = Uuid::new_v4();
    bus.execute::<Task>(
        &org.request(org.member),
        task,
        create_task("Later", None),
        None,
    )
    .await
    .unwrap();
    let row = format!("Task:{task}");
    // Other tests' open transactions on the server may hold the feed back.
    for _ in 0..600 {
        if count(&db, "status_tracker", &row).await == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(count(&db, "status_tracker", &row).await, 1);
    stop_b.send(true).unwrap();
    for handle in second {
        handle.await.unwrap();
    }
}

async fn held_locks(db: &TestDb) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

async fn wait_for_locks(db: &TestDb, count: i64) {
    for _ in 0..600 {
        if held_locks(db).await == count {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the workers never took their locks");
}

#[tokio::test]
async fn the_feed_orders_transaction_ids_as_numbers_and_skips_none() {
    let db = TestDb::new().await;
    // Transactions 9, 10 and 11 (as text, "10" < "11" < "9"), appended with
    // those ids directly so the order is known.
    for (transaction, aggregate) in [(9, "a"), (10, "b"), (11, "c")] {
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                                 payload, metadata, transaction_id)
             VALUES ('Probe', $1, 1, 'Probed', '1.0', '{}', $2, $3::text::xid8)",
        )
        .bind(aggregate)
        .bind(serde_json::json!({"organization_id": Uuid::new_v4()}))
        .bind(transaction.to_string())
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let mut conn = db.pool.acquire().await.unwrap();
    let mut after = foldline_projectors::Position::default();
    let mut seen = Vec::new();
    loop {
        let batch = foldline_projectors::feed::read_batch(&mut conn, after, 1)
            .await
            .unwrap();
        let Some(event) = batch.last() else { break };
        after = event.position;
        seen.push((event.position.transaction_id, event.aggregate_id.clone()));
    }
    assert_eq!(
        seen,
        [
            (9, "a".to_owned()),
            (10, "b".to_owned()),
            (11, "c".to_owned())
        ]
    );
}
