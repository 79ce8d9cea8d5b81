//! The write side of Foldline.
//!
//! Every change to the domain is a command sent through the [`CommandBus`]: it
//! checks the actor's role against the permission matrix, loads the aggregate
//! from the [`EventStore`], lets the aggregate decide, and appends the resulting
//! events with their [`EventMetadata`] in one atomic statement.

// Amounts are written in minor units grouped as major_minor (`1_500_00` is 1,500.00).
#![allow(clippy::inconsistent_digit_grouping)]

#[macro_use]
pub mod domain;

pub mod access;
pub mod address;
pub mod asset;
pub mod audit;
pub mod bus;
pub mod chain;
pub mod command;
pub mod comment;
pub mod company;
pub mod contact;
pub mod contract;
pub mod document;
pub mod entity_type;
pub mod error;
pub mod event;
pub mod expense;
#[cfg(feature = "graphql")]
pub mod graphql;
pub mod invoice;
pub mod metadata;
pub mod money;
pub mod organization;
pub mod priority;
pub mod production_advance;
pub mod reference;
pub mod shift;
pub mod store;
pub mod stored_name;
pub mod task;
pub mod text_limits;
pub mod venue;
pub mod visibility;
pub mod workflow_kind;

#[cfg(test)]
mod testing;

pub use access::{Actor, Capability, Requirement, Role};
pub use bus::{CommandBus, CommandOutcome};
pub use command::Command;
pub use domain::{CommandContext, DomainAggregate, DomainCommand};
pub use entity_type::EntityType;
pub use error::{BusError, DomainError};
pub use metadata::{EventMetadata, RequestContext, Source};
pub use priority::Priority;
pub use reference::{Claim, EntityRef, References};
pub use store::{EventStore, Loaded};
pub use visibility::Visibility;
