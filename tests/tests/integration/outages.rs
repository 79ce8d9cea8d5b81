//! The API when its database is out of reach or has just restarted: the
//! caller is told at once, with a code it can retry on.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use foldline_graphql::auth::{Authenticator, VerifyingKey};
use foldline_graphql::Limits;
use foldline_projectors::Engine;
use foldline_server::http::{router, AppState};
use foldline_tests::api::{codes, Api, SECRET};
use foldline_tests::read_side::catch_up_all;
use foldline_tests::{Org, TestDb};
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection};
use tower::ServiceExt;

/// The status `/readyz` answers.
async fn readiness(api: &Api) -> u16 {
    let request = Request::get("/readyz").body(Body::empty()).unwrap();
    let response = api.router.clone().oneshot(request).await.unwrap();
    response.status().as_u16()
}

const PEOPLE: &str = "{ people(first: 5) { edges { node { name } } } }";

#[tokio::test]
async fn with_the_database_down_requests_are_unavailable_at_once_and_readiness_says_so() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Down").await;
    // Nothing listens on port 1: every connection is refused, as when the
    // server is down.
    let down = PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with(db.options.clone().port(1));
    let authenticator =
        Authenticator::new(&VerifyingKey::Secret(SECRET.to_vec()), None, None).unwrap();
    let state = AppState::new(down, authenticator, Limits::default(), false);
    let api = Api {
        router: router(state.clone()),
        state,
    };
    let started = Instant::now();
    let (status, response) = api.query(org.member, org.id, PEOPLE, json!({})).await;
    let took = started.elapsed();
    assert_eq!(status, 503, "{response}");
    assert_eq!(codes(&response), ["UNAVAILABLE"], "{response}");
    // The pool would retry for 10 s; reads give up after 1 s.
    assert!(took < Duration::from_secs(4), "answered after {took:?}");

    let started = Instant::now();
    assert_eq!(readiness(&api).await, 503);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn after_a_restart_requests_are_unavailable_or_served_never_internal() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Restart").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let api = Api::new(&db);
    // Warm the read pool with a few connections.
    let warm = (0..4).map(|_| api.query(org.member, org.id, PEOPLE, json!({})));
    for (status, response) in futures::future::join_all(warm).await {
        assert_eq!(status, 200, "{response}");
    }
    let mut admin = PgConnection::connect_with(&db.options).await.unwrap();
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    // Readiness tries past the pool's dead connections: ready at once.
    assert_eq!(readiness(&api).await, 200, "ready again after the restart");
    let mut served = false;
    for _ in 0..20 {
        let (status, response) = api.query(org.member, org.id, PEOPLE, json!({})).await;
        if status == 200 && response["errors"].is_null() {
            served = true;
            break;
        }
        assert_eq!(status, 503, "{response}");
        assert_eq!(codes(&response), ["UNAVAILABLE"], "{response}");
    }
    assert!(
        served,
        "the API serves again once its dead connections are gone"
    );
}
