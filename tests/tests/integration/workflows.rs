//! Workflows through the real feed, engine, dispatcher and command bus:
//! what they decide, that each command takes effect once whatever stops
//! where, and that a refusal stays with its instance.

use foldline_aggregates::command::Command;
use foldline_aggregates::metadata::{RequestContext, Source};
use foldline_aggregates::organization::{Organization, OrganizationCommand};
use foldline_aggregates::task::{Task, TaskCommand};
use foldline_aggregates::visibility::Visibility;
use foldline_aggregates::workflow_kind::WorkflowKind;
use foldline_aggregates::{BusError, CommandBus, DomainError};
use foldline_projectors::{Engine, Projection};
use foldline_tests::api::{codes, Api};
use foldline_tests::commands::create_task;
use foldline_tests::eventually::eventually;
use foldline_tests::read_side::{catch_up, catch_up_all};
use foldline_tests::{Org, TestDb};
use foldline_workflows::dispatcher::{Dispatcher, Pending, Sent};
use serde_json::{json, Value};
use uuid::Uuid;

const TIMELINE: WorkflowKind = WorkflowKind::TaskTimeline;

/// Switches `kind` on in `org`.
pub(crate) async fn switch_on(bus: &CommandBus, org: &Org, kind: WorkflowKind) {
    bus.execute::<Organization>(
        &org.request(org.admin),
        org.id,
        OrganizationCommand::EnableWorkflow { workflow: kind },
        None,
    )
    .await
    .unwrap();
}

/// A task for `org`'s event, created by a member; gives its id.
async fn task_for_event(bus: &CommandBus, org: &Org, title: &str, visibility: Visibility) -> Uuid {
    let id = Uuid::new_v4();
    let mut command = create_task(title, None);
    if let TaskCommand::CreateTask {
        event_id,
        visibility: seen_by,
        ..
    } = &mut command
    {
        *event_id = Some(org.event);
        *seen_by = visibility;
    }
    bus.execute::<Task>(&org.request(org.member), id, command, None)
        .await
        .unwrap();
    id
}

async fn complete(bus: &CommandBus, org: &Org, task: Uuid) {
    bus.execute::<Task>(
        &org.request(org.member),
        task,
        TaskCommand::CompleteTask,
        None,
    )
    .await
    .unwrap();
}

/// Runs every workflow over the feed up to its last event.
pub(crate) async fn run_workflows(db: &TestDb) {
    let workflows = foldline_workflows::all();
    let workflows: Vec<&dyn Projection> = workflows.iter().map(|w| w.as_ref()).collect();
    catch_up(db, &Engine::new(db.pool.clone()), &workflows).await;
}

/// The comments on `org`'s event: (body, actor, metadata) of each
/// `CommentPosted`.
async fn notes_on_event(db: &TestDb, org: &Org) -> Vec<(String, Value)> {
    sqlx::query_as(
        "SELECT payload -> 'CommentPosted' ->> 'body', metadata FROM events
         WHERE aggregate_type = 'Comment' AND event_type = 'CommentPosted'
           AND organization_id = $1
           AND payload -> 'CommentPosted' -> 'on' ->> 'entity_id' = $2
         ORDER BY global_position",
    )
    .bind(org.id)
    .bind(org.event.to_string())
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

/// Runs the workflows, then sends what is due; gives how many were sent.
pub(crate) async fn react(db: &TestDb, bus: &CommandBus) -> usize {
    run_workflows(db).await;
    Dispatcher::new(db.pool.clone(), bus.clone())
        .dispatch_due()
        .await
        .unwrap()
}

/// The bodies of the comments on `org`'s event, in order.
async fn note_bodies(db: &TestDb, org: &Org) -> Vec<String> {
    notes_on_event(db, org)
        .await
        .into_iter()
        .map(|(body, _)| body)
        .collect()
}

/// The workflow commands of `org`: (status, last error) by key order.
pub(crate) async fn commands_of(db: &TestDb, org: &Org) -> Vec<(String, Option<String>)> {
    sqlx::query_as(
        "SELECT status, last_error FROM workflow_commands
         WHERE organization_id = $1 ORDER BY created_at, key",
    )
    .bind(org.id)
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

/// How many instances the workflows keep for `org`.
async fn instances_of(db: &TestDb, org: &Org) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM workflow_instances WHERE organization_id = $1")
        .bind(org.id)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

pub(crate) async fn pending(db: &TestDb, org: &Org) -> Vec<Pending> {
    sqlx::query_as(
        "SELECT key, workflow, organization_id, aggregate_id, command, caused_by,
                correlation_id, attempts, unless_done
         FROM workflow_commands WHERE organization_id = $1 AND status = 'pending'",
    )
    .bind(org.id)
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_completed_task_is_noted_on_its_event_by_the_workflow_actor() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Timeline").await;
    switch_on(&bus, &org, TIMELINE).await;
    let task = task_for_event(&bus, &org, "Book the hotel", Visibility::Organization).await;
    complete(&bus, &org, task).await;
    let (trigger_correlation,): (String,) = sqlx::query_as(
        "SELECT metadata ->> 'correlation_id' FROM events
         WHERE aggregate_id = $1 AND event_type = 'TaskCompleted'",
    )
    .bind(task.to_string())
    .fetch_one(&db.pool)
    .await
    .unwrap();

    run_workflows(&db).await;
    assert_eq!(commands_of(&db, &org).await, [("pending".into(), None)]);
    let sent = Dispatcher::new(db.pool.clone(), bus.clone())
        .dispatch_due()
        .await
        .unwrap();
    assert_eq!(sent, 1);

    let notes = notes_on_event(&db, &org).await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    let (body, metadata) = &notes[0];
    assert_eq!(body, "Task “Book the hotel” completed.");
    assert_eq!(
        metadata["actor_id"],
        TIMELINE.actor_id(org.id).to_string(),
        "sent as the workflow's own actor"
    );
    assert_eq!(metadata["source"], "workflow");
    assert_eq!(
        metadata["correlation_id"], trigger_correlation,
        "in the request that completed the task"
    );
    assert_ne!(metadata["causation_id"], metadata["command_id"]);
    assert_eq!(commands_of(&db, &org).await, [("sent".into(), None)]);

    // Nothing more is decided or sent on a second pass.
    react(&db, &bus).await;
    assert_eq!(notes_on_event(&db, &org).await.len(), 1);
}

#[tokio::test]
async fn a_workflow_acts_only_while_it_is_on_and_remembers_what_came_before() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Switch").await;
    // Done before the workflow is on: not noted.
    let early = task_for_event(&bus, &org, "Early", Visibility::Organization).await;
    complete(&bus, &org, early).await;
    // Created before, completed after: its title was folded while off.
    let straddling = task_for_event(&bus, &org, "Straddling", Visibility::Public).await;
    // Private: never noted.
    let private = task_for_event(&bus, &org, "Secret", Visibility::Private).await;
    // Off, the workflow keeps nothing of the organization's tasks.
    run_workflows(&db).await;
    assert_eq!(instances_of(&db, &org).await, 0);
    switch_on(&bus, &org, TIMELINE).await;
    complete(&bus, &org, straddling).await;
    complete(&bus, &org, private).await;

    react(&db, &bus).await;
    let bodies = note_bodies(&db, &org).await;
    assert_eq!(bodies, ["Task “Straddling” completed."]);

    // Switched off, the workflow decides nothing more, and its actor is no
    // longer a member.
    bus.execute::<Organization>(
        &org.request(org.admin),
        org.id,
        OrganizationCommand::DisableWorkflow { workflow: TIMELINE },
        None,
    )
    .await
    .unwrap();
    let late = task_for_event(&bus, &org, "Late", Visibility::Organization).await;
    complete(&bus, &org, late).await;
    run_workflows(&db).await;
    assert_eq!(commands_of(&db, &org).await.len(), 1);
    assert_eq!(instances_of(&db, &org).await, 2, "kept, to be seen");
    let as_workflow = RequestContext::new(org.id, TIMELINE.actor_id(org.id), Source::Workflow);
    let refused = bus
        .execute::<Task>(&as_workflow, late, TaskCommand::ReopenTask, None)
        .await;
    assert!(
        matches!(refused, Err(BusError::NotMember { .. })),
        "{refused:?}"
    );

    // Renamed while off, completed once it is on again: the note has the
    // name it has now, read from the store, not the one kept before.
    bus.execute::<Task>(
        &org.request(org.member),
        straddling,
        TaskCommand::ReopenTask,
        None,
    )
    .await
    .unwrap();
    bus.execute::<Task>(
        &org.request(org.member),
        straddling,
        TaskCommand::UpdateTask {
            title: Some("Straddling, renamed".into()),
            description: None,
        },
        None,
    )
    .await
    .unwrap();
    run_workflows(&db).await;
    switch_on(&bus, &org, TIMELINE).await;
    complete(&bus, &org, straddling).await;
    react(&db, &bus).await;
    let bodies = note_bodies(&db, &org).await;
    assert_eq!(
        bodies,
        [
            "Task “Straddling” completed.",
            "Task “Straddling, renamed” completed."
        ]
    );
}

#[tokio::test]
async fn a_command_sent_again_after_it_committed_takes_effect_once() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Crash after commit").await;
    switch_on(&bus, &org, TIMELINE).await;
    let task = task_for_event(&bus, &org, "Rig the lights", Visibility::Organization).await;
    complete(&bus, &org, task).await;
    run_workflows(&db).await;
    let [row] = <[Pending; 1]>::try_from(pending(&db, &org).await).unwrap();

    // A dispatcher that stopped after the command committed and before it
    // marked the row sent: the command is in the store, the row pending.
    let dispatcher = Dispatcher::new(db.pool.clone(), bus.clone());
    let request = RequestContext::new(org.id, TIMELINE.actor_id(org.id), Source::Workflow)
        .with_idempotency_key(row.key.clone());
    let first = bus
        .dispatch(&request, row.aggregate_id, row.command.0.clone(), None)
        .await
        .unwrap();
    assert_eq!(first.events, 1);
    let events = db.event_count().await;

    // The next dispatcher sends it again: the bus answers with what the
    // first appended, and the row is sent.
    assert_eq!(dispatcher.send(&row).await.unwrap(), Sent::Appended);
    assert_eq!(db.event_count().await, events, "nothing appended twice");
    assert_eq!(notes_on_event(&db, &org).await.len(), 1);
    let (status, position): (String, i64) =
        sqlx::query_as("SELECT status, sent_position FROM workflow_commands WHERE key = $1")
            .bind(&row.key)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), position), ("sent", first.global_position));
}

#[tokio::test]
async fn a_command_decided_before_a_stop_is_sent_once_after_it() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Crash before send").await;
    switch_on(&bus, &org, TIMELINE).await;
    let task = task_for_event(&bus, &org, "Load the truck", Visibility::Organization).await;
    complete(&bus, &org, task).await;
    // The workflow's batch committed with its decision; no dispatcher ran
    // (the process stopped). The workflow, started again, decides nothing
    // new: its checkpoint moved with the decision.
    run_workflows(&db).await;
    run_workflows(&db).await;
    assert_eq!(pending(&db, &org).await.len(), 1);

    // Two dispatchers started after the stop, side by side.
    let (a, b) = (
        Dispatcher::new(db.pool.clone(), bus.clone()),
        Dispatcher::new(db.pool.clone(), bus.clone()),
    );
    let (ra, rb) = tokio::join!(a.dispatch_due(), b.dispatch_due());
    ra.unwrap();
    rb.unwrap();
    assert_eq!(notes_on_event(&db, &org).await.len(), 1);
    assert_eq!(commands_of(&db, &org).await, [("sent".into(), None)]);
}

/// The backends of `db` listening for decided workflow commands.
async fn listeners(db: &TestDb) -> Vec<i32> {
    sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN %foldline_workflow_commands%'
         ORDER BY pid",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_dispatcher_whose_listening_session_ends_listens_again_and_sends() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Cut off").await;
    switch_on(&bus, &org, TIMELINE).await;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running = Dispatcher::new(db.pool.clone(), bus.clone()).spawn(shutdown);
    let first = eventually("the dispatcher never listened", || async {
        let now = listeners(&db).await;
        (now.len() == 1).then_some(now)
    })
    .await;

    // Its session ends, as in a restart of the database.
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(first[0])
        .execute(&db.pool)
        .await
        .unwrap();
    eventually("the dispatcher did not listen again", || async {
        let now = listeners(&db).await;
        (now.len() == 1 && now != first).then_some(())
    })
    .await;

    // A command decided now is sent by the dispatcher that came back.
    let task = task_for_event(&bus, &org, "After the cut", Visibility::Organization).await;
    complete(&bus, &org, task).await;
    run_workflows(&db).await;
    eventually(
        "the command decided after the cut was never sent",
        || async { (commands_of(&db, &org).await == [("sent".to_owned(), None)]).then_some(()) },
    )
    .await;
    assert_eq!(notes_on_event(&db, &org).await.len(), 1);
    stop.send(true).unwrap();
    running.await.unwrap();
}

#[tokio::test]
async fn a_refused_command_fails_its_instance_and_others_go_on() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let refusing = Org::create(&bus, "Refusing").await;
    let going_on = Org::create(&bus, "Going on").await;
    for org in [&refusing, &going_on] {
        switch_on(&bus, org, TIMELINE).await;
        let task = task_for_event(&bus, org, "Print the passes", Visibility::Organization).await;
        complete(&bus, org, task).await;
    }
    run_workflows(&db).await;
    // The workflow was switched off in one organization after it decided:
    // its actor may no longer act there.
    bus.execute::<Organization>(
        &refusing.request(refusing.admin),
        refusing.id,
        OrganizationCommand::DisableWorkflow { workflow: TIMELINE },
        None,
    )
    .await
    .unwrap();

    let dispatcher = Dispatcher::new(db.pool.clone(), bus.clone());
    dispatcher.dispatch_due().await.unwrap();
    let failed = commands_of(&db, &refusing).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, "failed");
    let reason = failed[0].1.clone().unwrap_or_default();
    assert!(reason.contains("not a member"), "{reason}");
    assert!(notes_on_event(&db, &refusing).await.is_empty());
    assert_eq!(notes_on_event(&db, &going_on).await.len(), 1);
    assert_eq!(commands_of(&db, &going_on).await, [("sent".into(), None)]);

    // Switched on again, the failed command is retried and goes through.
    switch_on(&bus, &refusing, TIMELINE).await;
    assert_eq!(
        dispatcher
            .retry(TIMELINE.name(), None, Some(refusing.id))
            .await
            .unwrap(),
        1
    );
    dispatcher.dispatch_due().await.unwrap();
    assert_eq!(notes_on_event(&db, &refusing).await.len(), 1);
    assert_eq!(commands_of(&db, &refusing).await, [("sent".into(), None)]);
}

#[tokio::test]
async fn an_idempotency_key_appends_once_and_is_its_aggregates_alone() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Keys").await;
    let task = Uuid::new_v4();
    let keyed = org.request(org.member).with_idempotency_key("create-once");
    let first = bus
        .execute::<Task>(&keyed, task, create_task("Once", None), None)
        .await
        .unwrap();
    let events = db.event_count().await;
    // The same command again, and a different one, under the same key: the
    // first's outcome, nothing appended, the second not even decided.
    let again = bus
        .execute::<Task>(&keyed, task, create_task("Once", None), None)
        .await
        .unwrap();
    let other = bus
        .execute::<Task>(&keyed, task, TaskCommand::CompleteTask, None)
        .await
        .unwrap();
    assert_eq!(first.events, 1);
    for repeat in [again, other] {
        assert_eq!(
            (repeat.version, repeat.global_position, repeat.events),
            (first.version, first.global_position, 0)
        );
    }
    assert_eq!(db.event_count().await, events);

    // The key is the organization's: another aggregate may not reuse it,
    // another organization may.
    let refused = bus
        .execute::<Task>(&keyed, Uuid::new_v4(), create_task("Twice", None), None)
        .await;
    assert!(
        matches!(refused, Err(BusError::Domain(DomainError::Invalid(_)))),
        "{refused:?}"
    );
    let elsewhere = Org::create(&bus, "Other keys").await;
    let theirs = bus
        .execute::<Task>(
            &elsewhere
                .request(elsewhere.member)
                .with_idempotency_key("create-once"),
            Uuid::new_v4(),
            create_task("Theirs", None),
            None,
        )
        .await
        .unwrap();
    assert_eq!(theirs.events, 1);
    // The key is kept with the events, for auditors.
    let (key,): (Option<String>,) =
        sqlx::query_as("SELECT metadata ->> 'idempotency_key' FROM events WHERE aggregate_id = $1")
            .bind(task.to_string())
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(key.as_deref(), Some("create-once"));
}

#[tokio::test]
async fn racing_commands_under_one_key_append_once() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Key race").await;
    // Both decide on the same version; the second to append finds the
    // stream moved on, and the key tells it the first was itself.
    let request = org.request(org.member).with_idempotency_key("one");
    let task = Uuid::new_v4();
    let race = || {
        let (bus, request) = (bus.clone(), request.clone());
        tokio::spawn(async move {
            bus.execute::<Task>(&request, task, create_task("Raced", None), None)
                .await
        })
    };
    let (a, b) = (race(), race());
    let outcomes = [a.await.unwrap(), b.await.unwrap()];
    let [a, b] = outcomes.map(|o| o.unwrap());
    assert_eq!(a.events + b.events, 1, "{a:?} {b:?}");
    assert_eq!(
        (a.version, a.global_position),
        (b.version, b.global_position)
    );
}

#[test]
fn replaying_the_projections_does_not_run_the_workflows() {
    let projections: Vec<&str> = foldline_projectors::all()
        .iter()
        .map(|p| p.name())
        .collect();
    for workflow in foldline_workflows::all() {
        assert!(
            !projections.contains(&workflow.name()),
            "{}",
            workflow.name()
        );
        assert!(workflow.tables().is_empty(), "a rebuild would replace them");
    }
}

/// A command the workflow decided is the typed command of the domain, as
/// the bus takes it.
#[test]
fn decided_commands_read_back_as_the_domains_commands() {
    let command: Command = serde_json::from_value(serde_json::json!({
        "aggregate": "Comment",
        "command": {"type": "post_comment", "on": {"entity_type": "Event", "entity_id": Uuid::nil()},
                    "parent_id": null, "kind": "note", "body": "x", "visibility": "organization"}
    }))
    .unwrap();
    assert_eq!(command.name(), "PostComment");
}

#[tokio::test]
async fn owners_and_admins_switch_see_and_retry_their_workflows_over_http() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Over HTTP").await;
    let other = Org::create(&bus, "Someone else").await;
    // The API knows the members once the read side has them.
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let api = Api::new(&db);
    api.mutate(
        org.admin,
        org.id,
        "enableWorkflow",
        org.id,
        json!({"workflow": "TASK_TIMELINE"}),
    )
    .await;
    // A value that is no workflow is refused by the schema.
    let (_, refused) = api
        .query(
            org.admin,
            org.id,
            "mutation($id: UUID!) { enableWorkflow(id: $id, input: {workflow: NOPE}) { position } }",
            json!({"id": org.id}),
        )
        .await;
    assert!(!refused["errors"].is_null(), "{refused}");
    // The same in the other organization, where the command will fail.
    switch_on(&bus, &other, TIMELINE).await;
    for o in [&org, &other] {
        let task = task_for_event(&bus, o, "Hang the banner", Visibility::Organization).await;
        complete(&bus, o, task).await;
    }
    run_workflows(&db).await;
    bus.execute::<Organization>(
        &other.request(other.admin),
        other.id,
        OrganizationCommand::DisableWorkflow { workflow: TIMELINE },
        None,
    )
    .await
    .unwrap();
    Dispatcher::new(db.pool.clone(), bus.clone())
        .dispatch_due()
        .await
        .unwrap();
    // The workflow reads the switch in the feed, as everything else.
    run_workflows(&db).await;

    let overview = "{ workflows { workflow on instances pending failed sent } }";
    let timeline = |seen: &Value| {
        let all = seen["data"]["workflows"].as_array().unwrap().clone();
        assert_eq!(all.len(), foldline_workflows::all().len(), "{seen}");
        all.into_iter()
            .find(|w| w["workflow"] == "TASK_TIMELINE")
            .unwrap()
    };
    let (status, seen) = api.query(org.admin, org.id, overview, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        timeline(&seen),
        json!({"workflow": "TASK_TIMELINE", "on": true, "instances": 1, "pending": 0, "failed": 0, "sent": 1}),
        "only its own organization's: {seen}"
    );
    let (_, theirs) = api.query(other.owner, other.id, overview, json!({})).await;
    assert_eq!(
        timeline(&theirs),
        json!({"workflow": "TASK_TIMELINE", "on": false, "instances": 1, "pending": 0, "failed": 1, "sent": 0}),
        "{theirs}"
    );
    let (_, member) = api.query(org.member, org.id, overview, json!({})).await;
    assert_eq!(codes(&member), ["FORBIDDEN"], "{member}");

    // An instance: its state and its command, with the reason it failed;
    // another organization's is none.
    let failed_instance: Uuid =
        sqlx::query_scalar("SELECT instance_id FROM workflow_commands WHERE organization_id = $1")
            .bind(other.id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let instance =
        "query($id: UUID!) { workflowInstance(workflow: TASK_TIMELINE, instanceId: $id) {
        state commands { commandName aggregateType status attempts lastError } } }";
    let vars = json!({"id": failed_instance});
    let (_, shown) = api
        .query(other.admin, other.id, instance, vars.clone())
        .await;
    let shown = &shown["data"]["workflowInstance"];
    assert_eq!(shown["state"]["title"], "Hang the banner", "{shown}");
    let command = &shown["commands"][0];
    assert_eq!(
        (&command["commandName"], &command["status"]),
        (&json!("PostComment"), &json!("FAILED"))
    );
    assert!(
        command["lastError"]
            .as_str()
            .unwrap()
            .contains("not a member"),
        "{command}"
    );
    let (_, hidden) = api.query(org.admin, org.id, instance, vars).await;
    assert_eq!(hidden["data"]["workflowInstance"], Value::Null, "{hidden}");

    // A retry from the wrong organization retries nothing; from its own,
    // once the workflow is on again, the command goes through.
    let retry = "mutation { retryWorkflowCommands(workflow: TASK_TIMELINE) }";
    let (_, none) = api.query(org.admin, org.id, retry, json!({})).await;
    assert_eq!(none["data"]["retryWorkflowCommands"], 0, "{none}");
    let (_, member) = api.query(other.member, other.id, retry, json!({})).await;
    assert_eq!(codes(&member), ["FORBIDDEN"], "{member}");
    switch_on(&bus, &other, TIMELINE).await;
    let (_, one) = api.query(other.admin, other.id, retry, json!({})).await;
    assert_eq!(one["data"]["retryWorkflowCommands"], 1, "{one}");
    Dispatcher::new(db.pool.clone(), bus.clone())
        .dispatch_due()
        .await
        .unwrap();
    assert_eq!(notes_on_event(&db, &other).await.len(), 1);
}
