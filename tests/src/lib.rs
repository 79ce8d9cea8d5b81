//! Shared set-up for Foldline's end-to-end tests and benchmarks: a fresh
//! database per test on a real PostgreSQL, found the way the binary finds one,
//! and a scenario organization with a member in every role.

use std::path::PathBuf;

pub mod api;
pub mod bulk;
pub mod commands;
pub mod eventually;
pub mod legacy;
pub mod lists;
pub mod load;
pub mod measure;
pub mod paced;
pub mod read_side;
pub mod workload;

use foldline_aggregates::company::{Company, CompanyCommand, CompanyKind};
use foldline_aggregates::event::{Event, EventCommand, EventKind};
use foldline_aggregates::organization::{Organization, OrganizationCommand};
use foldline_aggregates::{Capability, CommandBus, EventStore, RequestContext, Role, Source};
use foldline_server::database::{self, quote_identifier, MIGRATOR};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

/// Where the tests start their own cluster when no PostgreSQL answers.
pub fn test_cluster_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/foldline-test-cluster")
}

/// The server the tests run against, found like the binary finds one.
/// A missing PostgreSQL is an error with the discovery's message, never a skip.
pub async fn server() -> PgConnectOptions {
    let url = std::env::var("DATABASE_URL").ok();
    match database::locate_server(url.as_deref(), &test_cluster_dir()).await {
        Ok(located) => located.options,
        Err(error) => panic!("the integration tests need PostgreSQL: {error}"),
    }
}

/// A database of its own for one test, migrated, dropped when the value is.
pub struct TestDb {
    /// A pool on the test's database.
    pub pool: PgPool,
    /// Options to reach the test's database.
    pub options: PgConnectOptions,
    admin: PgConnectOptions,
    name: String,
    /// Kept databases outlive the value (benchmarks that reuse a filled store).
    keep: bool,
}

impl TestDb {
    /// Creates a fresh database from a migrated template.
    pub async fn new() -> TestDb {
        let admin = server().await;
        let template = ensure_template(&admin).await;
        TestDb::create(admin, Some(&template)).await
    }

    /// The database `name`, kept after the value is dropped: created from
    /// the migrated template when missing (`true`), else reused as it is,
    /// with any newer migration applied (`false`). For benchmarks whose
    /// store takes minutes to fill.
    pub async fn kept(name: &str) -> (TestDb, bool) {
        let admin = server().await;
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .expect("connect to the test server");
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(name)
                .fetch_one(&mut conn)
                .await
                .expect("look up the kept database");
        conn.close().await.ok();
        if !exists {
            let template = ensure_template(&admin).await;
            let mut db = TestDb::create_named(admin, Some(&template), name.to_owned()).await;
            db.keep = true;
            return (db, true);
        }
        let options = admin.clone().database(name);
        let pool = database::pool(options.clone(), 16)
            .await
            .expect("connect to the kept database");
        MIGRATOR
            .run(&pool)
            .await
            .expect("migrate the kept database");
        let db = TestDb {
            pool,
            options,
            admin,
            name: name.to_owned(),
            keep: true,
        };
        (db, false)
    }

    /// Creates a fresh, empty database: no migrations.
    pub async fn empty() -> TestDb {
        TestDb::create(server().await, None).await
    }

    async fn create(admin: PgConnectOptions, template: Option<&str>) -> TestDb {
        let name = format!("foldline_test_{}", Uuid::new_v4().simple());
        TestDb::create_named(admin, template, name).await
    }

    async fn create_named(admin: PgConnectOptions, template: Option<&str>, name: String) -> TestDb {
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .expect("connect to the test server");
        let template = template
            .map(|t| format!(" TEMPLATE {}", quote_identifier(t)))
            .unwrap_or_default();
        sqlx::query(&format!(
            "CREATE DATABASE {}{template}",
            quote_identifier(&name),
        ))
        .execute(&mut conn)
        .await
        .expect("create the test database");
        conn.close().await.ok();
        let options = admin.clone().database(&name);
        let pool = database::pool(options.clone(), 16)
            .await
            .expect("connect to the test database");
        TestDb {
            pool,
            options,
            admin,
            name,
            keep: false,
        }
    }

    /// A command bus over this database.
    pub fn bus(&self) -> CommandBus {
        CommandBus::new(EventStore::new(self.pool.clone()))
    }

    /// The number of rows in `events`.
    pub async fn event_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&self.pool)
            .await
            .expect("count events")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let admin = self.admin.clone();
        let name = self.name.clone();
        // Drop cannot await; a short-lived runtime on its own thread can. The
        // pool's connections belong to the test's runtime, which is blocked
        // here, so they are not closed from this side: FORCE ends them.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect_with(&admin).await {
                    let _ = sqlx::query(&format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        quote_identifier(&name)
                    ))
                    .execute(&mut conn)
                    .await;
                }
            });
        })
        .join();
    }
}

/// A migrated template named after the migrations' checksums, built once per
/// schema under an advisory lock and published by an atomic rename.
async fn ensure_template(admin: &PgConnectOptions) -> String {
    let mut digest = 0u64;
    for migration in MIGRATOR.iter() {
        for byte in migration.checksum.iter() {
            digest = digest.wrapping_mul(0x100000001b3) ^ u64::from(*byte);
        }
    }
    let template = format!("foldline_template_{digest:016x}");
    let mut conn = PgConnection::connect_with(admin)
        .await
        .expect("connect to the test server");
    sqlx::query("SELECT pg_advisory_lock(727274)")
        .execute(&mut conn)
        .await
        .expect("lock");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&template)
            .fetch_one(&mut conn)
            .await
            .expect("look up the template");
    if !exists {
        let building = format!("{template}_building");
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_identifier(&building)
        ))
        .execute(&mut conn)
        .await
        .expect("drop a half-built template");
        sqlx::query(&format!("CREATE DATABASE {}", quote_identifier(&building)))
            .execute(&mut conn)
            .await
            .expect("create the template");
        // One connection, closed before the rename: a pool's connection
        // could still be on its way back to the pool, and connected.
        let mut migrating = PgConnection::connect_with(&admin.clone().database(&building))
            .await
            .expect("connect to the template");
        MIGRATOR
            .run(&mut migrating)
            .await
            .expect("migrate the template");
        migrating
            .close()
            .await
            .expect("disconnect from the template");
        // A closed connection's backend exits a moment after the client has
        // let go of it, and the rename refuses (after waiting 5 s itself)
        // while it is still there.
        let rename = format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote_identifier(&building),
            quote_identifier(&template)
        );
        let mut attempts = 0;
        while let Err(error) = sqlx::query(&rename).execute(&mut conn).await {
            let busy = error
                .as_database_error()
                .is_some_and(|e| e.code().as_deref() == Some("55006"));
            attempts += 1;
            assert!(busy && attempts < 6, "publish the template: {error}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    sqlx::query("SELECT pg_advisory_unlock(727274)")
        .execute(&mut conn)
        .await
        .expect("unlock");
    conn.close().await.ok();
    template
}

/// An organization with one member in each role and capability.
#[derive(Debug, Clone, Copy)]
pub struct Org {
    /// The organization's id.
    pub id: Uuid,
    /// Its founder.
    pub owner: Uuid,
    /// An admin.
    pub admin: Uuid,
    /// A plain member.
    pub member: Uuid,
    /// A guest.
    pub guest: Uuid,
    /// A member with `production_manager`.
    pub production_manager: Uuid,
    /// A member with `event_director`.
    pub event_director: Uuid,
    /// A member with `finance`.
    pub finance: Uuid,
    /// A client company, for invoices and contracts.
    pub client: Uuid,
    /// A planned show, for advances, shifts and tasks.
    pub event: Uuid,
}

impl Org {
    /// Creates the organization and its members through `bus`.
    pub async fn create(bus: &CommandBus, name: &str) -> Org {
        Org::create_with_id(bus, name, Uuid::new_v4()).await
    }

    /// Creates the organization under `id`, and its members, through `bus`.
    pub async fn create_with_id(bus: &CommandBus, name: &str, id: Uuid) -> Org {
        let org = Org {
            id,
            owner: Uuid::new_v4(),
            admin: Uuid::new_v4(),
            member: Uuid::new_v4(),
            guest: Uuid::new_v4(),
            production_manager: Uuid::new_v4(),
            event_director: Uuid::new_v4(),
            finance: Uuid::new_v4(),
            client: Uuid::new_v4(),
            event: Uuid::new_v4(),
        };
        let owner = org.request(org.owner);
        bus.execute::<Organization>(
            &owner,
            org.id,
            OrganizationCommand::CreateOrganization {
                name: name.to_owned(),
                founder_name: "Owner".into(),
                founder_email: "owner@example.com".into(),
            },
            None,
        )
        .await
        .expect("create organization");
        let members = [
            (org.admin, Role::Admin, None),
            (org.member, Role::Member, None),
            (org.guest, Role::Guest, None),
            (
                org.production_manager,
                Role::Member,
                Some(Capability::ProductionManager),
            ),
            (
                org.event_director,
                Role::Member,
                Some(Capability::EventDirector),
            ),
            (org.finance, Role::Member, Some(Capability::Finance)),
        ];
        for (user_id, role, capability) in members {
            bus.execute::<Organization>(
                &owner,
                org.id,
                OrganizationCommand::AddMember {
                    user_id,
                    display_name: format!("{role} {user_id}"),
                    email: format!("{}@example.com", user_id.simple()),
                    role,
                    capabilities: capability.into_iter().collect(),
                },
                None,
            )
            .await
            .expect("add member");
        }
        bus.execute::<Company>(
            &owner,
            org.client,
            CompanyCommand::RegisterCompany {
                kind: CompanyKind::Client,
                name: "Acme Festivals".into(),
                website: None,
                email: None,
                phone: None,
                office: None,
                visibility: Default::default(),
            },
            None,
        )
        .await
        .expect("register client");
        bus.execute::<Event>(
            &owner,
            org.event,
            EventCommand::PlanEvent {
                title: "Winter Gala".into(),
                kind: EventKind::Show,
                starts_at: "2026-12-12T19:00:00Z".parse().expect("time"),
                ends_at: "2026-12-13T00:30:00Z".parse().expect("time"),
                venue_id: None,
                visibility: Default::default(),
            },
            None,
        )
        .await
        .expect("plan event");
        org
    }

    /// A request in this organization by `actor`, as through the API.
    pub fn request(&self, actor: Uuid) -> RequestContext {
        RequestContext::new(self.id, actor, Source::Api)
    }
}

/// postgres-es's own schema (its db/init.sql), for the baseline database.
pub const STOCK_SCHEMA: &str = "
CREATE TABLE events (
    aggregate_type text NOT NULL, aggregate_id text NOT NULL,
    sequence bigint CHECK (sequence >= 0) NOT NULL,
    event_type text NOT NULL, event_version text NOT NULL,
    payload json NOT NULL, metadata json NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence));
CREATE TABLE snapshots (
    aggregate_type text NOT NULL, aggregate_id text NOT NULL,
    last_sequence bigint CHECK (last_sequence >= 0) NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
    payload json NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence));";

/// A fresh database with stock postgres-es's schema, for baselines.
pub async fn stock_database() -> TestDb {
    let db = TestDb::empty().await;
    sqlx::raw_sql(STOCK_SCHEMA)
        .execute(&db.pool)
        .await
        .expect("stock schema");
    db
}
