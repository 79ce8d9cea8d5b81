//! A WebSocket is admitted again for every operation it carries: its
//! credentials are checked once, at `connection_init`, but the membership,
//! role and capabilities they stand for are read afresh each time, as an
//! HTTP request's are, so a member removed or downgraded while the socket
//! is open is treated as such from their next operation on.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::ServerResult;
use foldline_aggregates::CommandBus;
use sqlx::PgPool;

use crate::auth::Verified;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::reads::Reads;
use crate::request::Request;

/// What a socket's `connection_init` established, kept for its lifetime.
#[derive(Clone)]
pub struct SocketSession {
    /// The verified token.
    pub verified: Verified,
    /// The organization named at `connection_init`, if any (else the
    /// token's).
    pub organization: Option<String>,
    /// The upgrade request's id.
    pub request_id: String,
    /// The database.
    pub pool: PgPool,
    /// Where reads go.
    pub reads: Reads,
    /// Where mutations go.
    pub bus: CommandBus,
}

impl SocketSession {
    /// Admits the socket's caller now: the [`Request`] one operation runs
    /// as.
    pub async fn admit(&self) -> Result<Request, ApiError> {
        let (caller, connection) =
            Caller::resolve(&self.reads, self.verified, self.organization.as_deref()).await?;
        Ok(Request {
            caller,
            pool: self.pool.clone(),
            reads: self.reads.clone(),
            bus: self.bus.clone(),
            request_id: self.request_id.clone(),
            connection: tokio::sync::Mutex::new(Some(connection)),
        })
    }
}

/// The extension that admits each operation of a socket.
pub struct SocketAdmission;

impl ExtensionFactory for SocketAdmission {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(SocketAdmissionExtension)
    }
}

struct SocketAdmissionExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for SocketAdmissionExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: async_graphql::Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<async_graphql::Request> {
        // An HTTP request was admitted by its handler and carries its own.
        let request = match ctx.data_opt::<SocketSession>() {
            Some(session)
                if !request
                    .data
                    .contains_key(&std::any::TypeId::of::<Request>()) =>
            {
                let admitted = session.admit().await.map_err(ApiError::into_server_error)?;
                request.data(admitted)
            }
            _ => request,
        };
        next.run(ctx, request).await
    }
}
