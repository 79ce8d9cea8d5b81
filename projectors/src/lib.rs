//! The read side of Foldline: projections fold the event store into the read
//! tables.
//!
//! The [`feed`] reads events in `(transaction_id, global_position)` order, only
//! below the oldest transaction still open, so no event is skipped when
//! transactions commit out of order. The [`engine`] applies a batch to a
//! [`Projection`] and moves its checkpoint in the same transaction, so each
//! batch takes effect exactly once. Projections fold each aggregate's own state
//! ([`state`]) and write rows derived from it with set-based statements.

pub mod activity_feed;
pub mod assignments;
pub mod calendar;
pub mod checkpoint;
pub mod document_registry;
pub mod engine;
pub mod entity_directory;
pub mod feed;
pub mod financial_ledger;
pub mod inventory_registry;
pub mod location_registry;
pub mod people_directory;
pub mod projection;
pub mod rebuild;
pub mod rows;
pub mod state;
pub mod state_store;
pub mod status_tracker;
pub mod swap;

pub use engine::{Engine, EngineError};
pub use feed::{Position, StoredEvent};
pub use projection::{Projection, ProjectionError};

/// Every projection, in the order the engine runs them.
pub fn all() -> Vec<std::sync::Arc<dyn Projection>> {
    vec![
        std::sync::Arc::new(calendar::Calendar),
        std::sync::Arc::new(activity_feed::ActivityFeed),
        std::sync::Arc::new(document_registry::DocumentRegistry),
        std::sync::Arc::new(financial_ledger::FinancialLedger),
        std::sync::Arc::new(people_directory::PeopleDirectory),
        std::sync::Arc::new(assignments::Assignments),
        std::sync::Arc::new(location_registry::LocationRegistry),
        std::sync::Arc::new(status_tracker::StatusTracker),
        std::sync::Arc::new(inventory_registry::InventoryRegistry),
        std::sync::Arc::new(entity_directory::EntityDirectory),
    ]
}

/// The projection named `name`.
pub fn by_name(name: &str) -> Option<std::sync::Arc<dyn Projection>> {
    all()
        .into_iter()
        .find(|projection| projection.name() == name)
}
