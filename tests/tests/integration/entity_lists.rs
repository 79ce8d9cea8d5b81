//! The lists of each aggregate type through the HTTP router: their filters,
//! "awaiting my approval", `totalCount`, paging both ways, paging while the
//! entities listed change, and who may see what in them.

use std::collections::HashSet;

use foldline_graphql::caller::Caller;
use foldline_graphql::reads::Reads;
use foldline_projectors::Engine;
use foldline_tests::api::{codes, Api};
use foldline_tests::read_side::catch_up_all;
use foldline_tests::{Org, TestDb};
use serde_json::{json, Value};
use uuid::Uuid;

/// Every page of `list` with `filter` as `user`, `size` rows at a time,
/// forward (`first`/`after`) or backward (`last`/`before`), with
/// `between(page number)` run after each page; the ids in the order the
/// pages gave them, with each page's `pageInfo`.
async fn page_through<F, Fut>(
    api: &Api,
    org: &Org,
    user: Uuid,
    list: &str,
    filter: Value,
    size: i32,
    backward: bool,
    mut between: F,
) -> (Vec<Uuid>, Vec<Value>)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (size_arg, cursor_arg, cursor_field) = if backward {
        ("last", "before", "startCursor")
    } else {
        ("first", "after", "endCursor")
    };
    let query = format!(
        "query($filter: {}, $size: Int, $cursor: String) {{
            {list}(filter: $filter, {size_arg}: $size, {cursor_arg}: $cursor) {{
                edges {{ cursor node {{ id }} }}
                pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
            }}
        }}",
        filter_type(list)
    );
    let mut cursor = Value::Null;
    let mut pages = Vec::new();
    let mut ids = Vec::new();
    for number in 0.. {
        let (_, response) = api
            .query(
                user,
                org.id,
                &query,
                json!({"filter": filter, "size": size, "cursor": cursor}),
            )
            .await;
        let connection = &response["data"][list];
        let edges = connection["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{response}"));
        let mut page: Vec<Uuid> = edges
            .iter()
            .map(|edge| serde_json::from_value(edge["node"]["id"].clone()).unwrap())
            .collect();
        if backward {
            page.reverse();
        }
        ids.extend(page);
        let info = connection["pageInfo"].clone();
        pages.push(info.clone());
        let more = if backward {
            info["hasPreviousPage"] == json!(true)
        } else {
            info["hasNextPage"] == json!(true)
        };
        if !more {
            break;
        }
        cursor = info[cursor_field].clone();
        between(number).await;
    }
    (ids, pages)
}

/// The filter input type of a list.
fn filter_type(list: &str) -> &'static str {
    match list {
        "tasks" => "TaskFilter",
        "productionAdvances" => "ProductionAdvanceFilter",
        "invoices" => "InvoiceFilter",
        other => panic!("no filter type known for {other}"),
    }
}

/// The ids in a list's page, as `user`.
async fn listed(api: &Api, org: &Org, user: Uuid, list: &str, filter: Value) -> Vec<Uuid> {
    let (ids, _) = page_through(api, org, user, list, filter, 100, false, |_| async {}).await;
    ids
}

/// `totalCount` of a list, as `user`.
async fn total(api: &Api, org: &Org, user: Uuid, list: &str, filter: Value) -> i64 {
    let query = format!(
        "query($filter: {}) {{ {list}(filter: $filter, first: 1) {{ totalCount }} }}",
        filter_type(list)
    );
    let (_, response) = api
        .query(user, org.id, &query, json!({"filter": filter}))
        .await;
    response["data"][list]["totalCount"]
        .as_i64()
        .unwrap_or_else(|| panic!("{response}"))
}

/// Creates a task titled `title` with `extra` fields, as `user`.
async fn task(api: &Api, org: &Org, user: Uuid, title: &str, extra: Value) -> Uuid {
    let id = Uuid::new_v4();
    let mut input = json!({"title": title, "priority": "MEDIUM"});
    input
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    api.mutate(user, org.id, "createTask", id, input).await;
    id
}

#[tokio::test]
async fn lists_filter_by_status_parent_and_words_and_count_what_they_keep() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Lists").await;
    let engine = Engine::new(db.pool.clone());
    catch_up_all(&db, &engine).await;
    let api = Api::new(&db);
    let mut rigging = Vec::new();
    for n in 0..3 {
        rigging.push(
            task(
                &api,
                &org,
                org.owner,
                &format!("Rigging truss {n}"),
                json!({"eventId": org.event, "assignee": org.member}),
            )
            .await,
        );
    }
    let catering = task(&api, &org, org.owner, "Catering order", json!({})).await;
    api.mutate(org.owner, org.id, "startTask", catering, json!({}))
        .await;
    api.mutate(org.owner, org.id, "completeTask", catering, json!({}))
        .await;
    // Another organization's task, which no list of this one shows.
    let other = Org::create(&db.bus(), "Elsewhere").await;
    catch_up_all(&db, &engine).await;
    let elsewhere = task(&api, &other, other.owner, "Rigging elsewhere", json!({})).await;
    catch_up_all(&db, &engine).await;

    let set = |ids: Vec<Uuid>| ids.into_iter().collect::<HashSet<_>>();
    let all: HashSet<Uuid> = rigging.iter().copied().chain([catering]).collect();
    // Org::create makes tasks of its own: count only this test's.
    let everything = set(listed(&api, &org, org.owner, "tasks", json!({})).await);
    assert!(everything.is_superset(&all));
    assert!(!everything.contains(&elsewhere));
    assert_eq!(
        listed(
            &api,
            &other,
            other.owner,
            "tasks",
            json!({"search": "rigging"})
        )
        .await,
        vec![elsewhere]
    );
    assert_eq!(
        set(listed(&api, &org, org.owner, "tasks", json!({"status": ["DONE"]})).await)
            .intersection(&all)
            .copied()
            .collect::<HashSet<_>>(),
        HashSet::from([catering])
    );
    assert_eq!(
        set(listed(
            &api,
            &org,
            org.owner,
            "tasks",
            json!({"assigneeId": org.member})
        )
        .await),
        set(rigging.clone())
    );
    let of_event = set(listed(
        &api,
        &org,
        org.owner,
        "tasks",
        json!({"eventId": org.event}),
    )
    .await);
    assert!(of_event.is_superset(&set(rigging.clone())) && !of_event.contains(&catering));
    // Words are prefixes, each required, any case.
    assert_eq!(
        set(listed(
            &api,
            &org,
            org.owner,
            "tasks",
            json!({"search": "rigg tru"})
        )
        .await),
        set(rigging.clone())
    );
    assert_eq!(
        listed(
            &api,
            &org,
            org.owner,
            "tasks",
            json!({"search": "truss catering"})
        )
        .await,
        Vec::<Uuid>::new()
    );
    // Filters combine; the count is of everything they keep, not a page.
    let both = json!({"assigneeId": org.member, "status": ["TODO", "IN_PROGRESS"]});
    assert_eq!(
        listed(&api, &org, org.owner, "tasks", both.clone())
            .await
            .len(),
        3
    );
    assert_eq!(total(&api, &org, org.owner, "tasks", both).await, 3);
    assert_eq!(
        total(&api, &org, org.owner, "tasks", json!({})).await,
        everything.len() as i64
    );

    // Bad filters and pages are refused, naming what is wrong.
    for (query, wrong) in [
        (
            "{ tasks(filter: {status: [FINISHED]}) { totalCount } }",
            "FINISHED",
        ),
        ("{ tasks(first: 2, last: 2) { totalCount } }", "not both"),
        ("{ tasks(last: 0) { totalCount } }", "last"),
        ("{ tasks(before: \"nonsense\") { totalCount } }", "cursor"),
        (
            "{ tasks(filter: {eventId: \"not-a-uuid\"}) { totalCount } }",
            "UUID",
        ),
    ] {
        let (_, response) = api.query(org.owner, org.id, query, json!({})).await;
        assert!(
            response["data"].is_null() || response["data"]["tasks"].is_null(),
            "{query}: {response}"
        );
        assert!(response.to_string().contains(wrong), "{query}: {response}");
        assert!(
            codes(&response)
                .iter()
                .any(|code| code == "BAD_USER_INPUT" || code == "GRAPHQL_VALIDATION_FAILED"),
            "{query}: {response}"
        );
    }
}

#[tokio::test]
async fn awaiting_my_approval_lists_what_the_callers_capabilities_approve_next() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Approvals").await;
    let engine = Engine::new(db.pool.clone());
    catch_up_all(&db, &engine).await;
    let api = Api::new(&db);
    // An advance of 30,000.00 needs a production manager, then an event
    // director; a draft one waits for nobody.
    let pending = Uuid::new_v4();
    let draft = Uuid::new_v4();
    for (id, code) in [(pending, "ADV-P"), (draft, "ADV-D")] {
        api.mutate(
            org.owner,
            org.id,
            "createAdvance",
            id,
            json!({"eventId": org.event, "code": code, "advanceType": "LOAD_IN"}),
        )
        .await;
        api.mutate(
            org.owner,
            org.id,
            "addItem",
            id,
            json!({"itemId": Uuid::new_v4(), "name": "PA", "category": "TECHNICAL",
                   "quantityRequired": 2, "unitCost": "1500000"}),
        )
        .await;
    }
    api.mutate(org.owner, org.id, "submitForApproval", pending, json!({}))
        .await;
    catch_up_all(&db, &engine).await;
    let awaiting = json!({"awaitingMyApproval": true});
    let first_step = listed(
        &api,
        &org,
        org.production_manager,
        "productionAdvances",
        awaiting.clone(),
    )
    .await;
    assert_eq!(first_step, vec![pending]);
    for nobody in [org.event_director, org.member, org.owner] {
        assert_eq!(
            listed(&api, &org, nobody, "productionAdvances", awaiting.clone()).await,
            Vec::<Uuid>::new(),
            "only the next step's holders are asked"
        );
    }
    // `false` does not narrow.
    let unfiltered = listed(
        &api,
        &org,
        org.owner,
        "productionAdvances",
        json!({"awaitingMyApproval": false}),
    )
    .await;
    assert!(unfiltered.contains(&pending) && unfiltered.contains(&draft));

    // Once the first step is given, the next step's holder is asked.
    api.mutate(
        org.production_manager,
        org.id,
        "approve",
        pending,
        json!({}),
    )
    .await;
    catch_up_all(&db, &engine).await;
    assert_eq!(
        listed(
            &api,
            &org,
            org.production_manager,
            "productionAdvances",
            awaiting.clone()
        )
        .await,
        Vec::<Uuid>::new()
    );
    let (_, response) = api
        .query(
            org.event_director,
            org.id,
            "{ productionAdvances(filter: {awaitingMyApproval: true}) {
                 totalCount nodes { id code status awaitingCapability approvalSteps { capability approvedBy } }
            } }",
            json!({}),
        )
        .await;
    let list = &response["data"]["productionAdvances"];
    assert_eq!(list["totalCount"], 1, "{response}");
    let node = &list["nodes"][0];
    assert_eq!(node["id"], json!(pending));
    assert_eq!(node["status"], "PENDING_APPROVAL");
    assert_eq!(node["awaitingCapability"], "EVENT_DIRECTOR");
    assert_eq!(
        node["approvalSteps"][0]["approvedBy"],
        json!(org.production_manager)
    );
}

#[tokio::test]
async fn paging_either_way_while_entities_change_neither_skips_nor_repeats() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Paging").await;
    let engine = Engine::new(db.pool.clone());
    catch_up_all(&db, &engine).await;
    let api = Api::new(&db);
    let mut made = Vec::new();
    for n in 0..23 {
        made.push(
            task(
                &api,
                &org,
                org.owner,
                &format!("Pack case {n}"),
                json!({"project": "paging"}),
            )
            .await,
        );
    }
    catch_up_all(&db, &engine).await;
    let mine = json!({"search": "pack case"});

    // Newest first: the last made is first.
    let (forward, pages) = page_through(
        &api,
        &org,
        org.owner,
        "tasks",
        mine.clone(),
        5,
        false,
        |_| async {},
    )
    .await;
    let newest_first: Vec<Uuid> = made.iter().rev().copied().collect();
    assert_eq!(forward, newest_first);
    assert_eq!(pages.len(), 5);
    assert_eq!(pages[0]["hasPreviousPage"], false);
    assert_eq!(pages[1]["hasPreviousPage"], true);
    assert_eq!(pages[4]["hasNextPage"], false);

    // Backward from the end gives the same rows, each page in list order.
    let (backward, pages) = page_through(
        &api,
        &org,
        org.owner,
        "tasks",
        mine.clone(),
        5,
        true,
        |_| async {},
    )
    .await;
    let mut backward_in_order = backward.clone();
    backward_in_order.reverse();
    assert_eq!(backward_in_order, newest_first);
    assert_eq!(pages[0]["hasNextPage"], false);
    assert_eq!(pages[1]["hasNextPage"], true);
    assert_eq!(pages.last().unwrap()["hasPreviousPage"], false);

    // Between pages every task changes (renamed, reassigned): each is
    // still listed exactly once, in the same order.
    let round = std::cell::Cell::new(0);
    let changes = |_page: usize| {
        let (api, org, made, db, engine) = (&api, &org, &made, &db, &engine);
        round.set(round.get() + 1);
        let round = round.get();
        async move {
            let assignee = if round % 2 == 0 {
                org.member
            } else {
                org.admin
            };
            for (n, id) in made.iter().enumerate() {
                let title = json!({"title": format!("Pack case {n} round {round}")});
                api.mutate(org.owner, org.id, "updateTask", *id, title)
                    .await;
                let assignee = json!({"assignee": assignee});
                api.mutate(org.owner, org.id, "assignTask", *id, assignee)
                    .await;
            }
            catch_up_all(db, engine).await;
        }
    };
    let (while_changing, _) = page_through(
        &api,
        &org,
        org.owner,
        "tasks",
        mine.clone(),
        5,
        false,
        changes,
    )
    .await;
    assert_eq!(while_changing, newest_first);
    let (while_changing, _) = page_through(
        &api,
        &org,
        org.owner,
        "tasks",
        mine.clone(),
        5,
        true,
        changes,
    )
    .await;
    let mut in_order = while_changing.clone();
    in_order.reverse();
    assert_eq!(in_order, newest_first);

    // A page between two cursors.
    let (_, response) = api
        .query(
            org.owner,
            org.id,
            "query($filter: TaskFilter) { tasks(filter: $filter, first: 6) { edges { cursor } } }",
            json!({"filter": mine}),
        )
        .await;
    let cursors: Vec<Value> = response["data"]["tasks"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["cursor"].clone())
        .collect();
    let (_, response) = api
        .query(
            org.owner,
            org.id,
            "query($filter: TaskFilter, $after: String, $before: String) {
                tasks(filter: $filter, after: $after, before: $before) { nodes { id } }
            }",
            json!({"filter": mine, "after": cursors[0], "before": cursors[5]}),
        )
        .await;
    let between: Vec<Value> = response["data"]["tasks"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{response}"))
        .iter()
        .map(|node| node["id"].clone())
        .collect();
    assert_eq!(
        between,
        newest_first[1..5]
            .iter()
            .map(|id| json!(id))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn each_caller_lists_only_the_entities_they_may_see() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Seen").await;
    let engine = Engine::new(db.pool.clone());
    catch_up_all(&db, &engine).await;
    let api = Api::new(&db);
    let private = task(
        &api,
        &org,
        org.owner,
        "Owner's own",
        json!({"visibility": "PRIVATE"}),
    )
    .await;
    let members_own = task(
        &api,
        &org,
        org.member,
        "Member's own",
        json!({"visibility": "PRIVATE"}),
    )
    .await;
    let public = task(
        &api,
        &org,
        org.owner,
        "Open to all",
        json!({"visibility": "PUBLIC"}),
    )
    .await;
    let restricted = task(
        &api,
        &org,
        org.owner,
        "Admins only",
        json!({"visibility": "RESTRICTED"}),
    )
    .await;
    let invoice = Uuid::new_v4();
    api.mutate(
        org.owner,
        org.id,
        "draftInvoice",
        invoice,
        json!({"number": "INV-R", "direction": "RECEIVABLE", "counterpartyId": org.client,
               "counterpartyName": "Client Ltd", "dueOn": "2027-01-31", "visibility": "RESTRICTED"}),
    )
    .await;
    catch_up_all(&db, &engine).await;

    let tasks = |user| {
        let api = &api;
        let org = &org;
        async move {
            listed(api, org, user, "tasks", json!({}))
                .await
                .into_iter()
                .collect::<HashSet<_>>()
        }
    };
    let owner = tasks(org.owner).await;
    // Owners see every row, private ones too (the rule of the nine tables).
    assert!([private, members_own, public, restricted]
        .iter()
        .all(|id| owner.contains(id)));
    let admin = tasks(org.admin).await;
    assert!(admin.contains(&restricted) && admin.contains(&public));
    assert!(!admin.contains(&private) && !admin.contains(&members_own));
    let member = tasks(org.member).await;
    assert!(member.contains(&members_own) && member.contains(&public));
    assert!(!member.contains(&private) && !member.contains(&restricted));
    let guest = tasks(org.guest).await;
    assert!(guest.contains(&public));
    assert!(![private, members_own, restricted]
        .iter()
        .any(|id| guest.contains(id)));
    // The count follows the same rule as the rows.
    for user in [org.owner, org.admin, org.member, org.guest] {
        assert_eq!(
            total(&api, &org, user, "tasks", json!({})).await,
            tasks(user).await.len() as i64
        );
    }
    // A restricted invoice: finance holders and admins, not members.
    for (user, sees) in [
        (org.finance, true),
        (org.admin, true),
        (org.member, false),
        (org.guest, false),
    ] {
        assert_eq!(
            listed(&api, &org, user, "invoices", json!({}))
                .await
                .contains(&invoice),
            sees
        );
    }
    // The list and `node` agree on every entity each caller may see.
    for user in [org.owner, org.member, org.guest] {
        for id in [private, members_own, public, restricted] {
            let (_, response) = api
                .query(
                    user,
                    org.id,
                    "query($id: ID!) { node(id: $id) { id } }",
                    json!({"id": id}),
                )
                .await;
            assert_eq!(
                !response["data"]["node"].is_null(),
                tasks(user).await.contains(&id),
                "{user} {id}"
            );
        }
    }
}

#[tokio::test]
async fn words_many_or_few_rows_have_give_the_same_pages() {
    // Words most of a list's rows have are looked for among its first
    // pages, rare ones through the word index (`connection::probe`): both
    // ways must give the same rows, in the same pages, and only those the
    // caller may see.
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Words").await;
    let engine = Engine::new(db.pool.clone());
    catch_up_all(&db, &engine).await;
    let api = Api::new(&db);
    let mut made = Vec::new();
    for n in 0..60 {
        // Every tenth is rare; all are tasks; a few are rigging.
        let title = match n {
            n if n % 10 == 3 => format!("Rare sighting {n}"),
            n if n % 7 == 0 => format!("Task rigging {n}"),
            n => format!("Task number {n}"),
        };
        made.push((task(&api, &org, org.owner, &title, json!({})).await, title));
    }
    // A private task with a rare word: its owner's alone.
    let secret = task(
        &api,
        &org,
        org.member,
        "Secret cabling plan",
        json!({"visibility": "PRIVATE"}),
    )
    .await;
    catch_up_all(&db, &engine).await;
    for (user, seen) in [(org.member, vec![secret]), (org.admin, vec![])] {
        let (ids, _) = page_through(
            &api,
            &org,
            user,
            "tasks",
            json!({"search": "secr"}),
            3,
            false,
            |_| async {},
        )
        .await;
        assert_eq!(ids, seen, "{user}");
    }
    // Newest first.
    made.reverse();
    let expected = |word: &str| -> Vec<Uuid> {
        made.iter()
            .filter(|(_, title)| {
                title
                    .split_whitespace()
                    .any(|w| w.to_lowercase().starts_with(word))
            })
            .map(|(id, _)| *id)
            .collect()
    };
    // "!!!" has no word to look for: it finds nothing, and is no error.
    for word in ["task", "rar", "rig", "numb", "sight", "nothing", "!!!"] {
        for size in [1, 3, 10] {
            for backward in [false, true] {
                let (mut ids, _) = page_through(
                    &api,
                    &org,
                    org.owner,
                    "tasks",
                    json!({"search": word}),
                    size,
                    backward,
                    |_| async {},
                )
                .await;
                if backward {
                    ids.reverse();
                }
                assert_eq!(
                    ids,
                    expected(word),
                    "`{word}`, {size} a page, backward: {backward}"
                );
            }
        }
    }
}

#[tokio::test]
async fn organizations_whose_words_share_an_index_prefix_match_only_their_own() {
    // Words are indexed after the first 48 bits of their organization's id
    // (`migrations/0017_search_matches.sql`); `search_matches`, which reads
    // the index as the tables' owner, must still give the admitted
    // organization's rows alone when another organization's id begins the
    // same way, as a list and `search` do through the API.
    let db = TestDb::new().await;
    let bus = db.bus();
    let ours = Org::create(&bus, "Ours").await;
    let mut twin = *ours.id.as_bytes();
    twin[6..].copy_from_slice(&Uuid::new_v4().as_bytes()[6..]);
    let theirs = Org::create_with_id(&bus, "Theirs", Uuid::from_bytes(twin)).await;
    assert_eq!(ours.id.to_string()[..13], theirs.id.to_string()[..13]);
    let engine = Engine::new(db.pool.clone());
    catch_up_all(&db, &engine).await;
    let api = Api::new(&db);
    let mine = task(&api, &ours, ours.owner, "Zanzibar crates", json!({})).await;
    task(&api, &theirs, theirs.owner, "Zanzibar crates", json!({})).await;
    catch_up_all(&db, &engine).await;

    let reads = Reads::beside(&db.pool);
    let owner = Caller {
        user_id: ours.owner,
        organization_id: ours.id,
        role: "owner".into(),
        capabilities: vec![],
    };
    let mut conn = reads.as_caller(&owner).await.unwrap();
    let matched: Vec<(String, Uuid)> = sqlx::query_as(
        "SELECT source, id
         FROM search_matches(ARRAY['entity_directory', 'status_tracker'], 'zanz', true)",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert!(!matched.is_empty());
    // Whose rows they are, read as the owner of the tables: row security
    // would hide the other organization's.
    for (source, id) in &matched {
        let organization: Uuid = sqlx::query_scalar(&format!(
            "SELECT organization_id FROM {source} WHERE id = $1"
        ))
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(organization, ours.id, "{source} {id}");
    }
    drop(conn);
    assert_eq!(
        listed(&api, &ours, ours.owner, "tasks", json!({"search": "zanz"})).await,
        vec![mine]
    );
}
