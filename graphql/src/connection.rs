//! Turning a fetched page of rows into a Relay connection.

use async_graphql::connection::{Connection, Edge};
use async_graphql::OutputType;

use crate::page::{Cursor, Page};

/// A row that can be paged through: it knows its own cursor.
pub trait Paged {
    /// Where the next page starts, when this row is the last of a page.
    fn cursor(&self) -> Cursor;
}

/// A Relay connection of `T`, with opaque string cursors.
pub type PageOf<T> = Connection<String, T>;

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
