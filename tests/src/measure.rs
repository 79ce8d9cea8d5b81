//! Throughput and latency figures for the benchmarks.

use std::time::Duration;

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
