//! `inventory`: assets, consumables, equipment and vehicles.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use foldline_aggregates::asset::{AssetKind, AssetStatus};
use foldline_aggregates::graphql::MinorUnitsScalar;
use foldline_aggregates::Visibility;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::connection::{resolve, Listed, Listing, Order, PageOf, Paged};
use crate::error::ApiError;
use crate::page::Cursor;

/// An item of inventory.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
pub struct InventoryItem {
    /// The row's id.
    pub id: Uuid,
    /// What sort of thing it is.
    pub item_type: AssetKind,
    /// The asset.
    pub entity_id: Uuid,
    /// Its name.
    pub name: String,
    /// Serial number or asset tag.
    pub tag: Option<String>,
    /// How many.
    pub quantity: i64,
    /// Value in minor units of `currency`.
    #[sqlx(try_from = "i64")]
    pub value: MinorUnitsScalar,
    /// ISO 4217 code.
    pub currency: String,
    /// The venue where it is kept.
    pub location_id: Option<Uuid>,
    /// Who has it now.
    pub current_holder_id: Option<Uuid>,
    /// Its status.
    pub status: AssetStatus,
    /// When it is due back.
    pub due_back_at: Option<DateTime<Utc>>,
    /// When it is next maintained.
    pub next_maintenance_at: Option<DateTime<Utc>>,
    /// Who may see it.
    #[sqlx(try_from = "String")]
    pub visibility: Visibility,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When its entity began: the list's order, which no change moves.
    pub created_at: DateTime<Utc>,
}

impl Paged for InventoryItem {
    fn cursor(&self) -> Cursor {
        Cursor {
            at: self.created_at,
            id: self.id,
        }
    }
}

/// Which items to list.
#[derive(Debug, Clone, Default, InputObject)]
pub struct InventoryFilter {
    /// Only this item type.
    pub item_type: Option<AssetKind>,
    /// Only this status.
    pub status: Option<AssetStatus>,
    /// Only those kept at this venue.
    pub location_id: Option<Uuid>,
    /// Only those due for maintenance before this time.
    pub maintenance_due_before: Option<DateTime<Utc>>,
}

/// Inventory queries.
#[derive(Default)]
pub struct InventoryQuery;

#[Object]
impl InventoryQuery {
    /// The inventory, newest first (by when each row's entity began; a row that changes keeps its place, so paging while rows change neither skips nor repeats one).
    #[graphql(complexity = "crate::page::cost(first.or(last), child_complexity)")]
    async fn inventory(
        &self,
        ctx: &Context<'_>,
        filter: Option<InventoryFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        after_position: Option<i64>,
    ) -> async_graphql::Result<PageOf<InventoryItem>> {
        let listing = Listing {
            first,
            after,
            last,
            before,
            after_position,
        };
        resolve(ctx, filter, listing).await
    }
}

impl Listed for InventoryFilter {
    type Row = InventoryItem;
    const TABLE: &'static str = "inventory_registry";
    const COLUMNS: &'static str =
        "id, item_type, entity_id, name, tag, quantity, value, currency, \
        location_id, current_holder_id, status, due_back_at, \
        next_maintenance_at, visibility, updated_at, created_at";
    const ORDER: Order = Order {
        column: "created_at",
        descending: true,
    };

    fn push(self, sql: &mut QueryBuilder<'static, Postgres>) -> Result<(), ApiError> {
        if let Some(item_type) = self.item_type {
            sql.push(" AND item_type = ").push_bind(item_type);
        }
        if let Some(status) = self.status {
            sql.push(" AND status = ").push_bind(status);
        }
        if let Some(location_id) = self.location_id {
            sql.push(" AND location_id = ").push_bind(location_id);
        }
        if let Some(before) = self.maintenance_due_before {
            sql.push(" AND next_maintenance_at < ").push_bind(before);
        }
        Ok(())
    }
}
