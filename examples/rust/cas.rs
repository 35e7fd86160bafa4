//! The Stellarium scenario in Rust (the same one as `examples/c/cas.c` and
//! `examples/python/cas.py`): store a directory as a tree under a ref, show the store's totals,
//! check the tree out with hardlinks, verify, round-trip some bytes, and handle an error by kind.
//!
//! Run: `cargo run -p volt-examples --example cas -- ROOT DIR`
//! (ROOT receives the whole Volt state: store, cache, audit log.)

use std::process::ExitCode;

use volt_core::cas::CheckoutMode;
use volt_core::{Config, ErrorKind, PutOptions, Volt};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: {} ROOT DIR", args[0]);
        return ExitCode::from(2);
    }
    match run(&args[1], &args[2]).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error ({}): {e}", e.kind());
            ExitCode::from(e.kind().exit_code() as u8)
        }
    }
}

async fn run(root: &str, dir: &str) -> volt_core::Result<bool> {
    let volt = Volt::open(Config::load_under(root)?)?;
    let store = volt.store();
    let mut ok = true;

    let built = store.build(dir.as_ref(), Some("examples/rust".parse()?)).await?;
    println!("tree:     {} ({} entries, {} files)", built.root, built.entries, built.files);

    let status = store.status().await?;
    println!(
        "status:   {} objects, {} bytes stored, dedup ratio {:.2}",
        status.objects, status.stored_bytes, status.dedup_ratio
    );

    let dest = std::path::Path::new(root).join("checkout");
    let co = store.checkout("examples/rust", &dest, CheckoutMode::Hardlink).await?;
    println!("checkout: {} entries into {}", co.entries, co.dest.display());

    let verify = store.verify(None).await?;
    println!("verify:   {}", if verify.is_clean() { "clean" } else { "DAMAGED" });
    ok &= verify.is_clean();

    let put = store.put_bytes(b"hello from Rust".to_vec(), PutOptions::default()).await?;
    let back = store.read(&put.id.to_string()).await?;
    println!("bytes:    {} -> {}", put.id, if back == b"hello from Rust" { "read back identical" } else { "MISMATCH" });
    ok &= back == b"hello from Rust";

    match store.checkout("examples/does-not-exist", &dest.join("x"), CheckoutMode::Copy).await {
        Err(e) if e.kind() == ErrorKind::NotFound => println!("error:    {}: {e}", e.kind()),
        other => {
            println!("expected a not-found error, got {other:?}");
            ok = false;
        }
    }
    Ok(ok)
}
