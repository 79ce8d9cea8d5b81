//! The aggregate states a projection folds. A row is derived from the whole
//! entity as of the last event applied, so an event that changes one field
//! (a due date) can still produce a row that shows others (the title).

use chrono::{DateTime, Utc};
use foldline_aggregates::asset::{Asset, AssetStatus};
use foldline_aggregates::comment::Comment;
use foldline_aggregates::company::Company;
use foldline_aggregates::contact::Contact;
use foldline_aggregates::contract::{Contract, ContractStatus};
use foldline_aggregates::document::{Document, DocumentStatus};
use foldline_aggregates::event::{Event, EventStatus};
use foldline_aggregates::expense::{Expense, ExpenseStatus};
use foldline_aggregates::invoice::{Invoice, InvoiceStatus};
use foldline_aggregates::organization::Organization;
use foldline_aggregates::production_advance::{AdvanceStatus, ProductionAdvance};
use foldline_aggregates::shift::{Shift, ShiftStatus};
use foldline_aggregates::task::{Task, TaskStatus};
use foldline_aggregates::venue::Venue;
use foldline_aggregates::{DomainAggregate, DomainCommand, Visibility};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::feed::StoredEvent;
use crate::projection::ProjectionError;
use crate::rows::name_of;

/// What the read tables need to know of any entity beyond its own fields.
pub trait Entity: DomainAggregate
where
    Self::Command: DomainCommand,
{
    /// Its current status, by name.
    fn status_name(&self) -> Option<String>;
    /// Its status's category: `active`, `pending`, `blocked` or `completed`.
    fn status_category(&self) -> &'static str;
    /// Whether it was soft-deleted; its rows then leave the tables.
    fn is_deleted(&self) -> bool;
    /// Whether it was created (it has an id).
    fn exists(&self) -> bool;
    /// What lists call it: a title, a name, a number.
    fn display_name(&self) -> String;
    /// Who created it.
    fn owner(&self) -> Option<Uuid>;
    /// Who may see its rows.
    fn visibility(&self) -> Visibility;
}

/// Implements [`Entity`] for an aggregate with `id`, `deleted`, `owner_id` and
/// `visibility` fields, naming it with `$name`, with or without a status
/// (whose values map to categories).
macro_rules! entity {
    (@common $name:expr) => {
        fn is_deleted(&self) -> bool {
            self.deleted
        }

        fn exists(&self) -> bool {
            self.id.is_some()
        }

        fn display_name(&self) -> String {
            let name: fn(&Self) -> String = $name;
            name(self)
        }

        fn owner(&self) -> Option<Uuid> {
            self.owner_id
        }

        fn visibility(&self) -> Visibility {
            self.visibility
        }
    };
    ($aggregate:ty, $name:expr, $status:ident { $($variant:ident => $category:literal),* $(,)? }) => {
        impl Entity for $aggregate {
            fn status_name(&self) -> Option<String> {
                name_of(self.status)
            }

            fn status_category(&self) -> &'static str {
                use $status as S;
                match self.status {
                    $(S::$variant => $category,)*
                }
            }

            entity!(@common $name);
        }
    };
    ($aggregate:ty, $name:expr) => {
        impl Entity for $aggregate {
            fn status_name(&self) -> Option<String> {
                None
            }

            fn status_category(&self) -> &'static str {
                "active"
            }

            entity!(@common $name);
        }
    };
}

entity!(Task, |t| t.title.clone(), TaskStatus {
    Todo => "pending", InProgress => "active", Blocked => "blocked", Done => "completed",
});
entity!(Event, |e| e.title.clone(), EventStatus {
    Planning => "pending", Confirmed => "active", Live => "active",
    Completed => "completed", Cancelled => "completed",
});
entity!(ProductionAdvance, |a| a.code.clone(), AdvanceStatus {
    Draft => "pending", PendingApproval => "pending", Approved => "active",
    Completed => "completed", Cancelled => "completed",
});
entity!(Invoice, |i| i.number.clone(), InvoiceStatus {
    Draft => "pending", Issued => "active", PartiallyPaid => "active", Overdue => "blocked",
    Paid => "completed", Void => "completed",
});
entity!(Contract, |c| c.current().map(|v| v.terms.title.clone()).unwrap_or_default(), ContractStatus {
    Draft => "pending", Sent => "pending", Signed => "active", Active => "active",
    Expired => "completed", Terminated => "completed",
});
entity!(Shift, |s| s.role.clone(), ShiftStatus {
    Scheduled => "pending", Confirmed => "active", Cancelled => "completed",
});
entity!(Asset, |a| a.name.clone(), AssetStatus {
    Available => "active", CheckedOut => "active", InMaintenance => "blocked",
    Retired => "completed",
});
entity!(Expense, |e| e.description.clone(), ExpenseStatus {
    Draft => "pending", Submitted => "pending", Approved => "active",
    Paid => "completed", Rejected => "blocked",
});
entity!(Document, |d| d.title.clone(), DocumentStatus {
    Active => "active", Signed => "completed", Expired => "completed",
});
entity!(Venue, |v| v.name.clone());
entity!(Company, |c| c.name.clone());
entity!(Contact, |c| c.name.clone());
entity!(Comment, |c| c.body.chars().take(80).collect());

impl Entity for Organization {
    fn status_name(&self) -> Option<String> {
        None
    }

    fn status_category(&self) -> &'static str {
        "active"
    }

    fn is_deleted(&self) -> bool {
        false
    }

    fn exists(&self) -> bool {
        self.id.is_some()
    }

    fn display_name(&self) -> String {
        self.name.clone()
    }

    fn owner(&self) -> Option<Uuid> {
        None
    }

    fn visibility(&self) -> Visibility {
        Visibility::Organization
    }
}

/// An entity's state as a projection folded it, with when and by whom it and
/// its status last changed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(bound = "A: Serialize + DeserializeOwned")]
pub struct Tracked<A> {
    /// The aggregate's state.
    pub aggregate: A,
    /// The sequence of the last event folded; older ones are ignored.
    pub sequence: i64,
    /// When its first event was recorded.
    pub created_at: Option<DateTime<Utc>>,
    /// When its last event was recorded.
    pub updated_at: Option<DateTime<Utc>>,
    /// The global position of its last event.
    pub last_position: i64,
    /// The status before the last status change.
    pub previous_status: Option<String>,
    /// When the status last changed (or the entity was created).
    pub status_changed_at: Option<DateTime<Utc>>,
    /// Who changed the status last.
    pub status_changed_by: Option<Uuid>,
}

impl<A> Tracked<A>
where
    A: Entity,
    A::Command: DomainCommand,
{
    /// Folds one event, unless it is at or before the last one folded.
    pub fn fold(&mut self, event: &StoredEvent) -> Result<(), ProjectionError> {
        if event.sequence <= self.sequence {
            return Ok(());
        }
        let decoded = event
            .decode::<A>()
            .map_err(|error| ProjectionError::Poison {
                position: event.position.global_position,
                message: error.to_string(),
            })?;
        let before = self.aggregate.status_name();
        self.aggregate.apply(decoded);
        let after = self.aggregate.status_name();
        if self.created_at.is_none() || before != after {
            if self.created_at.is_some() {
                self.previous_status = before;
            }
            self.status_changed_at = Some(event.recorded_at);
            self.status_changed_by = event.actor_id();
        }
        self.created_at.get_or_insert(event.recorded_at);
        self.updated_at = Some(event.recorded_at);
        self.sequence = event.sequence;
        self.last_position = event.position.global_position;
        Ok(())
    }
}
