//! The metadata every event carries: who, through what, and why.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where a command came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The GraphQL API.
    Api,
    /// The `foldline` command line.
    Cli,
    /// A fixture loaded by `foldline seed`.
    Fixture,
    /// A bulk import.
    Import,
    /// An automated workflow reacting to other events.
    Workflow,
}

/// The request a command belongs to, as known by whoever sends it to the bus.
///
/// The organization and the actor are claims to be checked: the bus looks the
/// actor up in the organization's roster before anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The organization the request acts in.
    pub organization_id: Uuid,
    /// The authenticated user.
    pub actor_id: Uuid,
    /// Groups every event one request or workflow caused.
    pub correlation_id: Uuid,
    /// The message that caused this command, when it is not the command itself.
    pub causation_id: Option<Uuid>,
    /// The channel the command came through.
    pub source: Source,
    /// The transport's request id (HTTP request, CLI run).
    pub request_id: String,
    /// Makes the command happen at most once: the bus records the key with
    /// the command's events, and answers a later command with the same key
    /// in the organization with what the first appended.
    pub idempotency_key: Option<String>,
}

impl RequestContext {
    /// A fresh request: new correlation and request ids, no outside cause.
    pub fn new(organization_id: Uuid, actor_id: Uuid, source: Source) -> Self {
        let correlation_id = Uuid::new_v4();
        RequestContext {
            organization_id,
            actor_id,
            correlation_id,
            causation_id: None,
            source,
            request_id: correlation_id.to_string(),
            idempotency_key: None,
        }
    }

    /// The same request with the given correlation id.
    pub fn with_correlation_id(mut self, correlation_id: Uuid) -> Self {
        self.correlation_id = correlation_id;
        self
    }

    /// The same request, caused by the message `causation_id`.
    pub fn caused_by(mut self, causation_id: Uuid) -> Self {
        self.causation_id = Some(causation_id);
        self
    }

    /// The same request, to happen at most once under `key`.
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// The same request with the given transport request id.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = request_id.into();
        self
    }
}

/// The metadata stored with every event (the `metadata` column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    /// The tenant; the events table derives its `organization_id` column from it.
    pub organization_id: Uuid,
    /// The user whose command produced the event.
    pub actor_id: Uuid,
    /// The id shared by every event of one request or workflow.
    pub correlation_id: Uuid,
    /// The command (or upstream event) that directly caused this event.
    pub causation_id: Uuid,
    /// The id of the command execution that appended the event.
    pub command_id: Uuid,
    /// The command's name, e.g. `RecordPayment`.
    pub command: String,
    /// The channel the command came through.
    pub source: Source,
    /// The transport's request id.
    pub request_id: String,
    /// The key the command was sent under to happen at most once, if any
    /// (`command_keys`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}
