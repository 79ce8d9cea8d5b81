//! `activityFeed`: what happened in an organization, newest first.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use foldline_aggregates::{EntityType, Visibility};
use foldline_projectors::activity_feed::ActivityType;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::connection::{resolve, Listed, Listing, Order, PageOf, Paged};
use crate::error::ApiError;
use crate::page::Cursor;

/// One thing that happened to an entity.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
#[graphql(complex)]
pub struct Activity {
    /// The row's id.
    pub id: Uuid,
    /// What happened.
    pub activity_type: ActivityType,
    /// The event type behind it.
    pub event_type: String,
    /// The entity's type.
    #[sqlx(try_from = "String")]
    pub entity_type: EntityType,
    /// The entity's id.
    pub entity_id: Uuid,
    /// The entity's name as of the activity.
    pub entity_name: Option<String>,
    /// Who did it.
    pub actor_id: Option<Uuid>,
    /// The activity in words.
    pub title: String,
    /// A comment's text, a reason, a status change.
    pub content: Option<String>,
    /// Correlation, causation, command, source and stream of the event.
    #[graphql(skip)]
    pub metadata: serde_json::Value,
    /// Who may see it.
    #[sqlx(try_from = "String")]
    pub visibility: Visibility,
    /// Who created the entity.
    pub owner_id: Option<Uuid>,
    /// When it happened.
    pub created_at: DateTime<Utc>,
    /// The global position of the last event that wrote this row; a
    /// subscriber that reconnects passes the last one it saw.
    #[graphql(name = "position")]
    pub last_position: i64,
}

#[async_graphql::ComplexObject]
impl Activity {
    /// Correlation, causation, command, source and stream of the event.
    async fn metadata(&self) -> async_graphql::Json<&serde_json::Value> {
        async_graphql::Json(&self.metadata)
    }
}

impl Paged for Activity {
    fn cursor(&self) -> Cursor {
        Cursor {
            at: self.created_at,
            id: self.id,
        }
    }
}

/// Which activities to list.
#[derive(Debug, Clone, Default, InputObject)]
pub struct ActivityFilter {
    /// Only the activities of this entity type.
    pub entity_type: Option<EntityType>,
    /// Only the activities of this entity.
    pub entity_id: Option<Uuid>,
    /// Only what this user did.
    pub actor_id: Option<Uuid>,
}

impl ActivityFilter {
    /// Adds the filter's conditions to `sql`, a query of `activity_feed`.
    pub(crate) fn push_conditions(self, sql: &mut QueryBuilder<'_, Postgres>) {
        if let Some(entity_type) = self.entity_type {
            sql.push(" AND entity_type = ")
                .push_bind(entity_type.as_str());
        }
        if let Some(entity_id) = self.entity_id {
            sql.push(" AND entity_id = ").push_bind(entity_id);
        }
        if let Some(actor_id) = self.actor_id {
            sql.push(" AND actor_id = ").push_bind(actor_id);
        }
    }
}

/// The columns of an [`Activity`].
pub(crate) const COLUMNS: &str = "id, activity_type, event_type, entity_type, entity_id, \
    entity_name, actor_id, title, content, metadata, visibility, owner_id, created_at, \
    last_position";

impl Listed for ActivityFilter {
    type Row = Activity;
    const TABLE: &'static str = "activity_feed";
    const COLUMNS: &'static str = COLUMNS;
    const ORDER: Order = Order {
        column: "created_at",
        descending: true,
    };

    fn push(self, sql: &mut QueryBuilder<'static, Postgres>) -> Result<(), ApiError> {
        self.push_conditions(sql);
        Ok(())
    }

    /// Each filter alone has its index in feed order
    /// (`migrations/0016_filtered_list_indexes.sql`).
    fn ordered(&self) -> bool {
        [
            self.entity_type.is_some(),
            self.entity_id.is_some(),
            self.actor_id.is_some(),
        ]
        .into_iter()
        .filter(|&set| set)
        .count()
            == 1
    }
}

/// Activity queries.
#[derive(Default)]
pub struct ActivityQuery;

#[Object]
impl ActivityQuery {
    /// The activity feed, newest first.
    #[graphql(complexity = "crate::page::cost(first.or(last), child_complexity)")]
    async fn activity_feed(
        &self,
        ctx: &Context<'_>,
        filter: Option<ActivityFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(
            desc = "Wait (a few seconds at most) until the table shows the event at this position, a mutation's `position`."
        )]
        after_position: Option<i64>,
    ) -> async_graphql::Result<PageOf<Activity>> {
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
