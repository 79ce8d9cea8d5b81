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

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, AggregateContext, EventStore as _};
use foldline_aggregates::access::{Actor, Capability, Role};
use foldline_aggregates::address::Address;
use foldline_aggregates::asset::{Asset, AssetCommand, AssetKind};
use foldline_aggregates::comment::{Comment, CommentCommand, CommentKind};
use foldline_aggregates::company::{Company, CompanyCommand, CompanyKind};
use foldline_aggregates::contact::{Contact, ContactCommand, ContactKind};
use foldline_aggregates::contract::{Contract, ContractCommand, ContractTerms};
use foldline_aggregates::document::{Document, DocumentCommand, DocumentKind};
use foldline_aggregates::event::{Event, EventCommand, EventKind};
use foldline_aggregates::expense::{Expense, ExpenseCommand, ExpenseKind};
use foldline_aggregates::invoice::{Direction, Invoice, InvoiceCommand};
use foldline_aggregates::organization::Organization;
use foldline_aggregates::production_advance::{
    FulfillmentStage, ItemCategory, ItemStatus, ProductionAdvance, ProductionAdvanceCommand,
};
use foldline_aggregates::shift::{Shift, ShiftCommand};
use foldline_aggregates::task::{Task, TaskCommand};
use foldline_aggregates::venue::{Venue, VenueCommand, VenueKind};
use foldline_aggregates::{Command, CommandBus, CommandContext, DomainError, EntityRef};
use foldline_tests::commands::create_advance;
use foldline_tests::measure::{ms, Figures};
use foldline_tests::{stock_database, Org, TestDb};
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;
use uuid::Uuid;

/// One step of the mix: who sends which command to which aggregate.
struct Step {
    actor: Uuid,
    id: Uuid,
    command: Command,
}

fn hour(offset: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::hours(offset)
}

/// The commands of one iteration for `client`; ids are fresh, and the shift's
/// hours are the client's own so confirmed shifts never clash.
fn iteration(org: &Org, run: usize, client: usize, n: usize) -> Vec<Step> {
    let tag = format!("{run}-{client}-{n}");
    let (vendor, contact, venue, event, advance, task, shift, asset, invoice, expense) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    let (document, comment, contract) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let items: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
    let slot = ((run * 100 + client) * 10_000 + n) as i64 * 24;
    let member = org.member;
    let mut steps = Vec::new();
    let mut step =
        |actor: Uuid, id: Uuid, command: Command| steps.push(Step { actor, id, command });
    let address = Address {
        line1: "North Wall Quay".into(),
        city: "Dublin".into(),
        country: "IE".into(),
        ..Default::default()
    };
    step(
        member,
        vendor,
        Command::Company(CompanyCommand::RegisterCompany {
            kind: CompanyKind::Vendor,
            name: format!("Vendor {tag}"),
            website: None,
            email: Some(format!("hello+{tag}@vendor.example")),
            phone: None,
            office: None,
            visibility: Default::default(),
        }),
    );
    step(
        member,
        contact,
        Command::Contact(ContactCommand::AddContact {
            kind: ContactKind::CompanyContact,
            name: "Sara Byrne".into(),
            email: format!("sara+{tag}@vendor.example"),
            phone: None,
            title: Some("Account manager".into()),
            company_id: Some(vendor),
            visibility: Default::default(),
        }),
    );
    step(
        member,
        venue,
        Command::Venue(VenueCommand::RegisterVenue {
            name: format!("Hall {tag}"),
            kind: VenueKind::Venue,
            address,
            coordinates: None,
            capacity: Some(1200),
            contact: None,
            visibility: Default::default(),
        }),
    );
    step(
        member,
        event,
        Command::Event(EventCommand::PlanEvent {
            title: format!("Show {tag}"),
            kind: EventKind::Show,
            starts_at: hour(slot + 18),
            ends_at: hour(slot + 23),
            venue_id: Some(venue),
            visibility: Default::default(),
        }),
    );
    step(member, event, Command::Event(EventCommand::ConfirmEvent));
    step(
        member,
        advance,
        Command::ProductionAdvance(create_advance(&format!("ADV-{tag}"), event)),
    );
    for (i, item) in items.iter().enumerate() {
        step(
            member,
            advance,
            Command::ProductionAdvance(ProductionAdvanceCommand::AddItem {
                item_id: *item,
                name: format!("Item {i}"),
                category: ItemCategory::Technical,
                vendor_id: Some(vendor),
                quantity_required: 2,
                unit_cost: 1_500_00,
                schedule: Default::default(),
                critical_path: i == 0,
                depends_on: Default::default(),
            }),
        );
    }
    // 12,000.00: a production manager, then an event director.
    step(
        member,
        advance,
        Command::ProductionAdvance(ProductionAdvanceCommand::SubmitForApproval),
    );
    step(
        org.production_manager,
        advance,
        Command::ProductionAdvance(ProductionAdvanceCommand::Approve),
    );
    step(
        org.event_director,
        advance,
        Command::ProductionAdvance(ProductionAdvanceCommand::Approve),
    );
    for status in [ItemStatus::Confirmed, ItemStatus::Delivered] {
        step(
            member,
            advance,
            Command::ProductionAdvance(ProductionAdvanceCommand::ChangeItemStatus {
                item_id: items[0],
                status,
            }),
        );
    }
    step(
        member,
        advance,
        Command::ProductionAdvance(ProductionAdvanceCommand::RecordFulfillment {
            item_id: items[1],
            stage: FulfillmentStage::Shipped,
            percentage: 50,
        }),
    );
    step(
        member,
        task,
        Command::Task(TaskCommand::CreateTask {
            title: "Confirm power".into(),
            description: None,
            event_id: Some(event),
            project: None,
            assignee: Some(member),
            due_at: Some(hour(slot + 10)),
            priority: Default::default(),
            visibility: Default::default(),
        }),
    );
    step(member, task, Command::Task(TaskCommand::StartTask));
    step(member, task, Command::Task(TaskCommand::CompleteTask));
    step(
        member,
        shift,
        Command::Shift(ShiftCommand::ScheduleShift {
            member_id: member,
            event_id: event,
            role: "Rigger".into(),
            starts_at: hour(slot + 8),
            ends_at: hour(slot + 16),
            visibility: Default::default(),
        }),
    );
    step(member, shift, Command::Shift(ShiftCommand::ConfirmShift));
    step(
        member,
        asset,
        Command::Asset(AssetCommand::RegisterAsset {
            kind: AssetKind::Equipment,
            name: "Radio kit".into(),
            tag: Some(format!("RAD-{tag}")),
            quantity: 10,
            value: 2_400_00,
            currency: Default::default(),
            location_id: Some(venue),
            visibility: Default::default(),
        }),
    );
    step(
        member,
        asset,
        Command::Asset(AssetCommand::CheckOutAsset {
            holder: member,
            due_back: Some(hour(slot + 30)),
        }),
    );
    step(member, asset, Command::Asset(AssetCommand::CheckInAsset));
    step(
        member,
        invoice,
        Command::Invoice(InvoiceCommand::DraftInvoice {
            number: format!("INV-{tag}"),
            direction: Direction::Receivable,
            counterparty_id: org.client,
            counterparty_name: "Acme Festivals".into(),
            currency: Default::default(),
            due_on: NaiveDate::from_ymd_opt(2027, 3, 31).unwrap(),
            visibility: Default::default(),
        }),
    );
    for quantity in [1, 3] {
        step(
            member,
            invoice,
            Command::Invoice(InvoiceCommand::AddInvoiceLine {
                line_id: Uuid::new_v4(),
                description: "Production services".into(),
                quantity,
                unit_price: 2_000_00,
            }),
        );
    }
    step(
        org.finance,
        invoice,
        Command::Invoice(InvoiceCommand::IssueInvoice {
            issued_on: NaiveDate::from_ymd_opt(2027, 1, 2).unwrap(),
        }),
    );
    for amount in [3_000_00, 5_000_00] {
        step(
            org.finance,
            invoice,
            Command::Invoice(InvoiceCommand::RecordPayment {
                payment_id: Uuid::new_v4(),
                amount,
                paid_on: NaiveDate::from_ymd_opt(2027, 1, 20).unwrap(),
                method: "bank transfer".into(),
                reference: None,
            }),
        );
    }
    step(
        member,
        expense,
        Command::Expense(ExpenseCommand::RecordExpense {
            kind: ExpenseKind::PurchaseOrder,
            description: "Signage".into(),
            amount: 850_00,
            currency: Default::default(),
            payee: "Printhouse".into(),
            payee_id: Some(vendor),
            event_id: Some(event),
            incurred_on: NaiveDate::from_ymd_opt(2027, 1, 3).unwrap(),
            visibility: Default::default(),
        }),
    );
    step(
        member,
        expense,
        Command::Expense(ExpenseCommand::SubmitExpense),
    );
    step(
        org.finance,
        expense,
        Command::Expense(ExpenseCommand::ApproveExpense),
    );
    step(
        member,
        document,
        Command::Document(DocumentCommand::UploadDocument {
            linked_to: EntityRef {
                entity_type: "ProductionAdvance".into(),
                entity_id: advance,
            },
            kind: DocumentKind::Rider,
            title: "Rider".into(),
            url: "https://files.example.com/rider.pdf".into(),
            size_bytes: 284_113,
            mime_type: Some("application/pdf".into()),
            expires_on: None,
            visibility: Default::default(),
        }),
    );
    step(
        member,
        comment,
        Command::Comment(CommentCommand::PostComment {
            on: EntityRef {
                entity_type: "Event".into(),
                entity_id: event,
            },
            parent_id: None,
            kind: CommentKind::Comment,
            body: "Load-in moved to 08:00.".into(),
            visibility: Default::default(),
        }),
    );
    step(
        member,
        contract,
        Command::Contract(ContractCommand::DraftContract {
            counterparty_id: org.client,
            counterparty_name: "Acme Festivals".into(),
            currency: Default::default(),
            terms: ContractTerms {
                title: "Production services".into(),
                value: 8_000_00,
                starts_on: None,
                expires_on: None,
                document_url: None,
            },
            visibility: Default::default(),
        }),
    );
    step(
        member,
        contract,
        Command::Contract(ContractCommand::SendContract),
    );
    steps
}

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
