//! What a command's text may hold, checked by the bus for every command
//! before anything is read: a name that no read table can index, or a NUL
//! that PostgreSQL cannot store, is refused at the door rather than
//! appended for ever to the store, where no projection could apply it.

use serde::Serialize;
use serde_json::Value;

use crate::error::DomainError;

/// The most bytes of a short text: a name, a title, an email, a code. Short
/// texts are indexed (a B-tree entry holds at most 2,704 bytes).
pub const SHORT_TEXT_BYTES: usize = 1_000;
/// The most bytes of a long text: a description, a comment's body, notes.
pub const LONG_TEXT_BYTES: usize = 50_000;
/// The most bytes of a URL.
pub const URL_BYTES: usize = 4_096;

/// Fields that hold prose, and may be long; none of them is indexed but by
/// full-text search, which skips overlong words.
const LONG_TEXT: [&str; 7] = [
    "description",
    "body",
    "notes",
    "reason",
    "rejection_reason",
    "blocked_reason",
    "summary",
];

/// Fields that hold a URL.
const URLS: [&str; 3] = ["url", "document_url", "website"];

/// The most bytes `field` may hold.
pub fn limit_of(field: &str) -> usize {
    if LONG_TEXT.contains(&field) {
        LONG_TEXT_BYTES
    } else if URLS.contains(&field) {
        URL_BYTES
    } else {
        SHORT_TEXT_BYTES
    }
}

/// Refuses a command with a text over its field's limit or with a NUL
/// character, naming the field and giving its path.
pub fn check(command: &impl Serialize) -> Result<(), DomainError> {
    let value = serde_json::to_value(command).map_err(|error| {
        DomainError::invalid(format!("the command does not serialize: {error}"))
    })?;
    check_value(&value, "", "")
}

/// Checks `value`, the field `name` at `path`. Serde writes the enums a
/// command is wrapped in (`Invoice`, `DraftInvoice`) as keys in CamelCase
/// and fields in snake_case, so the wrappers are left out of the path.
fn check_value(value: &Value, path: &str, name: &str) -> Result<(), DomainError> {
    match value {
        Value::String(text) => {
            if text.contains('\0') {
                return Err(DomainError::field(
                    path,
                    format!("`{name}` contains a NUL character"),
                ));
            }
            let limit = limit_of(name);
            if text.len() > limit {
                return Err(DomainError::field(
                    path,
                    format!(
                        "`{name}` is {} bytes long; at most {limit} are allowed",
                        text.len()
                    ),
                ));
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(index, item)| check_value(item, &format!("{path}.{index}"), name)),
        Value::Object(fields) => fields.iter().try_for_each(|(key, value)| {
            if key.starts_with(|c: char| c.is_ascii_uppercase()) {
                check_value(value, path, name)
            } else if path.is_empty() {
                check_value(value, key, key)
            } else {
                check_value(value, &format!("{path}.{key}"), key)
            }
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_and_long_texts_have_their_limits() {
        let name = "n".repeat(SHORT_TEXT_BYTES);
        assert!(check(&json!({"AddContact": {"name": name}})).is_ok());
        let error = check(&json!({"AddContact": {"name": format!("{name}n")}})).unwrap_err();
        assert!(
            error.to_string().contains("`name` is 1001 bytes"),
            "{error}"
        );
        let body = "b".repeat(LONG_TEXT_BYTES);
        assert!(check(&json!({"AddComment": {"body": body}})).is_ok());
        assert!(check(&json!({"AddComment": {"body": format!("{body}b")}})).is_err());
    }

    #[test]
    fn a_nul_anywhere_is_refused_with_its_field() {
        let error = check(&json!({"Inner": {"X": {"items": [{"title": "a\u{0}b"}]}}})).unwrap_err();
        assert!(
            error.to_string().contains("`title` contains a NUL"),
            "{error}"
        );
        assert!(
            matches!(&error, DomainError::InvalidField { field, .. } if field == "items.0.title"),
            "{error:?}"
        );
    }

    #[test]
    fn bytes_are_counted_not_characters() {
        // 400 four-byte characters: 1,600 bytes.
        let name = "🎭".repeat(400);
        assert!(check(&json!({"X": {"name": name}})).is_err());
    }
}
