//! Checks on every value a request passes in, before any resolver runs and
//! so before any of it reaches SQL: PostgreSQL cannot store a NUL
//! character, nor a time outside its range, and either would otherwise come
//! back as an internal error instead of the caller's mistake.

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Value, Variables};
use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::error::ApiError;

/// The earliest year PostgreSQL's `timestamptz` and `date` hold (4713 BC).
const FIRST_YEAR: i32 = -4712;
/// The latest year PostgreSQL's `timestamptz` holds.
const LAST_YEAR: i32 = 294_276;

/// Whether PostgreSQL can hold `time`.
pub fn time_in_range(time: &DateTime<Utc>) -> bool {
    (FIRST_YEAR..=LAST_YEAR).contains(&time.year())
}

/// What is wrong with one value, if anything.
fn check_text(text: &str) -> Result<(), ApiError> {
    if text.contains('\0') {
        return Err(ApiError::BadUserInput(
            "a value contains a NUL character".into(),
        ));
    }
    let year = text
        .parse::<DateTime<Utc>>()
        .map(|time| time.year())
        .or_else(|_| text.parse::<NaiveDate>().map(|date| date.year()));
    if let Ok(year) = year {
        if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
            return Err(ApiError::BadUserInput(format!(
                "`{text}` is out of range: times run from 4713 BC to {LAST_YEAR} AD"
            )));
        }
    }
    Ok(())
}

fn check_value(value: &Value) -> Result<(), ApiError> {
    match value {
        Value::String(text) => check_text(text),
        Value::List(items) => items.iter().try_for_each(check_value),
        Value::Object(fields) => fields.values().try_for_each(check_value),
        _ => Ok(()),
    }
}

fn check_selections(set: &SelectionSet) -> Result<(), ApiError> {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                for (_, value) in &field.node.arguments {
                    // Variables are checked on their own; literals here.
                    if let Ok(value) = value.node.clone().into_const_with(|_| Err(())) {
                        check_value(&value)?;
                    }
                }
                check_selections(&field.node.selection_set.node)?;
            }
            Selection::InlineFragment(fragment) => {
                check_selections(&fragment.node.selection_set.node)?;
            }
            Selection::FragmentSpread(_) => {}
        }
    }
    Ok(())
}

/// What is wrong with a value of `document` or of its `variables`, if
/// anything.
pub(crate) fn check_document(
    document: &ExecutableDocument,
    variables: &Variables,
) -> Result<(), ApiError> {
    for value in variables.values() {
        check_value(value)?;
    }
    for (_, operation) in document.operations.iter() {
        check_selections(&operation.node.selection_set.node)?;
    }
    for fragment in document.fragments.values() {
        check_selections(&fragment.node.selection_set.node)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_and_far_times_are_refused_and_the_rest_passes() {
        assert!(check_text("Carol").is_ok());
        assert!(check_text("Car\0ol").is_err());
        assert!(check_text("2027-01-01T00:00:00Z").is_ok());
        assert!(check_text("-200000-01-01T00:00:00Z").is_err());
        assert!(check_text("-200000-01-01").is_err());
        assert!(check_text("1900-02-03").is_ok());
    }
}
