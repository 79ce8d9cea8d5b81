//! What every resolver of one request shares: the caller, the connections,
//! and the command bus. Built per request, so nothing cached here can leak
//! between callers.

use std::time::{Duration, Instant};

use async_graphql::Context;
use foldline_aggregates::CommandBus;
use foldline_projectors::checkpoint;
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

use crate::caller::Caller;
use crate::error::ApiError;
use crate::reads::Reads;

/// How long a query waits for the projections to reach `afterPosition`.
pub const READ_YOUR_WRITES_WAIT: Duration = Duration::from_secs(5);

/// One API request.
pub struct Request {
    /// Who is asking.
    pub caller: Caller,
    /// The database.
    pub pool: PgPool,
    /// Where reads of the read tables go.
    pub reads: Reads,
    /// Where mutations go.
    pub bus: CommandBus,
    /// The transport's request id, recorded in the events' metadata.
    pub request_id: String,
    /// The request's read connection, as the caller: the one admission set
    /// up, if any, else one taken at the first read.
    pub connection: Mutex<Option<PoolConnection<Postgres>>>,
}

impl Request {
    /// The request a resolver runs for.
    pub fn of<'a>(ctx: &'a Context<'_>) -> Result<&'a Request, ApiError> {
        ctx.data::<Request>()
            .map_err(|_| ApiError::Unauthenticated("no authenticated request".into()))
    }

    /// The request a resolver runs for, if its caller is an owner or an
    /// admin of the organization; `doing` says what others may not do.
    pub fn of_operator<'a>(ctx: &'a Context<'_>, doing: &str) -> Result<&'a Request, ApiError> {
        let request = Request::of(ctx)?;
        if matches!(request.caller.role.as_str(), "owner" | "admin") {
            Ok(request)
        } else {
            Err(ApiError::Forbidden(format!(
                "only owners and admins may {doing}"
            )))
        }
    }

    /// The request's read connection, under row-level security as the
    /// caller. The fields of one request take turns on it, so a request
    /// holds one read connection however many fields it asks for, and a
    /// query of many fields cannot take the pool from everyone else.
    pub async fn read(&self) -> Result<MappedMutexGuard<'_, PgConnection>, ApiError> {
        let mut slot = self.connection.lock().await;
        let connection = match slot.take() {
            Some(connection) => connection,
            None => self.reads.as_caller(&self.caller).await?,
        };
        Ok(MutexGuard::map(slot, |slot| &mut **slot.insert(connection)))
    }

    /// Waits, up to [`READ_YOUR_WRITES_WAIT`], until `projection` has applied
    /// the event at `position` (a mutation's `position`).
    pub async fn wait_for(&self, projection: &str, position: Option<i64>) -> Result<(), ApiError> {
        let Some(position) = position else {
            return Ok(());
        };
        let started = Instant::now();
        loop {
            let reached = checkpoint::reached_in(
                &self.pool,
                projection,
                position,
                Some(self.caller.organization_id),
            )
            .await?;
            match reached {
                None => {
                    return Err(ApiError::BadUserInput(format!(
                        "no event at position {position}"
                    )))
                }
                Some(true) => return Ok(()),
                Some(false) if started.elapsed() >= READ_YOUR_WRITES_WAIT => {
                    return Err(ApiError::Internal(format!(
                        "{projection} did not reach position {position} within {READ_YOUR_WRITES_WAIT:?}"
                    )))
                }
                Some(false) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }
}
