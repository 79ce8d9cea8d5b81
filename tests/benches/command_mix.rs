//! Command throughput with a realistic mix across every aggregate: one
//! iteration is a production's life in ~40 commands (vendors, venue, event,
//! an advance through two approvals, tasks, a shift, an asset, an invoice
//! paid, an expense approved, a document, a comment, a contract), many of them
//! appending more than one event. Stock postgres-es runs the same commands on
//! the same aggregates in the same run.
//!
//! `cargo bench -p foldline-tests --bench command_mix` (part of `just bench`).
//! `BENCH_ITERATIONS` sets the iterations per client (default 12).

// Amounts are written in minor units grouped as major_minor.
#![allow(clippy::inconsistent_digit_grouping)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, AggregateContext, EventStore as _};
use foldline_aggregates::access::{Actor, Capability, Role};
use foldline_aggregates::asset::Asset;
use foldline_aggregates::comment::Comment;
use foldline_aggregates::company::Company;
use foldline_aggregates::contact::Contact;
use foldline_aggregates::contract::Contract;
use foldline_aggregates::document::Document;
use foldline_aggregates::event::Event;
use foldline_aggregates::expense::Expense;
use foldline_aggregates::invoice::Invoice;
use foldline_aggregates::organization::Organization;
use foldline_aggregates::production_advance::ProductionAdvance;
use foldline_aggregates::shift::Shift;
use foldline_aggregates::task::Task;
use foldline_aggregates::venue::Venue;
use foldline_aggregates::{Command, CommandBus, CommandContext, DomainError};
use foldline_tests::measure::{ms, Figures};
use foldline_tests::workload::{iteration, Step};
use foldline_tests::{stock_database, Org, TestDb};
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;
use uuid::Uuid;

/// Sends one step somewhere; returns how many events it appended.
trait Target: Send + Sync + 'static {
    fn run(&self, org: &Org, step: Step) -> impl std::future::Future<Output = usize> + Send;
}

struct Ours {
    bus: CommandBus,
}

impl Target for Ours {
    async fn run(&self, org: &Org, step: Step) -> usize {
        let name = step.command.name();
        self.bus
            .dispatch(&org.request(step.actor), step.id, step.command, None)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .events
    }
}

/// Stock postgres-es: `CqrsFramework::execute`'s steps (load the aggregate from
/// `PersistedEventStore<PostgresEventRepository>`, handle, commit) with the
/// command's actor as the services, since a framework holds one fixed value.
struct Stock {
    pool: PgPool,
}

impl Stock {
    async fn execute<A>(&self, org: &Org, step_actor: Uuid, id: Uuid, command: A::Command) -> usize
    where
        A: Aggregate<Services = CommandContext, Error = DomainError>,
    {
        let store: PersistedEventStore<PostgresEventRepository, A> =
            PersistedEventStore::new_event_store(PostgresEventRepository::new(self.pool.clone()));
        let services = CommandContext {
            aggregate_id: id,
            organization_id: org.id,
            actor: Actor {
                user_id: step_actor,
                role: Role::Owner,
                capabilities: [
                    Capability::ProductionManager,
                    Capability::EventDirector,
                    Capability::Finance,
                ]
                .into(),
            },
        };
        let mut context = store.load_aggregate(&id.to_string()).await.expect("load");
        let sink: EventSink<A> = Default::default();
        context
            .aggregate()
            .handle(command, &services, &sink)
            .await
            .expect("handle");
        let events = sink.collect().await;
        store
            .commit(events, context, HashMap::new())
            .await
            .expect("commit")
            .len()
    }
}

impl Target for Stock {
    async fn run(&self, org: &Org, step: Step) -> usize {
        let (a, id) = (step.actor, step.id);
        match step.command {
            Command::Organization(c) => self.execute::<Organization>(org, a, id, c).await,
            Command::ProductionAdvance(c) => self.execute::<ProductionAdvance>(org, a, id, c).await,
            Command::Invoice(c) => self.execute::<Invoice>(org, a, id, c).await,
            Command::Contract(c) => self.execute::<Contract>(org, a, id, c).await,
            Command::Event(c) => self.execute::<Event>(org, a, id, c).await,
            Command::Venue(c) => self.execute::<Venue>(org, a, id, c).await,
            Command::Task(c) => self.execute::<Task>(org, a, id, c).await,
            Command::Shift(c) => self.execute::<Shift>(org, a, id, c).await,
            Command::Asset(c) => self.execute::<Asset>(org, a, id, c).await,
            Command::Company(c) => self.execute::<Company>(org, a, id, c).await,
            Command::Contact(c) => self.execute::<Contact>(org, a, id, c).await,
            Command::Expense(c) => self.execute::<Expense>(org, a, id, c).await,
            Command::Document(c) => self.execute::<Document>(org, a, id, c).await,
            Command::Comment(c) => self.execute::<Comment>(org, a, id, c).await,
        }
    }
}

static BREAKDOWN: std::sync::Mutex<
    std::collections::BTreeMap<(usize, &'static str), Vec<Duration>>,
> = std::sync::Mutex::new(std::collections::BTreeMap::new());

/// Numbers the runs, so every run's emails and shift hours are its own.
static RUNS: AtomicUsize = AtomicUsize::new(0);

async fn measure<T: Target>(
    target: Arc<T>,
    org: Org,
    clients: usize,
    iterations: usize,
) -> (Figures, usize) {
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<Duration> = Vec::new();
            let mut events = 0;
            for n in 0..iterations {
                for step in iteration(&org, run, client, n) {
                    let name = step.command.name();
                    let t = Instant::now();
                    events += target.run(&org, step).await;
                    latencies.push(t.elapsed());
                    if std::env::var_os("BENCH_BREAKDOWN").is_some() && client == 0 {
                        BREAKDOWN
                            .lock()
                            .unwrap()
                            .entry((run, name))
                            .or_default()
                            .push(t.elapsed());
                    }
                }
            }
            (latencies, events)
        }));
    }
    let mut latencies = Vec::new();
    let mut events = 0;
    for task in tasks {
        let (l, e) = task.await.expect("client");
        latencies.extend(l);
        events += e;
    }
    (Figures::new(started.elapsed(), latencies), events)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let ours_db: TestDb = TestDb::new().await;
    let bus = ours_db.bus();
    let org = Org::create(&bus, "Mix").await;
    let ours = Arc::new(Ours { bus });
    let stock_db = stock_database().await;
    let stock = Arc::new(Stock {
        pool: stock_db.pool.clone(),
    });

    let per_iteration = iteration(&org, 0, 0, 0).len();
    println!("## Command mix across all aggregates\n");
    println!(
        "{per_iteration} commands per iteration, {iterations} iterations per client; \
         each client on its own aggregates.\n"
    );
    println!("| clients | implementation | commands/s | events/s | p50 ms | p99 ms | vs stock |");
    println!("|---|---|---|---|---|---|---|");
    if std::env::var_os("BENCH_BREAKDOWN").is_some() {
        measure(stock.clone(), org, 1, iterations).await;
        measure(ours.clone(), org, 1, iterations).await;
        let b = BREAKDOWN.lock().unwrap();
        let mut names: Vec<&str> = b.keys().map(|(_, n)| *n).collect();
        names.dedup();
        names.sort();
        names.dedup();
        for name in names {
            let mean = |run: usize| {
                let v = &b[&(run, name)];
                v.iter().sum::<Duration>().as_secs_f64() * 1000.0 / v.len() as f64
            };
            println!("{name:<24} stock {:.3} ms  ours {:.3} ms", mean(0), mean(1));
        }
        return;
    }
    for clients in [1, 8] {
        measure(stock.clone(), org, clients, 1).await;
        measure(ours.clone(), org, clients, 1).await;
        let (base, base_events) = measure(stock.clone(), org, clients, iterations).await;
        let (mine, my_events) = measure(ours.clone(), org, clients, iterations).await;
        for (figures, events, name, ratio) in [
            (&base, base_events, "stock postgres-es", "1.00×".to_owned()),
            (
                &mine,
                my_events,
                "foldline command bus",
                format!("{:.2}×", mine.per_second() / base.per_second()),
            ),
        ] {
            println!(
                "| {clients} | {name} | {:.0} | {:.0} | {} | {} | {ratio} |",
                figures.per_second(),
                events as f64 / figures.elapsed.as_secs_f64(),
                ms(figures.percentile(0.50)),
                ms(figures.percentile(0.99)),
            );
        }
    }
}
