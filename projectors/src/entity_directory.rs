//! `entity_directory`: one row per entity of each aggregate type but the
//! organization, with its whole state, its name, its status and the
//! entities it belongs to, for the API's lists of each type.
//!
//! Sources: every aggregate but Organization.

use foldline_aggregates::asset::Asset;
use foldline_aggregates::comment::Comment;
use foldline_aggregates::company::Company;
use foldline_aggregates::contact::Contact;
use foldline_aggregates::contract::Contract;
use foldline_aggregates::document::Document;
use foldline_aggregates::event::Event;
use foldline_aggregates::expense::Expense;
use foldline_aggregates::invoice::Invoice;
use foldline_aggregates::production_advance::ProductionAdvance;
use foldline_aggregates::shift::Shift;
use foldline_aggregates::task::Task;
use foldline_aggregates::venue::Venue;
use foldline_aggregates::DomainCommand;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::feed::StoredEvent;
use crate::projection::{Projection, ProjectionError};
use crate::rows::{name_of, remove_rows, Stamp, Standard};
use crate::state::{Entity, Tracked};
use crate::state_store::{fold_batch, StateStore};

/// The entity directory projection.
pub struct EntityDirectory;

/// Its name, also its table's.
pub const NAME: &str = "entity_directory";

/// What an entity belongs to, for the lists' filters; each type fills what
/// it has.
#[derive(Debug, Default)]
struct Belongs {
    event_id: Option<Uuid>,
    venue_id: Option<Uuid>,
    company_id: Option<Uuid>,
    assignee_id: Option<Uuid>,
    attached_to: Option<Uuid>,
    awaiting_capability: Option<String>,
}

#[async_trait::async_trait]
impl Projection for EntityDirectory {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &[NAME]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        store: &mut StateStore,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let mut rows = Rows::default();
        rows.fold::<ProductionAdvance>(tx, store, events, |a| Belongs {
            event_id: a.event_id,
            assignee_id: a.assignee,
            awaiting_capability: a.awaiting_capability().and_then(name_of),
            ..Belongs::default()
        })
        .await?;
        rows.fold::<Invoice>(tx, store, events, |i| Belongs {
            company_id: i.counterparty_id,
            ..Belongs::default()
        })
        .await?;
        rows.fold::<Contract>(tx, store, events, |c| Belongs {
            company_id: c.counterparty_id,
            ..Belongs::default()
        })
        .await?;
        rows.fold::<Event>(tx, store, events, |e| Belongs {
            venue_id: e.venue_id,
            ..Belongs::default()
        })
        .await?;
        rows.fold::<Venue>(tx, store, events, |_| Belongs::default())
            .await?;
        rows.fold::<Task>(tx, store, events, |t| Belongs {
            event_id: t.event_id,
            assignee_id: t.assignee,
            ..Belongs::default()
        })
        .await?;
        rows.fold::<Shift>(tx, store, events, |s| Belongs {
            event_id: s.event_id,
            assignee_id: s.member_id,
            ..Belongs::default()
        })
        .await?;
        rows.fold::<Asset>(tx, store, events, |a| Belongs {
            venue_id: a.location_id,
            assignee_id: a.holder,
            ..Belongs::default()
        })
        .await?;
        rows.fold::<Company>(tx, store, events, |_| Belongs::default())
            .await?;
        rows.fold::<Contact>(tx, store, events, |c| Belongs {
            company_id: c.company_id,
            ..Belongs::default()
        })
        .await?;
        rows.fold::<Expense>(tx, store, events, |e| Belongs {
            event_id: e.event_id,
            ..Belongs::default()
        })
        .await?;
        rows.fold::<Document>(tx, store, events, |d| Belongs {
            attached_to: d.linked_to.as_ref().map(|on| on.entity_id),
            ..Belongs::default()
        })
        .await?;
        rows.fold::<Comment>(tx, store, events, |c| Belongs {
            attached_to: c.on.as_ref().map(|on| on.entity_id),
            ..Belongs::default()
        })
        .await?;
        rows.write(tx).await
    }
}

/// A batch's rows, column by column, for one UNNEST upsert.
#[derive(Default)]
struct Rows {
    deleted: Vec<String>,
    standard: Standard,
    entity_type: Vec<&'static str>,
    entity_id: Vec<Uuid>,
    name: Vec<String>,
    status: Vec<Option<String>>,
    event_id: Vec<Option<Uuid>>,
    venue_id: Vec<Option<Uuid>>,
    company_id: Vec<Option<Uuid>>,
    assignee_id: Vec<Option<Uuid>>,
    attached_to: Vec<Option<Uuid>>,
    awaiting_capability: Vec<Option<String>>,
    version: Vec<i64>,
    state: Vec<Value>,
}

impl Rows {
    /// Folds the batch's events of type `A` and adds a row for each entity
    /// they touch, or its removal once deleted.
    async fn fold<A>(
        &mut self,
        tx: &mut PgConnection,
        store: &mut StateStore,
        events: &[StoredEvent],
        belongs: fn(&A) -> Belongs,
    ) -> Result<(), ProjectionError>
    where
        A: Entity + Clone + 'static,
        A::Command: DomainCommand,
    {
        for (id, tracked) in &fold_batch::<A>(tx, store, events).await? {
            self.entity(id, tracked, belongs)?;
        }
        Ok(())
    }

    fn entity<A>(
        &mut self,
        id: &str,
        tracked: &Tracked<A>,
        belongs: fn(&A) -> Belongs,
    ) -> Result<(), ProjectionError>
    where
        A: Entity,
        A::Command: DomainCommand,
    {
        let external_id = format!("{}:{id}", A::TYPE);
        let entity = &tracked.aggregate;
        if !entity.exists() || entity.is_deleted() {
            self.deleted.push(external_id);
            return Ok(());
        }
        let (Ok(entity_id), Some(organization_id), Some(created_at), Some(updated_at)) = (
            id.parse::<Uuid>(),
            entity.organization_id(),
            tracked.created_at,
            tracked.updated_at,
        ) else {
            return Ok(());
        };
        let state = serde_json::to_value(entity).map_err(|error| ProjectionError::Poison {
            position: tracked.last_position,
            message: format!("cannot store the state of {external_id}: {error}"),
        })?;
        let belongs = belongs(entity);
        self.entity_type.push(A::TYPE);
        self.entity_id.push(entity_id);
        self.name.push(entity.display_name());
        self.status.push(entity.status_name());
        self.event_id.push(belongs.event_id);
        self.venue_id.push(belongs.venue_id);
        self.company_id.push(belongs.company_id);
        self.assignee_id.push(belongs.assignee_id);
        self.attached_to.push(belongs.attached_to);
        self.awaiting_capability.push(belongs.awaiting_capability);
        self.version.push(tracked.sequence);
        self.state.push(state);
        self.standard.push(Stamp {
            external_id,
            organization_id,
            visibility: entity.visibility().as_str(),
            owner_id: entity.owner(),
            created_at,
            updated_at,
            last_position: tracked.last_position,
        });
        Ok(())
    }

    async fn write(self, tx: &mut PgConnection) -> Result<(), ProjectionError> {
        remove_rows(tx, NAME, &self.deleted).await?;
        if self.standard.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO entity_directory (
                 id, organization_id, entity_type, entity_id, name, status, event_id, venue_id,
                 company_id, assignee_id, attached_to, awaiting_capability, version, state,
                 visibility, owner_id, external_id, created_at, updated_at, last_position)
             SELECT * FROM UNNEST(
                 $1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::text[],
                 $7::uuid[], $8::uuid[], $9::uuid[], $10::uuid[], $11::uuid[], $12::text[],
                 $13::bigint[], $14::jsonb[], $15::text[], $16::uuid[], $17::text[],
                 $18::timestamptz[], $19::timestamptz[], $20::bigint[])
             ON CONFLICT (external_id) DO UPDATE SET
                 name = EXCLUDED.name,
                 status = EXCLUDED.status,
                 event_id = EXCLUDED.event_id,
                 venue_id = EXCLUDED.venue_id,
                 company_id = EXCLUDED.company_id,
                 assignee_id = EXCLUDED.assignee_id,
                 attached_to = EXCLUDED.attached_to,
                 awaiting_capability = EXCLUDED.awaiting_capability,
                 version = EXCLUDED.version,
                 state = EXCLUDED.state,
                 visibility = EXCLUDED.visibility,
                 owner_id = EXCLUDED.owner_id,
                 updated_at = EXCLUDED.updated_at,
                 last_position = EXCLUDED.last_position",
        )
        .bind(&self.standard.id)
        .bind(&self.standard.organization_id)
        .bind(&self.entity_type)
        .bind(&self.entity_id)
        .bind(&self.name)
        .bind(&self.status)
        .bind(&self.event_id)
        .bind(&self.venue_id)
        .bind(&self.company_id)
        .bind(&self.assignee_id)
        .bind(&self.attached_to)
        .bind(&self.awaiting_capability)
        .bind(&self.version)
        .bind(&self.state)
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
