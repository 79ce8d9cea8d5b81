//! `search`: one box over all nine read tables.

use std::sync::LazyLock;

use async_graphql::{Context, ErrorExtensions, Object, SimpleObject};
use chrono::{DateTime, Utc};
use foldline_aggregates::EntityType;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::error::ApiError;
use crate::page::Page;
use crate::request::Request;

/// The longest search text accepted.
pub const LONGEST_SEARCH: usize = 200;

/// Each read table `search` reads, and the column a hit shows of it. What a
/// row matched on is its text as `search_matches` indexes it
/// (`migrations/0017_search_matches.sql`).
const SHOWN: [(&str, &str); 9] = [
    ("calendar_events", "title"),
    ("activity_feed", "title"),
    ("document_registry", "title"),
    ("financial_ledger", "description"),
    ("people_directory", "name"),
    ("assignments", "entity_name"),
    ("location_registry", "name"),
    ("status_tracker", "entity_name"),
    ("inventory_registry", "name"),
];

/// The search: `$1` the organization, `$2` the text, `$3` hits wanted.
/// `search_matches` finds the rows whose words start with each word of the
/// text (no input is tsquery syntax) and their rank, through GIN indexes
/// that row security would not let the tables' own scans use; the rows are
/// then read here as the caller, under the policies, best first, until each
/// table has given its best `$3` that the caller may see; the union is
/// ranked last.
pub static SQL: LazyLock<String> = LazyLock::new(|| {
    let tables: Vec<String> = SHOWN
        .iter()
        .map(|(table, _)| format!("'{table}'"))
        .collect();
    let branches: Vec<String> = SHOWN
        .iter()
        .map(|(table, shown)| {
            format!(
                "(SELECT '{table}' AS source, t.id, entity_type, entity_id, {shown} AS title,
                         m.rank, updated_at
                  FROM (SELECT id, rank FROM m WHERE source = '{table}' ORDER BY rank DESC) m
                  JOIN {table} t ON t.id = m.id
                  WHERE organization_id = $1
                  ORDER BY m.rank DESC LIMIT $3)"
            )
        })
        .collect();
    format!(
        "WITH m AS MATERIALIZED (
           SELECT source, id, rank FROM search_matches(ARRAY[{}], $2, true))
         SELECT * FROM ({}) hit
         ORDER BY rank DESC, updated_at DESC, id
         LIMIT $3",
        tables.join(", "),
        branches.join("\n UNION ALL\n ")
    )
});

/// Narrows a list of `table` to the rows whose text has words starting with
/// each word of `text`, found as `search` finds them.
pub fn push_matching(sql: &mut QueryBuilder<'static, Postgres>, table: &str, text: String) {
    sql.push(format!(
        " AND id IN (SELECT id FROM search_matches(ARRAY['{table}'], "
    ))
    .push_bind(text)
    .push(", false))");
}

/// A row that matched.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
pub struct SearchHit {
    /// The read table it is in: `calendar_events`, `people_directory`…
    pub source: String,
    /// The row's id in that table.
    pub id: Uuid,
    /// The type of the entity it shows.
    #[sqlx(try_from = "String")]
    pub entity_type: EntityType,
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
    #[graphql(complexity = "crate::page::cost(first, child_complexity)")]
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
    let hits = sqlx::query_as(SQL.as_str())
        .bind(request.caller.organization_id)
        .bind(text)
        .bind(first)
        .fetch_all(&mut *conn)
        .await?;
    Ok(hits)
}
