//! Fixtures: scripts of commands, loaded through the command bus.
//!
//! A fixture is JSON: a default organization and a list of steps, each naming
//! the actor, the aggregate and the command. Any string of the form `@name`
//! stands for a UUID derived from the fixture's name and `name`, so fixtures
//! refer to people and entities by name and load to the same ids every time.
//!
//! Every step's events carry a correlation id derived from the step itself; a
//! step whose correlation id is already in its aggregate's stream is skipped,
//! so loading a fixture twice appends nothing, and a fixture that grew only
//! appends its new steps.

use std::path::Path;

use foldline_aggregates::{BusError, Command, CommandBus, RequestContext, Source};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

/// The fixtures built into the binary, by name.
const BUILT_IN: &[(&str, &str)] = &[("demo", include_str!("../../fixtures/demo.json"))];

/// Why a fixture did not load.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// Neither a built-in name nor a readable file.
    #[error("no fixture named `{name}` and no such file ({source})")]
    NotFound {
        /// What was asked for.
        name: String,
        /// Why the file could not be read.
        source: std::io::Error,
    },
    /// The JSON does not describe a fixture.
    #[error("fixture {name}: {reason}")]
    Malformed {
        /// The fixture.
        name: String,
        /// What is wrong, with the step's index when it is a step.
        reason: String,
    },
    /// A step's command was refused.
    #[error("fixture step {index} ({aggregate} {command}) was refused: {source}")]
    Refused {
        /// The step's index, from 0.
        index: usize,
        /// Its aggregate type.
        aggregate: &'static str,
        /// Its command's `type`.
        command: String,
        /// Why.
        source: BusError,
    },
    /// The store could not be asked whether a step was applied.
    #[error("fixture step {index}: {source}")]
    Database {
        /// The step's index.
        index: usize,
        /// The error.
        source: sqlx::Error,
    },
}

/// A parsed fixture with every `@name` resolved.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Its name.
    pub name: String,
    /// Its steps, in order.
    pub steps: Vec<Step>,
}

/// One command of a fixture.
#[derive(Debug, Clone)]
pub struct Step {
    /// The organization it acts in.
    pub organization_id: Uuid,
    /// Who sends it.
    pub actor_id: Uuid,
    /// The aggregate it goes to.
    pub aggregate_id: Uuid,
    /// The command.
    pub command: Command,
    /// The command's `type`, for messages.
    pub command_type: String,
    /// The correlation id that marks the step as applied.
    pub correlation_id: Uuid,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFixture {
    name: String,
    organization: String,
    steps: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    #[serde(default)]
    organization: Option<Uuid>,
    actor: Uuid,
    id: Uuid,
    aggregate: String,
    command: Value,
}

impl Fixture {
    /// Loads a built-in fixture by name, or a fixture file by path.
    pub fn load(name_or_path: &str) -> Result<Fixture, FixtureError> {
        if let Some((_, text)) = BUILT_IN.iter().find(|(name, _)| *name == name_or_path) {
            return Fixture::parse(name_or_path, text);
        }
        let text = std::fs::read_to_string(Path::new(name_or_path)).map_err(|source| {
            FixtureError::NotFound {
                name: name_or_path.to_owned(),
                source,
            }
        })?;
        Fixture::parse(name_or_path, &text)
    }

    /// Parses fixture JSON; `origin` names it in errors.
    pub fn parse(origin: &str, text: &str) -> Result<Fixture, FixtureError> {
        let malformed = |reason: String| FixtureError::Malformed {
            name: origin.to_owned(),
            reason,
        };
        let raw: RawFixture = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
        let namespace = Uuid::new_v5(
            &Uuid::NAMESPACE_URL,
            format!("foldline:fixture:{}", raw.name).as_bytes(),
        );
        let organization_id = resolve_name(&namespace, &raw.organization)
            .ok_or_else(|| malformed("`organization` must be an @name".into()))?;

        let mut seen: std::collections::HashMap<String, usize> = Default::default();
        let mut steps = Vec::with_capacity(raw.steps.len());
        for (index, mut value) in raw.steps.into_iter().enumerate() {
            resolve_names(&namespace, &mut value);
            let canonical = value.to_string();
            let occurrence = seen.entry(canonical.clone()).or_default();
            *occurrence += 1;
            let correlation_id =
                Uuid::new_v5(&namespace, format!("{canonical}#{occurrence}").as_bytes());
            let step: RawStep = serde_json::from_value(value)
                .map_err(|e| malformed(format!("step {index}: {e}")))?;
            let command_type = step.command["type"].as_str().unwrap_or("?").to_owned();
            let command: Command = serde_json::from_value(serde_json::json!({
                "aggregate": step.aggregate,
                "command": step.command,
            }))
            .map_err(|e| malformed(format!("step {index} ({command_type}): {e}")))?;
            steps.push(Step {
                organization_id: step.organization.unwrap_or(organization_id),
                actor_id: step.actor,
                aggregate_id: step.id,
                command,
                command_type,
                correlation_id,
            });
        }
        Ok(Fixture {
            name: raw.name,
            steps,
        })
    }
}

fn resolve_name(namespace: &Uuid, text: &str) -> Option<Uuid> {
    text.strip_prefix('@')
        .filter(|name| !name.is_empty())
        .map(|name| Uuid::new_v5(namespace, name.as_bytes()))
}

fn resolve_names(namespace: &Uuid, value: &mut Value) {
    match value {
        Value::String(text) => {
            if let Some(id) = resolve_name(namespace, text) {
                *text = id.to_string();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| resolve_names(namespace, v)),
        Value::Object(map) => map.values_mut().for_each(|v| resolve_names(namespace, v)),
        _ => {}
    }
}

/// What loading a fixture did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Steps sent through the bus.
    pub applied: usize,
    /// Steps already in the store.
    pub skipped: usize,
    /// Events appended.
    pub events: usize,
    /// Global position of the last event appended.
    pub last_position: Option<i64>,
}

/// Loads `fixture` through `bus`, skipping the steps already applied.
pub async fn seed(bus: &CommandBus, fixture: &Fixture) -> Result<SeedReport, FixtureError> {
    let mut report = SeedReport::default();
    for (index, step) in fixture.steps.iter().enumerate() {
        let applied: bool = sqlx::query_scalar(
            "SELECT EXISTS (
                 SELECT 1 FROM events
                 WHERE aggregate_type = $1 AND aggregate_id = $2
                   AND metadata ->> 'correlation_id' = $3
             )",
        )
        .bind(step.command.aggregate_type())
        .bind(step.aggregate_id.to_string())
        .bind(step.correlation_id.to_string())
        .fetch_one(bus.store().pool())
        .await
        .map_err(|source| FixtureError::Database { index, source })?;
        if applied {
            report.skipped += 1;
            continue;
        }
        let request = RequestContext::new(step.organization_id, step.actor_id, Source::Fixture)
            .with_correlation_id(step.correlation_id)
            .with_request_id(format!("fixture:{}:{index}", fixture.name));
        let outcome = bus
            .dispatch(&request, step.aggregate_id, step.command.clone(), None)
            .await
            .map_err(|source| FixtureError::Refused {
                index,
                aggregate: step.command.aggregate_type(),
                command: step.command_type.clone(),
                source,
            })?;
        report.applied += 1;
        report.events += outcome.events;
        report.last_position = Some(outcome.global_position);
    }
    Ok(report)
}
