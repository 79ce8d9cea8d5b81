//! Catch-up throughput of the projections: the event store is filled with the
//! realistic workload through the command bus, then every projection is
//! rebuilt from scratch as `foldline replay --all` does (shadow tables, swap).
//!
//! `cargo bench -p foldline-tests --bench replay` (part of `just bench`).
//! `BENCH_EVENTS` sets how many events to generate (default 100,000),
//! `BENCH_BATCH` the events per transaction (default 10,000, as `foldline
//! replay`).

use std::sync::Arc;
use std::time::Instant;

use foldline_projectors::rebuild::rebuild_in_shadow;
use foldline_tests::workload::iteration;
use foldline_tests::{Org, TestDb};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let wanted: i64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let batch: i64 = std::env::var("BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Replay").await;

    // Fill the store: eight clients running the workload until enough events.
    let started = Instant::now();
    let clients = 8;
    let per_iteration = 39;
    let iterations = (wanted as usize).div_ceil(per_iteration * clients);
    let bus = Arc::new(bus);
    let mut tasks = Vec::new();
    for client in 0..clients {
        let bus = bus.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..iterations {
                for step in iteration(&org, 0, client, n) {
                    bus.dispatch(&org.request(step.actor), step.id, step.command, None)
                        .await
                        .expect("workload command");
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("client");
    }
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    println!(
        "generated {events} events through the command bus in {:.1} s\n",
        started.elapsed().as_secs_f64()
    );

    println!("## Rebuilding every projection from {events} events\n");
    println!("| projection | seconds | events/s |");
    println!("|---|---|---|");
    let quiet = |_: u64, _: u64| {};
    let all = Instant::now();
    for projection in foldline_projectors::all() {
        let started = Instant::now();
        let applied = rebuild_in_shadow(&db.pool, projection.as_ref(), batch, &quiet)
            .await
            .expect("rebuild");
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "| {} | {seconds:.1} | {:.0} |",
            projection.name(),
            applied as f64 / seconds
        );
    }
    let seconds = all.elapsed().as_secs_f64();
    let projections = foldline_projectors::all().len() as f64;
    println!(
        "| **all {projections}** | **{seconds:.1}** | {:.0} (events × projections / s) |",
        (events as f64) * projections / seconds
    );
}
