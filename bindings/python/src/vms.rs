//! `volt.Vms`: virtual machines (Voltvisor) and their guest kernels through
//! [`volt_core::vm::Vms`].
//!
//! Every call is synchronous in the SDK and runs inside `py.detach(…)` on the calling thread, so
//! other Python threads keep running while a VM starts, stops or a console exchange waits.

use std::path::PathBuf;
use std::time::Duration;

use pyo3::prelude::*;
use volt_core::network::PortMap;
use volt_core::vm::{parse_cpu_list, VmCreateOptions, Vms as CoreVms};

use crate::containers::MemoryArg;
use crate::convert::to_python;
use crate::error::{self, IntoPyResult};

/// Seconds from Python as a duration; negative or not a number is a `UsageError`.
fn seconds(what: &str, s: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(s)
        .map_err(|_| error::usage(format!("{what} {s}: expected a number of seconds, 0 or more")))
}

/// The VMs of a store (`Store.vms`).
///
/// A VM is a QEMU guest with a qcow2 overlay on a base disk kept in the store, a kernel booted
/// directly and one `volt-supervisor` process (found like the container supervisor) that starts
/// QEMU and records its state. Running VMs needs root, `qemu-system-x86_64` and `qemu-img`.
/// Every method releases the GIL while it works.
#[pyclass(module = "volt._volt", frozen)]
pub(crate) struct Vms {
    vms: CoreVms,
    root: String,
}

impl Vms {
    pub(crate) fn new(vms: CoreVms, root: String) -> Self {
        Vms { vms, root }
    }
}

#[pymethods]
impl Vms {
    fn __repr__(&self) -> String {
        format!("Vms(root={:?})", self.root)
    }

    /// Create a stopped VM `name` (the rules of container names). Its disk is an overlay on
    /// `image` (a Volt image carrying a qcow2 at `/disk/NAME.qcow2`) or on `disk` (a qcow2 file
    /// imported into the store), or blank without either; `kernel` is a profile or an imported
    /// kernel's name (default `vms.default_kernel`). `memory` is bytes or a size string
    /// (`"512M"`), `disk_size` a size string (`"10G"`), `ports` `"HOST:GUEST[/tcp|udp]"`
    /// forwards on the first of `networks`, `machine` `"microvm"` or `"q35"`. Returns the record.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (
        name, *, image=None, disk=None, kernel=None, initrd=None, cmdline=None, cpus=None, memory=None,
        disk_size=None, networks=None, ports=None, machine=None, hugepages=None
    ))]
    fn create<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        image: Option<String>,
        disk: Option<PathBuf>,
        kernel: Option<String>,
        initrd: Option<PathBuf>,
        cmdline: Option<String>,
        cpus: Option<u32>,
        memory: Option<MemoryArg>,
        disk_size: Option<String>,
        networks: Option<Vec<String>>,
        ports: Option<Vec<String>>,
        machine: Option<String>,
        hugepages: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let ports = ports
            .unwrap_or_default()
            .iter()
            .map(|p| p.parse::<PortMap>())
            .collect::<volt_core::Result<Vec<_>>>()
            .py_err()?;
        let memory = memory.map(|m| match m {
            MemoryArg::Bytes(n) => n.to_string(),
            MemoryArg::Text(s) => s,
        });
        let opts = VmCreateOptions {
            image,
            disk,
            kernel,
            initrd,
            cmdline,
            cpus,
            memory,
            disk_size,
            networks: networks.unwrap_or_default(),
            ports,
            machine,
            hugepages,
        };
        let v = &self.vms;
        let info = py.detach(|| v.create(name, &opts)).py_err()?;
        to_python(py, &info)
    }

    /// Start a stopped or failed VM: its supervisor starts QEMU; returns once QMP answers (the
    /// guest is still booting). A running one raises `ConflictError`.
    fn start<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let v = &self.vms;
        let info = py.detach(|| v.start(name)).py_err()?;
        to_python(py, &info)
    }

    /// Stop a running or paused VM: the ACPI power button, up to `timeout` seconds (default:
    /// the configured `vms.stop_timeout`) for the guest to power off, then QMP `quit`.
    #[pyo3(signature = (name, timeout=None))]
    fn stop<'py>(&self, py: Python<'py>, name: &str, timeout: Option<u64>) -> PyResult<Bound<'py, PyAny>> {
        let v = &self.vms;
        let info = py.detach(|| v.stop(name, timeout)).py_err()?;
        to_python(py, &info)
    }

    /// Send `signal` (1 to 64; default 9, SIGKILL) to the VM's QEMU; the supervisor records how
    /// it ended. Waits for the end after SIGKILL and SIGTERM.
    #[pyo3(signature = (name, signal=9))]
    fn kill<'py>(&self, py: Python<'py>, name: &str, signal: i32) -> PyResult<Bound<'py, PyAny>> {
        if !(1..=64).contains(&signal) {
            return Err(error::usage(format!("signal {signal}: expected 1 to 64")));
        }
        let v = &self.vms;
        let info = py.detach(|| v.kill(name, signal)).py_err()?;
        to_python(py, &info)
    }

    /// Pause the VM's vCPUs (QMP `stop`); returns once its record says `"paused"`.
    fn pause<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let v = &self.vms;
        let info = py.detach(|| v.pause(name)).py_err()?;
        to_python(py, &info)
    }

    /// Resume a paused VM (QMP `cont`); returns once its record says `"running"`.
    fn resume<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let v = &self.vms;
        let info = py.detach(|| v.resume(name)).py_err()?;
        to_python(py, &info)
    }

    /// Stop the VM if it runs (`timeout` as for `stop`), then start it.
    #[pyo3(signature = (name, timeout=None))]
    fn restart<'py>(&self, py: Python<'py>, name: &str, timeout: Option<u64>) -> PyResult<Bound<'py, PyAny>> {
        let v = &self.vms;
        let info = py.detach(|| v.restart(name, timeout)).py_err()?;
        to_python(py, &info)
    }

    /// Delete a VM: its disk, snapshots, addresses, forwards and unit. A running one raises
    /// `ConflictError` unless `force`, which kills it first.
    #[pyo3(signature = (name, force=false))]
    fn delete(&self, py: Python<'_>, name: &str, force: bool) -> PyResult<()> {
        let v = &self.vms;
        py.detach(|| v.delete(name, force)).py_err()
    }

    /// All VMs, sorted by name.
    fn list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let v = &self.vms;
        let list = py.detach(|| v.list()).py_err()?;
        to_python(py, &list)
    }

    /// The record of VM `name`, with its live state.
    fn inspect<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let v = &self.vms;
        let info = py.detach(|| v.inspect(name)).py_err()?;
        to_python(py, &info)
    }

    /// The VM's serial console log: its last `tail` lines, or all of it.
    #[pyo3(signature = (name, tail=None))]
    fn logs(&self, py: Python<'_>, name: &str, tail: Option<usize>) -> PyResult<String> {
        let v = &self.vms;
        py.detach(|| v.logs(name, tail)).py_err()
    }

    /// QEMU's own run state of a running VM (QMP `query-status`: `"running"`, `"paused"`, …).
    fn query_status(&self, py: Python<'_>, name: &str) -> PyResult<String> {
        let v = &self.vms;
        py.detach(|| v.query_status(name)).py_err()
    }

    /// Write `input` to the VM's serial console and return what the guest prints until `until`
    /// appears in it (`VoltTimeoutError` if it does not within `timeout` seconds) or, without
    /// `until`, for `timeout` seconds.
    #[pyo3(signature = (name, input, until=None, timeout=10.0))]
    fn console_exchange(
        &self,
        py: Python<'_>,
        name: &str,
        input: &str,
        until: Option<&str>,
        timeout: f64,
    ) -> PyResult<String> {
        let timeout = seconds("timeout", timeout)?;
        let v = &self.vms;
        py.detach(|| v.console_exchange(name, input, until, timeout)).py_err()
    }

    /// Snapshot the VM's disk as `snapshot` (a running VM is paused for the copy). Returns the
    /// snapshot's record; a name in use raises `AlreadyExistsError`.
    fn snapshot_create<'py>(&self, py: Python<'py>, name: &str, snapshot: &str) -> PyResult<Bound<'py, PyAny>> {
        let v = &self.vms;
        let info = py.detach(|| v.snapshot_create(name, snapshot)).py_err()?;
        to_python(py, &info)
    }

    /// The VM's snapshots, oldest first.
    fn snapshot_list<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let v = &self.vms;
        let list = py.detach(|| v.snapshot_list(name)).py_err()?;
        to_python(py, &list)
    }

    /// Put a stopped VM's disk back to `snapshot` (`ConflictError` while it runs).
    fn snapshot_restore(&self, py: Python<'_>, name: &str, snapshot: &str) -> PyResult<()> {
        let v = &self.vms;
        py.detach(|| v.snapshot_restore(name, snapshot)).py_err()
    }

    /// Delete snapshot `snapshot` of the VM.
    fn snapshot_delete(&self, py: Python<'_>, name: &str, snapshot: &str) -> PyResult<()> {
        let v = &self.vms;
        py.detach(|| v.snapshot_delete(name, snapshot)).py_err()
    }

    /// Pin the VM's vCPU threads to the host CPUs in `cpus` (`"0-1,3"`; `"all"` or `""` unpins),
    /// now if it runs and at every start. Returns the record.
    fn pin_cpus<'py>(&self, py: Python<'py>, name: &str, cpus: &str) -> PyResult<Bound<'py, PyAny>> {
        let cpus = cpus.trim();
        let list = if cpus.is_empty() || cpus == "all" { Vec::new() } else { parse_cpu_list(cpus).py_err()? };
        let v = &self.vms;
        let info = py.detach(|| v.pin_cpus(name, &list)).py_err()?;
        to_python(py, &info)
    }

    /// Installed guest kernels, sorted by name.
    fn kernels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let v = &self.vms;
        let list = py.detach(|| v.kernels().list().map_err(volt_core::Error::from)).py_err()?;
        to_python(py, &list)
    }

    /// Import kernel image `file` (a bzImage) as `name`, with initramfs `initrd` and extra kernel
    /// arguments `cmdline`. Returns the kernel's record.
    #[pyo3(signature = (file, name, *, initrd=None, cmdline=None))]
    fn kernel_import<'py>(
        &self,
        py: Python<'py>,
        file: PathBuf,
        name: &str,
        initrd: Option<PathBuf>,
        cmdline: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let v = &self.vms;
        let info = py.detach(|| v.kernel_import(&file, name, initrd.as_deref(), cmdline.unwrap_or(""))).py_err()?;
        to_python(py, &info)
    }

    /// Remove kernel `name`; one a VM uses raises `ConflictError`.
    fn kernel_remove(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let v = &self.vms;
        py.detach(|| v.kernel_remove(name)).py_err()
    }

    /// Install profile `profile`'s kernel: `"server"`, `"dev"`, `"desktop"`, `"rt"` from Debian's
    /// packages, `"minimal"` compiled from Debian's kernel source (downloads with apt-get).
    /// Returns the kernel's record.
    fn kernel_build<'py>(&self, py: Python<'py>, profile: &str) -> PyResult<Bound<'py, PyAny>> {
        let v = &self.vms;
        let info = py.detach(|| v.kernel_build(profile)).py_err()?;
        to_python(py, &info)
    }
}
