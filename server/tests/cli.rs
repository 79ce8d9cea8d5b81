//! The `foldline` binary as an operator runs it, against a real PostgreSQL.

use std::process::Command;

use foldline_server::database::{self, quote_identifier};
use sqlx::{Connection, PgConnection};

/// A fresh database on the server the tests find, as a `DATABASE_URL`.
async fn fresh_database() -> (String, String) {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/foldline-test-cluster");
    let url = std::env::var("DATABASE_URL").ok();
    let located = database::locate_server(url.as_deref(), &dir)
        .await
        .unwrap_or_else(|e| panic!("the CLI tests need PostgreSQL: {e}"));
    let name = format!("foldline_cli_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect_with(&located.options).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {}", quote_identifier(&name)))
        .execute(&mut conn)
        .await
        .unwrap();
    let options = &located.options;
    let url = format!(
        "postgres://{}@{}:{}/{}?sslmode=disable",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        name
    );
    (url, name)
}

async fn drop_database(name: &str) {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/foldline-test-cluster");
    let url = std::env::var("DATABASE_URL").ok();
    let located = database::locate_server(url.as_deref(), &dir).await.unwrap();
    let mut conn = PgConnection::connect_with(&located.options).await.unwrap();
    sqlx::query(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_identifier(name)
    ))
    .execute(&mut conn)
    .await
    .unwrap();
}

fn foldline(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_foldline"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run foldline")
}

#[tokio::test]
async fn demo_loads_once_and_prints_what_it_appended() {
    let (url, name) = fresh_database().await;
    let first = foldline(&url, &["demo"]);
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(stdout.contains("0 already present"), "{stdout}");
    assert!(stdout.contains("ProductionAdvance"), "{stdout}");
    assert!(stdout.contains("ApprovalGranted"), "{stdout}");
    assert!(stdout.contains("projection status_tracker"), "{stdout}");

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

    let second = foldline(&url, &["demo"]);
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(second.status.success());
    assert!(stdout.contains("0 steps applied"), "{stdout}");
    assert!(stdout.contains("nothing new was appended"), "{stdout}");

    let replay = foldline(&url, &["replay", "--all"]);
    let replayed = String::from_utf8_lossy(&replay.stdout);
    assert!(replay.status.success(), "{replayed}");
    assert_eq!(replayed.matches("swapped in").count(), 9, "{replayed}");
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
