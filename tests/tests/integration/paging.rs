//! Paging through the read tables' lists while the rows being listed
//! change: each row is shown once, in the order a read of the whole list
//! gave before the changes, on every list whose rows a change updates.
//! (The calendar is ordered by when each entry happens, which a reschedule
//! changes by design; the activity feed's rows never change.)

use foldline_projectors::Engine;
use foldline_tests::api::Api;
use foldline_tests::read_side::catch_up_all;
use foldline_tests::{Org, TestDb};
use serde_json::{json, Value};
use uuid::Uuid;

/// The lists that were once ordered by when each row last changed.
const LISTS: [&str; 7] = [
    "documents",
    "ledger",
    "people",
    "assignments",
    "locations",
    "statuses",
    "inventory",
];

/// Entities of the test, of each kind that feeds one of the lists, and the
/// command that renames each.
struct Made {
    kind: &'static str,
    update: &'static str,
    ids: Vec<Uuid>,
}

/// What a rename of entity `n` of `kind` sends in round `round`.
fn rename(kind: &str, n: usize, round: usize) -> Value {
    let name = format!("{kind} {n} renamed {round}");
    match kind {
        "task" => json!({"title": name}),
        "venue" | "contact" | "asset" => json!({"name": name}),
        "document" => json!({"title": name}),
        "invoice" => json!({"dueOn": format!("2027-02-{:02}", 1 + (round % 27))}),
        other => panic!("no rename for {other}"),
    }
}

/// The input that creates entity `n` of a kind.
type Input<'a> = Box<dyn Fn(usize) -> Value + 'a>;

async fn make(api: &Api, org: &Org) -> Vec<Made> {
    let on_event = json!({"entityType": "Event", "entityId": org.event});
    let kinds: [(&str, &str, &str, Input); 6] = [
        (
            "task",
            "createTask",
            "updateTask",
            Box::new(|n| {
                json!({"title": format!("task {n}"), "priority": "MEDIUM", "assignee": org.member,
                   "dueAt": "2027-03-01T09:00:00Z"})
            }),
        ),
        (
            "venue",
            "registerVenue",
            "updateVenue",
            Box::new(|n| {
                json!({"name": format!("venue {n}"), "kind": "VENUE",
                   "address": {"line1": "1 Quay", "city": "Cork", "country": "IE"}})
            }),
        ),
        (
            "contact",
            "addContact",
            "updateContact",
            Box::new(
                |n| json!({"kind": "TALENT", "name": format!("contact {n}"), "email": format!("c{n}@example.com")}),
            ),
        ),
        (
            "asset",
            "registerAsset",
            "updateAsset",
            Box::new(
                |n| json!({"kind": "EQUIPMENT", "name": format!("asset {n}"), "quantity": 1, "value": "1000", "currency": "EUR"}),
            ),
        ),
        (
            "document",
            "uploadDocument",
            "renameDocument",
            Box::new(move |n| {
                json!({"linkedTo": on_event, "kind": "PERMIT", "title": format!("document {n}"),
                   "url": "https://files.example/permit.pdf", "sizeBytes": 1000})
            }),
        ),
        (
            "invoice",
            "draftInvoice",
            "changeDueDate",
            Box::new(|n| {
                json!({"number": format!("INV-{n}"), "direction": "RECEIVABLE", "counterpartyId": org.client,
                   "counterpartyName": "Client Ltd", "dueOn": "2027-01-31"})
            }),
        ),
    ];
    let mut made = Vec::new();
    for (kind, create, update, input) in kinds {
        let mut ids = Vec::new();
        for n in 0..4 {
            let id = Uuid::new_v4();
            api.mutate(org.owner, org.id, create, id, input(n)).await;
            if kind == "invoice" {
                // The ledger shows invoices once issued.
                let line = json!({"lineId": Uuid::new_v4(), "description": "Hire",
                                  "quantity": 1, "unitPrice": "1000"});
                api.mutate(org.owner, org.id, "addInvoiceLine", id, line)
                    .await;
                let issue = json!({"issuedOn": "2027-01-01"});
                api.mutate(org.owner, org.id, "issueInvoice", id, issue)
                    .await;
            }
            ids.push(id);
        }
        made.push(Made { kind, update, ids });
    }
    made
}

/// Each row of `list` with its `updatedAt`, read in one page.
async fn whole(api: &Api, org: &Org, list: &str) -> Vec<(String, String)> {
    let (_, response) = api
        .query(
            org.owner,
            org.id,
            &format!("{{ {list}(first: 100) {{ nodes {{ id updatedAt }} pageInfo {{ hasNextPage }} }} }}"),
            json!({}),
        )
        .await;
    let connection = &response["data"][list];
    assert_eq!(
        connection["pageInfo"]["hasNextPage"], false,
        "{list}: {response}"
    );
    connection["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{list}: {response}"))
        .iter()
        .map(|node| {
            (
                node["id"].as_str().unwrap().to_owned(),
                node["updatedAt"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn paging_while_rows_change_neither_skips_nor_repeats_a_row() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Paging rows").await;
    let engine = Engine::new(db.pool.clone());
    catch_up_all(&db, &engine).await;
    let api = Api::new(&db);
    let made = make(&api, &org).await;
    catch_up_all(&db, &engine).await;

    let mut round = 0;
    for list in LISTS {
        let before = whole(&api, &org, list).await;
        assert!(
            before.len() >= 4,
            "{list} lists the test's rows: {before:?}"
        );
        let mut paged = Vec::new();
        let mut after = Value::Null;
        loop {
            let (_, response) = api
                .query(
                    org.owner,
                    org.id,
                    &format!(
                        "query($after: String) {{ {list}(first: 2, after: $after) {{
                            nodes {{ id }} pageInfo {{ hasNextPage endCursor }}
                        }} }}"
                    ),
                    json!({"after": after}),
                )
                .await;
            let connection = &response["data"][list];
            paged.extend(
                connection["nodes"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{list}: {response}"))
                    .iter()
                    .map(|node| node["id"].as_str().unwrap().to_owned()),
            );
            if connection["pageInfo"]["hasNextPage"] != json!(true) {
                break;
            }
            after = connection["pageInfo"]["endCursor"].clone();
            // Every entity of the test is renamed between two pages.
            round += 1;
            for entity in &made {
                for (n, id) in entity.ids.iter().enumerate() {
                    let input = rename(entity.kind, n, round);
                    api.mutate(org.owner, org.id, entity.update, *id, input)
                        .await;
                }
            }
            catch_up_all(&db, &engine).await;
        }
        let ids: Vec<String> = before.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(paged, ids, "{list}: each row once, in its place");
        // The changes did reach this list: its rows were updated while it
        // was paged through, so the order was put to the test.
        let after_changes = whole(&api, &org, list).await;
        let moved = before
            .iter()
            .zip(&after_changes)
            .filter(|(was, now)| was.0 == now.0 && was.1 != now.1)
            .count();
        assert!(moved >= 4, "{list}: only {moved} rows changed while paged");
    }
}
