//! `activity_feed`: one row per thing that happened, append-only.
//!
//! Every event of every aggregate is an activity on the entity it changed; the
//! events of a comment are activities on the entity the comment is on. A row
//! shows the entity as of its event (its name then), and is seen by whoever
//! may see the entity (its visibility and owner, which are set when it is
//! created): a comment's rows by whoever may see what it is on, whatever the
//! comment's own visibility (DOMAIN.md, "one rule, every surface"). So the
//! batch is folded event by event, in feed order, every aggregate type in
//! one pass. Rows are keyed `event:{global_position}` and never updated or
//! deleted: a deletion is one more activity.

use std::collections::{BTreeSet, HashMap};

use cqrs_es::Aggregate;
use foldline_aggregates::asset::Asset;
use foldline_aggregates::comment::{Comment, CommentEvent, CommentKind};
use foldline_aggregates::company::Company;
use foldline_aggregates::contact::Contact;
use foldline_aggregates::contract::Contract;
use foldline_aggregates::document::Document;
use foldline_aggregates::event::Event;
use foldline_aggregates::expense::Expense;
use foldline_aggregates::invoice::Invoice;
use foldline_aggregates::organization::Organization;
use foldline_aggregates::production_advance::ProductionAdvance;
use foldline_aggregates::shift::Shift;
use foldline_aggregates::task::Task;
use foldline_aggregates::venue::Venue;
use foldline_aggregates::{DomainCommand, EntityRef, Visibility};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::feed::StoredEvent;
use crate::projection::{Projection, ProjectionError};
use crate::rows::row_id;
use crate::state::{Entity, Tracked};
use crate::state_store::StateStore;

/// The activity feed projection.
pub struct ActivityFeed;

/// Its name.
pub const NAME: &str = "activity_feed";

/// Event types that record an approval decision.
const APPROVALS: [&str; 5] = [
    "ApprovalGranted",
    "ApprovalRejected",
    "AdvanceApproved",
    "ExpenseApproved",
    "ExpenseRejected",
];

/// The keys of an event's metadata a row keeps (the organization and the
/// actor have columns of their own).
const METADATA: [&str; 5] = [
    "correlation_id",
    "causation_id",
    "command",
    "source",
    "request_id",
];

#[async_trait::async_trait]
impl Projection for ActivityFeed {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &["activity_feed"]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        store: &mut StateStore,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let mut states = States::load(tx, store, events).await?;
        let mut rows = Rows::default();
        for event in events {
            if let Some(step) = states.fold(event)? {
                rows.push(&states, event, step)?;
            }
        }
        states.save(tx, store).await?;
        rows.write(tx).await
    }
}

/// What an activity shows of the entity it is about.
trait Subject: Entity
where
    Self::Command: DomainCommand,
{
    /// What people call it: its title, name, number or code.
    fn subject_name(&self) -> Option<String>;
    /// Who may see its rows.
    fn subject_visibility(&self) -> Visibility;
    /// Who created it.
    fn subject_owner(&self) -> Option<Uuid>;
}

/// Implements [`Subject`] for an aggregate with `visibility` and `owner_id`
/// fields, naming it by `$name`.
macro_rules! subject {
    ($aggregate:ty, |$entity:ident| $name:expr) => {
        impl Subject for $aggregate {
            fn subject_name(&self) -> Option<String> {
                let $entity = self;
                $name
            }

            fn subject_visibility(&self) -> Visibility {
                self.visibility
            }

            fn subject_owner(&self) -> Option<Uuid> {
                self.owner_id
            }
        }
    };
}

subject!(ProductionAdvance, |advance| Some(advance.code.clone()));
subject!(Invoice, |invoice| Some(invoice.number.clone()));
subject!(Contract, |contract| contract
    .current()
    .map(|version| version.terms.title.clone()));
subject!(Event, |event| Some(event.title.clone()));
subject!(Venue, |venue| Some(venue.name.clone()));
subject!(Task, |task| Some(task.title.clone()));
subject!(Shift, |shift| Some(shift.role.clone()));
subject!(Asset, |asset| Some(asset.name.clone()));
subject!(Company, |company| Some(company.name.clone()));
subject!(Contact, |contact| Some(contact.name.clone()));
subject!(Expense, |expense| Some(expense.description.clone()));
subject!(Document, |document| Some(document.title.clone()));
// A comment's rows name the entity it is on, not the comment.
subject!(Comment, |_comment| None);

impl Subject for Organization {
    fn subject_name(&self) -> Option<String> {
        Some(self.name.clone())
    }

    fn subject_visibility(&self) -> Visibility {
        Visibility::Organization
    }

    fn subject_owner(&self) -> Option<Uuid> {
        None
    }
}

/// One event folded into its entity: the entity as of the event, and what the
/// event changed.
struct Step {
    created: bool,
    deleted: bool,
    previous_status: Option<String>,
    status: Option<String>,
    name: Option<String>,
    visibility: Visibility,
    owner_id: Option<Uuid>,
}

/// Folds `event` into its entity's state in `states`; `None` when it was
/// folded before.
fn step<A>(
    states: &mut HashMap<String, Tracked<A>>,
    event: &StoredEvent,
) -> Result<Option<Step>, ProjectionError>
where
    A: Subject,
    A::Command: DomainCommand,
{
    let tracked = states.entry(event.aggregate_id.clone()).or_default();
    if event.sequence <= tracked.sequence {
        return Ok(None);
    }
    let existed = tracked.aggregate.exists();
    let was_deleted = tracked.aggregate.is_deleted();
    let previous_status = tracked.aggregate.status_name();
    tracked.fold(event)?;
    let entity = &tracked.aggregate;
    Ok(Some(Step {
        created: !existed && entity.exists(),
        deleted: !was_deleted && entity.is_deleted(),
        previous_status,
        status: entity.status_name(),
        name: entity.subject_name().filter(|name| !name.is_empty()),
        visibility: entity.subject_visibility(),
        owner_id: entity.subject_owner(),
    }))
}

/// Defines [`States`] over one map of states per aggregate type.
macro_rules! states {
    ($($field:ident: $aggregate:ty),* $(,)?) => {
        /// The states of the entities a batch's events are of, or its comments
        /// are on, each as of the event being folded.
        #[derive(Default)]
        struct States {
            $($field: HashMap<String, Tracked<$aggregate>>,)*
        }

        impl States {
            /// Folds one event into its entity's state; `None` when it was
            /// folded before or its aggregate type is not followed.
            fn fold(&mut self, event: &StoredEvent) -> Result<Option<Step>, ProjectionError> {
                $(
                    if event.aggregate_type == <$aggregate>::TYPE {
                        return step(&mut self.$field, event);
                    }
                )*
                Ok(None)
            }

            /// The name of `entity` as of the event being folded.
            fn name_of(&self, entity: &EntityRef) -> Option<String> {
                let id = entity.entity_id.to_string();
                $(
                    if entity.entity_type == <$aggregate>::TYPE {
                        return self
                            .$field
                            .get(&id)
                            .and_then(|tracked| tracked.aggregate.subject_name())
                            .filter(|name| !name.is_empty());
                    }
                )*
                None
            }

            /// Who may see `entity` now: its visibility and owner as of the
            /// event being folded.
            fn audience_of(&self, entity: &EntityRef) -> Option<(Visibility, Option<Uuid>)> {
                let id = entity.entity_id.to_string();
                $(
                    if entity.entity_type == <$aggregate>::TYPE {
                        return self.$field.get(&id).map(|tracked| {
                            let entity = &tracked.aggregate;
                            (entity.subject_visibility(), entity.subject_owner())
                        });
                    }
                )*
                None
            }

            /// Loads the stored states of `ids`, by aggregate type, that are
            /// not loaded yet.
            async fn load_ids(
                &mut self,
                conn: &mut PgConnection,
                store: &mut StateStore,
                ids: &HashMap<String, BTreeSet<String>>,
            ) -> Result<(), ProjectionError> {
                $(load(conn, store, &mut self.$field, ids.get(<$aggregate>::TYPE)).await?;)*
                Ok(())
            }

            /// Saves every state.
            async fn save(
                self,
                conn: &mut PgConnection,
                store: &mut StateStore,
            ) -> Result<(), ProjectionError> {
                $(store.put(conn, self.$field).await?;)*
                Ok(())
            }
        }
    };
}

states! {
    organization: Organization,
    production_advance: ProductionAdvance,
    invoice: Invoice,
    contract: Contract,
    event: Event,
    venue: Venue,
    task: Task,
    shift: Shift,
    asset: Asset,
    company: Company,
    contact: Contact,
    expense: Expense,
    document: Document,
    comment: Comment,
}

impl States {
    /// Loads the states of the aggregates `events` are of, and of the entities
    /// their comments are on.
    async fn load(
        conn: &mut PgConnection,
        store: &mut StateStore,
        events: &[StoredEvent],
    ) -> Result<States, ProjectionError> {
        let mut ids: HashMap<String, BTreeSet<String>> = HashMap::new();
        for event in events {
            ids.entry(event.aggregate_type.clone())
                .or_default()
                .insert(event.aggregate_id.clone());
        }
        let mut states = States::default();
        load(conn, store, &mut states.comment, ids.get(Comment::TYPE)).await?;
        for event in events.iter().filter(|e| e.aggregate_type == Comment::TYPE) {
            let on = match states.comment.get(&event.aggregate_id) {
                Some(tracked) => tracked.aggregate.on.clone(),
                None => match decode::<Comment>(event)? {
                    CommentEvent::CommentPosted { on, .. } => Some(on),
                    _ => None,
                },
            };
            if let Some(on) = on {
                ids.entry(on.entity_type)
                    .or_default()
                    .insert(on.entity_id.to_string());
            }
        }
        states.load_ids(conn, store, &ids).await?;
        Ok(states)
    }
}

/// Decodes an event, poisoning the batch when it cannot be read.
fn decode<A>(event: &StoredEvent) -> Result<A::Event, ProjectionError>
where
    A: Entity,
    A::Command: DomainCommand,
{
    event
        .decode::<A>()
        .map_err(|error| ProjectionError::Poison {
            position: event.position.global_position,
            message: error.to_string(),
        })
}

/// Takes the states of `ids` that `states` does not hold yet from the store.
async fn load<A>(
    conn: &mut PgConnection,
    store: &mut StateStore,
    states: &mut HashMap<String, Tracked<A>>,
    ids: Option<&BTreeSet<String>>,
) -> Result<(), ProjectionError>
where
    A: Entity + Clone + 'static,
    A::Command: DomainCommand,
{
    let ids: Vec<String> = ids
        .into_iter()
        .flatten()
        .filter(|id| !states.contains_key(*id))
        .cloned()
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    states.extend(store.take::<A>(conn, &ids).await?);
    Ok(())
}

/// What an activity was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum ActivityType {
    /// The entity was created.
    Created,
    /// The entity was deleted.
    Deleted,
    /// A step of an approval was decided.
    Approval,
    /// The entity's status changed.
    StatusChange,
    /// Anything else changed.
    Updated,
    /// A comment on the entity.
    Comment,
    /// A note on the entity.
    Note,
}

foldline_aggregates::stored_as_text!(ActivityType);

impl From<CommentKind> for ActivityType {
    fn from(kind: CommentKind) -> Self {
        match kind {
            CommentKind::Comment => ActivityType::Comment,
            CommentKind::Note => ActivityType::Note,
        }
    }
}

/// The entity an activity is about, and what the row says of it.
struct About {
    activity_type: ActivityType,
    entity_type: String,
    entity_id: Uuid,
    entity_name: Option<String>,
    content: Option<String>,
    /// Who may see the row: whoever may see the entity.
    visibility: Visibility,
    owner_id: Option<Uuid>,
}

/// A batch's rows, column by column, for one UNNEST insert.
#[derive(Default)]
struct Rows {
    id: Vec<Uuid>,
    organization_id: Vec<Uuid>,
    activity_type: Vec<ActivityType>,
    event_type: Vec<String>,
    entity_type: Vec<String>,
    entity_id: Vec<Uuid>,
    entity_name: Vec<Option<String>>,
    actor_id: Vec<Option<Uuid>>,
    title: Vec<String>,
    content: Vec<Option<String>>,
    metadata: Vec<Value>,
    visibility: Vec<&'static str>,
    owner_id: Vec<Option<Uuid>>,
    external_id: Vec<String>,
    created_at: Vec<chrono::DateTime<chrono::Utc>>,
    updated_at: Vec<chrono::DateTime<chrono::Utc>>,
    last_position: Vec<i64>,
    /// The event's transaction id, as text: with the position, its place in
    /// the feed, which subscribers follow.
    transaction_id: Vec<String>,
}

impl Rows {
    /// The row of `event`, folded into `step` with `states` as of it.
    fn push(
        &mut self,
        states: &States,
        event: &StoredEvent,
        step: Step,
    ) -> Result<(), ProjectionError> {
        let position = event.position.global_position;
        let mut metadata = Map::new();
        for key in METADATA {
            if let Some(value) = event.metadata.get(key) {
                metadata.insert(key.to_owned(), value.clone());
            }
        }
        metadata.insert("aggregate_type".into(), json!(event.aggregate_type));
        metadata.insert("aggregate_id".into(), json!(event.aggregate_id));
        metadata.insert("sequence".into(), json!(event.sequence));
        let about = if event.aggregate_type == Comment::TYPE {
            let Some(comment) = states.comment.get(&event.aggregate_id) else {
                return Ok(());
            };
            let comment = &comment.aggregate;
            let Some(on) = &comment.on else {
                return Ok(());
            };
            metadata.insert("comment_id".into(), json!(comment.id));
            metadata.insert("parent_id".into(), json!(comment.parent_id));
            // A comment's row names the entity, so it is seen by whoever may
            // see the entity, and no one else.
            let (visibility, owner_id) = states
                .audience_of(on)
                .unwrap_or((step.visibility, step.owner_id));
            About {
                visibility,
                owner_id,
                activity_type: comment.kind.into(),
                entity_type: on.entity_type.clone(),
                entity_id: on.entity_id,
                entity_name: states.name_of(on),
                content: (!step.deleted).then(|| comment.body.clone()),
            }
        } else {
            let entity_id =
                event
                    .aggregate_id
                    .parse()
                    .map_err(|error| ProjectionError::Poison {
                        position,
                        message: format!(
                            "{} id `{}` is not a UUID: {error}",
                            event.aggregate_type, event.aggregate_id
                        ),
                    })?;
            let status_changed = !step.created && step.previous_status != step.status;
            if status_changed {
                metadata.insert("previous_status".into(), json!(step.previous_status));
                metadata.insert("status".into(), json!(step.status));
            }
            About {
                visibility: step.visibility,
                owner_id: step.owner_id,
                activity_type: activity_type(event, &step, status_changed),
                entity_type: event.aggregate_type.clone(),
                entity_id,
                content: describe(event, &step, status_changed),
                entity_name: step.name,
            }
        };
        let external_id = format!("event:{position}");
        self.id.push(row_id(&external_id));
        self.organization_id.push(event.organization_id);
        self.activity_type.push(about.activity_type);
        self.event_type.push(event.event_type.clone());
        self.entity_type.push(about.entity_type);
        self.entity_id.push(about.entity_id);
        self.entity_name.push(about.entity_name);
        self.actor_id.push(event.actor_id());
        self.title.push(title(&event.event_type));
        self.content.push(about.content);
        self.metadata.push(Value::Object(metadata));
        self.visibility.push(about.visibility.as_str());
        self.owner_id.push(about.owner_id);
        self.external_id.push(external_id);
        self.created_at.push(event.recorded_at);
        self.updated_at.push(event.recorded_at);
        self.last_position.push(position);
        self.transaction_id
            .push(event.position.transaction_id.to_string());
        Ok(())
    }

    async fn write(self, tx: &mut PgConnection) -> Result<(), ProjectionError> {
        if self.id.is_empty() {
            return Ok(());
        }
        // Append-only: an event's row, once written, is never changed.
        sqlx::query(
            "INSERT INTO activity_feed (
                 id, organization_id, activity_type, event_type, entity_type, entity_id,
                 entity_name, actor_id, title, content, metadata, visibility, owner_id,
                 external_id, created_at, updated_at, last_position, transaction_id)
             SELECT * FROM UNNEST(
                 $1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::uuid[],
                 $7::text[], $8::uuid[], $9::text[], $10::text[], $11::jsonb[], $12::text[],
                 $13::uuid[], $14::text[], $15::timestamptz[], $16::timestamptz[], $17::bigint[],
                 $18::text[]::xid8[])
             ON CONFLICT (external_id) DO NOTHING",
        )
        .bind(&self.id)
        .bind(&self.organization_id)
        .bind(&self.activity_type)
        .bind(&self.event_type)
        .bind(&self.entity_type)
        .bind(&self.entity_id)
        .bind(&self.entity_name)
        .bind(&self.actor_id)
        .bind(&self.title)
        .bind(&self.content)
        .bind(&self.metadata)
        .bind(&self.visibility)
        .bind(&self.owner_id)
        .bind(&self.external_id)
        .bind(&self.created_at)
        .bind(&self.updated_at)
        .bind(&self.last_position)
        .bind(&self.transaction_id)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

/// What an event on an entity (not a comment) was.
fn activity_type(event: &StoredEvent, step: &Step, status_changed: bool) -> ActivityType {
    if step.created {
        ActivityType::Created
    } else if step.deleted {
        ActivityType::Deleted
    } else if APPROVALS.contains(&event.event_type.as_str()) {
        ActivityType::Approval
    } else if status_changed {
        ActivityType::StatusChange
    } else {
        ActivityType::Updated
    }
}

/// The status change and the reason or summary the event gives, if any.
fn describe(event: &StoredEvent, step: &Step, status_changed: bool) -> Option<String> {
    let mut parts = Vec::new();
    if status_changed {
        parts.push(format!(
            "Status changed from {} to {}",
            step.previous_status.as_deref().unwrap_or("none"),
            step.status.as_deref().unwrap_or("none"),
        ));
    }
    // Payloads are `{"EventType": {fields}}`.
    let fields = event
        .payload
        .as_object()
        .and_then(|payload| payload.values().next())
        .and_then(Value::as_object);
    for (key, label) in [("reason", "Reason"), ("summary", "Summary")] {
        if let Some(text) = fields.and_then(|f| f.get(key)).and_then(Value::as_str) {
            parts.push(format!("{label}: {text}"));
        }
    }
    (!parts.is_empty()).then(|| parts.join(". "))
}

/// An event type in words: `InvoicePdfAttached` is `Invoice pdf attached`.
fn title(event_type: &str) -> String {
    let mut title = String::with_capacity(event_type.len() + 4);
    for (i, c) in event_type.chars().enumerate() {
        if i > 0 && c.is_uppercase() {
            title.push(' ');
            title.extend(c.to_lowercase());
        } else {
            title.push(c);
        }
    }
    title
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_read_as_words() {
        assert_eq!(title("TaskCreated"), "Task created");
        assert_eq!(title("InvoicePdfAttached"), "Invoice pdf attached");
        assert_eq!(title("X"), "X");
    }
}
