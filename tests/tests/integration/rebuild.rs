//! Rebuilding projections: from scratch, into shadow tables while the live
//! ones serve, and while commands keep arriving, the read tables come out row
//! for row as the live projection made them.

use chrono::{DateTime, Utc};
use foldline_aggregates::task::{Task, TaskCommand};
use foldline_aggregates::{CommandBus, RequestContext, Source};
use foldline_projectors::rebuild::{rebuild_in_place, rebuild_in_shadow, RebuildError};
use foldline_projectors::Engine;
use foldline_server::fixture::{self, Fixture};
use foldline_tests::read_side::{catch_up_all, table_json, WAIT};
use foldline_tests::TestDb;
use uuid::Uuid;

/// Every read table's rows, in a stable order.
async fn snapshot(db: &TestDb) -> Vec<(String, serde_json::Value)> {
    let mut tables = Vec::new();
    for projection in foldline_projectors::all() {
        for table in projection.tables() {
            tables.push((table.to_string(), table_json(db, table).await));
        }
    }
    tables
}

fn assert_same(live: &[(String, serde_json::Value)], rebuilt: &[(String, serde_json::Value)]) {
    for ((table, expected), (_, actual)) in live.iter().zip(rebuilt) {
        assert_eq!(expected, actual, "{table} differs after the rebuild");
    }
}

async fn demo(db: &TestDb) -> (CommandBus, Fixture) {
    let bus = db.bus();
    let demo = Fixture::load("demo").unwrap();
    fixture::seed(&bus, &demo).await.unwrap();
    (bus, demo)
}

#[tokio::test]
async fn rebuilds_give_the_live_tables_row_for_row() {
    let db = TestDb::new().await;
    demo(&db).await;
    let engine = Engine::new(db.pool.clone()).with_batch_size(50);
    catch_up_all(&db, &engine).await;
    let live = snapshot(&db).await;
    let rows: usize = live.iter().map(|(_, r)| r.as_array().unwrap().len()).sum();
    assert!(rows > 300, "the demo fills the tables ({rows} rows)");

    let quiet = |_: u64, _: u64| {};
    for projection in foldline_projectors::all() {
        rebuild_in_shadow(&db.pool, projection.as_ref(), 37, &quiet)
            .await
            .unwrap();
    }
    assert_same(&live, &snapshot(&db).await);

    for projection in foldline_projectors::all() {
        rebuild_in_place(&db.pool, projection.as_ref(), 1000, &quiet)
            .await
            .unwrap();
    }
    assert_same(&live, &snapshot(&db).await);
}

#[tokio::test]
async fn a_shadow_rebuild_while_commands_arrive_ends_equal_to_live() {
    let db = TestDb::new().await;
    let (bus, demo) = demo(&db).await;
    let organization = demo.steps[0].organization_id;
    let member = demo
        .steps
        .iter()
        .find(|step| step.command_type == "add_member")
        .map(|step| step.actor_id)
        .unwrap();

    // The live workers run throughout, woken by the bus.
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let workers =
        Engine::new(db.pool.clone()).spawn(foldline_projectors::all(), bus.committed(), shutdown);

    let writer = {
        let bus = bus.clone();
        tokio::spawn(async move {
            for n in 0..60 {
                let request = RequestContext::new(organization, member, Source::Api);
                let task = Uuid::new_v4();
                let due: DateTime<Utc> = "2027-01-10T09:00:00Z".parse().unwrap();
                bus.execute::<Task>(
                    &request,
                    task,
                    TaskCommand::CreateTask {
                        title: format!("Task {n}"),
                        description: None,
                        event_id: None,
                        project: None,
                        assignee: None,
                        due_at: Some(due + chrono::Duration::hours(n)),
                        priority: Default::default(),
                        visibility: Default::default(),
                    },
                    None,
                )
                .await
                .unwrap();
                bus.execute::<Task>(&request, task, TaskCommand::StartTask, None)
                    .await
                    .unwrap();
            }
        })
    };
    let quiet = |_: u64, _: u64| {};
    for projection in foldline_projectors::all() {
        rebuild_in_shadow(&db.pool, projection.as_ref(), 25, &quiet)
            .await
            .unwrap();
    }
    writer.await.unwrap();

    let engine = Engine::new(db.pool.clone());
    catch_up_all(&db, &engine).await;
    let live = snapshot(&db).await;

    // An in-place rebuild needs the projections to itself: refused while the
    // workers hold them, done once they stop.
    let busy = rebuild_in_place(
        &db.pool,
        foldline_projectors::all()[0].as_ref(),
        100,
        &quiet,
    )
    .await
    .unwrap_err();
    assert!(matches!(busy, RebuildError::Busy(_)), "{busy}");
    stop.send(true).unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    for projection in foldline_projectors::all() {
        rebuild_in_place(&db.pool, projection.as_ref(), 1000, &quiet)
            .await
            .unwrap();
    }
    assert_same(&live, &snapshot(&db).await);
}

/// Runs a projection but stops before the engine commits, until released:
/// the moment a worker can be killed with its batch written but not committed.
struct HeldBeforeCommit {
    inner: std::sync::Arc<dyn foldline_projectors::Projection>,
    backend: std::sync::Mutex<Option<i32>>,
    written: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

#[async_trait::async_trait]
impl foldline_projectors::Projection for HeldBeforeCommit {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn tables(&self) -> &'static [&'static str] {
        self.inner.tables()
    }

    async fn apply(
        &self,
        tx: &mut sqlx::PgConnection,
        events: &[foldline_projectors::StoredEvent],
    ) -> Result<(), foldline_projectors::ProjectionError> {
        self.inner.apply(tx, events).await?;
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *tx)
            .await?;
        *self.backend.lock().unwrap() = Some(pid);
        self.written.notify_one();
        self.release.notified().await;
        Ok(())
    }
}

#[tokio::test]
async fn a_worker_killed_before_its_commit_leaves_nothing_and_loses_nothing() {
    let db = TestDb::new().await;
    demo(&db).await;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let feed = foldline_projectors::by_name("activity_feed").unwrap();
    let held = std::sync::Arc::new(HeldBeforeCommit {
        inner: feed.clone(),
        backend: Default::default(),
        written: Default::default(),
        release: Default::default(),
    });
    let engine = Engine::new(db.pool.clone()).with_batch_size(100);

    // The first batch is written inside its transaction; the worker's
    // session is killed before the commit.
    // Steps until a batch is written: other tests' open transactions on the
    // server may hold the feed back for a moment, and an empty step writes
    // nothing.
    let last = foldline_tests::read_side::last_position(&db).await;
    let step = {
        let engine = engine.clone();
        let held = held.clone();
        tokio::spawn(async move { engine.catch_up_to(held.as_ref(), last, WAIT).await })
    };
    tokio::time::timeout(WAIT, held.written.notified())
        .await
        .expect("a batch is written");
    let pid = held.backend.lock().unwrap().unwrap();
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(killed);
    held.release.notify_one();
    let outcome = step.await.unwrap();
    assert!(outcome.is_err(), "the batch cannot commit: {outcome:?}");

    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM activity_feed")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(rows, 0, "no partial batch");
    let checkpoint = foldline_projectors::checkpoint::get(&db.pool, "activity_feed")
        .await
        .unwrap();
    assert!(checkpoint.is_none_or(|c| c.position.global_position == 0));

    // On restart every event is applied once: one row each, none twice.
    let last: i64 = sqlx::query_scalar("SELECT max(global_position) FROM events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    engine.catch_up_to(feed.as_ref(), last, WAIT).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM activity_feed")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let missing: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events e
         WHERE NOT EXISTS (SELECT 1 FROM activity_feed a
                           WHERE a.external_id = 'event:' || e.global_position)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(rows, events, "one row per event, none twice");
    assert_eq!(missing, 0, "no event lost");
}

/// A workload of a few thousand commands across every aggregate, projected
/// live by the workers while it runs, equals a rebuild from scratch.
#[tokio::test]
async fn a_few_thousand_commands_projected_live_equal_a_rebuild() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = foldline_tests::Org::create(&bus, "Determinism").await;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let workers = Engine::new(db.pool.clone()).with_batch_size(64).spawn(
        foldline_projectors::all(),
        bus.committed(),
        shutdown,
    );
    let clients = 4;
    let iterations = 15;
    let mut writers = Vec::new();
    for client in 0..clients {
        let bus = bus.clone();
        writers.push(tokio::spawn(async move {
            for n in 0..iterations {
                for step in foldline_tests::workload::iteration(&org, 7, client, n) {
                    bus.dispatch(&org.request(step.actor), step.id, step.command, None)
                        .await
                        .unwrap();
                }
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let commands: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT metadata ->> 'command_id') FROM events")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(commands > 2_000, "{commands} commands");

    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    stop.send(true).unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    let live = snapshot(&db).await;
    let quiet = |_: u64, _: u64| {};
    for projection in foldline_projectors::all() {
        rebuild_in_place(&db.pool, projection.as_ref(), 500, &quiet)
            .await
            .unwrap();
    }
    assert_same(&live, &snapshot(&db).await);
}
