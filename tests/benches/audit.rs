//! The auditor's two heavy reads: `foldline audit verify` over the whole
//! store, and an entity's state at a version of a long stream.
//!
//! `cargo bench -p foldline-tests --bench audit` (part of `just bench`).
//! `BENCH_EVENTS` sets the events in the store (default 100,000; beyond
//! `BENCH_BASE`, 100,000, they are bulk copies, see `bulk`), `BENCH_STREAM`
//! the length of the long stream (default 10,000 events, written through
//! the command bus, which snapshots it every 100).

use std::time::{Duration, Instant};

use foldline_aggregates::audit::{self, At};
use foldline_aggregates::chain;
use foldline_aggregates::task::TaskCommand;
use foldline_aggregates::Command;
use foldline_tests::bulk::fill;
use foldline_tests::commands::create_task;
use foldline_tests::measure::{env_or, ms};
use foldline_tests::{Org, TestDb};
use uuid::Uuid;

/// Timed runs of each `entityAt`.
const RUNS: usize = 20;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let wanted = env_or("BENCH_EVENTS", 100_000);
    let long = env_or("BENCH_STREAM", 10_000);
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Audit").await;
    let started = Instant::now();
    let bus = db.bus();
    let task = Uuid::new_v4();
    let id = task.to_string();
    bus.dispatch(
        &org.request(org.member),
        task,
        Command::Task(create_task("Long-lived", None)),
        None,
    )
    .await
    .expect("create");
    for n in 1..long {
        bus.dispatch(
            &org.request(org.member),
            task,
            Command::Task(TaskCommand::UpdateTask {
                title: Some(format!("Long-lived, revision {n}")),
                description: None,
            }),
            None,
        )
        .await
        .expect("update");
    }
    println!(
        "wrote a stream of {long} events through the command bus in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let events = fill(&db, &org, wanted, env_or("BENCH_BASE", 100_000)).await;
    println!();

    println!("## `audit verify` over {events} events\n");
    println!("| events | streams | seconds | events/s | breaks |");
    println!("|---|---|---|---|---|");
    let started = Instant::now();
    let found = chain::verify(&db.pool, None, None).await.expect("verify");
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(found.events as i64, events, "every event verified");
    println!(
        "| {} | {} | {seconds:.1} | {:.0} | {} |",
        found.events,
        found.streams,
        found.events as f64 / seconds,
        found.breaks.len()
    );
    assert!(found.breaks.is_empty(), "an intact store");

    println!("\n## `entityAt` on a stream of {long} events\n");
    println!("| version | p50 ms | max ms |");
    println!("|---|---|---|");
    for version in [1, long / 2, long] {
        let mut latencies: Vec<Duration> = Vec::new();
        for _ in 0..RUNS {
            let started = Instant::now();
            let states = audit::states(&db.pool, "Task", &id, At::Version(version), false)
                .await
                .expect("state");
            latencies.push(started.elapsed());
            assert_eq!(states[0].version, version);
        }
        latencies.sort();
        println!(
            "| {version} | {} | {} |",
            ms(latencies[RUNS / 2]),
            ms(latencies[RUNS - 1])
        );
    }
}
