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
fn check_text(text: &str) -> Result<(), String> {
    if text.contains('\0') {
        return Err("a value contains a NUL character".into());
    }
    let year = text
        .parse::<DateTime<Utc>>()
        .map(|time| time.year())
        .or_else(|_| text.parse::<NaiveDate>().map(|date| date.year()));
    if let Ok(year) = year {
        if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
            return Err(format!(
                "`{text}` is out of range: times run from 4713 BC to {LAST_YEAR} AD"
            ));
        }
    }
    Ok(())
}

/// Checks `value`, found at `path`: an argument's name (`input.title`) or
/// a variable's (`$input.title`), then its fields and list indices.
fn check_value(value: &Value, path: &str) -> Result<(), ApiError> {
    match value {
        Value::String(text) => check_text(text).map_err(|message| ApiError::BadField {
            field: path.to_owned(),
            message,
        }),
        Value::List(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(index, item)| check_value(item, &format!("{path}.{index}"))),
        Value::Object(fields) => fields
            .iter()
            .try_for_each(|(name, value)| check_value(value, &format!("{path}.{name}"))),
        _ => Ok(()),
    }
}

fn check_selections(set: &SelectionSet) -> Result<(), ApiError> {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                for (name, value) in &field.node.arguments {
                    // Variables are checked on their own; literals here.
                    if let Ok(value) = value.node.clone().into_const_with(|_| Err(())) {
                        check_value(&value, &name.node)?;
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
    for (name, value) in variables.iter() {
        check_value(value, &format!("${name}"))?;
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
