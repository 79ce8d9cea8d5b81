//! The connections API reads go through: a pool of its own whose every
//! connection is, for its whole life, the non-owner `foldline_api` role,
//! read-only, with a statement timeout. Row-level security applies to every
//! statement on them; a caller's settings are set before each read.
//!
//! Their statements are planned as PostgreSQL plans by default
//! (`plan_cache_mode = auto`, where the write pool forces generic plans):
//! a prepared statement gets a generic plan once it costs no more than the
//! plans made for its values, and a list page with filters is sent
//! unprepared, planned for its values (`connection::Statement`).
//!
//! No other planner setting is changed on them: a switch that helps one query
//! (sorts off, for the calendar) made every query that still sorts cost
//! hundreds of milliseconds. Pages read in index order because each list
//! has an index in its order and the row-security policies are written so
//! the planner estimates them (`migrations/0015_connection_order.sql`).
//!
//! Switching role and settings inside a transaction per read cost three
//! round trips more than the read itself (begin, settings, commit); on a
//! connection that never leaves the role, the settings are one prepared
//! statement, and the read needs no transaction.

use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool, Postgres};
use uuid::Uuid;

use crate::caller::Caller;
use crate::error::ApiError;

/// The role reads run as (`migrations/0007_api_row_security.sql`).
pub const ROLE: &str = "foldline_api";
/// The longest a request waits for a read connection.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest a read statement may run.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(15);

/// The pool of read connections.
#[derive(Debug, Clone)]
pub struct Reads(PgPool);

impl Reads {
    /// A pool to the same database as `pool`, as large; it connects as
    /// reads need it.
    pub fn beside(pool: &PgPool) -> Reads {
        let options = (*pool.connect_options()).clone();
        let reads = PgPoolOptions::new()
            .max_connections(pool.options().get_max_connections())
            // A request waits at most this long for a connection: with the
            // database down, the caller is told so (UNAVAILABLE) at once
            // rather than when the pool gives up retrying.
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .idle_timeout(Some(Duration::from_secs(300)))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(
                        format!(
                            "SET ROLE {ROLE};
                             SET default_transaction_read_only = on;
                             SET statement_timeout = {};
                             SET plan_cache_mode = auto",
                            STATEMENT_TIMEOUT.as_millis()
                        )
                        .as_str(),
                    )
                    .await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options);
        Reads(reads)
    }

    /// The pool itself, for its gauges.
    pub fn pool(&self) -> &PgPool {
        &self.0
    }

    /// Looks up `user`'s membership of `organization` and, when there is
    /// one, sets a read connection up as them: one round trip
    /// (`migrations/0009_api_admission.sql`).
    pub async fn admit(&self, user: Uuid, organization: Uuid) -> Result<Admission, ApiError> {
        let mut connection = self.0.acquire().await?;
        let (memberships_anywhere, role, capabilities, current): (
            i64,
            Option<String>,
            Option<Vec<String>>,
            String,
        ) = sqlx::query_as(
            "SELECT memberships_anywhere, member_role, member_capabilities, current_user::text
             FROM api_admit($1, $2)",
        )
        .bind(user)
        .bind(organization)
        .fetch_one(&mut *connection)
        .await?;
        check_role(&current)?;
        Ok(Admission {
            memberships_anywhere,
            membership: role.map(|role| (role, capabilities.unwrap_or_default())),
            connection,
        })
    }

    /// A read connection that shows what `caller` may see.
    pub async fn as_caller(&self, caller: &Caller) -> Result<PoolConnection<Postgres>, ApiError> {
        let mut conn = self.0.acquire().await?;
        // Session settings, not local ones: there is no transaction. Every
        // read sets them first, so none outlives its caller's use.
        let role: String = sqlx::query_scalar(
            "SELECT current_user::text
             FROM (SELECT set_config('app.organization_id', $1, false),
                          set_config('app.user_id', $2, false),
                          set_config('app.role', $3, false),
                          set_config('app.capabilities', $4, false)) settings",
        )
        .bind(caller.organization_id.to_string())
        .bind(caller.user_id.to_string())
        .bind(&caller.role)
        .bind(caller.capabilities.join(","))
        .fetch_one(&mut *conn)
        .await?;
        check_role(&role)?;
        Ok(conn)
    }
}

/// What admission found.
pub struct Admission {
    /// The user's memberships in any organization.
    pub memberships_anywhere: i64,
    /// Their role and capabilities in the organization, if a member.
    pub membership: Option<(String, Vec<String>)>,
    /// A read connection set up as them (as no one, when not a member).
    pub connection: PoolConnection<Postgres>,
}

/// Row-level security binds only [`ROLE`]; a connection of any other role
/// would read every organization's rows.
fn check_role(current: &str) -> Result<(), ApiError> {
    if current == ROLE {
        Ok(())
    } else {
        Err(ApiError::Internal(format!(
            "a read connection is `{current}`, not `{ROLE}`"
        )))
    }
}
