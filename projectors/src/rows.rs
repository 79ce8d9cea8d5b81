//! How read-table rows are identified.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Namespace of read-table row ids.
const ROWS: Uuid = Uuid::from_u128(0x6f6c_646c_696e_6552_6f77_7349_6473_0001);

/// A row's id, derived from its external id so that a rebuild gives every row
/// the id it had.
pub fn row_id(external_id: &str) -> Uuid {
    Uuid::new_v5(&ROWS, external_id.as_bytes())
}

/// The columns every read table has, for one batch's rows, column by column.
#[derive(Debug, Default)]
pub struct Standard {
    /// Row ids, derived from the external ids.
    pub id: Vec<Uuid>,
    /// Tenants.
    pub organization_id: Vec<Uuid>,
    /// Visibilities, by name.
    pub visibility: Vec<&'static str>,
    /// Owners of the source entities.
    pub owner_id: Vec<Option<Uuid>>,
    /// Upsert keys, `entity_type:entity_id[:suffix]`.
    pub external_id: Vec<String>,
    /// When each row's source began.
    pub created_at: Vec<DateTime<Utc>>,
    /// When each row's source last changed.
    pub updated_at: Vec<DateTime<Utc>>,
    /// The global position of the last event that touched each row.
    pub last_position: Vec<i64>,
}

/// One row's standard columns.
#[derive(Debug)]
pub struct Stamp {
    /// Its upsert key; its id is derived from it.
    pub external_id: String,
    /// Its tenant.
    pub organization_id: Uuid,
    /// Its visibility, by name.
    pub visibility: &'static str,
    /// The source entity's owner.
    pub owner_id: Option<Uuid>,
    /// When its source began.
    pub created_at: DateTime<Utc>,
    /// When its source last changed.
    pub updated_at: DateTime<Utc>,
    /// The global position of the last event that touched it.
    pub last_position: i64,
}

impl Standard {
    /// Adds one row's standard columns.
    pub fn push(&mut self, stamp: Stamp) {
        self.id.push(row_id(&stamp.external_id));
        self.organization_id.push(stamp.organization_id);
        self.visibility.push(stamp.visibility);
        self.owner_id.push(stamp.owner_id);
        self.external_id.push(stamp.external_id);
        self.created_at.push(stamp.created_at);
        self.updated_at.push(stamp.updated_at);
        self.last_position.push(stamp.last_position);
    }

    /// Whether the batch writes no row.
    pub fn is_empty(&self) -> bool {
        self.id.is_empty()
    }
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
    foldline_aggregates::stored_name::name_of(&value).ok()
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
