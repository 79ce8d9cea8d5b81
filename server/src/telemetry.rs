//! Logging set-up.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: human-readable lines on a terminal, or JSON
/// lines when `json` is set. `RUST_LOG` overrides the default `info` level.
pub fn init(json: bool) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
