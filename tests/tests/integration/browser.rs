//! What a browser app on another origin needs of the API: CORS for the
//! origins the service is configured with, and nothing for the others.

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use foldline_projectors::Engine;
use foldline_server::http::router;
use foldline_tests::api::Api;
use foldline_tests::read_side::catch_up_all;
use foldline_tests::{Org, TestDb};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const ALLOWED: &str = "https://app.example.com";
const OTHER: &str = "https://evil.example.net";

fn allowed(response: &Response<Body>) -> Option<&str> {
    response
        .headers()
        .get("access-control-allow-origin")
        .and_then(|value| value.to_str().ok())
}

#[tokio::test]
async fn a_configured_origin_may_call_the_api_and_another_may_not() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Browser").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let api = Api::new(&db);
    let app = router(
        api.state
            .clone()
            .with_allowed_origins(vec![HeaderValue::from_static(ALLOWED)]),
    );
    let preflight = |origin: &str| {
        Request::options("/graphql")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, x-organization-id",
            )
            .body(Body::empty())
            .unwrap()
    };

    // The browser's preflight: an allowed origin may post GraphQL with its
    // credentials headers; another origin gets no permission at all.
    let response = app.clone().oneshot(preflight(ALLOWED)).await.unwrap();
    assert!(response.status().is_success(), "{:?}", response.status());
    assert_eq!(allowed(&response), Some(ALLOWED));
    let headers = response
        .headers()
        .get("access-control-allow-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    for needed in ["authorization", "content-type", "x-organization-id"] {
        assert!(headers.contains(needed), "{needed} in {headers}");
    }
    let methods = response.headers().get("access-control-allow-methods");
    assert!(
        methods.is_some_and(|m| m.to_str().unwrap().contains("POST")),
        "{methods:?}"
    );
    let response = app.clone().oneshot(preflight(OTHER)).await.unwrap();
    assert_eq!(allowed(&response), None);

    // The request itself: answered either way (CORS is the browser's to
    // enforce), but only the allowed origin's page may read the answer.
    let query = json!({"query": "{ people(first: 1) { edges { cursor } } }"}).to_string();
    for (origin, expected) in [(ALLOWED, Some(ALLOWED)), (OTHER, None)] {
        let request = Request::post("/graphql")
            .header("origin", origin)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", Api::token(org.owner)))
            .header("x-organization-id", org.id.to_string())
            .body(Body::from(query.clone()))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(allowed(&response), expected, "{origin}");
        let body: Value =
            serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes())
                .unwrap();
        assert!(body["errors"].is_null(), "{body}");
    }

    // With no origin configured, as by default, no origin is allowed.
    let response = api
        .router
        .clone()
        .oneshot(preflight(ALLOWED))
        .await
        .unwrap();
    assert_eq!(allowed(&response), None);
}
