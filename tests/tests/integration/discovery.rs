//! Finding PostgreSQL, and starting one of our own when none answers.

use foldline_server::database::{locate_server, DatabaseError, Origin};
use foldline_server::local_cluster::LocalCluster;
use sqlx::{Connection, PgConnection};

#[tokio::test]
async fn a_bad_database_url_is_a_clear_error() {
    let error = locate_server(Some("mysql://nope"), std::path::Path::new("/nonexistent"))
        .await
        .unwrap_err();
    assert!(matches!(error, DatabaseError::BadUrl(_)), "{error}");
    assert!(error
        .to_string()
        .starts_with("DATABASE_URL is not a valid PostgreSQL URL"));
}

#[tokio::test]
async fn a_database_url_is_used_as_given() {
    let located = locate_server(
        Some("postgres://someone@db.internal:6543/ops"),
        std::path::Path::new("/nonexistent"),
    )
    .await
    .unwrap();
    assert_eq!(located.origin, Origin::Url);
    assert_eq!(located.describe(), "db.internal:6543/ops");
}

/// Starts a cluster of our own in a fresh folder, as the binary does when no
/// PostgreSQL answers, connects to it, and stops it.
#[tokio::test]
async fn an_own_cluster_starts_and_answers() {
    let dir = std::env::temp_dir().join(format!("foldline-cluster-{}", uuid::Uuid::new_v4()));
    let cluster = LocalCluster::new(&dir).expect("PostgreSQL server programs are installed");
    let options = tokio::task::spawn_blocking({
        let cluster = cluster.clone();
        move || cluster.start()
    })
    .await
    .unwrap()
    .expect("the cluster starts");
    let mut conn = PgConnection::connect_with(&options).await.unwrap();
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(one, 1);
    conn.close().await.unwrap();
    // Starting again finds it running on the same port.
    let again = tokio::task::spawn_blocking({
        let cluster = cluster.clone();
        move || cluster.start()
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(again.get_port(), options.get_port());
    tokio::task::spawn_blocking(move || cluster.stop())
        .await
        .unwrap()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
