//! Relay pagination: `first` capped, opaque keyset cursors (never OFFSET).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::ApiError;

/// The most rows a page may hold.
pub const MAX_PAGE: i32 = 100;
/// A page's size when `first` is not given.
pub const DEFAULT_PAGE: i32 = 20;

/// What a paged field costs toward a query's complexity limit: what it
/// asks for of each row, times the rows it may return (`first`, or the
/// default; out-of-range values are refused when the field runs).
pub fn cost(first: Option<i32>, child_complexity: usize) -> usize {
    let rows = first.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE) as usize;
    rows.saturating_mul(child_complexity).saturating_add(1)
}

/// Where a page starts: after the row with this sort key and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The sort column's value.
    pub at: DateTime<Utc>,
    /// The row id, breaking ties.
    pub id: Uuid,
}

impl Cursor {
    /// The opaque form clients pass back.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}|{}", self.at.timestamp_micros(), self.id))
    }

    /// Reads a cursor a client passed back.
    pub fn decode(text: &str) -> Result<Cursor, ApiError> {
        let invalid = || ApiError::BadUserInput(format!("`{text}` is not a cursor of this list"));
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (micros, id) = text.split_once('|').ok_or_else(invalid)?;
        let micros: i64 = micros.parse().map_err(|_| invalid())?;
        let at = DateTime::from_timestamp_micros(micros)
            .filter(crate::input_checks::time_in_range)
            .ok_or_else(invalid)?;
        Ok(Cursor {
            at,
            id: id.parse().map_err(|_| invalid())?,
        })
    }
}

/// A validated page request: how many rows, from which end, between which
/// cursors. Forward (`first`/`after`) reads in the list's order; backward
/// (`last`/`before`) reads the other way from `before` and gives its rows
/// back in the list's order, as Relay specifies.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// Rows wanted.
    pub first: i32,
    /// Start after this row.
    pub after: Option<Cursor>,
    /// End before this row.
    pub before: Option<Cursor>,
    /// Whether the page is the last `first` rows before `before` (or of the
    /// list), rather than the first ones after `after`.
    pub backward: bool,
}

impl Page {
    /// Checks `first` (1 to [`MAX_PAGE`]) and `after`, for a forward page.
    pub fn new(first: Option<i32>, after: Option<&str>) -> Result<Page, ApiError> {
        Ok(Page::forward(
            size("first", first)?,
            after.map(Cursor::decode).transpose()?,
        ))
    }

    /// The first `first` rows after `after`.
    pub fn forward(first: i32, after: Option<Cursor>) -> Page {
        Page {
            first,
            after,
            before: None,
            backward: false,
        }
    }

    /// Checks Relay's four arguments: `first` or `last` (not both; 1 to
    /// [`MAX_PAGE`], [`DEFAULT_PAGE`] when neither), `after` and `before`.
    pub fn relay(
        first: Option<i32>,
        after: Option<&str>,
        last: Option<i32>,
        before: Option<&str>,
    ) -> Result<Page, ApiError> {
        let (first, backward) = match (first, last) {
            (Some(_), Some(_)) => {
                return Err(ApiError::BadUserInput(
                    "give `first` or `last`, not both".into(),
                ))
            }
            (_, Some(last)) => (size("last", Some(last))?, true),
            (first, None) => (size("first", first)?, false),
        };
        Ok(Page {
            first,
            after: after.map(Cursor::decode).transpose()?,
            before: before.map(Cursor::decode).transpose()?,
            backward,
        })
    }

    /// Rows to fetch: one more than wanted tells whether a next page exists.
    pub fn limit(&self) -> i64 {
        i64::from(self.first) + 1
    }
}

/// A page size given as `name`: 1 to [`MAX_PAGE`], [`DEFAULT_PAGE`] when
/// not given.
fn size(name: &str, given: Option<i32>) -> Result<i32, ApiError> {
    let size = given.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&size) {
        return Err(ApiError::BadUserInput(format!(
            "`{name}` must be between 1 and {MAX_PAGE}, not {size}"
        )));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paged_field_costs_what_it_asks_of_each_row_it_may_return() {
        // Twelve fields below a page of the default size.
        assert_eq!(cost(None, 12), 20 * 12 + 1);
        assert_eq!(cost(Some(100), 12), 100 * 12 + 1);
        // Out of range `first` is refused when the field runs; until then
        // it counts as the nearest size a page can have.
        assert_eq!(cost(Some(1_000_000), 12), 100 * 12 + 1);
        assert_eq!(cost(Some(-5), 12), 12 + 1);
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = Cursor {
            at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        assert!(Cursor::decode("not a cursor").is_err());
        assert!(Page::new(Some(101), None).is_err());
        assert!(Page::new(Some(0), None).is_err());
        assert_eq!(Page::new(None, None).unwrap().first, DEFAULT_PAGE);
        assert!(Page::relay(Some(5), None, Some(5), None).is_err());
        assert!(Page::relay(None, None, Some(101), None).is_err());
        let backward = Page::relay(None, None, Some(7), Some(&cursor.encode())).unwrap();
        assert!(backward.backward);
        assert_eq!((backward.first, backward.before), (7, Some(cursor)));
    }
}
