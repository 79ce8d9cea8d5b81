//! `status_tracker`: one row per entity with a status, its current and
//! previous status and the status's category.
//!
//! Sources: every aggregate with a status — Task, Event, ProductionAdvance,
//! Invoice, Contract, Shift, Asset, Expense and Document.

use chrono::{DateTime, NaiveDate, Utc};
use foldline_aggregates::asset::Asset;
use foldline_aggregates::contract::Contract;
use foldline_aggregates::document::Document;
use foldline_aggregates::event::Event;
use foldline_aggregates::expense::Expense;
use foldline_aggregates::invoice::Invoice;
use foldline_aggregates::production_advance::ProductionAdvance;
use foldline_aggregates::shift::Shift;
use foldline_aggregates::task::Task;
use foldline_aggregates::{DomainCommand, Priority};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::feed::StoredEvent;
use crate::projection::{Projection, ProjectionError};
use crate::rows::{remove_rows, Stamp, Standard};
use crate::state::{Entity, Tracked};
use crate::state_store::{fold_batch, StateStore};

/// The status tracker projection.
pub struct StatusTracker;

/// Its name.
pub const NAME: &str = "status_tracker";

#[async_trait::async_trait]
impl Projection for StatusTracker {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &["status_tracker"]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        store: &mut StateStore,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let mut rows = Rows::default();
        for (id, t) in &fold_batch::<Task>(tx, store, events).await? {
            let task = &t.aggregate;
            let extras = Extras {
                event_id: task.event_id,
                due_date: task.due_at.map(|due| due.date_naive()),
                priority: Some(task.priority),
            };
            rows.entity("Task", id, t, extras);
        }
        for (id, t) in &fold_batch::<Event>(tx, store, events).await? {
            let extras = Extras {
                event_id: id.parse().ok(),
                due_date: t.aggregate.starts_at.map(|at| at.date_naive()),
                priority: None,
            };
            rows.entity("Event", id, t, extras);
        }
        for (id, t) in &fold_batch::<ProductionAdvance>(tx, store, events).await? {
            let advance = &t.aggregate;
            let extras = Extras {
                event_id: advance.event_id,
                due_date: advance.due_date.map(|due| due.date_naive()),
                priority: Some(advance.priority),
            };
            rows.entity("ProductionAdvance", id, t, extras);
        }
        for (id, t) in &fold_batch::<Invoice>(tx, store, events).await? {
            let extras = Extras {
                due_date: t.aggregate.due_on,
                ..Extras::default()
            };
            rows.entity("Invoice", id, t, extras);
        }
        for (id, t) in &fold_batch::<Contract>(tx, store, events).await? {
            let extras = Extras {
                due_date: t.aggregate.current().and_then(|v| v.terms.expires_on),
                ..Extras::default()
            };
            rows.entity("Contract", id, t, extras);
        }
        for (id, t) in &fold_batch::<Shift>(tx, store, events).await? {
            let extras = Extras {
                event_id: t.aggregate.event_id,
                due_date: t.aggregate.starts_at.map(|at| at.date_naive()),
                priority: None,
            };
            rows.entity("Shift", id, t, extras);
        }
        for (id, t) in &fold_batch::<Asset>(tx, store, events).await? {
            let asset = &t.aggregate;
            let due = asset
                .due_back
                .or(asset.next_maintenance.as_ref().map(|m| m.scheduled_for));
            let extras = Extras {
                due_date: due.map(|at| at.date_naive()),
                ..Extras::default()
            };
            rows.entity("Asset", id, t, extras);
        }
        for (id, t) in &fold_batch::<Expense>(tx, store, events).await? {
            let extras = Extras {
                event_id: t.aggregate.event_id,
                ..Extras::default()
            };
            rows.entity("Expense", id, t, extras);
        }
        for (id, t) in &fold_batch::<Document>(tx, store, events).await? {
            let extras = Extras {
                due_date: t.aggregate.expires_on,
                ..Extras::default()
            };
            rows.entity("Document", id, t, extras);
        }
        rows.write(tx).await
    }
}

/// The columns that differ by entity type.
#[derive(Default)]
struct Extras {
    event_id: Option<Uuid>,
    due_date: Option<NaiveDate>,
    priority: Option<Priority>,
}

/// A batch's rows, column by column, for one UNNEST upsert.
#[derive(Default)]
struct Rows {
    deleted: Vec<String>,
    standard: Standard,
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
    priority: Vec<Option<Priority>>,
}

impl Rows {
    /// Adds the entity's row, or its removal once deleted.
    fn entity<A>(
        &mut self,
        entity_type: &'static str,
        id: &str,
        tracked: &Tracked<A>,
        extras: Extras,
    ) where
        A: Entity,
        A::Command: DomainCommand,
    {
        let external_id = format!("{entity_type}:{id}");
        let entity = &tracked.aggregate;
        if !entity.exists() || entity.is_deleted() {
            self.deleted.push(external_id);
            return;
        }
        let (Ok(entity_id), Some(organization_id), Some(created_at), Some(updated_at)) = (
            id.parse::<Uuid>(),
            entity.organization_id(),
            tracked.created_at,
            tracked.updated_at,
        ) else {
            return;
        };
        self.entity_type.push(entity_type);
        self.entity_id.push(entity_id);
        self.entity_name.push(entity.display_name());
        self.current_status
            .push(entity.status_name().unwrap_or_default());
        self.previous_status.push(tracked.previous_status.clone());
        self.status_category.push(entity.status_category());
        self.changed_by.push(tracked.status_changed_by);
        self.changed_at
            .push(tracked.status_changed_at.unwrap_or(created_at));
        self.event_id.push(extras.event_id);
        self.due_date.push(extras.due_date);
        self.priority.push(extras.priority);
        self.standard.push(Stamp {
            external_id,
            organization_id,
            visibility: entity.visibility().as_str(),
            owner_id: entity.owner(),
            created_at,
            updated_at,
            last_position: tracked.last_position,
        });
    }

    async fn write(self, tx: &mut PgConnection) -> Result<(), ProjectionError> {
        remove_rows(tx, "status_tracker", &self.deleted).await?;
        if self.standard.is_empty() {
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
        .bind(&self.standard.id)
        .bind(&self.standard.organization_id)
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
