//! The typed command inputs, tried through the HTTP router as a generated
//! client would send them: every mutation refuses a field its command does
//! not have, enum values and scalars are checked, and money keeps all 64 bits.

use foldline_projectors::Engine;
use foldline_tests::api::{codes, Api};
use foldline_tests::read_side::catch_up_all;
use foldline_tests::{Org, TestDb};
use serde_json::{json, Value};
use uuid::Uuid;

/// Every mutation that sends a command, with whether it takes an `input`
/// and that input's type, as the schema tells a client through
/// introspection.
async fn mutations(api: &Api, org: &Org) -> Vec<(String, Option<String>)> {
    let (status, response) = api
        .query(
            org.owner,
            org.id,
            "{ __schema { mutationType { fields { name args { name type { ofType { name } } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{response}");
    response["data"]["__schema"]["mutationType"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|field| {
            !foldline_graphql::mutation::OPERATIONS.contains(&field["name"].as_str().unwrap())
        })
        .map(|field| {
            let input = field["args"]
                .as_array()
                .unwrap()
                .iter()
                .find(|arg| arg["name"] == "input")
                .map(|arg| arg["type"]["ofType"]["name"].as_str().unwrap().to_owned());
            (field["name"].as_str().unwrap().to_owned(), input)
        })
        .collect()
}

/// The schema's input objects and enums, by name, as introspection tells.
async fn types(api: &Api, org: &Org) -> Value {
    let (_, response) = api
        .query(
            org.owner,
            org.id,
            "{ __schema { types { name kind enumValues { name }
                inputFields { name type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }",
            json!({}),
        )
        .await;
    let types = response["data"]["__schema"]["types"]
        .as_array()
        .unwrap_or_else(|| panic!("{response}"));
    types
        .iter()
        .map(|ty| (ty["name"].as_str().unwrap().to_owned(), ty.clone()))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// A value of the (introspected) type `ty` that passes validation: every
/// required field filled, optional ones left out.
fn sample(types: &Value, ty: &Value) -> Value {
    match ty["kind"].as_str().unwrap() {
        "NON_NULL" => sample(types, &ty["ofType"]),
        "LIST" => json!([sample(types, &ty["ofType"])]),
        _ => {
            let name = ty["name"].as_str().unwrap();
            let named = &types[name];
            match (named["kind"].as_str().unwrap(), name) {
                ("ENUM", _) => named["enumValues"][0]["name"].clone(),
                ("INPUT_OBJECT", _) => named["inputFields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|field| field["type"]["kind"] == "NON_NULL")
                    .map(|field| {
                        let value = sample(types, &field["type"]);
                        (field["name"].as_str().unwrap().to_owned(), value)
                    })
                    .collect::<serde_json::Map<_, _>>()
                    .into(),
                (_, "UUID") => json!(Uuid::new_v4()),
                (_, "Date") => json!("2027-01-01"),
                (_, "DateTime") => json!("2027-01-01T09:00:00Z"),
                (_, "MinorUnits") => json!("100"),
                (_, "Currency") => json!("EUR"),
                (_, "Int") => json!(1),
                (_, "Float") => json!(1.5),
                (_, "Boolean") => json!(true),
                (_, "String") => json!("x"),
                (kind, name) => panic!("no sample for {kind} {name}"),
            }
        }
    }
}

#[tokio::test]
async fn every_command_refuses_a_field_it_does_not_have() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Strict").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let api = Api::new(&db);
    let mutations = mutations(&api, &org).await;
    assert!(mutations.len() > 100, "{mutations:?}");
    let types = types(&api, &org).await;
    for (name, input) in &mutations {
        let id = Uuid::new_v4();
        let Some(input) = input else {
            // A command without fields takes no input at all.
            let query =
                format!("mutation {{ {name}(id: \"{id}\", input: {{reason: \"x\"}}) {{ id }} }}");
            let (_, response) = api.query(org.owner, org.id, &query, json!({})).await;
            assert_eq!(codes(&response), ["BAD_USER_INPUT"], "{query}: {response}");
            let message = response["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains("input"), "{query}: {message}");
            continue;
        };
        // Every required field valid, plus one the command does not have:
        // the error names it. As a variable, the way generated clients send
        // it.
        let mut value = sample(&types, &json!({"kind": "INPUT_OBJECT", "name": input}));
        value["notAField"] = json!(1);
        let query = format!(
            "mutation($id: UUID!, $input: {input}!) {{ {name}(id: $id, input: $input) {{ id }} }}"
        );
        let before = db.event_count().await;
        let (_, response) = api
            .query(org.owner, org.id, &query, json!({"id": id, "input": value}))
            .await;
        assert_eq!(codes(&response), ["BAD_USER_INPUT"], "{query}: {response}");
        let message = response["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("notAField"), "{name}: {message}");
        assert_eq!(db.event_count().await, before, "{name} appended nothing");
        // Without it, the input is well-formed: whatever the command then
        // says, it is not about the input's shape.
        value.as_object_mut().unwrap().remove("notAField");
        let (_, response) = api
            .query(org.owner, org.id, &query, json!({"id": id, "input": value}))
            .await;
        let message = response["errors"][0]["message"].as_str().unwrap_or("");
        assert!(
            !message.contains("Invalid value for argument"),
            "{name}: {response}"
        );
    }
}

#[tokio::test]
async fn enum_values_and_scalars_are_checked_before_the_command_runs() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Checked").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let api = Api::new(&db);
    let draft = "mutation($id: UUID!, $input: DraftInvoiceInput!) {
        draftInvoice(id: $id, input: $input) { version }
    }";
    let valid = json!({"number": "INV-1", "direction": "RECEIVABLE",
        "counterpartyId": org.client, "counterpartyName": "Client Ltd", "dueOn": "2027-01-31"});
    let before = db.event_count().await;
    let wrong = [
        ("direction", json!("receivable")),
        ("direction", json!("SIDEWAYS")),
        ("dueOn", json!("2027-02-30")),
        ("dueOn", json!("2027-01-31T00:00:00Z")),
        ("currency", json!("euro")),
        ("counterpartyId", json!("not-a-uuid")),
        ("visibility", json!("normal")),
    ];
    for (field, value) in wrong {
        let mut input = valid.clone();
        input[field] = value.clone();
        let (_, response) = api
            .query(
                org.owner,
                org.id,
                draft,
                json!({"id": Uuid::new_v4(), "input": input}),
            )
            .await;
        assert_eq!(
            codes(&response),
            ["BAD_USER_INPUT"],
            "{field}={value}: {response}"
        );
    }
    // A missing required field, and the snake_case of the JSON commands.
    let mut missing = valid.clone();
    missing.as_object_mut().unwrap().remove("dueOn");
    let mut snake = valid.clone();
    snake
        .as_object_mut()
        .unwrap()
        .insert("due_on".into(), json!("2027-01-31"));
    snake.as_object_mut().unwrap().remove("dueOn");
    for input in [missing, snake] {
        let (_, response) = api
            .query(
                org.owner,
                org.id,
                draft,
                json!({"id": Uuid::new_v4(), "input": input}),
            )
            .await;
        assert_eq!(codes(&response), ["BAD_USER_INPUT"], "{input}: {response}");
    }
    assert_eq!(db.event_count().await, before, "nothing was appended");

    // The valid input goes through, its defaults applied.
    let invoice = Uuid::new_v4();
    let (_, response) = api
        .query(
            org.owner,
            org.id,
            draft,
            json!({"id": invoice, "input": valid}),
        )
        .await;
    assert_eq!(response["data"]["draftInvoice"]["version"], 1, "{response}");
    let state: (Value,) = sqlx::query_as(
        "SELECT payload FROM events WHERE aggregate_id = $1 ORDER BY sequence LIMIT 1",
    )
    .bind(invoice.to_string())
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let drafted = &state.0["InvoiceDrafted"];
    assert_eq!(drafted["currency"], "USD", "{drafted}");
    assert_eq!(drafted["visibility"], "restricted", "{drafted}");
}

#[tokio::test]
async fn money_beyond_32_and_53_bits_round_trips_exactly() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Big Tour").await;
    let engine = Engine::new(db.pool.clone());
    catch_up_all(&db, &engine).await;
    let api = Api::new(&db);
    // 2^53 + 1 minor units: past GraphQL's Int and past a JavaScript number.
    let huge = "9007199254740993";
    let invoice = Uuid::new_v4();
    api.mutate(
        org.owner,
        org.id,
        "draftInvoice",
        invoice,
        json!({"number": "TOUR-1", "direction": "RECEIVABLE", "counterpartyId": org.client,
               "counterpartyName": "Promoter", "currency": "EUR", "dueOn": "2027-06-30"}),
    )
    .await;
    api.mutate(
        org.owner,
        org.id,
        "addInvoiceLine",
        invoice,
        json!({"lineId": Uuid::new_v4(), "description": "World tour", "quantity": 1,
               "unitPrice": huge}),
    )
    .await;
    api.mutate(
        org.owner,
        org.id,
        "issueInvoice",
        invoice,
        json!({"issuedOn": "2027-06-01"}),
    )
    .await;
    api.mutate(
        org.owner,
        org.id,
        "recordPayment",
        invoice,
        json!({"paymentId": Uuid::new_v4(), "amount": "3000000000", "paidOn": "2027-06-02",
               "method": "bank transfer"}),
    )
    .await;
    catch_up_all(&db, &engine).await;
    let (_, response) = api
        .query(
            org.owner,
            org.id,
            "{ ledger(first: 50) { edges { node { entityId transactionType amount currency } } } }",
            json!({}),
        )
        .await;
    let rows: Vec<&Value> = response["data"]["ledger"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{response}"))
        .iter()
        .map(|edge| &edge["node"])
        .filter(|node| node["entityId"] == json!(invoice))
        .collect();
    let amount = |kind: &str| {
        rows.iter()
            .find(|row| row["transactionType"] == kind)
            .map(|row| (row["amount"].clone(), row["currency"].clone()))
            .unwrap_or_else(|| panic!("a {kind} row: {response}"))
    };
    assert_eq!(amount("INVOICE"), (json!(huge), json!("EUR")));
    assert_eq!(amount("PAYMENT"), (json!("3000000000"), json!("EUR")));

    // Amounts that are not 64-bit integers are refused, not rounded.
    for wrong in [json!("9223372036854775808"), json!("12.50"), json!(12.5)] {
        let (_, response) = api
            .query(
                org.owner,
                org.id,
                "mutation($id: UUID!, $input: RecordPaymentInput!) { recordPayment(id: $id, input: $input) { version } }",
                json!({"id": invoice, "input": {"paymentId": Uuid::new_v4(), "amount": wrong,
                       "paidOn": "2027-06-03", "method": "card"}}),
            )
            .await;
        assert_eq!(codes(&response), ["BAD_USER_INPUT"], "{wrong}: {response}");
        let message = response["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("input.amount"),
            "the error names the field: {message}"
        );
    }
}

#[tokio::test]
async fn a_field_the_command_refuses_is_named_in_the_error() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Fields").await;
    catch_up_all(&db, &Engine::new(db.pool.clone())).await;
    let api = Api::new(&db);
    let huge = "x".repeat(200_000);
    let cases = [
        (
            "addContact",
            "AddContactInput",
            json!({"kind": "TALENT", "name": huge, "email": "big@example.com"}),
            "input.name",
        ),
        (
            "draftContract",
            "DraftContractInput",
            json!({"counterpartyId": org.client, "counterpartyName": "Client Ltd",
                   "terms": {"title": "Tour", "value": "100", "documentUrl": format!("https://x.example/{huge}")}}),
            "input.terms.documentUrl",
        ),
        (
            "createTask",
            "CreateTaskInput",
            json!({"title": "Nul\u{0}here", "priority": "LOW"}),
            // Refused before the command is built: named as the request
            // wrote it, the variable `$input`.
            "$input.title",
        ),
        (
            // Blank where the aggregate needs a text: its own rule, named
            // by the field's path, nested too.
            "createTask",
            "CreateTaskInput",
            json!({"title": "  ", "priority": "LOW"}),
            "input.title",
        ),
        (
            "registerVenue",
            "RegisterVenueInput",
            json!({"name": "Hall", "kind": "VENUE", "address": {"line1": " ", "city": "Cork", "country": "IE"},
                   "contact": {"name": "Sam"}}),
            "input.address.line1",
        ),
        (
            "registerVenue",
            "RegisterVenueInput",
            json!({"name": "Hall", "kind": "VENUE", "address": {"line1": "1 Quay", "city": "Cork", "country": "IE"},
                   "contact": {"name": ""}}),
            "input.contact.name",
        ),
        (
            "draftContract",
            "DraftContractInput",
            json!({"counterpartyId": org.client, "counterpartyName": "Client Ltd",
                   "terms": {"title": " ", "value": "100"}}),
            "input.terms.title",
        ),
    ];
    for (mutation, input_type, input, field) in cases {
        let before = db.event_count().await;
        let (status, response) = api
            .query(
                org.owner,
                org.id,
                &format!(
                    "mutation($id: UUID!, $input: {input_type}!) {{ {mutation}(id: $id, input: $input) {{ id }} }}"
                ),
                json!({"id": Uuid::new_v4(), "input": input}),
            )
            .await;
        assert_eq!(status, 200, "{mutation}: {response}");
        assert_eq!(
            codes(&response),
            vec!["BAD_USER_INPUT"],
            "{mutation}: {response}"
        );
        assert_eq!(
            response["errors"][0]["extensions"]["field"], field,
            "{mutation}: {response}"
        );
        assert_eq!(
            db.event_count().await,
            before,
            "{mutation} appended nothing"
        );
    }
}
