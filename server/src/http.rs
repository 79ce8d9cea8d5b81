//! The HTTP service: GraphQL, GraphiQL, health, readiness and metrics.
//!
//! A GraphQL request is authenticated and resolved to a member of one
//! organization before the schema sees it; failures on the way are answered
//! in GraphQL's error shape with `extensions.code`, and an HTTP status that
//! says the same.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::Data;
use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use foldline_aggregates::{CommandBus, EventStore};
use foldline_graphql::auth::Authenticator;
use foldline_graphql::caller::Caller;
use foldline_graphql::error::is_unreachable;
use foldline_graphql::operation::{self, OperationChecks};
use foldline_graphql::reads::Reads;
use foldline_graphql::request::Request;
use foldline_graphql::socket::SocketSession;
use foldline_graphql::subscription::ActivityWatch;
use foldline_graphql::{ApiError, FoldlineSchema, Limits};
use foldline_projectors::checkpoint;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use sqlx::PgPool;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;
use uuid::Uuid;

use crate::database::MIGRATOR;
use crate::in_flight::InFlight;

/// The largest request body accepted.
pub const BODY_LIMIT: usize = 256 * 1024;
/// How long one GraphQL request may run.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The lag, in seconds, beyond which the service is not ready.
pub const READY_LAG_SECONDS: f64 = 30.0;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The schema HTTP requests run on, with no extension: only the
    /// `/graphql` handler, which checks each operation first
    /// ([`OperationChecks`]), may execute on it.
    pub schema: FoldlineSchema,
    /// The schema socket operations run on, checked by its extensions.
    pub socket_schema: FoldlineSchema,
    /// What every HTTP operation is checked against before it runs.
    pub checks: OperationChecks,
    /// The database.
    pub pool: PgPool,
    /// The read connections, under row-level security.
    pub reads: Reads,
    /// The command bus mutations go through.
    pub bus: CommandBus,
    /// Checks bearer tokens.
    pub authenticator: Arc<Authenticator>,
    /// Whether GraphiQL is served on `GET /graphql`.
    pub graphiql: bool,
    /// What `/metrics` renders.
    pub prometheus: PrometheusHandle,
    /// What subscriptions wait on.
    pub activity: ActivityWatch,
    /// Each user's requests in flight.
    pub in_flight: Arc<InFlight>,
    /// Origins browsers may call the API from (CORS).
    pub allowed_origins: Vec<HeaderValue>,
}

impl AppState {
    /// The state of a service over `pool`.
    pub fn new(pool: PgPool, authenticator: Authenticator, limits: Limits, graphiql: bool) -> Self {
        AppState {
            schema: foldline_graphql::schema(limits),
            socket_schema: foldline_graphql::socket_schema(limits),
            checks: OperationChecks::new(&limits),
            bus: CommandBus::new(EventStore::new(pool.clone())),
            activity: ActivityWatch::new(pool.clone()),
            reads: Reads::beside(&pool),
            // A request waits for its turn no longer than it may run.
            in_flight: Arc::new(InFlight::new(
                limits.running_per_user,
                limits.queued_per_user,
                REQUEST_TIMEOUT,
            )),
            pool,
            authenticator: Arc::new(authenticator),
            graphiql,
            prometheus: crate::telemetry::prometheus(),
            allowed_origins: Vec::new(),
        }
    }

    /// The same state, letting browser pages on `origins` call the API.
    pub fn with_allowed_origins(mut self, origins: Vec<HeaderValue>) -> Self {
        self.allowed_origins = origins;
        self
    }
}

/// What a browser page on another origin may do, if its origin is
/// allowed: send GraphQL with its credentials headers and read the
/// response, including when to retry. A preflight from any other origin is
/// answered without `Access-Control-Allow-Origin`, so its browser refuses.
fn cors(origins: &[HeaderValue]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static(ORGANIZATION),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([header::RETRY_AFTER])
        .max_age(Duration::from_secs(600))
}

/// The service's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphiql).post(graphql))
        .route(crate::graphiql::ASSETS_PATH, get(crate::graphiql::asset))
        .route(SUBSCRIPTIONS_PATH, get(subscriptions))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(cors(&state.allowed_origins))
        // Pages of JSON shrink to a fifth or less. The fastest level: on
        // a service whose CPU is the limit, the bytes saved are not worth a
        // slower response. A client that does not ask gets plain JSON.
        .layer(CompressionLayer::new().quality(CompressionLevel::Fastest))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(axum::middleware::map_response(too_large_in_graphql_shape))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(count_response),
        )
        .with_state(state)
}

/// The span of one HTTP request: its id, and the organization and user once
/// the request is admitted, on every event logged while it is served.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = request.uri().path(),
        request_id,
        organization_id = tracing::field::Empty,
        user_id = tracing::field::Empty,
    )
}

/// Counts and times every response by route and status class.
fn count_response(response: &Response, latency: Duration, _span: &tracing::Span) {
    let status = match response.status().as_u16() {
        200..=299 => "2xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    };
    metrics::histogram!("foldline_http_request_duration_seconds", "status" => status)
        .record(latency.as_secs_f64());
}

/// The body limit answers 413 in plain text; a GraphQL client reads errors
/// in GraphQL's shape, with a code.
async fn too_large_in_graphql_shape(response: Response) -> Response {
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        response
    }
}

/// Whether a body was refused for going over [`BODY_LIMIT`] as it streamed
/// in (one that announced its length is refused before the handler).
/// async-graphql-axum passes the body's error on as text only, so the text
/// of http-body-util's `LengthLimitError` is what there is to recognise.
fn over_the_limit(rejection: &GraphQLRejection) -> bool {
    rejection.0.to_string().contains("length limit exceeded")
}

/// 413, in GraphQL's error shape.
fn too_large() -> Response {
    let error = ApiError::BadUserInput(format!(
        "the request body is larger than {} KiB",
        BODY_LIMIT / 1024
    ));
    let body = json!({
        "data": null,
        "errors": [{"message": error.to_string(), "extensions": {"code": error.code()}}],
    });
    (StatusCode::PAYLOAD_TOO_LARGE, Json(body)).into_response()
}

async fn graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<GraphQLRequest, GraphQLRejection>,
) -> Response {
    metrics::counter!("foldline_graphql_requests_total").increment(1);
    let verified = match state
        .authenticator
        .verify(header_text(&headers, AUTHORIZATION))
    {
        Ok(verified) => verified,
        Err(error) => return refuse(error),
    };
    // The user's turn comes before admission, which takes a read connection.
    let _turn = match state.in_flight.enter(verified.user_id).await {
        Ok(turn) => turn,
        Err(error) => return refuse(error),
    };
    let (caller, admitted) =
        match Caller::resolve(&state.reads, verified, header_text(&headers, ORGANIZATION)).await {
            Ok(admitted) => admitted,
            Err(error) => return refuse(error),
        };
    let span = tracing::Span::current();
    span.record(
        "organization_id",
        tracing::field::display(caller.organization_id),
    );
    span.record("user_id", tracing::field::display(caller.user_id));
    let body = match body {
        Ok(body) => body,
        Err(rejection) if over_the_limit(&rejection) => return too_large(),
        Err(rejection) => {
            return refuse(ApiError::BadUserInput(format!(
                "the request is not a GraphQL request: {}",
                rejection.0
            )))
        }
    };
    let request_id = request_id(&headers);
    let mut request = body.into_inner().data(Request {
        caller,
        pool: state.pool.clone(),
        reads: state.reads.clone(),
        bus: state.bus.clone(),
        request_id,
        connection: tokio::sync::Mutex::new(Some(admitted)),
    });
    let started = Instant::now();
    let mut response = match state.checks.check(&mut request) {
        Ok(checked) => {
            match tokio::time::timeout(REQUEST_TIMEOUT, state.schema.execute(request)).await {
                Ok(response) => {
                    operation::record(checked.root_field, &response, started.elapsed());
                    response
                }
                Err(_) => {
                    return refuse(ApiError::Internal(format!(
                        "the request took longer than {REQUEST_TIMEOUT:?}"
                    )))
                }
            }
        }
        Err(error) => async_graphql::Response::from_errors(vec![error]),
    };
    // Resolvers' errors carry their code; the only errors without one are
    // the query's own: it does not parse, names unknown fields, passes
    // values of the wrong type, or goes over the limits.
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", "BAD_USER_INPUT");
        }
    }
    // A request whose every error is the database being out of reach says
    // so in its status too, for clients and proxies that retry on 503.
    let unavailable = !response.errors.is_empty()
        && response.errors.iter().all(|error| {
            error.extensions.as_ref().and_then(|e| e.get("code"))
                == Some(&async_graphql::Value::from("UNAVAILABLE"))
        });
    let mut answer = GraphQLResponse::from(response).into_response();
    if unavailable {
        *answer.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        answer
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    answer
}

/// The header naming the organization a request acts in.
const ORGANIZATION: &str = "x-organization-id";
const AUTHORIZATION: &str = "authorization";

/// A header's text; one that is not text stays present, so that it is
/// refused rather than taken as missing.
fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .map(|value| value.to_str().unwrap_or("\u{fffd}"))
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| Uuid::new_v4().to_string())
}

/// Where subscriptions are served, over WebSocket (graphql-ws, or the older
/// subscriptions-transport-ws).
pub const SUBSCRIPTIONS_PATH: &str = "/graphql/ws";

/// Subscriptions. Browsers cannot set headers on a WebSocket, so the
/// credentials come in the `connection_init` payload (`Authorization`,
/// `X-Organization-Id`), else from the upgrade request's headers; a
/// connection that fails them is closed before any operation runs.
async fn subscriptions(
    State(state): State<AppState>,
    protocol: GraphQLProtocol,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            let open = metrics::gauge!("foldline_graphql_websockets");
            open.increment(1.0);
            let schema = state.socket_schema.clone();
            GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| connection_init(state, headers, payload))
                .serve()
                .await;
            open.decrement(1.0);
        })
}

/// The reason a refused connection is closed with: graphql-ws closes it
/// with only a reason, so the reason starts with the error's code, and is
/// cut to the 123 bytes a close frame can carry.
fn close_reason(error: &ApiError) -> String {
    let mut reason = format!("{}: {error}", error.code());
    if reason.len() > 123 {
        let mut end = 120;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        reason.push('…');
    }
    reason
}

async fn connection_init(
    state: AppState,
    headers: HeaderMap,
    payload: serde_json::Value,
) -> async_graphql::Result<Data> {
    let from_payload = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| payload.get(*name).and_then(|value| value.as_str()))
    };
    let authorization = from_payload(&["Authorization", "authorization"])
        .or_else(|| header_text(&headers, AUTHORIZATION));
    let organization = from_payload(&["X-Organization-Id", "x-organization-id", "organizationId"])
        .or_else(|| header_text(&headers, ORGANIZATION));
    // The credentials are checked now, so a connection that fails them is
    // refused at once; every operation is then admitted again
    // (`foldline_graphql::socket`). The admitted connection goes back to the
    // pool: a subscription holds none between its reads.
    let verified = state.authenticator.verify(authorization);
    let admitted = match verified {
        Ok(verified) => Caller::resolve(&state.reads, verified, organization)
            .await
            .map(|_| verified),
        Err(error) => Err(error),
    };
    let verified = match admitted {
        Ok(verified) => verified,
        Err(error) => {
            refused(&error);
            if let ApiError::Internal(cause) = &error {
                tracing::error!(%cause, "subscription refused");
            }
            return Err(async_graphql::Error::new(close_reason(&error)));
        }
    };
    let mut data = Data::default();
    data.insert(SocketSession {
        verified,
        organization: organization.map(str::to_owned),
        request_id: request_id(&headers),
        pool: state.pool.clone(),
        reads: state.reads.clone(),
        bus: state.bus.clone(),
    });
    data.insert(state.activity.clone());
    Ok(data)
}

/// A request refused before the schema ran, in GraphQL's error shape.
fn refuse(error: ApiError) -> Response {
    refused(&error);
    let status = match &error {
        ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        ApiError::Internal(cause) => {
            tracing::error!(%cause, "request failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
        ApiError::Unavailable(cause) => {
            tracing::warn!(%cause, "database unavailable");
            StatusCode::SERVICE_UNAVAILABLE
        }
        ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::BAD_REQUEST,
    };
    let body = json!({
        "data": null,
        "errors": [{"message": error.to_string(), "extensions": {"code": error.code()}}],
    });
    if matches!(
        status,
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
    ) {
        return (status, [(header::RETRY_AFTER, "1")], Json(body)).into_response();
    }
    (status, Json(body)).into_response()
}

async fn graphiql(State(state): State<AppState>) -> Response {
    if state.graphiql {
        Html(crate::graphiql::PAGE).into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

/// Ready when the database answers, every migration is applied and no
/// projection lags more than [`READY_LAG_SECONDS`].
async fn readyz(State(state): State<AppState>) -> Response {
    // A database that does not answer makes the service unready within the
    // second, not when the pool gives up.
    let answer = tokio::time::timeout(READY_TIMEOUT, async {
        // After a restart of PostgreSQL the pool still holds connections to
        // the old server, each failing once as it is discarded: the check is
        // tried on until one answers or the second is up.
        loop {
            match readiness(&state).await {
                Err(Unready::Database(error)) if is_unreachable(&error) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                answer => return answer.map_err(|why| why.to_string()),
            }
        }
    })
    .await
    .unwrap_or_else(|_| Err(format!("database: no answer within {READY_TIMEOUT:?}")));
    match answer {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, why).into_response(),
    }
}

/// The longest `/readyz` takes to answer.
pub const READY_TIMEOUT: Duration = Duration::from_millis(900);

/// Why the service is not ready.
#[derive(Debug, thiserror::Error)]
enum Unready {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Behind(String),
}

async fn readiness(state: &AppState) -> Result<(), Unready> {
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&state.pool)
        .await?;
    let known = MIGRATOR.iter().count() as i64;
    if applied < known {
        return Err(Unready::Behind(format!(
            "{applied} of {known} migrations applied"
        )));
    }
    let names = projection_names();
    for lag in checkpoint::lags(&state.pool, &names).await? {
        if lag.seconds_behind > READY_LAG_SECONDS {
            return Err(Unready::Behind(format!(
                "projection {} is {:.0} s behind",
                lag.projection, lag.seconds_behind
            )));
        }
    }
    Ok(())
}

/// Prometheus text: commands by type and outcome, latencies, events
/// folded and each projection's position and leadership (kept by the
/// workers), the pools' use. Nothing here queries the database.
async fn metrics(State(state): State<AppState>) -> Response {
    for (pool, connections) in [("writes", &state.pool), ("reads", state.reads.pool())] {
        let size = connections.size() as f64;
        let idle = connections.num_idle() as f64;
        metrics::gauge!("foldline_pool_connections", "pool" => pool, "state" => "idle").set(idle);
        metrics::gauge!("foldline_pool_connections", "pool" => pool, "state" => "in_use")
            .set(size - idle);
        metrics::gauge!("foldline_pool_max_connections", "pool" => pool)
            .set(connections.options().get_max_connections() as f64);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.prometheus.render(),
    )
        .into_response()
}

/// Counts a request refused before the schema ran, by its code.
fn refused(error: &ApiError) {
    metrics::counter!("foldline_graphql_refused_total", "code" => error.code()).increment(1);
}

fn projection_names() -> Vec<&'static str> {
    foldline_projectors::all()
        .iter()
        .map(|p| p.name())
        .collect()
}
