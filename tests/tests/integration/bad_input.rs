//! The caller's mistakes are BAD_USER_INPUT, never INTERNAL: times out of
//! PostgreSQL's range, NUL characters, coordinates off the globe, bodies
//! too large, whether passed as variables or written in the query.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use foldline_projectors::Engine;
use foldline_tests::api::{codes, Api};
use foldline_tests::read_side::catch_up_all;
use foldline_tests::{Org, TestDb};
use serde_json::{json, Value};
use uuid::Uuid;

const FAR: &str = "-200000-01-01T00:00:00Z";

/// A cursor that decodes to a time 200,000 years ago.
fn far_cursor() -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}|{}",
        -6_311_390_400_000_000_000i64,
        Uuid::new_v4()
    ))
}

#[tokio::test]
async fn inputs_out_of_range_or_with_nul_are_bad_user_input() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Bad input").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let api = Api::new(&db);
    let cursor = far_cursor();
    let cases: Vec<(&str, &str, Value)> = vec![
        ("calendar cursor", "query($c: String) { calendarEvents(after: $c) { edges { cursor } } }", json!({"c": cursor})),
        ("activity cursor", "query($c: String) { activityFeed(after: $c) { edges { cursor } } }", json!({"c": cursor})),
        ("status cursor", "query($c: String) { statuses(after: $c) { edges { cursor } } }", json!({"c": cursor})),
        ("calendar from", "query($t: DateTime) { calendarEvents(filter: {from: $t}) { edges { cursor } } }", json!({"t": FAR})),
        ("calendar from, written in", "{ calendarEvents(filter: {from: \"-200000-01-01T00:00:00Z\"}) { edges { cursor } } }", json!({})),
        ("aging as of", "query($d: NaiveDate) { invoiceAging(asOf: $d) { currency } }", json!({"d": "-200000-01-01"})),
        ("expiring as of", "query($d: NaiveDate) { expiringDocuments(asOf: $d) { title } }", json!({"d": "-200000-01-01"})),
        ("entity at", "query($t: DateTime, $id: String!) { entityAt(aggregateType: \"Task\", id: $id, at: $t) { version } }", json!({"t": FAR, "id": Uuid::new_v4()})),
        ("search with NUL", "query($q: String!) { search(text: $q) { title } }", json!({"q": "gala\u{0}"})),
        ("search with NUL, written in", "{ search(text: \"gala\\u0000\") { title } }", json!({})),
        ("people filter with NUL", "query($q: String) { people(filter: {search: $q}) { edges { cursor } } }", json!({"q": "Car\u{0}ol"})),
        ("document status with NUL", "query($q: String) { documents(filter: {status: $q}) { edges { cursor } } }", json!({"q": "active\u{0}"})),
        ("command text with NUL", "mutation($id: UUID!, $input: CreateTaskInput!) { createTask(id: $id, input: $input) { id } }", json!({"id": Uuid::new_v4(), "input": {"title": "Rig\u{0}"}})),
        ("latitude off the globe", "{ locations(filter: {within: {latitude: 200, longitude: 0, kilometres: 5}}) { edges { cursor } } }", json!({})),
        ("longitude off the globe", "{ locations(filter: {within: {latitude: 0, longitude: -181, kilometres: 5}}) { edges { cursor } } }", json!({})),
    ];
    for (case, query, variables) in cases {
        let (status, response) = api.query(org.owner, org.id, query, variables).await;
        assert_eq!(
            codes(&response),
            ["BAD_USER_INPUT"],
            "{case}: {status} {response}"
        );
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_in_graphql_shape() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Large").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let api = Api::new(&db);
    let token = format!("Bearer {}", Api::token(org.member));
    let organization = org.id.to_string();
    let body = json!({"query": "{ search(text: $q) { title } }", "variables": {"q": "x".repeat(300 * 1024)}});
    let (status, response) = api
        .send(
            &[
                ("authorization", token.as_str()),
                ("x-organization-id", organization.as_str()),
            ],
            body.to_string(),
        )
        .await;
    assert_eq!(status, 413, "{response}");
    assert_eq!(codes(&response), ["BAD_USER_INPUT"], "{response}");
}
