//! What the CLI tests and the server's benchmarks share: a fresh database
//! per run, and two services racing for the projections.

use foldline_server::database::{self, quote_identifier};
use sqlx::{Connection, PgConnection};

pub mod takeover;

/// A fresh database on the server the tests find, as a `DATABASE_URL`.
pub async fn fresh_database() -> (String, String) {
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

pub async fn drop_database(name: &str) {
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
