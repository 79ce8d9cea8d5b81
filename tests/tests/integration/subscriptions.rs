//! `activityAdded` over graphql-ws, against the router served on a real
//! socket with the projection workers running.

use std::net::SocketAddr;
use std::time::Duration;

use foldline_projectors::Engine;
use foldline_server::http::SUBSCRIPTIONS_PATH;
use foldline_tests::api::Api;
use foldline_tests::read_side::{catch_up_all, last_position};
use foldline_tests::{Org, TestDb};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for a message it expects.
const PATIENCE: Duration = Duration::from_secs(10);

const ACTIVITY: &str =
    "subscription($after: Int) { activityAdded(afterPosition: $after) { entityId title visibility position } }";

/// The API on a loopback port, with projection workers woken by its bus.
struct Served {
    api: Api,
    address: SocketAddr,
    _stop: watch::Sender<bool>,
}

async fn serve(db: &TestDb) -> Served {
    let api = Api::new(db);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = api.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let (stop, shutdown) = watch::channel(false);
    Engine::new(db.pool.clone()).spawn(
        foldline_projectors::all(),
        api.state.bus.committed(),
        shutdown,
    );
    Served {
        api,
        address,
        _stop: stop,
    }
}

/// Opens a graphql-ws connection, and sends nothing yet.
async fn connect(address: SocketAddr) -> Socket {
    let mut request = format!("ws://{address}{SUBSCRIPTIONS_PATH}")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// Opens a graphql-ws connection and sends `connection_init` with `payload`.
async fn open(address: SocketAddr, payload: Value) -> Socket {
    let mut socket = connect(address).await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": payload}),
    )
    .await;
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

/// The next message, as JSON; a close frame is `{"close": code, "reason": …}`.
async fn next(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("no message in time")
            .expect("the connection ended")
            .unwrap();
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Close(frame) => {
                let (code, reason) = frame
                    .map(|f| (u16::from(f.code), f.reason.to_string()))
                    .unwrap_or_default();
                return json!({"close": code, "reason": reason});
            }
            _ => continue,
        }
    }
}

/// A member's subscription to their organization's activity.
async fn subscribe(served: &Served, user: Uuid, org: Uuid, after: Option<i64>) -> Socket {
    let token = format!("Bearer {}", Api::token(user));
    let mut socket = open(
        served.address,
        json!({"Authorization": token, "X-Organization-Id": org}),
    )
    .await;
    assert_eq!(next(&mut socket).await["type"], "connection_ack");
    send(
        &mut socket,
        json!({"id": "1", "type": "subscribe",
               "payload": {"query": ACTIVITY, "variables": {"after": after}}}),
    )
    .await;
    socket
}

/// The activity delivered until one about `last` arrives.
async fn until(socket: &mut Socket, last: Uuid) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let message = next(socket).await;
        assert_eq!(message["type"], "next", "{message}");
        let activity = message["payload"]["data"]["activityAdded"].clone();
        let done = activity["entityId"] == last.to_string();
        seen.push(activity);
        if done {
            return seen;
        }
    }
}

/// The position of `organization`'s last event: where its subscribers may
/// resume.
async fn last_of(db: &TestDb, organization: Uuid) -> i64 {
    sqlx::query_scalar("SELECT max(global_position) FROM events WHERE organization_id = $1")
        .bind(organization)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

fn entities(activity: &[Value]) -> Vec<String> {
    activity
        .iter()
        .map(|a| a["entityId"].as_str().unwrap().to_owned())
        .collect()
}

async fn task(served: &Served, user: Uuid, org: Uuid, title: &str, visibility: &str) -> Uuid {
    let id = Uuid::new_v4();
    served
        .api
        .mutate(
            user,
            org,
            "createTask",
            id,
            json!({"title": title, "visibility": visibility.to_uppercase()}),
        )
        .await;
    id
}

#[tokio::test]
async fn subscribers_get_their_own_organizations_new_activity_and_nothing_else() {
    let db = TestDb::new().await;
    let a = Org::create(&db.bus(), "Subscribed A").await;
    let b = Org::create(&db.bus(), "Subscribed B").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let served = serve(&db).await;
    // From the current position, so that nothing depends on how soon the
    // subscriptions start.
    let mut a_member = subscribe(&served, a.member, a.id, Some(last_of(&db, a.id).await)).await;
    let mut b_owner = subscribe(&served, b.owner, b.id, Some(last_of(&db, b.id).await)).await;

    let first = task(&served, a.owner, a.id, "Rig the lights", "organization").await;
    let private = task(&served, a.owner, a.id, "Owner's errand", "private").await;
    let theirs = task(&served, b.owner, b.id, "B's own task", "organization").await;
    let second = task(&served, a.owner, a.id, "Strike the set", "organization").await;

    let delivered = until(&mut a_member, second).await;
    let ids = entities(&delivered);
    assert!(ids.contains(&first.to_string()), "{delivered:?}");
    assert!(
        !ids.contains(&private.to_string()),
        "private: {delivered:?}"
    );
    assert!(!ids.contains(&theirs.to_string()), "B's: {delivered:?}");
    let positions: Vec<i64> = delivered
        .iter()
        .map(|a| a["position"].as_i64().unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] <= w[1]), "{positions:?}");
    assert!(delivered.iter().all(|a| a["visibility"] != "PRIVATE"));

    let delivered = until(&mut b_owner, theirs).await;
    for a_task in [first, private, second] {
        assert!(!entities(&delivered).contains(&a_task.to_string()));
    }
    // Nothing more is pending for B: A's second task came after B's.
    let quiet = tokio::time::timeout(Duration::from_millis(1_500), b_owner.next()).await;
    assert!(quiet.is_err(), "B was sent more: {quiet:?}");
}

#[tokio::test]
async fn a_subscriber_resuming_after_a_position_gets_what_came_after_it() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Resumed").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let served = serve(&db).await;
    let before = task(&served, org.owner, org.id, "Before", "organization").await;
    let mark = last_position(&db).await;
    let missed = task(&served, org.owner, org.id, "Missed", "organization").await;
    // The workers have applied it before anyone subscribes.
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let mut socket = subscribe(&served, org.member, org.id, Some(mark)).await;
    let delivered = until(&mut socket, missed).await;
    assert!(!entities(&delivered).contains(&before.to_string()));
    assert!(delivered
        .iter()
        .all(|a| a["position"].as_i64().unwrap() > mark));
}

#[tokio::test]
async fn connections_failing_authentication_or_membership_are_closed_with_the_code() {
    let db = TestDb::new().await;
    let a = Org::create(&db.bus(), "Closed A").await;
    let b = Org::create(&db.bus(), "Closed B").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let served = serve(&db).await;
    let bearer = |user| format!("Bearer {}", Api::token(user));
    let cases = [
        (
            "no token",
            json!({"X-Organization-Id": a.id}),
            "UNAUTHENTICATED",
        ),
        (
            "bad token",
            json!({"Authorization": "Bearer not.a.jwt", "X-Organization-Id": a.id}),
            "UNAUTHENTICATED",
        ),
        (
            "unknown user",
            json!({"Authorization": bearer(Uuid::new_v4()), "X-Organization-Id": a.id}),
            "UNAUTHENTICATED",
        ),
        (
            "another organization",
            json!({"Authorization": bearer(b.owner), "X-Organization-Id": a.id}),
            "FORBIDDEN",
        ),
        (
            "no organization",
            json!({"Authorization": bearer(a.owner)}),
            "BAD_USER_INPUT",
        ),
    ];
    for (case, payload, code) in cases {
        let mut socket = open(served.address, payload).await;
        let message = next(&mut socket).await;
        assert!(message["close"].is_u64(), "{case}: {message}");
        let reason = message["reason"].as_str().unwrap();
        assert!(reason.starts_with(&format!("{code}: ")), "{case}: {reason}");
    }
    // A subscription sent without a connection_init is not served either.
    let mut socket = connect(served.address).await;
    send(
        &mut socket,
        json!({"id": "1", "type": "subscribe", "payload": {"query": ACTIVITY}}),
    )
    .await;
    let message = next(&mut socket).await;
    assert!(message["close"].is_u64(), "{message}");
}

#[tokio::test]
async fn projection_workers_announce_each_commit_on_the_channel() {
    let db = TestDb::new().await;
    let mut listener = sqlx::postgres::PgListener::connect_with(&db.pool)
        .await
        .unwrap();
    listener
        .listen(foldline_graphql::subscription::CHANNEL)
        .await
        .unwrap();
    Org::create(&db.bus(), "Announced").await;
    let last = last_position(&db).await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let wanted = format!("activity_feed:{last}");
    loop {
        let notification = tokio::time::timeout(PATIENCE, listener.recv())
            .await
            .expect("no announcement of the activity feed's last batch")
            .unwrap();
        if notification.payload() == wanted {
            break;
        }
    }
}

/// Two transactions that commit in the opposite order of their positions:
/// the one with the higher position is in the feed first. Both reach a live
/// subscriber once, in the feed's order, and a subscriber resuming after
/// the first one it saw still gets the second.
#[tokio::test]
async fn rows_committed_out_of_position_order_are_all_delivered_in_feed_order() {
    use foldline_tests::legacy::insert_contact_added;
    use sqlx::{Connection, PgConnection};
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Out of order").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let served = serve(&db).await;
    let start = last_position(&db).await;
    let mut live = subscribe(&served, org.member, org.id, Some(start)).await;

    let mut first = PgConnection::connect_with(&db.options).await.unwrap();
    let mut second = PgConnection::connect_with(&db.options).await.unwrap();
    let mut early = first.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *early)
        .await
        .unwrap();
    let mut late = second.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *late)
        .await
        .unwrap();
    // The later transaction takes the lower position and commits last.
    let (low, low_position) = insert_contact_added(&mut late, &org, "Low position").await;
    let (high, high_position) = insert_contact_added(&mut early, &org, "High position").await;
    assert!(low_position < high_position);
    early.commit().await.unwrap();
    let seen = until(&mut live, high).await;
    assert!(!entities(&seen).contains(&low.to_string()), "{seen:?}");
    late.commit().await.unwrap();
    let seen = until(&mut live, low).await;
    assert_eq!(
        entities(&seen),
        [low.to_string()],
        "once, after the high one"
    );

    // A client that saw the high one and reconnects resumes after it.
    let mut resumed = subscribe(&served, org.member, org.id, Some(high_position)).await;
    assert_eq!(entities(&until(&mut resumed, low).await), [low.to_string()]);
    // One resuming from before both gets both, in the feed's order.
    let mut again = subscribe(&served, org.member, org.id, Some(start)).await;
    let seen = until(&mut again, low).await;
    let both: Vec<String> = entities(&seen)
        .into_iter()
        .filter(|id| *id == low.to_string() || *id == high.to_string())
        .collect();
    assert_eq!(both, [high.to_string(), low.to_string()]);
}

/// `afterPosition` tells nothing of other organizations' events: one of
/// theirs, and one beyond the end of the store, are answered alike.
#[tokio::test]
async fn after_position_gives_nothing_of_other_organizations_away() {
    let db = TestDb::new().await;
    let a = Org::create(&db.bus(), "Oracle A").await;
    let b = Org::create(&db.bus(), "Oracle B").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let served = serve(&db).await;
    let (ours, theirs) = (last_of(&db, a.id).await, last_of(&db, b.id).await);
    let beyond = last_position(&db).await + 1_000_000;
    let answer =
        |position: i64, response: Value| response.to_string().replace(&position.to_string(), "N");
    let query = "query($p: Int) { calendarEvents(afterPosition: $p) { edges { cursor } } }";
    let mut answers = Vec::new();
    for position in [theirs, beyond] {
        let (_, response) = served
            .api
            .query(a.member, a.id, query, json!({"p": position}))
            .await;
        answers.push(answer(position, response));
    }
    assert_eq!(answers[0], answers[1]);
    assert!(answers[0].contains("BAD_USER_INPUT"), "{}", answers[0]);
    let (_, response) = served
        .api
        .query(a.member, a.id, query, json!({"p": ours}))
        .await;
    assert!(response["errors"].is_null(), "its own position: {response}");

    let mut answers = Vec::new();
    for position in [theirs, beyond] {
        let mut socket = subscribe(&served, a.member, a.id, Some(position)).await;
        let message = next(&mut socket).await;
        answers.push(answer(position, message));
    }
    assert_eq!(answers[0], answers[1]);
    assert!(answers[0].contains("BAD_USER_INPUT"), "{}", answers[0]);
}

/// Runs `query` as operation `id` on an open socket; returns its first
/// result (`next` or `error`), passing over other operations' messages.
async fn operation(socket: &mut Socket, id: &str, query: &str) -> Value {
    send(
        socket,
        json!({"id": id, "type": "subscribe", "payload": {"query": query}}),
    )
    .await;
    loop {
        let message = next(socket).await;
        if message["id"] == id && message["type"] != "complete" {
            return message;
        }
    }
}

/// Runs `query` as the next of the numbered operations on a socket.
async fn list_on(socket: &mut Socket, n: &mut usize, query: &str) -> Value {
    *n += 1;
    operation(socket, &format!("q{n}"), query).await
}

/// Waits until operation `id` sends an error, passing over other messages.
async fn error_of(socket: &mut Socket, id: &str) -> Value {
    loop {
        let message = next(socket).await;
        let errors = &message["payload"]["errors"];
        let is_error =
            message["type"] == "error" || (message["type"] == "next" && !errors.is_null());
        if message["id"] == id && is_error {
            return message;
        }
    }
}

/// A member downgraded to guest sees what a guest sees on the socket they
/// had open; removed, they are refused, and their open subscription ends,
/// each as soon as the change is announced: well before the periodic
/// membership check would have caught it. (How soon is a latency, which
/// depends on the machine's load; the bound only tells the announcement
/// from the periodic check.)
#[tokio::test]
async fn downgrade_and_removal_take_effect_on_an_open_socket_when_announced() {
    use foldline_aggregates::organization::{Organization, OrganizationCommand};
    use foldline_aggregates::Role;
    use foldline_graphql::subscription::MEMBERSHIP_CHECK_INTERVAL;
    use std::time::Instant;
    let announced = MEMBERSHIP_CHECK_INTERVAL / 6;
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Revoked").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let served = serve(&db).await;
    let seen = task(&served, org.owner, org.id, "Members only", "organization").await;
    let list = "{ activityFeed(first: 100) { edges { node { entityId } } } }";
    let sees_task = |message: &Value| {
        message["payload"]["data"]["activityFeed"]["edges"]
            .as_array()
            .is_some_and(|edges| edges.iter().any(|e| e["node"]["entityId"] == json!(seen)))
    };
    let mut socket = subscribe(
        &served,
        org.member,
        org.id,
        Some(last_of(&db, org.id).await),
    )
    .await;
    let mut n = 0;
    // Read-your-writes: the member sees the task once it is projected.
    let started = Instant::now();
    while !sees_task(&list_on(&mut socket, &mut n, list).await) {
        assert!(started.elapsed() < PATIENCE, "the task never showed");
    }

    let owner = org.request(org.owner);
    let bus = db.bus();
    bus.execute::<Organization>(
        &owner,
        org.id,
        OrganizationCommand::ChangeMemberRole {
            user_id: org.member,
            role: Role::Guest,
        },
        None,
    )
    .await
    .unwrap();
    let changed = Instant::now();
    while sees_task(&list_on(&mut socket, &mut n, list).await) {
        assert!(changed.elapsed() < announced, "still a member's view");
    }

    bus.execute::<Organization>(
        &owner,
        org.id,
        OrganizationCommand::RemoveMember {
            user_id: org.member,
        },
        None,
    )
    .await
    .unwrap();
    let removed = Instant::now();
    let refused = error_of(&mut socket, "1").await;
    assert!(removed.elapsed() < announced, "{:?}", removed.elapsed());
    assert!(refused.to_string().contains("FORBIDDEN"), "{refused}");
    // Their next operation is refused: a member of no organization any more
    // is not known here at all.
    loop {
        let message = list_on(&mut socket, &mut n, list).await;
        if message.to_string().contains("UNAUTHENTICATED") {
            assert!(message["payload"]["data"].is_null(), "{message}");
            break;
        }
        assert!(removed.elapsed() < announced, "still served: {message}");
    }
}

/// An operation on a socket passes the checks an HTTP request passes, and
/// is refused alike when it fails one: too many root fields or aliases, a
/// NUL character, a time out of range, a query that does not parse.
#[tokio::test]
async fn a_sockets_operations_are_checked_as_http_requests_are() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Checked").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let served = serve(&db).await;
    let page = "people(first: 1) { edges { cursor } }";
    let many = |count| crate::limits::aliased(count, page);
    let aliases: Vec<String> = (0..31).map(|n| format!("c{n}: cursor")).collect();
    let refused = [
        (many(11), "fields at its root"),
        (
            format!(
                "{{ people(first: 1) {{ edges {{ {} }} }} }}",
                aliases.join(" ")
            ),
            "aliases",
        ),
        (
            "{ search(text: \"gala\\u0000\") { title } }".to_owned(),
            "NUL",
        ),
        (
            "{ calendarEvents(filter: {from: \"-200000-01-01T00:00:00Z\"}) { edges { cursor } } }"
                .to_owned(),
            "out of range",
        ),
        ("{ people(first: 1) { edges { cursor }".to_owned(), ""),
    ];
    let mut socket = subscribe(&served, org.member, org.id, None).await;
    for (n, (query, why)) in refused.iter().enumerate() {
        let (_, over_http) = served.api.query(org.member, org.id, query, json!({})).await;
        assert_eq!(
            over_http["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{over_http}"
        );
        let message = over_http["errors"][0]["message"].as_str().unwrap_or("");
        assert!(message.contains(why), "over HTTP, {why}: {message}");

        let id = format!("r{n}");
        send(
            &mut socket,
            json!({"id": id, "type": "subscribe", "payload": {"query": query}}),
        )
        .await;
        let answer = error_of(&mut socket, &id).await;
        let errors = if answer["type"] == "error" {
            &answer["payload"]
        } else {
            &answer["payload"]["errors"]
        };
        assert_eq!(
            errors[0]["message"], over_http["errors"][0]["message"],
            "{answer}"
        );
    }
    // The socket still answers what passes them.
    let mut n = 0;
    let answer = list_on(&mut socket, &mut n, &many(10)).await;
    assert!(answer["payload"]["errors"].is_null(), "{answer}");
    assert!(
        answer["payload"]["data"]["f9"]["edges"].is_array(),
        "{answer}"
    );
}
