//! `calendar_events`: one row per dated thing.
//!
//! Sources so far: Event (its time slot) and Task (its due date). Deliveries,
//! load-ins and strikes of advances, invoice due dates, contract expiries,
//! maintenance and shifts follow.

use chrono::{DateTime, Utc};
use foldline_aggregates::event::Event;
use foldline_aggregates::task::Task;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::feed::StoredEvent;
use crate::projection::{Projection, ProjectionError};
use crate::rows::row_id;
use crate::state::{fold_batch, Entity, Tracked};

/// The calendar projection.
pub struct Calendar;

/// Its name.
pub const NAME: &str = "calendar_events";

#[async_trait::async_trait]
impl Projection for Calendar {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let mut rows = Rows::default();
        for (id, event) in &fold_batch::<Event>(tx, NAME, events).await? {
            rows.event(id, event);
        }
        for (id, task) in &fold_batch::<Task>(tx, NAME, events).await? {
            rows.task_due(id, task);
        }
        rows.write(tx).await
    }
}

/// One calendar entry before it is written.
struct Entry<'a, A> {
    external_id: String,
    tracked: &'a Tracked<A>,
    entity_type: &'static str,
    source_type: &'static str,
    title: String,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
}

/// A batch's rows, column by column, for one UNNEST upsert.
#[derive(Default)]
struct Rows {
    deleted: Vec<String>,
    id: Vec<Uuid>,
    organization_id: Vec<Uuid>,
    title: Vec<String>,
    starts_at: Vec<DateTime<Utc>>,
    ends_at: Vec<Option<DateTime<Utc>>>,
    source_type: Vec<&'static str>,
    entity_type: Vec<&'static str>,
    entity_id: Vec<Uuid>,
    status: Vec<Option<String>>,
    visibility: Vec<&'static str>,
    owner_id: Vec<Option<Uuid>>,
    external_id: Vec<String>,
    created_at: Vec<DateTime<Utc>>,
    updated_at: Vec<DateTime<Utc>>,
    last_position: Vec<i64>,
}

impl Rows {
    fn event(&mut self, id: &str, tracked: &Tracked<Event>) {
        let event = &tracked.aggregate;
        let external_id = format!("Event:{id}");
        match (event.starts_at, event.is_deleted() || !event.exists()) {
            (Some(starts_at), false) => self.push(
                Entry {
                    external_id,
                    tracked,
                    entity_type: "Event",
                    source_type: "event",
                    title: event.title.clone(),
                    starts_at,
                    ends_at: event.ends_at,
                },
                event.id,
                event.organization_id,
                event.visibility.as_str(),
                event.owner_id,
            ),
            _ => self.deleted.push(external_id),
        }
    }

    fn task_due(&mut self, id: &str, tracked: &Tracked<Task>) {
        let task = &tracked.aggregate;
        let external_id = format!("Task:{id}:due");
        match (task.due_at, task.is_deleted() || !task.exists()) {
            (Some(due_at), false) => self.push(
                Entry {
                    external_id,
                    tracked,
                    entity_type: "Task",
                    source_type: "task_due",
                    title: format!("Due: {}", task.title),
                    starts_at: due_at,
                    ends_at: None,
                },
                task.id,
                task.organization_id,
                task.visibility.as_str(),
                task.owner_id,
            ),
            _ => self.deleted.push(external_id),
        }
    }

    fn push<A>(
        &mut self,
        entry: Entry<'_, A>,
        entity_id: Option<Uuid>,
        organization_id: Option<Uuid>,
        visibility: &'static str,
        owner_id: Option<Uuid>,
    ) where
        A: Entity,
        A::Command: foldline_aggregates::DomainCommand,
    {
        let tracked = entry.tracked;
        let (Some(entity_id), Some(organization_id), Some(created_at), Some(updated_at)) = (
            entity_id,
            organization_id,
            tracked.created_at,
            tracked.updated_at,
        ) else {
            return;
        };
        self.id.push(row_id(&entry.external_id));
        self.organization_id.push(organization_id);
        self.title.push(entry.title);
        self.starts_at.push(entry.starts_at);
        self.ends_at.push(entry.ends_at);
        self.source_type.push(entry.source_type);
        self.entity_type.push(entry.entity_type);
        self.entity_id.push(entity_id);
        self.status.push(tracked.aggregate.status_name());
        self.visibility.push(visibility);
        self.owner_id.push(owner_id);
        self.external_id.push(entry.external_id);
        self.created_at.push(created_at);
        self.updated_at.push(updated_at);
        self.last_position.push(tracked.last_position);
    }

    async fn write(self, tx: &mut PgConnection) -> Result<(), ProjectionError> {
        if !self.deleted.is_empty() {
            sqlx::query("DELETE FROM calendar_events WHERE external_id = ANY($1)")
                .bind(&self.deleted)
                .execute(&mut *tx)
                .await?;
        }
        if self.id.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO calendar_events (
                 id, organization_id, title, starts_at, ends_at, source_type, entity_type,
                 entity_id, status, visibility, owner_id, external_id, created_at, updated_at,
                 last_position)
             SELECT * FROM UNNEST(
                 $1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::timestamptz[],
                 $6::text[], $7::text[], $8::uuid[], $9::text[], $10::text[], $11::uuid[],
                 $12::text[], $13::timestamptz[], $14::timestamptz[], $15::bigint[])
             ON CONFLICT (external_id) DO UPDATE SET
                 title = EXCLUDED.title,
                 starts_at = EXCLUDED.starts_at,
                 ends_at = EXCLUDED.ends_at,
                 status = EXCLUDED.status,
                 visibility = EXCLUDED.visibility,
                 owner_id = EXCLUDED.owner_id,
                 updated_at = EXCLUDED.updated_at,
                 last_position = EXCLUDED.last_position",
        )
        .bind(&self.id)
        .bind(&self.organization_id)
        .bind(&self.title)
        .bind(&self.starts_at)
        .bind(&self.ends_at)
        .bind(&self.source_type)
        .bind(&self.entity_type)
        .bind(&self.entity_id)
        .bind(&self.status)
        .bind(&self.visibility)
        .bind(&self.owner_id)
        .bind(&self.external_id)
        .bind(&self.created_at)
        .bind(&self.updated_at)
        .bind(&self.last_position)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}
