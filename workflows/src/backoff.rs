//! How long to wait before trying again what failed for a reason that may
//! pass: doubling from a first wait, up to a cap.

use std::time::Duration;

/// The wait before the attempt after `attempts` failed ones: `first`,
/// doubled for each attempt before, at most `max`.
pub fn backoff(first: Duration, attempts: i32, max: Duration) -> Duration {
    first.saturating_mul(1u32 << attempts.clamp(0, 20)).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_and_is_capped() {
        let (first, max) = (Duration::from_secs(1), Duration::from_secs(300));
        assert_eq!(backoff(first, 0, max), first);
        assert_eq!(backoff(first, 3, max), Duration::from_secs(8));
        assert_eq!(backoff(first, 30, max), max);
        assert_eq!(backoff(first, -1, max), first);
        assert_eq!(backoff(Duration::ZERO, 5, max), Duration::ZERO);
    }
}
