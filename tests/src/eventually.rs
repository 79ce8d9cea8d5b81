//! Waiting, in a test, for something another task or process does in its
//! own time: asked again every few milliseconds, for at most ten seconds.

use std::future::Future;
use std::time::Duration;

/// How often the check is made again.
const EVERY: Duration = Duration::from_millis(10);
/// How many times it is made before the test fails.
const TIMES: u32 = 1_000;

/// The first `Some` that `check` gives, asked every 10 ms; panics with
/// `what` if it gives none within ten seconds.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..TIMES {
        if let Some(found) = check().await {
            return found;
        }
        tokio::time::sleep(EVERY).await;
    }
    panic!("{what}");
}
