//! The errors of the write side: what an aggregate refuses, and what the bus refuses.

use crate::access::{Capability, Requirement};
use crate::store::StoreError;

/// A command refused by an aggregate: bad input, a broken invariant or a
/// transition its status machine does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A value in the command is out of range or malformed.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A value of one of the command's fields is malformed: the field is
    /// its path in the command as serialized (`terms.title`, `lines.0.description`).
    #[error("invalid input: {message}")]
    InvalidField {
        /// The field's path, snake_case, nested fields and list indices
        /// joined by dots.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The command needs an entity that has not been created.
    #[error("{0} does not exist")]
    NotCreated(&'static str),
    /// A create command was sent to an entity that already exists.
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// The entity was deleted; its stream only keeps history now.
    #[error("{0} has been deleted")]
    Deleted(&'static str),
    /// The entity's status machine does not allow the command from here.
    #[error("cannot {action} the {entity}: it is {status}")]
    InvalidTransition {
        /// The entity kind, e.g. `invoice`.
        entity: &'static str,
        /// What the command tried, e.g. `issue`.
        action: &'static str,
        /// The current status.
        status: String,
    },
    /// An invariant of the aggregate would break.
    #[error("{0}")]
    Rule(String),
    /// The actor lacks a capability the command needs at this point.
    #[error("this step needs the {0} capability")]
    MissingCapability(Capability),
    /// The actor's role does not allow this particular change.
    #[error("not allowed: {0}")]
    Forbidden(String),
}

impl DomainError {
    /// A [`DomainError::Invalid`] with the given message.
    pub fn invalid(message: impl Into<String>) -> Self {
        DomainError::Invalid(message.into())
    }

    /// A [`DomainError::InvalidField`] at `field`.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        DomainError::InvalidField {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The error of a part of a command, at `parent`: a field's path is
    /// put under it (`line1` of the `address` is `address.line1`).
    pub fn within(self, parent: &str) -> Self {
        match self {
            DomainError::InvalidField { field, message } => DomainError::InvalidField {
                field: format!("{parent}.{field}"),
                message,
            },
            other => other,
        }
    }

    /// A [`DomainError::Rule`] with the given message.
    pub fn rule(message: impl Into<String>) -> Self {
        DomainError::Rule(message.into())
    }

    /// A [`DomainError::InvalidTransition`].
    pub fn transition(
        entity: &'static str,
        action: &'static str,
        status: impl serde::Serialize,
    ) -> Self {
        let status = match serde_json::to_value(status) {
            Ok(serde_json::Value::String(name)) => name,
            _ => "in an unknown status".to_owned(),
        };
        DomainError::InvalidTransition {
            entity,
            action,
            status,
        }
    }
}

/// Why the command bus did not append a command's events.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The user is not a member of the organization named in the request.
    #[error("user {user_id} is not a member of organization {organization_id}")]
    NotMember {
        /// The organization the request named.
        organization_id: uuid::Uuid,
        /// The user who sent it.
        user_id: uuid::Uuid,
    },
    /// The actor's role and capabilities do not allow the command.
    #[error("{command} needs {requirement}")]
    Forbidden {
        /// The command's name.
        command: &'static str,
        /// The row of the permission matrix that refused it.
        requirement: Requirement,
    },
    /// No such aggregate in the actor's organization. Another organization's
    /// aggregate is reported the same way so that its existence does not leak.
    #[error("{aggregate_type} {aggregate_id} not found")]
    NotFound {
        /// The aggregate type.
        aggregate_type: &'static str,
        /// The aggregate id.
        aggregate_id: String,
    },
    /// The aggregate moved on since the version the caller based the command on,
    /// or another command appended first.
    #[error("version conflict on {aggregate_type} {aggregate_id}: expected version {expected}, found {actual}")]
    Conflict {
        /// The aggregate type.
        aggregate_type: &'static str,
        /// The aggregate id.
        aggregate_id: String,
        /// The version the command was decided on.
        expected: u64,
        /// The version found in the store (`expected + 1` or more after a race).
        actual: u64,
    },
    /// The aggregate refused the command.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The event store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BusError {
    /// The outcome a refused or failed command is counted under:
    /// `forbidden`, `not_found`, `conflict`, `refused` (a rule of the
    /// domain) or `error`.
    pub fn outcome(&self) -> &'static str {
        match self {
            BusError::NotMember { .. } | BusError::Forbidden { .. } => "forbidden",
            BusError::NotFound { .. } => "not_found",
            BusError::Conflict { .. } => "conflict",
            BusError::Domain(_) => "refused",
            BusError::Store(_) => "error",
        }
    }
}
