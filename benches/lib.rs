//! Benchmarks: `cargo bench -p volt-benches` (`--bench cas`, `--bench net`); peer comparisons in
//! `compare/` (`compare/network.sh` drives the `volt-netbench` binary of this package).
