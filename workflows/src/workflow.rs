//! What a workflow is: the events it follows, the state it folds per
//! instance, and the commands it decides on, now or at a time.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use std::collections::HashMap;

use foldline_aggregates::access::Capability;
use foldline_aggregates::command::Command;
use foldline_aggregates::domain::{DomainAggregate, DomainCommand};
use foldline_aggregates::organization::Organization;
use foldline_aggregates::workflow_kind::WorkflowKind;
use foldline_projectors::StoredEvent;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// A command a workflow decided to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    /// The aggregate it goes to. A command that creates one names it by an
    /// id derived from the cause ([`Intent::derived_id`]), so that deciding
    /// it again gives the same id.
    pub aggregate_id: Uuid,
    /// The command.
    pub command: Command,
    /// When to send it, if not now.
    pub timer: Option<Timer>,
    /// Whether a refusal by the domain means it is no longer needed (a task
    /// to close that someone closed already) rather than a failure.
    pub unless_done: bool,
}

/// When a command decided now is to be sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Timer {
    /// What it is for within its instance: setting a timer of the same name
    /// again replaces the one still waiting.
    pub name: &'static str,
    /// When it fires.
    pub at: DateTime<Utc>,
}

impl Intent {
    /// A command to send now.
    pub fn now(aggregate_id: Uuid, command: impl Into<Command>) -> Self {
        Intent {
            aggregate_id,
            command: command.into(),
            timer: None,
            unless_done: false,
        }
    }

    /// This command, whose refusal by the domain means only that it is no
    /// longer needed: its row is cancelled with the reason, not failed.
    pub fn unless_done(self) -> Self {
        Intent {
            unless_done: true,
            ..self
        }
    }

    /// A command to send at `at`, under the timer `name`.
    pub fn at(
        name: &'static str,
        at: DateTime<Utc>,
        aggregate_id: Uuid,
        command: impl Into<Command>,
    ) -> Self {
        Intent {
            aggregate_id,
            command: command.into(),
            timer: Some(Timer { name, at }),
            unless_done: false,
        }
    }

    /// The id of an aggregate a workflow creates, derived from the event
    /// that caused it and what it is for (`purpose`), never random: a
    /// decision made again after a crash names the same aggregate.
    pub fn derived_id(cause: &StoredEvent, purpose: &str) -> Uuid {
        Uuid::new_v5(&cause.id(), purpose.as_bytes())
    }
}

/// An integration message for the outside world (an e-mail to send, an
/// entry for the ledger), written to the outbox with the workflow's state
/// and delivered to the organization's webhooks that take its topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// What it is about, e.g. `invoice.paid`.
    pub topic: &'static str,
    /// Its content, as the receiver gets it.
    pub payload: Value,
}

/// What a workflow does about one event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reaction {
    /// Commands to send, now or at a time.
    pub send: Vec<Intent>,
    /// Timers of the instance no longer wanted.
    pub cancel: Vec<&'static str>,
    /// Messages for the outside world.
    pub emit: Vec<Message>,
}

impl Reaction {
    /// Nothing to do.
    pub fn none() -> Self {
        Reaction::default()
    }

    /// Send these.
    pub fn send(send: impl IntoIterator<Item = Intent>) -> Self {
        Reaction {
            send: send.into_iter().collect(),
            ..Reaction::default()
        }
    }

    /// And emit `message`.
    pub fn emit(mut self, topic: &'static str, payload: Value) -> Self {
        self.emit.push(Message { topic, payload });
        self
    }

    /// Cancel the timer `name`.
    pub fn cancel(name: &'static str) -> Self {
        Reaction {
            cancel: vec![name],
            ..Reaction::default()
        }
    }
}

/// Folds `event` into `state`, the instance's own aggregate, and gives the
/// event decoded: for a workflow whose state is the aggregate it follows.
pub fn fold<A>(state: &mut A, event: &StoredEvent) -> Result<A::Event, String>
where
    A: DomainAggregate,
    A::Command: DomainCommand,
{
    let decoded = event.decode::<A>().map_err(|error| error.to_string())?;
    state.apply(decoded.clone());
    Ok(decoded)
}

/// Midnight UTC at the start of `day`: when a timer set for a day fires.
pub fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

/// What a workflow may read besides its instances' events: the
/// organizations of the batch, as the store has them at its end (their
/// members and what each may approve), when the workflow asks for them
/// ([`Workflow::READS_ORGANIZATIONS`]).
#[derive(Debug, Default)]
pub struct Context {
    /// The organizations, by id.
    pub organizations: HashMap<Uuid, Organization>,
}

impl Context {
    /// The members of `organization` holding `capability`, in id order.
    pub fn members_with(&self, organization: Uuid, capability: Capability) -> Vec<Uuid> {
        self.organizations
            .get(&organization)
            .map(|org| {
                org.members
                    .iter()
                    .filter(|(_, member)| member.capabilities.contains(&capability))
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A process manager over the feed.
///
/// An instance is one aggregate of type [`Workflow::ROOT`] (an invoice, a
/// task…), and the workflow follows that aggregate's events. It folds an
/// instance only in an organization that has it on: one switched on later
/// starts each instance's state from the instance's earlier events, read
/// from the store, and acts only on what happens after.
pub trait Workflow: Send + Sync + 'static {
    /// Which workflow it is: its name, its actor, the switch that turns it
    /// on for an organization.
    const KIND: WorkflowKind;

    /// The aggregate type whose aggregates are its instances.
    const ROOT: &'static str;

    /// Whether it reads the organizations of each batch ([`Context`]).
    const READS_ORGANIZATIONS: bool = false;

    /// What it remembers of one instance.
    type State: Serialize + DeserializeOwned + Default + Send;

    /// Folds `event` of an instance into its `state`, and gives what the
    /// event calls for. Called for the instance's earlier events too, when
    /// the workflow is switched on after the instance began, and what those
    /// call for is dropped. An event the workflow cannot read is an error:
    /// it stops there, as a projection does.
    fn react(
        &self,
        state: &mut Self::State,
        event: &StoredEvent,
        context: &Context,
    ) -> Result<Reaction, String>;
}
