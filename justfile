# Everyday tasks. `cargo install just` if it is missing.

# Run the service with the demo data.
demo:
    cargo run --bin foldline -- demo

# Run every test against a real PostgreSQL (found or started automatically).
test:
    cargo test --workspace

# Formatting and lints, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Benchmarks; figures go to BENCHMARKS.md.
bench:
    cargo bench -p foldline-tests --bench command_bus
    cargo bench -p foldline-tests --bench command_mix
    cargo bench -p foldline-tests --bench replay
    cargo bench -p foldline-tests --bench lag
    cargo bench -p foldline-tests --bench reactions
    cargo bench -p foldline-tests --bench api_load
    cargo bench -p foldline-tests --bench api_matrix
    cargo bench -p foldline-tests --bench audit
    cargo bench -p foldline-server --bench takeover

# The whole CI script.
ci:
    bash .ci/run
