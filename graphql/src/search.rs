//! `search`: one box over all nine read tables.

use async_graphql::{Context, ErrorExtensions, Object, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::ApiError;
use crate::page::Page;
use crate::request::Request;

/// The longest search text accepted.
pub const LONGEST_SEARCH: usize = 200;

/// The search: `$1` the organization, `$2` the text, `$3` hits wanted.
/// The text becomes word prefixes (`search_prefixes`,
/// `migrations/0015_connection_order.sql`), so no input is tsquery syntax.
/// Each table matches on the expression its GIN index is built over
/// (`migrations/0008_search_and_subscriptions.sql`) and gives its best `$3`
/// before the union is ranked.
pub const SQL: &str = "WITH q AS (SELECT search_prefixes($2) AS q)
     SELECT * FROM (
       (SELECT 'calendar_events' AS source, id, entity_type, entity_id, title,
               ts_rank(to_tsvector('simple', title), q) AS rank, updated_at
        FROM calendar_events, q
        WHERE organization_id = $1 AND to_tsvector('simple', title) @@ q
        ORDER BY rank DESC LIMIT $3)
       UNION ALL
       (SELECT 'activity_feed', id, entity_type, entity_id, title,
               ts_rank(to_tsvector('simple', title), q), updated_at
        FROM activity_feed, q
        WHERE organization_id = $1 AND to_tsvector('simple', title) @@ q
        ORDER BY 6 DESC LIMIT $3)
       UNION ALL
       (SELECT 'document_registry', id, entity_type, entity_id, title,
               ts_rank(to_tsvector('simple', title), q), updated_at
        FROM document_registry, q
        WHERE organization_id = $1 AND to_tsvector('simple', title) @@ q
        ORDER BY 6 DESC LIMIT $3)
       UNION ALL
       (SELECT 'financial_ledger', id, entity_type, entity_id, description,
               ts_rank(to_tsvector('simple', description || ' ' || coalesce(reference, '')
                                             || ' ' || coalesce(counterparty_name, '')), q),
               updated_at
        FROM financial_ledger, q
        WHERE organization_id = $1
          AND to_tsvector('simple', description || ' ' || coalesce(reference, '')
                                    || ' ' || coalesce(counterparty_name, '')) @@ q
        ORDER BY 6 DESC LIMIT $3)
       UNION ALL
       (SELECT 'people_directory', id, entity_type, entity_id, name,
               ts_rank(to_tsvector('simple', name), q), updated_at
        FROM people_directory, q
        WHERE organization_id = $1 AND to_tsvector('simple', name) @@ q
        ORDER BY 6 DESC LIMIT $3)
       UNION ALL
       (SELECT 'assignments', id, entity_type, entity_id, entity_name,
               ts_rank(to_tsvector('simple', entity_name), q), updated_at
        FROM assignments, q
        WHERE organization_id = $1 AND to_tsvector('simple', entity_name) @@ q
        ORDER BY 6 DESC LIMIT $3)
       UNION ALL
       (SELECT 'location_registry', id, entity_type, entity_id, name,
               ts_rank(to_tsvector('simple', name), q), updated_at
        FROM location_registry, q
        WHERE organization_id = $1 AND to_tsvector('simple', name) @@ q
        ORDER BY 6 DESC LIMIT $3)
       UNION ALL
       (SELECT 'status_tracker', id, entity_type, entity_id, entity_name,
               ts_rank(to_tsvector('simple', entity_name), q), updated_at
        FROM status_tracker, q
        WHERE organization_id = $1 AND to_tsvector('simple', entity_name) @@ q
        ORDER BY 6 DESC LIMIT $3)
       UNION ALL
       (SELECT 'inventory_registry', id, entity_type, entity_id, name,
               ts_rank(to_tsvector('simple', name || ' ' || coalesce(tag, '')), q), updated_at
        FROM inventory_registry, q
        WHERE organization_id = $1
          AND to_tsvector('simple', name || ' ' || coalesce(tag, '')) @@ q
        ORDER BY 6 DESC LIMIT $3)
     ) hit
     ORDER BY rank DESC, updated_at DESC, id
     LIMIT $3";

/// A row that matched.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
pub struct SearchHit {
    /// The read table it is in: `calendar_events`, `people_directory`…
    pub source: String,
    /// The row's id in that table.
    pub id: Uuid,
    /// The type of the entity it shows.
    pub entity_type: String,
    /// The entity's id.
    pub entity_id: Uuid,
    /// What matched: a title, a name, a description.
    pub title: String,
    /// How well it matched; higher is better.
    pub rank: f32,
    /// When the row last changed.
    pub updated_at: DateTime<Utc>,
}

/// Global search.
#[derive(Default)]
pub struct SearchQuery;

#[Object]
impl SearchQuery {
    /// Rows of any of the nine tables whose title, name or description has
    /// words starting with each word of `text`, best match first.
    async fn search(
        &self,
        ctx: &Context<'_>,
        text: String,
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<SearchHit>> {
        let request = Request::of(ctx).map_err(|e| e.extend())?;
        search(request, &text, first).await.map_err(|e| e.extend())
    }
}

async fn search(
    request: &Request,
    text: &str,
    first: Option<i32>,
) -> Result<Vec<SearchHit>, ApiError> {
    if text.chars().count() > LONGEST_SEARCH {
        return Err(ApiError::BadUserInput(format!(
            "search text is limited to {LONGEST_SEARCH} characters"
        )));
    }
    if !text.chars().any(char::is_alphanumeric) {
        return Err(ApiError::BadUserInput(
            "search text has no letters or digits to look for".into(),
        ));
    }
    let first = i64::from(Page::new(first, None)?.first);
    let mut conn = request.read().await?;
    let hits = sqlx::query_as(SQL)
        .bind(request.caller.organization_id)
        .bind(text)
        .bind(first)
        .fetch_all(&mut *conn)
        .await?;
    Ok(hits)
}
