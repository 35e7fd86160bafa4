//! Workloads of every kind, and runtimes of new kinds written in Python.
//!
//! `Store.register_runtime(obj)` puts a Python object behind [`volt_core::Runtime`]: its `kind`
//! attribute names the kind, and each trait method calls the object's method of the same name
//! (`list()`, `status(name)`, `start(name)`, `stop(name, timeout)`, `kill(name, signal)`,
//! `delete(name)`, `create(spec)`, `exec(name, argv)`, `logs(name, lines)`, `update(name, memory,
//! cpu_percent)`, `pause(name)`, `resume(name)`; restart is stop then start) with the GIL taken
//! for the call. Results come back through JSON into the
//! core's types, so a workload is a dict with `name`, `kind`, `status`, `pid` and `detail`.

use pyo3::prelude::*;
use serde::de::DeserializeOwned;
use volt_core::{Error, Result, Runtime, WorkloadInfo, WorkloadSpec};

/// A runtime implemented by a Python object.
pub(crate) struct PyRuntime {
    /// The kind, kept for the process's life: [`Runtime::kind`] hands out `&'static str`, and
    /// a kind is registered once.
    kind: &'static str,
    obj: Py<PyAny>,
}

impl PyRuntime {
    /// Wrap `obj`, whose `kind` attribute must be a string.
    pub(crate) fn new(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        let kind: String = obj
            .getattr("kind")
            .and_then(|k| k.extract())
            .map_err(|_| crate::error::usage("register_runtime: the runtime needs a `kind` attribute (a str)"))?;
        Ok(PyRuntime { kind: Box::leak(kind.into_boxed_str()), obj: obj.clone().unbind() })
    }

    fn fail(&self, method: &str, e: impl std::fmt::Display) -> Error {
        Error::Workload { name: format!("{} runtime", self.kind), reason: format!("{method}: {e}") }
    }

    /// Call `method(*args)` on the object and read its result as `T` (through JSON).
    fn call<T, A>(&self, method: &str, args: A) -> Result<T>
    where
        T: DeserializeOwned,
        A: for<'py> pyo3::call::PyCallArgs<'py>,
    {
        Python::attach(|py| {
            let obj = self.obj.bind(py);
            if !obj.hasattr(method).unwrap_or(false) {
                return Err(Error::Unsupported(format!("the {} runtime has no {method}()", self.kind)));
            }
            let out = obj.call_method1(method, args).map_err(|e| self.fail(method, e))?;
            let text: String = py
                .import("json")
                .and_then(|j| j.getattr("dumps")?.call1((out,))?.extract())
                .map_err(|e| self.fail(method, e))?;
            serde_json::from_str(&text).map_err(|e| self.fail(method, format!("unexpected result: {e}")))
        })
    }

    /// Call a method whose result does not matter.
    fn run<A>(&self, method: &str, args: A) -> Result<()>
    where
        A: for<'py> pyo3::call::PyCallArgs<'py>,
    {
        self.call::<serde_json::Value, A>(method, args).map(drop)
    }
}

#[async_trait::async_trait]
impl Runtime for PyRuntime {
    fn kind(&self) -> &'static str {
        self.kind
    }
    async fn create(&self, spec: &WorkloadSpec) -> Result<WorkloadInfo> {
        let json = serde_json::to_string(spec).expect("specs serialise");
        let spec = Python::attach(|py| -> PyResult<Py<PyAny>> {
            Ok(py.import("json")?.getattr("loads")?.call1((json,))?.unbind())
        })
        .map_err(|e| self.fail("create", e))?;
        self.call("create", (spec,))
    }
    async fn start(&self, name: &str) -> Result<()> {
        self.run("start", (name,))
    }
    async fn stop(&self, name: &str, timeout_secs: u64) -> Result<()> {
        self.run("stop", (name, timeout_secs))
    }
    async fn kill(&self, name: &str, signal: i32) -> Result<()> {
        self.run("kill", (name, signal))
    }
    async fn delete(&self, name: &str) -> Result<()> {
        self.run("delete", (name,))
    }
    async fn status(&self, name: &str) -> Result<WorkloadInfo> {
        self.call("status", (name,))
    }
    async fn list(&self) -> Result<Vec<WorkloadInfo>> {
        let mut all: Vec<WorkloadInfo> = self.call("list", ())?;
        for w in &mut all {
            if w.kind.is_empty() {
                w.kind = self.kind.to_string();
            }
        }
        Ok(all)
    }
    async fn exec(&self, name: &str, argv: &[String]) -> Result<i32> {
        self.call("exec", (name, argv.to_vec()))
    }
    async fn logs(&self, name: &str, lines: usize) -> Result<Vec<String>> {
        self.call("logs", (name, lines))
    }
    async fn update(&self, name: &str, memory: Option<u64>, cpu_percent: Option<u32>) -> Result<()> {
        self.run("update", (name, memory, cpu_percent))
    }
    async fn pause(&self, name: &str) -> Result<()> {
        self.run("pause", (name,))
    }
    async fn resume(&self, name: &str) -> Result<()> {
        self.run("resume", (name,))
    }
}
