//! Every query of the API on the million-event store, measured: each
//! connection with no filter and with each of its filters, its first page
//! and its fifth; `search` with one, two and three words; every report;
//! each detail query; `me`; the audit queries. Each as an organization's owner
//! and as a plain member (the audit queries as the owner only: a member is
//! refused them), at one client and at `BENCH_CONNECTIONS` (32);
//! GraphQL over HTTP through the served router, beside the resolver's own
//! SQL run plainly on the pool (and, at 32, on the API's read connections
//! as the caller), so that what the API adds is a ratio.
//!
//! `cargo bench -p foldline-tests --bench api_matrix` (part of `just
//! bench`). `BENCH_EVENTS` (1,000,000) events over `BENCH_ORGS` (50)
//! organizations, as `api_load` builds them; `BENCH_MS` (1,000) milliseconds
//! measured per run after a 0.3 s warm-up; `BENCH_ONLY` runs the queries whose name
//! contains it (or one of its `;`-separated parts); `BENCH_ACCEPT_ENCODING=gzip`
//! asks for compressed responses, as a browser does. Each request is for the next organization. Prints a
//! Markdown table, one line per query and role.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use foldline_graphql::auth::{mint, Authenticator, VerifyingKey};
use foldline_graphql::caller::Caller;
use foldline_graphql::page::{Cursor, Page};
use foldline_graphql::reads::Reads;
use foldline_graphql::Limits;
use foldline_server::http::{router, AppState};
use foldline_tests::bulk::projected_store;
use foldline_tests::lists::{cases, page_starts, List};
use foldline_tests::load::Client;
use foldline_tests::measure::{drive, env_or, ms, Figures};

use serde_json::{json, Value};
use sqlx::postgres::PgArguments;
use sqlx::{Arguments, PgPool};
use uuid::Uuid;

const SECRET: &[u8] = b"foldline-bench-secret";
const WARM_UP: Duration = Duration::from_millis(300);
/// Rows per page, as a client asks by default.
const FIRST: i32 = 20;

/// A value bound to a report's or a search's SQL.
#[derive(Clone)]
enum Bind {
    Uuid(Uuid),
    NoUuid,
    Text(String),
    Int(i64),
    Date(NaiveDate),
    Time(DateTime<Utc>),
}

/// The SQL a query runs, to be run plainly beside it.
#[derive(Clone)]
enum Sql {
    /// A list's page, built by the API's own statement.
    Page {
        list: &'static dyn List,
        filter: Value,
        after: Option<Cursor>,
    },
    /// A statement of the API's and its values.
    Statement { sql: &'static str, binds: Vec<Bind> },
    /// None worth running apart (a stream folded in the service).
    None,
}

/// One query for one organization and role.
#[derive(Clone)]
struct Request {
    caller: Caller,
    token: String,
    body: String,
    sql: Sql,
}

impl Request {
    /// Whether its SQL searches, through `search_matches`.
    fn searches(&self) -> bool {
        match &self.sql {
            Sql::Statement { sql, .. } => sql.contains("search_matches"),
            Sql::Page { filter, .. } => filter.get("search").is_some(),
            Sql::None => false,
        }
    }
}

/// One line of the matrix: a query, as one role, over every organization.
struct Line {
    name: String,
    role: &'static str,
    requests: Vec<Request>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let wanted = env_or("BENCH_EVENTS", 1_000_000);
    let organizations = env_or("BENCH_ORGS", 50);
    let connections = env_or("BENCH_CONNECTIONS", 32) as usize;
    let duration = Duration::from_millis(env_or("BENCH_MS", 1000) as u64);
    let only: Vec<String> = std::env::var("BENCH_ONLY")
        .unwrap_or_default()
        .split(';')
        .map(str::to_owned)
        .collect();

    let db = projected_store(wanted, organizations).await;
    let pool = db.pool.clone();
    let authenticator =
        Authenticator::new(&VerifyingKey::Secret(SECRET.to_vec()), None, None).unwrap();
    let state = AppState::new(pool.clone(), authenticator, Limits::default(), false);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = router(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let lines = lines(&pool, &state.reads).await;
    println!(
        "{} events, {} organizations, {} lines\n",
        db.event_count().await,
        organizations,
        lines.len()
    );
    println!(
        "| query | as | GraphQL, 1 client: p50 / p99 ms | req/s | plain SQL, 1 client: p50 / p99 ms \
         | GraphQL, {connections}: req/s | p50 / p99 ms | SQL as caller, {connections}: req/s \
         | plain SQL, {connections}: req/s | p99 ms | GraphQL ÷ plain SQL |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for line in lines
        .iter()
        .filter(|line| only.iter().any(|part| line.name.contains(part.as_str())))
    {
        let requests = Arc::new(line.requests.clone());
        let graphql_one = http(address, 1, duration, &requests).await;
        let graphql = http(address, connections, duration, &requests).await;
        let has_sql = !matches!(requests[0].sql, Sql::None);
        let sql = |clients, reads: Option<Reads>| {
            let requests = requests.clone();
            let pool = pool.clone();
            async move {
                if has_sql {
                    Some(sql_load(&pool, reads, clients, duration, &requests).await)
                } else {
                    None
                }
            }
        };
        let plain_one = sql(1, None).await;
        let as_caller = sql(connections, Some(state.reads.clone())).await;
        let plain = sql(connections, None).await;
        let latency =
            |f: &Figures| format!("{} / {}", ms(f.percentile(0.5)), ms(f.percentile(0.99)));
        let or_dash = |f: &Option<Figures>, show: &dyn Fn(&Figures) -> String| {
            f.as_ref().map_or_else(|| "–".to_owned(), show)
        };
        println!(
            "| {} | {} | {} | {:.0} | {} | {:.0} | {} | {} | {} | {} | {} |",
            line.name,
            line.role,
            latency(&graphql_one),
            graphql_one.per_second(),
            or_dash(&plain_one, &latency),
            graphql.per_second(),
            latency(&graphql),
            or_dash(&as_caller, &|f| format!("{:.0}", f.per_second())),
            or_dash(&plain, &|f| format!("{:.0}", f.per_second())),
            or_dash(&plain, &|f| ms(f.percentile(0.99))),
            or_dash(&plain, &|f| format!(
                "{:.2}×",
                graphql.per_second() / f.per_second()
            )),
        );
    }
}

/// Every organization's owner and a plain member, with tokens.
async fn callers(pool: &PgPool) -> Vec<(Caller, Caller)> {
    let rows: Vec<(Uuid, Uuid, Uuid)> = sqlx::query_as(
        "SELECT owner.organization_id, owner.user_id,
                (SELECT m.user_id FROM memberships m
                 WHERE m.organization_id = owner.organization_id AND m.role = 'member'
                   AND cardinality(m.capabilities) = 0
                 ORDER BY m.user_id LIMIT 1)
         FROM memberships owner WHERE owner.role = 'owner' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let caller = |organization_id, user_id, role: &str| Caller {
        user_id,
        organization_id,
        role: role.to_owned(),
        capabilities: Vec::new(),
    };
    rows.into_iter()
        .map(|(organization, owner, member)| {
            (
                caller(organization, owner, "owner"),
                caller(organization, member, "member"),
            )
        })
        .collect()
}

fn token(caller: &Caller) -> String {
    format!(
        "Bearer {}",
        mint(
            SECRET,
            caller.user_id,
            Some(caller.organization_id),
            7_200,
            None,
            None
        )
        .unwrap()
    )
}

/// Every line of the matrix.
async fn lines(pool: &PgPool, reads: &Reads) -> Vec<Line> {
    let callers = callers(pool).await;
    let mut lines: Vec<Line> = Vec::new();
    let mut push = |name: String, role: &'static str, request: Request| match lines
        .iter_mut()
        .find(|line| line.name == name && line.role == role)
    {
        Some(line) => line.requests.push(request),
        None => lines.push(Line {
            name,
            role,
            requests: vec![request],
        }),
    };
    for (owner, member) in &callers {
        let organization = owner.organization_id;
        let facts = Facts::of(pool, organization).await;
        for (role, caller) in [("owner", owner), ("member", member)] {
            let request = |body: Value, sql: Sql| Request {
                caller: caller.clone(),
                token: token(caller),
                body: body.to_string(),
                sql,
            };
            // The connections, pages one and five.
            for case in cases(pool, organization).await {
                let mut conn = reads.as_caller(caller).await.unwrap();
                let starts =
                    page_starts(case.list, &mut conn, &case.filter, organization, FIRST, 5).await;
                // A list of fewer than five pages: its last stands for the fifth.
                for (number, after) in [(1, starts[0]), (5, *starts.last().unwrap())] {
                    let variables = json!({
                        "filter": case.filter,
                        "first": FIRST,
                        "after": after.map(|c| c.encode()),
                    });
                    let body = json!({"query": case.list.graphql(), "variables": variables});
                    let sql = Sql::Page {
                        list: case.list,
                        filter: case.filter.clone(),
                        after,
                    };
                    let name = format!("{}, page {number}", case.name);
                    push(name, role, request(body, sql));
                }
            }
            // Search, one to three words of a title.
            for words in 1..=3 {
                let text: Vec<&str> = facts.title.split_whitespace().take(words).collect();
                let text = text.join(" ");
                let body = json!({
                    "query": "query($text: String!) { search(text: $text, first: 20) { source id entityType entityId title rank } }",
                    "variables": {"text": text},
                });
                let sql = Sql::Statement {
                    sql: foldline_graphql::search::SQL.as_str(),
                    binds: vec![Bind::Uuid(organization), Bind::Text(text), Bind::Int(20)],
                };
                push(format!("search, {words} word(s)"), role, request(body, sql));
            }
            // Reports.
            let body = json!({"query": format!(
                "{{ invoiceAging(asOf: \"{}\") {{ asOf direction buckets {{ bucket currency invoices outstanding }} }} }}",
                facts.today)});
            let sql = Sql::Statement {
                sql: foldline_graphql::reports::aging::SQL,
                binds: vec![
                    Bind::Uuid(organization),
                    Bind::Date(facts.today),
                    Bind::Text("receivable".into()),
                ],
            };
            push("invoiceAging".into(), role, request(body, sql));
            let (from, to) = facts.month;
            let window = json!({"from": from, "to": to});
            let body = json!({
                "query": "query($from: DateTime!, $to: DateTime!) { calendarConflicts(from: $from, to: $to) { kind subjectId subjectName first { entityId title startsAt } second { entityId title startsAt } } }",
                "variables": window,
            });
            let sql = Sql::Statement {
                sql: foldline_graphql::reports::conflicts::SQL,
                binds: vec![
                    Bind::Uuid(organization),
                    Bind::Time(from),
                    Bind::Time(to),
                    Bind::NoUuid,
                    Bind::Int(100),
                ],
            };
            push(
                "calendarConflicts, busiest month".into(),
                role,
                request(body, sql),
            );
            let body = json!({
                "query": "query($from: DateTime!, $to: DateTime!) { userWorkload(from: $from, to: $to) { userId name openAssignments openTasks shifts scheduledHours overdue } }",
                "variables": window,
            });
            let sql = Sql::Statement {
                sql: foldline_graphql::reports::workload::SQL,
                binds: vec![
                    Bind::Uuid(organization),
                    Bind::Time(from),
                    Bind::Time(to),
                    Bind::NoUuid,
                    Bind::Time(to),
                ],
            };
            push(
                "userWorkload, busiest month".into(),
                role,
                request(body, sql),
            );
            let body = json!({"query": format!(
                "{{ expiringDocuments(asOf: \"{}\", withinDays: 30) {{ daysLeft document {{ id title expiresOn }} }} }}",
                facts.today)});
            push("expiringDocuments".into(), role, request(body, Sql::None));
            // Details and audit, folded from streams in the service.
            for (field, entity_type, fields) in [
                ("productionAdvance", "ProductionAdvance", "code status totalCost items { id totalCost item { name status } } approvalSteps { capability approvedBy }"),
                ("invoice", "Invoice", "number status total balance lines { description quantity unitPrice } payments { amount paidOn }"),
                ("contract", "Contract", "status currentTerms { title value } signature { signedBy signedOn }"),
                ("event", "Event", "title kind status startsAt endsAt venueId"),
                ("task", "Task", "title status priority assignee dueAt"),
                ("shift", "Shift", "role status memberId startsAt endsAt"),
                ("asset", "Asset", "name kind status quantity value currency"),
                ("expense", "Expense", "description status amount currency"),
                ("document", "Document", "title kind status expiresOn"),
            ] {
                let Some(id) = facts.entity(entity_type) else {
                    continue;
                };
                let body = json!({"query": format!(
                    "{{ {field}(id: \"{id}\") {{ id version {fields} }} }}")});
                push(field.to_owned(), role, request(body, Sql::None));
                if field == "task" {
                    let body = json!({"query": format!(
                        "{{ node(id: \"{id}\") {{ id version ... on Task {{ {fields} }} }} }}")});
                    push("node, a task".into(), role, request(body, Sql::None));
                }
            }
            // Who the caller is: admission's own figures, and their
            // organizations.
            let body = json!({"query": "{ me { userId role capabilities organizations { organizationId name role } } }"});
            push("me".into(), role, request(body, Sql::None));
            // The audit queries are an owner's or an admin's: a member is
            // refused them (tested in `tests/tests/integration/audit.rs`).
            if role != "owner" {
                continue;
            }
            if let Some(id) = facts.entity("Invoice") {
                let body = json!({"query": format!(
                    "{{ auditStream(aggregateType: \"Invoice\", id: \"{id}\", first: 50) {{ edges {{ node {{ sequence eventType recordedAt actorId }} }} }} }}")});
                push(
                    "auditStream, an invoice".into(),
                    role,
                    request(body, Sql::None),
                );
                let body = json!({"query": format!(
                    "{{ entityAt(aggregateType: \"Invoice\", id: \"{id}\") {{ version state }} }}")});
                push(
                    "entityAt, an invoice now".into(),
                    role,
                    request(body, Sql::None),
                );
                let body = json!({"query": format!(
                    "{{ fieldHistory(aggregateType: \"Invoice\", id: \"{id}\") {{ edges {{ node {{ field value version recordedAt actorId }} }} }} }}")});
                push(
                    "fieldHistory, an invoice".into(),
                    role,
                    request(body, Sql::None),
                );
            }
            let body = json!({"query": format!(
                "{{ auditRequest(correlationId: \"{}\") {{ edges {{ node {{ aggregateType sequence eventType }} }} }} }}",
                facts.correlation)});
            push("auditRequest".into(), role, request(body, Sql::None));
        }
    }
    lines
}

/// What an organization's queries are about.
struct Facts {
    title: String,
    today: NaiveDate,
    month: (DateTime<Utc>, DateTime<Utc>),
    entities: Vec<(String, Uuid)>,
    correlation: Uuid,
}

impl Facts {
    async fn of(pool: &PgPool, organization: Uuid) -> Facts {
        let title: String = sqlx::query_scalar(
            "SELECT title FROM calendar_events WHERE organization_id = $1
             AND array_length(regexp_split_to_array(title, '\\s+'), 1) >= 3
             GROUP BY title ORDER BY count(*) DESC, title LIMIT 1",
        )
        .bind(organization)
        .fetch_one(pool)
        .await
        .unwrap();
        let month: DateTime<Utc> = sqlx::query_scalar(
            "SELECT date_trunc('month', starts_at) FROM calendar_events
             WHERE organization_id = $1 GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
        )
        .bind(organization)
        .fetch_one(pool)
        .await
        .unwrap();
        let entities: Vec<(String, Uuid)> = sqlx::query_as(
            "SELECT DISTINCT ON (entity_type) entity_type, entity_id FROM status_tracker
             WHERE organization_id = $1 ORDER BY entity_type, updated_at DESC",
        )
        .bind(organization)
        .fetch_all(pool)
        .await
        .unwrap();
        let correlation: Uuid = sqlx::query_scalar(
            "SELECT (metadata ->> 'correlation_id')::uuid FROM activity_feed
             WHERE organization_id = $1 AND metadata ? 'correlation_id'
             ORDER BY created_at DESC LIMIT 1",
        )
        .bind(organization)
        .fetch_one(pool)
        .await
        .unwrap();
        Facts {
            title,
            today: Utc::now().date_naive(),
            month: (month, month + chrono::Months::new(1)),
            entities,
            correlation,
        }
    }

    fn entity(&self, entity_type: &str) -> Option<Uuid> {
        self.entities
            .iter()
            .find(|(t, _)| t == entity_type)
            .map(|(_, id)| *id)
    }
}

/// GraphQL requests over `connections` keep-alive HTTP/1.1 connections,
/// each for the next of `requests`; every answer is checked for errors.
async fn http(
    address: SocketAddr,
    connections: usize,
    duration: Duration,
    requests: &Arc<Vec<Request>>,
) -> Figures {
    let clients = Client::connect_many(address, connections)
        .await
        .into_iter()
        .map(|client| (client, requests.clone()))
        .collect();
    drive(clients, WARM_UP, duration, move |(client, requests), n| {
        Box::pin(async move {
            let request = &requests[n % requests.len()];
            let (status, bytes) = client
                .graphql(
                    &request.token,
                    request.caller.organization_id,
                    request.body.clone(),
                )
                .await;
            let text = std::str::from_utf8(&bytes).unwrap();
            assert!(
                status == 200 && !text.contains("\"errors\""),
                "{}: {text}",
                request.body
            );
        })
    })
    .await
}

/// The requests' SQL run by `clients` loops on `pool`, or on the API's read
/// connections as the caller when `reads` is given.
async fn sql_load(
    pool: &PgPool,
    reads: Option<Reads>,
    clients: usize,
    duration: Duration,
    requests: &Arc<Vec<Request>>,
) -> Figures {
    let states = (0..clients)
        .map(|_| (pool.clone(), reads.clone(), requests.clone()))
        .collect();
    drive(
        states,
        WARM_UP,
        duration,
        move |(pool, reads, requests), n| {
            Box::pin(async move {
                let request = &requests[n % requests.len()];
                let mut conn = match reads {
                    Some(reads) => reads.as_caller(&request.caller).await.unwrap(),
                    None => pool.acquire().await.unwrap(),
                };
                let organization = request.caller.organization_id;
                if reads.is_none() && request.searches() {
                    // `search_matches` finds the matches of the organization
                    // admission set; plainly, it is set here.
                    sqlx::query("SELECT set_config('app.organization_id', $1, false)")
                        .bind(organization.to_string())
                        .execute(&mut *conn)
                        .await
                        .unwrap();
                }
                match &request.sql {
                    Sql::Page {
                        list,
                        filter,
                        after,
                    } => {
                        let page = Page::forward(FIRST, *after);
                        list.page(&mut conn, filter, organization, &page).await;
                    }
                    Sql::Statement { sql, binds } => {
                        let mut arguments = PgArguments::default();
                        for bind in binds {
                            match bind {
                                Bind::Uuid(v) => arguments.add(v),
                                Bind::NoUuid => arguments.add(None::<Uuid>),
                                Bind::Text(v) => arguments.add(v),
                                Bind::Int(v) => arguments.add(v),
                                Bind::Date(v) => arguments.add(v),
                                Bind::Time(v) => arguments.add(v),
                            }
                            .unwrap();
                        }
                        sqlx::query_with(sql, arguments)
                            .fetch_all(&mut *conn)
                            .await
                            .unwrap();
                    }
                    Sql::None => {}
                }
            })
        },
    )
    .await
}
