//! Benchmarks: `cargo bench -p volt-benches`; peer comparisons in `compare/`.
