//! `status_tracker`: one row per entity with a status, its current and
//! previous status and the status's category.
//!
//! Sources so far: Task. The other aggregates with a status follow.

use chrono::{DateTime, NaiveDate, Utc};
use foldline_aggregates::task::Task;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::feed::StoredEvent;
use crate::projection::{Projection, ProjectionError};
use crate::rows::{name_of, row_id};
use crate::state::{fold_batch, Entity, Tracked};

/// The status tracker projection.
pub struct StatusTracker;

/// Its name.
pub const NAME: &str = "status_tracker";

#[async_trait::async_trait]
impl Projection for StatusTracker {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let tasks = fold_batch::<Task>(tx, NAME, events).await?;
        let mut rows = Rows::default();
        for (id, task) in &tasks {
            let external_id = format!("Task:{id}");
            if !task.aggregate.exists() || task.aggregate.is_deleted() {
                rows.deleted.push(external_id);
            } else {
                rows.push_task(external_id, task);
            }
        }
        rows.write(tx).await
    }
}

/// A batch's rows, column by column, for one UNNEST upsert.
#[derive(Default)]
struct Rows {
    deleted: Vec<String>,
    id: Vec<Uuid>,
    organization_id: Vec<Uuid>,
    entity_type: Vec<&'static str>,
    entity_id: Vec<Uuid>,
    entity_name: Vec<String>,
    current_status: Vec<String>,
    previous_status: Vec<Option<String>>,
    status_category: Vec<&'static str>,
    changed_by: Vec<Option<Uuid>>,
    changed_at: Vec<DateTime<Utc>>,
    event_id: Vec<Option<Uuid>>,
    due_date: Vec<Option<NaiveDate>>,
    priority: Vec<Option<String>>,
    visibility: Vec<&'static str>,
    owner_id: Vec<Option<Uuid>>,
    external_id: Vec<String>,
    created_at: Vec<DateTime<Utc>>,
    updated_at: Vec<DateTime<Utc>>,
    last_position: Vec<i64>,
}

impl Rows {
    fn push_task(&mut self, external_id: String, tracked: &Tracked<Task>) {
        let task = &tracked.aggregate;
        let (Some(id), Some(organization_id), Some(created_at), Some(updated_at)) = (
            task.id,
            task.organization_id,
            tracked.created_at,
            tracked.updated_at,
        ) else {
            return;
        };
        self.id.push(row_id(&external_id));
        self.organization_id.push(organization_id);
        self.entity_type.push("Task");
        self.entity_id.push(id);
        self.entity_name.push(task.title.clone());
        self.current_status
            .push(task.status_name().unwrap_or_default());
        self.previous_status.push(tracked.previous_status.clone());
        self.status_category.push(task.status_category());
        self.changed_by.push(tracked.status_changed_by);
        self.changed_at
            .push(tracked.status_changed_at.unwrap_or(created_at));
        self.event_id.push(task.event_id);
        self.due_date.push(task.due_at.map(|due| due.date_naive()));
        self.priority.push(name_of(task.priority));
        self.visibility.push(task.visibility.as_str());
        self.owner_id.push(task.owner_id);
        self.external_id.push(external_id);
        self.created_at.push(created_at);
        self.updated_at.push(updated_at);
        self.last_position.push(tracked.last_position);
    }

    async fn write(self, tx: &mut PgConnection) -> Result<(), ProjectionError> {
        if !self.deleted.is_empty() {
            sqlx::query("DELETE FROM status_tracker WHERE external_id = ANY($1)")
                .bind(&self.deleted)
                .execute(&mut *tx)
                .await?;
        }
        if self.id.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO status_tracker (
                 id, organization_id, entity_type, entity_id, entity_name, current_status,
                 previous_status, status_category, changed_by, changed_at, event_id, due_date,
                 priority, visibility, owner_id, external_id, created_at, updated_at, last_position)
             SELECT * FROM UNNEST(
                 $1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::text[],
                 $7::text[], $8::text[], $9::uuid[], $10::timestamptz[], $11::uuid[], $12::date[],
                 $13::text[], $14::text[], $15::uuid[], $16::text[], $17::timestamptz[],
                 $18::timestamptz[], $19::bigint[])
             ON CONFLICT (external_id) DO UPDATE SET
                 entity_name = EXCLUDED.entity_name,
                 current_status = EXCLUDED.current_status,
                 previous_status = EXCLUDED.previous_status,
                 status_category = EXCLUDED.status_category,
                 changed_by = EXCLUDED.changed_by,
                 changed_at = EXCLUDED.changed_at,
                 event_id = EXCLUDED.event_id,
                 due_date = EXCLUDED.due_date,
                 priority = EXCLUDED.priority,
                 visibility = EXCLUDED.visibility,
                 owner_id = EXCLUDED.owner_id,
                 updated_at = EXCLUDED.updated_at,
                 last_position = EXCLUDED.last_position",
        )
        .bind(&self.id)
        .bind(&self.organization_id)
        .bind(&self.entity_type)
        .bind(&self.entity_id)
        .bind(&self.entity_name)
        .bind(&self.current_status)
        .bind(&self.previous_status)
        .bind(&self.status_category)
        .bind(&self.changed_by)
        .bind(&self.changed_at)
        .bind(&self.event_id)
        .bind(&self.due_date)
        .bind(&self.priority)
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
