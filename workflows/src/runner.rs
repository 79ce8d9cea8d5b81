//! A workflow run by the projection engine: its instances' states, the
//! organizations it is on in, and the commands it decides on, written with
//! its checkpoint in the engine's transaction.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use foldline_aggregates::organization::{Organization, OrganizationEvent};
use foldline_projectors::feed::read_streams;
use foldline_projectors::state_store::StateStore;
use foldline_projectors::{Position, Projection, ProjectionError, StoredEvent};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::workflow::{Context, Workflow};

/// `W` as the engine runs it: a projection named for the workflow that
/// writes no read table.
pub struct Runner<W>(pub W);

/// A command decided in a batch, as `workflow_commands` holds it.
struct Decided {
    key: String,
    instance_id: Uuid,
    organization_id: Uuid,
    aggregate_type: &'static str,
    aggregate_id: Uuid,
    command_name: &'static str,
    command: Value,
    caused_by: Uuid,
    caused_at: i64,
    correlation_id: Uuid,
    timer: Option<&'static str>,
    send_at: Option<DateTime<Utc>>,
    unless_done: bool,
}

/// A message emitted in a batch, as `outbox` holds it.
struct Emitted {
    key: String,
    instance_id: Uuid,
    organization_id: Uuid,
    topic: &'static str,
    payload: Value,
    caused_by: Uuid,
    correlation_id: Uuid,
}

/// One instance's state in a batch.
struct Instance<S> {
    organization_id: Uuid,
    state: S,
    last_position: i64,
}

#[async_trait::async_trait]
impl<W: Workflow> Projection for Runner<W> {
    fn name(&self) -> &'static str {
        W::KIND.name()
    }

    fn tables(&self) -> &'static [&'static str] {
        // A rebuild replaces a projection's tables: a workflow has none, so
        // that no replay runs it again.
        &[]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        _states: &mut StateStore,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let workflow = W::KIND.name();
        // Each event's instance and switch, found once.
        let read: Vec<(Option<Uuid>, Option<bool>)> = events
            .iter()
            .map(|event| (instance_of::<W>(event), switch_of::<W>(event)))
            .collect();
        let involved: Vec<Uuid> = events
            .iter()
            .zip(&read)
            .filter(|(_, (id, switch))| id.is_some() || switch.is_some())
            .map(|(event, _)| event.organization_id)
            .collect();
        if involved.is_empty() {
            return Ok(());
        }
        // Where the workflow is on, and since when.
        let mut on_since: HashMap<Uuid, i64> = sqlx::query_as(
            "SELECT organization_id, switched_on_at FROM workflow_switches
             WHERE workflow = $1 AND organization_id = ANY($2)",
        )
        .bind(workflow)
        .bind(&involved)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let mut on: HashSet<Uuid> = on_since.keys().copied().collect();
        for (event, (_, switch)) in events.iter().zip(&read) {
            if *switch == Some(true) {
                on_since.insert(event.organization_id, event.position.global_position);
            }
        }
        // The instance each event is folded into: only where the workflow is
        // on, or is switched on later in the batch (an instance begun just
        // before); elsewhere there is nothing to keep.
        let mut on_now = on.clone();
        let folds: Vec<Option<Uuid>> = events
            .iter()
            .zip(&read)
            .map(|(event, (id, switch))| {
                let organization = event.organization_id;
                match switch {
                    Some(true) => on_now.insert(organization),
                    Some(false) => on_now.remove(&organization),
                    None => false,
                };
                let switched_on_later = on_since
                    .get(&organization)
                    .is_some_and(|since| *since > event.position.global_position);
                id.filter(|_| on_now.contains(&organization) || switched_on_later)
            })
            .collect();
        // Each folded instance's first event in the batch.
        let mut first: HashMap<Uuid, i64> = HashMap::new();
        for (event, id) in events.iter().zip(&folds) {
            if let Some(id) = id {
                first.entry(*id).or_insert(event.sequence);
            }
        }

        let context = if W::READS_ORGANIZATIONS && !first.is_empty() {
            let organizations: HashSet<Uuid> = events
                .iter()
                .zip(&folds)
                .filter(|(_, id)| id.is_some())
                .map(|(event, _)| event.organization_id)
                .collect();
            organizations_at(tx, &organizations, events.last().map(|e| e.position)).await?
        } else {
            Context::default()
        };
        let mut instances = self.load(tx, &first).await?;
        // A state kept from before the workflow was last switched on missed
        // what happened while it was off: it starts again from the store.
        instances.retain(|_, instance| {
            on_since
                .get(&instance.organization_id)
                .is_none_or(|since| instance.last_position >= *since)
        });
        if let Some(last) = events.last() {
            self.start_missing(tx, &mut instances, &first, last, &context)
                .await?;
        }

        let mut decided = Vec::new();
        let mut emitted = Vec::new();
        let mut cancelled: Vec<(Uuid, &'static str)> = Vec::new();
        let mut switched: HashMap<Uuid, Option<i64>> = HashMap::new();
        for ((event, (_, switch)), instance) in events.iter().zip(read).zip(folds) {
            if let Some(enabled) = switch {
                let position = event.position.global_position;
                if enabled {
                    on.insert(event.organization_id);
                    switched.insert(event.organization_id, Some(position));
                } else {
                    on.remove(&event.organization_id);
                    switched.insert(event.organization_id, None);
                }
            }
            let Some(id) = instance else {
                continue;
            };
            let instance = instances.entry(id).or_insert_with(|| Instance {
                organization_id: event.organization_id,
                state: W::State::default(),
                last_position: 0,
            });
            let position = event.position.global_position;
            let reaction = self
                .0
                .react(&mut instance.state, event, &context)
                .map_err(|message| ProjectionError::Poison { position, message })?;
            instance.last_position = position;
            if !on.contains(&event.organization_id) {
                continue;
            }
            for name in reaction.cancel {
                cancel(&mut decided, &mut cancelled, id, name);
            }
            let cause = event.id();
            let correlation_id = event.correlation_id().unwrap_or(cause);
            for (n, message) in reaction.emit.into_iter().enumerate() {
                emitted.push(Emitted {
                    key: format!("{workflow}/{id}/{cause}/message/{n}"),
                    instance_id: id,
                    organization_id: event.organization_id,
                    topic: message.topic,
                    payload: message.payload,
                    caused_by: cause,
                    correlation_id,
                });
            }
            for (n, intent) in reaction.send.into_iter().enumerate() {
                if let Some(timer) = &intent.timer {
                    cancel(&mut decided, &mut cancelled, id, timer.name);
                }
                let command = serde_json::to_value(&intent.command).map_err(|error| {
                    ProjectionError::Poison {
                        position,
                        message: error.to_string(),
                    }
                })?;
                decided.push(Decided {
                    key: format!("{workflow}/{id}/{cause}/{n}"),
                    instance_id: id,
                    organization_id: event.organization_id,
                    aggregate_type: intent.command.aggregate_type(),
                    aggregate_id: intent.aggregate_id,
                    command_name: intent.command.name(),
                    command,
                    caused_by: cause,
                    caused_at: position,
                    correlation_id,
                    timer: intent.timer.as_ref().map(|t| t.name),
                    send_at: intent.timer.map(|t| t.at),
                    unless_done: intent.unless_done,
                });
            }
        }

        let off: Vec<Uuid> = switched
            .iter()
            .filter(|(_, on_at)| on_at.is_none())
            .map(|(organization, _)| *organization)
            .collect();
        write_switches(tx, workflow, switched).await?;
        cancel_all_timers(tx, workflow, &off).await?;
        write_instances(tx, workflow, instances).await?;
        cancel_timers(tx, workflow, &cancelled).await?;
        write_commands(tx, workflow, decided).await?;
        write_messages(tx, workflow, emitted).await?;
        Ok(())
    }
}

impl<W: Workflow> Runner<W> {
    /// The stored states of the instances `ids`.
    async fn load(
        &self,
        tx: &mut PgConnection,
        ids: &HashMap<Uuid, i64>,
    ) -> Result<HashMap<Uuid, Instance<W::State>>, ProjectionError> {
        let workflow = W::KIND.name();
        let ids: Vec<Uuid> = ids.keys().copied().collect();
        let mut instances = HashMap::new();
        if ids.is_empty() {
            return Ok(instances);
        }
        let stored: Vec<(Uuid, Uuid, sqlx::types::Json<Value>, i64)> = sqlx::query_as(
            "SELECT instance_id, organization_id, state, last_position FROM workflow_instances
             WHERE workflow = $1 AND instance_id = ANY($2)",
        )
        .bind(workflow)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        for (id, organization_id, sqlx::types::Json(state), last_position) in stored {
            let state = serde_json::from_value(state).map_err(|error| ProjectionError::Poison {
                position: last_position,
                message: format!("workflow {workflow} instance {id}: {error}"),
            })?;
            instances.insert(
                id,
                Instance {
                    organization_id,
                    state,
                    last_position,
                },
            );
        }
        Ok(instances)
    }

    /// Starts the state of each instance that has none and began before the
    /// batch (the workflow was off in its organization then) from its
    /// earlier events in the store; what those called for is not acted on.
    async fn start_missing(
        &self,
        tx: &mut PgConnection,
        instances: &mut HashMap<Uuid, Instance<W::State>>,
        first: &HashMap<Uuid, i64>,
        last: &StoredEvent,
        context: &Context,
    ) -> Result<(), ProjectionError> {
        let missing: Vec<String> = first
            .iter()
            .filter(|(id, sequence)| **sequence > 1 && !instances.contains_key(id))
            .map(|(id, _)| id.to_string())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        for event in read_streams(tx, W::ROOT, &missing, last.position).await? {
            let Some(id) = instance_of::<W>(&event) else {
                continue;
            };
            if first.get(&id).is_some_and(|first| event.sequence >= *first) {
                continue;
            }
            let position = event.position.global_position;
            let instance = instances.entry(id).or_insert_with(|| Instance {
                organization_id: event.organization_id,
                state: W::State::default(),
                last_position: 0,
            });
            self.0
                .react(&mut instance.state, &event, context)
                .map_err(|message| ProjectionError::Poison { position, message })?;
            instance.last_position = position;
        }
        Ok(())
    }
}

/// The organizations `ids` as the store has them up to `upto`.
async fn organizations_at(
    tx: &mut PgConnection,
    ids: &HashSet<Uuid>,
    upto: Option<Position>,
) -> Result<Context, ProjectionError> {
    let mut context = Context::default();
    let Some(upto) = upto else {
        return Ok(context);
    };
    let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    for event in read_streams(tx, Organization::TYPE, &ids, upto).await? {
        let position = event.position.global_position;
        let decoded = event
            .decode::<Organization>()
            .map_err(|error| ProjectionError::Poison {
                position,
                message: error.to_string(),
            })?;
        context
            .organizations
            .entry(event.organization_id)
            .or_default()
            .apply(decoded);
    }
    Ok(context)
}

/// Cancels the timer `name` of instance `id`: one decided earlier in the
/// batch is dropped, one decided in an earlier batch is cancelled in the
/// table.
fn cancel(
    decided: &mut Vec<Decided>,
    cancelled: &mut Vec<(Uuid, &'static str)>,
    id: Uuid,
    name: &'static str,
) {
    decided.retain(|d| !(d.instance_id == id && d.timer == Some(name)));
    cancelled.push((id, name));
}

/// The instance of `W` that `event` belongs to, if any.
fn instance_of<W: Workflow>(event: &StoredEvent) -> Option<Uuid> {
    if event.aggregate_type != W::ROOT {
        return None;
    }
    event.aggregate_id.parse().ok()
}

/// Whether `event` switches `W` on (`true`) or off (`false`) in its
/// organization, if it does either.
fn switch_of<W: Workflow>(event: &StoredEvent) -> Option<bool> {
    if event.aggregate_type != Organization::TYPE || !event.event_type.starts_with("Workflow") {
        return None;
    }
    match event.decode::<Organization>().ok()? {
        OrganizationEvent::WorkflowEnabled { workflow } if workflow == W::KIND => Some(true),
        OrganizationEvent::WorkflowDisabled { workflow } if workflow == W::KIND => Some(false),
        _ => None,
    }
}

async fn write_switches(
    tx: &mut PgConnection,
    workflow: &str,
    switched: HashMap<Uuid, Option<i64>>,
) -> Result<(), sqlx::Error> {
    for (organization_id, on_at) in switched {
        match on_at {
            Some(position) => {
                sqlx::query(
                    "INSERT INTO workflow_switches (workflow, organization_id, switched_on_at)
                     VALUES ($1, $2, $3)
                     ON CONFLICT (workflow, organization_id)
                     DO UPDATE SET switched_on_at = EXCLUDED.switched_on_at",
                )
                .bind(workflow)
                .bind(organization_id)
                .bind(position)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "DELETE FROM workflow_switches WHERE workflow = $1 AND organization_id = $2",
                )
                .bind(workflow)
                .bind(organization_id)
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    Ok(())
}

/// Cancels the timers waiting in the organizations `off` that switched the
/// workflow off: it does nothing more there. Their instances stay, to be
/// seen; switched on again, each starts again from the store.
async fn cancel_all_timers(
    tx: &mut PgConnection,
    workflow: &str,
    off: &[Uuid],
) -> Result<(), sqlx::Error> {
    if off.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE workflow_commands SET status = 'cancelled'
         WHERE workflow = $1 AND organization_id = ANY($2)
           AND status = 'pending' AND timer IS NOT NULL",
    )
    .bind(workflow)
    .bind(off)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Cancels the timers still waiting that were cancelled or set again in
/// the batch.
async fn cancel_timers(
    tx: &mut PgConnection,
    workflow: &str,
    cancelled: &[(Uuid, &'static str)],
) -> Result<(), sqlx::Error> {
    if cancelled.is_empty() {
        return Ok(());
    }
    let (instances, names): (Vec<Uuid>, Vec<&str>) = cancelled.iter().copied().unzip();
    sqlx::query(
        "UPDATE workflow_commands AS c SET status = 'cancelled'
         FROM UNNEST($2::uuid[], $3::text[]) AS t(instance_id, timer)
         WHERE c.workflow = $1 AND c.instance_id = t.instance_id AND c.timer = t.timer
           AND c.status = 'pending'",
    )
    .bind(workflow)
    .bind(&instances)
    .bind(&names)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn write_instances<S: serde::Serialize>(
    tx: &mut PgConnection,
    workflow: &str,
    instances: HashMap<Uuid, Instance<S>>,
) -> Result<(), ProjectionError> {
    let mut ids = Vec::with_capacity(instances.len());
    let mut organizations = Vec::with_capacity(instances.len());
    let mut states = Vec::with_capacity(instances.len());
    let mut positions = Vec::with_capacity(instances.len());
    for (id, instance) in instances {
        ids.push(id);
        organizations.push(instance.organization_id);
        states.push(serde_json::to_value(&instance.state).map_err(|error| {
            ProjectionError::Poison {
                position: instance.last_position,
                message: error.to_string(),
            }
        })?);
        positions.push(instance.last_position);
    }
    sqlx::query(
        "INSERT INTO workflow_instances
             (workflow, instance_id, organization_id, state, updated_at, last_position)
         SELECT $1, i.id, i.organization_id, i.state, now(), i.last_position
         FROM UNNEST($2::uuid[], $3::uuid[], $4::jsonb[], $5::bigint[])
              AS i(id, organization_id, state, last_position)
         ON CONFLICT (workflow, instance_id) DO UPDATE
         SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at,
             last_position = EXCLUDED.last_position",
    )
    .bind(workflow)
    .bind(&ids)
    .bind(&organizations)
    .bind(&states)
    .bind(&positions)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn write_commands(
    tx: &mut PgConnection,
    workflow: &str,
    decided: Vec<Decided>,
) -> Result<(), sqlx::Error> {
    if decided.is_empty() {
        return Ok(());
    }
    if decided.iter().any(|d| d.send_at.is_none()) {
        // Heard by the dispatchers when the batch commits, not before.
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(crate::dispatcher::DECIDED)
            .execute(&mut *tx)
            .await?;
    }
    let mut keys = Vec::new();
    let mut instances = Vec::new();
    let mut organizations = Vec::new();
    let mut types = Vec::new();
    let mut aggregates = Vec::new();
    let mut names = Vec::new();
    let mut commands = Vec::new();
    let mut causes = Vec::new();
    let mut caused_at = Vec::new();
    let mut correlations = Vec::new();
    let mut timers = Vec::new();
    let mut send_at = Vec::new();
    let mut unless_done = Vec::new();
    for d in decided {
        keys.push(d.key);
        instances.push(d.instance_id);
        organizations.push(d.organization_id);
        types.push(d.aggregate_type);
        aggregates.push(d.aggregate_id);
        names.push(d.command_name);
        commands.push(d.command);
        causes.push(d.caused_by);
        caused_at.push(d.caused_at);
        correlations.push(d.correlation_id);
        timers.push(d.timer);
        send_at.push(d.send_at);
        unless_done.push(d.unless_done);
    }
    // Decided once: a batch applied again after a crash decides the same
    // keys, and its rows are already there only if the first one committed,
    // which it did not (the checkpoint would have moved with it).
    sqlx::query(
        "INSERT INTO workflow_commands
             (key, workflow, instance_id, organization_id, aggregate_type, aggregate_id,
              command_name, command, caused_by, correlation_id, timer, next_attempt_at,
              unless_done, caused_at)
         SELECT c.key, $1, c.instance_id, c.organization_id, c.aggregate_type, c.aggregate_id,
                c.command_name, c.command, c.caused_by, c.correlation_id, c.timer,
                coalesce(c.send_at, now()), c.unless_done, c.caused_at
         FROM UNNEST($2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::uuid[], $7::text[],
                     $8::jsonb[], $9::uuid[], $10::uuid[], $11::text[], $12::timestamptz[],
                     $13::bool[], $14::bigint[])
              AS c(key, instance_id, organization_id, aggregate_type, aggregate_id,
                   command_name, command, caused_by, correlation_id, timer, send_at,
                   unless_done, caused_at)
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(workflow)
    .bind(&keys)
    .bind(&instances)
    .bind(&organizations)
    .bind(&types)
    .bind(&aggregates)
    .bind(&names)
    .bind(&commands)
    .bind(&causes)
    .bind(&correlations)
    .bind(&timers)
    .bind(&send_at)
    .bind(&unless_done)
    .bind(&caused_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Writes the messages of a batch to the outbox, each with a delivery to
/// every webhook of its organization that takes its topic.
async fn write_messages(
    tx: &mut PgConnection,
    workflow: &str,
    emitted: Vec<Emitted>,
) -> Result<(), sqlx::Error> {
    if emitted.is_empty() {
        return Ok(());
    }
    let mut keys = Vec::new();
    let mut instances = Vec::new();
    let mut organizations = Vec::new();
    let mut topics = Vec::new();
    let mut payloads = Vec::new();
    let mut causes = Vec::new();
    let mut correlations = Vec::new();
    for m in emitted {
        keys.push(m.key);
        instances.push(m.instance_id);
        organizations.push(m.organization_id);
        topics.push(m.topic);
        payloads.push(m.payload);
        causes.push(m.caused_by);
        correlations.push(m.correlation_id);
    }
    // As with commands: keys already there came from a batch that did not
    // commit, which cannot be; ON CONFLICT keeps a replay harmless anyway.
    sqlx::query(
        "WITH written AS (
             INSERT INTO outbox
                 (key, workflow, instance_id, organization_id, topic, payload, caused_by,
                  correlation_id)
             SELECT m.key, $1, m.instance_id, m.organization_id, m.topic, m.payload,
                    m.caused_by, m.correlation_id
             FROM UNNEST($2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::jsonb[],
                         $7::uuid[], $8::uuid[])
                  AS m(key, instance_id, organization_id, topic, payload, caused_by,
                       correlation_id)
             ON CONFLICT (key) DO NOTHING
             RETURNING key, organization_id, topic
         )
         INSERT INTO webhook_deliveries (message_key, webhook_id)
         SELECT written.key, webhooks.id
         FROM written
         JOIN webhooks ON webhooks.organization_id = written.organization_id
                      AND (webhooks.topics = '{}' OR written.topic = ANY(webhooks.topics))",
    )
    .bind(workflow)
    .bind(&keys)
    .bind(&instances)
    .bind(&organizations)
    .bind(&topics)
    .bind(&payloads)
    .bind(&causes)
    .bind(&correlations)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
