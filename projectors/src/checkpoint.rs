//! Where each projection is in the feed, and whether it runs.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::feed::Position;

/// A projection's checkpoint row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The projection's name.
    pub projection: String,
    /// The last event applied.
    pub position: Position,
    /// How many events it has applied in all.
    pub events_applied: i64,
    /// `running`, `stopped` or `rebuilding`.
    pub state: String,
    /// Why it stopped, if it did.
    pub error: Option<String>,
    /// The position of the event it stopped at.
    pub error_position: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct Row {
    projection: String,
    transaction_id: String,
    global_position: i64,
    events_applied: i64,
    state: String,
    error: Option<String>,
    error_position: Option<i64>,
}

impl From<Row> for Checkpoint {
    fn from(row: Row) -> Self {
        Checkpoint {
            projection: row.projection,
            position: Position {
                transaction_id: row.transaction_id.parse().unwrap_or(0),
                global_position: row.global_position,
            },
            events_applied: row.events_applied,
            state: row.state,
            error: row.error,
            error_position: row.error_position,
        }
    }
}

const COLUMNS: &str = "projection, transaction_id::text AS transaction_id, global_position,
                       events_applied, state, error, error_position";

/// Reads a projection's checkpoint and locks it for this transaction,
/// creating it at the start of the feed the first time.
pub async fn lock(conn: &mut PgConnection, projection: &str) -> Result<Checkpoint, sqlx::Error> {
    sqlx::query(
        "INSERT INTO projection_checkpoints (projection) VALUES ($1) ON CONFLICT DO NOTHING",
    )
    .bind(projection)
    .execute(&mut *conn)
    .await?;
    let row: Row = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM projection_checkpoints WHERE projection = $1 FOR UPDATE"
    ))
    .bind(projection)
    .fetch_one(conn)
    .await?;
    Ok(row.into())
}

/// Moves a projection's checkpoint to `position` after `count` more events.
pub async fn advance(
    conn: &mut PgConnection,
    projection: &str,
    position: Position,
    count: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE projection_checkpoints
         SET transaction_id = $2::text::xid8, global_position = $3,
             events_applied = events_applied + $4, updated_at = now()
         WHERE projection = $1",
    )
    .bind(projection)
    .bind(position.transaction_id.to_string())
    .bind(position.global_position)
    .bind(count)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a projection stopped at the event it could not apply.
pub async fn stop(
    conn: &mut PgConnection,
    projection: &str,
    position: i64,
    message: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE projection_checkpoints
         SET state = 'stopped', error = $2, error_position = $3, updated_at = now()
         WHERE projection = $1",
    )
    .bind(projection)
    .bind(message)
    .bind(position)
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets a stopped projection going again from where it stopped (after a
/// release that can apply the event); `false` when it was not stopped.
pub async fn resume(pool: &PgPool, projection: &str) -> Result<bool, sqlx::Error> {
    let resumed = sqlx::query(
        "UPDATE projection_checkpoints
         SET state = 'running', error = NULL, error_position = NULL, updated_at = now()
         WHERE projection = $1 AND state = 'stopped'",
    )
    .bind(projection)
    .execute(pool)
    .await?;
    Ok(resumed.rows_affected() == 1)
}

/// Whether `projection` has applied the event at `global_position`: `None`
/// when there is no such event.
pub async fn reached(
    pool: &PgPool,
    projection: &str,
    global_position: i64,
) -> Result<Option<bool>, sqlx::Error> {
    reached_in(pool, projection, global_position, None).await
}

/// [`reached`], for an event of `organization` only (when given): another
/// organization's event is answered as one that does not exist, so that no
/// caller learns how far the store goes.
pub async fn reached_in(
    pool: &PgPool,
    projection: &str,
    global_position: i64,
    organization: Option<Uuid>,
) -> Result<Option<bool>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce(
             (SELECT (c.transaction_id, c.global_position) >= (e.transaction_id, e.global_position)
              FROM projection_checkpoints AS c WHERE c.projection = $1),
             false)
         FROM events AS e
         WHERE e.global_position = $2 AND ($3::uuid IS NULL OR e.organization_id = $3)",
    )
    .bind(projection)
    .bind(global_position)
    .bind(organization)
    .fetch_optional(pool)
    .await
}

/// One projection's checkpoint, if it has started.
pub async fn get(pool: &PgPool, projection: &str) -> Result<Option<Checkpoint>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM projection_checkpoints WHERE projection = $1"
    ))
    .bind(projection)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Checkpoint::from))
}

/// Every projection's checkpoint.
pub async fn list(pool: &PgPool) -> Result<Vec<Checkpoint>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM projection_checkpoints ORDER BY projection"
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Checkpoint::from).collect())
}

/// How far a projection is from the head of the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Lag {
    /// The projection's name.
    pub projection: String,
    /// Its checkpoint, if it has started.
    pub checkpoint: Option<Checkpoint>,
    /// Events committed that it has not applied.
    pub events_behind: i64,
    /// Age in seconds of the oldest event it has not applied (0 when none).
    pub seconds_behind: f64,
}

/// The lag of each named projection.
pub async fn lags(pool: &PgPool, projections: &[&str]) -> Result<Vec<Lag>, sqlx::Error> {
    let mut lags = Vec::with_capacity(projections.len());
    for name in projections {
        let checkpoint = get(pool, name).await?;
        let position = checkpoint.as_ref().map(|c| c.position).unwrap_or_default();
        let (events_behind, seconds_behind): (i64, f64) = sqlx::query_as(
            "SELECT count(*),
                    coalesce(extract(epoch FROM now() - min(recorded_at))::float8, 0)
             FROM events
             WHERE (transaction_id, global_position) > ($1::text::xid8, $2)",
        )
        .bind(position.transaction_id.to_string())
        .bind(position.global_position)
        .fetch_one(pool)
        .await?;
        lags.push(Lag {
            projection: (*name).to_owned(),
            checkpoint,
            events_behind,
            seconds_behind,
        });
    }
    Ok(lags)
}
