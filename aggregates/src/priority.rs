//! How urgent a piece of work is.

use serde::{Deserialize, Serialize};

/// How urgent an advance or a task is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Whenever.
    Low,
    /// The default.
    #[default]
    Medium,
    /// Soon.
    High,
    /// Blocks the show.
    Critical,
}

crate::stored_as_text!(Priority);
