//! `volt._volt`, the native half of the `volt` Python package.
//!
//! One thin class, `store::Store`, wraps [`volt_core::Volt`]; `images::Images` (its `images`
//! attribute) wraps [`volt_core::image::Images`], `containers::Containers` (its `containers`
//! attribute) [`volt_core::container::Containers`] with `containers::Volumes` as its `volumes`,
//! `networks::Networks` (its `networks` attribute) [`volt_core::network::Networks`],
//! `vms::Vms` (its `vms` attribute) [`volt_core::vm::Vms`], and `registry::RegistryServer` a running
//! [`volt_registry`] server with its own tokio runtime. Every call that touches the disk or the
//! network releases the GIL (async SDK calls run on the module's single tokio runtime); results
//! cross into Python as the core's serde structs turned into plain dicts (see `convert.rs`);
//! errors become the exception class for their [`volt_core::ErrorKind`] (see `error.rs`);
//! progress callbacks are bridged in `progress.rs`.

mod containers;
mod convert;
mod error;
mod images;
mod networks;
mod progress;
mod registry;
mod store;
mod vms;
mod workloads;

use std::future::Future;
use std::sync::OnceLock;

use pyo3::prelude::*;
use tokio::runtime::Runtime;

/// The module's one tokio runtime: a single worker (the store's work runs on tokio's blocking
/// pool and on rayon, not on the workers), created on first use.
fn runtime() -> PyResult<&'static Runtime> {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("volt-python")
        .enable_all()
        .build()
        .map_err(|e| error::general(format!("cannot start the tokio runtime: {e}")))?;
    // A racing thread may have won; its runtime is kept and this one dropped.
    Ok(RUNTIME.get_or_init(|| rt))
}

/// Run `fut` to completion on the module's runtime with the GIL released.
///
/// A progress callback may call back into the module from a thread that is already driving a
/// future (tokio refuses to nest `block_on` there, by panicking); such calls block on a
/// short-lived thread of their own instead.
fn block_on<F>(py: Python<'_>, fut: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = runtime()?;
    Ok(py.detach(|| {
        if tokio::runtime::Handle::try_current().is_err() {
            return rt.block_on(fut);
        }
        std::thread::scope(|s| match s.spawn(|| rt.block_on(fut)).join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        })
    }))
}

/// Native part of the `volt` package; import `volt` instead.
#[pymodule]
fn _volt(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<store::Store>()?;
    m.add_class::<images::Images>()?;
    m.add_class::<containers::Containers>()?;
    m.add_class::<containers::Volumes>()?;
    m.add_class::<networks::Networks>()?;
    m.add_class::<vms::Vms>()?;
    m.add_class::<registry::RegistryServer>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
