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
use foldline_tests::paced;
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

    // The load: one command every 1/rate s.
    let (commits, elapsed) = paced::send(&bus, &org, 0, rate, (rate * seconds) as usize).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send(true).expect("stop");
    watcher.await.expect("watcher");
    for worker in workers {
        worker.await.expect("worker");
    }

    // Each command's last event, as a feed position.
    let positions: Vec<i64> = commits.iter().map(|c| c.position).collect();
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
    for commit in &commits {
        let target = Position {
            transaction_id: xid_of[&commit.position],
            global_position: commit.position,
        };
        if let Some((seen, _)) = samples
            .iter()
            .find(|(at, lowest)| *at >= commit.at && *lowest >= target)
        {
            lags.push(seen.duration_since(commit.at));
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
