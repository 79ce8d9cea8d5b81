//! The command bus: the one way into the write side.

use std::time::Instant;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use tokio::sync::watch;
use uuid::Uuid;

use crate::access::{Actor, Capability, Role};
use crate::domain::{CommandContext, DomainAggregate, DomainCommand};
use crate::error::{BusError, DomainError};
use crate::metadata::{EventMetadata, RequestContext};
use crate::reference::References;
use crate::store::{AppendError, Asker, CommandRead, Decision, EventStore, StoreError};

/// What a command appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandOutcome {
    /// The aggregate the command was sent to.
    pub aggregate_id: Uuid,
    /// The aggregate's version after the command.
    pub version: u64,
    /// The global position of the command's last event; a query that waits for
    /// the projections to reach it reads its own write.
    pub global_position: i64,
    /// How many events the command appended: 0 when it had already been
    /// applied under the request's idempotency key, and this is what that
    /// command appended.
    pub events: usize,
}

/// Sends commands to aggregates: authorizes, loads, decides, appends.
#[derive(Debug, Clone)]
pub struct CommandBus {
    store: EventStore,
    committed: watch::Sender<i64>,
}

impl CommandBus {
    /// A bus over `store`.
    pub fn new(store: EventStore) -> Self {
        CommandBus {
            store,
            committed: watch::Sender::new(0),
        }
    }

    /// The event store behind the bus.
    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// The global position of the last event this bus committed; local
    /// projectors wait on it instead of polling.
    pub fn committed(&self) -> watch::Receiver<i64> {
        self.committed.subscribe()
    }

    /// Executes `command` on the aggregate `aggregate_id` for the request's actor.
    ///
    /// In order: the actor must be a member of the request's organization with
    /// the role or capability the command needs; the aggregate, if it exists,
    /// must belong to that organization; its version must be `expected_version`
    /// when one is given. Then the aggregate decides, and its events are
    /// appended with the request's metadata. A concurrent command that appended
    /// first makes this one fail with [`BusError::Conflict`]; nothing is lost.
    #[tracing::instrument(
        name = "command",
        skip_all,
        fields(
            command = command.name(),
            aggregate_type = A::TYPE,
            %aggregate_id,
            organization_id = %request.organization_id,
            actor_id = %request.actor_id,
        )
    )]
    pub async fn execute<A>(
        &self,
        request: &RequestContext,
        aggregate_id: Uuid,
        command: A::Command,
        expected_version: Option<u64>,
    ) -> Result<CommandOutcome, BusError>
    where
        A: DomainAggregate,
        A::Command: DomainCommand,
    {
        let started = Instant::now();
        let name = command.name();
        let result = self
            .decide_and_append::<A>(request, aggregate_id, command, expected_version)
            .await;
        let outcome = match &result {
            Ok(appended) => {
                tracing::debug!(
                    version = appended.version,
                    global_position = appended.global_position,
                    elapsed_us = started.elapsed().as_micros() as u64,
                    "command appended"
                );
                "ok"
            }
            Err(error) => error.outcome(),
        };
        metrics::counter!("foldline_commands_total", "command" => name, "outcome" => outcome)
            .increment(1);
        metrics::histogram!("foldline_command_duration_seconds", "command" => name)
            .record(started.elapsed().as_secs_f64());
        result
    }

    /// [`CommandBus::execute`], before it is counted and timed.
    async fn decide_and_append<A>(
        &self,
        request: &RequestContext,
        aggregate_id: Uuid,
        command: A::Command,
        expected_version: Option<u64>,
    ) -> Result<CommandOutcome, BusError>
    where
        A: DomainAggregate,
        A::Command: DomainCommand,
    {
        crate::text_limits::check(&command)?;
        let name = command.name();
        let requirement = command.requirement();
        let id = aggregate_id.to_string();
        // One connection for the whole command: one pool checkout.
        let mut conn = self
            .store
            .pool()
            .acquire()
            .await
            .map_err(StoreError::from)?;
        let references = command.references();
        let asker = Asker {
            organization_id: request.organization_id,
            user_id: request.actor_id,
            references: &references,
        };
        let CommandRead {
            roster,
            loaded,
            found,
        } = self
            .store
            .load_for_command::<A>(&mut conn, &id, &asker)
            .await?;
        // After the load: a command under the same key that committed
        // before it is seen here, as its events and its key commit together;
        // one that commits after it makes this one's append conflict.
        if let Some(outcome) = self.repeated::<A>(&mut conn, request, aggregate_id).await? {
            return Ok(outcome);
        }
        let member = roster.map(|row| Actor {
            user_id: request.actor_id,
            // The table's CHECK constraint admits only known roles.
            role: row.role.parse().unwrap_or(Role::Guest),
            capabilities: row
                .capabilities
                .iter()
                .filter_map(|c| c.parse::<Capability>().ok())
                .collect(),
        });
        if !requirement.allows(member.as_ref()) {
            return Err(match member {
                None => BusError::NotMember {
                    organization_id: request.organization_id,
                    user_id: request.actor_id,
                },
                Some(_) => BusError::Forbidden {
                    command: name,
                    requirement,
                },
            });
        }

        let not_found = || BusError::NotFound {
            aggregate_type: A::TYPE,
            aggregate_id: id.clone(),
        };
        // An organization is its own tenant: its id must be the request's.
        if A::TYPE == crate::organization::Organization::TYPE
            && aggregate_id != request.organization_id
        {
            return Err(not_found());
        }
        if let Some(owner) = loaded.aggregate.organization_id() {
            if owner != request.organization_id {
                return Err(not_found());
            }
        }
        // An aggregate that does not exist is answered as one of another
        // organization is, whatever the command: nothing tells them apart.
        if loaded.version == 0 && expected_version.is_some_and(|v| v > 0) {
            return Err(not_found());
        }
        if let Some(expected) = expected_version {
            if expected != loaded.version {
                return Err(BusError::Conflict {
                    aggregate_type: A::TYPE,
                    aggregate_id: id,
                    expected,
                    actual: loaded.version,
                });
            }
        }

        let ctx = CommandContext {
            aggregate_id,
            organization_id: request.organization_id,
            actor: member.unwrap_or(Actor {
                user_id: request.actor_id,
                role: Role::Guest,
                capabilities: Default::default(),
            }),
        };
        let claims_before = loaded.aggregate.claims();
        let mut aggregate = loaded.aggregate;
        let sink = EventSink::default();
        aggregate
            .handle(command, &ctx, &sink)
            .await
            .map_err(|error| match error {
                DomainError::NotCreated(_) => not_found(),
                other => BusError::Domain(other),
            })?;
        // After the aggregate has decided: a command to an aggregate that
        // does not exist is refused as not found before a reference it names
        // is looked at, as one to another organization's is.
        check_references(&references, &found)?;
        let events = sink.collect().await;
        if events.is_empty() {
            return Err(BusError::Domain(DomainError::rule(
                "the command changed nothing",
            )));
        }

        // Claims are rewritten only when the command changed them.
        let claims_after = aggregate
            .claims()
            .filter(|after| Some(after) != claims_before.as_ref());

        let command_id = Uuid::new_v4();
        let metadata = EventMetadata {
            organization_id: request.organization_id,
            actor_id: request.actor_id,
            correlation_id: request.correlation_id,
            causation_id: request.causation_id.unwrap_or(command_id),
            command_id,
            command: name.to_owned(),
            source: request.source,
            request_id: request.request_id.clone(),
            idempotency_key: request.idempotency_key.clone(),
        };
        let appended = match self
            .store
            .append::<A>(
                &mut conn,
                &id,
                loaded.version,
                Decision {
                    events: &events,
                    state: &aggregate,
                    claims: claims_after.as_deref(),
                },
                &metadata,
            )
            .await
        {
            Ok(appended) => appended,
            Err(AppendError::Conflict) => {
                // The command that appended first may be this one, sent
                // again under its key.
                if let Some(outcome) = self.repeated::<A>(&mut conn, request, aggregate_id).await? {
                    return Ok(outcome);
                }
                drop(conn);
                let actual = self.store.version_of(A::TYPE, &id).await?;
                return Err(BusError::Conflict {
                    aggregate_type: A::TYPE,
                    aggregate_id: id,
                    expected: loaded.version,
                    actual,
                });
            }
            Err(AppendError::Claim(message)) => {
                return Err(BusError::Domain(DomainError::Rule(message)))
            }
            Err(AppendError::Repeated) => {
                // Another command under the same key appended first.
                return self
                    .repeated::<A>(&mut conn, request, aggregate_id)
                    .await?
                    .ok_or_else(|| StoreError::Database(sqlx::Error::RowNotFound).into());
            }
            Err(AppendError::Store(error)) => return Err(error.into()),
        };
        self.committed.send_if_modified(|last| {
            let moved = appended.global_position > *last;
            if moved {
                *last = appended.global_position;
            }
            moved
        });
        Ok(CommandOutcome {
            aggregate_id,
            version: appended.version,
            global_position: appended.global_position,
            events: events.len(),
        })
    }
}

impl CommandBus {
    /// What the command already appended under the request's idempotency
    /// key, if it has one and it was used: the command is not decided
    /// again. A key used for another aggregate is refused.
    async fn repeated<A>(
        &self,
        conn: &mut sqlx::PgConnection,
        request: &RequestContext,
        aggregate_id: Uuid,
    ) -> Result<Option<CommandOutcome>, BusError>
    where
        A: DomainAggregate,
        A::Command: DomainCommand,
    {
        let Some(key) = &request.idempotency_key else {
            return Ok(None);
        };
        let Some(keyed) = crate::store::keyed(conn, request.organization_id, key).await? else {
            return Ok(None);
        };
        if keyed.aggregate_type != A::TYPE || keyed.aggregate_id != aggregate_id.to_string() {
            return Err(BusError::Domain(DomainError::invalid(format!(
                "idempotency key {key} was used for {} {}",
                keyed.aggregate_type, keyed.aggregate_id
            ))));
        }
        Ok(Some(CommandOutcome {
            aggregate_id,
            version: keyed.version.unsigned_abs(),
            global_position: keyed.global_position,
            events: 0,
        }))
    }
}

/// Refuses a command that names a user who is not a member of the
/// organization, or an entity that does not exist in it.
fn check_references(wanted: &References, found: &References) -> Result<(), DomainError> {
    if let Some(missing) = wanted.members.iter().find(|m| !found.members.contains(m)) {
        return Err(DomainError::invalid(format!(
            "user {missing} is not a member of the organization"
        )));
    }
    if let Some((aggregate_type, id)) = wanted
        .aggregates
        .iter()
        .find(|wanted| !found.aggregates.contains(wanted))
    {
        return Err(DomainError::invalid(format!(
            "{aggregate_type} {id} does not exist in the organization"
        )));
    }
    if let Some((types, id)) = wanted.any_of.iter().find(|(types, id)| {
        !types.iter().any(|t| {
            found
                .aggregates
                .iter()
                .any(|(ft, fid)| ft == t && fid == id)
        })
    }) {
        return Err(DomainError::invalid(format!(
            "no {} {id} exists in the organization",
            types.join(" or ")
        )));
    }
    Ok(())
}
