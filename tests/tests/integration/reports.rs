//! The seeds' reports and the global search, over a scenario built through
//! GraphQL mutations and read back through the HTTP router.

use foldline_projectors::Engine;
use foldline_tests::api::{codes, Api};
use foldline_tests::read_side::catch_up_all;
use foldline_tests::{Org, TestDb};
use serde_json::{json, Value};
use uuid::Uuid;

/// What the scenario made, by name.
struct Scenario {
    org: Org,
    venue: Uuid,
    events: [Uuid; 3],
    shifts: [Uuid; 3],
    documents: [Uuid; 3],
    secret_document: Uuid,
}

/// A venue with three events (the first and second overlap, the second and
/// third overlap, the first and third touch), three shifts of one member
/// (the first two overlap, the last two touch), invoices in every state,
/// documents expiring around 2027-03-01, and two tasks.
async fn scenario(db: &TestDb, api: &Api) -> Scenario {
    let org = Org::create(&db.bus(), "Reports").await;
    // The API knows members from the projected memberships.
    catch_up_all(db, &Engine::new(db.pool.clone())).await;
    let owner = org.owner;
    let send = |name: &'static str, id: Uuid, input: Value| async move {
        api.mutate(owner, org.id, name, id, input).await
    };
    let venue = Uuid::new_v4();
    send(
        "registerVenue",
        venue,
        json!({"name": "Quayside Arena", "kind": "VENUE",
               "address": {"line1": "1 Quay", "city": "Cork", "country": "IE"},
               "visibility": "ORGANIZATION"}),
    )
    .await;
    let events = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
    let times = [
        ("2027-04-10T19:00:00Z", "2027-04-10T23:00:00Z"),
        ("2027-04-10T21:00:00Z", "2027-04-10T23:30:00Z"),
        ("2027-04-10T23:00:00Z", "2027-04-11T01:00:00Z"),
    ];
    for (n, (event, (starts_at, ends_at))) in events.iter().zip(times).enumerate() {
        send(
            "planEvent",
            *event,
            json!({"title": format!("Arena night {}", n + 1), "kind": "SHOW",
                   "startsAt": starts_at, "endsAt": ends_at, "venueId": venue,
                   "visibility": "ORGANIZATION"}),
        )
        .await;
    }
    let shifts = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
    let times = [
        ("2027-04-10T06:00:00Z", "2027-04-10T18:00:00Z"),
        ("2027-04-10T17:00:00Z", "2027-04-10T20:00:00Z"),
        ("2027-04-10T20:00:00Z", "2027-04-10T22:00:00Z"),
    ];
    for (shift, (starts_at, ends_at)) in shifts.iter().zip(times) {
        send(
            "scheduleShift",
            *shift,
            json!({"memberId": org.member, "eventId": events[0], "role": "Rigger",
                   "startsAt": starts_at, "endsAt": ends_at}),
        )
        .await;
    }
    // (number, currency, due, issued, total, paid); `None` issued stays a draft.
    let invoices = [
        ("RPT-1", "EUR", "2027-01-15", Some("2027-01-01"), 1_000, 400),
        ("RPT-2", "EUR", "2027-03-11", Some("2027-02-20"), 500, 0),
        ("RPT-3", "EUR", "2027-01-31", Some("2027-01-01"), 700, 700),
        ("RPT-4", "EUR", "2026-11-21", Some("2026-11-01"), 900, 0),
        ("RPT-5", "EUR", "2027-01-01", None, 800, 0),
        ("RPT-6", "USD", "2027-02-15", Some("2027-02-01"), 300, 0),
    ];
    for (number, currency, due_on, issued_on, total, paid) in invoices {
        let invoice = Uuid::new_v4();
        send(
            "draftInvoice",
            invoice,
            json!({"number": number, "direction": "RECEIVABLE", "counterpartyId": org.client,
                   "counterpartyName": "Client Ltd", "currency": currency, "dueOn": due_on}),
        )
        .await;
        send(
            "addInvoiceLine",
            invoice,
            json!({"lineId": Uuid::new_v4(), "description": "Services", "quantity": 1,
                   "unitPrice": total}),
        )
        .await;
        let Some(issued_on) = issued_on else { continue };
        send("issueInvoice", invoice, json!({"issuedOn": issued_on})).await;
        if paid > 0 {
            send(
                "recordPayment",
                invoice,
                json!({"paymentId": Uuid::new_v4(), "amount": paid, "paidOn": "2027-02-01",
                       "method": "bank transfer", "reference": format!("PAY-{number}")}),
            )
            .await;
        }
    }
    let upload = |title: &'static str, expires_on: &'static str, visibility: &'static str| {
        let document = Uuid::new_v4();
        async move {
            send(
                "uploadDocument",
                document,
                json!({"linkedTo": {"entityType": "Event", "entityId": org.event},
                       "kind": "PERMIT", "title": title,
                       "url": "https://files.example/permit.pdf", "sizeBytes": 1000,
                       "mimeType": "application/pdf", "expiresOn": expires_on,
                       "visibility": visibility}),
            )
            .await;
            document
        }
    };
    let documents = [
        upload("Quayside fire permit", "2027-03-06", "ORGANIZATION").await,
        upload("Quayside noise permit", "2027-02-26", "ORGANIZATION").await,
        upload("Quayside insurance", "2027-04-30", "ORGANIZATION").await,
    ];
    let secret_document = upload("Quayside settlement", "2027-03-02", "PRIVATE").await;
    let overdue = Uuid::new_v4();
    send(
        "createTask",
        overdue,
        json!({"title": "File the Quayside permit", "assignee": org.member,
               "dueAt": "2026-01-01T09:00:00Z"}),
    )
    .await;
    let done = Uuid::new_v4();
    send(
        "createTask",
        done,
        json!({"title": "Book the Quayside crew", "assignee": org.member,
               "dueAt": "2026-01-01T09:00:00Z"}),
    )
    .await;
    send("completeTask", done, json!({})).await;
    catch_up_all(db, &Engine::new(db.pool.clone())).await;
    Scenario {
        org,
        venue,
        events,
        shifts,
        documents,
        secret_document,
    }
}

async fn data(api: &Api, user: Uuid, org: Uuid, query: &str, variables: Value) -> Value {
    let (status, response) = api.query(user, org, query, variables).await;
    assert!(
        status.is_success() && response.get("errors").is_none(),
        "{status}: {response}"
    );
    response["data"].clone()
}

fn ids(values: &Value, pointer: &str) -> Vec<String> {
    values
        .as_array()
        .unwrap()
        .iter()
        .map(|value| value.pointer(pointer).unwrap().as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_reports_count_what_the_scenario_did_and_only_what_the_caller_may_see() {
    let db = TestDb::new().await;
    let api = Api::new(&db);
    let s = scenario(&db, &api).await;
    let (org, owner) = (s.org.id, s.org.owner);

    // Invoice aging: RPT-3 is paid and RPT-5 never issued; RPT-1 is 45 days
    // late with 400 of 1,000 paid.
    let aging = data(
        &api,
        owner,
        org,
        "{ invoiceAging(asOf: \"2027-03-01\") {
             asOf direction buckets { bucket currency invoices outstanding } } }",
        json!({}),
    )
    .await;
    let buckets: Vec<(String, String, i64, i64)> = aging["invoiceAging"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["currency"].as_str().unwrap().to_owned(),
                b["bucket"].as_str().unwrap().to_owned(),
                b["invoices"].as_i64().unwrap(),
                b["outstanding"].as_str().unwrap().parse::<i64>().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, String, i64, i64)> = [
        ("EUR", "CURRENT", 1, 500),
        ("EUR", "DAYS_1_30", 0, 0),
        ("EUR", "DAYS_31_60", 1, 600),
        ("EUR", "DAYS_61_90", 0, 0),
        ("EUR", "OVER_90", 1, 900),
        ("USD", "CURRENT", 0, 0),
        ("USD", "DAYS_1_30", 1, 300),
        ("USD", "DAYS_31_60", 0, 0),
        ("USD", "DAYS_61_90", 0, 0),
        ("USD", "OVER_90", 0, 0),
    ]
    .into_iter()
    .map(|(c, b, n, a)| (c.to_owned(), b.to_owned(), n, a))
    .collect();
    assert_eq!(buckets, expected);
    assert_eq!(aging["invoiceAging"]["direction"], "RECEIVABLE");
    let payable = data(
        &api,
        owner,
        org,
        "{ invoiceAging(direction: PAYABLE) { buckets { bucket } } }",
        json!({}),
    )
    .await;
    assert_eq!(payable["invoiceAging"]["buckets"], json!([]));

    // Conflicts: nights 1 and 2, nights 2 and 3 (1 and 3 only touch), and
    // shifts 1 and 2 (2 and 3 only touch).
    let conflicts = data(
        &api,
        owner,
        org,
        "query($from: DateTime!, $to: DateTime!) {
             calendarConflicts(from: $from, to: $to) {
                 kind subjectId subjectName first { entityId } second { entityId } } }",
        json!({"from": "2027-04-01T00:00:00Z", "to": "2027-05-01T00:00:00Z"}),
    )
    .await;
    let found: Vec<(String, String, String, String)> = conflicts["calendarConflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_owned(),
                c["subjectId"].as_str().unwrap().to_owned(),
                c["first"]["entityId"].as_str().unwrap().to_owned(),
                c["second"]["entityId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let conflict = |kind: &str, subject: Uuid, a: Uuid, b: Uuid| {
        (
            kind.to_owned(),
            subject.to_string(),
            a.to_string(),
            b.to_string(),
        )
    };
    let mut expected = vec![
        conflict("PERSON", s.org.member, s.shifts[0], s.shifts[1]),
        conflict("VENUE", s.venue, s.events[0], s.events[1]),
        conflict("VENUE", s.venue, s.events[1], s.events[2]),
    ];
    let mut found_sorted = found.clone();
    found_sorted.sort();
    expected.sort();
    assert_eq!(found_sorted, expected, "{conflicts}");
    assert!(conflicts["calendarConflicts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["subjectName"] == "Quayside Arena"));
    let one_venue = data(
        &api,
        owner,
        org,
        "query($venue: UUID) { calendarConflicts(from: \"2027-04-01T00:00:00Z\",
             to: \"2027-05-01T00:00:00Z\", subjectId: $venue) { kind } }",
        json!({"venue": s.venue}),
    )
    .await;
    assert_eq!(one_venue["calendarConflicts"].as_array().unwrap().len(), 2);

    // Workload of the member on the day of the shifts: 12 + 3 + 2 hours;
    // the completed task is not open, the other is overdue.
    let workload = data(
        &api,
        owner,
        org,
        "query($user: UUID) { userWorkload(from: \"2027-04-10T00:00:00Z\",
             to: \"2027-04-11T00:00:00Z\", userId: $user) {
             userId name openAssignments openTasks shifts scheduledHours overdue } }",
        json!({"user": s.org.member}),
    )
    .await;
    let rows = workload["userWorkload"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{workload}");
    let row = &rows[0];
    assert_eq!(row["userId"], s.org.member.to_string());
    assert_eq!(row["openTasks"], 1);
    assert_eq!(row["shifts"], 3);
    assert_eq!(row["scheduledHours"], 17.0);
    assert_eq!(row["overdue"], 1);
    assert_eq!(row["openAssignments"], 4);
    assert!(row["name"].is_string(), "{row}");

    // Expiring documents: the owner sees the private settlement; a member
    // does not. The insurance expires after the 30 days.
    let expiring = "{ expiringDocuments(asOf: \"2027-03-01\", withinDays: 30) {
                        daysLeft document { documentId title } } }";
    let owners = data(&api, owner, org, expiring, json!({})).await;
    let listed = ids(&owners["expiringDocuments"], "/document/documentId");
    assert_eq!(
        listed,
        [s.documents[1], s.secret_document, s.documents[0]].map(|id| id.to_string())
    );
    let days: Vec<i64> = owners["expiringDocuments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["daysLeft"].as_i64().unwrap())
        .collect();
    assert_eq!(days, [-3, 1, 5]);
    let members = data(&api, s.org.member, org, expiring, json!({})).await;
    assert_eq!(
        ids(&members["expiringDocuments"], "/document/documentId"),
        [s.documents[1], s.documents[0]].map(|id| id.to_string())
    );
    assert!(!listed.contains(&s.documents[2].to_string()));

    // Search: prefixes of every word, across tables, under row security.
    let search = "query($text: String!) { search(text: $text, first: 50) {
                      source entityType entityId title } }";
    let venue = data(&api, owner, org, search, json!({"text": "quaysi aren"})).await;
    let hits = venue["search"].as_array().unwrap();
    assert!(
        hits.iter().any(|h| h["source"] == "location_registry"
            && h["entityType"] == "VENUE"
            && h["entityId"] == s.venue.to_string()),
        "{venue}"
    );
    for hit in hits {
        let title = hit["title"].as_str().unwrap().to_lowercase();
        assert!(
            title.contains("quayside") && title.contains("arena"),
            "{hit}"
        );
    }
    let nights = data(&api, owner, org, search, json!({"text": "arena night"})).await;
    let calendar: Vec<String> = nights["search"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["source"] == "calendar_events")
        .map(|h| h["entityId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(calendar.len(), 3, "{nights}");
    for event in s.events {
        assert!(calendar.contains(&event.to_string()));
    }
    let invoice = data(&api, owner, org, search, json!({"text": "rpt-4 client"})).await;
    assert!(
        invoice["search"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["source"] == "financial_ledger" && h["entityType"] == "INVOICE"),
        "{invoice}"
    );
    // The lists' own search filters match word prefixes too, as
    // type-ahead needs: `quay` finds Quayside Arena, `own` the founder.
    let places = "query($text: String) { locations(filter: {search: $text}) {
                      edges { node { entityId name } } } }";
    // Query syntax is only text: `quay:*` is the word `quay`, and what has
    // no word in it finds nothing rather than failing.
    for (text, found) in [
        ("quay", true),
        ("arena quays", true),
        ("quay:* | !x", false),
        ("quay:*", true),
        ("ayside", false),
        ("&|!:*", false),
    ] {
        let listed = data(&api, owner, org, places, json!({"text": text})).await;
        let names: Vec<&str> = listed["locations"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names.contains(&"Quayside Arena"),
            found,
            "{text}: {names:?}"
        );
    }
    let people = "query($text: String) { people(filter: {search: $text}) {
                      edges { node { name } } } }";
    let listed = data(&api, owner, org, people, json!({"text": "own"})).await;
    assert!(
        listed["people"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["node"]["name"] == "Owner"),
        "{listed}"
    );
    let settlement = json!({"text": "settlement"});
    let owner_hits = data(&api, owner, org, search, settlement.clone()).await;
    assert!(owner_hits["search"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["source"] == "document_registry"));
    let member_hits = data(&api, s.org.member, org, search, settlement).await;
    assert!(
        !member_hits["search"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["source"] == "document_registry"),
        "{member_hits}"
    );
}

#[tokio::test]
async fn another_organizations_reports_and_search_show_none_of_it() {
    let db = TestDb::new().await;
    let api = Api::new(&db);
    let s = scenario(&db, &api).await;
    let other = Org::create(&db.bus(), "Elsewhere").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let reports = "{
        invoiceAging(asOf: \"2027-03-01\") { buckets { bucket } }
        calendarConflicts(from: \"2027-04-01T00:00:00Z\", to: \"2027-05-01T00:00:00Z\") { kind }
        userWorkload(from: \"2027-04-10T00:00:00Z\", to: \"2027-04-11T00:00:00Z\") { userId shifts }
        expiringDocuments(asOf: \"2027-03-01\") { daysLeft }
        search(text: \"quayside\") { entityId }
        locations(filter: {search: \"quay\"}) { edges { node { name } } }
        people(filter: {search: \"own\"}) { edges { node { entityId } } }
    }";
    let theirs = data(&api, other.owner, other.id, reports, json!({})).await;
    // The lists' word filters find through the same lookup as `search`:
    // the scenario's Quayside Arena and its owner, which the scenario's own
    // owner finds (above), are not theirs.
    assert_eq!(theirs["locations"]["edges"], json!([]));
    for person in theirs["people"]["edges"].as_array().unwrap() {
        assert_ne!(person["node"]["entityId"], s.org.owner.to_string());
    }
    assert_eq!(theirs["invoiceAging"]["buckets"], json!([]));
    assert_eq!(theirs["calendarConflicts"], json!([]));
    assert_eq!(theirs["expiringDocuments"], json!([]));
    assert_eq!(theirs["search"], json!([]));
    for row in theirs["userWorkload"].as_array().unwrap() {
        assert_ne!(row["userId"], s.org.member.to_string());
        assert_eq!(row["shifts"], 0);
    }
    // And naming the scenario's organization is refused outright.
    let (status, response) = api.query(other.owner, s.org.id, reports, json!({})).await;
    assert_eq!(status, 403);
    assert_eq!(codes(&response), ["FORBIDDEN"]);
}

#[tokio::test]
async fn bad_report_arguments_are_clear_errors() {
    let db = TestDb::new().await;
    let api = Api::new(&db);
    let org = Org::create(&db.bus(), "Arguments").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let cases = [
        (
            "{ calendarConflicts(from: \"2027-05-01T00:00:00Z\", to: \"2027-04-01T00:00:00Z\") { kind } }",
            "must be after",
        ),
        (
            "{ calendarConflicts(from: \"2020-01-01T00:00:00Z\", to: \"2027-01-01T00:00:00Z\") { kind } }",
            "400 days",
        ),
        ("{ invoiceAging(direction: SIDEWAYS) { asOf } }", "SIDEWAYS"),
        ("{ invoiceAging(asOf: \"2027-02-30\") { asOf } }", "Date"),
        ("{ expiringDocuments(withinDays: -1) { daysLeft } }", "withinDays"),
        ("{ expiringDocuments(first: 100000) { daysLeft } }", "between 1 and 100"),
        ("{ search(text: \"&|!:*\") { entityId } }", "no letters or digits"),
        ("{ search(text: \"a\", first: 0) { entityId } }", "between 1 and 100"),
        (
            "{ userWorkload(from: \"2027-04-02T00:00:00Z\", to: \"2027-04-01T00:00:00Z\") { userId } }",
            "must be after",
        ),
    ];
    for (query, says) in cases {
        let (status, response) = api.query(org.owner, org.id, query, json!({})).await;
        assert!(status.is_success() || status == 400, "{query}: {status}");
        assert_eq!(codes(&response), ["BAD_USER_INPUT"], "{query}: {response}");
        let message = response["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{query}: {message}");
    }
    let long = "x".repeat(201);
    let (_, response) = api
        .query(
            org.owner,
            org.id,
            "query($text: String!) { search(text: $text) { entityId } }",
            json!({"text": long}),
        )
        .await;
    assert_eq!(codes(&response), ["BAD_USER_INPUT"]);
}
