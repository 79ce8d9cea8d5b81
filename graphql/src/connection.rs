//! Relay connections over the read tables: one page of rows, fetched under
//! row-level security and ordered by a timestamp then the row id.

use async_graphql::connection::{Connection, Edge};
use async_graphql::OutputType;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, Postgres, QueryBuilder};

use crate::error::ApiError;
use crate::page::{Cursor, Page};
use crate::request::Request;

/// A row that can be paged through: it knows its own cursor.
pub trait Paged {
    /// Where the next page starts, when this row is the last of a page.
    fn cursor(&self) -> Cursor;
}

/// A Relay connection of `T`, with opaque string cursors.
pub type PageOf<T> = Connection<String, T>;

/// The page a client asked for.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Rows wanted.
    pub first: Option<i32>,
    /// The cursor to start after.
    pub after: Option<String>,
    /// Wait until the table shows the event at this position.
    pub after_position: Option<i64>,
}

/// How a connection is ordered: by `column` (a timestamp), then by id.
#[derive(Debug, Clone, Copy)]
pub struct Order {
    /// The timestamp column.
    pub column: &'static str,
    /// Newest first.
    pub descending: bool,
}

/// Runs `sql` (a `SELECT … WHERE …` with the filters pushed) for one page of
/// `listing` in `order`, after `projection` has reached the position asked for.
pub async fn fetch<T>(
    request: &Request,
    projection: &str,
    listing: Listing,
    mut sql: QueryBuilder<'_, Postgres>,
    order: Order,
) -> Result<PageOf<T>, ApiError>
where
    T: for<'r> FromRow<'r, PgRow> + Send + Unpin + Paged + OutputType,
{
    let page = Page::new(listing.first, listing.after.as_deref())?;
    request.wait_for(projection, listing.after_position).await?;
    let (direction, beyond) = if order.descending {
        ("DESC", "<")
    } else {
        ("ASC", ">")
    };
    if let Some(after) = page.after {
        sql.push(format!(" AND ({}, id) {beyond} (", order.column))
            .push_bind(after.at)
            .push(", ")
            .push_bind(after.id)
            .push(")");
    }
    sql.push(format!(
        " ORDER BY {} {direction}, id {direction} LIMIT ",
        order.column
    ))
    .push_bind(page.limit());
    let mut conn = request.read().await?;
    let rows: Vec<T> = sql.build_query_as().fetch_all(&mut *conn).await?;
    Ok(page_of(rows, page))
}

/// The connection of `rows`, fetched with `page.limit()`: the extra row, if
/// any, only says that a next page exists.
pub fn page_of<T: Paged + OutputType>(mut rows: Vec<T>, page: Page) -> PageOf<T> {
    let has_next = rows.len() > page.first as usize;
    rows.truncate(page.first as usize);
    let mut connection = Connection::new(page.after.is_some(), has_next);
    connection.edges.extend(
        rows.into_iter()
            .map(|row| Edge::new(row.cursor().encode(), row)),
    );
    connection
}
