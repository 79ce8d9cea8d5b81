//! What every resolver of one request shares: the caller, the connections,
//! and the command bus. Built per request, so nothing cached here can leak
//! between callers.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_graphql::Context;
use foldline_aggregates::CommandBus;
use foldline_projectors::checkpoint;
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

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
    /// The read connection admission set up as the caller, for the first
    /// read to take.
    pub admitted: Mutex<Option<PoolConnection<Postgres>>>,
}

impl Request {
    /// The request a resolver runs for.
    pub fn of<'a>(ctx: &'a Context<'_>) -> Result<&'a Request, ApiError> {
        ctx.data::<Request>()
            .map_err(|_| ApiError::Unauthenticated("no authenticated request".into()))
    }

    /// A read connection under row-level security as the caller.
    pub async fn read(&self) -> Result<PoolConnection<Postgres>, ApiError> {
        let admitted = self
            .admitted
            .lock()
            .map_or(None, |mut admitted| admitted.take());
        match admitted {
            Some(connection) => Ok(connection),
            None => self.reads.as_caller(&self.caller).await,
        }
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
