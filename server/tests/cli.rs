//! The `foldline` binary as an operator runs it, against a real PostgreSQL.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use support::takeover::{self, Failure};
use support::{drop_database, fresh_database};

mod support;
use sqlx::{Connection, PgConnection};

fn foldline(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_foldline"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run foldline")
}

/// A `foldline demo` serving on a free port.
struct Demo {
    child: Child,
    /// What it printed until it was ready.
    stdout: String,
    /// Where it listens.
    address: String,
}

/// A demo left running by a failed test would keep its output pipes, and
/// so the test run, open.
impl Drop for Demo {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Demo {
    /// Starts the demo and waits (two minutes at most) until it serves.
    fn start(url: &str) -> Demo {
        let mut child = Command::new(env!("CARGO_BIN_EXE_foldline"))
            .args(["demo", "--listen", "127.0.0.1:0"])
            .env("DATABASE_URL", url)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run foldline demo");
        let stdout = child.stdout.take().unwrap();
        let (lines, ready) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut printed = String::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match ready.recv_timeout(left) {
                Ok(line) => {
                    printed.push_str(&line);
                    printed.push('\n');
                    if line.starts_with("Ctrl-C") {
                        break;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("the demo did not start serving:\n{printed}");
                }
            }
        }
        let address = printed
            .lines()
            .find_map(|line| line.strip_prefix("GraphiQL: http://"))
            .and_then(|rest| rest.strip_suffix("/graphql"))
            .unwrap_or_else(|| panic!("no GraphiQL address in:\n{printed}"))
            .to_owned();
        Demo {
            child,
            stdout: printed,
            address,
        }
    }

    /// The token printed for `role`.
    fn token(&self, role: &str) -> String {
        let mut lines = self.stdout.lines();
        while let Some(line) = lines.next() {
            if line.split_whitespace().next() == Some(role) {
                return lines.next().unwrap().trim().to_owned();
            }
        }
        panic!("no {role} token in:\n{}", self.stdout)
    }

    /// Sends one HTTP/1.1 request; returns the status code and the body.
    fn http(&self, request: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// Stops it as an operator would (SIGTERM); it must exit cleanly.
    fn stop(mut self) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the demo exited with {status}");
    }
}

#[tokio::test]
async fn demo_loads_once_serves_the_api_and_stops_cleanly() {
    let (url, name) = fresh_database().await;
    let first = Demo::start(&url);
    let stdout = first.stdout.clone();
    assert!(stdout.contains("0 already present"), "{stdout}");
    assert!(stdout.contains("ProductionAdvance"), "{stdout}");
    assert!(stdout.contains("ApprovalGranted"), "{stdout}");
    assert!(stdout.contains("projection status_tracker"), "{stdout}");

    let (status, body) =
        first.http("GET /healthz HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n");
    assert_eq!((status, body.as_str()), (200, "ok"));
    let (status, body) =
        first.http("GET /readyz HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 200, "{body}");
    for role in ["owner", "admin", "member", "guest"] {
        let query = r#"{"query":"{ calendarEvents(first: 5) { edges { node { title } } } }"}"#;
        let (status, body) = first.http(&format!(
            "POST /graphql HTTP/1.1\r\nHost: demo\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{query}",
            first.token(role),
            query.len()
        ));
        assert_eq!(status, 200, "{role}: {body}");
        assert!(body.contains("\"calendarEvents\""), "{role}: {body}");
        assert!(!body.contains("\"errors\""), "{role}: {body}");
    }
    let (status, body) =
        first.http("GET /metrics HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 200);
    assert!(body.contains("foldline_graphql_requests_total 4"), "{body}");
    // Kept by the workers and the bus, not counted per scrape.
    for metric in [
        "foldline_projection_leader{projection=\"activity_feed\"} 1",
        "foldline_graphql_operation_duration_seconds_bucket{field=\"calendarEvents\",outcome=\"ok\"",
        "foldline_http_request_duration_seconds_count{status=\"2xx\"}",
        "foldline_pool_max_connections{pool=\"reads\"}",
        "foldline_commands_total{command=\"CreateOrganization\",outcome=\"ok\"} 2",
        "foldline_projection_events_total{projection=\"status_tracker\"}",
    ] {
        assert!(body.contains(metric), "{metric}: {body}");
    }
    first.stop();

    let projections = foldline(&url, &["projections"]);
    let listing = String::from_utf8_lossy(&projections.stdout);
    assert!(projections.status.success(), "{listing}");
    for name in ["status_tracker", "calendar_events"] {
        let line = listing
            .lines()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing from {listing}"));
        assert!(line.contains("running"), "{line}");
        // Caught up: nothing behind.
        assert_eq!(line.split_whitespace().nth(3), Some("0"), "{line}");
    }

    let second = Demo::start(&url);
    assert!(
        second.stdout.contains("0 steps applied"),
        "{}",
        second.stdout
    );
    assert!(
        second.stdout.contains("nothing new was appended"),
        "{}",
        second.stdout
    );
    second.stop();

    let replay = foldline(&url, &["replay", "--all"]);
    let replayed = String::from_utf8_lossy(&replay.stdout);
    assert!(replay.status.success(), "{replayed}");
    assert_eq!(
        replayed.matches("swapped in").count(),
        foldline_projectors::all().len(),
        "{replayed}"
    );
    let unknown = foldline(&url, &["replay", "no_such_projection"]);
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("no projection named `no_such_projection`"),
        "{stderr}"
    );

    let seed = foldline(&url, &["seed", "demo"]);
    assert!(seed.status.success());
    assert!(String::from_utf8_lossy(&seed.stdout).contains("0 events appended"));
    drop_database(&name).await;
}

#[test]
fn a_bad_database_url_fails_with_one_clear_line() {
    let output = foldline("mysql://somewhere/db", &["migrate"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("DATABASE_URL is not a valid PostgreSQL URL"),
        "{stderr}"
    );
}

/// An error is one line; `-v` gives every cause on a line of its own.
#[test]
fn errors_are_one_line_and_verbose_gives_the_causes() {
    // Nothing listens on port 1.
    let url = "postgres://nobody@127.0.0.1:1/foldline";
    let output = foldline(url, &["migrate"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("foldline:"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("cannot use PostgreSQL at 127.0.0.1:1/foldline"),
        "{stderr}"
    );
    assert!(!stderr.contains("Caused by"), "{stderr}");
    let output = foldline(url, &["migrate", "-v"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Caused by"), "{stderr}");
}

/// `serve` names its database: without one it refuses, rather than serve
/// whatever it finds or an empty cluster it made.
#[test]
fn serve_without_a_database_refuses_unless_embedded_is_asked_for() {
    let output = Command::new(env!("CARGO_BIN_EXE_foldline"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .env("FOLDLINE_JWT_SECRET", "x")
        .env("FOLDLINE_DATA_DIR", "/nonexistent/never-created")
        .output()
        .expect("run foldline serve");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("serve needs its database: set DATABASE_URL"),
        "{stderr}"
    );
    assert!(!std::path::Path::new("/nonexistent/never-created").exists());
}

#[test]
fn an_unknown_fixture_is_refused() {
    // Refused before any database is reached (nothing listens on port 1).
    let output = foldline("postgres://127.0.0.1:1/none", &["seed", "no-such-fixture"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no fixture named `no-such-fixture`"),
        "{stderr}"
    );
}

#[tokio::test]
async fn audit_verify_passes_an_intact_store_and_fails_a_tampered_one_with_the_position() {
    let (url, name) = fresh_database().await;
    let seeded = foldline(&url, &["seed", "demo"]);
    assert!(seeded.status.success(), "{seeded:?}");

    let intact = foldline(&url, &["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&intact.stdout);
    assert!(intact.status.success(), "{stdout}");
    assert!(stdout.contains("intact"), "{stdout}");

    let checkpoint = foldline(&url, &["audit", "checkpoint"]);
    assert!(checkpoint.status.success(), "{checkpoint:?}");
    let file = std::env::temp_dir().join(format!("{name}.checkpoint.json"));
    std::fs::write(&file, &checkpoint.stdout).unwrap();
    let parsed: serde_json::Value = serde_json::from_slice(&checkpoint.stdout).unwrap();
    assert!(
        parsed["streams"].as_object().unwrap().len() > 10,
        "{parsed}"
    );

    // A superuser rewrites one event and deletes the last of another stream.
    let mut conn = PgConnection::connect(&url).await.unwrap();
    let (altered, removed): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT min(global_position) FROM events WHERE sequence = 2),
                (SELECT max(global_position) FROM events)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    for statement in [
        "ALTER TABLE events DISABLE TRIGGER events_append_only".to_owned(),
        format!(
            "UPDATE events SET payload = payload || '{{\"forged\": 1}}' WHERE global_position = {altered}"
        ),
        format!("DELETE FROM events WHERE global_position = {removed}"),
        "ALTER TABLE events ENABLE TRIGGER events_append_only".to_owned(),
    ] {
        sqlx::query(&statement).execute(&mut conn).await.unwrap();
    }

    let broken = foldline(&url, &["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&broken.stdout);
    assert_eq!(broken.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(&format!("position {altered}:")), "{stdout}");
    assert!(stdout.contains("1 break"), "{stdout}");
    let against = foldline(
        &url,
        &["audit", "verify", "--against", file.to_str().unwrap()],
    );
    let stdout = String::from_utf8_lossy(&against.stdout);
    assert_eq!(against.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(&format!("position {removed}:")), "{stdout}");
    assert!(stdout.contains("2 breaks"), "{stdout}");
    std::fs::remove_file(&file).ok();
    drop(conn);
    drop_database(&name).await;
}

#[tokio::test]
async fn audit_reviews_a_stream_its_states_fields_requests_and_exports_an_organization() {
    let (url, name) = fresh_database().await;
    assert!(foldline(&url, &["seed", "demo"]).status.success());
    let mut conn = PgConnection::connect(&url).await.unwrap();
    // The demo's invoice with the most events.
    let (invoice, events, organization, correlation): (String, i64, uuid::Uuid, String) =
        sqlx::query_as(
            "SELECT aggregate_id, count(*), min(organization_id::text)::uuid,
                    min(metadata ->> 'correlation_id')
             FROM events WHERE aggregate_type = 'Invoice'
             GROUP BY aggregate_id ORDER BY count(*) DESC, aggregate_id LIMIT 1",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let text = |output: std::process::Output| {
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };

    let table = text(foldline(&url, &["audit", "stream", "Invoice", &invoice]));
    assert_eq!(table.lines().count() as i64, events + 1, "{table}");
    assert!(
        table.lines().nth(1).unwrap().contains("InvoiceDrafted"),
        "{table}"
    );
    let lines = text(foldline(
        &url,
        &["audit", "stream", "Invoice", &invoice, "--json"],
    ));
    let parsed: Vec<serde_json::Value> = lines
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(parsed.len() as i64, events);
    assert_eq!(parsed[0]["sequence"], 1);
    assert_eq!(parsed[0]["source"], "fixture");

    let state: serde_json::Value = serde_json::from_str(&text(foldline(
        &url,
        &["audit", "state", "Invoice", &invoice, "--at", "1"],
    )))
    .unwrap();
    assert_eq!(state["version"], 1);
    assert_eq!(state["state"]["status"], "draft");

    let history = text(foldline(
        &url,
        &[
            "audit", "history", "Invoice", &invoice, "--field", "status", "--json",
        ],
    ));
    let statuses: Vec<String> = history
        .lines()
        .map(|line| {
            let change: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(change["field"], "status");
            change["value"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(statuses.first().map(String::as_str), Some("draft"));
    assert!(statuses.len() >= 2, "{statuses:?}");

    let request = text(foldline(&url, &["audit", "request", &correlation]));
    assert!(request.contains(&invoice), "{request}");

    let exported = text(foldline(
        &url,
        &["audit", "export", "--org", &organization.to_string()],
    ));
    let in_org: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE organization_id = $1")
        .bind(organization)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(exported.lines().count() as i64, in_org);
    let first: serde_json::Value = serde_json::from_str(exported.lines().next().unwrap()).unwrap();
    assert!(first["chain_hash"].as_str().unwrap().len() == 64);
    assert!(first["payload_text"].is_string());

    // Bad input: an unknown type, a version that is not one.
    let unknown = foldline(&url, &["audit", "stream", "Invoise", &invoice]);
    assert!(!unknown.status.success());
    let bad = foldline(
        &url,
        &["audit", "state", "Invoice", &invoice, "--at", "soon"],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("neither a version"));
    drop(conn);
    drop_database(&name).await;
}

/// The standby leads every projection within the lease's bound when the
/// leader dies and when it hangs; a hung leader that wakes up leads nothing.
#[tokio::test]
async fn a_standby_takes_over_from_a_leader_that_dies_or_hangs() {
    // The lease is 3 s and a standby asks every 0.5 s; the rest is slack for
    // a loaded machine.
    let bound = Duration::from_secs(8);
    for failure in [Failure::Dies, Failure::Hangs] {
        let (url, name) = fresh_database().await;
        let (took, leader, standby) = takeover::takeover(&url, failure, bound).await;
        assert!(took.is_some(), "{failure:?}: no takeover within {bound:?}");
        if let Failure::Hangs = failure {
            // Awake again, the old leader finds its sessions ended and stands by.
            let now = takeover::leaders(&url).await;
            tokio::time::sleep(Duration::from_secs(2)).await;
            assert_eq!(
                takeover::leaders(&url).await,
                now,
                "the standby keeps leading"
            );
        }
        drop((leader, standby));
        drop_database(&name).await;
    }
}

#[tokio::test]
async fn a_service_killed_again_and_again_sends_each_workflow_command_once() {
    use foldline_aggregates::event::{Event, EventCommand, EventKind};
    use foldline_aggregates::metadata::{RequestContext, Source};
    use foldline_aggregates::organization::{Organization, OrganizationCommand};
    use foldline_aggregates::task::{Task, TaskCommand};
    use foldline_aggregates::workflow_kind::WorkflowKind;
    use foldline_aggregates::{CommandBus, EventStore};
    use uuid::Uuid;

    const TASKS: usize = 60;
    let (url, name) = fresh_database().await;
    assert!(foldline(&url, &["migrate"]).status.success());
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let bus = CommandBus::new(EventStore::new(pool.clone()));
    let (org, owner, event) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let request = RequestContext::new(org, owner, Source::Api);
    bus.execute::<Organization>(
        &request,
        org,
        OrganizationCommand::CreateOrganization {
            name: "Crash".into(),
            founder_name: "Owner".into(),
            founder_email: "owner@example.com".into(),
        },
        None,
    )
    .await
    .unwrap();
    bus.execute::<Organization>(
        &request,
        org,
        OrganizationCommand::EnableWorkflow {
            workflow: WorkflowKind::TaskTimeline,
        },
        None,
    )
    .await
    .unwrap();
    let starts_at = chrono::Utc::now() + chrono::Duration::days(30);
    bus.execute::<Event>(
        &request,
        event,
        EventCommand::PlanEvent {
            title: "Show".into(),
            kind: EventKind::Show,
            starts_at,
            ends_at: starts_at + chrono::Duration::hours(4),
            venue_id: None,
            visibility: Default::default(),
        },
        None,
    )
    .await
    .unwrap();

    // Tasks completed one after another while the service is killed
    // (SIGKILL: no graceful anything) and started again, over and over, so
    // that kills land between a workflow's decision and its commit, and
    // between a command's commit and the dispatcher's record of it.
    let writer = {
        let (bus, request) = (bus.clone(), request.clone());
        tokio::spawn(async move {
            for n in 0..TASKS {
                let task = Uuid::new_v4();
                for command in [
                    TaskCommand::CreateTask {
                        title: format!("Task {n}"),
                        description: None,
                        event_id: Some(event),
                        project: None,
                        assignee: None,
                        due_at: None,
                        priority: Default::default(),
                        visibility: Default::default(),
                    },
                    TaskCommand::CompleteTask,
                ] {
                    bus.execute::<Task>(&request, task, command, None)
                        .await
                        .unwrap();
                }
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        })
    };
    let mut service = takeover::serve(&url);
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        drop(service);
        service = takeover::serve(&url);
    }
    writer.await.unwrap();

    // Once the last service has caught up: one note per task, none twice.
    let notes = || async {
        let (notes, distinct): (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(DISTINCT payload -> 'CommentPosted' ->> 'body') FROM events
             WHERE event_type = 'CommentPosted' AND metadata ->> 'source' = 'workflow'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        (notes, distinct)
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    while notes().await.0 < TASKS as i64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A little longer: a repeat would show up now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(notes().await, (TASKS as i64, TASKS as i64));
    let statuses: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, count(*) FROM workflow_commands GROUP BY status ORDER BY status",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(statuses, [("sent".to_owned(), TASKS as i64)]);
    drop(service);
    pool.close().await;
    drop_database(&name).await;
}
