//! `volt.Store`: the content-addressed store (Stellarium) through [`volt_core::Volt`].

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use volt_core::cas::{Algorithm, CheckoutMode, RefName};
use volt_core::{Config, PutOptions, Volt};

use crate::block_on;
use crate::containers::Containers;
use crate::convert::to_python;
use crate::error::{self, IntoPyResult};
use crate::images::Images;
use crate::networks::Networks;
use crate::registry::{self, RegistryServer};
use crate::vms::Vms;

/// A Volt store.
///
/// `Store()` uses the configuration the CLI uses (`VOLT_CONFIG`, `VOLT_ROOT`, system paths);
/// `Store(root)` keeps every path under `root` (the store itself in `root/var/lib/volt/cas`),
/// whatever `VOLT_ROOT` says, and reads `root/etc/volt/config.yaml` unless `VOLT_CONFIG` is set.
/// A *target* is a digest (`blake3:…`, `sha256:…`, `sha512:…`, or 64 bare hex digits) or a
/// ref name. Every method releases the GIL while it works.
#[pyclass(module = "volt._volt", frozen)]
pub(crate) struct Store {
    volt: Volt,
    images: Py<Images>,
    containers: Py<Containers>,
    networks: Py<Networks>,
    vms: Py<Vms>,
}

fn ref_name(name: &str) -> PyResult<RefName> {
    name.parse::<RefName>().map_err(|e| error::to_py(e.into()))
}

fn opt_ref(name: Option<String>) -> PyResult<Option<RefName>> {
    name.as_deref().map(ref_name).transpose()
}

fn put_options(reference: Option<String>, also: Vec<String>) -> PyResult<PutOptions> {
    let also = also
        .iter()
        .map(|a| match a.as_str() {
            "sha256" => Ok(Algorithm::Sha256),
            "sha512" => Ok(Algorithm::Sha512),
            other => Err(error::usage(format!(
                "also: unknown alias algorithm {other:?} (expected \"sha256\" or \"sha512\"; blake3 is always computed)"
            ))),
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(PutOptions { also, reference: opt_ref(reference)? })
}

#[pymethods]
impl Store {
    #[new]
    #[pyo3(signature = (root=None))]
    fn new(py: Python<'_>, root: Option<PathBuf>) -> PyResult<Self> {
        let volt = py
            .detach(move || {
                let config = match root {
                    None => Config::load()?,
                    Some(root) => Config::load_under(root)?,
                };
                Volt::open(config)
            })
            .py_err()?;
        let images = Py::new(py, Images::new(volt.images().py_err()?.clone()))?;
        let root = volt.paths().root.display().to_string();
        let containers = Py::new(py, Containers::new(py, volt.containers().py_err()?, root.clone())?)?;
        let networks = Py::new(py, Networks::new(volt.networks(), root.clone()))?;
        let vms = Py::new(py, Vms::new(volt.vms().py_err()?, root))?;
        Ok(Store { volt, images, containers, networks, vms })
    }

    /// The store's images (`volt.Images`).
    #[getter]
    fn images(&self, py: Python<'_>) -> Py<Images> {
        self.images.clone_ref(py)
    }

    /// The containers and named volumes of this installation (`volt.Containers`).
    #[getter]
    fn containers(&self, py: Python<'_>) -> Py<Containers> {
        self.containers.clone_ref(py)
    }

    /// The networks of this installation (`volt.Networks`).
    #[getter]
    fn networks(&self, py: Python<'_>) -> Py<Networks> {
        self.networks.clone_ref(py)
    }

    /// The VMs and guest kernels of this installation (`volt.Vms`).
    #[getter]
    fn vms(&self, py: Python<'_>) -> Py<Vms> {
        self.vms.clone_ref(py)
    }

    /// Every workload of every kind (containers, VMs and registered runtimes' workloads), as
    /// dicts with `name`, `kind`, `status`, `pid` and `detail`, sorted by name: what `volt ps`
    /// shows.
    fn workloads<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let all = py.detach(|| self.volt.workloads()).py_err()?;
        to_python(py, &all)
    }

    /// The workload kinds this store runs: `container`, `vm`, then the registered ones.
    fn kinds(&self) -> Vec<String> {
        self.volt.kinds()
    }

    /// Add a runtime of a new kind written in Python: an object with a `kind` attribute (a str
    /// of `a-z`, `0-9`, `-`) and the methods of the kinds it supports, at least `list()`
    /// returning dicts with `name` and `status` (and optionally `pid`, `detail`). Its workloads
    /// then show in `workloads()` beside containers and VMs.
    fn register_runtime(&self, runtime: &Bound<'_, PyAny>) -> PyResult<()> {
        let rt = crate::workloads::PyRuntime::new(runtime)?;
        self.volt.register_runtime(std::sync::Arc::new(rt)).py_err()
    }

    /// The store directory (`<root>/var/lib/volt/cas`).
    #[getter]
    fn root(&self) -> String {
        self.volt.paths().cas_dir().display().to_string()
    }

    fn __repr__(&self) -> String {
        format!("Store(root={:?})", self.volt.paths().root.display().to_string())
    }

    /// Store a file (streamed; large files are chunked). `ref` names the object (otherwise gc
    /// may collect it); `also` records SHA-2 aliases ("sha256", "sha512").
    #[pyo3(signature = (path, r#ref=None, also=Vec::new()), text_signature = "(self, /, path, ref=None, also=())")]
    fn put_file<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        r#ref: Option<String>,
        also: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let opts = put_options(r#ref, also)?;
        let out = block_on(py, self.volt.store().put_file(&path, opts))?.py_err()?;
        to_python(py, &out)
    }

    /// Store bytes held in memory; arguments as for `put_file`.
    #[pyo3(signature = (data, r#ref=None, also=Vec::new()), text_signature = "(self, /, data, ref=None, also=())")]
    fn put_bytes<'py>(
        &self,
        py: Python<'py>,
        data: Vec<u8>,
        r#ref: Option<String>,
        also: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let opts = put_options(r#ref, also)?;
        let out = block_on(py, self.volt.store().put_bytes(data, opts))?.py_err()?;
        to_python(py, &out)
    }

    /// Write an object's bytes to `dest_path`, atomically replacing it (a temporary file beside
    /// it is renamed over it); returns the byte count. `dest_path` is untouched on failure.
    fn get(&self, py: Python<'_>, target: String, dest_path: PathBuf) -> PyResult<u64> {
        block_on(py, self.volt.store().get_to_path(&target, &dest_path))?.py_err()
    }

    /// An object's bytes.
    fn read<'py>(&self, py: Python<'py>, target: String) -> PyResult<Bound<'py, PyBytes>> {
        let data = block_on(py, self.volt.store().read(&target))?.py_err()?;
        Ok(PyBytes::new(py, &data))
    }

    /// Is the target stored? (A malformed digest or ref name still raises `UsageError`.)
    fn has(&self, py: Python<'_>, target: String) -> PyResult<bool> {
        block_on(py, self.volt.store().has(&target))?.py_err()
    }

    /// Describe an object.
    fn stat<'py>(&self, py: Python<'py>, target: String) -> PyResult<Bound<'py, PyAny>> {
        let info = block_on(py, self.volt.store().stat(&target))?.py_err()?;
        to_python(py, &info)
    }

    /// Store the directory `dir` as a tree, pointing `ref` at it if given.
    #[pyo3(signature = (dir, r#ref=None))]
    fn build<'py>(&self, py: Python<'py>, dir: PathBuf, r#ref: Option<String>) -> PyResult<Bound<'py, PyAny>> {
        let reference = opt_ref(r#ref)?;
        let report = block_on(py, self.volt.store().build(&dir, reference))?.py_err()?;
        to_python(py, &report)
    }

    /// Materialise a tree into `dest` (absent or empty). `mode` is "hardlink", "reflink" or
    /// "copy"; hardlinked files share inodes with the store and must not be modified.
    #[pyo3(signature = (target, dest, mode="hardlink"))]
    fn checkout<'py>(&self, py: Python<'py>, target: String, dest: PathBuf, mode: &str) -> PyResult<Bound<'py, PyAny>> {
        let mode: CheckoutMode = mode.parse().map_err(|e: volt_core::cas::Error| error::to_py(e.into()))?;
        let report = block_on(py, self.volt.store().checkout(&target, &dest, mode))?.py_err()?;
        to_python(py, &report)
    }

    /// Re-hash `target` and what it reaches, or the whole store when `None`.
    #[pyo3(signature = (target=None))]
    fn verify<'py>(&self, py: Python<'py>, target: Option<String>) -> PyResult<Bound<'py, PyAny>> {
        let report = block_on(py, self.volt.store().verify(target.as_deref()))?.py_err()?;
        to_python(py, &report)
    }

    /// Remove what no ref or in-flight writer reaches (count only, if `dry_run`).
    #[pyo3(signature = (dry_run=false))]
    fn gc<'py>(&self, py: Python<'py>, dry_run: bool) -> PyResult<Bound<'py, PyAny>> {
        let report = block_on(py, self.volt.store().gc(dry_run))?.py_err()?;
        to_python(py, &report)
    }

    /// Store totals.
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let status = block_on(py, self.volt.store().status())?.py_err()?;
        to_python(py, &status)
    }

    /// Sharing analysis with the `top` most-shared objects.
    #[pyo3(signature = (top=10))]
    fn dedup<'py>(&self, py: Python<'py>, top: usize) -> PyResult<Bound<'py, PyAny>> {
        let report = block_on(py, self.volt.store().dedup(top))?.py_err()?;
        to_python(py, &report)
    }

    /// Refs (`{"name", "target"}`), optionally only those under `prefix`.
    #[pyo3(signature = (prefix=None))]
    fn refs<'py>(&self, py: Python<'py>, prefix: Option<String>) -> PyResult<Bound<'py, PyAny>> {
        let refs = block_on(py, self.volt.store().refs(prefix.as_deref()))?.py_err()?;
        to_python(py, &refs)
    }

    /// Point ref `name` at `target`; returns the object's digest.
    fn set_ref(&self, py: Python<'_>, name: String, target: String) -> PyResult<String> {
        let name = ref_name(&name)?;
        let id = block_on(py, self.volt.store().set_ref(&name, &target))?.py_err()?;
        Ok(id.to_string())
    }

    /// Remove ref `name`.
    fn delete_ref(&self, py: Python<'_>, name: String) -> PyResult<()> {
        let name = ref_name(&name)?;
        block_on(py, self.volt.store().delete_ref(&name))?.py_err()
    }

    /// Serve this store as an OCI registry in the background on `bind` (`HOST:PORT`; port 0
    /// picks a free port), over HTTPS when `tls_cert` and `tls_key` (PEM files) are given.
    /// `token_ttl` is the lifetime of tokens the `/token` endpoint hands out.
    #[pyo3(signature = (bind="127.0.0.1:5000", tls_cert=None, tls_key=None, token_ttl="5m"))]
    fn serve_registry(
        &self,
        py: Python<'_>,
        bind: &str,
        tls_cert: Option<PathBuf>,
        tls_key: Option<PathBuf>,
        token_ttl: &str,
    ) -> PyResult<RegistryServer> {
        registry::serve(py, &self.volt, bind, tls_cert, tls_key, token_ttl)
    }

    /// A bearer token for this store's registry granting `actions` ("pull", "push", "delete",
    /// comma-separated, or "*") on each of `repos` (`*` and `prefix/*` patterns allowed) for
    /// `ttl` ("90s", "15m", "1h", "7d").
    #[pyo3(signature = (repos, actions="pull", ttl="1h", subject="python"))]
    fn registry_token(
        &self,
        py: Python<'_>,
        repos: Vec<String>,
        actions: &str,
        ttl: &str,
        subject: &str,
    ) -> PyResult<String> {
        registry::token(py, &self.volt, repos, actions, ttl, subject)
    }
}
