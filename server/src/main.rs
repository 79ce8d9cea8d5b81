//! The `foldline` binary.

use anyhow::Context;
use clap::Parser;
use std::time::Duration;

use foldline_aggregates::{CommandBus, EventStore};
use foldline_projectors::{checkpoint, Engine};
use foldline_server::cli::{Cli, Commands};
use foldline_server::database;
use foldline_server::fixture::{self, Fixture};
use foldline_server::{replay, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(cli.log_json);
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
        Commands::Demo => demo(&cli).await?,
        Commands::Replay {
            ref projections,
            all,
            in_place,
            batch_size,
        } => replay::run(&cli, projections, all, in_place, batch_size).await?,
        Commands::Projections => {
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
                        c.error.clone().unwrap_or_default(),
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

/// Migrates, loads the demo fixture and prints the events it appended.
async fn demo(cli: &Cli) -> anyhow::Result<()> {
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
    Ok(())
}
