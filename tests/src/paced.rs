//! The workload sent at a steady rate, as the lag and reaction benchmarks
//! drive the bus: one command every 1/rate s, each iteration's steps in
//! order on a task of its own.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use foldline_aggregates::CommandBus;

use crate::workload::{iteration, Step};
use crate::Org;

/// One command's commit, as its client saw it return.
#[derive(Debug, Clone, Copy)]
pub struct Commit {
    /// When, on the monotonic clock.
    pub at: Instant,
    /// When, on the wall clock (to compare with the database's times).
    pub wall: DateTime<Utc>,
    /// The feed position of its last event.
    pub position: i64,
}

/// Sends `total` commands of the workload (`run` numbers its iterations) at
/// `rate` commands/s; gives each command's commit and the time it took.
pub async fn send(
    bus: &CommandBus,
    org: &Org,
    run: usize,
    rate: u64,
    total: usize,
) -> (Vec<Commit>, Duration) {
    let per_iteration = iteration(org, 0, 0, 0).len();
    let commits: Arc<Mutex<Vec<Commit>>> = Arc::default();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    let started = Instant::now();
    let mut senders = Vec::new();
    let mut tasks = Vec::new();
    let mut steps = (0..)
        .flat_map(|n| iteration(org, run, 0, n))
        .take(total)
        .peekable();
    while steps.peek().is_some() {
        let chunk: Vec<Step> = steps.by_ref().take(per_iteration).collect();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Step>();
        let (bus, org, commits) = (bus.clone(), *org, commits.clone());
        tasks.push(tokio::spawn(async move {
            while let Some(step) = rx.recv().await {
                let outcome = bus
                    .dispatch(&org.request(step.actor), step.id, step.command, None)
                    .await
                    .expect("command");
                commits.lock().unwrap().push(Commit {
                    at: Instant::now(),
                    wall: Utc::now(),
                    position: outcome.global_position,
                });
            }
        }));
        for step in chunk {
            tick.tick().await;
            tx.send(step).expect("send");
        }
        senders.push(tx);
    }
    drop(senders);
    for task in tasks {
        task.await.expect("iteration");
    }
    let elapsed = started.elapsed();
    let commits = commits.lock().unwrap().clone();
    (commits, elapsed)
}
