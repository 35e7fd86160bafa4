//! `volt.Containers` and `volt.Volumes`: containers (Voltainer), their networks (connect,
//! disconnect) and named volumes through [`volt_core::container::Containers`].
//!
//! Every call is synchronous in the SDK and runs inside `py.detach(…)` on the calling thread, so
//! other Python threads keep running while a container starts, stops or is waited for.

use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use volt_core::container::{
    check_env, parse_memory, Containers as CoreContainers, CreateOptions, Limits, LogQuery, RestartPolicy,
    Volumes as CoreVolumes,
};
use volt_core::network::{check_network_name, PortMap};

use crate::convert::to_python;
use crate::error::{self, IntoPyResult};

/// A memory limit argument: bytes, or a size string such as `"512M"`.
#[derive(FromPyObject)]
pub(crate) enum MemoryArg {
    Bytes(u64),
    Text(String),
}

impl MemoryArg {
    fn bytes(&self) -> PyResult<u64> {
        match self {
            MemoryArg::Bytes(n) => parse_memory(&n.to_string()),
            MemoryArg::Text(s) => parse_memory(s),
        }
        .py_err()
    }
}

/// The keyword arguments `create` and `run` share, checked before any work is done. Volume
/// arguments are resolved later (that may create named volumes).
struct Spec {
    opts: CreateOptions,
    volumes: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
fn spec(
    command: Vec<String>,
    env: Vec<String>,
    volumes: Vec<String>,
    workdir: Option<String>,
    user: Option<String>,
    hostname: Option<String>,
    memory: Option<MemoryArg>,
    cpu: Option<u32>,
    pids: Option<u32>,
    restart: &str,
    copy_rootfs: bool,
    networks: Vec<String>,
    ports: Vec<String>,
) -> PyResult<Spec> {
    let mut opts = CreateOptions::default();
    opts.limits = Limits { memory: memory.as_ref().map(MemoryArg::bytes).transpose()?, cpu, pids };
    opts.limits.validate().py_err()?;
    opts.restart = restart.parse::<RestartPolicy>().py_err()?;
    for e in &env {
        check_env(e).py_err()?;
    }
    for n in &networks {
        check_network_name(n).py_err()?;
    }
    opts.ports = ports.iter().map(|p| p.parse::<PortMap>()).collect::<volt_core::Result<_>>().py_err()?;
    opts.networks = networks;
    opts.command = command;
    opts.env = env;
    opts.workdir = workdir;
    opts.user = user;
    opts.hostname = hostname;
    opts.copy_rootfs = copy_rootfs;
    Ok(Spec { opts, volumes })
}

impl Spec {
    /// The create options with the volume arguments resolved to mounts.
    fn resolve(mut self, c: &CoreContainers) -> volt_core::Result<CreateOptions> {
        for v in &self.volumes {
            self.opts.mounts.push(c.mount_from_arg(v)?);
        }
        Ok(self.opts)
    }
}

/// Seconds from Python as a duration; negative or not a number is a `UsageError`.
fn seconds(what: &str, s: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(s)
        .map_err(|_| error::usage(format!("{what} {s}: expected a number of seconds, 0 or more")))
}

/// The containers of a store (`Store.containers`).
///
/// Containers run on systemd-nspawn, supervised by systemd (units over D-Bus) where systemd is
/// PID 1, otherwise by `volt-supervisor` processes (found through `VOLT_SUPERVISOR`, next to the
/// running program, or on `PATH`). Running them needs root. Every method releases the GIL while it
/// works.
#[pyclass(module = "volt._volt", frozen)]
pub(crate) struct Containers {
    containers: CoreContainers,
    volumes: Py<Volumes>,
    root: String,
}

impl Containers {
    pub(crate) fn new(py: Python<'_>, containers: CoreContainers, root: String) -> PyResult<Self> {
        let volumes = Py::new(py, Volumes { volumes: containers.volumes().clone(), root: root.clone() })?;
        Ok(Containers { containers, volumes, root })
    }
}

#[pymethods]
impl Containers {
    fn __repr__(&self) -> String {
        format!("Containers(root={:?}, backend={:?})", self.root, self.containers.backend().as_str())
    }

    /// The supervisor in use: "systemd" or "direct".
    #[getter]
    fn backend(&self) -> &'static str {
        self.containers.backend().as_str()
    }

    /// The named volumes (`volt.Volumes`).
    #[getter]
    fn volumes(&self, py: Python<'_>) -> Py<Volumes> {
        self.volumes.clone_ref(py)
    }

    /// Create a stopped container `name` (None: a generated name) from image `image`. `command`
    /// defaults to the image's entrypoint and cmd; `volumes` are `"SOURCE:/path[:ro]"` (SOURCE a
    /// host path starting with `/` or `.`, or a named volume, created if missing); `memory` is
    /// bytes or a size such as "512M"; `cpu` is percent of one CPU; `restart` is "no",
    /// "on-failure" or "always"; `networks` are the networks it joins (`eth0`, `eth1`, … in this
    /// order; none: the host's network), an address on each reserved now; `ports` are
    /// `"HOSTPORT:PORT[/tcp|udp]"` forwards to its address on the first network. Returns the
    /// container's record.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(
        signature = (
            name, image, *, command=Vec::new(), env=Vec::new(), volumes=Vec::new(), workdir=None, user=None,
            hostname=None, memory=None, cpu=None, pids=None, restart="no", copy_rootfs=false, networks=Vec::new(),
            ports=Vec::new()
        ),
        text_signature = "(self, /, name, image, *, command=(), env=(), volumes=(), workdir=None, user=None, \
                          hostname=None, memory=None, cpu=None, pids=None, restart='no', copy_rootfs=False, \
                          networks=(), ports=())"
    )]
    fn create<'py>(
        &self,
        py: Python<'py>,
        name: Option<String>,
        image: String,
        command: Vec<String>,
        env: Vec<String>,
        volumes: Vec<String>,
        workdir: Option<String>,
        user: Option<String>,
        hostname: Option<String>,
        memory: Option<MemoryArg>,
        cpu: Option<u32>,
        pids: Option<u32>,
        restart: &str,
        copy_rootfs: bool,
        networks: Vec<String>,
        ports: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let spec = spec(
            command,
            env,
            volumes,
            workdir,
            user,
            hostname,
            memory,
            cpu,
            pids,
            restart,
            copy_rootfs,
            networks,
            ports,
        )?;
        let c = &self.containers;
        let info = py
            .detach(|| {
                let opts = spec.resolve(c)?;
                c.create(name.as_deref(), &image, &opts)
            })
            .py_err()?;
        to_python(py, &info)
    }

    /// Create a container (arguments as for `create`), start it and wait until it ends, collecting
    /// its output; with `rm` it is deleted afterwards (also when it fails to start). Returns the
    /// final record (`state["exit_code"]` is the workload's exit status) and the output lines.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(
        signature = (
            name, image, *, command=Vec::new(), env=Vec::new(), volumes=Vec::new(), workdir=None, user=None,
            hostname=None, memory=None, cpu=None, pids=None, restart="no", copy_rootfs=false, networks=Vec::new(),
            ports=Vec::new(), rm=false
        ),
        text_signature = "(self, /, name, image, *, command=(), env=(), volumes=(), workdir=None, user=None, \
                          hostname=None, memory=None, cpu=None, pids=None, restart='no', copy_rootfs=False, \
                          networks=(), ports=(), rm=False)"
    )]
    fn run<'py>(
        &self,
        py: Python<'py>,
        name: Option<String>,
        image: String,
        command: Vec<String>,
        env: Vec<String>,
        volumes: Vec<String>,
        workdir: Option<String>,
        user: Option<String>,
        hostname: Option<String>,
        memory: Option<MemoryArg>,
        cpu: Option<u32>,
        pids: Option<u32>,
        restart: &str,
        copy_rootfs: bool,
        networks: Vec<String>,
        ports: Vec<String>,
        rm: bool,
    ) -> PyResult<(Bound<'py, PyAny>, Vec<String>)> {
        let spec = spec(
            command,
            env,
            volumes,
            workdir,
            user,
            hostname,
            memory,
            cpu,
            pids,
            restart,
            copy_rootfs,
            networks,
            ports,
        )?;
        let c = &self.containers;
        let (info, lines) = py
            .detach(|| {
                let opts = spec.resolve(c)?;
                let mut lines = Vec::new();
                let info = c.run(name.as_deref(), &image, &opts, false, rm, &mut |l| lines.push(l.text.clone()))?;
                Ok((info, lines))
            })
            .py_err()?;
        Ok((to_python(py, &info)?, lines))
    }

    /// Start a stopped or failed container; returns once it runs. A running one raises
    /// `ConflictError`.
    fn start<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let c = &self.containers;
        let info = py.detach(|| c.start(name)).py_err()?;
        to_python(py, &info)
    }

    /// Stop a running container: SIGTERM, then SIGKILL after `timeout` seconds (default: the
    /// configured `containers.stop_timeout`).
    #[pyo3(signature = (name, timeout=None))]
    fn stop<'py>(&self, py: Python<'py>, name: &str, timeout: Option<u64>) -> PyResult<Bound<'py, PyAny>> {
        let c = &self.containers;
        let info = py.detach(|| c.stop(name, timeout)).py_err()?;
        to_python(py, &info)
    }

    /// Stop the container if it runs (`timeout` as for `stop`), then start it.
    #[pyo3(signature = (name, timeout=None))]
    fn restart<'py>(&self, py: Python<'py>, name: &str, timeout: Option<u64>) -> PyResult<Bound<'py, PyAny>> {
        let c = &self.containers;
        let info = py.detach(|| c.restart(name, timeout)).py_err()?;
        to_python(py, &info)
    }

    /// Send `signal` (1 to 64; default 9, SIGKILL) to the container's workload.
    #[pyo3(signature = (name, signal=9))]
    fn kill(&self, py: Python<'_>, name: &str, signal: i32) -> PyResult<()> {
        if !(1..=64).contains(&signal) {
            return Err(error::usage(format!("signal {signal}: expected 1 to 64")));
        }
        let c = &self.containers;
        py.detach(|| c.kill(name, signal)).py_err()
    }

    /// Delete a container; a running one raises `ConflictError` unless `force`, which stops it
    /// first. Named volumes stay.
    #[pyo3(signature = (name, force=false))]
    fn delete(&self, py: Python<'_>, name: &str, force: bool) -> PyResult<()> {
        let c = &self.containers;
        py.detach(|| c.delete(name, force)).py_err()
    }

    /// The record of container `name`, with its live state.
    fn inspect<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let c = &self.containers;
        let info = py.detach(|| c.inspect(name)).py_err()?;
        to_python(py, &info)
    }

    /// All containers, sorted by name.
    fn list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let c = &self.containers;
        let list = py.detach(|| c.list()).py_err()?;
        to_python(py, &list)
    }

    /// Run `argv` in the running container with no input and capture it: returns
    /// `(status, stdout, stderr)`, status 128+N after signal N.
    fn exec_output<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        argv: Vec<String>,
    ) -> PyResult<(i32, Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
        let c = &self.containers;
        let (status, out, err) = py.detach(|| c.exec_output(name, &argv)).py_err()?;
        Ok((status, PyBytes::new(py, &out), PyBytes::new(py, &err)))
    }

    /// The container's log lines (text, oldest first): the last `tail` lines, or all kept, of
    /// those written since `since` (RFC 3339, or an age such as "10m", "2h", "1d").
    #[pyo3(signature = (name, tail=None, since=None))]
    fn logs(&self, py: Python<'_>, name: &str, tail: Option<usize>, since: Option<&str>) -> PyResult<Vec<String>> {
        let query = LogQuery::parse(tail, since).py_err()?;
        let c = &self.containers;
        let lines = py.detach(|| c.logs(name, &query)).py_err()?;
        Ok(lines.into_iter().map(|l| l.text).collect())
    }

    /// Wait until the container no longer runs, at most `timeout` seconds (None: no limit);
    /// raises `VoltTimeoutError` if it still runs then. Returns its record.
    #[pyo3(signature = (name, timeout=None))]
    fn wait<'py>(&self, py: Python<'py>, name: &str, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let timeout = timeout.map(|t| seconds("timeout", t)).transpose()?;
        let c = &self.containers;
        let info = py.detach(|| c.wait(name, timeout)).py_err()?;
        to_python(py, &info)
    }

    /// Change limits (None keeps a value); a running container's cgroup is updated at once.
    #[pyo3(signature = (name, memory=None, cpu=None, pids=None))]
    fn update<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        memory: Option<MemoryArg>,
        cpu: Option<u32>,
        pids: Option<u32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let memory = memory.as_ref().map(MemoryArg::bytes).transpose()?;
        let c = &self.containers;
        let info = py.detach(|| c.update(name, memory, cpu, pids)).py_err()?;
        to_python(py, &info)
    }

    /// Usage counters of a running container.
    fn stats<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let c = &self.containers;
        let stats = py.detach(|| c.stats(name)).py_err()?;
        to_python(py, &stats)
    }

    /// CPU, memory, I/O and tasks of every running container, CPU measured over `interval`
    /// seconds (the call takes that long).
    #[pyo3(signature = (interval=1.0))]
    fn top<'py>(&self, py: Python<'py>, interval: f64) -> PyResult<Bound<'py, PyAny>> {
        let interval = seconds("interval", interval)?;
        let c = &self.containers;
        let rows = py.detach(|| c.top(interval)).py_err()?;
        to_python(py, &rows)
    }

    /// Put container `name` on `network` as its next interface (`eth1`, …): an address at once,
    /// the interface at once if it runs. `ConflictError` if it is on that network already, or
    /// runs on the host's network. Returns its record.
    fn connect<'py>(&self, py: Python<'py>, name: &str, network: &str) -> PyResult<Bound<'py, PyAny>> {
        let c = &self.containers;
        let info = py.detach(|| c.connect(name, network)).py_err()?;
        to_python(py, &info)
    }

    /// Take container `name` off `network`: its interface there, address and DNS name (and, for
    /// its first network, all its port forwards). While it runs only its last network can go;
    /// stopped, any can. `ConflictError` if it is not on that network, or for a running
    /// container's network other than its last. Returns its record.
    fn disconnect<'py>(&self, py: Python<'py>, name: &str, network: &str) -> PyResult<Bound<'py, PyAny>> {
        let c = &self.containers;
        let info = py.detach(|| c.disconnect(name, network)).py_err()?;
        to_python(py, &info)
    }
}

/// The named volumes of a store (`Store.containers.volumes`): directories that outlive the
/// containers mounting them.
#[pyclass(module = "volt._volt", frozen)]
pub(crate) struct Volumes {
    volumes: CoreVolumes,
    root: String,
}

#[pymethods]
impl Volumes {
    fn __repr__(&self) -> String {
        format!("Volumes(root={:?})", self.root)
    }

    /// Create volume `name` (same rules as container names).
    fn create<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let v = &self.volumes;
        let volume = py.detach(|| v.create(name)).py_err()?;
        to_python(py, &volume)
    }

    /// All volumes, sorted by name.
    fn list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let v = &self.volumes;
        let list = py.detach(|| v.list()).py_err()?;
        to_python(py, &list)
    }

    /// Volume `name`, with the containers whose configuration mounts it (`used_by`).
    fn inspect<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let v = &self.volumes;
        let volume = py.detach(|| v.inspect(name)).py_err()?;
        to_python(py, &volume)
    }

    /// Remove volume `name` and its data; `ConflictError` while a container mounts it.
    fn remove(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let v = &self.volumes;
        py.detach(|| v.remove(name)).py_err()
    }
}
