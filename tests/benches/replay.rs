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

use std::time::Instant;

use foldline_projectors::rebuild::{rebuild, Target};
use foldline_tests::bulk::fill;
use foldline_tests::measure::env_or;
use foldline_tests::{Org, TestDb};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let wanted = env_or("BENCH_EVENTS", 100_000);
    let batch = env_or("BENCH_BATCH", 10_000);
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Replay").await;

    // At most `BENCH_BASE` events (default 100,000) go through the bus; the
    // rest are copies of them appended in bulk, as other organizations.
    let events = fill(&db, &org, wanted, env_or("BENCH_BASE", 100_000)).await;
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
