//! `calendar_events`: one row per dated thing — an event's time slot, an
//! advance item's delivery, load-in and strike, a task's due date, an
//! invoice's due date, a contract's expiry, an asset's next maintenance, a
//! shift.
//!
//! An entity can have several rows (an advance has three per item), so a
//! touched entity's rows are replaced as a whole: its old rows are deleted and
//! its current ones written, all in the batch's transaction.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use foldline_aggregates::asset::Asset;
use foldline_aggregates::contract::Contract;
use foldline_aggregates::event::Event;
use foldline_aggregates::invoice::{Invoice, InvoiceStatus};
use foldline_aggregates::production_advance::ProductionAdvance;
use foldline_aggregates::shift::{Shift, ShiftStatus};
use foldline_aggregates::task::Task;
use foldline_aggregates::DomainCommand;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::feed::StoredEvent;
use crate::projection::{Projection, ProjectionError};
use crate::rows::{name_of, Stamp, Standard};
use crate::state::{Entity, Tracked};
use crate::state_store::{fold_batch, StateStore};

/// What put an entry on the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum CalendarSource {
    /// An event's time slot.
    Event,
    /// An advance item's delivery.
    Delivery,
    /// An advance item's load-in.
    LoadIn,
    /// An advance item's strike.
    Strike,
    /// A task's due date.
    TaskDue,
    /// An invoice's due date.
    InvoiceDue,
    /// A contract's expiry.
    ContractExpiry,
    /// An asset's next maintenance.
    Maintenance,
    /// A shift.
    Shift,
}

foldline_aggregates::stored_as_text!(CalendarSource);

/// The calendar projection.
pub struct Calendar;

/// Its name.
pub const NAME: &str = "calendar_events";

#[async_trait::async_trait]
impl Projection for Calendar {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &["calendar_events"]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        store: &mut StateStore,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let mut rows = Rows::default();
        for (id, t) in &fold_batch::<Event>(tx, store, events).await? {
            let event = &t.aggregate;
            if let Some(starts_at) = event.starts_at {
                rows.add(
                    t,
                    id,
                    "Event",
                    CalendarSource::Event,
                    event.title.clone(),
                    starts_at,
                    event.ends_at,
                    None,
                );
            }
            rows.touch("Event", id);
        }
        for (id, t) in &fold_batch::<ProductionAdvance>(tx, store, events).await? {
            for (item_id, item) in &t.aggregate.items {
                let schedule = [
                    (CalendarSource::Delivery, "Delivery", item.schedule.delivery),
                    (CalendarSource::LoadIn, "Load-in", item.schedule.load_in),
                    (CalendarSource::Strike, "Strike", item.schedule.strike),
                ];
                for (source, label, at) in schedule {
                    if let Some(at) = at {
                        let title = format!("{label}: {}", item.name);
                        let source_name = name_of(source).unwrap_or_default();
                        let suffix = format!("{item_id}:{source_name}");
                        rows.add(
                            t,
                            id,
                            "ProductionAdvance",
                            source,
                            title,
                            at,
                            None,
                            Some(&suffix),
                        );
                    }
                }
            }
            rows.touch("ProductionAdvance", id);
        }
        for (id, t) in &fold_batch::<Task>(tx, store, events).await? {
            if let Some(due_at) = t.aggregate.due_at {
                let title = format!("Due: {}", t.aggregate.title);
                rows.add(
                    t,
                    id,
                    "Task",
                    CalendarSource::TaskDue,
                    title,
                    due_at,
                    None,
                    Some("due"),
                );
            }
            rows.touch("Task", id);
        }
        for (id, t) in &fold_batch::<Invoice>(tx, store, events).await? {
            let invoice = &t.aggregate;
            let open = !matches!(invoice.status, InvoiceStatus::Void);
            if let (Some(due_on), true) = (invoice.due_on, open) {
                let title = format!("Invoice {} due", invoice.number);
                rows.add(
                    t,
                    id,
                    "Invoice",
                    CalendarSource::InvoiceDue,
                    title,
                    day(due_on),
                    None,
                    Some("due"),
                );
            }
            rows.touch("Invoice", id);
        }
        for (id, t) in &fold_batch::<Contract>(tx, store, events).await? {
            if let Some(terms) = t.aggregate.current().map(|v| &v.terms) {
                if let Some(expires_on) = terms.expires_on {
                    let title = format!("Contract expires: {}", terms.title);
                    rows.add(
                        t,
                        id,
                        "Contract",
                        CalendarSource::ContractExpiry,
                        title,
                        day(expires_on),
                        None,
                        Some("expiry"),
                    );
                }
            }
            rows.touch("Contract", id);
        }
        for (id, t) in &fold_batch::<Asset>(tx, store, events).await? {
            if let Some(maintenance) = &t.aggregate.next_maintenance {
                let title = format!(
                    "Maintenance: {} ({})",
                    t.aggregate.name, maintenance.description
                );
                rows.add(
                    t,
                    id,
                    "Asset",
                    CalendarSource::Maintenance,
                    title,
                    maintenance.scheduled_for,
                    None,
                    Some("maintenance"),
                );
            }
            rows.touch("Asset", id);
        }
        for (id, t) in &fold_batch::<Shift>(tx, store, events).await? {
            let shift = &t.aggregate;
            if let (Some(starts_at), false) =
                (shift.starts_at, shift.status == ShiftStatus::Cancelled)
            {
                let title = format!("Shift: {}", shift.role);
                rows.add(
                    t,
                    id,
                    "Shift",
                    CalendarSource::Shift,
                    title,
                    starts_at,
                    shift.ends_at,
                    None,
                );
            }
            rows.touch("Shift", id);
        }
        rows.write(tx).await
    }
}

/// Midnight UTC of a date, for things due on a day.
fn day(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN).and_utc()
}

/// A batch's rows, column by column, and the entities whose rows they replace.
#[derive(Default)]
struct Rows {
    touched_types: Vec<&'static str>,
    touched_ids: Vec<Uuid>,
    standard: Standard,
    title: Vec<String>,
    starts_at: Vec<DateTime<Utc>>,
    ends_at: Vec<Option<DateTime<Utc>>>,
    source_type: Vec<CalendarSource>,
    entity_type: Vec<&'static str>,
    entity_id: Vec<Uuid>,
    status: Vec<Option<String>>,
}

impl Rows {
    /// Marks an entity whose rows this batch replaces.
    fn touch(&mut self, entity_type: &'static str, id: &str) {
        if let Ok(id) = id.parse() {
            self.touched_types.push(entity_type);
            self.touched_ids.push(id);
        }
    }

    /// Adds one of a live entity's rows (nothing for a deleted one).
    #[allow(clippy::too_many_arguments)]
    fn add<A>(
        &mut self,
        tracked: &Tracked<A>,
        id: &str,
        entity_type: &'static str,
        source_type: CalendarSource,
        title: String,
        starts_at: DateTime<Utc>,
        ends_at: Option<DateTime<Utc>>,
        suffix: Option<&str>,
    ) where
        A: Entity,
        A::Command: DomainCommand,
    {
        let entity = &tracked.aggregate;
        if !entity.exists() || entity.is_deleted() {
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
        let external_id = match suffix {
            Some(suffix) => format!("{entity_type}:{id}:{suffix}"),
            None => format!("{entity_type}:{id}"),
        };
        self.title.push(title);
        self.starts_at.push(starts_at);
        self.ends_at.push(ends_at);
        self.source_type.push(source_type);
        self.entity_type.push(entity_type);
        self.entity_id.push(entity_id);
        self.status.push(entity.status_name());
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
        if !self.touched_ids.is_empty() {
            sqlx::query(
                "DELETE FROM calendar_events c
                 USING UNNEST($1::text[], $2::uuid[]) AS t(entity_type, entity_id)
                 WHERE c.entity_type = t.entity_type AND c.entity_id = t.entity_id",
            )
            .bind(&self.touched_types)
            .bind(&self.touched_ids)
            .execute(&mut *tx)
            .await?;
        }
        if self.standard.is_empty() {
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
                 $12::text[], $13::timestamptz[], $14::timestamptz[], $15::bigint[])",
        )
        .bind(&self.standard.id)
        .bind(&self.standard.organization_id)
        .bind(&self.title)
        .bind(&self.starts_at)
        .bind(&self.ends_at)
        .bind(&self.source_type)
        .bind(&self.entity_type)
        .bind(&self.entity_id)
        .bind(&self.status)
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
