//! End-to-end tests against a real PostgreSQL, one database per test.

// Amounts are written in minor units grouped as major_minor (`1_500_00` is 1,500.00).
#![allow(clippy::inconsistent_digit_grouping)]

mod api;
mod audit;
mod bad_input;
mod browser;
mod command_bus;
mod discovery;
mod domain_rules;
mod entity_lists;
mod event_store;
mod fixtures;
mod leadership;
mod limits;
mod outages;
mod paging;
mod plans;
mod projections;
mod read_tables_a;
mod read_tables_b;
mod read_tables_c;
mod rebuild;
mod reports;
mod row_security;
mod subscriptions;
mod typed_commands;
mod typed_reads;
mod visibility;
mod webhooks;
mod workflow_flows;
mod workflows;
