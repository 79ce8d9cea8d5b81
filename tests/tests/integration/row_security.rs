//! Row-level security on the nine read tables, in SQL alone: as the API's
//! role with a caller's settings, a query with no WHERE clause returns
//! exactly the rows DOMAIN.md lets that caller see.

use std::collections::BTreeSet;

use foldline_server::fixture::{self, Fixture};
use foldline_tests::read_side::catch_up_all;
use foldline_tests::TestDb;
use uuid::Uuid;

const VISIBILITIES: [&str; 4] = ["public", "organization", "restricted", "private"];

struct Caller {
    name: &'static str,
    user: Uuid,
    role: &'static str,
    capabilities: &'static str,
}

/// What `caller` may see of rows with `visibility` (private rows belong to
/// `private_owner`), per DOMAIN.md.
fn sees(caller: &Caller, visibility: &str, private_owner: Uuid, financial: bool) -> bool {
    match visibility {
        "public" => true,
        "organization" => caller.role != "guest",
        "restricted" => {
            matches!(caller.role, "owner" | "admin")
                || (financial && caller.capabilities.split(',').any(|c| c == "finance"))
        }
        "private" => caller.user == private_owner || caller.role == "owner",
        _ => unreachable!(),
    }
}

/// The entity types rows are inserted for: one whose rows are financial
/// wherever they appear, one whose rows are not.
const ENTITY_TYPES: [&str; 2] = ["Task", "Invoice"];

/// Whether a row of `entity_type` in `table` is financial (DOMAIN.md).
fn financial(table: &str, entity_type: &str) -> bool {
    table == "financial_ledger" || foldline_aggregates::visibility::is_financial(entity_type)
}

/// One inserted row: its organization, entity type, visibility and id.
type Inserted = (Uuid, &'static str, &'static str, Uuid);

/// Inserts into `table` a row per organization, entity type and visibility,
/// made from a row the demo projected so every column has a realistic
/// value, dated 2030 so it leads the newest-first lists: private rows belong
/// to `private_owner`, the others to `owner`.
async fn insert_visibility_rows(
    db: &TestDb,
    table: &str,
    organizations: [Uuid; 2],
    private_owner: Uuid,
    owner: Uuid,
) -> Vec<Inserted> {
    let mut rows = Vec::new();
    for organization in organizations {
        for (entity_type, visibility) in ENTITY_TYPES
            .into_iter()
            .flat_map(|t| VISIBILITIES.into_iter().map(move |v| (t, v)))
        {
            let id = Uuid::new_v4();
            let owner = if visibility == "private" {
                private_owner
            } else {
                owner
            };
            let patch = serde_json::json!({
                "id": id,
                "external_id": format!("rls:{organization}:{entity_type}:{visibility}"),
                "organization_id": organization,
                "entity_type": entity_type,
                "visibility": visibility,
                "owner_id": owner,
                "updated_at": "2030-01-01T00:00:00Z",
                "created_at": "2030-01-01T00:00:00Z",
                "starts_at": "2030-01-01T00:00:00Z",
            });
            sqlx::query(&format!(
                "INSERT INTO {table}
                 SELECT * FROM jsonb_populate_record(NULL::{table},
                     (SELECT to_jsonb(t) FROM {table} t LIMIT 1) || $1)"
            ))
            .bind(&patch)
            .execute(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("{table}: {e}"));
            rows.push((organization, entity_type, visibility, id));
        }
    }
    rows
}

/// A database holding the demo, folded into the read tables.
async fn demo() -> TestDb {
    let db = TestDb::new().await;
    let bus = db.bus();
    fixture::seed(&bus, &Fixture::load("demo").unwrap())
        .await
        .unwrap();
    let engine = foldline_projectors::Engine::new(db.pool.clone());
    catch_up_all(&db, &engine).await;
    db
}

#[tokio::test]
async fn each_role_sees_exactly_what_its_visibility_allows_in_every_table() {
    let db = demo().await;

    let (mine, theirs) = (Uuid::new_v4(), Uuid::new_v4());
    let member = Uuid::new_v4();
    let callers = [
        Caller {
            name: "owner",
            user: Uuid::new_v4(),
            role: "owner",
            capabilities: "",
        },
        Caller {
            name: "admin",
            user: Uuid::new_v4(),
            role: "admin",
            capabilities: "",
        },
        Caller {
            name: "member",
            user: member,
            role: "member",
            capabilities: "",
        },
        Caller {
            name: "guest",
            user: Uuid::new_v4(),
            role: "guest",
            capabilities: "",
        },
        Caller {
            name: "member with finance",
            user: Uuid::new_v4(),
            role: "member",
            capabilities: "production_manager,finance",
        },
    ];

    let tables: Vec<&str> = foldline_projectors::all()
        .iter()
        .flat_map(|p| p.tables().iter().copied())
        .filter(|table| !matches!(*table, "organizations" | "memberships"))
        .collect();
    assert_eq!(tables.len(), 10);
    for table in tables {
        insert_visibility_rows(&db, table, [mine, theirs], member, Uuid::new_v4()).await;
        for caller in &callers {
            let mut tx = db.pool.begin().await.unwrap();
            sqlx::query(
                "SELECT set_config('app.organization_id', $1, true), set_config('app.user_id', $2, true),
                        set_config('app.role', $3, true), set_config('app.capabilities', $4, true)",
            )
            .bind(mine.to_string())
            .bind(caller.user.to_string())
            .bind(caller.role)
            .bind(caller.capabilities)
            .execute(&mut *tx)
            .await
            .unwrap();
            sqlx::query("SET LOCAL ROLE foldline_api")
                .execute(&mut *tx)
                .await
                .unwrap();
            let seen: BTreeSet<String> =
                sqlx::query_scalar(&format!("SELECT external_id FROM {table}"))
                    .fetch_all(&mut *tx)
                    .await
                    .unwrap()
                    .into_iter()
                    .collect();
            tx.rollback().await.unwrap();
            let expected: BTreeSet<String> = ENTITY_TYPES
                .iter()
                .flat_map(|t| VISIBILITIES.iter().map(move |v| (t, v)))
                .filter(|(t, v)| sees(caller, v, member, financial(table, t)))
                .map(|(t, v)| format!("rls:{mine}:{t}:{v}"))
                .collect();
            assert_eq!(seen, expected, "{table} as {}", caller.name);
        }
    }
}

/// The rule detail and audit queries apply to an entity read from its
/// stream is the one row-level security applies to its rows: the Rust twin
/// of the policies agrees with DOMAIN.md's rule for every caller, entity
/// type, visibility and owner.
#[test]
fn the_rule_for_entities_is_the_rule_for_their_rows() {
    let member = Uuid::new_v4();
    let callers = [
        ("owner", ""),
        ("admin", ""),
        ("member", ""),
        ("guest", ""),
        ("member", "finance"),
    ];
    for (role, capabilities) in callers {
        for user in [member, Uuid::new_v4()] {
            let caller = Caller {
                name: role,
                user,
                role,
                capabilities,
            };
            let entity_reader = foldline_graphql::caller::Caller {
                user_id: user,
                organization_id: Uuid::new_v4(),
                role: role.to_owned(),
                capabilities: capabilities
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect(),
            };
            for entity_type in ENTITY_TYPES.into_iter().chain(["Expense", "Contract"]) {
                for visibility in VISIBILITIES {
                    assert_eq!(
                        entity_reader.may_see_entity(entity_type, visibility, Some(member)),
                        sees(
                            &caller,
                            visibility,
                            member,
                            financial("status_tracker", entity_type)
                        ),
                        "{role} {capabilities} sees a {visibility} {entity_type}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn without_settings_the_api_role_sees_nothing_and_writes_nothing() {
    let db = demo().await;
    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE foldline_api")
        .execute(&mut *tx)
        .await
        .unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM calendar_events")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(rows, 0);
    let refused = sqlx::query("DELETE FROM calendar_events")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("permission denied"),
        "{refused}"
    );
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn through_graphql_each_role_sees_exactly_what_its_visibility_allows() {
    let db = TestDb::new().await;
    let bus = db.bus();
    fixture::seed(&bus, &Fixture::load("demo").unwrap())
        .await
        .unwrap();
    let mine = foldline_tests::Org::create(&bus, "Mine").await;
    let theirs = foldline_tests::Org::create(&bus, "Theirs").await;
    let engine = foldline_projectors::Engine::new(db.pool.clone());
    catch_up_all(&db, &engine).await;
    let api = foldline_tests::api::Api::new(&db);

    // (table, GraphQL field)
    let tables = [
        ("calendar_events", "calendarEvents"),
        ("activity_feed", "activityFeed"),
        ("document_registry", "documents"),
        ("financial_ledger", "ledger"),
        ("people_directory", "people"),
        ("assignments", "assignments"),
        ("location_registry", "locations"),
        ("status_tracker", "statuses"),
        ("inventory_registry", "inventory"),
    ];
    let callers = [
        ("owner", mine.owner, "owner", ""),
        ("admin", mine.admin, "admin", ""),
        ("member", mine.member, "member", ""),
        ("guest", mine.guest, "guest", ""),
        ("member with finance", mine.finance, "member", "finance"),
    ];
    for (table, field) in tables {
        let ids =
            insert_visibility_rows(&db, table, [mine.id, theirs.id], mine.member, mine.admin).await;
        for (name, user, role, capabilities) in callers {
            let caller = Caller {
                name,
                user,
                role,
                capabilities,
            };
            let query = format!("{{ {field}(first: 100) {{ edges {{ node {{ id }} }} }} }}");
            let (status, response) = api
                .query(user, mine.id, &query, serde_json::json!({}))
                .await;
            assert_eq!(status, 200, "{field} as {name}: {response}");
            let seen: BTreeSet<Uuid> = response["data"][field]["edges"]
                .as_array()
                .unwrap_or_else(|| panic!("{field} as {name}: {response}"))
                .iter()
                .filter_map(|edge| edge["node"]["id"].as_str()?.parse().ok())
                .filter(|id| ids.iter().any(|(_, _, _, mine)| mine == id))
                .collect();
            let expected: BTreeSet<Uuid> = ids
                .iter()
                .filter(|(organization, entity_type, visibility, _)| {
                    *organization == mine.id
                        && sees(
                            &caller,
                            visibility,
                            mine.member,
                            financial(table, entity_type),
                        )
                })
                .map(|(_, _, _, id)| *id)
                .collect();
            assert_eq!(seen, expected, "{field} as {name}");
        }
    }
}

#[tokio::test]
async fn read_connections_are_the_api_role_read_only_and_forget_a_refused_caller() {
    use foldline_graphql::caller::Caller;
    use foldline_graphql::reads::Reads;
    use foldline_tests::Org;

    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Reads").await;
    catch_up_all(&db, &foldline_projectors::Engine::new(db.pool.clone())).await;
    let reads = Reads::beside(&db.pool);

    let admission = reads.admit(org.member, org.id).await.unwrap();
    assert_eq!(admission.memberships_anywhere, 1);
    assert_eq!(admission.membership.as_ref().unwrap().0, "member");
    let mut conn = admission.connection;
    let (user, read_only, organization, role): (String, String, String, String) = sqlx::query_as(
        "SELECT current_user::text, current_setting('transaction_read_only'),
                current_setting('app.organization_id'), current_setting('app.role')",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(
        (user.as_str(), read_only.as_str(), role.as_str()),
        ("foldline_api", "on", "member")
    );
    assert_eq!(organization, org.id.to_string());
    let write = sqlx::query("DELETE FROM calendar_events")
        .execute(&mut *conn)
        .await
        .unwrap_err();
    assert!(write.to_string().contains("read-only"), "{write}");
    drop(conn);

    // Refused: not a member here. The connection keeps nothing of anyone.
    let stranger = Org::create(&db.bus(), "Elsewhere").await;
    catch_up_all(&db, &foldline_projectors::Engine::new(db.pool.clone())).await;
    let admission = reads.admit(stranger.owner, org.id).await.unwrap();
    assert_eq!(admission.memberships_anywhere, 1);
    assert!(admission.membership.is_none());
    let mut conn = admission.connection;
    let settings: (String, String) = sqlx::query_as(
        "SELECT current_setting('app.organization_id'), current_setting('app.user_id')",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(settings, (String::new(), String::new()));
    let unknown = reads.admit(Uuid::new_v4(), org.id).await.unwrap();
    assert_eq!(unknown.memberships_anywhere, 0);

    // A connection set up for one caller, then for another, reads as the
    // second.
    let caller = |user, role: &str| Caller {
        user_id: user,
        organization_id: org.id,
        role: role.to_owned(),
        capabilities: Vec::new(),
    };
    drop(conn);
    for (user, role) in [(org.guest, "guest"), (org.admin, "admin")] {
        let mut conn = reads.as_caller(&caller(user, role)).await.unwrap();
        let now: (String, String) =
            sqlx::query_as("SELECT current_setting('app.user_id'), current_setting('app.role')")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        assert_eq!(now, (user.to_string(), role.to_owned()));
    }
}
