//! The GraphQL API through its HTTP router: authentication, organizations,
//! bad input, mutations and reading one's own writes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use foldline_graphql::auth::{Authenticator, VerifyingKey};
use foldline_projectors::Engine;
use foldline_tests::api::{codes, Api, SECRET};
use foldline_tests::read_side::catch_up_all;
use foldline_tests::{Org, TestDb};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use uuid::Uuid;

const CREATE_TASK: &str =
    "mutation($id: UUID!, $input: CreateTaskInput!) { createTask(id: $id, input: $input) { version position } }";

const CALENDAR: &str = "query($first: Int, $after: String, $position: Int) {
    calendarEvents(first: $first, after: $after, afterPosition: $position) {
        edges { cursor node { title sourceType entityId startsAt visibility } }
        pageInfo { hasNextPage }
    }
}";

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn hs(algorithm: Algorithm, claims: Value, secret: &[u8]) -> String {
    encode(
        &Header::new(algorithm),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

async fn events(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_bad_token_is_unauthenticated() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Tokens").await;
    let api = Api::new(&db);
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let user = org.member.to_string();
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(json!({"sub": user, "exp": now() + 600}).to_string())
    );
    let cases = [
        ("no header", None),
        (
            "not bearer",
            Some(format!("Token {}", Api::token(org.member))),
        ),
        ("malformed", Some("Bearer not.a.jwt".to_owned())),
        (
            "expired",
            Some(hs(
                Algorithm::HS256,
                json!({"sub": user, "exp": now() - 60}),
                SECRET,
            )),
        ),
        (
            "not yet valid",
            Some(hs(
                Algorithm::HS256,
                json!({"sub": user, "exp": now() + 600, "nbf": now() + 300}),
                SECRET,
            )),
        ),
        (
            "wrong signature",
            Some(hs(
                Algorithm::HS256,
                json!({"sub": user, "exp": now() + 600}),
                b"another secret",
            )),
        ),
        (
            "wrong algorithm",
            Some(hs(
                Algorithm::HS512,
                json!({"sub": user, "exp": now() + 600}),
                SECRET,
            )),
        ),
        ("alg none", Some(unsigned)),
        (
            "no sub",
            Some(hs(Algorithm::HS256, json!({"exp": now() + 600}), SECRET)),
        ),
        (
            "sub not a user id",
            Some(hs(
                Algorithm::HS256,
                json!({"sub": "alice", "exp": now() + 600}),
                SECRET,
            )),
        ),
        ("unknown user", Some(Api::token(Uuid::new_v4()))),
    ];
    let organization = org.id.to_string();
    for (case, token) in cases {
        let bearer = token.map(|t| {
            if t.starts_with("Token ") || t.starts_with("Bearer ") {
                t
            } else {
                format!("Bearer {t}")
            }
        });
        let mut headers = vec![("x-organization-id", organization.as_str())];
        if let Some(bearer) = &bearer {
            headers.push(("authorization", bearer.as_str()));
        }
        let body = json!({"query": CALENDAR}).to_string();
        let (status, response) = api.send(&headers, body).await;
        assert_eq!(status, 401, "{case}: {response}");
        assert_eq!(codes(&response), ["UNAUTHENTICATED"], "{case}: {response}");
        assert!(response["data"].is_null(), "{case}: {response}");
    }
    // The same request with a good token goes through.
    let (status, response) = api.query(org.member, org.id, CALENDAR, json!({})).await;
    assert_eq!(status, 200, "{response}");
    assert!(response["errors"].is_null(), "{response}");
}

#[tokio::test]
async fn another_organization_is_forbidden_and_its_aggregates_untouched() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let a = Org::create(&bus, "A").await;
    let b = Org::create(&bus, "B").await;
    let api = Api::new(&db);
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;

    // A's owner naming B in the header.
    let (status, response) = api.query(a.owner, b.id, CALENDAR, json!({})).await;
    assert_eq!(status, 403, "{response}");
    assert_eq!(codes(&response), ["FORBIDDEN"]);

    // A's owner sending a command to B's event: refused, nothing appended.
    let before = events(&db).await;
    let (_, response) = api
        .query(
            a.owner,
            a.id,
            "mutation($id: UUID!) { confirmEvent(id: $id) { version } }",
            json!({"id": b.event}),
        )
        .await;
    assert_eq!(codes(&response), ["NOT_FOUND"], "{response}");
    assert_eq!(events(&db).await, before);

    // A's calendar filtered by B's entity shows nothing; B's owner sees it.
    let entity_rows = |user, organization| {
        let api = &api;
        async move {
            let (_, response) = api
                .query(
                    user,
                    organization,
                    "query($id: UUID) { calendarEvents(filter: {entityId: $id}) { edges { node { id } } } }",
                    json!({"id": b.event}),
                )
                .await;
            response["data"]["calendarEvents"]["edges"]
                .as_array()
                .map(Vec::len)
        }
    };
    assert_eq!(entity_rows(a.owner, a.id).await, Some(0));
    assert_eq!(entity_rows(b.owner, b.id).await, Some(1));
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Input").await;
    let api = Api::new(&db);
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let token = format!("Bearer {}", Api::token(org.owner));
    let organization = org.id.to_string();
    let headers = [
        ("authorization", token.as_str()),
        ("x-organization-id", organization.as_str()),
    ];
    let before = events(&db).await;

    let (status, response) = api.send(&headers, "{\"query\": ").await;
    assert_eq!(status, 400, "{response}");
    assert_eq!(codes(&response), ["BAD_USER_INPUT"], "{response}");

    for query in [
        "{ calendarEvents(first: 100000) { edges { cursor } } }",
        "{ calendarEvents(after: \"garbage\") { edges { cursor } } }",
        "{ calendarEvents { edges { node { nosuchfield } } } }",
        "{ calendarEvents(filter: {from: \"yesterday\"}) { edges { cursor } } }",
        "{ calendarEvents(filter: {entityId: \"not-a-uuid\"}) { edges { cursor } } }",
    ] {
        let (status, response) = api
            .send(&headers, json!({"query": query}).to_string())
            .await;
        assert_eq!(status, 200, "{query}");
        assert_eq!(codes(&response), ["BAD_USER_INPUT"], "{query}: {response}");
    }

    let (_, response) = api
        .query(
            org.owner,
            org.id,
            CREATE_TASK,
            json!({"id": "not-a-uuid", "input": {"title": "x"}}),
        )
        .await;
    assert_eq!(codes(&response), ["BAD_USER_INPUT"], "{response}");

    let (_, response) = api
        .query(
            org.owner,
            org.id,
            CREATE_TASK,
            json!({"id": Uuid::new_v4(), "input": {"title": "Rig", "dueAt": "next tuesday"}}),
        )
        .await;
    assert_eq!(codes(&response), ["BAD_USER_INPUT"], "{response}");
    let message = response["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("DateTime"),
        "the error names the type: {message}"
    );

    // A command that breaks an invariant: a blank title.
    let (_, response) = api
        .query(
            org.owner,
            org.id,
            CREATE_TASK,
            json!({"id": Uuid::new_v4(), "input": {"title": "  "}}),
        )
        .await;
    assert_eq!(codes(&response), ["BAD_USER_INPUT"], "{response}");

    // A field the command does not have is refused, not ignored.
    let (_, response) = api
        .query(
            org.owner,
            org.id,
            CREATE_TASK,
            json!({"id": Uuid::new_v4(), "input": {"title": "Rig", "colour": "red"}}),
        )
        .await;
    assert_eq!(codes(&response), ["BAD_USER_INPUT"], "{response}");
    let message = response["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("colour"), "{message}");

    let shallow = "{ calendarEvents { edges { node { title } } pageInfo { hasNextPage } } }";
    let (_, response) = api
        .send(&headers, json!({"query": shallow}).to_string())
        .await;
    assert!(
        response["errors"].is_null(),
        "a shallow query passes: {response}"
    );
    let nested = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(12),
        "} ".repeat(12)
    );
    let (_, response) = api
        .send(&headers, json!({"query": nested}).to_string())
        .await;
    assert_eq!(
        codes(&response),
        ["BAD_USER_INPUT"],
        "over the depth limit: {response}"
    );

    assert_eq!(events(&db).await, before, "nothing was appended");
}

#[tokio::test]
async fn a_mutation_then_a_query_at_its_position_reads_the_write() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Writes").await;
    let api = Api::new(&db);
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let workers = Engine::new(db.pool.clone()).spawn(
        foldline_projectors::all(),
        api.state.bus.committed(),
        shutdown,
    );

    let task = Uuid::new_v4();
    let (status, response) = api
        .query(
            org.member,
            org.id,
            "mutation($id: UUID!, $input: CreateTaskInput!) {
                createTask(id: $id, input: $input) { id version position events }
            }",
            json!({"id": task, "input": {"title": "Load the truck", "dueAt": "2027-05-01T08:00:00Z"}}),
        )
        .await;
    assert_eq!(status, 200, "{response}");
    let result = &response["data"]["createTask"];
    assert_eq!(result["id"], json!(task));
    assert_eq!(result["version"], 1);
    assert_eq!(result["events"], 1);
    let position = result["position"].as_i64().unwrap();

    let (_, response) = api
        .query(org.member, org.id, CALENDAR, json!({"position": position}))
        .await;
    let edges = response["data"]["calendarEvents"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    let due = edges
        .iter()
        .find(|edge| edge["node"]["entityId"] == json!(task))
        .unwrap_or_else(|| panic!("the task's due date is on the calendar: {response}"));
    assert_eq!(due["node"]["title"], "Due: Load the truck");
    assert_eq!(due["node"]["startsAt"], "2027-05-01T08:00:00+00:00");

    // A stale expected version is a conflict, and appends nothing.
    let before = events(&db).await;
    let (_, response) = api
        .query(
            org.member,
            org.id,
            "mutation($id: UUID!) { startTask(id: $id, expectedVersion: 0) { version } }",
            json!({"id": task}),
        )
        .await;
    assert_eq!(codes(&response), ["CONFLICT"], "{response}");
    assert_eq!(events(&db).await, before);

    // The activity feed, newest first, shows the creation to its creator.
    let (_, response) = api
        .query(
            org.member,
            org.id,
            "query($id: UUID, $position: Int) {
                activityFeed(filter: {entityId: $id}, afterPosition: $position) {
                    edges { node { activityType actorId entityName metadata } }
                }
            }",
            json!({"id": task, "position": position}),
        )
        .await;
    let node = &response["data"]["activityFeed"]["edges"][0]["node"];
    assert_eq!(node["activityType"], "CREATED", "{response}");
    assert_eq!(node["actorId"], json!(org.member));
    assert_eq!(node["metadata"]["command"], "CreateTask");

    stop.send(true).unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
}

#[tokio::test]
async fn pages_follow_their_cursors_to_the_end() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Pages").await;
    let api = Api::new(&db);
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let mut last = 0;
    for n in 0..7 {
        let (_, response) = api
            .query(
                org.owner,
                org.id,
                CREATE_TASK,
                json!({"id": Uuid::new_v4(), "input": {"title": format!("Task {n}"), "dueAt": format!("2027-06-0{}T09:00:00Z", n + 1)}}),
            )
            .await;
        last = response["data"]["createTask"]["position"].as_i64().unwrap();
    }
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let mut titles = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let (_, response) = api
            .query(
                org.owner,
                org.id,
                CALENDAR,
                json!({"first": 3, "after": after, "position": last}),
            )
            .await;
        let page = &response["data"]["calendarEvents"];
        let edges = page["edges"].as_array().unwrap();
        assert!(edges.len() <= 3, "{response}");
        for edge in edges {
            if let Some(title) = edge["node"]["title"]
                .as_str()
                .unwrap()
                .strip_prefix("Due: ")
            {
                titles.push(title.to_owned());
            }
        }
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = edges
            .last()
            .map(|edge| edge["cursor"].as_str().unwrap().to_owned());
    }
    let expected: Vec<String> = (0..7).map(|n| format!("Task {n}")).collect();
    assert_eq!(titles, expected, "every task once, in time order");
}

#[tokio::test]
async fn detail_queries_fold_the_stream_and_hide_what_the_caller_may_not_see() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Details").await;
    let other = Org::create(&bus, "Other").await;
    let api = Api::new(&db);
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;

    let invoice = Uuid::new_v4();
    let owner = org.request(org.owner);
    bus.execute::<foldline_aggregates::invoice::Invoice>(
        &owner,
        invoice,
        foldline_tests::commands::draft_invoice("INV-7", org.client),
        None,
    )
    .await
    .unwrap();
    bus.execute::<foldline_aggregates::invoice::Invoice>(
        &owner,
        invoice,
        foldline_tests::commands::invoice_line(3),
        None,
    )
    .await
    .unwrap();
    const INVOICE: &str = "query($id: UUID!) {
        invoice(id: $id) { __typename id version number status total lines { quantity unitPrice } }
    }";
    let (_, response) = api
        .query(org.owner, org.id, INVOICE, json!({"id": invoice}))
        .await;
    let detail = &response["data"]["invoice"];
    assert_eq!(detail["version"], 2, "{response}");
    assert_eq!(detail["__typename"], "Invoice");
    assert_eq!(detail["id"], json!(invoice));
    assert_eq!(detail["number"], "INV-7");
    assert_eq!(detail["status"], "DRAFT");
    assert_eq!(
        detail["lines"].as_array().map(Vec::len),
        Some(1),
        "{response}"
    );
    let line = &detail["lines"][0];
    let quantity = line["quantity"].as_i64().unwrap();
    let unit_price: i64 = line["unitPrice"].as_str().unwrap().parse().unwrap();
    assert_eq!(detail["total"], json!((quantity * unit_price).to_string()));

    // Another organization's owner asking in their own organization: not found.
    let (_, response) = api
        .query(other.owner, other.id, INVOICE, json!({"id": invoice}))
        .await;
    assert_eq!(codes(&response), ["NOT_FOUND"], "{response}");

    // A private task: its creator and the owner see it, an admin does not.
    let task = Uuid::new_v4();
    let (_, response) = api
        .query(
            org.member,
            org.id,
            CREATE_TASK,
            json!({"id": task, "input": {"title": "Private errand", "visibility": "PRIVATE"}}),
        )
        .await;
    assert!(response["errors"].is_null(), "{response}");
    const TASK: &str = "query($id: UUID!) { task(id: $id) { version title } }";
    for (user, visible) in [(org.member, true), (org.owner, true), (org.admin, false)] {
        let (_, response) = api.query(user, org.id, TASK, json!({"id": task})).await;
        if visible {
            assert_eq!(response["data"]["task"]["title"], "Private errand");
        } else {
            assert_eq!(codes(&response), ["NOT_FOUND"], "{response}");
        }
    }
}

#[tokio::test]
async fn every_table_has_its_connection_with_its_filters() {
    let db = TestDb::new().await;
    let bus = db.bus();
    foldline_server::fixture::seed(
        &bus,
        &foldline_server::fixture::Fixture::load("demo").unwrap(),
    )
    .await
    .unwrap();
    let org = Org::create(&bus, "Filters").await;
    let api = Api::new(&db);
    // The demo's first organization and its owner.
    let (organization, owner): (Uuid, Uuid) = {
        catch_up_all(&db, &Engine::new(db.pool.clone())).await;
        sqlx::query_as(
            "SELECT organization_id, user_id FROM memberships
             WHERE role = 'owner' AND organization_id <> $1 ORDER BY organization_id LIMIT 1",
        )
        .bind(org.id)
        .fetch_one(&db.pool)
        .await
        .unwrap()
    };
    let queries = [
        ("calendarEvents", "{ calendarEvents(filter: {from: \"2020-01-01T00:00:00Z\", sourceType: EVENT}) { edges { node { sourceType } } } }", "sourceType", "EVENT"),
        ("activityFeed", "{ activityFeed(filter: {entityType: INVOICE}) { edges { node { entityType } } } }", "entityType", "INVOICE"),
        ("documents", "{ documents(filter: {expiringBefore: \"2100-01-01\"}) { edges { node { expiresOn } } } }", "", ""),
        ("ledger", "{ ledger(filter: {direction: RECEIVABLE}) { edges { node { direction } } } }", "direction", "RECEIVABLE"),
        ("people", "{ people(filter: {personType: INTERNAL}) { edges { node { personType } } } }", "personType", "INTERNAL"),
        ("assignments", "{ assignments(filter: {status: \"confirmed\"}) { edges { node { status } } } }", "status", "confirmed"),
        ("locations", "{ locations(filter: {locationType: VENUE}) { edges { node { locationType } } } }", "locationType", "VENUE"),
        ("statuses", "{ statuses(filter: {category: COMPLETED}) { edges { node { statusCategory } } } }", "statusCategory", "COMPLETED"),
        ("inventory", "{ inventory(filter: {itemType: EQUIPMENT}) { edges { node { itemType } } } }", "itemType", "EQUIPMENT"),
    ];
    for (field, query, column, value) in queries {
        let (status, response) = api.query(owner, organization, query, json!({})).await;
        assert_eq!(status, 200, "{field}: {response}");
        assert!(response["errors"].is_null(), "{field}: {response}");
        let edges = response["data"][field]["edges"].as_array().unwrap();
        assert!(
            !edges.is_empty(),
            "{field}: the demo has such rows: {response}"
        );
        if !column.is_empty() {
            for edge in edges {
                assert_eq!(edge["node"][column], value, "{field}: {response}");
            }
        }
    }
}

#[tokio::test]
async fn a_missing_or_malformed_organization_or_position_is_bad_input() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Headers").await;
    let api = Api::new(&db);
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let token = format!("Bearer {}", Api::token(org.owner));
    let body = json!({"query": CALENDAR}).to_string();

    // No organization in the header, and none in the token.
    let (status, response) = api
        .send(&[("authorization", token.as_str())], body.clone())
        .await;
    assert_eq!(status, 400, "{response}");
    assert_eq!(codes(&response), ["BAD_USER_INPUT"], "{response}");

    let (status, response) = api
        .send(
            &[
                ("authorization", token.as_str()),
                ("x-organization-id", "acme"),
            ],
            body,
        )
        .await;
    assert_eq!(status, 400, "{response}");
    assert_eq!(codes(&response), ["BAD_USER_INPUT"], "{response}");

    // A position no event has.
    let (_, response) = api
        .query(org.owner, org.id, CALENDAR, json!({"position": 1_000_000}))
        .await;
    assert_eq!(codes(&response), ["BAD_USER_INPUT"], "{response}");
}

/// A test RSA key pair, from `fixtures/jwt`.
fn fixture_key(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/jwt")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test]
async fn rs256_tokens_are_checked_against_the_public_key_issuer_and_audience() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "RS256").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let public = fixture_key("test-rs256.pub");
    let issuer = "https://auth.foldline.test";
    let audience = "foldline-api";
    let authenticator = Authenticator::new(
        &VerifyingKey::RsaPublicPem(public.clone()),
        Some(issuer),
        Some(audience),
    )
    .unwrap();
    let api = Api::with_authenticator(&db, authenticator);
    let signing = EncodingKey::from_rsa_pem(&fixture_key("test-rs256.key")).unwrap();
    let stranger = EncodingKey::from_rsa_pem(&fixture_key("other-rs256.key")).unwrap();
    let user = org.member.to_string();
    let claims =
        |iss: &str, aud: &str, exp: u64| json!({"sub": user, "iss": iss, "aud": aud, "exp": exp});
    let rs256 = |key: &EncodingKey, claims: Value| {
        encode(&Header::new(Algorithm::RS256), &claims, key).unwrap()
    };
    let good = claims(issuer, audience, now() + 600);
    let cases = [
        ("valid", rs256(&signing, good.clone()), 200),
        ("another key", rs256(&stranger, good.clone()), 401),
        (
            "wrong issuer",
            rs256(&signing, claims("https://evil.test", audience, now() + 600)),
            401,
        ),
        (
            "wrong audience",
            rs256(&signing, claims(issuer, "someone-else", now() + 600)),
            401,
        ),
        (
            "expired",
            rs256(&signing, claims(issuer, audience, now() - 60)),
            401,
        ),
        // Once configured, the issuer and the audience must be there.
        (
            "no issuer",
            rs256(
                &signing,
                json!({"sub": user, "aud": audience, "exp": now() + 600}),
            ),
            401,
        ),
        (
            "no audience",
            rs256(
                &signing,
                json!({"sub": user, "iss": issuer, "exp": now() + 600}),
            ),
            401,
        ),
        // The classic confusion: HS256 "signed" with the public key's bytes.
        (
            "HS256 with the public key",
            hs(Algorithm::HS256, good.clone(), &public),
            401,
        ),
        (
            "HS256 with a secret",
            hs(Algorithm::HS256, good, SECRET),
            401,
        ),
    ];
    let organization = org.id.to_string();
    for (case, token, status) in cases {
        let bearer = format!("Bearer {token}");
        let headers = [
            ("authorization", bearer.as_str()),
            ("x-organization-id", organization.as_str()),
        ];
        let (got, response) = api
            .send(&headers, json!({"query": CALENDAR}).to_string())
            .await;
        assert_eq!(got, status, "{case}: {response}");
        if status == 401 {
            assert_eq!(codes(&response), ["UNAUTHENTICATED"], "{case}: {response}");
        } else {
            assert!(response["errors"].is_null(), "{case}: {response}");
        }
    }
}

/// A page's rows, resolved in one pass each, answer aliases, repeated
/// fields, `__typename`, skipped fields and fragments as the executor does:
/// the same row asked through a fragment (which the executor resolves its
/// own way) reads the same.
#[tokio::test]
async fn a_rows_fields_answer_aliases_typename_and_fragments() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Rows").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let api = Api::new(&db);
    let fields = "t: title title __typename when: startsAt title visibility @skip(if: $skip) id";
    let query = |selection: String| {
        format!(
            "query($skip: Boolean!) {{ calendarEvents(first: 5) {{ edges {{ node {{ {selection} }} }} }} }}"
        )
    };
    let nodes = |response: &Value| -> Vec<Value> {
        response["data"]["calendarEvents"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|edge| edge["node"].clone())
            .collect()
    };
    let (_, flat) = api
        .query(
            org.owner,
            org.id,
            &query(fields.to_owned()),
            json!({"skip": true}),
        )
        .await;
    let (_, fragment) = api
        .query(
            org.owner,
            org.id,
            &query(format!("... on CalendarEvent {{ {fields} }}")),
            json!({"skip": true}),
        )
        .await;
    assert!(flat["errors"].is_null(), "{flat}");
    let rows = nodes(&flat);
    assert!(!rows.is_empty(), "{flat}");
    assert_eq!(rows, nodes(&fragment));
    for row in &rows {
        let keys: Vec<&String> = row.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 5, "t, title, __typename, when, id: {row}");
        assert_eq!(row["t"], row["title"]);
        assert_eq!(row["__typename"], "CalendarEvent");
        assert!(
            row["when"].as_str().is_some_and(|w| w.contains('T')),
            "{row}"
        );
        assert!(row.get("visibility").is_none(), "skipped: {row}");
    }
}

/// `me` gives each caller their own role and capabilities in the
/// organization they act in, and the organizations they belong to: theirs
/// only, with the role they have in each.
#[tokio::test]
async fn me_is_the_callers_role_capabilities_and_organizations() {
    use foldline_aggregates::organization::{Organization, OrganizationCommand};
    use foldline_aggregates::Role;
    let db = TestDb::new().await;
    let bus = db.bus();
    let first = Org::create(&bus, "Alpha Events").await;
    let second = Org::create(&bus, "Beta Venues").await;
    // The first organization's member also belongs to the second, as admin.
    bus.execute::<Organization>(
        &second.request(second.owner),
        second.id,
        OrganizationCommand::AddMember {
            user_id: first.member,
            display_name: "Shared".into(),
            email: "shared@example.com".into(),
            role: Role::Admin,
            capabilities: Default::default(),
        },
        None,
    )
    .await
    .unwrap();
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let api = Api::new(&db);
    let me = "{ me { userId organizationId role capabilities organizations { organizationId name role capabilities } } }";

    for (user, role, capabilities) in [
        (first.owner, "OWNER", json!([])),
        (first.admin, "ADMIN", json!([])),
        (first.member, "MEMBER", json!([])),
        (first.guest, "GUEST", json!([])),
        (first.finance, "MEMBER", json!(["FINANCE"])),
    ] {
        let (_, response) = api.query(user, first.id, me, json!({})).await;
        let me = &response["data"]["me"];
        assert_eq!(me["userId"], json!(user), "{response}");
        assert_eq!(me["organizationId"], json!(first.id));
        assert_eq!(me["role"], role);
        assert_eq!(me["capabilities"], capabilities);
        let organizations = me["organizations"].as_array().unwrap();
        let ids: Vec<&Value> = organizations.iter().map(|o| &o["organizationId"]).collect();
        if user == first.member {
            assert_eq!(ids, [&json!(first.id), &json!(second.id)], "{response}");
            assert_eq!(organizations[0]["name"], "Alpha Events");
            assert_eq!(organizations[1]["role"], "ADMIN");
        } else {
            assert_eq!(ids, [&json!(first.id)], "theirs only: {response}");
            assert_eq!(organizations[0]["role"], role);
            assert_eq!(organizations[0]["capabilities"], capabilities);
        }
    }

    // Acting in the second organization, the shared member is its admin.
    let (_, response) = api.query(first.member, second.id, me, json!({})).await;
    assert_eq!(response["data"]["me"]["role"], "ADMIN", "{response}");
    assert_eq!(response["data"]["me"]["organizationId"], json!(second.id));
    // Someone of neither organization is refused, as for any query.
    let (_, response) = api.query(second.owner, first.id, me, json!({})).await;
    assert_eq!(codes(&response), ["FORBIDDEN"], "{response}");
}
