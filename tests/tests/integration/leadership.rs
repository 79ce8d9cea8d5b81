//! One worker per projection, under faults: every session ended at once (as
//! by a PostgreSQL restart), a rebuild in place against live workers, an
//! event a projection cannot apply, a stored state that no longer reads, a
//! worker that panics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use foldline_aggregates::task::{Task, TaskCommand};
use foldline_projectors::rebuild::{rebuild_in_place, RebuildError};
use foldline_projectors::state_store::StateStore;
use foldline_projectors::{checkpoint, Engine, Projection, ProjectionError, StoredEvent};
use foldline_tests::commands::create_task;
use foldline_tests::legacy::insert_contact_added;
use foldline_tests::read_side::{
    assert_rebuild_equals_live, catch_up_all, last_position, status_of, WAIT,
};
use foldline_tests::{Org, TestDb};
use sqlx::{Connection, PgConnection};
use tokio::sync::watch;
use uuid::Uuid;

/// How many projection locks sessions of this database hold.
/// How many projections there are, each led under its own lock.
fn projections() -> i64 {
    foldline_projectors::all().len() as i64
}

async fn projection_locks(db: &TestDb) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()",
    )
    .fetch_one(&db.pool)
    .await
    // A pooled connection ended under the test reads as "not yet".
    .unwrap_or(-1)
}

/// Waits until `ready` holds, failing after [`WAIT`].
async fn eventually<F, Fut>(what: &str, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !ready().await {
        assert!(started.elapsed() < WAIT, "{what}: not within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether every projection has applied every event appended so far.
async fn caught_up(db: &TestDb) -> bool {
    let Ok(last) = sqlx::query_scalar("SELECT coalesce(max(global_position), 0) FROM events")
        .fetch_one(&db.pool)
        .await
    else {
        return false;
    };
    for projection in foldline_projectors::all() {
        match checkpoint::reached(&db.pool, projection.name(), last).await {
            Ok(Some(true)) => {}
            _ => return false,
        }
    }
    true
}

/// Ends every other session of the test's database, as a restart of
/// PostgreSQL does.
async fn end_every_session(db: &TestDb) {
    let mut conn = PgConnection::connect_with(&db.options).await.unwrap();
    let ended: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()) t",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(ended > 0);
    conn.close().await.ok();
}

/// Sends `count` tasks' worth of commands, retrying a command whose pooled
/// connection was one of those ended.
async fn send_tasks(db: &TestDb, org: &Org, count: usize) {
    let bus = db.bus();
    for n in 0..count {
        let task = Uuid::new_v4();
        for command in [
            create_task(&format!("Task {n}"), Some(org.member)),
            TaskCommand::StartTask,
        ] {
            let mut tries = 0;
            while let Err(error) = bus
                .execute::<Task>(&org.request(org.admin), task, command.clone(), None)
                .await
            {
                tries += 1;
                // Each of the pool's ended connections fails one try.
                assert!(tries < 20, "command failed: {error}");
            }
        }
    }
}

#[tokio::test]
async fn after_every_session_ends_one_engine_leads_each_projection() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Two engines").await;
    let (stop, shutdown) = watch::channel(false);
    let first = Engine::new(db.pool.clone()).with_batch_size(7);
    let second = Engine::new(db.pool.clone()).with_batch_size(7);
    let mut workers = first.spawn(
        foldline_projectors::all(),
        bus.committed(),
        shutdown.clone(),
    );
    eventually("the first engine leads", || async {
        projection_locks(&db).await == projections() && caught_up(&db).await
    })
    .await;
    workers.extend(second.spawn(foldline_projectors::all(), bus.committed(), shutdown));
    send_tasks(&db, &org, 5).await;
    eventually("caught up", || caught_up(&db)).await;

    end_every_session(&db).await;
    let before: Vec<(u64, u64)> = foldline_projectors::all()
        .iter()
        .map(|p| {
            (
                first.batches_committed(p.name()),
                second.batches_committed(p.name()),
            )
        })
        .collect();
    send_tasks(&db, &org, 40).await;
    eventually("caught up after the restart", || async {
        projection_locks(&db).await == projections() && caught_up(&db).await
    })
    .await;

    for (projection, (first_before, second_before)) in foldline_projectors::all().iter().zip(before)
    {
        let by_first = first.batches_committed(projection.name()) - first_before;
        let by_second = second.batches_committed(projection.name()) - second_before;
        assert!(
            (by_first == 0) != (by_second == 0),
            "{}: batches by the first engine {by_first}, by the second {by_second}",
            projection.name()
        );
    }
    stop.send(true).unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    assert_rebuild_equals_live(&db, 100, "").await;
}

#[tokio::test]
async fn a_rebuild_in_place_is_refused_while_a_live_worker_leads_even_after_a_restart() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "In place").await;
    let (stop, shutdown) = watch::channel(false);
    let workers =
        Engine::new(db.pool.clone()).spawn(foldline_projectors::all(), bus.committed(), shutdown);
    eventually("the workers lead", || async {
        projection_locks(&db).await == projections() && caught_up(&db).await
    })
    .await;
    let people = foldline_projectors::by_name("people_directory").unwrap();
    let refused = rebuild_in_place(&db.pool, people.clone(), 100, &|_, _| {}).await;
    assert!(
        matches!(refused, Err(RebuildError::Busy(ref name)) if name == "people_directory"),
        "{refused:?}"
    );

    end_every_session(&db).await;
    // The workers take their locks again; until then a rebuild may win one,
    // and then the workers wait for it. Either way the two never run at once.
    eventually("the workers lead again", || async {
        projection_locks(&db).await == projections() && caught_up(&db).await
    })
    .await;
    let refused = rebuild_in_place(&db.pool, people, 100, &|_, _| {}).await;
    assert!(matches!(refused, Err(RebuildError::Busy(_))), "{refused:?}");
    let members: i64 =
        sqlx::query_scalar("SELECT count(*) FROM memberships WHERE organization_id = $1")
            .bind(org.id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(members, 7, "the refused rebuild cleared nothing");
    stop.send(true).unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
}

/// Appends a contact with a random name of `bytes` bytes, as a release
/// without limits on names would have.
async fn insert_contact(db: &TestDb, org: &Org, bytes: usize) -> (Uuid, i64) {
    // Random, so that compression does not shrink it under the limits.
    let name: String = (0..bytes / 32 + 1)
        .map(|_| Uuid::new_v4().simple().to_string())
        .collect();
    let mut conn = db.pool.acquire().await.unwrap();
    insert_contact_added(&mut conn, org, &name[..bytes]).await
}

#[tokio::test]
async fn a_projection_that_cannot_apply_an_event_stops_at_that_event_and_the_others_go_on() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Poison").await;
    let (before, _) = insert_contact(&db, &org, 20).await;
    let (_, poison) = insert_contact(&db, &org, 200_000).await;
    let (after, after_position) = insert_contact(&db, &org, 20).await;
    let engine = Engine::new(db.pool.clone());
    let people = foldline_projectors::by_name("people_directory").unwrap();
    // Waiting for the last event: other tests' open transactions may hold
    // the feed back a moment.
    let error = engine
        .catch_up_to(people.as_ref(), after_position, WAIT)
        .await
        .unwrap_err();
    assert!(
        matches!(error, foldline_projectors::EngineError::Stopped { position, .. } if position == poison),
        "{error}"
    );
    let stopped = checkpoint::get(&db.pool, "people_directory")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stopped.state, "stopped");
    assert_eq!(stopped.error_position, Some(poison));
    assert!(stopped.error.unwrap().contains("index row"));
    assert_eq!(
        stopped.position.global_position,
        poison - 1,
        "everything before it applied"
    );
    let listed = |id: Uuid| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM people_directory WHERE entity_id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(listed(before).await, 1);
    assert_eq!(listed(after).await, 0, "nothing after it");

    // The others go on past it: the activity feed shows all three.
    let activity = foldline_projectors::by_name("activity_feed").unwrap();
    engine
        .catch_up_to(activity.as_ref(), after_position, WAIT)
        .await
        .unwrap();
    assert!(checkpoint::reached(&db.pool, "activity_feed", poison + 1)
        .await
        .unwrap()
        .unwrap());

    // Resumed without a release that can apply it, it stops there again.
    assert!(checkpoint::resume(&db.pool, "people_directory")
        .await
        .unwrap());
    let error = engine.catch_up(people.as_ref()).await.unwrap_err();
    assert!(
        matches!(error, foldline_projectors::EngineError::Stopped { position, .. } if position == poison)
    );
    assert!(
        !checkpoint::resume(&db.pool, "status_tracker")
            .await
            .unwrap(),
        "only a stopped one resumes"
    );
}

#[tokio::test]
async fn a_stored_state_that_no_longer_reads_is_folded_again_from_the_store() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Old states").await;
    let task = Uuid::new_v4();
    bus.execute::<Task>(
        &org.request(org.admin),
        task,
        create_task("Hang the drape", None),
        None,
    )
    .await
    .unwrap();
    let engine = Engine::new(db.pool.clone());
    catch_up_all(&db, &engine).await;
    // As an older release would have written it.
    let changed = sqlx::query(
        "UPDATE projection_states SET state = '{\"written_by\": \"an older release\"}'
         WHERE aggregate_type = 'Task' AND aggregate_id = $1",
    )
    .bind(task.to_string())
    .execute(&db.pool)
    .await
    .unwrap();
    assert!(changed.rows_affected() > 0);
    bus.execute::<Task>(&org.request(org.admin), task, TaskCommand::StartTask, None)
        .await
        .unwrap();
    catch_up_all(&db, &engine).await;
    assert_eq!(
        status_of(&db, task).await,
        (
            "in_progress".into(),
            Some("todo".into()),
            "Hang the drape".into()
        )
    );
}

/// A projection that panics on its first batch, then counts what it sees.
struct PanicsOnce {
    panicked: AtomicBool,
}

#[async_trait::async_trait]
impl Projection for PanicsOnce {
    fn name(&self) -> &'static str {
        "panics_once"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[]
    }

    async fn apply(
        &self,
        _tx: &mut PgConnection,
        _store: &mut StateStore,
        _events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        if !self.panicked.swap(true, Ordering::SeqCst) {
            panic!("a bug in a projection");
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_worker_that_panics_is_started_again() {
    let db = TestDb::new().await;
    let bus = db.bus();
    Org::create(&bus, "Panics").await;
    let projection = Arc::new(PanicsOnce {
        panicked: AtomicBool::new(false),
    });
    let (stop, shutdown) = watch::channel(false);
    let workers =
        Engine::new(db.pool.clone()).spawn(vec![projection.clone()], bus.committed(), shutdown);
    let last = last_position(&db).await;
    eventually("the restarted worker catches up", || async {
        checkpoint::reached(&db.pool, "panics_once", last)
            .await
            .unwrap()
            == Some(true)
    })
    .await;
    assert!(projection.panicked.load(Ordering::SeqCst));
    stop.send(true).unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
}
