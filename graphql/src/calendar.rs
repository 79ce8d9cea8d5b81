//! `calendarEvents`: the calendar of an organization, by time.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use foldline_aggregates::{EntityType, Visibility};
use foldline_projectors::calendar::CalendarSource;
use uuid::Uuid;

use sqlx::{Postgres, QueryBuilder};

use crate::connection::{resolve, Listed, Listing, Order, PageOf, Paged};
use crate::error::ApiError;
use crate::page::Cursor;

/// Something on the calendar: an event, a due date, a shift, an expiry.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
pub struct CalendarEvent {
    /// The row's id.
    pub id: Uuid,
    /// What it is.
    pub title: String,
    /// When it starts (or is due).
    pub starts_at: DateTime<Utc>,
    /// When it ends, if it lasts.
    pub ends_at: Option<DateTime<Utc>>,
    /// What put it there.
    pub source_type: CalendarSource,
    /// The entity's type.
    #[sqlx(try_from = "String")]
    pub entity_type: EntityType,
    /// The entity's id.
    pub entity_id: Uuid,
    /// The entity's status.
    pub status: Option<String>,
    /// Who may see it.
    #[sqlx(try_from = "String")]
    pub visibility: Visibility,
    /// Who created the entity.
    pub owner_id: Option<Uuid>,
    /// When the entity began.
    pub created_at: DateTime<Utc>,
    /// When the entity last changed.
    pub updated_at: DateTime<Utc>,
}

impl Paged for CalendarEvent {
    fn cursor(&self) -> Cursor {
        Cursor {
            at: self.starts_at,
            id: self.id,
        }
    }
}

/// Which calendar entries to list.
#[derive(Debug, Clone, Default, InputObject)]
pub struct CalendarFilter {
    /// Starting at or after.
    pub from: Option<DateTime<Utc>>,
    /// Starting before.
    pub to: Option<DateTime<Utc>>,
    /// Only this source type.
    pub source_type: Option<CalendarSource>,
    /// Only the entries of this entity.
    pub entity_id: Option<Uuid>,
}

/// Calendar queries.
#[derive(Default)]
pub struct CalendarQuery;

#[Object]
impl CalendarQuery {
    /// The calendar, by start time.
    #[graphql(complexity = "crate::page::cost(first.or(last), child_complexity)")]
    async fn calendar_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<CalendarFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(
            desc = "Wait (a few seconds at most) until the table shows the event at this position, a mutation's `position`."
        )]
        after_position: Option<i64>,
    ) -> async_graphql::Result<PageOf<CalendarEvent>> {
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

impl Listed for CalendarFilter {
    type Row = CalendarEvent;
    const TABLE: &'static str = "calendar_events";
    const COLUMNS: &'static str =
        "id, title, starts_at, ends_at, source_type, entity_type, entity_id, \
        status, visibility, owner_id, created_at, updated_at";
    const ORDER: Order = Order {
        column: "starts_at",
        descending: false,
    };

    fn push(self, sql: &mut QueryBuilder<'static, Postgres>) -> Result<(), ApiError> {
        if let Some(from) = self.from {
            sql.push(" AND starts_at >= ").push_bind(from);
        }
        if let Some(to) = self.to {
            sql.push(" AND starts_at < ").push_bind(to);
        }
        if let Some(source_type) = self.source_type {
            sql.push(" AND source_type = ").push_bind(source_type);
        }
        if let Some(entity_id) = self.entity_id {
            sql.push(" AND entity_id = ").push_bind(entity_id);
        }
        Ok(())
    }
}
