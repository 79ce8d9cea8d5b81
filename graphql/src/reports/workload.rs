//! `userWorkload`: what each member has on their plate.

use async_graphql::{Context, ErrorExtensions, Object, SimpleObject};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::error::ApiError;
use crate::request::Request;

/// The window shifts are counted in when none is given.
pub const DEFAULT_WINDOW_DAYS: i64 = 7;

/// One member's load.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
pub struct Workload {
    /// The member.
    pub user_id: Uuid,
    /// Their name in the people directory, where the caller may see it.
    pub name: Option<String>,
    /// Assignments not completed, of every kind.
    pub open_assignments: i64,
    /// Tasks assigned to them and not done.
    pub open_tasks: i64,
    /// Production advances they are responsible for and not completed.
    pub open_advances: i64,
    /// Assets checked out to them.
    pub assets_held: i64,
    /// Shifts overlapping the window.
    pub shifts: i64,
    /// Hours of those shifts inside the window.
    pub scheduled_hours: f64,
    /// Open tasks and advances past their due time.
    pub overdue: i64,
}

/// The workload report.
#[derive(Default)]
pub struct WorkloadQuery;

/// Each member's load: `$1` the organization, `[$2, $3)` the window,
/// `$4` one member or null, `$5` now.
pub const SQL: &str = "WITH assigned AS (
         SELECT a.user_id, a.assignment_type, a.starts_at, a.ends_at,
                coalesce(status.status_category, 'active') <> 'completed' AS open
         FROM assignments a
         LEFT JOIN status_tracker status
           ON status.organization_id = a.organization_id
          AND status.entity_type = a.entity_type AND status.entity_id = a.entity_id
         WHERE a.organization_id = $1 AND ($4::uuid IS NULL OR a.user_id = $4)
     ),
     load AS (
         SELECT user_id,
                count(*) FILTER (WHERE open) AS open_assignments,
                count(*) FILTER (WHERE open AND assignment_type = 'task') AS open_tasks,
                count(*) FILTER (WHERE open AND assignment_type = 'production_advance')
                    AS open_advances,
                count(*) FILTER (WHERE open AND assignment_type = 'asset') AS assets_held,
                count(*) FILTER (WHERE open AND assignment_type = 'shift'
                                 AND starts_at < $3 AND ends_at > $2) AS shifts,
                coalesce(sum(extract(epoch FROM least(ends_at, $3) - greatest(starts_at, $2)))
                    FILTER (WHERE open AND assignment_type = 'shift'
                            AND starts_at < $3 AND ends_at > $2), 0)::float8 / 3600
                    AS scheduled_hours,
                count(*) FILTER (WHERE open AND assignment_type IN ('task', 'production_advance')
                                 AND starts_at < $5) AS overdue
         FROM assigned
         GROUP BY user_id
     )
     SELECT load.*, person.name
     FROM load
     LEFT JOIN people_directory person
       ON person.organization_id = $1 AND person.entity_type = 'Member'
      AND person.entity_id = load.user_id
     ORDER BY open_assignments DESC, scheduled_hours DESC, user_id";

#[Object]
impl WorkloadQuery {
    /// Each member's open assignments, and their shifts in `[from, to)`
    /// (by default the coming seven days), busiest first.
    async fn user_workload(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        #[graphql(desc = "Only this member.")] user_id: Option<Uuid>,
    ) -> async_graphql::Result<Vec<Workload>> {
        let request = Request::of(ctx).map_err(|e| e.extend())?;
        user_workload(request, from, to, user_id)
            .await
            .map_err(|e| e.extend())
    }
}

async fn user_workload(
    request: &Request,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    user_id: Option<Uuid>,
) -> Result<Vec<Workload>, ApiError> {
    let now = Utc::now();
    let from = from.unwrap_or(now);
    let to = to.unwrap_or(from + Duration::days(DEFAULT_WINDOW_DAYS));
    if to <= from {
        return Err(ApiError::BadUserInput(format!(
            "`to` ({to}) must be after `from` ({from})"
        )));
    }
    let mut conn = request.read().await?;
    // Whether an assignment is still open is its entity's status category;
    // an entity whose status the caller may not see counts as open.
    let rows = sqlx::query_as(SQL)
        .bind(request.caller.organization_id)
        .bind(from)
        .bind(to)
        .bind(user_id)
        .bind(now)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows)
}
