//! `statuses`: where every entity stands.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use foldline_aggregates::graphql::Date;
use foldline_aggregates::{EntityType, Priority, Visibility};
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
    #[sqlx(try_from = "String")]
    pub entity_type: EntityType,
    /// The entity.
    pub entity_id: Uuid,
    /// Its name.
    pub entity_name: String,
    /// Its status now.
    pub current_status: String,
    /// Its status before.
    pub previous_status: Option<String>,
    /// What its status amounts to.
    #[sqlx(try_from = "String")]
    pub status_category: StatusCategory,
    /// Who changed it last.
    pub changed_by: Option<Uuid>,
    /// When it changed last.
    pub changed_at: DateTime<Utc>,
    /// Its event.
    pub event_id: Option<Uuid>,
    /// When it is due.
    pub due_date: Option<Date>,
    /// Its priority.
    pub priority: Option<Priority>,
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

/// What a status amounts to, whatever the entity's type: the categories
/// `status_tracker.status_category` holds (its CHECK, migration 0003).
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum StatusCategory {
    /// Under way.
    Active,
    /// Not started, or waiting.
    Pending,
    /// Held up.
    Blocked,
    /// Over, one way or another.
    Completed,
}

impl StatusCategory {
    /// The name stored in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusCategory::Active => "active",
            StatusCategory::Pending => "pending",
            StatusCategory::Blocked => "blocked",
            StatusCategory::Completed => "completed",
        }
    }
}

impl TryFrom<String> for StatusCategory {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        // The enum's own list of values, so a category added there is read
        // back as soon as `as_str` names it.
        <StatusCategory as async_graphql::resolver_utils::EnumType>::items()
            .iter()
            .map(|item| item.value)
            .find(|category| category.as_str() == name)
            .ok_or_else(|| format!("unknown status category `{name}`"))
    }
}

/// Which statuses to list.
#[derive(Debug, Clone, Default, InputObject)]
pub struct StatusFilter {
    /// Only those whose status amounts to this.
    pub category: Option<StatusCategory>,
    /// Only this entity type.
    pub entity_type: Option<EntityType>,
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
            sql.push(" AND status_category = ")
                .push_bind(category.as_str());
        }
        if let Some(entity_type) = self.entity_type {
            sql.push(" AND entity_type = ")
                .push_bind(entity_type.as_str());
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
