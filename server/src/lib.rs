//! The `foldline` binary's library: configuration, Postgres discovery,
//! migrations, fixtures, the HTTP service and telemetry. The integration tests use the same code.

// The schema's query root merges one object per area, each nested in the
// next; the future that resolves it is deeper than the default limit lets
// the compiler lay out.
#![recursion_limit = "256"]

pub mod audit;
pub mod cli;
pub mod database;
pub mod fixture;
pub mod graphiql;
pub mod http;
pub mod in_flight;
pub mod local_cluster;
pub mod replay;
pub mod serve;
pub mod telemetry;
