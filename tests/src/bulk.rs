//! Large event stores for benchmarks, fast: events written once through the
//! command bus are appended again in bulk as copies, each with every id
//! (organizations, users, aggregates, references, correlation ids) mapped to
//! a new one of its own, so a copy is another set of organizations with the
//! same realistic history.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use foldline_projectors::rebuild::{rebuild, Target};

use crate::workload::iteration;
use crate::{Org, TestDb};

/// Fills `db` with about `wanted` events: at most `base` written by eight
/// clients running the workload in `org` through the command bus, the rest
/// bulk copies of those, each copy another organization. Returns the
/// number of events in the store; says what it did on stdout.
pub async fn fill(db: &TestDb, org: &Org, wanted: i64, base: i64) -> i64 {
    let started = Instant::now();
    let clients = 8;
    let per_iteration = 39;
    let iterations = (wanted.min(base) as usize).div_ceil(per_iteration * clients);
    let bus = Arc::new(db.bus());
    let org = *org;
    let mut tasks = Vec::new();
    for client in 0..clients {
        let bus = bus.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..iterations {
                for step in iteration(&org, 0, client, n) {
                    bus.dispatch(&org.request(step.actor), step.id, step.command, None)
                        .await
                        .expect("workload command");
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("client");
    }
    let generated = db.event_count().await;
    println!(
        "generated {generated} events through the command bus in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let copies = (wanted as usize).div_ceil(generated as usize) - 1;
    if copies > 0 {
        let started = Instant::now();
        let appended = replicate(&db.pool, copies).await.expect("bulk copies");
        println!(
            "appended {appended} more events as {copies} copies in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    sqlx::query("VACUUM ANALYZE events")
        .execute(&db.pool)
        .await
        .expect("vacuum");
    db.event_count().await
}

/// A store of about `wanted` events over `organizations` organizations
/// (one through the command bus, the others bulk copies of it), projected
/// into the nine tables, vacuumed, analyzed and checkpointed: what the read
/// benchmarks measure. With `BENCH_REUSE=1` the database is kept under a
/// name of its size and reused by the next run that asks for the same size
/// (rebuilt if that run finds it unfinished).
pub async fn projected_store(wanted: i64, organizations: i64) -> TestDb {
    let reuse = std::env::var("BENCH_REUSE").is_ok_and(|v| v == "1");
    let db = if reuse {
        let name = format!("foldline_bench_{wanted}_{organizations}");
        let (mut db, fresh) = TestDb::kept(&name).await;
        if !fresh {
            if finished(&db.pool).await {
                println!("reusing the projected store in database {name}");
                return db;
            }
            println!("database {name} is unfinished: making it again");
            db.keep = false;
            drop(db);
            db = TestDb::kept(&name).await.0;
        }
        db
    } else {
        TestDb::new().await
    };
    let org = Org::create(&db.bus(), "Load").await;
    fill(
        &db,
        &org,
        wanted,
        (wanted + organizations - 1) / organizations,
    )
    .await;
    let started = Instant::now();
    let quiet = |_: u64, _: u64| {};
    rebuild(
        &db.pool,
        &foldline_projectors::all(),
        Target::InPlace,
        10_000,
        &quiet,
    )
    .await
    .expect("projected");
    // Measure the queries, not the writing back of what was just projected:
    // without a checkpoint here, the checkpointer's flushing takes a share
    // of the two cores during the first runs.
    for statement in ["VACUUM ANALYZE", "CHECKPOINT"] {
        sqlx::query(statement).execute(&db.pool).await.unwrap();
    }
    println!("projected in {:.1} s", started.elapsed().as_secs_f64());
    db
}

/// Whether every projection has reached the store's last event.
async fn finished(pool: &PgPool) -> bool {
    sqlx::query_scalar(
        "SELECT count(*) = $1
                AND coalesce(bool_and(global_position = (SELECT max(global_position) FROM events)), false)
         FROM projection_checkpoints",
    )
    .bind(foldline_projectors::all().len() as i64)
    .fetch_one(pool)
    .await
    .unwrap_or(false)
}

/// Events read and appended per statement.
const CHUNK: i64 = 5_000;

/// Appends `copies` copies of the events in the store; returns how many
/// events it appended.
pub async fn replicate(pool: &PgPool, copies: usize) -> Result<u64, sqlx::Error> {
    let last: i64 = sqlx::query_scalar("SELECT coalesce(max(global_position), 0) FROM events")
        .fetch_one(pool)
        .await?;
    let mut appended = 0;
    let mut after = 0i64;
    while after < last {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT global_position, aggregate_type, aggregate_id, sequence, event_type,
                    event_version, payload, metadata, recorded_at
             FROM events WHERE global_position > $1 AND global_position <= $2
             ORDER BY global_position LIMIT $3",
        )
        .bind(after)
        .bind(last)
        .bind(CHUNK)
        .fetch_all(pool)
        .await?;
        let Some(end) = rows.last().map(|row| row.global_position) else {
            break;
        };
        for copy in 1..=copies {
            let namespace = Uuid::from_u128(copy as u128);
            let mut columns = Columns::default();
            for row in &rows {
                columns.aggregate_type.push(row.aggregate_type.clone());
                columns
                    .aggregate_id
                    .push(map_text(&namespace, &row.aggregate_id));
                columns.sequence.push(row.sequence);
                columns.event_type.push(row.event_type.clone());
                columns.event_version.push(row.event_version.clone());
                columns.payload.push(map_value(&namespace, &row.payload));
                columns.metadata.push(map_value(&namespace, &row.metadata));
                columns.recorded_at.push(row.recorded_at);
            }
            sqlx::query(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                                     event_version, payload, metadata, recorded_at)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[],
                                      $5::text[], $6::jsonb[], $7::jsonb[], $8::timestamptz[])",
            )
            .bind(&columns.aggregate_type)
            .bind(&columns.aggregate_id)
            .bind(&columns.sequence)
            .bind(&columns.event_type)
            .bind(&columns.event_version)
            .bind(&columns.payload)
            .bind(&columns.metadata)
            .bind(&columns.recorded_at)
            .execute(pool)
            .await?;
            appended += rows.len() as u64;
        }
        after = end;
    }
    Ok(appended)
}

#[derive(sqlx::FromRow)]
struct Row {
    global_position: i64,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: Value,
    metadata: Value,
    recorded_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Default)]
struct Columns {
    aggregate_type: Vec<String>,
    aggregate_id: Vec<String>,
    sequence: Vec<i64>,
    event_type: Vec<String>,
    event_version: Vec<String>,
    payload: Vec<Value>,
    metadata: Vec<Value>,
    recorded_at: Vec<chrono::DateTime<chrono::Utc>>,
}

/// The copy's id for an id; any other text is kept.
fn map_text(namespace: &Uuid, text: &str) -> String {
    match Uuid::parse_str(text) {
        Ok(id) if text.len() == 36 => Uuid::new_v5(namespace, id.as_bytes()).to_string(),
        _ => text.to_owned(),
    }
}

/// `value` with every id in it mapped.
fn map_value(namespace: &Uuid, value: &Value) -> Value {
    match value {
        Value::String(text) => Value::String(map_text(namespace, text)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| map_value(namespace, v)).collect())
        }
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, v)| (key.clone(), map_value(namespace, v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_map_consistently_and_text_stays() {
        let namespace = Uuid::from_u128(3);
        let id = Uuid::new_v4().to_string();
        let value = serde_json::json!({"a": id, "b": [id, "Venue"], "n": 5});
        let mapped = map_value(&namespace, &value);
        assert_ne!(mapped["a"], value["a"]);
        assert_eq!(mapped["a"], mapped["b"][0]);
        assert_eq!(mapped["b"][1], "Venue");
        assert_eq!(mapped["n"], 5);
        assert_eq!(map_text(&namespace, &id), mapped["a"].as_str().unwrap());
    }
}
