//! Relay connections over the read tables: one page of rows, fetched under
//! row-level security and ordered by a timestamp then the row id, forward
//! or backward from a cursor, with the count of every row the filter keeps
//! on demand (`totalCount`).

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::resolver_utils::ContainerType;
use async_graphql::{Context, ErrorExtensions, Object, OutputType};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder, Row};
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

/// A Relay connection of `T`, with opaque string cursors and `totalCount`;
/// its rows are resolved in one pass each ([`Flat`]).
pub type PageOf<T> = Connection<String, Flat<T>, Counted>;

/// The page a client asked for, in Relay's arguments.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Rows wanted from the start (or from `after`).
    pub first: Option<i32>,
    /// The cursor to start after.
    pub after: Option<String>,
    /// Rows wanted from the end (or from `before`), backward.
    pub last: Option<i32>,
    /// The cursor to end before.
    pub before: Option<String>,
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
pub trait Listed: Sized + Clone + Send + Sync + 'static {
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

    /// The row's text that the filter's `search` looks in, as
    /// `search_matches` indexes it (`migrations/0017_search_matches.sql`),
    /// for a list that has `search`.
    const SEARCHED: &'static str = "name";

    /// Takes the filter's `search` words out of it, if it has any.
    fn take_search(&mut self) -> Option<String> {
        None
    }
}

/// How many pages' worth of a list's rows [`probe`] looks at.
pub const PROBED_PAGES: i32 = 5;

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

    /// Runs it on `conn` as [`Statement::fetch_all`] does, giving the rows
    /// undecoded.
    async fn fetch_rows(&mut self, conn: &mut PgConnection) -> Result<Vec<PgRow>, sqlx::Error> {
        self.sql
            .build()
            .persistent(!self.planned_per_call)
            .fetch_all(conn)
            .await
    }
}

/// The statement for one `page` of `filter`'s list in `organization`, after
/// `head` (empty, or `EXPLAIN …` to see its plan). The page size is written
/// into the text, so that a generic plan knows how few rows it needs. A
/// backward page reads the index the other way from its cursor.
pub fn statement<F: Listed>(
    head: &str,
    filter: F,
    organization: Uuid,
    page: &Page,
) -> Result<Statement, ApiError> {
    let select = format!("{head}SELECT {}", F::COLUMNS);
    let Statement {
        mut sql,
        planned_per_call,
    } = matching(&select, filter, organization)?;
    push_page::<F>(&mut sql, page);
    Ok(Statement {
        sql,
        planned_per_call,
    })
}

/// The statement of one `page` of `filter`'s list that looks for the
/// filter's `search` words among the list's first [`PROBED_PAGES`] pages
/// (from the page's cursor), in the list's order, rather than through
/// `search_matches`, if the filter has words; after `head`, as
/// [`statement`]. Words most rows have (the three letters every invoice
/// number starts with) fill a page at once there, where `search_matches`
/// gathers each row that has them, all of an organization's, before the
/// page keeps a few. Each row looked at is tested as the word index finds
/// it (`migrations/0023_search_prefix_query.sql`); its rows are those that
/// matched (`matched`), and the last row looked at, matched or not, if the
/// look reached the end of those pages (`looked_at`). Its page is the page
/// if it is full, or if the look ended with the list: otherwise the words
/// are rarer than the look reached, and `search_matches`, whose index finds
/// rare words at once, must look further.
pub fn probe<F: Listed>(
    head: &str,
    mut filter: F,
    organization: Uuid,
    page: &Page,
) -> Result<Option<Statement>, ApiError> {
    let Some(words) = filter.take_search() else {
        return Ok(None);
    };
    let looked_at = Page {
        first: page.first.saturating_mul(PROBED_PAGES),
        ..*page
    };
    let direction = direction::<F>(page);
    let select = format!(
        "{head}SELECT * FROM (SELECT {}, {} AS searched, \
         row_number() OVER (ORDER BY {column} {direction}, id {direction}) AS looked_at",
        F::COLUMNS,
        F::SEARCHED,
        column = F::ORDER.column,
    );
    let Statement {
        mut sql,
        planned_per_call,
    } = matching(&select, filter, organization)?;
    push_page::<F>(&mut sql, &looked_at);
    // The words are made a query once. Text with no word in it makes no
    // query (NULL), and matches nothing, as in `search_matches`.
    sql.push(
        ") probed CROSS JOIN LATERAL (SELECT coalesce(to_tsvector('simple', searched) @@ \
         (SELECT search_prefix_query('', ",
    )
    .push_bind(words)
    .push(format!(
        ")), false) AS matched) tested WHERE matched OR looked_at = {}",
        looked_at.limit()
    ));
    push_order::<F>(&mut sql, page);
    Ok(Some(Statement {
        sql,
        planned_per_call,
    }))
}

/// What a page of a list runs: its [`probe`], if it has one, then, unless
/// that gave the page, its [`statement`].
pub struct PageStatements {
    probe: Option<Statement>,
    statement: Statement,
    limit: usize,
    looked_at: i64,
}

impl PageStatements {
    /// The statements of `page` of `filter`'s list in `organization`.
    pub fn new<F: Listed>(filter: F, organization: Uuid, page: &Page) -> Result<Self, ApiError> {
        Ok(PageStatements {
            probe: probe("", filter.clone(), organization, page)?,
            statement: statement("", filter, organization, page)?,
            limit: page.limit() as usize,
            looked_at: page.first.saturating_mul(PROBED_PAGES) as i64 + 1,
        })
    }

    /// The page's rows, read on `conn`.
    pub async fn fetch_all<T>(mut self, conn: &mut PgConnection) -> Result<Vec<T>, sqlx::Error>
    where
        T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        if let Some(probe) = &mut self.probe {
            let rows = probe.fetch_rows(&mut *conn).await?;
            let mut matched = Vec::with_capacity(rows.len());
            let mut ended_with_list = true;
            for row in &rows {
                if row.try_get::<i64, _>("looked_at")? == self.looked_at {
                    ended_with_list = false;
                }
                if row.try_get::<bool, _>("matched")? {
                    matched.push(T::from_row(row)?);
                }
            }
            if matched.len() == self.limit || ended_with_list {
                return Ok(matched);
            }
        }
        self.statement.fetch_all(conn).await
    }
}

/// Adds `page`'s cursors, order and size to a statement of `F`'s list.
fn push_page<F: Listed>(sql: &mut QueryBuilder<'static, Postgres>, page: &Page) {
    let order = F::ORDER;
    // The list's order, and the way a page is read: the other way round
    // when it is backward.
    let (beyond, behind) = if order.descending {
        ("<", ">")
    } else {
        (">", "<")
    };
    if let Some(after) = page.after {
        sql.push(format!(" AND ({}, id) {beyond} (", order.column))
            .push_bind(after.at)
            .push(", ")
            .push_bind(after.id)
            .push(")");
    }
    if let Some(before) = page.before {
        sql.push(format!(" AND ({}, id) {behind} (", order.column))
            .push_bind(before.at)
            .push(", ")
            .push_bind(before.id)
            .push(")");
    }
    push_order::<F>(sql, page);
}

/// The way `page` reads `F`'s list: the list's order, or, backward, the
/// other way round.
fn direction<F: Listed>(page: &Page) -> &'static str {
    match (page.backward, F::ORDER.descending) {
        (false, true) | (true, false) => "DESC",
        (false, false) | (true, true) => "ASC",
    }
}

/// Adds the order `page` reads `F`'s list in, and its size.
fn push_order<F: Listed>(sql: &mut QueryBuilder<'static, Postgres>, page: &Page) {
    let order = F::ORDER;
    let direction = direction::<F>(page);
    sql.push(format!(
        " ORDER BY {column} {direction}, id {direction} LIMIT {limit}",
        column = order.column,
        limit = page.limit()
    ));
}

/// `select` of the rows of `filter`'s list in `organization`, in no order:
/// a page's statement before its cursors and order, or its count.
fn matching<F: Listed>(select: &str, filter: F, organization: Uuid) -> Result<Statement, ApiError> {
    let mut sql = QueryBuilder::new(format!(
        "{select} FROM {} WHERE organization_id = ",
        F::TABLE
    ));
    sql.push_bind(organization);
    let unfiltered = sql.sql().len();
    let ordered = filter.ordered();
    filter.push(&mut sql)?;
    let planned_per_call = sql.sql().len() > unfiltered && !ordered;
    Ok(Statement {
        sql,
        planned_per_call,
    })
}

/// The statement counting the rows of `filter`'s list in `organization`
/// that the caller on the connection it runs on may see.
pub fn count_statement<F: Listed>(filter: F, organization: Uuid) -> Result<Statement, ApiError> {
    matching("SELECT count(*)", filter, organization)
}

/// A connection's `totalCount`, counted only when asked for.
#[derive(Clone)]
pub struct Counted {
    statement: Arc<dyn Fn() -> Result<Statement, ApiError> + Send + Sync>,
}

#[Object]
impl Counted {
    /// How many rows the filter keeps in all, on every page. Counting reads
    /// each of them (an index range under row-level security), so it costs
    /// what the whole list would rather than one page: ask for it when a
    /// screen shows it, not on every page.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let run = async {
            let request = Request::of(ctx)?;
            let mut statement = (self.statement)()?;
            let mut conn = request.read().await?;
            let count: i64 = statement
                .sql
                .build_query_scalar()
                .persistent(false)
                .fetch_one(&mut *conn)
                .await?;
            Ok(count)
        };
        run.await.map_err(|e: ApiError| e.extend())
    }
}

/// One page of `filter`'s list as `request`'s caller sees it, after its
/// table has reached the position asked for.
pub async fn fetch<F: Listed>(
    request: &Request,
    filter: F,
    listing: Listing,
) -> Result<PageOf<F::Row>, ApiError> {
    let page = Page::relay(
        listing.first,
        listing.after.as_deref(),
        listing.last,
        listing.before.as_deref(),
    )?;
    let organization = request.caller.organization_id;
    let statements = PageStatements::new(filter.clone(), organization, &page)?;
    request.wait_for(F::TABLE, listing.after_position).await?;
    let mut conn = request.read().await?;
    let rows: Vec<F::Row> = statements.fetch_all(&mut conn).await?;
    let counted = Counted {
        statement: Arc::new(move || count_statement(filter.clone(), organization)),
    };
    Ok(page_of(rows, page, counted))
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

/// The connection of `rows`, fetched with `page.limit()` in the order
/// `page` reads: the extra row, if any, only says that more rows lie that
/// way. A backward page's rows are put back in the list's order.
pub fn page_of<T: Paged + ContainerType + OutputType>(
    mut rows: Vec<T>,
    page: Page,
    counted: Counted,
) -> PageOf<T> {
    let more = rows.len() > page.first as usize;
    rows.truncate(page.first as usize);
    let (has_previous, has_next) = if page.backward {
        rows.reverse();
        (more, page.before.is_some())
    } else {
        (page.after.is_some(), more)
    };
    let mut connection = Connection::with_additional_fields(has_previous, has_next, counted);
    connection.edges.extend(
        rows.into_iter()
            .map(|row| Edge::new(row.cursor().encode(), Flat(row))),
    );
    connection
}
