//! Tamper evidence: the chain the database computes over each stream, and
//! what `verify` finds after each way of rewriting history, done as a
//! superuser with the append-only guard lifted.

use foldline_aggregates::chain::{self, Break};
use foldline_aggregates::task::TaskCommand;
use foldline_aggregates::Command;
use foldline_tests::{Org, TestDb};
use uuid::Uuid;

/// A store with an organization and two tasks of four events each.
struct Store {
    db: TestDb,
    tasks: [Uuid; 2],
}

async fn store() -> Store {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Audited").await;
    let tasks = [Uuid::new_v4(), Uuid::new_v4()];
    for task in tasks {
        let commands = [
            TaskCommand::CreateTask {
                title: "Rig the truss".into(),
                description: None,
                event_id: None,
                project: None,
                assignee: Some(org.member),
                due_at: None,
                priority: Default::default(),
                visibility: Default::default(),
            },
            TaskCommand::UpdateTask {
                title: Some("Rig the upstage truss".into()),
                description: None,
            },
            TaskCommand::StartTask,
            TaskCommand::CompleteTask,
        ];
        for command in commands {
            bus.dispatch(&org.request(org.member), task, Command::Task(command), None)
                .await
                .expect("task command");
        }
    }
    Store { db, tasks }
}

impl Store {
    /// The global position of `task`'s event `sequence`.
    async fn position(&self, task: Uuid, sequence: i64) -> i64 {
        sqlx::query_scalar(
            "SELECT global_position FROM events
             WHERE aggregate_type = 'Task' AND aggregate_id = $1 AND sequence = $2",
        )
        .bind(task.to_string())
        .bind(sequence)
        .fetch_one(&self.db.pool)
        .await
        .unwrap()
    }

    /// Runs `statements` with the append-only guard lifted, as a superuser
    /// could.
    async fn tamper(&self, statements: &[String]) {
        let mut tx = self.db.pool.begin().await.unwrap();
        sqlx::query("ALTER TABLE events DISABLE TRIGGER events_append_only")
            .execute(&mut *tx)
            .await
            .unwrap();
        for statement in statements {
            sqlx::query(statement).execute(&mut *tx).await.unwrap();
        }
        sqlx::query("ALTER TABLE events ENABLE TRIGGER events_append_only")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
}

fn event(task: Uuid, sequence: i64) -> String {
    format!("aggregate_type = 'Task' AND aggregate_id = '{task}' AND sequence = {sequence}")
}

fn stream(task: Uuid) -> String {
    format!("Task/{task}")
}

#[tokio::test]
async fn an_untouched_store_verifies_and_every_event_is_chained_by_the_database() {
    let store = store().await;
    let found = chain::verify(&store.db.pool, None, None).await.unwrap();
    assert_eq!(found.breaks, []);
    assert_eq!(found.events as i64, store.db.event_count().await);
    assert!(found.streams >= 3);
    // The database computed the hash; no writer supplied it, and the SQL
    // and Rust definitions agree.
    let missing: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE chain_hash IS NULL")
        .fetch_one(&store.db.pool)
        .await
        .unwrap();
    assert_eq!(missing, 0);
    let checkpoint = chain::checkpoint(&store.db.pool, None).await.unwrap();
    let head = &checkpoint.streams[&stream(store.tasks[0])];
    assert_eq!(head.sequence, 4);
    assert_eq!(
        head.global_position,
        store.position(store.tasks[0], 4).await
    );
    let again = chain::verify(&store.db.pool, None, Some(&checkpoint))
        .await
        .unwrap();
    assert_eq!(again.breaks, []);
}

#[tokio::test]
async fn a_forged_hash_cannot_be_inserted() {
    let store = store().await;
    let task = store.tasks[0];
    // Whatever a writer puts in chain_hash, the database's own replaces it.
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                             payload, metadata, chain_hash)
         SELECT aggregate_type, aggregate_id, 5, event_type, event_version, payload, metadata,
                '\\x00'::bytea
         FROM events WHERE aggregate_type = 'Task' AND aggregate_id = $1 AND sequence = 4",
    )
    .bind(task.to_string())
    .execute(&store.db.pool)
    .await
    .unwrap();
    let found = chain::verify(&store.db.pool, None, None).await.unwrap();
    assert_eq!(found.breaks, []);
    // An event that follows no event is refused outright.
    let gap = sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                             payload, metadata)
         SELECT aggregate_type, aggregate_id, 9, event_type, event_version, payload, metadata
         FROM events WHERE aggregate_type = 'Task' AND aggregate_id = $1 AND sequence = 4",
    )
    .bind(task.to_string())
    .execute(&store.db.pool)
    .await
    .unwrap_err();
    assert!(gap.to_string().contains("follows no event 8"), "{gap}");
}

/// The kinds of tampering, each done to a fresh copy of the same history.
const TAMPERING: [&str; 7] = [
    "a changed payload",
    "a changed actor",
    "an event deleted in the middle",
    "the last event of a stream deleted",
    "two events swapped",
    "an event moved to another stream",
    "a stream's head rewritten with its hash recomputed",
];

#[tokio::test]
async fn each_kind_of_tampering_is_found_at_its_position() {
    for what in TAMPERING {
        let store = store().await;
        let [a, b] = store.tasks;
        let checkpoint = chain::checkpoint(&store.db.pool, None).await.unwrap();
        let at = |task, sequence| {
            let store = &store;
            async move { store.position(task, sequence).await }
        };
        let (a2, a3, a4) = (at(a, 2).await, at(a, 3).await, at(a, 4).await);
        let altered = |global_position, task, sequence| Break::Altered {
            global_position,
            stream: stream(task),
            sequence,
        };
        let (statements, expected) = match what {
            "a changed payload" => (
                vec![format!(
                    "UPDATE events SET payload = payload || '{{\"tampered\": true}}' WHERE {}",
                    event(a, 2)
                )],
                vec![altered(a2, a, 2)],
            ),
            "a changed actor" => (
                vec![format!(
                    "UPDATE events SET metadata = jsonb_set(metadata, '{{actor_id}}', '\"{}\"')
                     WHERE {}",
                    Uuid::new_v4(),
                    event(a, 3)
                )],
                vec![altered(a3, a, 3)],
            ),
            "an event deleted in the middle" => (
                vec![format!("DELETE FROM events WHERE {}", event(a, 2))],
                vec![Break::Gap {
                    global_position: a3,
                    stream: stream(a),
                    expected: 2,
                    found: 3,
                }],
            ),
            "the last event of a stream deleted" => (
                vec![format!("DELETE FROM events WHERE {}", event(a, 4))],
                vec![Break::Removed {
                    stream: stream(a),
                    sequence: 4,
                    global_position: a4,
                }],
            ),
            // Their sequences exchanged: each is out of its place, and the
            // event after them no longer follows the event it was chained to.
            "two events swapped" => (
                vec![
                    format!("UPDATE events SET sequence = 1000 WHERE {}", event(a, 2)),
                    format!("UPDATE events SET sequence = 2 WHERE {}", event(a, 3)),
                    format!("UPDATE events SET sequence = 3 WHERE {}", event(a, 1000)),
                ],
                vec![altered(a2, a, 3), altered(a3, a, 2), altered(a4, a, 4)],
            ),
            "an event moved to another stream" => (
                vec![format!(
                    "UPDATE events SET aggregate_id = '{b}', sequence = 5 WHERE {}",
                    event(a, 2)
                )],
                vec![
                    altered(a2, b, 5),
                    Break::Gap {
                        global_position: a3,
                        stream: stream(a),
                        expected: 2,
                        found: 3,
                    },
                ],
            ),
            "a stream's head rewritten with its hash recomputed" => (
                vec![format!(
                    "UPDATE events SET payload = payload || '{{\"rewritten\": true}}',
                         chain_hash = events_link(
                             (SELECT e.chain_hash FROM events e WHERE {}), aggregate_type,
                             aggregate_id, sequence, event_type, event_version,
                             payload || '{{\"rewritten\": true}}', metadata)
                     WHERE {}",
                    event(a, 3)
                        .replace("aggregate_", "e.aggregate_")
                        .replace("sequence", "e.sequence"),
                    event(a, 4)
                )],
                vec![Break::Rewritten {
                    stream: stream(a),
                    sequence: 4,
                    global_position: a4,
                }],
            ),
            other => unreachable!("{other}"),
        };
        store.tamper(&statements).await;
        let found = chain::verify(&store.db.pool, None, Some(&checkpoint))
            .await
            .unwrap();
        assert_eq!(found.breaks, expected, "{what}");
        // The chain alone cannot see a stream's last events removed or its
        // head rewritten whole: that is what the checkpoint is for.
        let alone = chain::verify(&store.db.pool, None, None).await.unwrap();
        if what.starts_with("the last event") || what.starts_with("a stream's head") {
            assert_eq!(alone.breaks, [], "{what}");
        } else {
            assert_eq!(alone.breaks, expected, "{what}");
        }
    }
}

#[tokio::test]
async fn events_written_before_the_chain_existed_get_it_when_the_migration_runs() {
    use foldline_server::database::MIGRATOR;
    use sqlx::migrate::Migrator;

    let db = TestDb::empty().await;
    // The schema as it was before the chain: every migration before it.
    let before = Migrator {
        migrations: MIGRATOR
            .iter()
            .filter(|m| m.description != "event chain")
            .cloned()
            .collect::<Vec<_>>()
            .into(),
        ..Migrator::DEFAULT
    };
    assert_eq!(before.iter().count() + 1, MIGRATOR.iter().count());
    before.run(&db.pool).await.unwrap();
    let bus = db.bus();
    let org = Org::create(&bus, "Older").await;
    let task = Uuid::new_v4();
    bus.dispatch(
        &org.request(org.member),
        task,
        Command::Task(TaskCommand::CreateTask {
            title: "Written before the chain".into(),
            description: None,
            event_id: None,
            project: None,
            assignee: None,
            due_at: None,
            priority: Default::default(),
            visibility: Default::default(),
        }),
        None,
    )
    .await
    .unwrap();
    let events = db.event_count().await;

    MIGRATOR.run(&db.pool).await.unwrap();
    let found = chain::verify(&db.pool, None, None).await.unwrap();
    assert_eq!(found.breaks, []);
    assert_eq!(found.events as i64, events);
    // And the events after it continue the same chains.
    bus.dispatch(
        &org.request(org.member),
        task,
        Command::Task(TaskCommand::StartTask),
        None,
    )
    .await
    .unwrap();
    let found = chain::verify(&db.pool, None, None).await.unwrap();
    assert_eq!(found.breaks, []);
    assert_eq!(found.heads[&stream(task)].sequence, 2);
}
