//! `inventory_registry`: one row per trackable item.
//!
//! Source: Asset — its kind, stock, value, where it is kept, who holds it and
//! until when, and its maintenance. Retired assets stay, as retired; deleted
//! ones leave.

use chrono::{DateTime, Utc};
use foldline_aggregates::asset::{Asset, AssetKind, AssetStatus};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::feed::StoredEvent;
use crate::projection::{Projection, ProjectionError};
use crate::rows::{remove_rows, Stamp, Standard};
use crate::state::{Entity, Tracked};
use crate::state_store::{fold_batch, StateStore};

/// The inventory registry projection.
pub struct InventoryRegistry;

/// Its name.
pub const NAME: &str = "inventory_registry";

#[async_trait::async_trait]
impl Projection for InventoryRegistry {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &["inventory_registry"]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        store: &mut StateStore,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let assets = fold_batch::<Asset>(tx, store, events).await?;
        let mut rows = Rows::default();
        for (id, asset) in &assets {
            let external_id = format!("Asset:{id}");
            if !asset.aggregate.exists() || asset.aggregate.is_deleted() {
                rows.deleted.push(external_id);
            } else {
                rows.push_asset(external_id, asset);
            }
        }
        rows.write(tx).await
    }
}

/// A batch's rows, column by column, for one UNNEST upsert.
#[derive(Default)]
struct Rows {
    deleted: Vec<String>,
    standard: Standard,
    item_type: Vec<AssetKind>,
    entity_type: Vec<&'static str>,
    entity_id: Vec<Uuid>,
    name: Vec<String>,
    tag: Vec<Option<String>>,
    quantity: Vec<i64>,
    value: Vec<i64>,
    currency: Vec<String>,
    location_id: Vec<Option<Uuid>>,
    current_holder_id: Vec<Option<Uuid>>,
    status: Vec<AssetStatus>,
    due_back_at: Vec<Option<DateTime<Utc>>>,
    next_maintenance_at: Vec<Option<DateTime<Utc>>>,
    last_maintained_at: Vec<Option<DateTime<Utc>>>,
}

impl Rows {
    fn push_asset(&mut self, external_id: String, tracked: &Tracked<Asset>) {
        let asset = &tracked.aggregate;
        let (Some(id), Some(organization_id), Some(created_at), Some(updated_at)) = (
            asset.id,
            asset.organization_id,
            tracked.created_at,
            tracked.updated_at,
        ) else {
            return;
        };
        self.item_type.push(asset.kind);
        self.entity_type.push("Asset");
        self.entity_id.push(id);
        self.name.push(asset.name.clone());
        self.tag.push(asset.tag.clone());
        self.quantity.push(asset.quantity);
        self.value.push(asset.value);
        self.currency.push(asset.currency.code().to_owned());
        self.location_id.push(asset.location_id);
        self.current_holder_id.push(asset.holder);
        self.status.push(asset.status);
        self.due_back_at.push(asset.due_back);
        self.next_maintenance_at.push(
            asset
                .next_maintenance
                .as_ref()
                .map(|maintenance| maintenance.scheduled_for),
        );
        self.last_maintained_at.push(asset.last_maintained_at);
        self.standard.push(Stamp {
            external_id,
            organization_id,
            visibility: asset.visibility.as_str(),
            owner_id: asset.owner_id,
            created_at,
            updated_at,
            last_position: tracked.last_position,
        });
    }

    async fn write(self, tx: &mut PgConnection) -> Result<(), ProjectionError> {
        remove_rows(tx, "inventory_registry", &self.deleted).await?;
        if self.standard.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO inventory_registry (
                 id, organization_id, item_type, entity_type, entity_id, name, tag, quantity,
                 value, currency, location_id, current_holder_id, status, due_back_at,
                 next_maintenance_at, last_maintained_at, visibility, owner_id, external_id,
                 created_at, updated_at, last_position)
             SELECT * FROM UNNEST(
                 $1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::text[],
                 $7::text[], $8::bigint[], $9::bigint[], $10::text[], $11::uuid[], $12::uuid[],
                 $13::text[], $14::timestamptz[], $15::timestamptz[], $16::timestamptz[],
                 $17::text[], $18::uuid[], $19::text[], $20::timestamptz[],
                 $21::timestamptz[], $22::bigint[])
             ON CONFLICT (external_id) DO UPDATE SET
                 item_type = EXCLUDED.item_type,
                 name = EXCLUDED.name,
                 tag = EXCLUDED.tag,
                 quantity = EXCLUDED.quantity,
                 value = EXCLUDED.value,
                 currency = EXCLUDED.currency,
                 location_id = EXCLUDED.location_id,
                 current_holder_id = EXCLUDED.current_holder_id,
                 status = EXCLUDED.status,
                 due_back_at = EXCLUDED.due_back_at,
                 next_maintenance_at = EXCLUDED.next_maintenance_at,
                 last_maintained_at = EXCLUDED.last_maintained_at,
                 visibility = EXCLUDED.visibility,
                 owner_id = EXCLUDED.owner_id,
                 updated_at = EXCLUDED.updated_at,
                 last_position = EXCLUDED.last_position",
        )
        .bind(&self.standard.id)
        .bind(&self.standard.organization_id)
        .bind(&self.item_type)
        .bind(&self.entity_type)
        .bind(&self.entity_id)
        .bind(&self.name)
        .bind(&self.tag)
        .bind(&self.quantity)
        .bind(&self.value)
        .bind(&self.currency)
        .bind(&self.location_id)
        .bind(&self.current_holder_id)
        .bind(&self.status)
        .bind(&self.due_back_at)
        .bind(&self.next_maintenance_at)
        .bind(&self.last_maintained_at)
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
