//! Images and the built-in registry in Rust (the same scenario as `examples/c/image.c` and
//! `examples/python/image.py`): import a directory as the image `example/app:1`, inspect it,
//! serve the store as an OCI registry on a free loopback port, push the image there with a
//! bearer token, pull it back into a second, empty store, check that the root filesystem tree
//! came back bit for bit, export the copy as an OCI image layout and stop the registry.
//!
//! Run: `cargo run -p volt-examples --example image -- WORK DIR`
//! (WORK is an empty scratch directory: the two stores are WORK/first and WORK/second, the
//! export is WORK/app.oci; DIR is the root filesystem to import.)

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use volt_core::image::{Credentials, ImageName, Progress, ProgressFn, RemoteOptions};
use volt_core::{Config, Volt};
use volt_registry::{Action, ServeOptions};

// The registry runs as tasks on this runtime while the same runtime drives pushes and pulls, so
// use the multi-threaded flavour (the default of `#[tokio::main]`).
#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: {} WORK DIR", args[0]);
        return ExitCode::from(2);
    }
    match run(Path::new(&args[1]), Path::new(&args[2])).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error ({}): {e}", e.kind());
            ExitCode::from(e.kind().exit_code() as u8)
        }
    }
}

/// The progress callback: one line per report. Transfers and exports count bytes, `apply`
/// counts layers; `total` is `None` when it is not known in advance.
fn show_progress(p: &Progress) {
    // Digests are long: the algorithm and 12 hex digits are enough to tell blobs apart here.
    let item = if p.item.starts_with("sha256:") { p.item.get(..19).unwrap_or(&p.item) } else { &p.item };
    match p.total {
        Some(total) => println!("  {:<8} {item} {}/{total}", p.phase.name(), p.done),
        None => println!("  {:<8} {item}", p.phase.name()),
    }
}

async fn run(work: &Path, dir: &Path) -> volt_core::Result<bool> {
    let name: ImageName = "example/app:1".parse()?;
    // One callback for every operation. `import` and `export` borrow it (`&ProgressFn`); `push`
    // and `pull` hand it to worker threads, so they take an `Arc`.
    let progress: Arc<ProgressFn> = Arc::new(show_progress);
    let mut ok = true;

    // The first store, with every Volt path under WORK/first (as VOLT_ROOT=WORK/first would).
    let first = Volt::open(Config::load_under(work.join("first"))?)?;
    let images = first.images()?;

    // A plain directory imports as a one-layer image with a minimal config for this host.
    // `import` and `export` are synchronous (blocking file I/O): fine here, but in a server
    // run them under `tokio::task::spawn_blocking`.
    println!("import:   {} as {name}", dir.display());
    images.import(dir, &name, Some(&*progress))?;

    let rec = images.inspect(&name)?;
    println!("inspect:  id {}", rec.id);
    println!("          tree {} ({} entries, {} bytes)", rec.tree, rec.files, rec.size);
    println!("          {} layer(s), source {}", rec.layers.len(), rec.source);

    // Serve the first store as an OCI registry. Port 0 picks a free port; `addr()` says which.
    // The registry shares the store: blobs pushed to it and local images are stored once.
    let registry =
        volt_registry::start(&first, ServeOptions::default().bind(SocketAddr::from(([127, 0, 0, 1], 0)))).await?;
    println!("registry: {}", registry.url());

    // Pushing needs a token, signed with the store's key so that this registry accepts it. It is a
    // secret, so it is never printed.
    let token = volt_registry::create_token(
        &first,
        &["example/*".to_string()],
        &[Action::Pull, Action::Push],
        Duration::from_secs(600),
        "example",
    )?;
    let opts = RemoteOptions::default().with_credentials(Credentials::Bearer(token));

    // The registry part of a reference is HOST:PORT; loopback registries are spoken to in plain
    // HTTP (any other needs HTTPS unless the options say `insecure`).
    let target = format!("{}/example/app:1", registry.addr());
    println!("push:     {name} -> {target}");
    let pushed = images.push(&name, Some(&target), &opts, Some(progress.clone())).await?;
    println!(
        "          manifest {}, {} blob(s) uploaded, {} skipped, {} bytes",
        pushed.manifest_digest, pushed.uploaded, pushed.skipped, pushed.bytes
    );

    // A second store on its own root knows nothing of the first: everything comes over HTTP.
    let second = Volt::open(Config::load_under(work.join("second"))?)?;
    println!("pull:     {target} -> {name} (second store)");
    let copy = second.images()?.pull(&target, Some(&name), &opts, Some(progress.clone())).await?;

    // The tree id is the digest of the whole root filesystem (content, names, modes, links):
    // equal ids mean the image came back identical. The manifest must be the one pushed, too.
    let same_tree = copy.tree == rec.tree;
    let same_manifest = copy.manifest_digest == pushed.manifest_digest;
    println!("compare:  tree {} {}", copy.tree, if same_tree { "identical" } else { "DIFFERS" });
    println!("          manifest {} {}", copy.manifest_digest, if same_manifest { "identical" } else { "DIFFERS" });
    ok &= same_tree && same_manifest;

    // Export the pulled copy as an OCI image layout directory (skopeo, podman, ... read it; so
    // does `import`). The directory must be absent or empty; a name ending in .tar makes a tar.
    let layout = work.join("app.oci");
    println!("export:   {name} -> {}", layout.display());
    let exported = second.images()?.export(&name, &layout, Some(&*progress))?;
    let complete = layout.join("oci-layout").is_file() && layout.join("index.json").is_file();
    println!(
        "          {} blobs, {} bytes, {}",
        exported.blobs,
        exported.bytes,
        if complete { "oci-layout and index.json written" } else { "INCOMPLETE" }
    );
    ok &= complete;

    // Stop accepting connections, give requests in flight 5 s, and wait for the server to end.
    registry.shutdown(Duration::from_secs(5));
    registry.wait().await?;
    println!("registry: stopped");

    println!("{}", if ok { "all checks passed" } else { "some checks FAILED" });
    Ok(ok)
}
