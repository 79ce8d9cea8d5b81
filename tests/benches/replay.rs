//! Catch-up throughput of the projections: the event store is filled with the
//! realistic workload through the command bus, then every projection is
//! rebuilt from scratch as `foldline replay --all` does: one pass over the
//! feed into shadow tables, swapped in.
//!
//! `cargo bench -p foldline-tests --bench replay` (part of `just bench`).
//! `BENCH_EVENTS` sets how many events to generate (default 100,000; beyond
//! `BENCH_BASE`, 100,000, they are bulk copies of those, see `bulk`),
//! `BENCH_BATCH` the events per transaction (default 10,000, as `foldline
//! replay`).

use std::sync::Arc;
use std::time::Instant;

use foldline_projectors::rebuild::{rebuild, Target};
use foldline_tests::bulk::replicate;
use foldline_tests::workload::iteration;
use foldline_tests::{Org, TestDb};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let wanted = env_or("BENCH_EVENTS", 100_000);
    let batch = env_or("BENCH_BATCH", 10_000);
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Replay").await;

    // Fill the store: eight clients running the workload until enough events.
    let started = Instant::now();
    let clients = 8;
    let per_iteration = 39;
    // At most `BENCH_BASE` events (default 100,000) go through the bus; the
    // rest are copies of them appended in bulk, as other organizations.
    let base = wanted.min(env_or("BENCH_BASE", 100_000));
    let iterations = (base as usize).div_ceil(per_iteration * clients);
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
    let generated: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    println!(
        "generated {generated} events through the command bus in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let copies = (wanted as usize).div_ceil(generated as usize) - 1;
    if copies > 0 {
        let started = Instant::now();
        let appended = replicate(&db.pool, copies).await.expect("bulk copies");
        println!(
            "appended {appended} more events as {copies} copies in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    sqlx::query("VACUUM ANALYZE events")
        .execute(&db.pool)
        .await
        .unwrap();
    println!();

    println!("## `foldline replay --all` over {events} events\n");
    let projections = foldline_projectors::all();
    let quiet = |_: u64, _: u64| {};
    let started = Instant::now();
    let applied = rebuild(&db.pool, &projections, Target::Shadow, batch, &quiet)
        .await
        .expect("rebuild");
    let seconds = started.elapsed().as_secs_f64();
    assert!(applied >= events as u64, "every event folded");
    println!("| projections | events | batch | seconds | events/s |");
    println!("|---|---|---|---|---|");
    println!(
        "| all {} in one pass, swapped in | {events} | {batch} | {seconds:.1} | {:.0} |",
        projections.len(),
        events as f64 / seconds
    );
}

fn env_or(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
