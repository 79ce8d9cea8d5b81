//! Command-line interface and configuration: every setting comes from a flag
//! or its environment variable, here and nowhere else.

use std::path::PathBuf;

use axum::http::HeaderValue;
use clap::{Args, Parser, Subcommand};
use foldline_aggregates::audit::At;
use foldline_workflows::webhooks::Settings;

/// Foldline: an event-sourced backend for production operations.
#[derive(Debug, Parser)]
#[command(name = "foldline", version, about)]
pub struct Cli {
    /// Database settings, shared by every subcommand.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "FOLDLINE_LOG_JSON", global = true)]
    pub log_json: bool,
    /// On failure, print every cause of the error, one a line, rather than
    /// one line.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Commands,
}

/// Where the database is.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL. Without it, foldline uses a PostgreSQL answering on
    /// localhost, or starts its own under --data-dir.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Folder for the cluster foldline starts when no PostgreSQL answers.
    #[arg(
        long,
        env = "FOLDLINE_DATA_DIR",
        global = true,
        default_value = ".foldline"
    )]
    pub data_dir: PathBuf,
    /// Name of the database foldline uses on a discovered server.
    #[arg(
        long,
        env = "FOLDLINE_DATABASE",
        global = true,
        default_value = "foldline"
    )]
    pub database_name: String,
    /// Largest number of pooled connections.
    #[arg(
        long,
        env = "FOLDLINE_MAX_CONNECTIONS",
        global = true,
        default_value_t = 16
    )]
    pub max_connections: u32,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Apply the embedded migrations.
    Migrate,
    /// Load a fixture through the command bus; loading it again appends nothing.
    Seed {
        /// A built-in fixture name (`demo`) or the path of a fixture file.
        #[arg(default_value = "demo")]
        fixture: String,
    },
    /// Migrate, load the demo fixture, and serve the API with the projections
    /// running; prints the GraphiQL address and tokens for the demo's members.
    Demo {
        /// API settings.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Serve the GraphQL API and run the projections, on the database
    /// DATABASE_URL names.
    Serve {
        /// API settings.
        #[command(flatten)]
        api: ApiArgs,
        /// Without DATABASE_URL, use what `demo` uses: a PostgreSQL on
        /// localhost, or a cluster of foldline's own under --data-dir,
        /// created if need be. For development: a production service names
        /// its database.
        #[arg(long, env = "FOLDLINE_EMBEDDED")]
        embedded: bool,
    },
    /// Mint a development token (HS256, with FOLDLINE_JWT_SECRET).
    Token {
        /// The user's id.
        #[arg(long)]
        user: uuid::Uuid,
        /// The organization the token names (the `org` claim).
        #[arg(long)]
        org: Option<uuid::Uuid>,
        /// How long the token is valid, in seconds.
        #[arg(long, default_value_t = 86_400)]
        ttl: u64,
        /// Token settings.
        #[command(flatten)]
        jwt: JwtArgs,
    },
    /// Print the database foldline would use, after finding or starting it.
    Database,
    /// List each projection's checkpoint, lag and state.
    Projections {
        /// What to do; without one, list them.
        #[command(subcommand)]
        command: Option<ProjectionsCommand>,
    },
    /// List each workflow's checkpoint, lag, instances and commands.
    Workflows {
        /// What to do; without one, list them.
        #[command(subcommand)]
        command: Option<WorkflowsCommand>,
    },
    /// List the organizations' webhooks and their deliveries.
    Webhooks {
        /// What to do; without one, list them.
        #[command(subcommand)]
        command: Option<WebhooksCommand>,
    },
    /// Review the event store: verify its hash chains, take checkpoints.
    Audit {
        /// What to do.
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Rebuild projections from the event store: into shadow tables swapped in
    /// when caught up (queries keep being served), or in place.
    Replay {
        /// The projections to rebuild, by name.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        projections: Vec<String>,
        /// Rebuild every projection.
        #[arg(long)]
        all: bool,
        /// Clear the live tables and refill them instead of using shadow tables.
        #[arg(long)]
        in_place: bool,
        /// Events per transaction; large batches amortise each statement.
        #[arg(long, default_value_t = 10_000)]
        batch_size: i64,
    },
}

/// What an operator can do to a projection besides rebuilding it.
#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Set a stopped projection going again from the event it stopped at,
    /// once a release that can apply that event runs.
    Resume {
        /// The projection, by name.
        projection: String,
    },
}

/// What an operator can ask of a workflow.
#[derive(Debug, Subcommand)]
pub enum WorkflowsCommand {
    /// One instance: the state it folded, what it decided, and what became
    /// of each command.
    Show {
        /// The workflow, by name.
        workflow: String,
        /// The instance (the task, invoice… it is about).
        instance: uuid::Uuid,
    },
    /// Put the commands a workflow had refused back to be sent now.
    Retry {
        /// The workflow, by name.
        workflow: String,
        /// Only this instance's.
        #[arg(long)]
        instance: Option<uuid::Uuid>,
    },
}

/// What an operator can do with the organizations' webhooks.
#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Add a webhook: the workflows' messages of its topics go there,
    /// signed with its secret.
    Add {
        /// The organization whose messages it takes.
        #[arg(long)]
        organization: uuid::Uuid,
        /// Where to deliver: https, or http to this machine.
        #[arg(long)]
        url: String,
        /// The secret deliveries are signed with (HMAC-SHA256); at least 16
        /// characters.
        #[arg(long, env = "FOLDLINE_WEBHOOK_SECRET", hide_env_values = true)]
        secret: String,
        /// A topic it takes (`invoice.paid`, `invoice.overdue`); repeat for
        /// more; none: all.
        #[arg(long = "topic")]
        topics: Vec<String>,
    },
    /// Remove a webhook and what it had still to deliver.
    Remove {
        /// The webhook.
        id: uuid::Uuid,
    },
    /// Put a webhook's dead deliveries back to be tried now.
    Retry {
        /// The webhook.
        id: uuid::Uuid,
    },
}

/// What an auditor can ask of the event store.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute every stream's hash chain and report each broken link with
    /// its position; exits with status 1 if any.
    Verify {
        /// Only this organization's streams.
        #[arg(long)]
        org: Option<uuid::Uuid>,
        /// Also check against a checkpoint taken earlier: finds the last
        /// events of a stream removed, and streams rewritten whole, since.
        #[arg(long)]
        against: Option<PathBuf>,
    },
    /// Print a checkpoint of every stream's head (JSON), for the auditor to
    /// keep and verify against later.
    Checkpoint {
        /// Only this organization's streams.
        #[arg(long)]
        org: Option<uuid::Uuid>,
    },
    /// Print every event of one stream: position, sequence, type, version,
    /// time, actor, source, correlation and causation, payload.
    Stream {
        /// The aggregate type (`Invoice`, `ProductionAdvance`…).
        aggregate_type: String,
        /// The aggregate's id.
        id: String,
        /// JSON Lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print an aggregate's state as it was at a moment.
    State {
        /// The aggregate type.
        aggregate_type: String,
        /// The aggregate's id.
        id: String,
        /// An RFC 3339 time, or a version (the sequence of an event).
        #[arg(long, value_parser = parse_at)]
        at: At,
    },
    /// List each field's successive values: when, who, from which source.
    History {
        /// The aggregate type.
        aggregate_type: String,
        /// The aggregate's id.
        id: String,
        /// Only this field (and the fields under it: `items`).
        #[arg(long)]
        field: Option<String>,
        /// JSON Lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List every event, across aggregates, that one request caused.
    Request {
        /// The request's correlation id.
        correlation_id: uuid::Uuid,
        /// JSON Lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write an organization's events as JSON Lines, with their chain
    /// hashes, for an external auditor.
    Export {
        /// The organization.
        #[arg(long)]
        org: uuid::Uuid,
        /// Only events recorded at or after this RFC 3339 time.
        #[arg(long)]
        since: Option<chrono::DateTime<chrono::Utc>>,
    },
}

/// `--at`: a version number or an RFC 3339 time.
fn parse_at(text: &str) -> Result<At, String> {
    if let Ok(version) = text.parse::<i64>() {
        return if version > 0 {
            Ok(At::Version(version))
        } else {
            Err("a version is 1 or more".into())
        };
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|time| At::Time(time.into()))
        .map_err(|_| format!("`{text}` is neither a version nor an RFC 3339 time"))
}

/// How bearer tokens are checked.
#[derive(Debug, Clone, Args)]
pub struct JwtArgs {
    /// HS256 secret tokens are signed with.
    #[arg(long, env = "FOLDLINE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// PEM file of the RSA public key RS256 tokens are checked with; takes
    /// precedence over the secret.
    #[arg(long, env = "FOLDLINE_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<PathBuf>,
    /// The `iss` tokens must carry.
    #[arg(long, env = "FOLDLINE_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// The `aud` tokens must carry.
    #[arg(long, env = "FOLDLINE_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
}

/// The API server's settings.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Address to listen on.
    #[arg(long, env = "FOLDLINE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Do not serve GraphiQL on `GET /graphql`.
    #[arg(long, env = "FOLDLINE_NO_GRAPHIQL")]
    pub no_graphiql: bool,
    /// Refuse schema introspection.
    #[arg(long, env = "FOLDLINE_NO_INTROSPECTION")]
    pub no_introspection: bool,
    /// Requests one user may have served at once; more wait their turn.
    /// Each holds a read connection: keep it well under
    /// FOLDLINE_MAX_CONNECTIONS, so one user cannot take them all.
    #[arg(long, env = "FOLDLINE_RUNNING_PER_USER", default_value_t = foldline_graphql::Limits::default().running_per_user)]
    pub running_per_user: usize,
    /// Requests one user may have waiting; beyond them a request is
    /// refused at once with HTTP 429.
    #[arg(long, env = "FOLDLINE_QUEUED_PER_USER", default_value_t = foldline_graphql::Limits::default().queued_per_user)]
    pub queued_per_user: usize,
    /// Origins a browser app may call the API from, comma-separated
    /// (`https://app.example.com,http://localhost:5173`); none by default,
    /// so a page on another origin is refused by its browser.
    #[arg(long, env = "FOLDLINE_ALLOWED_ORIGINS", default_value = "", value_parser = parse_origins)]
    pub allowed_origins: AllowedOrigins,
    /// Token settings.
    #[command(flatten)]
    pub jwt: JwtArgs,
    /// Webhook delivery settings.
    #[command(flatten)]
    pub webhooks: WebhookArgs,
}

/// How the outbox is delivered to the organizations' webhooks.
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Tries before a webhook delivery is given up as dead (until
    /// `foldline webhooks retry`).
    #[arg(long, env = "FOLDLINE_WEBHOOK_MAX_ATTEMPTS", default_value_t = Settings::default().max_attempts)]
    pub webhook_max_attempts: i32,
    /// Seconds one webhook request may take before it counts as failed.
    #[arg(long, env = "FOLDLINE_WEBHOOK_TIMEOUT", default_value_t = Settings::default().timeout.as_secs())]
    pub webhook_timeout: u64,
}

impl WebhookArgs {
    /// The sender's settings.
    pub fn settings(&self) -> Settings {
        Settings {
            max_attempts: self.webhook_max_attempts,
            timeout: std::time::Duration::from_secs(self.webhook_timeout),
            ..Settings::default()
        }
    }
}

/// The origins browser apps may call the API from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AllowedOrigins(pub Vec<HeaderValue>);

/// Comma-separated origins; an empty list (or an empty variable) is none.
fn parse_origins(text: &str) -> Result<AllowedOrigins, String> {
    text.split(',')
        .filter(|origin| !origin.trim().is_empty())
        .map(parse_origin)
        .collect::<Result<_, _>>()
        .map(AllowedOrigins)
}

/// An origin as a browser sends it: a scheme and a host, and a port if
/// not the scheme's, with no path.
fn parse_origin(text: &str) -> Result<HeaderValue, String> {
    let text = text.trim();
    let (scheme, rest) = text.split_once("://").ok_or_else(|| {
        format!("`{text}` is not an origin: it needs a scheme, as in https://app.example.com")
    })?;
    if !matches!(scheme, "http" | "https") || rest.is_empty() || rest.contains('/') {
        return Err(format!(
            "`{text}` is not an origin: an http or https scheme and a host, with no path"
        ));
    }
    HeaderValue::from_str(text).map_err(|_| format!("`{text}` is not an origin"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_a_scheme_and_a_host() {
        for origin in [
            "https://app.example.com",
            "http://localhost:5173",
            " http://10.0.0.2 ",
        ] {
            assert!(parse_origin(origin).is_ok(), "{origin}");
        }
        for text in [
            "app.example.com",
            "ftp://x",
            "https://",
            "https://app.example.com/",
            "https://a.b/path",
            "*",
        ] {
            let error = parse_origin(text).expect_err(text);
            assert!(error.contains("not an origin"), "{error}");
        }
    }

    #[test]
    fn allowed_origins_are_read_comma_separated() {
        let cli = Cli::try_parse_from([
            "foldline",
            "serve",
            "--allowed-origins",
            "https://a.example.com,http://localhost:5173",
        ]);
        let Ok(Cli {
            command: Commands::Serve { api, .. },
            ..
        }) = cli
        else {
            panic!("parsed: {cli:?}");
        };
        assert_eq!(
            api.allowed_origins.0,
            ["https://a.example.com", "http://localhost:5173"]
        );
        assert_eq!(parse_origins(""), Ok(AllowedOrigins::default()));
        assert!(parse_origins("https://a.example.com,nope").is_err());
    }
}
