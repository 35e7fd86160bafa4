//! Criterion benchmarks of volt-net's per-request pieces (no root needed). Run:
//! `cargo bench -p volt-benches --bench net`. The end-to-end comparisons with netavark,
//! aardvark-dns and a bare veth are in `compare/network.sh` (root, in a namespace of its own).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use volt_net::dns::{Lookup, Zone};
use volt_net::ipam::Ipam;

/// What Volt's DNS server does for each query: resolve a workload name, after checking that
/// the lease files have not changed (a stat of the networks directory and of each file).
fn zone_lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("dns-zone-lookup");
    for networks in [1usize, 8] {
        let t = tempfile::tempdir().unwrap();
        for n in 0..networks {
            let ipam = Ipam::new(t.path().join(format!("net{n}")));
            ipam.init(
                format!("10.{}.0.0/24", 100 + n).parse().unwrap(),
                format!("10.{}.0.1", 100 + n).parse().unwrap(),
            )
            .unwrap();
            for i in 0..100 {
                ipam.allocate(&format!("w{i}")).unwrap();
            }
        }
        let z = Zone::new(t.path(), "net0");
        assert!(matches!(z.lookup("w7"), Lookup::Found(_)));
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("100 names, networks", networks), |b| {
            b.iter(|| {
                i = (i + 37) % 100;
                black_box(z.lookup(&format!("w{i}")))
            })
        });
    }
    g.finish();
}

/// The lease file round trip of an attach and a release: flock, read, write, fsync, rename.
fn lease_round_trip(c: &mut Criterion) {
    let t = tempfile::tempdir().unwrap();
    let ipam = Ipam::new(t.path().join("net"));
    ipam.init("10.120.0.0/24".parse().unwrap(), "10.120.0.1".parse().unwrap()).unwrap();
    for i in 0..50 {
        ipam.allocate(&format!("w{i}")).unwrap();
    }
    let mut g = c.benchmark_group("ipam");
    g.sample_size(30);
    g.bench_function("allocate + release, 50 leases held", |b| {
        b.iter(|| {
            ipam.allocate("bench").unwrap();
            ipam.release("bench").unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, zone_lookup, lease_round_trip);
criterion_main!(benches);
