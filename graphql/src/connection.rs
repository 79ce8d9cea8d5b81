//! Relay connections over the read tables: one page of rows, fetched under
//! row-level security and ordered by a timestamp then the row id.

use async_graphql::connection::{Connection, Edge};
use async_graphql::resolver_utils::ContainerType;
use async_graphql::{Context, ErrorExtensions, OutputType};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::error::ApiError;
use crate::flat::Flat;
use crate::page::{Cursor, Page};
use crate::request::Request;

/// A row that can be paged through: it knows its own cursor.
pub trait Paged {
    /// Where the next page starts, when this row is the last of a page.
    fn cursor(&self) -> Cursor;
}

/// A Relay connection of `T`, with opaque string cursors; its rows are
/// resolved in one pass each ([`Flat`]).
pub type PageOf<T> = Connection<String, Flat<T>>;

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
/// Each connection's table has an index in exactly this order after
/// `organization_id` (`migrations/0015_connection_order.sql`), so a page is
/// read in index order and stops after its rows.
#[derive(Debug, Clone, Copy)]
pub struct Order {
    /// The timestamp column.
    pub column: &'static str,
    /// Newest first.
    pub descending: bool,
}

/// A list the API pages through, implemented by its filter: the table it
/// reads, the columns of its rows, its order, and how the filter narrows it.
/// The resolvers, the plan test and the benchmarks build a page's statement
/// from it ([`statement`]), so all three run the same SQL.
pub trait Listed: Sized {
    /// The rows listed.
    type Row: for<'r> FromRow<'r, PgRow> + Send + Unpin + Paged + ContainerType + OutputType;
    /// The read table, also the projection that writes it.
    const TABLE: &'static str;
    /// The columns of a [`Listed::Row`].
    const COLUMNS: &'static str;
    /// The list's order.
    const ORDER: Order;

    /// Adds the filter's conditions to `sql`, a query of [`Listed::TABLE`]
    /// whose `WHERE` already names the organization.
    fn push(self, sql: &mut QueryBuilder<'static, Postgres>) -> Result<(), ApiError>;

    /// Whether an index reads what this filter keeps in the list's order
    /// (it leads with `organization_id` and the filtered column, then the
    /// order's columns), so that one plan, made without the values, reads a
    /// page and stops whatever they are. Its pages are then prepared once
    /// per connection instead of planned at every call, which cost more
    /// than reading the page. The plan test holds each filter that says so
    /// to a generic plan that reads no more than its pages and sorts
    /// nothing.
    fn ordered(&self) -> bool {
        false
    }
}

/// The statement for one page of a list.
pub struct Statement {
    /// The SQL and its parameters.
    pub sql: QueryBuilder<'static, Postgres>,
    /// Whether it is planned for its values on every call rather than
    /// prepared once with a generic plan. A page with a filter no index
    /// reads in the list's order is: the rows such a filter keeps depend on
    /// its value (one client holds most of an organization's invoices,
    /// another none), and a generic plan guesses them, sorting most of the
    /// organization where an ordered read would have stopped after a page.
    /// A page with no filter, or one that is [`Listed::ordered`], is one
    /// index range read in order whatever the values, so its plan is made
    /// once per connection.
    pub planned_per_call: bool,
}

impl Statement {
    /// Runs it on `conn`, prepared or planned for its values as
    /// [`Statement::planned_per_call`] says: an unnamed statement is planned
    /// each time it is sent (the read connections' `plan_cache_mode` is
    /// `auto`).
    pub async fn fetch_all<T>(&mut self, conn: &mut PgConnection) -> Result<Vec<T>, sqlx::Error>
    where
        T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        self.sql
            .build_query_as()
            .persistent(!self.planned_per_call)
            .fetch_all(conn)
            .await
    }
}

/// The statement for one `page` of `filter`'s list in `organization`, after
/// `head` (empty, or `EXPLAIN …` to see its plan). The page size is written
/// into the text, so that a generic plan knows how few rows it needs.
pub fn statement<F: Listed>(
    head: &str,
    filter: F,
    organization: Uuid,
    page: &Page,
) -> Result<Statement, ApiError> {
    let mut sql = QueryBuilder::new(format!(
        "{head}SELECT {} FROM {} WHERE organization_id = ",
        F::COLUMNS,
        F::TABLE
    ));
    sql.push_bind(organization);
    let unfiltered = sql.sql().len();
    let ordered = filter.ordered();
    filter.push(&mut sql)?;
    let planned_per_call = sql.sql().len() > unfiltered && !ordered;
    let order = F::ORDER;
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
        " ORDER BY {column} {direction}, id {direction} LIMIT {limit}",
        column = order.column,
        limit = page.limit()
    ));
    Ok(Statement {
        sql,
        planned_per_call,
    })
}

/// One page of `filter`'s list as `request`'s caller sees it, after its
/// table has reached the position asked for.
pub async fn fetch<F: Listed>(
    request: &Request,
    filter: F,
    listing: Listing,
) -> Result<PageOf<F::Row>, ApiError> {
    let page = Page::new(listing.first, listing.after.as_deref())?;
    let mut statement = statement("", filter, request.caller.organization_id, &page)?;
    request.wait_for(F::TABLE, listing.after_position).await?;
    let mut conn = request.read().await?;
    let rows: Vec<F::Row> = statement.fetch_all(&mut conn).await?;
    Ok(page_of(rows, page))
}

/// A list's resolver: one page of `filter`'s list for the caller of `ctx`,
/// its errors with their GraphQL codes.
pub async fn resolve<F: Listed + Default>(
    ctx: &Context<'_>,
    filter: Option<F>,
    listing: Listing,
) -> async_graphql::Result<PageOf<F::Row>> {
    let request = Request::of(ctx).map_err(|e| e.extend())?;
    fetch(request, filter.unwrap_or_default(), listing)
        .await
        .map_err(|e| e.extend())
}

/// The connection of `rows`, fetched with `page.limit()`: the extra row, if
/// any, only says that a next page exists.
pub fn page_of<T: Paged + ContainerType + OutputType>(mut rows: Vec<T>, page: Page) -> PageOf<T> {
    let has_next = rows.len() > page.first as usize;
    rows.truncate(page.first as usize);
    let mut connection = Connection::new(page.after.is_some(), has_next);
    connection.edges.extend(
        rows.into_iter()
            .map(|row| Edge::new(row.cursor().encode(), Flat(row))),
    );
    connection
}
