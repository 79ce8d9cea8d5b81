//! Rebuilding projections: from scratch, into shadow tables while the live
//! ones serve, and while commands keep arriving, the read tables come out row
//! for row as the live projection made them.

use chrono::{DateTime, Utc};
use foldline_aggregates::task::{Task, TaskCommand};
use foldline_aggregates::{CommandBus, RequestContext, Source};
use foldline_projectors::rebuild::{
    rebuild, rebuild_in_place, rebuild_in_shadow, RebuildError, Target,
};
use foldline_projectors::Engine;
use foldline_server::fixture::{self, Fixture};
use foldline_tests::api::Api;
use foldline_tests::read_side::{
    assert_rebuild_equals_live, assert_same, catch_up_all, snapshot, status_of, table_json, WAIT,
};
use foldline_tests::TestDb;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use uuid::Uuid;

/// The demo's first organization, and a member who may create tasks in it.
fn demo_member(demo: &Fixture) -> (Uuid, Uuid) {
    let member = demo
        .steps
        .iter()
        .find(|step| step.command_type == "add_member")
        .map(|step| step.actor_id)
        .unwrap();
    (demo.steps[0].organization_id, member)
}

fn create_task(title: String, due_at: DateTime<Utc>) -> TaskCommand {
    TaskCommand::CreateTask {
        title,
        description: None,
        event_id: None,
        project: None,
        assignee: None,
        due_at: Some(due_at),
        priority: Default::default(),
        visibility: Default::default(),
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
        rebuild_in_shadow(&db.pool, projection.clone(), 37, &quiet)
            .await
            .unwrap();
    }
    assert_same(&live, &snapshot(&db).await);

    for projection in foldline_projectors::all() {
        rebuild_in_place(&db.pool, projection.clone(), 1000, &quiet)
            .await
            .unwrap();
    }
    assert_same(&live, &snapshot(&db).await);
}

#[tokio::test]
async fn a_shadow_rebuild_while_commands_arrive_ends_equal_to_live() {
    let db = TestDb::new().await;
    let (bus, demo) = demo(&db).await;
    let (organization, member) = demo_member(&demo);

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
                    create_task(format!("Task {n}"), due + chrono::Duration::hours(n)),
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
        rebuild_in_shadow(&db.pool, projection.clone(), 25, &quiet)
            .await
            .unwrap();
    }
    writer.await.unwrap();

    let engine = Engine::new(db.pool.clone());
    catch_up_all(&db, &engine).await;
    let live = snapshot(&db).await;

    // An in-place rebuild needs the projections to itself: refused while the
    // workers hold them, done once they stop.
    let busy = rebuild_in_place(&db.pool, foldline_projectors::all()[0].clone(), 100, &quiet)
        .await
        .unwrap_err();
    assert!(matches!(busy, RebuildError::Busy(_)), "{busy}");
    stop.send(true).unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    for projection in foldline_projectors::all() {
        rebuild_in_place(&db.pool, projection.clone(), 1000, &quiet)
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
        store: &mut foldline_projectors::state_store::StateStore,
        events: &[foldline_projectors::StoredEvent],
    ) -> Result<(), foldline_projectors::ProjectionError> {
        self.inner.apply(tx, store, events).await?;
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

/// A random workload of a few thousand commands across every aggregate,
/// projected live by the workers while it runs (and rebuilt into shadow tables
/// half-way through, while commands keep arriving), equals a rebuild from
/// scratch. The seed is printed on failure; `FOLDLINE_SEED` replays one.
#[tokio::test]
async fn a_random_workload_projected_live_equals_a_rebuild() {
    let seed: u64 = std::env::var("FOLDLINE_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(rand::random);
    let mut rng = StdRng::seed_from_u64(seed);
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = foldline_tests::Org::create(&bus, "Determinism").await;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let workers = Engine::new(db.pool.clone())
        .with_batch_size(rng.gen_range(1..200))
        .spawn(foldline_projectors::all(), bus.committed(), shutdown);
    let clients = 4;
    let iterations = 22;
    let mut writers = Vec::new();
    for client in 0..clients {
        let bus = bus.clone();
        let mut rng = StdRng::seed_from_u64(rng.gen());
        writers.push(tokio::spawn(async move {
            let (mut accepted, mut refused) = (0, 0);
            for n in 0..iterations {
                let mut steps = foldline_tests::workload::iteration(&org, 7, client, n);
                // Now and then a step is dropped, sent twice, or swapped with
                // the next: later steps may then be refused, as a user's would.
                for i in 0..steps.len() {
                    if i + 1 < steps.len() && rng.gen_ratio(1, 25) {
                        steps.swap(i, i + 1);
                    }
                }
                for step in steps {
                    let times = match rng.gen_range(0..40) {
                        0 => 0,
                        1 => 2,
                        _ => 1,
                    };
                    for _ in 0..times {
                        let command = step.command.clone();
                        match bus
                            .dispatch(&org.request(step.actor), step.id, command, None)
                            .await
                        {
                            Ok(_) => accepted += 1,
                            Err(_) => refused += 1,
                        }
                    }
                }
            }
            (accepted, refused)
        }));
        if client == clients / 2 {
            // Give the first writers a head start before the rebuild below.
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    let quiet = |_: u64, _: u64| {};
    rebuild(
        &db.pool,
        &foldline_projectors::all(),
        Target::Shadow,
        rng.gen_range(50..2_000),
        &quiet,
    )
    .await
    .unwrap();
    let (mut accepted, mut refused) = (0, 0);
    for writer in writers {
        let (a, r) = writer.await.unwrap();
        accepted += a;
        refused += r;
    }
    assert!(
        accepted > 2_000,
        "seed {seed}: {accepted} commands accepted"
    );
    assert!(refused > 0, "seed {seed}: some commands were refused");

    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    stop.send(true).unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    assert_rebuild_equals_live(&db, rng.gen_range(1..1_000), &format!("seed {seed}: ")).await;
}

#[tokio::test]
async fn after_a_rebuild_live_projections_fold_what_they_have_no_state_of_from_the_events() {
    let db = TestDb::new().await;
    let (bus, demo) = demo(&db).await;
    let (organization, member) = demo_member(&demo);
    let request = RequestContext::new(organization, member, Source::Api);
    let task = Uuid::new_v4();
    let due: DateTime<Utc> = "2027-03-01T09:00:00Z".parse().unwrap();
    bus.execute::<Task>(
        &request,
        task,
        create_task("Rig the truss".into(), due),
        None,
    )
    .await
    .unwrap();

    // A rebuild keeps its states in memory and stores none.
    let quiet = |_: u64, _: u64| {};
    rebuild(
        &db.pool,
        &foldline_projectors::all(),
        Target::Shadow,
        1_000,
        &quiet,
    )
    .await
    .unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM projection_states")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);

    // The live projections meet a task they have no state of: they fold it
    // from its events, so its rows keep what only earlier events said.
    bus.execute::<Task>(&request, task, TaskCommand::StartTask, None)
        .await
        .unwrap();
    let engine = Engine::new(db.pool.clone());
    catch_up_all(&db, &engine).await;
    assert_eq!(
        status_of(&db, task).await,
        (
            "in_progress".into(),
            Some("todo".into()),
            "Rig the truss".into()
        )
    );
    assert_rebuild_equals_live(&db, 1_000, "").await;
}

/// What a table is besides its rows: indexes and constraints by name and
/// definition, row-level security, policies, grants, triggers and extended
/// statistics (by kind and columns: a copy's get names of their own).
async fn table_definition(db: &TestDb, table: &str) -> serde_json::Value {
    sqlx::query_scalar(
        "SELECT jsonb_build_object(
             'indexes', (SELECT jsonb_agg(jsonb_build_array(indexname, indexdef) ORDER BY indexname)
                         FROM pg_indexes WHERE schemaname = 'public' AND tablename = $1),
             'constraints', (SELECT jsonb_agg(jsonb_build_array(conname, pg_get_constraintdef(oid)) ORDER BY conname)
                             FROM pg_constraint WHERE conrelid = ('public.' || $1)::regclass),
             'security', (SELECT jsonb_build_array(relrowsecurity, relforcerowsecurity, relacl::text)
                          FROM pg_class WHERE oid = ('public.' || $1)::regclass),
             'policies', (SELECT jsonb_agg(to_jsonb(p) ORDER BY policyname)
                          FROM pg_policies p WHERE schemaname = 'public' AND tablename = $1),
             'triggers', (SELECT jsonb_agg(pg_get_triggerdef(oid) ORDER BY tgname)
                          FROM pg_trigger WHERE tgrelid = ('public.' || $1)::regclass AND NOT tgisinternal),
             'statistics', (SELECT jsonb_agg(jsonb_build_array(stxkind::text, stxkeys::text)
                                             ORDER BY stxkeys::text)
                            FROM pg_statistic_ext WHERE stxrelid = ('public.' || $1)::regclass))",
    )
    .bind(table)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_shadow_rebuild_keeps_what_the_live_table_is_besides_its_rows() {
    let db = TestDb::new().await;
    demo(&db).await;
    for statement in [
        "ALTER TABLE calendar_events ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY same_organization ON calendar_events FOR SELECT TO PUBLIC
             USING (organization_id::text = current_setting('app.organization_id', true))",
        "GRANT SELECT ON calendar_events TO PUBLIC",
        "CREATE FUNCTION calendar_touched() RETURNS trigger LANGUAGE plpgsql
             AS $$ BEGIN RETURN NEW; END $$",
        "CREATE TRIGGER calendar_touched BEFORE INSERT ON calendar_events
             FOR EACH ROW EXECUTE FUNCTION calendar_touched()",
    ] {
        sqlx::query(statement).execute(&db.pool).await.unwrap();
    }
    let engine = Engine::new(db.pool.clone());
    catch_up_all(&db, &engine).await;
    let before = table_definition(&db, "calendar_events").await;
    let policies: Vec<&str> = before["policies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|policy| policy["policyname"].as_str())
        .collect();
    assert_eq!(policies, ["member_visibility", "same_organization"]);
    assert_eq!(before["triggers"].as_array().map(Vec::len), Some(1));
    assert_eq!(before["statistics"].as_array().map(Vec::len), Some(1));
    let rows = table_json(&db, "calendar_events").await;
    assert!(rows.as_array().is_some_and(|rows| !rows.is_empty()));

    let calendar = foldline_projectors::by_name("calendar_events").unwrap();
    rebuild_in_shadow(&db.pool, calendar, 50, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(table_definition(&db, "calendar_events").await, before);
    assert_eq!(table_json(&db, "calendar_events").await, rows);
    let analyzed: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_stats
                        WHERE schemaname = 'public' AND tablename = 'calendar_events')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(analyzed, "the copy goes live with its statistics");
    let leftovers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'foldline_shadow'
           AND tablename NOT IN ('projection_states', 'projection_checkpoints')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(leftovers, 0, "no shadow table is left behind");
}

/// A swap waiting behind a long read does not hold every other read of the
/// table in its queue: it gives up after a moment and tries again, and is
/// done once the long read ends.
#[tokio::test]
async fn a_swap_behind_a_long_read_does_not_stall_the_other_readers() {
    use sqlx::{Connection, PgConnection};
    let db = TestDb::new().await;
    let bus = db.bus();
    foldline_tests::Org::create(&bus, "Swapped").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let mut long = PgConnection::connect_with(&db.options).await.unwrap();
    let mut reading = long.begin().await.unwrap();
    sqlx::query("SELECT count(*) FROM status_tracker")
        .execute(&mut *reading)
        .await
        .unwrap();
    let pool = db.pool.clone();
    let rebuilding = tokio::spawn(async move {
        let status = foldline_projectors::by_name("status_tracker").unwrap();
        rebuild_in_shadow(&pool, status, 100, &|_, _| {}).await
    });
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    // Other readers get through while the long read holds the swap off.
    let mut other = PgConnection::connect_with(&db.options).await.unwrap();
    for _ in 0..5 {
        sqlx::query("SET statement_timeout = '5s'")
            .execute(&mut other)
            .await
            .unwrap();
        sqlx::query("SELECT count(*) FROM status_tracker")
            .execute(&mut other)
            .await
            .expect("a reader is not queued behind the swap for long");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    assert!(
        !rebuilding.is_finished(),
        "the swap waits for the long read"
    );
    reading.commit().await.unwrap();
    rebuilding
        .await
        .unwrap()
        .expect("swapped in once the read ended");
}

/// `search_matches` keeps its plans for the session: on a read connection
/// that searched before a swap, a search after it reads the new tables.
#[tokio::test]
async fn search_finds_the_same_rows_after_a_shadow_rebuild() {
    let db = TestDb::new().await;
    let (_, demo) = demo(&db).await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let (organization, owner) = (demo.steps[0].organization_id, demo.steps[0].actor_id);
    let api = Api::new(&db);
    let hits = || async {
        let (_, response) = api
            .query(
                owner,
                organization,
                "{ search(text: \"gala\", first: 100) { source id title } }",
                json!({}),
            )
            .await;
        let mut hits: Vec<String> = response["data"]["search"]
            .as_array()
            .unwrap_or_else(|| panic!("{response}"))
            .iter()
            .map(|hit| hit.to_string())
            .collect();
        hits.sort();
        hits
    };
    // Enough searches for the connections to keep generic plans.
    let before = hits().await;
    for _ in 0..6 {
        assert_eq!(hits().await, before);
    }
    assert!(before.len() > 2, "the demo has galas: {before:?}");
    let quiet = |_: u64, _: u64| {};
    for projection in foldline_projectors::all() {
        rebuild_in_shadow(&db.pool, projection.clone(), 50, &quiet)
            .await
            .unwrap();
    }
    assert_eq!(hits().await, before);
}
