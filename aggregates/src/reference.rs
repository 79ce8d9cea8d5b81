//! What a command or an aggregate says about the world outside its own stream:
//! the members and entities a command refers to, checked by the bus before the
//! aggregate decides, and the claims an aggregate holds, which the database
//! keeps unique across aggregates.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A reference to any entity, for documents and comments that attach to
/// whatever they are about.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    foldline_derive::GraphqlInput,
    foldline_derive::GraphqlOutput,
)]
pub struct EntityRef {
    /// The aggregate type, e.g. `Invoice`.
    pub entity_type: String,
    /// The aggregate id.
    pub entity_id: Uuid,
}

/// The members and aggregates a command refers to. The bus refuses the command
/// when a member is not in the organization's roster or an aggregate does not
/// exist in the organization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct References {
    /// Users who must be members of the organization.
    pub members: Vec<Uuid>,
    /// Aggregates (type, id) that must exist in the organization.
    pub aggregates: Vec<(String, Uuid)>,
    /// Ids that must name an aggregate of one of the types in the
    /// organization (a payee that is a company or a contact).
    pub any_of: Vec<(&'static [&'static str], Uuid)>,
}

impl References {
    /// No references.
    pub fn none() -> Self {
        References::default()
    }

    /// Adds a member that must belong to the organization.
    pub fn member(mut self, user_id: impl Into<Option<Uuid>>) -> Self {
        self.members.extend(user_id.into());
        self
    }

    /// Adds an aggregate that must exist in the organization.
    pub fn aggregate(mut self, aggregate_type: &str, id: impl Into<Option<Uuid>>) -> Self {
        if let Some(id) = id.into() {
            self.aggregates.push((aggregate_type.to_owned(), id));
        }
        self
    }

    /// Adds an id that must name an aggregate of one of `types` in the
    /// organization.
    pub fn any_of(mut self, types: &'static [&'static str], id: impl Into<Option<Uuid>>) -> Self {
        if let Some(id) = id.into() {
            self.any_of.push((types, id));
        }
        self
    }

    /// Every (type, id) the bus looks up: the aggregates and each of the
    /// alternatives.
    pub fn lookups(&self) -> impl Iterator<Item = (&str, Uuid)> + '_ {
        let alternatives = self
            .any_of
            .iter()
            .flat_map(|(types, id)| types.iter().map(move |t| (*t, *id)));
        self.aggregates
            .iter()
            .map(|(t, id)| (t.as_str(), *id))
            .chain(alternatives)
    }

    /// Adds an entity reference.
    pub fn entity(self, entity: &EntityRef) -> Self {
        self.aggregate(&entity.entity_type, entity.entity_id)
    }

    /// Whether there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.aggregates.is_empty() && self.any_of.is_empty()
    }
}

/// Something an aggregate holds that no other aggregate of the organization
/// may hold at the same time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Claim {
    /// A value unique within the organization, in a named scope (say, contact
    /// emails).
    Unique {
        /// The scope, e.g. `contact_email`.
        scope: String,
        /// The value, normalised by the aggregate.
        value: String,
    },
    /// A period a member is booked for; a member's bookings may not overlap.
    Booking {
        /// The member.
        member_id: Uuid,
        /// Start (inclusive).
        starts_at: DateTime<Utc>,
        /// End (exclusive).
        ends_at: DateTime<Utc>,
    },
}
