//! The plans of every connection, with each filter, for a large
//! organization, as the API runs them (on its read connections, as the
//! caller, row security on, a prepared statement's generic plan or a
//! filtered page's plan for its values): a page is read in an index's order
//! and stops, or narrowed by an index to what its filter keeps before that
//! is sorted, when that is a small part of the list. No plan scans a read
//! table, and none reads or sorts the organization's rows beyond what its
//! filter keeps.

use foldline_graphql::caller::Caller;
use foldline_graphql::connection::PROBED_PAGES;
use foldline_graphql::page::Page;
use foldline_graphql::reads::Reads;
use foldline_projectors::rebuild::{rebuild, Target};
use foldline_tests::bulk::fill;
use foldline_tests::lists::{cases, page_starts};
use foldline_tests::{Org, TestDb};
use serde_json::{json, Value};

/// Rows per page, as a client asks.
const FIRST: i32 = 20;

/// The rows `search_matches` declares it returns
/// (`migrations/0017_search_matches.sql`).
const SEARCH_ESTIMATE: i64 = 100;

#[tokio::test]
async fn no_connection_sorts_or_scans_a_large_organization() {
    let db = TestDb::new().await;
    let org = Org::create(&db.bus(), "Plans").await;
    // One organization through the command bus, two copies of it: the
    // planner sees a table of several organizations, as in production.
    fill(&db, &org, 24_000, 8_000).await;
    rebuild(
        &db.pool,
        &foldline_projectors::all(),
        Target::InPlace,
        10_000,
        &|_, _| {},
    )
    .await
    .expect("projected");
    sqlx::query("ANALYZE").execute(&db.pool).await.unwrap();

    let reads = Reads::beside(&db.pool);
    let caller = |user_id, role: &str, capabilities: &[&str]| Caller {
        user_id,
        organization_id: org.id,
        role: role.to_owned(),
        capabilities: capabilities.iter().map(|c| c.to_string()).collect(),
    };
    let callers = [
        ("owner", caller(org.owner, "owner", &[])),
        ("member", caller(org.member, "member", &[])),
        ("finance", caller(org.finance, "member", &["finance"])),
    ];
    let mut faults = Vec::new();
    let mut checked = 0;
    for case in cases(&db.pool, org.id).await {
        let table = case.list.table();
        for (role, caller) in &callers {
            let mut conn = reads.as_caller(caller).await.unwrap();
            // A list with no filter is read in order and stops after ten
            // pages at most. One with a filter may also read what the
            // filter keeps, twice over (an index that narrows it less); it
            // may sort what it keeps only if that is a small part of the
            // list (a quarter at most): a filter that keeps most of the
            // organization is read in the list's order too. Words are the
            // exception: `search_matches` finds them through an index of
            // words, whose matches have no order to read them in. A filter
            // whose page is prepared, having said an index reads it in the
            // list's order, is read as a list with no filter is, whatever
            // its values: its one plan is made without them. The planner
            // expects `search_matches` to find 100 rows (its declared
            // estimate) whatever the words, so it may read a list of a few
            // hundred rows in order rather than look each match up: words
            // may read as if they kept that many.
            let matched = case.list.count(&mut conn, &case.filter, org.id).await;
            let listed = case.list.count(&mut conn, &json!({}), org.id).await;
            let pages = 10 * i64::from(FIRST);
            let unfiltered = case.filter.as_object().is_some_and(|o| o.is_empty());
            let by_words = case.filter.get("search").is_some();
            let (read_bound, sort_bound) = if unfiltered || case.list.prepared(&case.filter) {
                (pages, pages)
            } else if 4 * matched > listed && !by_words {
                (2 * matched + pages, pages)
            } else if by_words {
                (2 * matched.max(SEARCH_ESTIMATE) + pages, matched + pages)
            } else {
                (2 * matched + pages, matched + pages)
            };
            let starts = page_starts(case.list, &mut conn, &case.filter, org.id, FIRST, 5).await;
            for (number, after) in starts.into_iter().enumerate() {
                let number = number + 1;
                if number != 1 && number != 5 {
                    continue;
                }
                let page = Page::forward(FIRST, after);
                let plan = case
                    .list
                    .explain(&mut conn, &case.filter, org.id, &page, false)
                    .await
                    .expect("a plan");
                // Words are first looked for among the list's next pages,
                // read in order: that reads those pages and no more, or,
                // where the list has less than three times as many rows
                // left after the cursor, may read and sort what is left.
                let probed = case
                    .list
                    .explain(&mut conn, &case.filter, org.id, &page, true)
                    .await;
                let probe_pages = i64::from(PROBED_PAGES * FIRST) + 1;
                let left = listed - (number as i64 - 1) * i64::from(FIRST);
                let probe_bound = probe_pages.max(left.min(3 * probe_pages));
                let plans = [(plan, (read_bound, sort_bound), "")]
                    .into_iter()
                    .chain(probed.map(|p| (p, (probe_bound, probe_bound), " (probe)")));
                for (plan, bounds, which) in plans {
                    checked += 1;
                    let root = &plan[0]["Plan"];
                    let mut found = Vec::new();
                    inspect(root, table, bounds, &mut found);
                    if !found.is_empty() {
                        faults.push(format!(
                            "{} as {role}, page {number}{which} ({matched} rows listed): {}\n{}",
                            case.name,
                            found.join("; "),
                            serde_json::to_string_pretty(root).unwrap()
                        ));
                    }
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} plans were looked at");
    assert!(faults.is_empty(), "{}", faults.join("\n\n"));
}

/// Adds to `found` what in the plan under `node` reads `table` whole, or
/// reads or sorts more rows than `bounds` allow.
fn inspect(node: &Value, table: &str, bounds: (i64, i64), found: &mut Vec<String>) {
    let (read_bound, sort_bound) = bounds;
    let kind = node["Node Type"].as_str().unwrap_or_default();
    let count = |key: &str| {
        node[key].as_f64().unwrap_or(0.0) * node["Actual Loops"].as_f64().unwrap_or(1.0)
    };
    if kind == "Seq Scan" && node["Relation Name"] == table {
        found.push(format!("a sequential scan of {table}"));
    }
    if matches!(kind, "Index Scan" | "Index Only Scan" | "Bitmap Heap Scan") {
        let read = count("Actual Rows")
            + count("Rows Removed by Filter")
            + count("Rows Removed by Index Recheck");
        if read > read_bound as f64 {
            found.push(format!("{kind} reads {read} rows"));
        }
    }
    if kind == "Sort" {
        let sorted: f64 = node["Plans"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|child| {
                child["Actual Rows"].as_f64().unwrap_or(0.0)
                    * child["Actual Loops"].as_f64().unwrap_or(1.0)
            })
            .sum();
        if sorted > sort_bound as f64 {
            found.push(format!("a sort of {sorted} rows"));
        }
    }
    for child in node["Plans"].as_array().into_iter().flatten() {
        inspect(child, table, bounds, found);
    }
}
