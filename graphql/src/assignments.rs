//! `assignments`: who is responsible for what, and when.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use foldline_aggregates::{EntityType, Visibility};
use foldline_projectors::assignments::AssignmentType;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::connection::{resolve, Listed, Listing, Order, PageOf, Paged};
use crate::error::ApiError;
use crate::page::Cursor;

/// A task's or advance's assignee, a shift's crew member, an asset's holder.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
pub struct Assignment {
    /// The row's id.
    pub id: Uuid,
    /// What the member is assigned to.
    pub assignment_type: AssignmentType,
    /// The entity's type.
    #[sqlx(try_from = "String")]
    pub entity_type: EntityType,
    /// The entity.
    pub entity_id: Uuid,
    /// The entity's name.
    pub entity_name: String,
    /// The member responsible.
    pub user_id: Uuid,
    /// `assignee`, `holder`, or the shift's role.
    pub role: String,
    /// The entity's status.
    pub status: Option<String>,
    /// Due date, shift start, check-out time.
    pub starts_at: Option<DateTime<Utc>>,
    /// Shift end, due-back time.
    pub ends_at: Option<DateTime<Utc>>,
    /// The task's project.
    pub project: Option<String>,
    /// The event it is for.
    pub event_id: Option<Uuid>,
    /// Who may see it.
    #[sqlx(try_from = "String")]
    pub visibility: Visibility,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When its entity began: the list's order, which no change moves.
    pub created_at: DateTime<Utc>,
}

impl Paged for Assignment {
    fn cursor(&self) -> Cursor {
        Cursor {
            at: self.created_at,
            id: self.id,
        }
    }
}

/// Which assignments to list.
#[derive(Debug, Clone, Default, InputObject)]
pub struct AssignmentFilter {
    /// Only this member's.
    pub user_id: Option<Uuid>,
    /// Starting on or after.
    pub from: Option<DateTime<Utc>>,
    /// Starting before.
    pub to: Option<DateTime<Utc>>,
    /// Only this status.
    pub status: Option<String>,
}

/// Assignment queries.
#[derive(Default)]
pub struct AssignmentQuery;

#[Object]
impl AssignmentQuery {
    /// Assignments, newest first (by when each row's entity began; a row that changes keeps its place, so paging while rows change neither skips nor repeats one).
    #[graphql(complexity = "crate::page::cost(first.or(last), child_complexity)")]
    async fn assignments(
        &self,
        ctx: &Context<'_>,
        filter: Option<AssignmentFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        after_position: Option<i64>,
    ) -> async_graphql::Result<PageOf<Assignment>> {
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

impl Listed for AssignmentFilter {
    type Row = Assignment;
    const TABLE: &'static str = "assignments";
    const COLUMNS: &'static str =
        "id, assignment_type, entity_type, entity_id, entity_name, user_id, \
        role, status, starts_at, ends_at, project, event_id, visibility, \
        updated_at, created_at";
    const ORDER: Order = Order {
        column: "created_at",
        descending: true,
    };

    fn push(self, sql: &mut QueryBuilder<'static, Postgres>) -> Result<(), ApiError> {
        if let Some(user_id) = self.user_id {
            sql.push(" AND user_id = ").push_bind(user_id);
        }
        if let Some(from) = self.from {
            sql.push(" AND starts_at >= ").push_bind(from);
        }
        if let Some(to) = self.to {
            sql.push(" AND starts_at < ").push_bind(to);
        }
        if let Some(status) = self.status {
            sql.push(" AND status = ").push_bind(status);
        }
        Ok(())
    }

    /// A member's assignments have their index in the list's order
    /// (`assignments_user_created`).
    fn ordered(&self) -> bool {
        self.user_id.is_some() && self.from.is_none() && self.to.is_none() && self.status.is_none()
    }
}
