//! A typed round trip for every aggregate through the HTTP router: created
//! through its typed mutation, whose payload carries the entity as it is now;
//! read back through its typed query, `node` and `nodes`; and the same rule
//! of who may see it on every one of those surfaces.

use foldline_projectors::Engine;
use foldline_tests::api::{codes, input_type, Api};
use foldline_tests::read_side::catch_up_all;
use foldline_tests::{Org, TestDb};
use serde_json::{json, Value};
use uuid::Uuid;

/// One aggregate's round trip: the mutation that creates it and its input,
/// the query that reads it, its GraphQL type, the fields compared, and what
/// some of them must say.
struct Case {
    mutation: &'static str,
    input: Value,
    query: &'static str,
    /// Its type's list.
    list: &'static str,
    typename: &'static str,
    fields: &'static str,
    expect: Vec<(&'static str, Value)>,
}

fn cases(org: &Org) -> Vec<Case> {
    let on_event = json!({"entityType": "Event", "entityId": org.event});
    vec![
        Case {
            mutation: "registerVenue",
            input: json!({"name": "Quayside Arena", "kind": "VENUE", "capacity": 2000,
                "address": {"line1": "1 Quay", "city": "Cork", "country": "IE"}}),
            query: "venue",
            list: "venues",
            typename: "Venue",
            fields: "name kind capacity visibility address { line1 city country }",
            expect: vec![("kind", json!("VENUE")), ("address", json!({"line1": "1 Quay", "city": "Cork", "country": "IE"}))],
        },
        Case {
            mutation: "planEvent",
            input: json!({"title": "Arena night", "kind": "SHOW",
                "startsAt": "2027-04-10T19:00:00Z", "endsAt": "2027-04-10T23:00:00Z"}),
            query: "event",
            list: "events",
            typename: "Event",
            fields: "title kind status startsAt endsAt venueId",
            expect: vec![("kind", json!("SHOW")), ("startsAt", json!("2027-04-10T19:00:00+00:00"))],
        },
        Case {
            mutation: "createTask",
            input: json!({"title": "Rig the lights", "priority": "HIGH", "dueAt": "2027-04-09T09:00:00Z"}),
            query: "task",
            list: "tasks",
            typename: "Task",
            fields: "title status priority dueAt assignee visibility",
            expect: vec![("status", json!("TODO")), ("priority", json!("HIGH"))],
        },
        Case {
            mutation: "scheduleShift",
            input: json!({"memberId": org.member, "eventId": org.event, "role": "Rigger",
                "startsAt": "2027-04-10T06:00:00Z", "endsAt": "2027-04-10T18:00:00Z"}),
            query: "shift",
            list: "shifts",
            typename: "Shift",
            fields: "role status memberId eventId startsAt endsAt",
            expect: vec![("memberId", json!(org.member)), ("role", json!("Rigger"))],
        },
        Case {
            mutation: "registerAsset",
            input: json!({"kind": "VEHICLE", "name": "Tour bus", "quantity": 1,
                "value": "5000000000", "currency": "EUR"}),
            query: "asset",
            list: "assets",
            typename: "Asset",
            fields: "name kind status quantity value currency",
            expect: vec![("value", json!("5000000000")), ("currency", json!("EUR"))],
        },
        Case {
            mutation: "registerCompany",
            input: json!({"kind": "VENDOR", "name": "Lights Ltd", "website": "https://lights.example"}),
            query: "company",
            list: "companies",
            typename: "Company",
            fields: "name kind website email",
            expect: vec![("kind", json!("VENDOR"))],
        },
        Case {
            mutation: "addContact",
            input: json!({"kind": "TALENT", "name": "Ada Singer", "email": "ada@example.com"}),
            query: "contact",
            list: "contacts",
            typename: "Contact",
            fields: "name kind email companyId",
            expect: vec![("email", json!("ada@example.com"))],
        },
        Case {
            mutation: "recordExpense",
            input: json!({"kind": "EXPENSE", "description": "Gaffer tape", "amount": "12500",
                "currency": "EUR", "payee": "Tape Shop", "incurredOn": "2027-04-01"}),
            query: "expense",
            list: "expenses",
            typename: "Expense",
            fields: "description kind status amount currency payee incurredOn",
            expect: vec![("amount", json!("12500")), ("incurredOn", json!("2027-04-01"))],
        },
        Case {
            mutation: "uploadDocument",
            input: json!({"linkedTo": on_event, "kind": "PERMIT", "title": "Fire permit",
                "url": "https://files.example/permit.pdf", "sizeBytes": 1000, "expiresOn": "2027-03-06"}),
            query: "document",
            list: "documentEntities",
            typename: "Document",
            fields: "title kind status expiresOn fileVersion linkedTo { entityType entityId }",
            expect: vec![("fileVersion", json!(1)), ("linkedTo", on_event.clone())],
        },
        Case {
            mutation: "postComment",
            input: json!({"on": on_event, "body": "Doors at seven."}),
            query: "comment",
            list: "comments",
            typename: "Comment",
            fields: "body kind edited on { entityType entityId }",
            expect: vec![("body", json!("Doors at seven.")), ("kind", json!("COMMENT"))],
        },
        Case {
            mutation: "draftInvoice",
            input: json!({"number": "INV-1", "direction": "RECEIVABLE", "counterpartyId": org.client,
                "counterpartyName": "Client Ltd", "currency": "EUR", "dueOn": "2027-01-31"}),
            query: "invoice",
            list: "invoices",
            typename: "Invoice",
            fields: "number direction status currency dueOn total paid balance lines { lineId }",
            expect: vec![("status", json!("DRAFT")), ("total", json!("0")), ("dueOn", json!("2027-01-31"))],
        },
        Case {
            mutation: "draftContract",
            input: json!({"counterpartyId": org.client, "counterpartyName": "Client Ltd",
                "terms": {"title": "Summer tour", "value": "3000000000", "startsOn": "2027-06-01"}}),
            query: "contract",
            list: "contracts",
            typename: "Contract",
            fields: "status counterpartyName currentTerms { title value startsOn } versions { number } signature { signedBy }",
            expect: vec![
                ("currentTerms", json!({"title": "Summer tour", "value": "3000000000", "startsOn": "2027-06-01"})),
                ("signature", Value::Null),
            ],
        },
        Case {
            mutation: "createAdvance",
            input: json!({"eventId": org.event, "code": "ADV-1", "advanceType": "LOAD_IN"}),
            query: "productionAdvance",
            list: "productionAdvances",
            typename: "ProductionAdvance",
            fields: "code advanceType status priority totalCost items { id } approvalSteps { capability approvedBy } awaitingCapability",
            expect: vec![("advanceType", json!("LOAD_IN")), ("totalCost", json!("0")), ("items", json!([]))],
        },
    ]
}

#[tokio::test]
async fn every_aggregate_round_trips_through_its_typed_mutation_query_and_node() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Typed").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let api = Api::new(&db);
    let mut made = Vec::new();
    for case in cases(&org) {
        let Case {
            mutation,
            input,
            query,
            list,
            typename,
            fields,
            expect,
        } = case;
        let id = Uuid::new_v4();
        let input_type = input_type(mutation);
        let document = format!(
            "mutation($id: UUID!, $input: {input_type}!) {{
                {mutation}(id: $id, input: $input) {{
                    id version node {{ __typename id version ... on {typename} {{ {fields} }} }}
                }}
            }}"
        );
        let (status, response) = api
            .query(
                org.owner,
                org.id,
                &document,
                json!({"id": id, "input": input}),
            )
            .await;
        assert_eq!(status, 200, "{mutation}: {response}");
        let payload = &response["data"][mutation];
        assert_eq!(payload["id"], json!(id), "{mutation}: {response}");
        let mut node = payload["node"].clone();
        assert_eq!(node["__typename"], typename, "{mutation}: {response}");
        assert_eq!(node["id"], json!(id));
        assert_eq!(node["version"], payload["version"]);
        for (field, value) in &expect {
            assert_eq!(&node[*field], value, "{typename}.{field}: {node}");
        }
        node.as_object_mut().unwrap().remove("__typename");

        // Its own query, `node` and `nodes` show the same.
        let (_, response) = api
            .query(
                org.owner,
                org.id,
                &format!("query($id: UUID!) {{ {query}(id: $id) {{ id version {fields} }} }}"),
                json!({"id": id}),
            )
            .await;
        assert_eq!(response["data"][query], node, "{query}: {response}");
        let (_, response) = api
            .query(
                org.owner,
                org.id,
                &format!(
                    "query($ids: [ID!]!) {{ nodes(ids: $ids) {{ id version ... on {typename} {{ {fields} }} }} }}"
                ),
                json!({"ids": [id, Uuid::new_v4()]}),
            )
            .await;
        assert_eq!(response["data"]["nodes"], json!([node, null]), "{response}");
        made.push((list, fields, id, node));
    }
    assert_eq!(made.len(), 13);

    // Each type's list shows it, the same, once its projection has caught
    // up; and nothing of another type.
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    for (list, fields, id, node) in &made {
        let (_, response) = api
            .query(
                org.owner,
                org.id,
                &format!(
                    "{{ {list}(first: 100) {{ totalCount nodes {{ id version {fields} }} }} }}"
                ),
                json!({}),
            )
            .await;
        let nodes = response["data"][list]["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{list}: {response}"));
        let found: Vec<&Value> = nodes.iter().filter(|n| n["id"] == json!(id)).collect();
        assert_eq!(found, vec![node], "{list}: {response}");
        assert_eq!(response["data"][list]["totalCount"], json!(nodes.len()));
        for (other, _, other_id, _) in &made {
            if other != list {
                assert!(
                    !nodes.iter().any(|n| n["id"] == json!(other_id)),
                    "{list} shows a {other}"
                );
            }
        }
    }

    // The organization, to its members, with its members.
    let (_, response) = api
        .query(
            org.member,
            org.id,
            "{ organization { id version name members { userId role capabilities } } }",
            json!({}),
        )
        .await;
    let organization = &response["data"]["organization"];
    assert_eq!(organization["id"], json!(org.id), "{response}");
    let members = organization["members"].as_array().unwrap();
    let owner = members
        .iter()
        .find(|m| m["userId"] == json!(org.owner))
        .unwrap_or_else(|| panic!("{response}"));
    assert_eq!(owner["role"], "OWNER");
    let (_, response) = api
        .query(
            org.member,
            org.id,
            "query($id: ID!) { node(id: $id) { __typename id } }",
            json!({"id": org.id}),
        )
        .await;
    assert_eq!(
        response["data"]["node"]["__typename"], "Organization",
        "{response}"
    );
}

#[tokio::test]
async fn derived_values_follow_the_commands() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Derived").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let api = Api::new(&db);
    let advance = Uuid::new_v4();
    api.mutate(
        org.owner,
        org.id,
        "createAdvance",
        advance,
        json!({"eventId": org.event, "code": "ADV-9", "advanceType": "SHOW_DAY"}),
    )
    .await;
    let item = Uuid::new_v4();
    api.mutate(
        org.owner,
        org.id,
        "addItem",
        advance,
        json!({"itemId": item, "name": "PA system", "category": "TECHNICAL",
               "quantityRequired": 2, "unitCost": "1500000"}),
    )
    .await;
    api.mutate(org.owner, org.id, "submitForApproval", advance, json!({}))
        .await;
    let read = "query($id: UUID!) { productionAdvance(id: $id) {
        status totalCost awaitingCapability
        items { id totalCost item { name quantityRequired unitCost } }
        approvalSteps { capability approvedBy }
    } }";
    let (_, response) = api
        .query(org.owner, org.id, read, json!({"id": advance}))
        .await;
    let state = &response["data"]["productionAdvance"];
    assert_eq!(state["totalCost"], "3000000", "{response}");
    assert_eq!(state["items"][0]["id"], json!(item));
    assert_eq!(state["items"][0]["totalCost"], "3000000");
    assert_eq!(state["items"][0]["item"]["unitCost"], "1500000");
    let steps = state["approvalSteps"].as_array().unwrap();
    assert!(
        !steps.is_empty(),
        "a cost of 30,000.00 needs approval: {response}"
    );
    assert!(steps.iter().all(|step| step["approvedBy"].is_null()));
    assert_eq!(state["awaitingCapability"], steps[0]["capability"]);

    // The first step approved by its holder: the step names them, and the
    // advance waits for the next one, if any.
    let approver = match steps[0]["capability"].as_str().unwrap() {
        "PRODUCTION_MANAGER" => org.production_manager,
        "EVENT_DIRECTOR" => org.event_director,
        "FINANCE" => org.finance,
        other => panic!("no holder of {other}"),
    };
    api.mutate(approver, org.id, "approve", advance, json!({}))
        .await;
    let (_, response) = api
        .query(org.owner, org.id, read, json!({"id": advance}))
        .await;
    let state = &response["data"]["productionAdvance"];
    assert_eq!(
        state["approvalSteps"][0]["approvedBy"],
        json!(approver),
        "{response}"
    );
    assert_eq!(
        state["awaitingCapability"],
        steps
            .get(1)
            .map_or(Value::Null, |step| step["capability"].clone())
    );

    // An invoice's total, payments and balance.
    let invoice = Uuid::new_v4();
    api.mutate(
        org.owner,
        org.id,
        "draftInvoice",
        invoice,
        json!({"number": "INV-9", "direction": "RECEIVABLE", "counterpartyId": org.client,
               "counterpartyName": "Client Ltd", "dueOn": "2027-01-31"}),
    )
    .await;
    api.mutate(
        org.owner,
        org.id,
        "addInvoiceLine",
        invoice,
        json!({"lineId": Uuid::new_v4(), "description": "Services", "quantity": 3, "unitPrice": "1000"}),
    )
    .await;
    api.mutate(
        org.owner,
        org.id,
        "issueInvoice",
        invoice,
        json!({"issuedOn": "2027-01-01"}),
    )
    .await;
    api.mutate(
        org.owner,
        org.id,
        "recordPayment",
        invoice,
        json!({"paymentId": Uuid::new_v4(), "amount": "1200", "paidOn": "2027-01-05", "method": "card"}),
    )
    .await;
    let (_, response) = api
        .query(
            org.owner,
            org.id,
            "query($id: UUID!) { invoice(id: $id) { status total paid balance payments { amount paidOn } } }",
            json!({"id": invoice}),
        )
        .await;
    let state = &response["data"]["invoice"];
    assert_eq!(state["status"], "PARTIALLY_PAID", "{response}");
    assert_eq!(
        (&state["total"], &state["paid"], &state["balance"]),
        (&json!("3000"), &json!("1200"), &json!("1800"))
    );
    assert_eq!(
        state["payments"],
        json!([{"amount": "1200", "paidOn": "2027-01-05"}])
    );
}

#[tokio::test]
async fn who_may_see_an_entity_is_the_same_on_every_read() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Seen").await;
    let other = Org::create(&db.bus(), "Elsewhere").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let api = Api::new(&db);
    let private = Uuid::new_v4();
    let shared = Uuid::new_v4();
    api.mutate(
        org.member,
        org.id,
        "createTask",
        private,
        json!({"title": "Mine", "visibility": "PRIVATE"}),
    )
    .await;
    api.mutate(
        org.member,
        org.id,
        "createTask",
        shared,
        json!({"title": "Ours"}),
    )
    .await;
    let read = |user: Uuid, organization: Uuid, id: Uuid| {
        let api = &api;
        async move {
            let (_, by_query) = api
                .query(
                    user,
                    organization,
                    "query($id: UUID!) { task(id: $id) { id } }",
                    json!({"id": id}),
                )
                .await;
            let (_, by_node) = api
                .query(
                    user,
                    organization,
                    "query($id: ID!) { node(id: $id) { id } nodes(ids: [$id]) { id } }",
                    json!({"id": id}),
                )
                .await;
            let seen_by_query = !by_query["data"]["task"].is_null();
            if !seen_by_query {
                assert_eq!(codes(&by_query), ["NOT_FOUND"], "{by_query}");
            }
            let seen_by_node = !by_node["data"]["node"].is_null();
            assert_eq!(
                by_node["data"]["nodes"][0].is_null(),
                !seen_by_node,
                "{by_node}"
            );
            assert_eq!(seen_by_query, seen_by_node, "{id}: {by_query} {by_node}");
            seen_by_query
        }
    };
    // (who, in which organization, the private task, the shared one)
    let expected = [
        (org.member, org.id, true, true),
        (org.owner, org.id, true, true),
        (org.admin, org.id, false, true),
        (org.guest, org.id, false, false),
        (other.owner, other.id, false, false),
    ];
    for (user, organization, private_seen, shared_seen) in expected {
        assert_eq!(
            read(user, organization, private).await,
            private_seen,
            "{user} private"
        );
        assert_eq!(
            read(user, organization, shared).await,
            shared_seen,
            "{user} shared"
        );
    }
    // A guest does not read the organization's member list.
    let (_, response) = api
        .query(org.guest, org.id, "{ organization { id } }", json!({}))
        .await;
    assert_eq!(codes(&response), ["NOT_FOUND"], "{response}");

    // A command's payload shows the entity only while the caller may see
    // it: deleted, it is null.
    let (_, response) = api
        .query(
            org.member,
            org.id,
            "mutation($id: UUID!) { deleteTask(id: $id) { version node { id } } }",
            json!({"id": shared}),
        )
        .await;
    assert!(
        response["data"]["deleteTask"]["version"].is_number(),
        "{response}"
    );
    assert!(
        response["data"]["deleteTask"]["node"].is_null(),
        "{response}"
    );

    // A node id that is not one is bad input; too many at once too.
    let (_, response) = api
        .query(
            org.owner,
            org.id,
            "{ node(id: \"INV-7\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(codes(&response), ["BAD_USER_INPUT"], "{response}");
    let ids: Vec<Uuid> = (0..101).map(|_| Uuid::new_v4()).collect();
    let (_, response) = api
        .query(
            org.owner,
            org.id,
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({"ids": ids}),
        )
        .await;
    assert_eq!(codes(&response), ["BAD_USER_INPUT"], "{response}");
}
