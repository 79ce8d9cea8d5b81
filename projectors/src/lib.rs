//! The read side of Foldline: projections fold the event store into the read
//! tables.
//!
//! The [`feed`] reads events in `(transaction_id, global_position)` order, only
//! below the oldest transaction still open, so no event is skipped when
//! transactions commit out of order. The [`engine`] applies a batch to a
//! [`Projection`] and moves its checkpoint in the same transaction, so each
//! batch takes effect exactly once. Projections fold each aggregate's own state
//! ([`state`]) and write rows derived from it with set-based statements.

pub mod calendar;
pub mod checkpoint;
pub mod engine;
pub mod feed;
pub mod projection;
pub mod rows;
pub mod state;
pub mod status_tracker;

pub use engine::{Engine, EngineError};
pub use feed::{Position, StoredEvent};
pub use projection::{Projection, ProjectionError};

/// Every projection, in the order the engine runs them.
pub fn all() -> Vec<std::sync::Arc<dyn Projection>> {
    vec![
        std::sync::Arc::new(status_tracker::StatusTracker),
        std::sync::Arc::new(calendar::Calendar),
    ]
}
