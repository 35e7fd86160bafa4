//! Criterion benchmarks of Stellarium's building blocks. Run: `cargo bench -p volt-benches`.
//! Peer comparisons (ostree, cp -a, b3sum) are in `compare/`.

use std::fs;
use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use volt_cas::{Cas, CheckoutMode, Options};

fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Why SHA-2 is computed only where an OCI digest is needed.
fn hashing(c: &mut Criterion) {
    let data = noise(1, 64 << 20);
    let mut g = c.benchmark_group("hash-64MiB");
    g.throughput(Throughput::Bytes(data.len() as u64)).sample_size(10);
    g.bench_function("blake3", |b| b.iter(|| blake3::hash(black_box(&data))));
    g.bench_function("sha256", |b| {
        use sha2::Digest as _;
        b.iter(|| sha2::Sha256::digest(black_box(&data)))
    });
    g.finish();
}

fn chunked_put(c: &mut Criterion) {
    let data = noise(2, 64 << 20);
    let mut g = c.benchmark_group("put-64MiB-chunked");
    g.throughput(Throughput::Bytes(data.len() as u64)).sample_size(10);
    g.bench_function("new content", |b| {
        b.iter_with_setup(
            || tempfile::tempdir().unwrap(),
            |d| {
                let cas = Cas::open(d.path(), Options::default()).unwrap();
                let txn = cas.begin().unwrap();
                txn.put_reader(&mut &data[..], Path::new("mem"), &[], None).unwrap();
                txn.commit(None).unwrap();
                d // removed outside the measurement
            },
        )
    });
    g.finish();
}

fn tree(dir: &Path, files: usize) {
    for i in 0..files {
        let sub = dir.join(format!("d{}", i % 50));
        fs::create_dir_all(&sub).unwrap();
        fs::write(sub.join(format!("f{i}")), noise(i as u64, 512 + (i * 37) % 8192)).unwrap();
    }
}

fn build_and_checkout(c: &mut Criterion) {
    let src = tempfile::tempdir().unwrap();
    tree(src.path(), 5000);
    std::thread::sleep(std::time::Duration::from_millis(1100)); // out of the stat cache's racy window
    let mut g = c.benchmark_group("tree-5000-files");
    g.sample_size(10);
    g.bench_function(BenchmarkId::new("build", "cold store"), |b| {
        b.iter_with_setup(
            || tempfile::tempdir().unwrap(),
            |d| {
                let cas = Cas::open(d.path().join("cas"), Options::default()).unwrap();
                cas.build(src.path(), Some(&"b".parse().unwrap())).unwrap();
                d // removed outside the measurement
            },
        )
    });
    let d = tempfile::tempdir().unwrap();
    let cas = Cas::open(d.path().join("cas"), Options::default().with_cache_dir(d.path().join("cache"))).unwrap();
    let root = cas.build(src.path(), Some(&"b".parse().unwrap())).unwrap().root;
    g.bench_function(BenchmarkId::new("build", "unchanged"), |b| {
        b.iter(|| cas.build(src.path(), Some(&"b".parse().unwrap())).unwrap())
    });
    let mut n = 0;
    g.bench_function(BenchmarkId::new("checkout", "hardlink"), |b| {
        b.iter(|| {
            n += 1;
            cas.checkout(&root, &d.path().join(format!("co{n}")), CheckoutMode::Hardlink).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, hashing, chunked_put, build_and_checkout);
criterion_main!(benches);
