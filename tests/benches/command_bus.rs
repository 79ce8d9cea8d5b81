//! Command throughput and latency through the command bus, against stock
//! postgres-es in the same run, and the time to load a 10,000-event stream.
//!
//! `just bench` (or `cargo bench -p foldline-tests --bench command_bus`).
//! Prints Markdown tables for BENCHMARKS.md.

// Amounts are written in minor units grouped as major_minor.
#![allow(clippy::inconsistent_digit_grouping)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use cqrs_es::persist::PersistedEventStore;
use cqrs_es::Aggregate;
use cqrs_es::EventStore as _;
use foldline_aggregates::invoice::{Direction, Invoice, InvoiceCommand};
use foldline_aggregates::money::Currency;
use foldline_aggregates::production_advance::{
    FulfillmentStage, ItemCategory, ProductionAdvance, ProductionAdvanceCommand,
};
use foldline_aggregates::{
    Actor, CommandBus, CommandContext, EventStore, Loaded, Role, Visibility,
};
use foldline_tests::commands::create_advance;
use foldline_tests::measure::{ms, Figures};
use foldline_tests::{stock_database, Org, TestDb};
use postgres_es::{PostgresCqrs, PostgresEventRepository};
use uuid::Uuid;

fn draft(number: String, counterparty: Uuid) -> InvoiceCommand {
    InvoiceCommand::DraftInvoice {
        number,
        direction: Direction::Receivable,
        counterparty_id: counterparty,
        counterparty_name: "Acme Festivals".into(),
        currency: Currency::default(),
        due_on: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
        visibility: Visibility::Restricted,
        owner_id: None,
    }
}

fn line() -> InvoiceCommand {
    InvoiceCommand::AddInvoiceLine {
        line_id: Uuid::new_v4(),
        description: "Crew day, rigging and focus".into(),
        quantity: 2,
        unit_price: 450_00,
    }
}

/// The workload each client runs.
#[derive(Clone, Copy, Debug)]
enum Workload {
    /// Every command drafts a new invoice: one event on an empty stream.
    NewStreams,
    /// Every command adds a line to the client's own invoice, whose stream grows.
    GrowingStream,
}

impl Workload {
    fn describe(self) -> &'static str {
        match self {
            Workload::NewStreams => "new invoice per command",
            Workload::GrowingStream => "line added to the client's invoice",
        }
    }
}

/// Something that executes one invoice command.
trait Target: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn run(
        &self,
        id: Uuid,
        command: InvoiceCommand,
    ) -> impl std::future::Future<Output = ()> + Send;
}

struct Ours {
    bus: CommandBus,
    org: Org,
}

impl Target for Ours {
    fn name(&self) -> &'static str {
        "foldline command bus (authorization + metadata)"
    }

    async fn run(&self, id: Uuid, command: InvoiceCommand) {
        self.bus
            .execute::<Invoice>(&self.org.request(self.org.member), id, command, None)
            .await
            .expect("command");
    }
}

struct Stock {
    cqrs: PostgresCqrs<Invoice>,
}

impl Target for Stock {
    fn name(&self) -> &'static str {
        "stock postgres-es CqrsFramework"
    }

    async fn run(&self, id: Uuid, command: InvoiceCommand) {
        self.cqrs
            .execute_with_metadata(&id.to_string(), command, HashMap::new())
            .await
            .expect("command");
    }
}

async fn measure<T: Target>(
    target: Arc<T>,
    clients: usize,
    per_client: usize,
    workload: Workload,
    counterparty: Uuid,
) -> Figures {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_client);
            let own = Uuid::new_v4();
            if let Workload::GrowingStream = workload {
                target
                    .run(own, draft(format!("C{client}"), counterparty))
                    .await;
            }
            for n in 0..per_client {
                let (id, command) = match workload {
                    Workload::NewStreams => (
                        Uuid::new_v4(),
                        draft(format!("C{client}-{n}"), counterparty),
                    ),
                    Workload::GrowingStream => (own, line()),
                };
                let t = Instant::now();
                target.run(id, command).await;
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("client"));
    }
    let elapsed = started.elapsed();
    Figures::new(elapsed, latencies)
}

fn stock_context() -> CommandContext {
    // Stock postgres-es has one services value for every command: a fixed
    // context, no roster lookup, no metadata.
    CommandContext {
        aggregate_id: Uuid::nil(),
        organization_id: Uuid::nil(),
        actor: Actor {
            user_id: Uuid::nil(),
            role: Role::Owner,
            capabilities: Default::default(),
        },
    }
}

async fn time_loads<F, Fut>(runs: usize, mut load: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        load().await;
        times.push(t.elapsed());
    }
    times.sort();
    times[runs / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let per_client: usize = std::env::var("BENCH_COMMANDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);

    let ours_db = TestDb::new().await;
    let bus = ours_db.bus();
    let org = Org::create(&bus, "Bench").await;
    let ours = Arc::new(Ours { bus, org });

    let stock_db = stock_database().await;
    let stock = Arc::new(Stock {
        cqrs: postgres_es::postgres_cqrs(stock_db.pool.clone(), vec![], stock_context()),
    });

    println!("## Commands through the command bus\n");
    println!("{per_client} commands per client; each client on its own aggregates.\n");
    println!("| workload | clients | implementation | commands/s | p50 ms | p99 ms | vs stock |");
    println!("|---|---|---|---|---|---|---|");
    let client = ours.org.client;
    for workload in [Workload::NewStreams, Workload::GrowingStream] {
        for clients in [1, 8] {
            // Warm both pools and plans before measuring.
            measure(stock.clone(), clients, 20, workload, client).await;
            measure(ours.clone(), clients, 20, workload, client).await;
            let base = measure(stock.clone(), clients, per_client, workload, client).await;
            let mine = measure(ours.clone(), clients, per_client, workload, client).await;
            for (figures, name, ratio) in [
                (&base, stock.name(), String::from("1.00×")),
                (
                    &mine,
                    ours.name(),
                    format!("{:.2}×", mine.per_second() / base.per_second()),
                ),
            ] {
                println!(
                    "| {} | {clients} | {name} | {:.0} | {} | {} | {ratio} |",
                    workload.describe(),
                    figures.per_second(),
                    ms(figures.percentile(0.50)),
                    ms(figures.percentile(0.99)),
                );
            }
        }
    }

    // A 10,000-event stream whose state stays small, as long streams do in
    // practice: an approved advance receiving fulfillment progress updates.
    let request = ours.org.request(ours.org.member);
    let long = Uuid::new_v4();
    let items: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    let mut setup = vec![create_advance("ADV-LONG", ours.org.event)];
    for item_id in &items {
        setup.push(ProductionAdvanceCommand::AddItem {
            item_id: *item_id,
            name: "Cable run".into(),
            category: ItemCategory::Technical,
            vendor_id: None,
            quantity_required: 1,
            unit_cost: 100_00,
            schedule: Default::default(),
            critical_path: false,
            depends_on: Default::default(),
        });
    }
    setup.push(ProductionAdvanceCommand::SubmitForApproval);
    let mut version = 0;
    for command in setup {
        version = ours
            .bus
            .execute::<ProductionAdvance>(&request, long, command, None)
            .await
            .unwrap()
            .version;
    }
    let stages = [
        FulfillmentStage::Ordered,
        FulfillmentStage::InProduction,
        FulfillmentStage::Shipped,
        FulfillmentStage::Delivered,
    ];
    let mut n = 0usize;
    while version < 10_000 {
        n += 1;
        version = ours
            .bus
            .execute::<ProductionAdvance>(
                &request,
                long,
                ProductionAdvanceCommand::RecordFulfillment {
                    item_id: items[n % items.len()],
                    stage: stages[n % stages.len()],
                    percentage: (n % 101) as u8,
                },
                None,
            )
            .await
            .unwrap()
            .version;
    }
    let id = long.to_string();
    // A store without a state cache, as after a restart: snapshot + tail.
    let store = EventStore::new(ours_db.pool.clone()).with_cache_capacity(0);
    let with_snapshot = time_loads(200, || async {
        let loaded: Loaded<ProductionAdvance> = store.load(&id).await.unwrap();
        assert_eq!(loaded.version, 10_000);
        assert_eq!(loaded.snapshot_version, Some(10_000));
    })
    .await;
    // The bus's own store, whose cache holds the state: only the tail is read.
    let cached = time_loads(200, || async {
        let loaded: Loaded<ProductionAdvance> = ours.bus.store().load(&id).await.unwrap();
        assert_eq!(loaded.version, 10_000);
    })
    .await;
    sqlx::query("DELETE FROM snapshots")
        .execute(&ours_db.pool)
        .await
        .unwrap();
    let without_snapshot = time_loads(10, || async {
        let loaded: Loaded<ProductionAdvance> = store.load(&id).await.unwrap();
        assert_eq!(loaded.version, 10_000);
        assert_eq!(loaded.snapshot_version, None);
    })
    .await;

    // The same stream in the stock store, loaded by postgres-es.
    let stock_long = Uuid::new_v4().to_string();
    let rows: Vec<(i64, String, String, serde_json::Value)> = sqlx::query_as(
        "SELECT sequence, event_type, event_version, payload FROM events
         WHERE aggregate_id = $1 ORDER BY sequence",
    )
    .bind(&id)
    .fetch_all(&ours_db.pool)
    .await
    .unwrap();
    for chunk in rows.chunks(1000) {
        let mut query = sqlx::QueryBuilder::new(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) ",
        );
        query.push_values(
            chunk,
            |mut row, (sequence, event_type, event_version, payload)| {
                row.push_bind(ProductionAdvance::TYPE)
                    .push_bind(&stock_long)
                    .push_bind(sequence)
                    .push_bind(event_type)
                    .push_bind(event_version)
                    .push_bind(payload)
                    .push("'{}'::json");
            },
        );
        query.build().execute(&stock_db.pool).await.unwrap();
    }
    let stock_store: PersistedEventStore<PostgresEventRepository, ProductionAdvance> =
        PersistedEventStore::new_event_store(PostgresEventRepository::new(stock_db.pool.clone()));
    let stock_load = time_loads(10, || async {
        stock_store.load_aggregate(&stock_long).await.unwrap();
    })
    .await;

    println!("\n## Loading a 10,000-event aggregate (median)\n");
    println!("| how | ms |");
    println!("|---|---|");
    println!(
        "| foldline, state cached in the process (reads the tail only) | {} |",
        ms(cached)
    );
    println!(
        "| foldline, through its snapshot (no cache) | {} |",
        ms(with_snapshot)
    );
    println!(
        "| foldline, full replay (no snapshot) | {} |",
        ms(without_snapshot)
    );
    println!("| stock postgres-es, full replay | {} |", ms(stock_load));
}
