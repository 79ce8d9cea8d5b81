//! The `foldline` binary.

use anyhow::Context;
use clap::Parser;
use std::process::ExitCode;
use std::time::Duration;

use foldline_aggregates::{CommandBus, EventStore};
use foldline_graphql::auth::mint;
use foldline_projectors::{checkpoint, Engine};
use foldline_server::cli::{
    ApiArgs, AuditCommand, Cli, Commands, ProjectionsCommand, WebhooksCommand, WorkflowsCommand,
};
use foldline_server::database;
use foldline_server::fixture::{self, Fixture};
use foldline_server::{audit, replay, serve, telemetry};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_json);
    // Before anything is counted: what happens before the recorder is there
    // is not recorded.
    telemetry::prometheus();
    let verbose = cli.verbose;
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, each cause after a colon; every cause on its own
            // line with -v.
            if verbose {
                eprintln!("foldline: {error:?}");
            } else {
                eprintln!("foldline: {error:#}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Commands::Migrate => {
            database::connect(&cli.database).await?;
            println!("migrations applied");
        }
        Commands::Database => {
            let located = database::locate_server(
                cli.database.database_url.as_deref(),
                &cli.database.data_dir,
            )
            .await?;
            println!("{} ({:?})", located.describe(), located.origin);
        }
        Commands::Seed { fixture } => {
            // A fixture that does not parse is refused before any connection.
            let fixture = Fixture::load(&fixture)?;
            let pool = database::connect(&cli.database).await?;
            let bus = CommandBus::new(EventStore::new(pool));
            let report = fixture::seed(&bus, &fixture).await?;
            println!(
                "fixture {}: {} steps applied, {} already present, {} events appended",
                fixture.name, report.applied, report.skipped, report.events
            );
        }
        Commands::Demo { ref api } => {
            let mut api = api.clone();
            if api.jwt.jwt_secret.is_none() && api.jwt.jwt_public_key.is_none() {
                api.jwt.jwt_secret = Some(DEMO_SECRET.to_owned());
            }
            let pool = demo(&cli).await?;
            let state = serve::state(pool.clone(), &api)?;
            let listener = TcpListener::bind(api.listen)
                .await
                .with_context(|| format!("listening on {}", api.listen))?;
            let tokens = demo_tokens(&pool, &api).await?;
            serve::serve(state, api.webhooks.settings(), listener, |address| {
                println!("\nGraphiQL: http://{address}/graphql");
                println!(
                    "Send `Authorization: Bearer <token>`; each token names its organization.\n"
                );
                for (role, user, token) in &tokens {
                    println!("{role:<8} {user}\n         {token}");
                }
                println!("\nCtrl-C stops the service.");
            })
            .await?;
        }
        Commands::Serve { ref api, embedded } => {
            if cli.database.database_url.is_none() && !embedded {
                anyhow::bail!(
                    "serve needs its database: set DATABASE_URL (or pass --embedded to use \
                     a PostgreSQL on localhost or one of foldline's own, for development)"
                );
            }
            let pool = database::connect(&cli.database).await?;
            // Where the data is, said once, where an operator looks first.
            println!(
                "foldline serves the data of PostgreSQL at {}",
                database::describe(&pool.connect_options())
            );
            let state = serve::state(pool, api)?;
            let listener = TcpListener::bind(api.listen)
                .await
                .with_context(|| format!("listening on {}", api.listen))?;
            serve::serve(state, api.webhooks.settings(), listener, |address| {
                tracing::info!(%address, "serving GraphQL on /graphql");
            })
            .await?;
        }
        Commands::Token {
            user,
            org,
            ttl,
            ref jwt,
        } => {
            let Some(secret) = jwt.jwt_secret.as_deref() else {
                anyhow::bail!("set FOLDLINE_JWT_SECRET to mint a token");
            };
            let token = mint(
                secret.as_bytes(),
                user,
                org,
                ttl,
                jwt.jwt_issuer.as_deref(),
                jwt.jwt_audience.as_deref(),
            )?;
            println!("{token}");
        }
        Commands::Replay {
            ref projections,
            all,
            in_place,
            batch_size,
        } => replay::run(&cli, projections, all, in_place, batch_size).await?,
        Commands::Audit { ref command } => {
            let pool = database::connect(&cli.database).await?;
            let mut out = std::io::stdout().lock();
            match command {
                AuditCommand::Verify { org, against } => {
                    if !audit::verify(&pool, *org, against.as_deref(), &mut out).await? {
                        std::process::exit(1);
                    }
                }
                AuditCommand::Checkpoint { org } => {
                    audit::checkpoint(&pool, *org, &mut out).await?;
                }
                AuditCommand::Stream {
                    aggregate_type,
                    id,
                    json,
                } => {
                    audit::stream(&pool, aggregate_type, id, *json, &mut out).await?;
                }
                AuditCommand::State {
                    aggregate_type,
                    id,
                    at,
                } => audit::state(&pool, aggregate_type, id, *at, &mut out).await?,
                AuditCommand::History {
                    aggregate_type,
                    id,
                    field,
                    json,
                } => {
                    audit::history(&pool, aggregate_type, id, field.as_deref(), *json, &mut out)
                        .await?
                }
                AuditCommand::Request {
                    correlation_id,
                    json,
                } => {
                    audit::request(&pool, *correlation_id, *json, &mut out).await?;
                }
                AuditCommand::Export { org, since } => {
                    let written = audit::export(&pool, *org, *since, &mut out).await?;
                    eprintln!("{written} events exported");
                }
            }
        }
        Commands::Projections {
            command: Some(ProjectionsCommand::Resume { ref projection }),
        } => {
            let Some(projection) = foldline_projectors::by_name(projection) else {
                anyhow::bail!("no projection named `{projection}`");
            };
            let pool = database::connect(&cli.database).await?;
            if checkpoint::resume(&pool, projection.name()).await? {
                println!("{}: resumed", projection.name());
            } else {
                anyhow::bail!("projection {} is not stopped", projection.name());
            }
        }
        Commands::Workflows { ref command } => {
            let pool = database::connect(&cli.database).await?;
            workflows(&pool, command.as_ref()).await?;
        }
        Commands::Webhooks { ref command } => {
            let pool = database::connect(&cli.database).await?;
            webhooks(&pool, command.as_ref()).await?;
        }
        Commands::Projections { command: None } => {
            let pool = database::connect(&cli.database).await?;
            let names: Vec<&str> = foldline_projectors::all()
                .iter()
                .map(|p| p.name())
                .collect();
            println!(
                "{:<18} {:<10} {:>10} {:>10} {:>9}  error",
                "projection", "state", "position", "behind", "seconds"
            );
            for lag in checkpoint::lags(&pool, &names).await? {
                let (state, position, error) = match &lag.checkpoint {
                    Some(c) => (
                        c.state.as_str(),
                        c.position.global_position,
                        match (c.error_position, &c.error) {
                            (Some(at), Some(error)) => format!("at event {at}: {error}"),
                            (_, error) => error.clone().unwrap_or_default(),
                        },
                    ),
                    None => ("not started", 0, String::new()),
                };
                println!(
                    "{:<18} {:<10} {:>10} {:>10} {:>9.1}  {error}",
                    lag.projection, state, position, lag.events_behind, lag.seconds_behind
                );
            }
        }
    }
    Ok(())
}

/// `foldline workflows`: the list, one instance, or a retry.
async fn workflows(pool: &sqlx::PgPool, command: Option<&WorkflowsCommand>) -> anyhow::Result<()> {
    use foldline_workflows::{report, Dispatcher};
    let known = |name: &str| {
        foldline_workflows::by_name(name)
            .map(|w| w.name())
            .with_context(|| format!("no workflow named `{name}`"))
    };
    match command {
        None => {
            println!(
                "{:<18} {:<10} {:>10} {:>8} {:>9} {:>9} {:>7} {:>7} {:>6} {:>8}",
                "workflow",
                "state",
                "position",
                "behind",
                "instances",
                "pending",
                "due",
                "timers",
                "failed",
                "sent"
            );
            for o in report::overview(pool, None).await? {
                let (state, position) = match &o.lag.checkpoint {
                    Some(c) => (c.state.as_str(), c.position.global_position),
                    None => ("not started", 0),
                };
                println!(
                    "{:<18} {:<10} {:>10} {:>8} {:>9} {:>9} {:>7} {:>7} {:>6} {:>8}",
                    o.lag.projection,
                    state,
                    position,
                    o.lag.events_behind,
                    o.instances,
                    o.pending,
                    o.due,
                    o.timers,
                    o.failed,
                    o.sent
                );
            }
        }
        Some(WorkflowsCommand::Show { workflow, instance }) => {
            let workflow = known(workflow)?;
            let Some(found) = report::instance(pool, workflow, *instance).await? else {
                anyhow::bail!("workflow {workflow} has no instance {instance}");
            };
            println!("workflow      {workflow}");
            println!("instance      {instance}");
            println!("organization  {}", found.organization_id);
            println!("folded up to  event {}", found.last_position);
            println!("state         {}", found.state);
            println!("commands      {}", found.decisions.len());
            for d in &found.decisions {
                println!(
                    "\n  {} {} {} ({})\n    key        {}\n    caused by  event {}\n    attempts   {}",
                    d.command_name, d.aggregate_type, d.aggregate_id, d.status, d.key, d.caused_by, d.attempts
                );
                if let Some(position) = d.caused_at {
                    println!("    trigger at position {position}");
                }
                if let Some(timer) = &d.timer {
                    println!("    timer      {timer}");
                }
                if let Some(position) = d.sent_position {
                    println!("    appended   at position {position}");
                }
                if let Some(error) = &d.last_error {
                    println!("    last error {error}");
                }
                if d.status == "pending" {
                    println!("    next send  {}", d.next_attempt_at);
                }
                println!("    command    {}", d.command);
            }
        }
        Some(WorkflowsCommand::Retry { workflow, instance }) => {
            let workflow = known(workflow)?;
            let bus = CommandBus::new(EventStore::new(pool.clone()));
            let retried = Dispatcher::new(pool.clone(), bus)
                .retry(workflow, *instance, None)
                .await?;
            println!("{workflow}: {retried} failed command(s) put back to be sent");
        }
    }
    Ok(())
}

/// `foldline webhooks`: the list, or adding, removing or retrying one.
async fn webhooks(pool: &sqlx::PgPool, command: Option<&WebhooksCommand>) -> anyhow::Result<()> {
    use foldline_workflows::webhooks;
    match command {
        None => {
            println!(
                "{:<36} {:<36} {:>8} {:>9} {:>5}  url (topics)",
                "webhook", "organization", "pending", "delivered", "dead"
            );
            for w in webhooks::list(pool, None).await? {
                let topics = if w.topics.is_empty() {
                    "all".to_owned()
                } else {
                    w.topics.join(", ")
                };
                println!(
                    "{:<36} {:<36} {:>8} {:>9} {:>5}  {} ({topics})",
                    w.id, w.organization_id, w.pending, w.delivered, w.dead, w.url
                );
            }
        }
        Some(WebhooksCommand::Add {
            organization,
            url,
            secret,
            topics,
        }) => {
            let id = webhooks::add(pool, *organization, url, secret, topics).await?;
            println!("{id}");
        }
        Some(WebhooksCommand::Remove { id }) => {
            if !webhooks::remove(pool, *id).await? {
                anyhow::bail!("no webhook {id}");
            }
            println!("{id}: removed");
        }
        Some(WebhooksCommand::Retry { id }) => {
            let retried = webhooks::retry(pool, *id).await?;
            println!("{id}: {retried} dead deliveries put back to be tried");
        }
    }
    Ok(())
}

/// The secret demo tokens are signed with when none is configured: for a
/// development machine only.
const DEMO_SECRET: &str = "foldline-demo-secret";

/// A day's token for one member of each role of the demo's first
/// organization, and one with the `finance` capability.
async fn demo_tokens(
    pool: &sqlx::PgPool,
    api: &ApiArgs,
) -> anyhow::Result<Vec<(String, uuid::Uuid, String)>> {
    let Some(secret) = api.jwt.jwt_secret.as_deref() else {
        return Ok(Vec::new());
    };
    let members: Vec<(uuid::Uuid, uuid::Uuid, String, Vec<String>)> = sqlx::query_as(
        "SELECT organization_id, user_id, role, capabilities FROM memberships
         WHERE organization_id = (SELECT id FROM organizations ORDER BY created_at, id LIMIT 1)
         ORDER BY array_position(ARRAY['owner', 'admin', 'member', 'guest'], role), user_id",
    )
    .fetch_all(pool)
    .await?;
    let mut tokens = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (organization, user, role, capabilities) in members {
        let label =
            if capabilities.iter().any(|c| c == "finance") && seen.insert("finance".to_owned()) {
                "finance".to_owned()
            } else if seen.insert(role.clone()) {
                role
            } else {
                continue;
            };
        let token = mint(
            secret.as_bytes(),
            user,
            Some(organization),
            86_400,
            api.jwt.jwt_issuer.as_deref(),
            api.jwt.jwt_audience.as_deref(),
        )?;
        tokens.push((label, user, token));
    }
    Ok(tokens)
}

/// Migrates, loads the demo fixture, prints the events it appended and folds
/// them into the read tables.
async fn demo(cli: &Cli) -> anyhow::Result<sqlx::PgPool> {
    let pool = database::connect(&cli.database).await?;
    let before: i64 = sqlx::query_scalar("SELECT coalesce(max(global_position), 0) FROM events")
        .fetch_one(&pool)
        .await
        .context("reading the event store")?;
    let bus = CommandBus::new(EventStore::new(pool.clone()));
    let fixture = Fixture::load("demo")?;
    let report = fixture::seed(&bus, &fixture).await?;
    println!(
        "demo fixture: {} steps applied, {} already present, {} events appended\n",
        report.applied, report.skipped, report.events
    );
    let rows: Vec<(i64, String, String, i64, String, String, String)> = sqlx::query_as(
        "SELECT global_position, aggregate_type, aggregate_id, sequence, event_type,
                metadata ->> 'command', to_char(recorded_at, 'YYYY-MM-DD HH24:MI:SS')
         FROM events WHERE global_position > $1 ORDER BY global_position",
    )
    .bind(before)
    .fetch_all(&pool)
    .await
    .context("reading the appended events")?;
    if rows.is_empty() {
        println!("nothing new was appended: the demo was already loaded");
    } else {
        println!(
            "{:>5}  {:<18} {:<8} {:>3}  {:<26} {:<20} recorded",
            "pos", "aggregate", "id", "seq", "event", "command"
        );
        for (position, aggregate, id, sequence, event, command, recorded) in rows {
            println!(
                "{position:>5}  {aggregate:<18} {:<8} {sequence:>3}  {event:<26} {command:<20} {recorded}",
                &id[..8]
            );
        }
    }
    // Fold everything appended so far into the read tables.
    let engine = Engine::new(pool.clone());
    let head: i64 = sqlx::query_scalar("SELECT coalesce(max(global_position), 0) FROM events")
        .fetch_one(&pool)
        .await?;
    for projection in foldline_projectors::all() {
        engine
            .catch_up_to(projection.as_ref(), head, Duration::from_secs(60))
            .await?;
        let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}", projection.name()))
            .fetch_one(&pool)
            .await?;
        println!("projection {:<19} {rows} rows", projection.name());
    }
    let (streams, events): (i64, i64) = sqlx::query_as(
        "SELECT count(DISTINCT (aggregate_type, aggregate_id)), count(*) FROM events",
    )
    .fetch_one(&pool)
    .await?;
    println!("\nthe event store holds {events} events in {streams} streams");
    Ok(pool)
}
