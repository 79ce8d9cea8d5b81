//! `foldline serve`: the API and the projection workers in one process, shut
//! down gracefully on Ctrl-C or SIGTERM.

use std::net::SocketAddr;

use anyhow::{bail, Context};
use foldline_graphql::auth::{Authenticator, VerifyingKey};
use foldline_graphql::Limits;
use foldline_projectors::Engine;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cli::{ApiArgs, JwtArgs};
use crate::http::{router, AppState};

/// The key tokens are checked with, from the settings.
pub fn verifying_key(jwt: &JwtArgs) -> anyhow::Result<VerifyingKey> {
    if let Some(path) = &jwt.jwt_public_key {
        let pem = std::fs::read(path)
            .with_context(|| format!("reading the JWT public key {}", path.display()))?;
        return Ok(VerifyingKey::RsaPublicPem(pem));
    }
    match &jwt.jwt_secret {
        Some(secret) if !secret.is_empty() => Ok(VerifyingKey::Secret(secret.as_bytes().to_vec())),
        _ => bail!(
            "set FOLDLINE_JWT_SECRET (HS256) or FOLDLINE_JWT_PUBLIC_KEY (RS256) to check tokens"
        ),
    }
}

/// The API's shared state.
pub fn state(pool: PgPool, api: &ApiArgs) -> anyhow::Result<AppState> {
    let authenticator = Authenticator::new(
        &verifying_key(&api.jwt)?,
        api.jwt.jwt_issuer.as_deref(),
        api.jwt.jwt_audience.as_deref(),
    )
    .context("reading the JWT key")?;
    let limits = Limits {
        introspection: !api.no_introspection,
        ..Limits::default()
    };
    Ok(AppState::new(pool, authenticator, limits, !api.no_graphiql))
}

/// Serves on `listener` with the projection workers running until a shutdown
/// signal; `ready` is called with the address once it listens.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let (stop, shutdown) = watch::channel(false);
    let workers = Engine::new(state.pool.clone()).spawn(
        foldline_projectors::all(),
        state.bus.committed(),
        shutdown,
    );
    ready(listener.local_addr()?);
    axum::serve(listener, router(state))
        .with_graceful_shutdown(signal())
        .await
        .context("serving HTTP")?;
    // In-flight requests have finished; the workers finish or roll back their
    // batch and release their locks.
    let _ = stop.send(true);
    for worker in workers {
        let _ = worker.await;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
