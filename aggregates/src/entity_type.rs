//! The kinds of entity the read tables show rows about.

use serde::{Deserialize, Serialize};

/// Defines [`EntityType`] from its variants: each variant's name is the
/// name stored in the read tables' `entity_type` (the aggregate's `TYPE`).
macro_rules! entity_types {
    ($($(#[$doc:meta])* $variant:ident,)*) => {
        /// A kind of entity: an aggregate type, or a member of an
        /// organization (the people directory's rows of members).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
        pub enum EntityType {
            $($(#[$doc])* $variant,)*
        }

        impl EntityType {
            /// Every kind.
            pub const ALL: &'static [EntityType] = &[$(EntityType::$variant),*];

            /// The name stored in the read tables.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(EntityType::$variant => stringify!($variant),)*
                }
            }
        }

        impl TryFrom<String> for EntityType {
            type Error = String;

            /// The name stored in the read tables, back.
            fn try_from(name: String) -> Result<Self, Self::Error> {
                match name.as_str() {
                    $(stringify!($variant) => Ok(EntityType::$variant),)*
                    _ => Err(format!("unknown entity type `{name}`")),
                }
            }
        }
    };
}

entity_types! {
    /// An organization.
    Organization,
    /// A production advance.
    ProductionAdvance,
    /// An invoice.
    Invoice,
    /// A contract.
    Contract,
    /// An event.
    Event,
    /// A venue.
    Venue,
    /// A task.
    Task,
    /// A shift.
    Shift,
    /// An asset.
    Asset,
    /// A company.
    Company,
    /// A contact.
    Contact,
    /// An expense.
    Expense,
    /// A document.
    Document,
    /// A comment.
    Comment,
    /// A member of an organization.
    Member,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{asset, comment, company, contact, contract, document, event, expense};
    use crate::{invoice, organization, production_advance, shift, task, venue};
    use cqrs_es::Aggregate;

    #[test]
    fn every_aggregate_type_is_an_entity_type_of_the_same_name() {
        let aggregate_types = [
            organization::Organization::TYPE,
            production_advance::ProductionAdvance::TYPE,
            invoice::Invoice::TYPE,
            contract::Contract::TYPE,
            event::Event::TYPE,
            venue::Venue::TYPE,
            task::Task::TYPE,
            shift::Shift::TYPE,
            asset::Asset::TYPE,
            company::Company::TYPE,
            contact::Contact::TYPE,
            expense::Expense::TYPE,
            document::Document::TYPE,
            comment::Comment::TYPE,
        ];
        for aggregate_type in aggregate_types {
            let kind = EntityType::try_from(aggregate_type.to_owned()).unwrap();
            assert_eq!(kind.as_str(), aggregate_type);
        }
        assert!(EntityType::try_from("Nothing".to_owned()).is_err());
        // The aggregates, and members.
        assert_eq!(EntityType::ALL.len(), aggregate_types.len() + 1);
    }
}
