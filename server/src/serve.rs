//! `foldline serve`: the API and the projection workers in one process, shut
//! down gracefully on Ctrl-C or SIGTERM.

use std::net::SocketAddr;

use anyhow::{bail, Context};
use foldline_graphql::auth::{Authenticator, VerifyingKey};
use foldline_graphql::Limits;
use foldline_projectors::Engine;
use foldline_workflows::webhooks::{Sender, Settings};
use foldline_workflows::Dispatcher;
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
        running_per_user: api.running_per_user,
        queued_per_user: api.queued_per_user,
        ..Limits::default()
    };
    Ok(AppState::new(pool, authenticator, limits, !api.no_graphiql)
        .with_allowed_origins(api.allowed_origins.0.clone()))
}

/// Serves on `listener` with the projection workers running until a shutdown
/// signal; `ready` is called with the address once it listens.
pub async fn serve(
    state: AppState,
    webhooks: Settings,
    listener: TcpListener,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let (stop, shutdown) = watch::channel(false);
    let engine = Engine::new(state.pool.clone());
    let mut workers = engine.spawn(
        foldline_projectors::all(),
        state.bus.committed(),
        shutdown.clone(),
    );
    // The workflows follow the feed as the projections do; what they decide
    // is sent by the dispatcher.
    workers.extend(engine.spawn(
        foldline_workflows::all(),
        state.bus.committed(),
        shutdown.clone(),
    ));
    workers.push(Dispatcher::new(state.pool.clone(), state.bus.clone()).spawn(shutdown.clone()));
    // Their messages for the outside world are delivered to the webhooks.
    let sender =
        Sender::new(state.pool.clone(), webhooks).context("building the webhook client")?;
    workers.push(sender.spawn(shutdown));
    let stop_signal = shutdown_signal().context("installing the signal handlers")?;
    ready(listener.local_addr()?);
    axum::serve(listener, router(state))
        .with_graceful_shutdown(stop_signal)
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

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is
/// called, not when first polled: a signal sent as soon as the service says
/// it is ready must already stop it gracefully.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}
