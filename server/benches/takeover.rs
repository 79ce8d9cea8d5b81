//! How long a standby takes to lead every projection when the leader dies
//! (SIGKILL) and when it hangs (SIGSTOP), over a few trials each.
//!
//! `cargo bench -p foldline-server --bench takeover` (`BENCH_TRIALS`, 5 by
//! default).

use std::time::Duration;

#[path = "../tests/support/mod.rs"]
mod support;

use support::takeover::{self, Failure};

#[tokio::main]
async fn main() {
    let trials: usize = std::env::var("BENCH_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    println!(
        "takeover of {} projections by a standby, {trials} trials each",
        foldline_projectors::all().len()
    );
    for failure in [Failure::Dies, Failure::Hangs] {
        let mut times = Vec::new();
        for _ in 0..trials {
            let (url, name) = support::fresh_database().await;
            let (took, leader, standby) =
                takeover::takeover(&url, failure, Duration::from_secs(60)).await;
            drop((leader, standby));
            support::drop_database(&name).await;
            times.push(took.expect("a takeover within 60 s"));
        }
        times.sort();
        println!(
            "{failure:?}: median {:.2} s, max {:.2} s (each: {})",
            times[times.len() / 2].as_secs_f64(),
            times[times.len() - 1].as_secs_f64(),
            times
                .iter()
                .map(|t| format!("{:.2}", t.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}
