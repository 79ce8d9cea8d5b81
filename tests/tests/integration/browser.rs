//! What a browser app on another origin needs of the API: CORS for the
//! origins the service is configured with, and nothing for the others;
//! compressed responses for a client that asks for them.

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
    let query = "{ people(first: 1) { edges { cursor } } }";
    for (origin, expected) in [(ALLOWED, Some(ALLOWED)), (OTHER, None)] {
        let mut request = Api::request(org.owner, org.id, query, json!({}));
        request
            .headers_mut()
            .insert("origin", HeaderValue::from_static(origin));
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

/// A client that accepts gzip or brotli gets the page compressed, and the
/// same page once decoded; one that does not gets it as it was.
#[tokio::test]
async fn a_page_is_compressed_for_a_client_that_asks() {
    use std::io::Read;
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Compressed").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let api = Api::new(&db);
    let query = "{ activityFeed(first: 50) { edges { cursor node { title content entityName createdAt } } } }";
    let fetch = |encoding: Option<&'static str>| {
        let mut request = Api::request(org.owner, org.id, query, json!({}));
        if let Some(encoding) = encoding {
            request
                .headers_mut()
                .insert("accept-encoding", HeaderValue::from_static(encoding));
        }
        let router = api.router.clone();
        async move {
            let response = router.oneshot(request).await.unwrap();
            let encoding = response
                .headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap().to_owned());
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (encoding, bytes)
        }
    };
    let (encoding, plain) = fetch(None).await;
    assert_eq!(encoding, None);
    let page: Value = serde_json::from_slice(&plain).unwrap();
    assert!(page["errors"].is_null(), "{page}");
    assert!(!page["data"]["activityFeed"]["edges"]
        .as_array()
        .unwrap()
        .is_empty());

    let (encoding, gzipped) = fetch(Some("gzip")).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert!(
        gzipped.len() < plain.len() / 2,
        "{} of {}",
        gzipped.len(),
        plain.len()
    );
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(&gzipped[..])
        .read_to_end(&mut decoded)
        .unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&decoded).unwrap(), page);

    let (encoding, _) = fetch(Some("br;q=1.0, gzip;q=0.5")).await;
    assert_eq!(encoding.as_deref(), Some("br"));
}

/// The `src` and `href` values of `html`.
fn references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (at, _) in html.match_indices(attribute) {
            let rest = &html[at + attribute.len()..];
            found.push(rest[..rest.find('"').unwrap()].to_owned());
        }
    }
    found
}

#[tokio::test]
async fn graphiql_is_served_from_the_binary_and_loads_nothing_from_another_host() {
    let db = TestDb::new().await;
    let api = Api::new(&db);
    let get = |app: axum::Router, path: String| async move {
        let response = app
            .oneshot(Request::get(&path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            content_type,
            String::from_utf8_lossy(&body).into_owned(),
        )
    };
    let app = router(api.state.clone());
    let (status, content_type, page) = get(app.clone(), "/graphql".into()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let assets = references(&page);
    assert_eq!(assets.len(), 5, "{page}");
    for asset in &assets {
        // A path on this service, never another host (a CDN would leave the
        // page blank offline).
        assert!(asset.starts_with("/graphiql/"), "{asset}");
        let (status, content_type, body) = get(app.clone(), asset.clone()).await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        let expected = if asset.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(
            content_type.starts_with(expected),
            "{asset}: {content_type}"
        );
        assert!(body.len() > 100, "{asset}");
        for host in [
            "unpkg.com",
            "cdn.jsdelivr.net",
            "cdnjs.cloudflare.com",
            "fonts.googleapis.com",
        ] {
            assert!(!body.contains(host), "{asset} loads from {host}");
        }
        if asset.ends_with(".css") {
            // Its fonts are inline.
            for (at, _) in body.match_indices("url(") {
                let target = &body[at + 4..at + 12];
                assert!(target.starts_with("data:"), "{asset}: url({target}…");
            }
        }
    }
    let (status, ..) = get(app.clone(), "/graphiql/secrets.txt".into()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Switched off, neither the page nor its assets are served.
    let mut off = api.state.clone();
    off.graphiql = false;
    let app = router(off);
    for path in ["/graphql".to_owned(), assets[0].clone()] {
        let (status, ..) = get(app.clone(), path.clone()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}
