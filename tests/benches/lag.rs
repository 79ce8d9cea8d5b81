//! Projection lag under a steady command load: commands go through the bus at
//! a fixed rate while the nine projection workers run (woken by the bus); for
//! each command, the lag is the time from its commit until every projection's
//! checkpoint has passed its last event.
//!
//! `cargo bench -p foldline-tests --bench lag` (part of `just bench`).
//! `BENCH_RATE` (commands/s, default 500) and `BENCH_SECONDS` (default 20).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use foldline_projectors::{Engine, Position};
use foldline_tests::measure::{ms, Figures};
use foldline_tests::workload::iteration;
use foldline_tests::{Org, TestDb};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rate = env("BENCH_RATE", 500);
    let seconds = env("BENCH_SECONDS", 20);
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Lag").await;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let workers = Engine::new(db.pool.clone()).spawn(
        foldline_projectors::all(),
        bus.committed(),
        shutdown.clone(),
    );
    let projections = foldline_projectors::all().len() as i64;

    // The watcher: the lowest checkpoint over all projections, every 2 ms.
    let samples: Arc<Mutex<Vec<(Instant, Position)>>> = Arc::default();
    let watcher = {
        let pool = db.pool.clone();
        let samples = samples.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(2));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = shutdown.wait_for(|stop| *stop) => return,
                }
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT transaction_id::text, global_position FROM projection_checkpoints",
                )
                .fetch_all(&pool)
                .await
                .expect("checkpoints");
                if rows.len() as i64 == projections {
                    let lowest = rows
                        .into_iter()
                        .map(|(xid, position)| Position {
                            transaction_id: xid.parse().unwrap_or(0),
                            global_position: position,
                        })
                        .min()
                        .unwrap_or_default();
                    samples.lock().unwrap().push((Instant::now(), lowest));
                }
            }
        })
    };

    // The load: one command every 1/rate s, each on its own task.
    let steps: Vec<_> = (0..)
        .flat_map(|n| iteration(&org, 0, 0, n))
        .take((rate * seconds) as usize)
        .collect();
    let commits: Arc<Mutex<Vec<(Instant, i64)>>> = Arc::default();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    let mut sent = Vec::new();
    let started = Instant::now();
    // Steps of one aggregate must keep their order: each iteration runs on
    // its own task, paced command by command.
    let per_iteration = iteration(&org, 0, 0, 0).len();
    let mut chunks = steps.into_iter().peekable();
    let mut iteration_tasks = Vec::new();
    while chunks.peek().is_some() {
        let chunk: Vec<_> = chunks.by_ref().take(per_iteration).collect();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let bus = bus.clone();
        let commits = commits.clone();
        iteration_tasks.push(tokio::spawn(async move {
            while let Some(step) = rx.recv().await {
                let step: foldline_tests::workload::Step = step;
                let outcome = bus
                    .dispatch(&org.request(step.actor), step.id, step.command, None)
                    .await
                    .expect("command");
                commits
                    .lock()
                    .unwrap()
                    .push((Instant::now(), outcome.global_position));
            }
        }));
        for step in chunk {
            tick.tick().await;
            tx.send(step).expect("send");
        }
        sent.push(tx);
    }
    drop(sent);
    for task in iteration_tasks {
        task.await.expect("iteration");
    }
    let elapsed = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send(true).expect("stop");
    watcher.await.expect("watcher");
    for worker in workers {
        worker.await.expect("worker");
    }

    // Each command's last event, as a feed position.
    let commits = commits.lock().unwrap().clone();
    let positions: Vec<i64> = commits.iter().map(|(_, p)| *p).collect();
    let xids: Vec<(i64, String)> = sqlx::query_as(
        "SELECT global_position, transaction_id::text FROM events
         WHERE global_position = ANY($1)",
    )
    .bind(&positions)
    .fetch_all(&db.pool)
    .await
    .expect("xids");
    let xid_of: std::collections::HashMap<i64, u64> = xids
        .into_iter()
        .map(|(p, x)| (p, x.parse().unwrap_or(0)))
        .collect();
    let samples = samples.lock().unwrap().clone();
    let mut lags = Vec::with_capacity(commits.len());
    for (committed, position) in &commits {
        let target = Position {
            transaction_id: xid_of[position],
            global_position: *position,
        };
        if let Some((seen, _)) = samples
            .iter()
            .find(|(at, lowest)| at >= committed && *lowest >= target)
        {
            lags.push(seen.duration_since(*committed));
        }
    }
    let measured = lags.len();
    let figures = Figures::new(elapsed, lags);
    println!("## Projection lag under load\n");
    println!(
        "{} commands at {rate}/s over {:.1} s ({:.0} commands/s achieved); lag from commit \
         until all nine projections have applied the command ({measured} measured, 2 ms \
         sampling)\n",
        commits.len(),
        elapsed.as_secs_f64(),
        commits.len() as f64 / elapsed.as_secs_f64()
    );
    println!("| p50 ms | p99 ms | max ms |");
    println!("|---|---|---|");
    println!(
        "| {} | {} | {} |",
        ms(figures.percentile(0.50)),
        ms(figures.percentile(0.99)),
        ms(figures.percentile(1.0))
    );
}
