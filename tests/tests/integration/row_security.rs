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
    assert_eq!(tables.len(), 9);
    for table in tables {
        // Rows in both organizations at each visibility, made from a row the
        // demo projected so every column has a realistic value.
        for organization in [mine, theirs] {
            for visibility in VISIBILITIES {
                let owner = if visibility == "private" {
                    member
                } else {
                    Uuid::new_v4()
                };
                let patch = serde_json::json!({
                    "id": Uuid::new_v4(),
                    "external_id": format!("rls:{organization}:{visibility}"),
                    "organization_id": organization,
                    "visibility": visibility,
                    "owner_id": owner,
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
            }
        }
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
            let expected: BTreeSet<String> = VISIBILITIES
                .iter()
                .filter(|v| sees(caller, v, member, table == "financial_ledger"))
                .map(|v| format!("rls:{mine}:{v}"))
                .collect();
            assert_eq!(seen, expected, "{table} as {}", caller.name);
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
