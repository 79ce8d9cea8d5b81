//! Throughput and latency figures for the benchmarks.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a timed run did: how long it took, and each operation's latency.
#[derive(Debug, Clone)]
pub struct Figures {
    /// Operations completed.
    pub operations: usize,
    /// Wall-clock time of the whole run.
    pub elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Figures {
    /// Figures from a run's wall-clock time and its operations' latencies.
    pub fn new(elapsed: Duration, mut latencies: Vec<Duration>) -> Figures {
        latencies.sort();
        Figures {
            operations: latencies.len(),
            elapsed,
            latencies,
        }
    }

    /// Operations per second over the whole run.
    pub fn per_second(&self) -> f64 {
        self.operations as f64 / self.elapsed.as_secs_f64()
    }

    /// The latency below which a fraction `p` (0 to 1) of operations finished.
    pub fn percentile(&self, p: f64) -> Duration {
        let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[index]
    }
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// The integer in environment variable `name`, else `default`.
pub fn env_or(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `clients` loops of `request` for `warm_up` and then `duration`,
/// and gives the figures of what started after the warm-up. `request` is
/// called with the client's number and its request count; it checks its
/// own answer.
pub async fn drive<S, F>(
    clients: Vec<S>,
    warm_up: Duration,
    duration: Duration,
    request: F,
) -> Figures
where
    S: Send + 'static,
    F: Fn(&mut S, usize) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let measured_from = Instant::now() + warm_up;
    let end = measured_from + duration;
    let mut tasks = Vec::new();
    for (client, mut state) in clients.into_iter().enumerate() {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = client;
            loop {
                let started = Instant::now();
                if started >= end {
                    return latencies;
                }
                request(&mut state, n).await;
                if started >= measured_from {
                    latencies.push(started.elapsed());
                }
                n += 1;
            }
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    Figures::new(duration, latencies)
}
