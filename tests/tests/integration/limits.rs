//! The limits that protect everyone else from one caller: a query too big
//! is refused before it runs, and one user's burst waits its own turn while
//! another user's page is served.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use foldline_graphql::Limits;
use foldline_projectors::Engine;
use foldline_tests::api::{codes, Api};
use foldline_tests::read_side::catch_up_all;
use foldline_tests::{Org, TestDb};
use serde_json::json;
use uuid::Uuid;

const PAGE_FIELDS: &str = "edges { cursor node { id title startsAt endsAt status entityId } }
    pageInfo { hasNextPage endCursor }";

/// `count` copies of `field`, each under its own alias.
pub(crate) fn aliased(count: usize, field: &str) -> String {
    let fields: Vec<String> = (0..count).map(|n| format!("f{n}: {field}")).collect();
    format!("{{ {} }}", fields.join(" "))
}

#[tokio::test]
async fn a_query_too_big_is_refused_before_it_runs() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Limits").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let api = Api::new(&db);
    let limits = Limits::default();
    let full_page = format!("calendarEvents(first: 100) {{ {PAGE_FIELDS} }}");
    let small_page = "people(first: 5) { edges { cursor node { name } } }";

    // One full page is well within the limits; so is every root field
    // allowed, each a small page.
    for query in [
        format!("{{ {full_page} }}"),
        aliased(limits.root_fields, small_page),
    ] {
        let (status, response) = api.query(org.owner, org.id, &query, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{response}");
        assert!(response["errors"].is_null(), "{query}: {response}");
    }

    let refused = [
        // Complexity counts each row a page may return: the same full page
        // (twelve fields a row, a hundred rows) nine times over is refused,
        // though it is only nine fields at the root.
        (
            aliased(limits.complexity / (12 * 100) + 1, &full_page),
            "complex",
        ),
        // One root field more than allowed, each of them cheap.
        (
            aliased(limits.root_fields + 1, small_page),
            "fields at its root",
        ),
        // Aliases below the root, each cheap.
        (
            format!(
                "{{ people(first: 1) {{ edges {{ {} }} }} }}",
                (0..=limits.aliases)
                    .map(|n| format!("c{n}: cursor"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            "aliases",
        ),
    ];
    for (query, why) in refused {
        let (_, response) = api.query(org.owner, org.id, &query, json!({})).await;
        assert_eq!(codes(&response), ["BAD_USER_INPUT"], "{why}: {response}");
        assert!(response["data"].is_null(), "nothing ran: {response}");
        let message = response["errors"][0]["message"].as_str().unwrap_or("");
        assert!(message.contains(why), "{why}: {message}");
    }
}

const CALENDAR: &str = "query($position: Int) {
    calendarEvents(first: 20, afterPosition: $position) { edges { node { title } } }
}";

#[tokio::test]
async fn one_users_burst_waits_its_turn_while_another_user_is_served() {
    let db = TestDb::new().await;
    let busy = Org::create(&db.bus(), "Busy").await;
    let other = Org::create(&db.bus(), "Other").await;
    let engine = Engine::new(db.pool.clone());
    catch_up_all(&db, &engine).await;
    let limits = Limits {
        running_per_user: 2,
        queued_per_user: 3,
        ..Limits::default()
    };
    let api = Api::with_limits(&db, limits);

    // A write no projection has applied yet: each of the busy user's reads
    // after it waits for the calendar to catch up, holding its read
    // connection all the while, as slow queries would.
    let position = api
        .mutate(
            busy.owner,
            busy.id,
            "createTask",
            Uuid::new_v4(),
            json!({"title": "Held", "dueAt": "2027-01-05T10:00:00Z"}),
        )
        .await;
    // More than the pool's read connections (ten in tests): without the
    // limit, these would take every one of them.
    let burst = 16;
    let requests: Vec<_> = (0..burst)
        .map(|_| {
            let api = api.clone();
            let (owner, id) = (busy.owner, busy.id);
            tokio::spawn(async move {
                api.query(owner, id, CALENDAR, json!({"position": position}))
                    .await
            })
        })
        .collect();

    // Those beyond the user's running and queued requests are refused at
    // once, with the status and code clients retry on.
    let admitted = limits.running_per_user + limits.queued_per_user;
    let started = Instant::now();
    while requests.iter().filter(|r| r.is_finished()).count() < burst - admitted {
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "the requests beyond the limit were not refused at once"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    assert_eq!(api.state.in_flight.requests(busy.owner), admitted);
    // Another user's page is served while every one of the busy user's
    // admitted requests is still waiting. (Without the limit, the burst
    // holds every read connection, and this page is UNAVAILABLE.)
    let (status, response) = api.query(other.owner, other.id, CALENDAR, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{response}");
    assert!(response["errors"].is_null(), "{response}");
    let waiting = requests.iter().filter(|r| !r.is_finished()).count();
    assert_eq!(waiting, admitted, "the other user was served first");

    // Once the calendar catches up, the busy user's admitted requests are
    // all answered, the queued ones after the running ones.
    catch_up_all(&db, &engine).await;
    let (mut answered, mut refused) = (0, 0);
    for request in requests {
        let (status, response) = request.await.unwrap();
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(codes(&response), ["TOO_MANY_REQUESTS"], "{response}");
            refused += 1;
        } else {
            assert_eq!(status, StatusCode::OK, "{response}");
            let titles = response["data"]["calendarEvents"]["edges"].to_string();
            assert!(titles.contains("Held"), "{response}");
            answered += 1;
        }
    }
    assert_eq!((answered, refused), (admitted, burst - admitted));
    assert_eq!(api.state.in_flight.users(), 0, "nothing is left counted");
}
