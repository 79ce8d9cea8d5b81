//! What the command bus needs to know of every aggregate and command.

use std::collections::BTreeSet;

use cqrs_es::persist::EventUpcaster;
use cqrs_es::Aggregate;
use uuid::Uuid;

use crate::access::{Actor, Capability, Requirement, Role};
use crate::error::DomainError;
use crate::reference::{Claim, References};

/// The services a command handler receives: the checked actor and their organization.
///
/// The bus builds one per command; tests build one per scenario.
#[derive(Debug, Clone)]
pub struct CommandContext {
    /// The aggregate the command is sent to.
    pub aggregate_id: Uuid,
    /// The organization the command acts in.
    pub organization_id: Uuid,
    /// The sender, with the role and capabilities from the roster. For commands
    /// open to non-members (creating an organization) the role is `Guest` and
    /// the capabilities are empty.
    pub actor: Actor,
}

/// A command that knows its name and its row of the permission matrix;
/// serializable, so that the bus can check its text ([`crate::text_limits`]).
pub trait DomainCommand: serde::Serialize {
    /// The command's name, stored in each event's metadata.
    fn name(&self) -> &'static str;
    /// The role or capability the sender needs.
    fn requirement(&self) -> Requirement;
    /// The members and aggregates outside its own stream the command refers
    /// to; the bus checks they exist in the organization.
    fn references(&self) -> References {
        References::none()
    }
}

/// An aggregate that the command bus can serve.
pub trait DomainAggregate:
    Aggregate<Services = CommandContext, Error = DomainError> + Clone + 'static
where
    Self::Command: DomainCommand,
{
    /// The organization the aggregate belongs to, once created.
    fn organization_id(&self) -> Option<Uuid>;

    /// Upcasters that bring stored old event versions to the current shape.
    fn upcasters() -> Vec<Box<dyn EventUpcaster>> {
        Vec::new()
    }

    /// The membership roster this aggregate defines, written to the
    /// `organization_members` table in the same transaction as its events so
    /// that authorization never reads a stale roster. Only organizations have one.
    fn roster(&self) -> Option<Vec<RosterEntry>> {
        None
    }

    /// The claims this aggregate holds (unique values, member bookings), or
    /// `None` for aggregate types that hold none. Written with its events in one
    /// transaction; a clash with another aggregate's claim refuses the command.
    fn claims(&self) -> Option<Vec<Claim>> {
        None
    }
}

/// One member of an organization, as the bus authorizes against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterEntry {
    /// The member's user id.
    pub user_id: Uuid,
    /// Their role.
    pub role: Role,
    /// Their approval capabilities.
    pub capabilities: BTreeSet<Capability>,
}

/// Refuses a command on an aggregate that has not been created or was deleted.
pub(crate) fn ensure_live(
    created: bool,
    deleted: bool,
    entity: &'static str,
) -> Result<(), DomainError> {
    if !created {
        Err(DomainError::NotCreated(entity))
    } else if deleted {
        Err(DomainError::Deleted(entity))
    } else {
        Ok(())
    }
}

/// Refuses a blank required text field, named by its path in the command
/// (snake_case, as [`DomainError::InvalidField`] gives it).
pub(crate) fn require_text(value: &str, field: &str) -> Result<(), DomainError> {
    if value.trim().is_empty() {
        Err(DomainError::field(
            field,
            format!("`{field}` must not be empty"),
        ))
    } else {
        Ok(())
    }
}

/// Writes decided events to the sink, applying each to the aggregate.
pub(crate) async fn emit<A: cqrs_es::Aggregate>(
    aggregate: &mut A,
    sink: &cqrs_es::event_sink::EventSink<A>,
    events: Vec<A::Event>,
) {
    for event in events {
        sink.write(event, aggregate).await;
    }
}

/// Refuses a command that the entity's status machine does not allow from
/// `current`: `allowed` lists the statuses it may be sent in.
pub(crate) fn require_status<S>(
    entity: &'static str,
    current: S,
    action: &'static str,
    allowed: &[S],
) -> Result<(), DomainError>
where
    S: PartialEq + Copy + serde::Serialize,
{
    if allowed.contains(&current) {
        Ok(())
    } else {
        Err(DomainError::transition(entity, action, current))
    }
}

/// Implements cqrs-es's `Aggregate` for a domain type whose inherent
/// `decide(&self, command, ctx)` returns the events a command produces and
/// whose `evolve(&mut self, event)` folds one in. Every aggregate handles a
/// command the same way: decide, then write each event to the sink.
macro_rules! event_sourced {
    ($aggregate:ty, $name:literal, $command:ty, $event:ty) => {
        impl cqrs_es::Aggregate for $aggregate {
            const TYPE: &'static str = $name;
            type Command = $command;
            type Event = $event;
            type Error = $crate::error::DomainError;
            type Services = $crate::domain::CommandContext;

            async fn handle(
                &mut self,
                command: Self::Command,
                ctx: &Self::Services,
                sink: &cqrs_es::event_sink::EventSink<Self>,
            ) -> Result<(), Self::Error> {
                let events = self.decide(command, ctx)?;
                $crate::domain::emit(self, sink, events).await;
                Ok(())
            }

            fn apply(&mut self, event: Self::Event) {
                self.evolve(event)
            }
        }
    };
}

/// Implements cqrs-es's `DomainEvent` for an event enum at version 1.0, its
/// event type being the variant's name.
macro_rules! domain_event {
    ($event:ty) => {
        impl cqrs_es::DomainEvent for $event {
            fn event_type(&self) -> String {
                <&'static str>::from(self).to_owned()
            }

            fn event_version(&self) -> String {
                "1.0".to_owned()
            }
        }
    };
}
