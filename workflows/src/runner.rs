//! A workflow run by the projection engine: its instances' states, the
//! organizations it is on in, and the commands it decides on, written with
//! its checkpoint in the engine's transaction.

use std::collections::{HashMap, HashSet};

use cqrs_es::Aggregate;
use foldline_aggregates::organization::{Organization, OrganizationEvent};
use foldline_projectors::state_store::StateStore;
use foldline_projectors::{Projection, ProjectionError, StoredEvent};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::workflow::Workflow;

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
            .map(|event| (self.0.instance(event), switch_of::<W>(event)))
            .collect();
        if read
            .iter()
            .all(|(id, switch)| id.is_none() && switch.is_none())
        {
            return Ok(());
        }

        let ids: Vec<Uuid> = read.iter().filter_map(|(id, _)| *id).collect();
        let mut instances: HashMap<Uuid, Instance<W::State>> = HashMap::new();
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
        let organizations: Vec<Uuid> = events.iter().map(|e| e.organization_id).collect();
        let mut on: HashSet<Uuid> = sqlx::query_scalar(
            "SELECT organization_id FROM workflow_switches
             WHERE workflow = $1 AND organization_id = ANY($2)",
        )
        .bind(workflow)
        .bind(&organizations)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();

        let mut decided = Vec::new();
        let mut switched: HashMap<Uuid, Option<i64>> = HashMap::new();
        for (event, (instance, switch)) in events.iter().zip(read) {
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
            let intents = self
                .0
                .react(&mut instance.state, event)
                .map_err(|message| ProjectionError::Poison { position, message })?;
            instance.last_position = position;
            if !on.contains(&event.organization_id) {
                continue;
            }
            let cause = event.id();
            for (n, intent) in intents.into_iter().enumerate() {
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
                    correlation_id: event.correlation_id().unwrap_or(cause),
                });
            }
        }

        write_switches(tx, workflow, switched).await?;
        write_instances(tx, workflow, instances).await?;
        write_commands(tx, workflow, decided).await?;
        Ok(())
    }
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
    let mut keys = Vec::new();
    let mut instances = Vec::new();
    let mut organizations = Vec::new();
    let mut types = Vec::new();
    let mut aggregates = Vec::new();
    let mut names = Vec::new();
    let mut commands = Vec::new();
    let mut causes = Vec::new();
    let mut correlations = Vec::new();
    for d in decided {
        keys.push(d.key);
        instances.push(d.instance_id);
        organizations.push(d.organization_id);
        types.push(d.aggregate_type);
        aggregates.push(d.aggregate_id);
        names.push(d.command_name);
        commands.push(d.command);
        causes.push(d.caused_by);
        correlations.push(d.correlation_id);
    }
    // Decided once: a batch applied again after a crash decides the same
    // keys, and its rows are already there only if the first one committed,
    // which it did not (the checkpoint would have moved with it).
    sqlx::query(
        "INSERT INTO workflow_commands
             (key, workflow, instance_id, organization_id, aggregate_type, aggregate_id,
              command_name, command, caused_by, correlation_id)
         SELECT c.key, $1, c.instance_id, c.organization_id, c.aggregate_type, c.aggregate_id,
                c.command_name, c.command, c.caused_by, c.correlation_id
         FROM UNNEST($2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::uuid[], $7::text[],
                     $8::jsonb[], $9::uuid[], $10::uuid[])
              AS c(key, instance_id, organization_id, aggregate_type, aggregate_id,
                   command_name, command, caused_by, correlation_id)
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
    .execute(&mut *tx)
    .await?;
    Ok(())
}
