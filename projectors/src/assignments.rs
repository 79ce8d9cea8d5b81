//! `assignments`: one row per responsibility — who is on what, and when.
//!
//! Sources: a Task's assignee (while it has one; its time is the due date), a
//! Shift's crew member (cancelled shifts stay, as cancelled), a
//! ProductionAdvance's assignee, and an Asset's holder while it is checked
//! out (from the check-out until it is due back). Unassigning, checking in and
//! deleting remove the row.

use chrono::{DateTime, Utc};
use foldline_aggregates::asset::{Asset, AssetStatus};
use foldline_aggregates::production_advance::ProductionAdvance;
use foldline_aggregates::shift::Shift;
use foldline_aggregates::task::Task;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::feed::StoredEvent;
use crate::projection::{Projection, ProjectionError};
use crate::rows::{remove_rows, Stamp, Standard};
use crate::state::{Entity, Tracked};
use crate::state_store::{fold_batch, StateStore};

/// The assignments projection.
pub struct Assignments;

/// Its name.
pub const NAME: &str = "assignments";

#[async_trait::async_trait]
impl Projection for Assignments {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &["assignments"]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        store: &mut StateStore,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let mut rows = Rows::default();
        for (id, task) in &fold_batch::<Task>(tx, store, events).await? {
            rows.task(id, task);
        }
        for (id, shift) in &fold_batch::<Shift>(tx, store, events).await? {
            rows.shift(id, shift);
        }
        for (id, advance) in &fold_batch::<ProductionAdvance>(tx, store, events).await? {
            rows.advance(id, advance);
        }
        for (id, asset) in &fold_batch::<Asset>(tx, store, events).await? {
            rows.asset_holder(id, asset);
        }
        rows.write(tx).await
    }
}

/// What a member is assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum AssignmentType {
    /// A task, as its assignee.
    Task,
    /// A shift, as its worker.
    Shift,
    /// A production advance, as its assignee.
    ProductionAdvance,
    /// An asset, as its holder.
    Asset,
}

foldline_aggregates::stored_as_text!(AssignmentType);

/// One assignment before it is written.
struct Entry<'a, A> {
    external_id: String,
    tracked: &'a Tracked<A>,
    assignment_type: AssignmentType,
    entity_type: &'static str,
    entity_id: Option<Uuid>,
    entity_name: String,
    user_id: Uuid,
    role: String,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    project: Option<String>,
    event_id: Option<Uuid>,
    organization_id: Option<Uuid>,
    visibility: &'static str,
    owner_id: Option<Uuid>,
}

/// A batch's rows, column by column, for one UNNEST upsert.
#[derive(Default)]
struct Rows {
    deleted: Vec<String>,
    standard: Standard,
    assignment_type: Vec<AssignmentType>,
    entity_type: Vec<&'static str>,
    entity_id: Vec<Uuid>,
    entity_name: Vec<String>,
    user_id: Vec<Uuid>,
    role: Vec<String>,
    status: Vec<Option<String>>,
    starts_at: Vec<Option<DateTime<Utc>>>,
    ends_at: Vec<Option<DateTime<Utc>>>,
    project: Vec<Option<String>>,
    event_id: Vec<Option<Uuid>>,
}

impl Rows {
    fn task(&mut self, id: &str, tracked: &Tracked<Task>) {
        let task = &tracked.aggregate;
        let external_id = format!("Task:{id}");
        match (task.assignee, task.is_deleted() || !task.exists()) {
            (Some(user_id), false) => self.push(Entry {
                external_id,
                tracked,
                assignment_type: AssignmentType::Task,
                entity_type: "Task",
                entity_id: task.id,
                entity_name: task.title.clone(),
                user_id,
                role: "assignee".to_owned(),
                starts_at: task.due_at,
                ends_at: None,
                project: task.project.clone(),
                event_id: task.event_id,
                organization_id: task.organization_id,
                visibility: task.visibility.as_str(),
                owner_id: task.owner_id,
            }),
            _ => self.deleted.push(external_id),
        }
    }

    fn shift(&mut self, id: &str, tracked: &Tracked<Shift>) {
        let shift = &tracked.aggregate;
        let external_id = format!("Shift:{id}");
        match (shift.member_id, shift.is_deleted() || !shift.exists()) {
            (Some(user_id), false) => self.push(Entry {
                external_id,
                tracked,
                assignment_type: AssignmentType::Shift,
                entity_type: "Shift",
                entity_id: shift.id,
                entity_name: shift.role.clone(),
                user_id,
                role: shift.role.clone(),
                starts_at: shift.starts_at,
                ends_at: shift.ends_at,
                project: None,
                event_id: shift.event_id,
                organization_id: shift.organization_id,
                visibility: shift.visibility.as_str(),
                owner_id: shift.owner_id,
            }),
            _ => self.deleted.push(external_id),
        }
    }

    fn advance(&mut self, id: &str, tracked: &Tracked<ProductionAdvance>) {
        let advance = &tracked.aggregate;
        let external_id = format!("ProductionAdvance:{id}");
        match (advance.assignee, advance.is_deleted() || !advance.exists()) {
            (Some(user_id), false) => self.push(Entry {
                external_id,
                tracked,
                assignment_type: AssignmentType::ProductionAdvance,
                entity_type: "ProductionAdvance",
                entity_id: advance.id,
                entity_name: advance.code.clone(),
                user_id,
                role: "assignee".to_owned(),
                starts_at: advance.due_date,
                ends_at: None,
                project: None,
                event_id: advance.event_id,
                organization_id: advance.organization_id,
                visibility: advance.visibility.as_str(),
                owner_id: advance.owner_id,
            }),
            _ => self.deleted.push(external_id),
        }
    }

    fn asset_holder(&mut self, id: &str, tracked: &Tracked<Asset>) {
        let asset = &tracked.aggregate;
        let external_id = format!("Asset:{id}:holder");
        let checked_out = asset.status == AssetStatus::CheckedOut;
        match (
            asset.holder,
            checked_out && !asset.is_deleted() && asset.exists(),
        ) {
            (Some(user_id), true) => self.push(Entry {
                external_id,
                tracked,
                assignment_type: AssignmentType::Asset,
                entity_type: "Asset",
                entity_id: asset.id,
                entity_name: asset.name.clone(),
                user_id,
                role: "holder".to_owned(),
                // Checking out is the only way into `checked_out`, so the
                // status's last change is the check-out.
                starts_at: tracked.status_changed_at,
                ends_at: asset.due_back,
                project: None,
                event_id: None,
                organization_id: asset.organization_id,
                visibility: asset.visibility.as_str(),
                owner_id: asset.owner_id,
            }),
            _ => self.deleted.push(external_id),
        }
    }

    fn push<A>(&mut self, entry: Entry<'_, A>)
    where
        A: Entity,
        A::Command: foldline_aggregates::DomainCommand,
    {
        let tracked = entry.tracked;
        let (Some(entity_id), Some(organization_id), Some(created_at), Some(updated_at)) = (
            entry.entity_id,
            entry.organization_id,
            tracked.created_at,
            tracked.updated_at,
        ) else {
            return;
        };
        self.assignment_type.push(entry.assignment_type);
        self.entity_type.push(entry.entity_type);
        self.entity_id.push(entity_id);
        self.entity_name.push(entry.entity_name);
        self.user_id.push(entry.user_id);
        self.role.push(entry.role);
        self.status.push(tracked.aggregate.status_name());
        self.starts_at.push(entry.starts_at);
        self.ends_at.push(entry.ends_at);
        self.project.push(entry.project);
        self.event_id.push(entry.event_id);
        self.standard.push(Stamp {
            external_id: entry.external_id,
            organization_id,
            visibility: entry.visibility,
            owner_id: entry.owner_id,
            created_at,
            updated_at,
            last_position: tracked.last_position,
        });
    }

    async fn write(self, tx: &mut PgConnection) -> Result<(), ProjectionError> {
        remove_rows(tx, "assignments", &self.deleted).await?;
        if self.standard.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO assignments (
                 id, organization_id, assignment_type, entity_type, entity_id, entity_name,
                 user_id, role, status, starts_at, ends_at, project, event_id, visibility,
                 owner_id, external_id, created_at, updated_at, last_position)
             SELECT * FROM UNNEST(
                 $1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::text[],
                 $7::uuid[], $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[],
                 $12::text[], $13::uuid[], $14::text[], $15::uuid[], $16::text[],
                 $17::timestamptz[], $18::timestamptz[], $19::bigint[])
             ON CONFLICT (external_id) DO UPDATE SET
                 entity_name = EXCLUDED.entity_name,
                 user_id = EXCLUDED.user_id,
                 role = EXCLUDED.role,
                 status = EXCLUDED.status,
                 starts_at = EXCLUDED.starts_at,
                 ends_at = EXCLUDED.ends_at,
                 project = EXCLUDED.project,
                 event_id = EXCLUDED.event_id,
                 visibility = EXCLUDED.visibility,
                 owner_id = EXCLUDED.owner_id,
                 updated_at = EXCLUDED.updated_at,
                 last_position = EXCLUDED.last_position",
        )
        .bind(&self.standard.id)
        .bind(&self.standard.organization_id)
        .bind(&self.assignment_type)
        .bind(&self.entity_type)
        .bind(&self.entity_id)
        .bind(&self.entity_name)
        .bind(&self.user_id)
        .bind(&self.role)
        .bind(&self.status)
        .bind(&self.starts_at)
        .bind(&self.ends_at)
        .bind(&self.project)
        .bind(&self.event_id)
        .bind(&self.standard.visibility)
        .bind(&self.standard.owner_id)
        .bind(&self.standard.external_id)
        .bind(&self.standard.created_at)
        .bind(&self.standard.updated_at)
        .bind(&self.standard.last_position)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}
