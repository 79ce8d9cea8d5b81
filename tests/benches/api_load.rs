//! The API under concurrent load: a calendar month of one organization
//! (a page of 50) and an activity feed page, each as GraphQL over HTTP
//! through the served router, and as the same SELECT through the same pool,
//! plain and inside the API's row-security transaction, so that the cost of
//! each layer is a ratio.
//!
//! `cargo bench -p foldline-tests --bench api_load` (part of `just bench`).
//! The store is filled with `BENCH_EVENTS` events (default 1,000,000) across
//! `BENCH_ORGS` organizations (default 50: one through the command bus, the
//! others bulk copies of it) and projected; then `BENCH_CONNECTIONS`
//! clients (default 32), each with its own keep-alive HTTP connection or
//! each running its own query loop, send requests for `BENCH_SECONDS`
//! (default 10) after a two-second warm-up. Each request is for the next of
//! the organizations, as its owner. The load generator runs in the same
//! process and on the same two cores as the service.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Months, Utc};
use foldline_graphql::activity::Activity;
use foldline_graphql::auth::{mint, Authenticator, VerifyingKey};
use foldline_graphql::calendar::CalendarEvent;
use foldline_graphql::caller::Caller;
use foldline_graphql::reads::Reads;
use foldline_graphql::request::Request;
use foldline_graphql::Limits;
use foldline_server::http::{router, AppState};
use foldline_tests::bulk::projected_store;
use foldline_tests::load::Client;
use foldline_tests::measure::{drive, env_or, ms, Figures};

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

const SECRET: &[u8] = b"foldline-bench-secret";
const WARM_UP: Duration = Duration::from_secs(2);
const PAGE: i64 = 50;

const CALENDAR_GRAPHQL: &str = "query($from: DateTime!, $to: DateTime!) {
    calendarEvents(first: 50, filter: {from: $from, to: $to}) {
        edges { node { id title startsAt endsAt sourceType entityType entityId status visibility } }
        pageInfo { hasNextPage endCursor }
    }
}";
const CALENDAR_SQL: &str =
    "SELECT id, title, starts_at, ends_at, source_type, entity_type, entity_id, status,
        visibility, owner_id, created_at, updated_at
 FROM calendar_events
 WHERE organization_id = $1 AND starts_at >= $2 AND starts_at < $3
 ORDER BY starts_at, id LIMIT $4";
const ACTIVITY_GRAPHQL: &str = "{
    activityFeed(first: 50) {
        edges { node { id activityType entityType entityId entityName actorId title createdAt } }
        pageInfo { hasNextPage endCursor }
    }
}";
const ACTIVITY_SQL: &str =
    "SELECT id, activity_type, event_type, entity_type, entity_id, entity_name,
        actor_id, title, content, metadata, visibility, owner_id, created_at, last_position
 FROM activity_feed
 WHERE organization_id = $1
 ORDER BY created_at DESC, id DESC LIMIT $2";

/// One organization the load is spread over.
#[derive(Clone)]
struct Tenant {
    caller: Caller,
    token: String,
    /// Its busiest calendar month.
    month: (DateTime<Utc>, DateTime<Utc>),
}

#[derive(Clone, Copy, PartialEq)]
enum Query {
    Calendar,
    Activity,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let wanted = env_or("BENCH_EVENTS", 1_000_000);
    let organizations = env_or("BENCH_ORGS", 50);
    let connections = env_or("BENCH_CONNECTIONS", 32) as usize;
    let duration = Duration::from_secs(env_or("BENCH_SECONDS", 10) as u64);

    let db = projected_store(wanted, organizations).await;
    let events = db.event_count().await;
    let tenants = Arc::new(tenants(&db.pool).await);
    let (calendar_rows, activity_rows): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM calendar_events), (SELECT count(*) FROM activity_feed)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    println!(
        "{events} events; {} organizations; {calendar_rows} calendar rows, {activity_rows} activity rows\n",
        tenants.len()
    );

    let authenticator =
        Authenticator::new(&VerifyingKey::Secret(SECRET.to_vec()), None, None).unwrap();
    let app_state = AppState::new(db.pool.clone(), authenticator, Limits::default(), false);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = router(app_state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    println!(
        "| query | through | connections | requests | requests/s | p50 ms | p99 ms \
         | CPU µs/request: this process | PostgreSQL |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let queries = [
        (Query::Calendar, "calendar month, page of 50"),
        (Query::Activity, "activity feed, page of 50"),
    ];
    for (query, name) in queries {
        let cpu = Cpu::now();
        let graphql = http_load(address, connections, duration, &tenants, query).await;
        row(name, "GraphQL over HTTP", connections, &graphql, cpu);
        let cpu = Cpu::now();
        let executed = execute_load(&app_state, connections, duration, &tenants, query).await;
        let through = "GraphQL executed in process (no HTTP, token or membership lookup)";
        row(name, through, connections, &executed, cpu);
        let cpu = Cpu::now();
        let reads = Some(&app_state.reads);
        let secured = sql_load(&db.pool, reads, connections, duration, &tenants, query).await;
        let through = "SQL on the API's read connections, as the caller";
        row(name, through, connections, &secured, cpu);
        let cpu = Cpu::now();
        let plain = sql_load(&db.pool, None, connections, duration, &tenants, query).await;
        row(name, "plain SQL on the pool", connections, &plain, cpu);
        println!(
            "|  | GraphQL over HTTP ÷ plain SQL |  |  | {:.2}× |  |  |  |  |",
            graphql.per_second() / plain.per_second()
        );
    }
}

/// One line of the table. The CPU columns count the warm-up's work too,
/// and spread it over the requests of the warm-up estimated at the
/// measured rate; they are for comparing the lines.
fn row(query: &str, through: &str, connections: usize, figures: &Figures, cpu: Cpu) {
    let used = Cpu::now();
    let requests =
        figures.operations as f64 * (1.0 + WARM_UP.as_secs_f64() / figures.elapsed.as_secs_f64());
    println!(
        "| {query} | {through} | {connections} | {} | {:.0} | {} | {} | {:.0} | {:.0} |",
        figures.operations,
        figures.per_second(),
        ms(figures.percentile(0.5)),
        ms(figures.percentile(0.99)),
        (used.process - cpu.process) * 1e6 / requests,
        (used.postgres - cpu.postgres) * 1e6 / requests,
    );
}

/// CPU seconds used so far by this process and by every PostgreSQL process
/// on the machine, from `/proc`.
#[derive(Clone, Copy)]
struct Cpu {
    process: f64,
    postgres: f64,
}

impl Cpu {
    fn now() -> Cpu {
        let ticks = |stat: &str| -> Option<(String, f64)> {
            let (head, rest) = stat.rsplit_once(") ")?;
            let name = head.split_once(" (")?.1.to_owned();
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let used =
                fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
            Some((name, used / 100.0))
        };
        let process = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|stat| ticks(&stat))
            .map_or(0.0, |(_, used)| used);
        let postgres = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
            .filter_map(|stat| ticks(&stat))
            .filter(|(name, _)| name == "postgres")
            .map(|(_, used)| used)
            .sum();
        Cpu { process, postgres }
    }
}

/// Each organization's owner, a token for them, and its busiest month.
async fn tenants(pool: &PgPool) -> Vec<Tenant> {
    let owners: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT organization_id, user_id FROM memberships WHERE role = 'owner' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut tenants = Vec::new();
    for (organization_id, user_id) in owners {
        let (month, rows): (DateTime<Utc>, i64) = sqlx::query_as(
            "SELECT date_trunc('month', starts_at), count(*) FROM calendar_events
             WHERE organization_id = $1 GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
        )
        .bind(organization_id)
        .fetch_one(pool)
        .await
        .unwrap();
        assert!(
            rows >= PAGE,
            "a month of {organization_id} has only {rows} rows"
        );
        tenants.push(Tenant {
            caller: Caller {
                user_id,
                organization_id,
                role: "owner".into(),
                capabilities: Vec::new(),
            },
            token: format!(
                "Bearer {}",
                mint(SECRET, user_id, Some(organization_id), 3_600, None, None).unwrap()
            ),
            month: (month, month + Months::new(1)),
        });
    }
    tenants
}

/// GraphQL requests over `connections` keep-alive HTTP/1.1 connections.
async fn http_load(
    address: SocketAddr,
    connections: usize,
    duration: Duration,
    tenants: &Arc<Vec<Tenant>>,
    query: Query,
) -> Figures {
    let clients = Client::connect_many(address, connections)
        .await
        .into_iter()
        .map(|client| (client, tenants.clone()))
        .collect();
    drive(clients, WARM_UP, duration, move |(client, tenants), n| {
        Box::pin(async move {
            let tenant = &tenants[n % tenants.len()];
            let body = match query {
                Query::Calendar => json!({"query": CALENDAR_GRAPHQL, "variables": {
                    "from": tenant.month.0, "to": tenant.month.1}}),
                Query::Activity => json!({"query": ACTIVITY_GRAPHQL}),
            };
            let (status, bytes) = client
                .graphql(
                    &tenant.token,
                    tenant.caller.organization_id,
                    body.to_string(),
                )
                .await;
            assert_eq!(status, 200);
            // Counting is enough to check a page, and keeps the load
            // generator's share of the two cores small.
            let text = std::str::from_utf8(&bytes).unwrap();
            assert!(
                !text.contains("\"errors\"") && text.matches("{\"node\":").count() == PAGE as usize,
                "{text}"
            );
        })
    })
    .await
}

/// The GraphQL request run by the schema itself, as the HTTP handler runs
/// it once the caller is known.
async fn execute_load(
    state: &AppState,
    clients: usize,
    duration: Duration,
    tenants: &Arc<Vec<Tenant>>,
    query: Query,
) -> Figures {
    let states = (0..clients)
        .map(|_| (state.clone(), tenants.clone()))
        .collect();
    drive(states, WARM_UP, duration, move |(state, tenants), n| {
        Box::pin(async move {
            let tenant = &tenants[n % tenants.len()];
            let request = match query {
                Query::Calendar => async_graphql::Request::new(CALENDAR_GRAPHQL)
                    .variables(async_graphql::Variables::from_json(json!({
                        "from": tenant.month.0, "to": tenant.month.1}))),
                Query::Activity => async_graphql::Request::new(ACTIVITY_GRAPHQL),
            }
            .data(Request {
                caller: tenant.caller.clone(),
                pool: state.pool.clone(),
                reads: state.reads.clone(),
                bus: state.bus.clone(),
                request_id: String::new(),
                connection: Default::default(),
            });
            let response = state.schema.execute(request).await;
            assert!(response.errors.is_empty(), "{:?}", response.errors);
        })
    })
    .await
}

/// The same SELECT, decoded into the API's row types, run by `clients`
/// loops on `pool`, or on the API's read connections as the caller when
/// `reads` is given.
async fn sql_load(
    pool: &PgPool,
    reads: Option<&Reads>,
    clients: usize,
    duration: Duration,
    tenants: &Arc<Vec<Tenant>>,
    query: Query,
) -> Figures {
    let states = (0..clients)
        .map(|_| (pool.clone(), reads.cloned(), tenants.clone()))
        .collect();
    drive(
        states,
        WARM_UP,
        duration,
        move |(pool, reads, tenants), n| {
            Box::pin(async move {
                let tenant = &tenants[n % tenants.len()];
                let organization = tenant.caller.organization_id;
                let mut conn = match reads {
                    Some(reads) => reads.as_caller(&tenant.caller).await.unwrap(),
                    None => pool.acquire().await.unwrap(),
                };
                let rows = match query {
                    Query::Calendar => sqlx::query_as::<_, CalendarEvent>(CALENDAR_SQL)
                        .bind(organization)
                        .bind(tenant.month.0)
                        .bind(tenant.month.1)
                        .bind(PAGE + 1)
                        .fetch_all(&mut *conn)
                        .await
                        .unwrap()
                        .len(),
                    Query::Activity => sqlx::query_as::<_, Activity>(ACTIVITY_SQL)
                        .bind(organization)
                        .bind(PAGE + 1)
                        .fetch_all(&mut *conn)
                        .await
                        .unwrap()
                        .len(),
                };
                assert_eq!(rows as i64, PAGE + 1);
            })
        },
    )
    .await
}
