//! What the engine needs of a projection.

use sqlx::PgConnection;

use crate::feed::StoredEvent;
use crate::state_store::StateStore;

/// Why a projection could not apply a batch.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// An event could not be read or applied; the projection stops there.
    #[error("cannot apply the event at position {position}: {message}")]
    Poison {
        /// The event's global position.
        position: i64,
        /// What went wrong.
        message: String,
    },
    /// The database failed; the batch is retried.
    #[error("projection database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// A read model folded from the event store.
#[async_trait::async_trait]
pub trait Projection: Send + Sync {
    /// Its name, which keys its checkpoint and its advisory lock.
    fn name(&self) -> &'static str;

    /// The read tables it writes, and nothing else writes; a rebuild replaces
    /// their rows.
    fn tables(&self) -> &'static [&'static str];

    /// Applies a batch of events, in feed order, inside the engine's
    /// transaction, keeping the states it folds in `store`; events of
    /// aggregates it does not fold are skipped.
    async fn apply(
        &self,
        tx: &mut PgConnection,
        store: &mut StateStore,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError>;
}
