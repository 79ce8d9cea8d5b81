//! Helpers for tests of the read side: catching projections up, reading rows
//! back, rebuilding from scratch.

use std::time::Duration;

use chrono::{DateTime, Utc};
use foldline_projectors::rebuild::{rebuild, rebuild_in_place, Target};
use foldline_projectors::{Engine, Projection};
use serde_json::Value;

use crate::TestDb;

/// How long a test waits for a projection: other tests' open transactions on
/// the same server may hold the feed back a moment.
pub const WAIT: Duration = Duration::from_secs(30);

/// A time from its RFC 3339 text.
pub fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 time")
}

/// The global position of the last event appended so far (0 when none).
pub async fn last_position(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT coalesce(max(global_position), 0) FROM events")
        .fetch_one(&db.pool)
        .await
        .expect("last position")
}

/// Catches each of `projections` up to the last event appended so far.
pub async fn catch_up(db: &TestDb, engine: &Engine, projections: &[&dyn Projection]) {
    let last = last_position(db).await;
    for projection in projections {
        engine
            .catch_up_to(*projection, last, WAIT)
            .await
            .expect("catch up");
    }
}

/// Catches every projection up to the last event appended so far.
pub async fn catch_up_all(db: &TestDb, engine: &Engine) {
    let all = foldline_projectors::all();
    let projections: Vec<&dyn Projection> = all.iter().map(|p| p.as_ref()).collect();
    catch_up(db, engine, &projections).await;
}

/// The row of `table` with `external_id`, as JSON.
pub async fn row_json(db: &TestDb, table: &str, external_id: &str) -> Option<Value> {
    sqlx::query_scalar(&format!(
        "SELECT to_jsonb(t) FROM {table} t WHERE external_id = $1"
    ))
    .bind(external_id)
    .fetch_optional(&db.pool)
    .await
    .expect("row")
}

/// Every row of `table` as one JSON array, in a stable order.
pub async fn table_json(db: &TestDb, table: &str) -> Value {
    sqlx::query_scalar(&format!(
        "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY to_jsonb(t)::text), '[]') FROM {table} t"
    ))
    .fetch_one(&db.pool)
    .await
    .expect("table rows")
}

/// Rebuilds `projection` from scratch, in place, in batches of `batch`
/// events, and checks it replayed every event in the store.
pub async fn rebuild_from_scratch(db: &TestDb, projection: &dyn Projection, batch: i64) {
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&db.pool)
        .await
        .expect("event count");
    let name = projection.name();
    let projection = foldline_projectors::by_name(name).expect("a known projection");
    let applied = rebuild_in_place(&db.pool, projection, batch, &|_, _| {})
        .await
        .expect("rebuild");
    assert_eq!(applied, events as u64, "{name} replayed the whole store");
}

/// Every read table's rows, in a stable order.
pub async fn snapshot(db: &TestDb) -> Vec<(String, Value)> {
    let mut tables = Vec::new();
    for projection in foldline_projectors::all() {
        for table in projection.tables() {
            tables.push((table.to_string(), table_json(db, table).await));
        }
    }
    tables
}

/// Fails on the first table whose rows differ between two snapshots.
pub fn assert_same(live: &[(String, Value)], rebuilt: &[(String, Value)]) {
    for ((table, expected), (_, actual)) in live.iter().zip(rebuilt) {
        assert_eq!(expected, actual, "{table} differs after the rebuild");
    }
}

/// Rebuilds every projection from scratch, in place, in batches of `batch`
/// events, and fails on the first table whose rows differ from what the
/// live projections had made; `context` prefixes the failure.
pub async fn assert_rebuild_equals_live(db: &TestDb, batch: i64, context: &str) {
    let live = snapshot(db).await;
    let quiet = |_: u64, _: u64| {};
    rebuild(
        &db.pool,
        &foldline_projectors::all(),
        Target::InPlace,
        batch,
        &quiet,
    )
    .await
    .expect("rebuild in place");
    let rebuilt = snapshot(db).await;
    for ((table, expected), (_, actual)) in live.iter().zip(&rebuilt) {
        assert_eq!(
            expected, actual,
            "{context}{table} differs after the rebuild"
        );
    }
}

/// The status tracker's row of `entity`: its current and previous status and
/// its name.
pub async fn status_of(db: &TestDb, entity: uuid::Uuid) -> (String, Option<String>, String) {
    sqlx::query_as(
        "SELECT current_status, previous_status, entity_name FROM status_tracker
         WHERE entity_id = $1",
    )
    .bind(entity)
    .fetch_one(&db.pool)
    .await
    .expect("a status row")
}
