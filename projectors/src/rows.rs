//! How read-table rows are identified.

use uuid::Uuid;

/// Namespace of read-table row ids.
const ROWS: Uuid = Uuid::from_u128(0x6f6c_646c_696e_6552_6f77_7349_6473_0001);

/// A row's id, derived from its external id so that a rebuild gives every row
/// the id it had.
pub fn row_id(external_id: &str) -> Uuid {
    Uuid::new_v5(&ROWS, external_id.as_bytes())
}

/// Deletes the rows of `table` with the given external ids: those whose
/// entity was deleted or no longer has what the row showed.
pub async fn remove_rows(
    conn: &mut sqlx::PgConnection,
    table: &str,
    external_ids: &[String],
) -> Result<(), sqlx::Error> {
    if !external_ids.is_empty() {
        sqlx::query(&format!("DELETE FROM {table} WHERE external_id = ANY($1)"))
            .bind(external_ids)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// The name serde gives a unit enum value (`in_progress`), for text columns.
pub fn name_of(value: impl serde::Serialize) -> Option<String> {
    match serde_json::to_value(value).ok()? {
        serde_json::Value::String(name) => Some(name),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(row_id("Task:1"), row_id("Task:1"));
        assert_ne!(row_id("Task:1"), row_id("Task:1:due"));
    }

    #[test]
    fn names_follow_serde() {
        assert_eq!(
            name_of(foldline_aggregates::task::TaskStatus::InProgress).as_deref(),
            Some("in_progress")
        );
    }
}
