//! Workflows under load: how soon a workflow's command commits after the
//! event that called for it, at a steady command rate with every flow on;
//! and the command bus's throughput with the workflows running against
//! without, in the same run.
//!
//! Everything runs as `foldline serve` runs it: the nine projections and
//! the workflows under the engine, woken by the bus, the dispatcher sending
//! what they decide. Reaction latency is from the triggering command's
//! commit (as the client saw it return) to the workflow's command committed
//! (the dispatcher's record of it, just after); reactions to reactions (an
//! approval task closed, then noted on its event's timeline) are counted
//! apart.
//!
//! `cargo bench -p foldline-tests --bench reactions` (part of `just bench`).
//! `BENCH_RATE` (commands/s, default 500), `BENCH_SECONDS` (default 20),
//! `BENCH_ITERATIONS` (per client in the throughput runs, default 10) and
//! `BENCH_CLIENTS` (default 8).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use foldline_aggregates::organization::{Organization, OrganizationCommand};
use foldline_aggregates::workflow_kind::WorkflowKind;
use foldline_aggregates::CommandBus;
use foldline_projectors::Engine;
use foldline_tests::measure::{env_or, ms, Figures};
use foldline_tests::paced;
use foldline_tests::workload::iteration;
use foldline_tests::{Org, TestDb};
use foldline_workflows::Dispatcher;
use strum::IntoEnumIterator;
use tokio::sync::watch;

/// A workflow command sent, and the transaction of the event that caused it.
#[derive(sqlx::FromRow)]
struct Reaction {
    workflow: String,
    xid: String,
    sent_at: DateTime<Utc>,
    decided_at: DateTime<Utc>,
    attempts: i32,
}

/// Runs `clients` clients each sending `iterations` of the workload as fast
/// as the bus takes them; gives commands per second.
async fn throughput(
    bus: &CommandBus,
    org: &Org,
    run: usize,
    clients: usize,
    iterations: usize,
) -> f64 {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (bus, org) = (bus.clone(), *org);
        tasks.push(tokio::spawn(async move {
            let mut commands = 0;
            for n in 0..iterations {
                for step in iteration(&org, run, client, n) {
                    bus.dispatch(&org.request(step.actor), step.id, step.command, None)
                        .await
                        .expect("command");
                    commands += 1;
                }
            }
            commands
        }));
    }
    let mut commands = 0;
    for task in tasks {
        commands += task.await.expect("client");
    }
    commands as f64 / started.elapsed().as_secs_f64()
}

async fn switch_all_on(bus: &CommandBus, org: &Org) {
    for workflow in WorkflowKind::iter() {
        bus.execute::<Organization>(
            &org.request(org.admin),
            org.id,
            OrganizationCommand::EnableWorkflow { workflow },
            None,
        )
        .await
        .expect("switch on");
    }
}

/// Waits until no workflow command of `org` is due and every workflow has
/// read the feed to its end (at most a minute).
async fn settle(db: &TestDb, org: &Org) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let (due, behind): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM workflow_commands
                     WHERE organization_id = $1 AND status = 'pending' AND next_attempt_at <= now()),
                    (SELECT count(*) FROM projection_checkpoints
                     WHERE global_position < (SELECT max(global_position) FROM events))",
        )
        .bind(org.id)
        .fetch_one(&db.pool)
        .await
        .expect("settle");
        if due == 0 && behind == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("the workflows had not settled after a minute");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rate = env_or("BENCH_RATE", 500) as u64;
    let seconds = env_or("BENCH_SECONDS", 20) as u64;
    let iterations = env_or("BENCH_ITERATIONS", 10) as usize;
    let clients = env_or("BENCH_CLIENTS", 8) as usize;
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let (stop, shutdown) = watch::channel(false);
    let mut workers = engine.spawn(
        foldline_projectors::all(),
        bus.committed(),
        shutdown.clone(),
    );

    // The bus alone (the projections running), then with every workflow on
    // and running, in another organization of the same store.
    let without_org = Org::create(&bus, "Without workflows").await;
    throughput(&bus, &without_org, 0, clients, 1).await;
    let without = throughput(&bus, &without_org, 1, clients, iterations).await;
    let with_org = Org::create(&bus, "With workflows").await;
    switch_all_on(&bus, &with_org).await;
    workers.extend(engine.spawn(foldline_workflows::all(), bus.committed(), shutdown.clone()));
    workers.push(Dispatcher::new(db.pool.clone(), bus.clone()).spawn(shutdown.clone()));
    let with = throughput(&bus, &with_org, 2, clients, iterations).await;
    settle(&db, &with_org).await;

    // Reaction latency at a steady rate, every flow on.
    let org = Org::create(&bus, "Reactions").await;
    switch_all_on(&bus, &org).await;
    settle(&db, &org).await;
    let (commits, elapsed) = paced::send(&bus, &org, 9, rate, (rate * seconds) as usize).await;
    settle(&db, &org).await;
    stop.send(true).expect("stop");
    for worker in workers {
        worker.await.expect("worker");
    }

    // Each command's transaction, and each reaction's trigger's.
    let positions: Vec<i64> = commits.iter().map(|c| c.position).collect();
    let xids: Vec<(i64, String)> = sqlx::query_as(
        "SELECT global_position, transaction_id::text FROM events WHERE global_position = ANY($1)",
    )
    .bind(&positions)
    .fetch_all(&db.pool)
    .await
    .expect("xids");
    let xid_of: HashMap<i64, String> = xids.into_iter().collect();
    let committed_at: HashMap<&str, DateTime<Utc>> = commits
        .iter()
        .map(|c| (xid_of[&c.position].as_str(), c.wall))
        .collect();
    let reactions: Vec<Reaction> = sqlx::query_as(
        "SELECT c.workflow, e.transaction_id::text AS xid, c.sent_at, c.created_at AS decided_at,
                c.attempts
         FROM workflow_commands c JOIN events e ON e.global_position = c.caused_at
         WHERE c.organization_id = $1 AND c.status = 'sent' AND c.timer IS NULL",
    )
    .bind(org.id)
    .fetch_all(&db.pool)
    .await
    .expect("reactions");
    let (pending, failed): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'pending' AND timer IS NULL),
                count(*) FILTER (WHERE status = 'failed')
         FROM workflow_commands WHERE organization_id = $1",
    )
    .bind(org.id)
    .fetch_one(&db.pool)
    .await
    .expect("left");
    let reasons: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT command_name, coalesce(last_error, ''), count(*) FROM workflow_commands
         WHERE organization_id = $1 AND status IN ('failed', 'cancelled') AND timer IS NULL
         GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 5",
    )
    .bind(org.id)
    .fetch_all(&db.pool)
    .await
    .expect("reasons");
    let mut direct = Vec::new();
    let mut deciding = Vec::new();
    let mut by_workflow: HashMap<String, usize> = HashMap::new();
    let mut cascaded = 0;
    let mut tried_again = 0;
    for Reaction {
        workflow,
        xid,
        sent_at,
        decided_at,
        attempts,
    } in reactions
    {
        match committed_at.get(xid.as_str()) {
            Some(at) => {
                if attempts > 1 {
                    tried_again += 1;
                }
                direct.push((sent_at - *at).to_std().unwrap_or_default());
                deciding.push((decided_at - *at).to_std().unwrap_or_default());
                *by_workflow.entry(workflow).or_default() += 1;
            }
            None => cascaded += 1,
        }
    }
    let figures = Figures::new(elapsed, direct);
    let deciding = Figures::new(elapsed, deciding);
    println!("## Workflows under load\n");
    println!(
        "Command bus throughput, {clients} clients × {iterations} iterations of the workload \
         (projections running in both):\n"
    );
    println!("| workflows | commands/s |\n|---|---|");
    println!(
        "| off | {without:.0} |\n| all on, running | {with:.0} ({:.0}%) |\n",
        with / without * 100.0
    );
    println!(
        "Reaction latency, {} commands at {rate}/s over {:.1} s ({:.0}/s achieved), every flow \
         on: from the triggering command's commit to the workflow's command committed.\n",
        commits.len(),
        elapsed.as_secs_f64(),
        commits.len() as f64 / elapsed.as_secs_f64()
    );
    println!("| reactions | p50 ms | p99 ms | max ms |\n|---|---|---|---|");
    println!(
        "| {} | {} | {} | {} |\n",
        figures.operations,
        ms(figures.percentile(0.50)),
        ms(figures.percentile(0.99)),
        ms(figures.percentile(1.0))
    );
    println!(
        "Of which until the workflow's batch began (its decision's time): p50 {} ms, p99 {} ms.\n",
        ms(deciding.percentile(0.50)),
        ms(deciding.percentile(0.99))
    );
    let mut by_workflow: Vec<_> = by_workflow.into_iter().collect();
    by_workflow.sort();
    let list: Vec<String> = by_workflow
        .iter()
        .map(|(w, n)| format!("{w} {n}"))
        .collect();
    println!(
        "By workflow: {}; reactions to reactions: {cascaded}; sent after more than one try: \
         {tried_again}; left unsent: {pending}; refused: {failed}.",
        list.join(", ")
    );
    for (command, reason, count) in reasons {
        println!("- {count} × {command} not sent: {reason}");
    }
}
