//! `volt.RegistryServer`: the built-in OCI registry ([`volt_registry`]) serving a store in the
//! background, and registry tokens.
//!
//! Each server owns a tokio runtime of its own (two workers) that lives as long as the server,
//! independent of the module's runtime, so requests keep being served while Python threads run
//! or block in other calls.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use pyo3::prelude::*;
use tokio::runtime::Runtime;
use volt_core::Volt;
use volt_registry::{Action, RunningRegistry, ServeOptions};

use crate::error::{self, IntoPyResult};

struct Running {
    rt: Runtime,
    registry: RunningRegistry,
}

/// A registry server running in the background (`Store.serve_registry`).
///
/// Stop it with `stop()`, or use it as a context manager. A server that is never stopped stops
/// abruptly (requests in flight are dropped) when the object is collected.
#[pyclass(module = "volt._volt", frozen)]
pub(crate) struct RegistryServer {
    addr: SocketAddr,
    url: String,
    running: Mutex<Option<Running>>,
}

fn ttl(what: &str, value: &str) -> PyResult<Duration> {
    volt_registry::auth::parse_ttl(value).map_err(|e| error::usage(format!("{what}: {e}")))
}

/// Start serving `volt`'s store (see `Store.serve_registry`).
pub(crate) fn serve(
    py: Python<'_>,
    volt: &Volt,
    bind: &str,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    token_ttl: &str,
) -> PyResult<RegistryServer> {
    // A host name may need a DNS lookup: without the GIL.
    let addr = py
        .detach(|| bind.to_socket_addrs().ok().and_then(|mut addrs| addrs.next()))
        .ok_or_else(|| error::usage(format!("bind {bind:?}: expected HOST:PORT (port 0 picks a free port)")))?;
    let mut opts = ServeOptions::default().bind(addr);
    match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => opts = opts.tls(cert, key),
        (None, None) => {}
        _ => return Err(error::usage("tls_cert and tls_key go together")),
    }
    opts.token_ttl = ttl("token_ttl", token_ttl)?;
    let volt = volt.clone();
    let started = py.detach(move || -> Result<Running, Result<volt_core::Error, String>> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("volt-registry")
            .enable_all()
            .build()
            .map_err(|e| Err(format!("cannot start the registry's tokio runtime: {e}")))?;
        let registry = rt.block_on(volt_registry::start(&volt, opts)).map_err(Ok)?;
        Ok(Running { rt, registry })
    });
    let running = match started {
        Ok(r) => r,
        Err(Ok(e)) => return Err(error::to_py(e)),
        Err(Err(msg)) => return Err(error::general(msg)),
    };
    Ok(RegistryServer {
        addr: running.registry.addr(),
        url: running.registry.url(),
        running: Mutex::new(Some(running)),
    })
}

/// Make a registry token (see `Store.registry_token`).
pub(crate) fn token(
    py: Python<'_>,
    volt: &Volt,
    repos: Vec<String>,
    actions: &str,
    ttl_text: &str,
    subject: &str,
) -> PyResult<String> {
    let actions = Action::parse_list(actions).map_err(|e| error::usage(format!("actions: {e}")))?;
    let ttl = ttl("ttl", ttl_text)?;
    py.detach(|| volt_registry::create_token(volt, &repos, &actions, ttl, subject)).py_err()
}

impl RegistryServer {
    fn take(&self) -> Option<Running> {
        self.running.lock().ok().and_then(|mut r| r.take())
    }
}

impl Drop for RegistryServer {
    fn drop(&mut self) {
        if let Some(r) = self.running.get_mut().ok().and_then(Option::take) {
            r.registry.shutdown(Duration::ZERO);
            r.rt.shutdown_background();
        }
    }
}

#[pymethods]
impl RegistryServer {
    /// The base URL, `http://HOST:PORT` (`https://` when serving TLS).
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// The port it listens on (the one picked when bound to port 0).
    #[getter]
    fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The address it listens on, `HOST:PORT` (`[v6]:PORT` for IPv6): the registry part of image
    /// references pushed to or pulled from it.
    #[getter]
    fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Whether the server has not been stopped yet.
    #[getter]
    fn running(&self) -> bool {
        self.running.lock().is_ok_and(|r| r.is_some())
    }

    /// Stop accepting connections, let requests in flight finish within `grace` seconds, and
    /// wait until the server has stopped. Does nothing if it is already stopped.
    #[pyo3(signature = (grace=30.0))]
    fn stop(&self, py: Python<'_>, grace: f64) -> PyResult<()> {
        let grace = Duration::try_from_secs_f64(grace)
            .map_err(|_| error::usage(format!("grace: {grace} is not a number of seconds >= 0")))?;
        let Some(Running { rt, registry }) = self.take() else { return Ok(()) };
        let result = py.detach(move || {
            registry.shutdown(grace);
            let r = rt.block_on(registry.wait());
            rt.shutdown_timeout(grace.max(Duration::from_secs(1)));
            r
        });
        result.py_err()
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// `stop()` with the default grace period; exceptions are not suppressed.
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Bound<'_, PyAny>,
        exc_value: Bound<'_, PyAny>,
        traceback: Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let _ = (exc_type, exc_value, traceback);
        self.stop(py, 30.0)
    }

    fn __repr__(&self) -> String {
        let state = if self.running() { "running" } else { "stopped" };
        format!("RegistryServer(url={:?}, {state})", self.url)
    }
}
