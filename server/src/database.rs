//! Finding a PostgreSQL: `DATABASE_URL`, else a server answering on localhost,
//! else a cluster of our own, else one line on how to get one.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

use crate::cli::DatabaseArgs;
use crate::local_cluster::{self, ClusterError};

/// The schema, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Why no database could be had.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// `DATABASE_URL` is not a PostgreSQL URL.
    #[error("DATABASE_URL is not a valid PostgreSQL URL: {0}")]
    BadUrl(String),
    /// The server was found but refused or failed.
    #[error("cannot use PostgreSQL at {target}: {source}")]
    Connect {
        /// host:port/database.
        target: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// No server answered and none could be started.
    #[error("no PostgreSQL found: set DATABASE_URL, run one on localhost:5432, or install it (e.g. `apt-get install postgresql`) so foldline can start its own ({0})")]
    NotFound(ClusterError),
    /// Migrations failed.
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Connection options for a server's maintenance database, found in order:
/// `DATABASE_URL`; a PostgreSQL on localhost (TCP, then the usual socket);
/// a cluster started under `data_dir`.
///
/// With `DATABASE_URL` the options point at its database as given; otherwise
/// at the server's `postgres` database, from which others are created.
pub async fn locate_server(
    database_url: Option<&str>,
    data_dir: &Path,
) -> Result<Located, DatabaseError> {
    if let Some(url) = database_url {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(DatabaseError::BadUrl(
                "it must start with postgres:// or postgresql://".into(),
            ));
        }
        let options =
            PgConnectOptions::from_str(url).map_err(|e| DatabaseError::BadUrl(e.to_string()))?;
        return Ok(Located {
            options,
            origin: Origin::Url,
        });
    }
    for options in localhost_candidates() {
        if try_connect(&options).await.is_ok() {
            return Ok(Located {
                options,
                origin: Origin::Localhost,
            });
        }
    }
    match local_cluster::ensure_running(data_dir).await {
        Ok(options) => Ok(Located {
            options,
            origin: Origin::OwnCluster,
        }),
        Err(error) => Err(DatabaseError::NotFound(error)),
    }
}

/// A server found by [`locate_server`].
#[derive(Debug, Clone)]
pub struct Located {
    /// How to connect to it.
    pub options: PgConnectOptions,
    /// How it was found.
    pub origin: Origin,
}

/// How a server was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// From `DATABASE_URL`.
    Url,
    /// Answering on localhost.
    Localhost,
    /// A cluster foldline started itself.
    OwnCluster,
}

impl Located {
    /// `host:port/database`, for messages.
    pub fn describe(&self) -> String {
        describe(&self.options)
    }
}

/// `host:port/database` of some options, for messages (never the password).
pub fn describe(options: &PgConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("postgres")
    )
}

fn localhost_candidates() -> Vec<PgConnectOptions> {
    let mut users: Vec<String> = Vec::new();
    for user in [
        std::env::var("PGUSER").ok(),
        std::env::var("USER").ok(),
        nix::unistd::User::from_uid(nix::unistd::geteuid())
            .ok()
            .flatten()
            .map(|u| u.name),
        Some("postgres".to_owned()),
    ]
    .into_iter()
    .flatten()
    {
        if !users.contains(&user) {
            users.push(user);
        }
    }
    let mut candidates = Vec::new();
    for user in &users {
        // Loopback needs no TLS, and TLS costs every round trip its CPU.
        let base = PgConnectOptions::new_without_pgpass()
            .username(user)
            .database("postgres")
            .ssl_mode(PgSslMode::Disable);
        candidates.push(base.clone().host("127.0.0.1").port(5432));
        candidates.push(base.socket("/var/run/postgresql"));
    }
    candidates
}

async fn try_connect(options: &PgConnectOptions) -> Result<(), sqlx::Error> {
    let options = options.clone().log_statements(log::LevelFilter::Off);
    let conn = tokio::time::timeout(Duration::from_secs(3), options.connect())
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
    conn.close().await
}

/// Opens the application's pool: the `DATABASE_URL` database, or the
/// `--database-name` database on a discovered server, created if missing.
/// Migrations are applied before the pool is returned.
pub async fn connect(args: &DatabaseArgs) -> Result<PgPool, DatabaseError> {
    let located = locate_server(args.database_url.as_deref(), &args.data_dir).await?;
    let options = match located.origin {
        Origin::Url => located.options.clone(),
        Origin::Localhost | Origin::OwnCluster => {
            create_database_if_missing(&located.options, &args.database_name).await?;
            located.options.clone().database(&args.database_name)
        }
    };
    tracing::info!(database = %describe(&options), origin = ?located.origin, "using PostgreSQL");
    let pool = pool(options, args.max_connections).await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// A pool over `options`, with the session settings every connection needs.
pub async fn pool(
    options: PgConnectOptions,
    max_connections: u32,
) -> Result<PgPool, DatabaseError> {
    let target = describe(&options);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        // No ping before each checkout: it is a round trip per command. A
        // connection that died fails its statement, the pool discards it, and
        // the caller gets an error it may retry; nothing half-written remains.
        .test_before_acquire(false)
        .idle_timeout(Duration::from_secs(300))
        .connect_with(
            options
                .log_statements(log::LevelFilter::Debug)
                // Every statement foldline prepares is a key lookup whose
                // generic plan is as good as a custom one: plan once, not on
                // every execution.
                .options([
                    ("plan_cache_mode", "force_generic_plan"),
                    // An open transaction holds back every reader of the
                    // feed; one left idle is ended rather than left to block.
                    ("idle_in_transaction_session_timeout", "60s"),
                    // A command waits for no lock long (a concurrent append
                    // is a conflict, not a queue), and no statement hangs:
                    // a stuck one fails and its caller may retry. Rebuilds
                    // lift the statement limit for their bulk statements.
                    ("lock_timeout", "10s"),
                    ("statement_timeout", "60s"),
                ]),
        )
        .await
        .map_err(|source| DatabaseError::Connect { target, source })
}

/// Creates `name` on the server behind `admin` unless it exists.
pub async fn create_database_if_missing(
    admin: &PgConnectOptions,
    name: &str,
) -> Result<(), DatabaseError> {
    let target = describe(admin);
    let wrap = |source| DatabaseError::Connect {
        target: target.clone(),
        source,
    };
    let mut conn = PgConnection::connect_with(admin).await.map_err(wrap)?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .map_err(wrap)?;
    if !exists {
        let statement = format!("CREATE DATABASE {}", quote_identifier(name));
        match sqlx::query(&statement).execute(&mut conn).await {
            Ok(_) => {}
            // Another process created it between our check and our CREATE.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            Err(e) => return Err(wrap(e)),
        }
    }
    conn.close().await.map_err(wrap)?;
    Ok(())
}

/// Quotes an SQL identifier.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
