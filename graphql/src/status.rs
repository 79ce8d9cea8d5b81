//! `statuses`: where every entity stands.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use foldline_aggregates::graphql::Date;
use foldline_aggregates::Visibility;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::connection::{resolve, Listed, Listing, Order, PageOf, Paged};
use crate::error::ApiError;
use crate::page::Cursor;

/// An entity's current and previous status.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
pub struct EntityStatus {
    /// The row's id.
    pub id: Uuid,
    /// The entity's type.
    pub entity_type: String,
    /// The entity.
    pub entity_id: Uuid,
    /// Its name.
    pub entity_name: String,
    /// Its status now.
    pub current_status: String,
    /// Its status before.
    pub previous_status: Option<String>,
    /// `active`, `pending`, `blocked` or `completed`.
    pub status_category: String,
    /// Who changed it last.
    pub changed_by: Option<Uuid>,
    /// When it changed last.
    pub changed_at: DateTime<Utc>,
    /// Its event.
    pub event_id: Option<Uuid>,
    /// When it is due.
    pub due_date: Option<Date>,
    /// Its priority.
    pub priority: Option<String>,
    /// Who may see it.
    #[sqlx(try_from = "String")]
    pub visibility: Visibility,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When its entity began: the list's order, which no change moves.
    pub created_at: DateTime<Utc>,
}

impl Paged for EntityStatus {
    fn cursor(&self) -> Cursor {
        Cursor {
            at: self.created_at,
            id: self.id,
        }
    }
}

/// Which statuses to list.
#[derive(Debug, Clone, Default, InputObject)]
pub struct StatusFilter {
    /// `active`, `pending`, `blocked` or `completed`.
    pub category: Option<String>,
    /// Only this entity type.
    pub entity_type: Option<String>,
    /// Only those due before today and not completed.
    pub overdue: Option<bool>,
}

/// Status queries.
#[derive(Default)]
pub struct StatusQuery;

#[Object]
impl StatusQuery {
    /// The status tracker, newest first (by when each row's entity began; a row that changes keeps its place, so paging while rows change neither skips nor repeats one).
    #[graphql(complexity = "crate::page::cost(first.or(last), child_complexity)")]
    async fn statuses(
        &self,
        ctx: &Context<'_>,
        filter: Option<StatusFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        after_position: Option<i64>,
    ) -> async_graphql::Result<PageOf<EntityStatus>> {
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

impl Listed for StatusFilter {
    type Row = EntityStatus;
    const TABLE: &'static str = "status_tracker";
    const COLUMNS: &'static str = "id, entity_type, entity_id, entity_name, current_status, \
        previous_status, status_category, changed_by, changed_at, event_id, \
        due_date, priority, visibility, updated_at, created_at";
    const ORDER: Order = Order {
        column: "created_at",
        descending: true,
    };

    fn push(self, sql: &mut QueryBuilder<'static, Postgres>) -> Result<(), ApiError> {
        if let Some(category) = self.category {
            sql.push(" AND status_category = ").push_bind(category);
        }
        if let Some(entity_type) = self.entity_type {
            sql.push(" AND entity_type = ").push_bind(entity_type);
        }
        if self.overdue == Some(true) {
            sql.push(" AND due_date < current_date AND status_category <> 'completed'");
        }
        Ok(())
    }

    /// An entity type's statuses have their index in the list's order
    /// (`status_tracker_type_created`).
    fn ordered(&self) -> bool {
        self.entity_type.is_some() && self.category.is_none() && self.overdue != Some(true)
    }
}
