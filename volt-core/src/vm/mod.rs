//! Voltvisor in the SDK: VMs on the same store, network and supervisor machinery as containers.
//! The engine (QEMU plans, QMP, disks, kernels, the supervisor loop) is volt-vm; this module
//! owns names, records, locks, base images in Stellarium, networks and the `Runtime` adapter.
//!
//! Files, per VM under `vms/NAME/`: `config.json` (what was asked), `state.json` (written by
//! the supervisor only), `disk.qcow2` (an overlay on a shared base), `snapshots/`, the QMP and
//! console sockets, `serial.log`, `qemu.log`. Base disks are store objects (kept by the ref
//! `vm/NAME`) materialised once per object under `images/disks/` and shared read-only.

mod console;
mod create;
mod delete;
mod inspect;
mod kernel;
mod runtime;
mod snapshot;
mod start;
mod stop;
mod supervisor;
mod tune;

pub use runtime::workload_info;
pub use supervisor::supervisor_main;

use std::fs;
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use volt_cas::{Cas, ObjectId, RefName};
pub use volt_vm::kernel::{KernelInfo, Kernels, PROFILES};
pub use volt_vm::plan::Machine as VmMachine;
use volt_vm::plan::{self, Accel, GuestNet, Machine, Nic, RunFiles, VmSpec};
use volt_vm::qmp::{QmpClient, VcpuThread};
use volt_vm::supervisor::{self as vsup, VmState, VmStatus};

use crate::audit::AuditLog;
use crate::config::{ContainerSettings, VmSettings};
use crate::error::{Error, Result};
use crate::image::{ImageName, Images};
use crate::network::{host_ifname, Networks, PortMap};
use crate::paths::Paths;
use crate::supervise::systemd::Systemd;
use crate::supervise::{spawn_detached, supervisor_alive, take_run_lock, Backend};
use crate::workload::{parse_memory, Op, Status};

/// What `volt vm create` asks for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VmCreateOptions {
    /// A Volt image carrying a qcow2 disk at `/disk/*.qcow2` (the containerDisk layout).
    pub image: Option<String>,
    /// A qcow2 file to import into the store as the base disk.
    pub disk: Option<PathBuf>,
    /// Kernel profile or name (default: `vms.default_kernel`).
    pub kernel: Option<String>,
    /// An initramfs overriding the kernel's own.
    pub initrd: Option<PathBuf>,
    /// Extra kernel arguments.
    pub cmdline: Option<String>,
    /// vCPUs.
    pub cpus: Option<u32>,
    /// Memory (`512M`, `2G`).
    pub memory: Option<String>,
    /// Disk size (`10G`); at least the base image's.
    pub disk_size: Option<String>,
    /// Networks (the first gets the default route and port forwards).
    pub networks: Vec<String>,
    /// Port forwards `HOST:GUEST[/proto]`.
    pub ports: Vec<PortMap>,
    /// `microvm` or `q35`.
    pub machine: Option<String>,
    /// Back memory with hugepages.
    pub hugepages: Option<bool>,
}

/// Where a VM's base disk came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseDisk {
    /// The store object (BLAKE3) holding the qcow2 base.
    pub object: String,
    /// `image NAME` or `file PATH`.
    pub source: String,
    /// Virtual size of the base in bytes.
    pub size: u64,
}

/// `config.json` of a VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmConfig {
    /// Name.
    pub name: String,
    /// Machine type.
    pub machine: Machine,
    /// vCPUs.
    pub cpus: u32,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Kernel (profile or name) under `kernels/`.
    pub kernel: String,
    /// An initramfs overriding the kernel's own.
    #[serde(default)]
    pub initrd: Option<PathBuf>,
    /// Extra kernel arguments.
    #[serde(default)]
    pub cmdline: String,
    /// The base disk, if the VM's disk is an overlay on one.
    #[serde(default)]
    pub base: Option<BaseDisk>,
    /// Size of the VM's disk in bytes.
    pub disk_size: u64,
    /// Networks.
    #[serde(default)]
    pub networks: Vec<String>,
    /// Port forwards.
    #[serde(default)]
    pub ports: Vec<PortMap>,
    /// Hugepage-backed memory.
    #[serde(default)]
    pub hugepages: bool,
    /// Host CPUs the vCPUs are pinned to (`volt tune cpu pin`), applied at every start.
    #[serde(default)]
    pub cpu_pin: Vec<usize>,
    /// Creation time (RFC 3339).
    pub created: String,
}

/// A VM's network endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmEndpoint {
    /// Network.
    pub network: String,
    /// The guest's address.
    pub address: Option<Ipv4Addr>,
    /// The TAP device on the host.
    pub tap: String,
    /// The guest's MAC address.
    pub mac: String,
}

/// A vCPU thread and the host CPUs it may run on now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VcpuInfo {
    /// vCPU index.
    pub cpu: i64,
    /// Host thread id.
    pub thread: i64,
    /// Host CPUs the thread may run on.
    pub affinity: Vec<usize>,
}

/// A snapshot of a VM's disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// Name.
    pub name: String,
    /// When it was taken.
    pub created: String,
    /// Bytes on the host (what the VM had changed against its base).
    pub size: u64,
    /// Whether the VM was running (paused for the copy) when it was taken.
    pub live: bool,
}

/// Everything `inspect` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmInfo {
    /// Configuration.
    pub config: VmConfig,
    /// Status in the words shared with containers.
    pub status: Status,
    /// The supervisor's record.
    pub state: VmState,
    /// Endpoints.
    pub endpoints: Vec<VmEndpoint>,
    /// vCPU threads and their affinity (running VMs).
    pub vcpus: Vec<VcpuInfo>,
    /// The VM's disk file.
    pub disk: PathBuf,
    /// Snapshots.
    pub snapshots: Vec<SnapshotInfo>,
    /// The generated unit file.
    pub unit: PathBuf,
    /// The serial console socket.
    pub console: PathBuf,
    /// The serial log.
    pub serial_log: PathBuf,
    /// The supervisor this installation runs VMs under (`systemd` or `direct`).
    pub backend: Backend,
}

/// The VM runtime.
#[derive(Clone)]
pub struct Vms {
    backend: Backend,
    paths: Paths,
    settings: VmSettings,
    containers: ContainerSettings,
    networks: Networks,
    images: Option<Images>,
    cas: Arc<Cas>,
    audit: AuditLog,
}

impl std::fmt::Debug for Vms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vms").field("dir", &self.paths.vms_dir()).finish_non_exhaustive()
    }
}

const CONFIG: &str = "config.json";
const DISK: &str = "disk.qcow2";
const SNAPSHOTS: &str = "snapshots";
/// The supervisor's arguments of the last start (what the unit's ExecStart reads).
const RUN_ARGS: &str = "run.json";

fn vm_name(s: &str) -> Result<String> {
    crate::workload::check_name("VM", s)?;
    Ok(s.to_string())
}

fn snapshot_name(s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('.')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!("snapshot name {s:?}: 1-64 letters, digits, - _ . (not starting with .)")))
    }
}

fn read_json<T: serde::de::DeserializeOwned>(p: &Path) -> Result<T> {
    let b = fs::read(p).map_err(|e| Error::io("read", p, e))?;
    serde_json::from_slice(&b).map_err(|e| Error::Config { path: p.to_path_buf(), reason: e.to_string() })
}

/// Host memory in MiB (`MemTotal`).
fn host_memory_mib() -> Option<u64> {
    meminfo("MemTotal:").map(|kb| kb / 1024)
}

/// Free hugepage memory in MiB.
fn hugepages_free_mib() -> u64 {
    meminfo("HugePages_Free:").unwrap_or(0) * meminfo("Hugepagesize:").unwrap_or(0) / 1024
}

/// A number from /proc/meminfo (`KEY:` included; kB for sizes, a count for page numbers).
fn meminfo(key: &str) -> Option<u64> {
    let m = fs::read_to_string("/proc/meminfo").ok()?;
    m.lines().find(|l| l.starts_with(key))?.split_whitespace().nth(1)?.parse().ok()
}

/// Parse a CPU list like `0-1,3`; `all` (or nothing) is the empty list, which unpins.
///
/// # Errors
/// Usage error for anything else.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>> {
    let bad = || Error::InvalidArgument(format!("CPU list {s:?}: use numbers and ranges like 0-1,3, or all"));
    let mut out = Vec::new();
    if s.trim().is_empty() || s.trim() == "all" {
        return Ok(out);
    }
    for part in s.split(',') {
        let part = part.trim();
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<usize>().map_err(|_| bad())?, b.parse::<usize>().map_err(|_| bad())?),
            None => {
                let a = part.parse::<usize>().map_err(|_| bad())?;
                (a, a)
            }
        };
        if a > b || b >= 1024 {
            return Err(bad());
        }
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

impl Vms {
    /// The VM runtime over `paths`.
    pub fn new(
        paths: Paths,
        settings: VmSettings,
        containers: ContainerSettings,
        networks: Networks,
        images: Option<Images>,
        cas: Arc<Cas>,
        audit: AuditLog,
    ) -> Self {
        let backend = crate::supervise::choose_backend(&containers);
        tracing::debug!(supervisor = backend.as_str(), "vms: supervisor chosen");
        Vms { backend, paths, settings, containers, networks, images, cas, audit }
    }

    /// The supervisor in use: systemd units (`volt-vm@NAME.service`, started over D-Bus, whose
    /// ExecStart is the VM supervisor) or Volt's own detached supervisor. Chosen like the
    /// containers' (`containers.supervisor`).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn systemd(&self) -> Result<Systemd> {
        Systemd::connect(self.containers.systemd_bus.as_deref())
    }

    fn unit_name(name: &str) -> String {
        format!("volt-vm@{name}.service")
    }

    /// The kernels.
    pub fn kernels(&self) -> Kernels {
        Kernels::new(self.paths.kernels_dir())
    }

    /// The networks VMs attach to.
    pub fn networks(&self) -> &Networks {
        &self.networks
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.paths.vms_dir().join(name)
    }

    fn unit_path(&self, name: &str) -> PathBuf {
        self.paths.units_dir().join(format!("volt-vm@{name}.service"))
    }

    fn lock(&self, name: &str) -> Result<fs::File> {
        let d = self.paths.vms_dir();
        fs::create_dir_all(&d).map_err(|e| Error::io("create", &d, e))?;
        crate::fsutil::lock_file(&d.join(format!(".{name}.lock")))
    }

    fn load(&self, name: &str) -> Result<VmConfig> {
        let name = vm_name(name)?;
        let p = self.dir(&name).join(CONFIG);
        if !p.exists() {
            return Err(Error::NotFound { what: "vm", name });
        }
        read_json(&p)
    }

    fn save(&self, c: &VmConfig) -> Result<()> {
        crate::fsutil::write_atomic(
            &self.dir(&c.name).join(CONFIG),
            &serde_json::to_vec_pretty(c).expect("config serialises"),
        )
    }

    // ---- create -----------------------------------------------------------------------------
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-1").unwrap(), [0, 1]);
        assert_eq!(parse_cpu_list("3,0-1,1").unwrap(), [0, 1, 3]);
        assert!(parse_cpu_list("all").unwrap().is_empty());
        for bad in ["a", "2-1", "0-5000", "1,,2"] {
            assert!(parse_cpu_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert!(vm_name("web-1").is_ok());
        let e = vm_name("../x").unwrap_err().to_string();
        assert!(e.starts_with("VM name"), "{e}");
        assert!(snapshot_name("before-upgrade").is_ok());
        assert!(snapshot_name("../x").is_err() && snapshot_name("").is_err());
    }
}
