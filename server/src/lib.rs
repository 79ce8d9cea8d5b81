//! The `foldline` binary's library: configuration, Postgres discovery,
//! migrations, fixtures, the HTTP service and telemetry. The integration tests use the same code.

pub mod audit;
pub mod cli;
pub mod database;
pub mod fixture;
pub mod http;
pub mod in_flight;
pub mod local_cluster;
pub mod replay;
pub mod serve;
pub mod telemetry;
