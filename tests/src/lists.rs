//! Every connection of the API with each of its filters, as cases the plan
//! test and the query-matrix benchmark share: the GraphQL a client sends,
//! and the statement the resolver runs for it (built by the API's own
//! [`statement`], so the two cannot differ).

use std::marker::PhantomData;

use async_graphql::InputType;
use async_trait::async_trait;
use foldline_graphql::activity::ActivityFilter;
use foldline_graphql::assignments::AssignmentFilter;
use foldline_graphql::calendar::CalendarFilter;
use foldline_graphql::connection::{probe, statement, Listed, PageStatements, Paged};
use foldline_graphql::documents::DocumentFilter;
use foldline_graphql::entities::{
    AssetFilter, CommentFilter, CompanyFilter, ContactFilter, ContractFilter, DocumentEntityFilter,
    EventFilter, ExpenseFilter, InvoiceFilter, ProductionAdvanceFilter, ShiftFilter, TaskFilter,
    VenueFilter,
};
use foldline_graphql::inventory::InventoryFilter;
use foldline_graphql::ledger::LedgerFilter;
use foldline_graphql::locations::LocationFilter;
use foldline_graphql::page::{Cursor, Page};
use foldline_graphql::people::PeopleFilter;
use foldline_graphql::status::StatusFilter;
use serde_json::{json, Value};
use sqlx::{Arguments, Execute, Executor, PgConnection, PgPool};
use uuid::Uuid;

/// One connection of the schema.
#[async_trait]
pub trait List: Sync {
    /// The root field.
    fn field(&self) -> &'static str;
    /// The read table.
    fn table(&self) -> &'static str;
    /// A page's GraphQL, with `$filter`, `$first` and `$after` variables.
    fn graphql(&self) -> String;
    /// Whether a page with `filter` is prepared once per connection rather
    /// than planned at every call ([`Listed::ordered`]).
    fn prepared(&self, filter: &Value) -> bool;
    /// Runs the resolver's statements for one page on `conn`, decoding the
    /// rows into the API's row type; gives each row's cursor.
    async fn page(
        &self,
        conn: &mut PgConnection,
        filter: &Value,
        organization: Uuid,
        page: &Page,
    ) -> Vec<Cursor>;
    /// How many rows of the list, with `filter`, the caller on `conn` sees.
    async fn count(&self, conn: &mut PgConnection, filter: &Value, organization: Uuid) -> i64;
    /// The plan that statement runs with, executed: for a page planned
    /// per call, `EXPLAIN` of it; for a prepared one, its generic plan (it
    /// is prepared and explained as `EXECUTE` with generic plans forced),
    /// which is what it runs with once PostgreSQL stops planning it for
    /// its values. With `probing`, the plan of the page's [`probe`], if
    /// the filter has one.
    async fn explain(
        &self,
        conn: &mut PgConnection,
        filter: &Value,
        organization: Uuid,
        page: &Page,
        probing: bool,
    ) -> Option<Value>;
}

/// A connection whose filter is `F`.
pub struct Of<F> {
    field: &'static str,
    filter_type: &'static str,
    nodes: &'static str,
    filter: PhantomData<fn() -> F>,
}

impl<F> Of<F> {
    const fn new(field: &'static str, filter_type: &'static str, nodes: &'static str) -> Of<F> {
        Of {
            field,
            filter_type,
            nodes,
            filter: PhantomData,
        }
    }
}

/// The filter a client would send as `value`, parsed as the API parses it.
fn parse<F: InputType>(value: &Value) -> F {
    let value = async_graphql::Value::from_json(value.clone()).expect("a GraphQL value");
    F::parse(Some(value)).unwrap_or_else(|e| {
        panic!(
            "not a filter of this list: {}",
            e.into_server_error(Default::default()).message
        )
    })
}

#[async_trait]
impl<F: Listed + InputType> List for Of<F> {
    fn field(&self) -> &'static str {
        self.field
    }

    fn table(&self) -> &'static str {
        F::TABLE
    }

    fn graphql(&self) -> String {
        format!(
            "query($filter: {}, $first: Int, $after: String) {{
                {}(filter: $filter, first: $first, after: $after) {{
                    edges {{ node {{ {} }} }}
                    pageInfo {{ hasNextPage endCursor }}
                }}
            }}",
            self.filter_type, self.field, self.nodes
        )
    }

    fn prepared(&self, filter: &Value) -> bool {
        let page = Page::forward(1, None);
        !statement("", parse::<F>(filter), Uuid::nil(), &page)
            .expect("a statement")
            .planned_per_call
    }

    async fn page(
        &self,
        conn: &mut PgConnection,
        filter: &Value,
        organization: Uuid,
        page: &Page,
    ) -> Vec<Cursor> {
        let rows: Vec<F::Row> = PageStatements::new(parse::<F>(filter), organization, page)
            .expect("a statement")
            .fetch_all(conn)
            .await
            .expect("a page");
        rows.iter().map(Paged::cursor).collect()
    }

    async fn count(&self, conn: &mut PgConnection, filter: &Value, organization: Uuid) -> i64 {
        let everything = Page::forward(i32::MAX - 1, None);
        let head = "SELECT count(*) FROM (";
        let mut sql = statement(head, parse::<F>(filter), organization, &everything)
            .expect("a statement")
            .sql;
        sql.push(") matched");
        sql.build_query_scalar()
            .persistent(false)
            .fetch_one(conn)
            .await
            .expect("a count")
    }

    async fn explain(
        &self,
        conn: &mut PgConnection,
        filter: &Value,
        organization: Uuid,
        page: &Page,
        probing: bool,
    ) -> Option<Value> {
        let head = "EXPLAIN (ANALYZE, FORMAT JSON) ";
        let statement = if probing {
            probe(head, parse::<F>(filter), organization, page).expect("a statement")?
        } else {
            statement(head, parse::<F>(filter), organization, page).expect("a statement")
        };
        let mut sql = statement.sql;
        if statement.planned_per_call {
            // Planned for its values, as `EXPLAIN` plans it.
            return Some(
                sql.build_query_scalar()
                    .persistent(false)
                    .fetch_one(conn)
                    .await
                    .expect("a plan"),
            );
        }
        let text = sql.sql()[head.len()..].to_owned();
        let mut query = sql.build();
        let arguments = query
            .take_arguments()
            .expect("arguments")
            .expect("a statement with parameters");
        // EXECUTE takes its parameters as expressions of its own, not as
        // the protocol's: the values are written out as quoted literals.
        let quoted = (1..=arguments.len())
            .map(|n| format!("quote_nullable(${n}::text)"))
            .collect::<Vec<_>>()
            .join(", ");
        let literals: Vec<String> =
            // Not kept prepared: the same text comes with other types.
            sqlx::query_scalar_with(&format!("SELECT ARRAY[{quoted}]"), arguments)
                .persistent(false)
                .fetch_one(&mut *conn)
                .await
                .unwrap_or_else(|e| panic!("{text}: {e}"));
        // The generic plan, which a prepared statement is given once it
        // costs no more than the plans made for its values.
        conn.execute(
            format!("SET plan_cache_mode = force_generic_plan; PREPARE plan_check AS {text}")
                .as_str(),
        )
        .await
        .expect("prepare");
        let plan = sqlx::query_scalar(&format!(
            "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE plan_check({})",
            literals.join(", ")
        ))
        .fetch_one(&mut *conn)
        .await
        .expect("a plan");
        conn.execute("DEALLOCATE plan_check; SET plan_cache_mode = auto")
            .await
            .expect("deallocate");
        Some(plan)
    }
}

const CALENDAR: Of<CalendarFilter> = Of::new(
    "calendarEvents",
    "CalendarFilter",
    "id title startsAt endsAt sourceType entityType entityId status visibility",
);
const ACTIVITY: Of<ActivityFilter> = Of::new(
    "activityFeed",
    "ActivityFilter",
    "id activityType entityType entityId entityName actorId title createdAt",
);
const DOCUMENTS: Of<DocumentFilter> = Of::new(
    "documents",
    "DocumentFilter",
    "id documentType sourceType entityType entityId title fileUrl status expiresOn visibility updatedAt",
);
const LEDGER: Of<LedgerFilter> = Of::new(
    "ledger",
    "LedgerFilter",
    "id transactionType direction entityType entityId amount currency status counterpartyName \
     dueDate description visibility updatedAt",
);
const PEOPLE: Of<PeopleFilter> = Of::new(
    "people",
    "PeopleFilter",
    "id personType entityType entityId name email phone jobTitle role companyName visibility updatedAt",
);
const ASSIGNMENTS: Of<AssignmentFilter> = Of::new(
    "assignments",
    "AssignmentFilter",
    "id assignmentType entityType entityId entityName userId role status startsAt endsAt visibility updatedAt",
);
const LOCATIONS: Of<LocationFilter> = Of::new(
    "locations",
    "LocationFilter",
    "id locationType entityType entityId name city country latitude longitude capacity visibility updatedAt",
);
const STATUSES: Of<StatusFilter> = Of::new(
    "statuses",
    "StatusFilter",
    "id entityType entityId entityName currentStatus statusCategory changedAt dueDate priority \
     visibility updatedAt",
);
const INVENTORY: Of<InventoryFilter> = Of::new(
    "inventory",
    "InventoryFilter",
    "id itemType entityId name tag quantity status locationId visibility updatedAt",
);

/// Each aggregate type's list, with the parents its filter names (GraphQL
/// key and column) and whether it filters on status.
struct EntityList {
    list: &'static dyn List,
    entity_type: &'static str,
    status: bool,
    parents: &'static [(&'static str, &'static str)],
}

const ENTITY_LISTS: &[EntityList] = &[
    EntityList {
        list: &Of::<ProductionAdvanceFilter>::new(
            "productionAdvances",
            "ProductionAdvanceFilter",
            "id version code status priority totalCost awaitingCapability",
        ),
        entity_type: "ProductionAdvance",
        status: true,
        parents: &[("eventId", "event_id"), ("assigneeId", "assignee_id")],
    },
    EntityList {
        list: &Of::<InvoiceFilter>::new(
            "invoices",
            "InvoiceFilter",
            "id version number status direction dueOn total balance",
        ),
        entity_type: "Invoice",
        status: true,
        parents: &[("companyId", "company_id")],
    },
    EntityList {
        list: &Of::<ContractFilter>::new(
            "contracts",
            "ContractFilter",
            "id version status counterpartyName currentTerms { title value }",
        ),
        entity_type: "Contract",
        status: true,
        parents: &[("companyId", "company_id")],
    },
    EntityList {
        list: &Of::<EventFilter>::new(
            "events",
            "EventFilter",
            "id version title kind status startsAt venueId",
        ),
        entity_type: "Event",
        status: true,
        parents: &[("venueId", "venue_id")],
    },
    EntityList {
        list: &Of::<VenueFilter>::new("venues", "VenueFilter", "id version name kind capacity"),
        entity_type: "Venue",
        status: false,
        parents: &[],
    },
    EntityList {
        list: &Of::<TaskFilter>::new(
            "tasks",
            "TaskFilter",
            "id version title status priority dueAt assignee",
        ),
        entity_type: "Task",
        status: true,
        parents: &[("eventId", "event_id"), ("assigneeId", "assignee_id")],
    },
    EntityList {
        list: &Of::<ShiftFilter>::new(
            "shifts",
            "ShiftFilter",
            "id version role status memberId eventId startsAt endsAt",
        ),
        entity_type: "Shift",
        status: true,
        parents: &[("eventId", "event_id"), ("assigneeId", "assignee_id")],
    },
    EntityList {
        list: &Of::<AssetFilter>::new(
            "assets",
            "AssetFilter",
            "id version name kind status quantity value",
        ),
        entity_type: "Asset",
        status: true,
        parents: &[("venueId", "venue_id"), ("assigneeId", "assignee_id")],
    },
    EntityList {
        list: &Of::<CompanyFilter>::new("companies", "CompanyFilter", "id version name kind"),
        entity_type: "Company",
        status: false,
        parents: &[],
    },
    EntityList {
        list: &Of::<ContactFilter>::new(
            "contacts",
            "ContactFilter",
            "id version name kind email companyId",
        ),
        entity_type: "Contact",
        status: false,
        parents: &[("companyId", "company_id")],
    },
    EntityList {
        list: &Of::<ExpenseFilter>::new(
            "expenses",
            "ExpenseFilter",
            "id version description status amount currency",
        ),
        entity_type: "Expense",
        status: true,
        parents: &[("eventId", "event_id")],
    },
    EntityList {
        list: &Of::<DocumentEntityFilter>::new(
            "documentEntities",
            "DocumentEntityFilter",
            "id version title kind status expiresOn",
        ),
        entity_type: "Document",
        status: true,
        parents: &[("attachedTo", "attached_to")],
    },
    EntityList {
        list: &Of::<CommentFilter>::new("comments", "CommentFilter", "id version body kind"),
        entity_type: "Comment",
        status: false,
        parents: &[("attachedTo", "attached_to")],
    },
];

/// Where each of the first `pages` pages of `first` rows starts (`None`
/// for the first), as the caller on `conn` pages through the list; fewer
/// when the list ends sooner.
pub async fn page_starts(
    list: &dyn List,
    conn: &mut PgConnection,
    filter: &Value,
    organization: Uuid,
    first: i32,
    pages: usize,
) -> Vec<Option<Cursor>> {
    let mut starts = vec![None];
    while starts.len() < pages {
        let page = Page::forward(first, *starts.last().expect("a start"));
        let cursors = list.page(conn, filter, organization, &page).await;
        if cursors.len() <= first as usize {
            break;
        }
        starts.push(Some(cursors[first as usize - 1]));
    }
    starts
}

/// One list with one filter.
pub struct Case {
    /// How the case reads, e.g. `activityFeed(filter: {actorId})`.
    pub name: String,
    /// The connection.
    pub list: &'static dyn List,
    /// The filter, as GraphQL variables give it.
    pub filter: Value,
}

/// Every connection with no filter and with each of its filters alone, the
/// values taken from `organization`'s rows: the most common value of each
/// column filtered on, its busiest month for a time range, a word's first
/// three letters for a search.
pub async fn cases(pool: &PgPool, organization: Uuid) -> Vec<Case> {
    let pick = Picker { pool, organization };
    let mut cases = Vec::new();
    let mut add = |list: &'static dyn List, filter: Value| {
        let keys: Vec<&str> = filter
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        cases.push(Case {
            name: format!("{}(filter: {{{}}})", list.field(), keys.join(", ")),
            list,
            filter: filter.clone(),
        });
    };

    add(&CALENDAR, json!({}));
    let (from, to) = pick.month("calendar_events", "starts_at").await;
    add(&CALENDAR, json!({"from": from, "to": to}));
    let source = pick.common("calendar_events", "source_type").await;
    add(&CALENDAR, json!({"sourceType": enum_value(&source)}));
    let entity = pick.common("calendar_events", "entity_id").await;
    add(&CALENDAR, json!({"entityId": entity}));

    add(&ACTIVITY, json!({}));
    for (key, column) in [
        ("entityType", "entity_type"),
        ("entityId", "entity_id"),
        ("actorId", "actor_id"),
    ] {
        let mut value = pick.common("activity_feed", column).await;
        if key == "entityType" {
            value = enum_value(&value);
        }
        add(&ACTIVITY, json!({ key: value }));
    }

    add(&DOCUMENTS, json!({}));
    for (key, column) in [
        ("documentType", "document_type"),
        ("status", "status"),
        ("entityId", "entity_id"),
    ] {
        let mut value = pick.common("document_registry", column).await;
        if key == "documentType" {
            value = enum_value(&value);
        }
        add(&DOCUMENTS, json!({ key: value }));
    }
    let day = pick
        .median("document_registry", "expires_on", "2027-01-01")
        .await;
    add(&DOCUMENTS, json!({"expiringBefore": day}));

    add(&LEDGER, json!({}));
    for (key, column) in [
        ("direction", "direction"),
        ("status", "status"),
        ("counterpartyId", "counterparty_id"),
        ("eventId", "event_id"),
    ] {
        let mut value = pick.common("financial_ledger", column).await;
        if key == "direction" {
            // The table's `receivable` is the enum's RECEIVABLE.
            value = value.to_uppercase();
        }
        add(&LEDGER, json!({ key: value }));
    }
    let (from, to) = pick.month("financial_ledger", "transaction_date").await;
    add(&LEDGER, json!({"from": &from[..10], "to": &to[..10]}));

    add(&PEOPLE, json!({}));
    let name = pick.common("people_directory", "name").await;
    add(&PEOPLE, json!({"search": prefix(&name)}));
    let person_type = pick.common("people_directory", "person_type").await;
    add(&PEOPLE, json!({"personType": enum_value(&person_type)}));

    add(&ASSIGNMENTS, json!({}));
    let user = pick.common("assignments", "user_id").await;
    add(&ASSIGNMENTS, json!({"userId": user}));
    let (from, to) = pick.month("assignments", "starts_at").await;
    add(&ASSIGNMENTS, json!({"from": from, "to": to}));
    let status = pick.common("assignments", "status").await;
    add(&ASSIGNMENTS, json!({"status": status}));

    add(&LOCATIONS, json!({}));
    let location_type = pick.common("location_registry", "location_type").await;
    add(
        &LOCATIONS,
        json!({"locationType": enum_value(&location_type)}),
    );
    let name = pick.common("location_registry", "name").await;
    add(&LOCATIONS, json!({"search": prefix(&name)}));
    let (latitude, longitude): (f64, f64) = sqlx::query_as(
        "SELECT latitude, longitude FROM location_registry
         WHERE organization_id = $1 AND latitude IS NOT NULL LIMIT 1",
    )
    .bind(organization)
    .fetch_optional(pool)
    .await
    .expect("a located place")
    .unwrap_or((52.37, 4.89));
    add(
        &LOCATIONS,
        json!({"within": {"latitude": latitude, "longitude": longitude, "kilometres": 50.0}}),
    );

    add(&STATUSES, json!({}));
    add(&STATUSES, json!({"category": "ACTIVE"}));
    let entity_type = pick.common("status_tracker", "entity_type").await;
    add(&STATUSES, json!({"entityType": enum_value(&entity_type)}));
    add(&STATUSES, json!({"overdue": true}));

    add(&INVENTORY, json!({}));
    for (key, column) in [
        ("itemType", "item_type"),
        ("status", "status"),
        ("locationId", "location_id"),
    ] {
        let mut value = pick.common("inventory_registry", column).await;
        if key != "locationId" {
            value = enum_value(&value);
        }
        add(&INVENTORY, json!({ key: value }));
    }
    let when = pick
        .median(
            "inventory_registry",
            "next_maintenance_at",
            "2027-01-01T00:00:00Z",
        )
        .await;
    add(&INVENTORY, json!({"maintenanceDueBefore": when}));

    // Each type's list, alone and with each of its filters; a filter is
    // tried where the organization has a value for it.
    for entity in ENTITY_LISTS {
        let rows = format!(
            "(SELECT * FROM entity_directory WHERE entity_type = '{}') listed",
            entity.entity_type
        );
        add(entity.list, json!({}));
        if entity.status {
            if let Some(status) = pick.common_or_none(&rows, "status").await {
                add(entity.list, json!({"status": [status.to_uppercase()]}));
            }
        }
        for (key, column) in entity.parents {
            if let Some(value) = pick.common_or_none(&rows, column).await {
                add(entity.list, json!({ *key: value }));
            }
        }
        if let Some(name) = pick.common_or_none(&rows, "name").await {
            add(entity.list, json!({"search": prefix(&name)}));
        }
        if entity.entity_type == "ProductionAdvance" {
            add(entity.list, json!({"awaitingMyApproval": true}));
        }
    }
    cases
}

/// The GraphQL enum value of an entity type stored as `ProductionAdvance`:
/// `PRODUCTION_ADVANCE`.
fn enum_value(stored: &str) -> String {
    let mut value = String::new();
    for (i, c) in stored.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            value.push('_');
        }
        value.push(c.to_ascii_uppercase());
    }
    value
}

/// The first three letters of `name`'s first word: what a user types
/// before the list narrows.
fn prefix(name: &str) -> String {
    name.split_whitespace()
        .next()
        .unwrap_or(name)
        .chars()
        .take(3)
        .collect()
}

/// Values of an organization's rows, as text.
struct Picker<'a> {
    pool: &'a PgPool,
    organization: Uuid,
}

impl Picker<'_> {
    /// The most common value of `column`.
    async fn common(&self, table: &str, column: &str) -> String {
        self.common_or_none(table, column)
            .await
            .unwrap_or_else(|| panic!("the organization has no {column} in {table}"))
    }

    /// The most common value of `column`, if any row has one.
    async fn common_or_none(&self, table: &str, column: &str) -> Option<String> {
        self.optional(&format!(
            "SELECT {column}::text FROM {table}
             WHERE organization_id = $1 AND {column} IS NOT NULL
             GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
        ))
        .await
    }

    /// The median of `column`, a time or a date, in RFC 3339 or ISO form;
    /// `fallback` when no row has one (the filter is still tried).
    async fn median(&self, table: &str, column: &str, fallback: &str) -> String {
        self.optional(&format!(
            "SELECT CASE WHEN pg_typeof(m)::text = 'date' THEN m::text
                         ELSE to_char(m::timestamptz AT TIME ZONE 'UTC',
                                      'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') END
             FROM (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY {column}) AS m
                   FROM {table} WHERE organization_id = $1) median"
        ))
        .await
        .unwrap_or_else(|| fallback.to_owned())
    }

    /// The busiest month of `column`: its first instant and the next
    /// month's, in RFC 3339.
    async fn month(&self, table: &str, column: &str) -> (String, String) {
        let both = self
            .value(&format!(
                "SELECT to_char(m, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') || ' '
                        || to_char(m + interval '1 month', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
                 FROM (SELECT date_trunc('month', {column}::timestamptz AT TIME ZONE 'UTC') AS m
                       FROM {table} WHERE organization_id = $1 AND {column} IS NOT NULL
                       GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1) busiest"
            ))
            .await;
        let (start, end) = both.split_once(' ').expect("two instants");
        (start.to_owned(), end.to_owned())
    }

    async fn value(&self, sql: &str) -> String {
        self.optional(sql)
            .await
            .unwrap_or_else(|| panic!("the organization has no value for: {sql}"))
    }

    async fn optional(&self, sql: &str) -> Option<String> {
        sqlx::query_scalar::<_, Option<String>>(sql)
            .bind(self.organization)
            .fetch_optional(self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .flatten()
    }
}
