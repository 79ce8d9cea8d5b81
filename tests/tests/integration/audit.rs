//! Tamper evidence: the chain the database computes over each stream, and
//! what `verify` finds after each way of rewriting history, done as a
//! superuser with the append-only guard lifted.

use foldline_aggregates::chain::{self, Break};
use foldline_aggregates::task::TaskCommand;
use foldline_aggregates::Command;
use foldline_tests::commands::create_task;
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
            create_task("Rig the truss", Some(org.member)),
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
        Command::Task(create_task("Written before the chain", None)),
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

mod review {
    use chrono::Utc;
    use foldline_aggregates::audit::{self, At};
    use foldline_aggregates::chain::Link;
    use foldline_aggregates::task::{Task, TaskCommand};
    use foldline_aggregates::{Command, Loaded};
    use foldline_tests::commands::create_task;
    use foldline_tests::legacy::insert_v1_venue;
    use foldline_tests::{Org, TestDb};
    use serde_json::{json, Value};
    use uuid::Uuid;

    #[tokio::test]
    async fn a_stream_its_states_its_fields_and_its_requests_are_what_the_commands_did() {
        let db = TestDb::new().await;
        let bus = db.bus();
        let org = Org::create(&bus, "Reviewed").await;
        let task = Uuid::new_v4();
        let other = Uuid::new_v4();
        // (actor, command, correlation id); the first two commands are one
        // request, on two aggregates.
        let shared = Uuid::new_v4();
        let steps = [
            (org.member, task, create_task("Rig the truss", None), shared),
            (org.member, other, create_task("Order cable", None), shared),
            (
                org.admin,
                task,
                TaskCommand::UpdateTask {
                    title: Some("Rig the upstage truss".into()),
                    description: None,
                },
                Uuid::new_v4(),
            ),
            (
                org.admin,
                task,
                TaskCommand::AssignTask {
                    assignee: Some(org.member),
                },
                Uuid::new_v4(),
            ),
            (org.member, task, TaskCommand::StartTask, Uuid::new_v4()),
        ];
        // The state the store folds after each of the task's commands.
        let mut after_each = Vec::new();
        let mut moments = Vec::new();
        for (actor, id, command, correlation) in steps {
            let request = org.request(actor).with_correlation_id(correlation);
            bus.dispatch(&request, id, Command::Task(command), None)
                .await
                .unwrap();
            if id == task {
                let loaded: Loaded<Task> = bus.store().load(&task.to_string()).await.unwrap();
                after_each.push((
                    loaded.version as i64,
                    serde_json::to_value(&loaded.aggregate).unwrap(),
                    actor,
                    correlation,
                ));
                moments.push(Utc::now());
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
        let id = task.to_string();

        // The stream: every event, in order, with who and through what.
        let events = audit::stream(&db.pool, "Task", &id, None, 0, 100)
            .await
            .unwrap();
        assert_eq!(events.len(), after_each.len());
        for (event, (version, _, actor, correlation)) in events.iter().zip(&after_each) {
            assert_eq!(event.sequence, *version);
            assert_eq!(event.actor_id, Some(*actor));
            assert_eq!(event.correlation_id, Some(*correlation));
            assert_eq!(event.source.as_deref(), Some("api"));
            assert_eq!(event.organization_id, org.id);
            assert_eq!(event.chain_hash.len(), 64);
            assert!(event.upcasted.is_none());
        }
        let page = audit::stream(&db.pool, "Task", &id, None, 2, 2)
            .await
            .unwrap();
        assert_eq!(page.iter().map(|e| e.sequence).collect::<Vec<_>>(), [3, 4]);
        let elsewhere = audit::stream(&db.pool, "Task", &id, Some(Uuid::new_v4()), 0, 100)
            .await
            .unwrap();
        assert!(elsewhere.is_empty());

        // The state at every version is the state after that command.
        let every = audit::states(&db.pool, "Task", &id, At::Latest, true)
            .await
            .unwrap();
        assert_eq!(every.len(), after_each.len());
        for (state, (version, expected, actor, _)) in every.iter().zip(&after_each) {
            assert_eq!(state.version, *version);
            assert_eq!(&state.state, expected, "version {version}");
            assert_eq!(state.actor_id, Some(*actor));
            let at = audit::states(&db.pool, "Task", &id, At::Version(*version), false)
                .await
                .unwrap();
            assert_eq!(at.len(), 1);
            assert_eq!(&at[0].state, expected, "at version {version}");
        }
        // And at a time: the state after the last event recorded by then.
        for (moment, (version, expected, ..)) in moments.iter().zip(&after_each) {
            let at = audit::states(&db.pool, "Task", &id, At::Time(*moment), false)
                .await
                .unwrap();
            assert_eq!(at[0].version, *version);
            assert_eq!(&at[0].state, expected);
        }
        let before = audit::states(
            &db.pool,
            "Task",
            &id,
            At::Time(moments[0] - chrono::Duration::hours(1)),
            false,
        )
        .await
        .unwrap();
        assert!(before.is_empty());
        assert!(matches!(
            audit::states(&db.pool, "Taks", &id, At::Latest, false).await,
            Err(audit::AuditError::UnknownType(_))
        ));

        // Lineage: the title's values, when and by whom.
        let title: Vec<(Value, i64, Option<Uuid>)> = audit::lineage(&every, Some("title"))
            .into_iter()
            .map(|c| (c.value, c.version, c.actor_id))
            .collect();
        assert_eq!(
            title,
            [
                (json!("Rig the truss"), 1, Some(org.member)),
                (json!("Rig the upstage truss"), 2, Some(org.admin)),
            ]
        );
        let assignee = audit::lineage(&every, Some("assignee"));
        assert_eq!(assignee.last().unwrap().value, json!(org.member));
        assert_eq!(assignee.last().unwrap().version, 3);
        assert_eq!(assignee.last().unwrap().source.as_deref(), Some("api"));

        // The request: both aggregates' events, and nothing else.
        let caused = audit::request(&db.pool, shared, None, 0, 100)
            .await
            .unwrap();
        let streams: Vec<(String, i64)> = caused
            .iter()
            .map(|e| (e.aggregate_id.clone(), e.sequence))
            .collect();
        assert_eq!(streams, [(id.clone(), 1), (other.to_string(), 1)]);
        assert!(
            audit::request(&db.pool, shared, Some(Uuid::new_v4()), 0, 100)
                .await
                .unwrap()
                .is_empty()
        );

        // The export: the organization's events, each with the texts its
        // hash covers, so the chain can be recomputed outside.
        let exported = audit::export(&db.pool, org.id, None, 0, 10_000)
            .await
            .unwrap();
        assert_eq!(exported.len() as i64, db.event_count().await);
        let mut previous: std::collections::HashMap<String, Vec<u8>> = Default::default();
        for line in &exported {
            let event = &line.event;
            let stream = format!("{}/{}", event.aggregate_type, event.aggregate_id);
            let link = Link {
                global_position: event.global_position,
                aggregate_type: event.aggregate_type.clone(),
                aggregate_id: event.aggregate_id.clone(),
                sequence: event.sequence,
                event_type: event.event_type.clone(),
                event_version: event.event_version.clone(),
                payload: line.payload_text.clone(),
                metadata: line.metadata_text.clone(),
                organization_id: event.organization_id,
                chain_hash: hex::decode(&event.chain_hash).unwrap(),
            };
            let before = previous
                .get(&stream)
                .cloned()
                .unwrap_or_else(|| foldline_aggregates::chain::GENESIS.to_vec());
            assert_eq!(link.expected(&before).to_vec(), link.chain_hash, "{stream}");
            previous.insert(stream, link.chain_hash);
        }
        let since = audit::export(&db.pool, org.id, Some(moments[2]), 0, 10_000)
            .await
            .unwrap();
        // Recorded after the third of the task's commands: its fourth.
        assert_eq!(
            since
                .iter()
                .map(|e| (e.event.aggregate_id.clone(), e.event.sequence))
                .collect::<Vec<_>>(),
            [(id.clone(), 4)]
        );
    }

    #[tokio::test]
    async fn an_upcasted_event_shows_its_stored_version_and_its_current_shape() {
        let db = TestDb::new().await;
        let org = Org::create(&db.bus(), "Upcasted").await;
        let (venue, payload) = insert_v1_venue(&db, &org).await;
        let events = audit::stream(&db.pool, "Venue", &venue.to_string(), None, 0, 10)
            .await
            .unwrap();
        let event = &events[0];
        assert_eq!(event.event_version, "1.0");
        assert_eq!(event.payload, payload);
        let upcasted = event.upcasted.as_ref().expect("an upcasted shape");
        assert_eq!(upcasted.event_version, "2.0.0");
        assert_eq!(
            upcasted.payload["VenueRegistered"]["address"]["line1"],
            "North Wall Quay"
        );
        assert_eq!(event.source.as_deref(), Some("import"));
        let state = audit::states(&db.pool, "Venue", &venue.to_string(), At::Version(1), false)
            .await
            .unwrap();
        assert_eq!(state[0].state["address"]["city"], "Dublin");
    }
}

mod graphql {
    use foldline_projectors::Engine;
    use foldline_tests::api::{codes, Api};
    use foldline_tests::read_side::catch_up_all;
    use foldline_tests::{Org, TestDb};
    use serde_json::{json, Value};
    use uuid::Uuid;

    const STREAM: &str = "query($id: String!, $after: String) {
        auditStream(aggregateType: \"Task\", id: $id, first: 2, after: $after) {
            edges { cursor node { sequence eventType actorId source correlationId chainHash } }
            pageInfo { hasNextPage }
        }
    }";
    const ENTITY_AT: &str = "query($id: String!, $version: Int) {
        entityAt(aggregateType: \"Task\", id: $id, version: $version) {
            version actorId state node { __typename id version ... on Task { title status } }
        }
    }";
    const HISTORY: &str = "query($id: String!) {
        fieldHistory(aggregateType: \"Task\", id: $id, field: \"title\") {
            edges { node { field value version actorId source } }
        }
    }";
    const REQUEST: &str = "query($correlation: UUID!) {
        auditRequest(correlationId: $correlation) { edges { node { aggregateId sequence } } }
    }";

    #[tokio::test]
    async fn owners_and_admins_review_their_organizations_streams_and_no_one_else_does() {
        let db = TestDb::new().await;
        let a = Org::create(&db.bus(), "Audited A").await;
        let b = Org::create(&db.bus(), "Audited B").await;
        catch_up_all(&db, &Engine::new(db.pool.clone())).await;
        let api = Api::new(&db);
        let task = Uuid::new_v4();
        let id = task.to_string();
        api.mutate(a.member, a.id, "createTask", task, json!({"title": "Rig"}))
            .await;
        api.mutate(
            a.admin,
            a.id,
            "updateTask",
            task,
            json!({"title": "Rig it"}),
        )
        .await;
        api.mutate(a.member, a.id, "startTask", task, json!({}))
            .await;

        let data = |user, org, query: &'static str, variables: Value| {
            let api = &api;
            async move {
                let (status, response) = api.query(user, org, query, variables).await;
                (status, response)
            }
        };
        for reviewer in [a.owner, a.admin] {
            let (_, first) = data(reviewer, a.id, STREAM, json!({"id": id})).await;
            let edges = first["data"]["auditStream"]["edges"].as_array().unwrap();
            assert_eq!(edges.len(), 2, "{first}");
            assert_eq!(edges[0]["node"]["sequence"], 1);
            assert_eq!(edges[0]["node"]["actorId"], a.member.to_string());
            assert_eq!(edges[0]["node"]["source"], "api");
            assert_eq!(edges[1]["node"]["actorId"], a.admin.to_string());
            assert_eq!(
                first["data"]["auditStream"]["pageInfo"]["hasNextPage"],
                true
            );
            let cursor = edges[1]["cursor"].as_str().unwrap();
            let (_, rest) = data(reviewer, a.id, STREAM, json!({"id": id, "after": cursor})).await;
            let rest = rest["data"]["auditStream"]["edges"]
                .as_array()
                .unwrap()
                .clone();
            assert_eq!(rest.len(), 1);
            assert_eq!(rest[0]["node"]["sequence"], 3);

            let (_, at) = data(reviewer, a.id, ENTITY_AT, json!({"id": id, "version": 1})).await;
            assert_eq!(at["data"]["entityAt"]["version"], 1, "{at}");
            assert_eq!(at["data"]["entityAt"]["state"]["title"], "Rig");
            let then = &at["data"]["entityAt"]["node"];
            assert_eq!(
                (
                    &then["__typename"],
                    &then["id"],
                    &then["version"],
                    &then["title"],
                    &then["status"]
                ),
                (
                    &json!("Task"),
                    &json!(id),
                    &json!(1),
                    &json!("Rig"),
                    &json!("TODO")
                ),
                "{at}"
            );
            let (_, now) = data(reviewer, a.id, ENTITY_AT, json!({"id": id})).await;
            assert_eq!(now["data"]["entityAt"]["version"], 3);
            assert_eq!(now["data"]["entityAt"]["state"]["title"], "Rig it");
            let current = &now["data"]["entityAt"]["node"];
            assert_eq!(
                (&current["title"], &current["status"]),
                (&json!("Rig it"), &json!("IN_PROGRESS")),
                "{now}"
            );

            let (_, history) = data(reviewer, a.id, HISTORY, json!({"id": id})).await;
            let values: Vec<(Value, Value)> = history["data"]["fieldHistory"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| (e["node"]["value"].clone(), e["node"]["actorId"].clone()))
                .collect();
            assert_eq!(
                values,
                [
                    (json!("Rig"), json!(a.member.to_string())),
                    (json!("Rig it"), json!(a.admin.to_string())),
                ]
            );

            let correlation = edges[0]["node"]["correlationId"].clone();
            let (_, caused) =
                data(reviewer, a.id, REQUEST, json!({"correlation": correlation})).await;
            let caused = caused["data"]["auditRequest"]["edges"]
                .as_array()
                .unwrap()
                .clone();
            assert_eq!(caused.len(), 1);
            assert_eq!(caused[0]["node"]["aggregateId"], id);
        }

        // A member, a guest: FORBIDDEN from every audit query.
        let correlation = Uuid::new_v4();
        let queries = [
            (STREAM, json!({"id": id})),
            (ENTITY_AT, json!({"id": id})),
            (HISTORY, json!({"id": id})),
            (REQUEST, json!({"correlation": correlation})),
        ];
        for user in [a.member, a.guest] {
            for (query, variables) in &queries {
                let (_, response) = data(user, a.id, query, variables.clone()).await;
                assert_eq!(codes(&response), ["FORBIDDEN"], "{query}: {response}");
            }
        }
        // Another organization's owner: FORBIDDEN naming A; in their own
        // organization, A's stream has no events and no history for them.
        for (query, variables) in &queries {
            let (status, response) = data(b.owner, a.id, query, variables.clone()).await;
            assert_eq!(status, 403);
            assert_eq!(codes(&response), ["FORBIDDEN"], "{response}");
        }
        for query in [STREAM, ENTITY_AT, HISTORY] {
            let (_, response) = data(b.owner, b.id, query, json!({"id": id})).await;
            assert_eq!(codes(&response), ["NOT_FOUND"], "{response}");
        }
        let (_, bad) = data(
            a.owner,
            a.id,
            "{ auditStream(aggregateType: \"Taks\", id: \"x\") { edges { cursor } } }",
            json!({}),
        )
        .await;
        assert_eq!(codes(&bad), ["BAD_USER_INPUT"], "{bad}");
        // A moment given twice or before the first event, a cursor that is
        // not one: each a clear error.
        let cases = [
            (
                "query($id: String!) { entityAt(aggregateType: \"Task\", id: $id, version: 1,
                     at: \"2027-01-01T00:00:00Z\") { version } }",
                "not both",
            ),
            (
                "query($id: String!) { entityAt(aggregateType: \"Task\", id: $id, version: 0) { version } }",
                "1 or more",
            ),
            (
                "query($id: String!) { auditStream(aggregateType: \"Task\", id: $id, after: \"x\") { edges { cursor } } }",
                "not a cursor",
            ),
            (
                "query($id: String!) { auditStream(aggregateType: \"Task\", id: $id, first: 1000) { edges { cursor } } }",
                "between 1 and 100",
            ),
        ];
        for (query, says) in cases {
            let (_, response) = data(a.owner, a.id, query, json!({"id": id})).await;
            assert_eq!(codes(&response), ["BAD_USER_INPUT"], "{query}: {response}");
            let message = response["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains(says), "{query}: {message}");
        }
    }
}

#[tokio::test]
async fn a_state_read_from_the_snapshot_is_the_state_folded_from_the_start() {
    use foldline_aggregates::audit::{self, At};

    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Snapshotted").await;
    let task = Uuid::new_v4();
    bus.dispatch(
        &org.request(org.member),
        task,
        Command::Task(create_task("Revised", None)),
        None,
    )
    .await
    .unwrap();
    for n in 1..130 {
        bus.dispatch(
            &org.request(org.member),
            task,
            Command::Task(TaskCommand::UpdateTask {
                title: Some(format!("Revision {n}")),
                description: None,
            }),
            None,
        )
        .await
        .unwrap();
    }
    let snapshot: i64 = sqlx::query_scalar(
        "SELECT last_sequence FROM snapshots WHERE aggregate_type = 'Task' AND aggregate_id = $1",
    )
    .bind(task.to_string())
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(snapshot, 100);
    let id = task.to_string();
    let every = audit::states(&db.pool, "Task", &id, At::Latest, true)
        .await
        .unwrap();
    assert_eq!(every.len(), 130);
    for version in [1, 99, 100, 101, 130] {
        let at = audit::states(&db.pool, "Task", &id, At::Version(version), false)
            .await
            .unwrap();
        assert_eq!(
            at,
            [every[version as usize - 1].clone()],
            "version {version}"
        );
    }
    let latest = audit::states(&db.pool, "Task", &id, At::Latest, false)
        .await
        .unwrap();
    assert_eq!(latest, [every[129].clone()]);
    let at_time = audit::states(
        &db.pool,
        "Task",
        &id,
        At::Time(every[99].recorded_at),
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        at_time[0].version,
        every
            .iter()
            .filter(|s| s.recorded_at <= every[99].recorded_at)
            .map(|s| s.version)
            .max()
            .unwrap()
    );
}

#[tokio::test]
async fn verifying_one_organization_reads_only_its_streams() {
    let tampered = store().await;
    let other = Org::create(&tampered.db.bus(), "Untouched").await;
    let org_of = |task: Uuid| {
        let pool = tampered.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, Uuid>(
                "SELECT organization_id FROM events WHERE aggregate_id = $1 LIMIT 1",
            )
            .bind(task.to_string())
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let audited = org_of(tampered.tasks[0]).await;
    let position = tampered.position(tampered.tasks[0], 2).await;
    let checkpoint = chain::checkpoint(&tampered.db.pool, Some(other.id))
        .await
        .unwrap();
    assert!(checkpoint
        .streams
        .values()
        .all(|head| head.organization_id == other.id));
    tampered
        .tamper(&[format!(
            "UPDATE events SET payload = payload || '{{\"tampered\": true}}' WHERE {}",
            event(tampered.tasks[0], 2)
        )])
        .await;
    let theirs = chain::verify(&tampered.db.pool, Some(audited), None)
        .await
        .unwrap();
    assert_eq!(
        theirs
            .breaks
            .iter()
            .map(Break::global_position)
            .collect::<Vec<_>>(),
        [position]
    );
    let untouched = chain::verify(&tampered.db.pool, Some(other.id), Some(&checkpoint))
        .await
        .unwrap();
    assert_eq!(untouched.breaks, []);
    assert_eq!(untouched.streams as usize, checkpoint.streams.len());
    let everyone = chain::verify(&tampered.db.pool, None, None).await.unwrap();
    assert_eq!(everyone.events, theirs.events + untouched.events);
}
