//! Voltvisor in the SDK: VMs on the same store, network and supervisor machinery as containers.
//! The engine (QEMU plans, QMP, disks, kernels, the supervisor loop) is volt-vm; this module
//! owns names, records, locks, base images in Stellarium, networks and the `Runtime` adapter.
//!
//! Files, per VM under `vms/NAME/`: `config.json` (what was asked), `state.json` (written by
//! the supervisor only), `disk.qcow2` (an overlay on a shared base), `snapshots/`, the QMP and
//! console sockets, `serial.log`, `qemu.log`. Base disks are store objects (kept by the ref
//! `vm/NAME`) materialised once per object under `images/disks/` and shared read-only.

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
use crate::container::supervisor::{spawn_detached, supervisor_alive, take_run_lock};
use crate::container::systemd::Systemd;
use crate::container::Backend;
use crate::container::{parse_memory, ContainerName};
use crate::error::{Error, Result};
use crate::image::{ImageName, Images};
use crate::network::{host_ifname, Networks, PortMap};
use crate::paths::Paths;
use crate::workload::{Op, Status};

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
    s.parse::<ContainerName>()
        .map(|n| n.as_str().to_string())
        .map_err(|e| Error::InvalidArgument(e.to_string().replacen("container name", "VM name", 1)))
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
        let backend = crate::container::runtime::choose_backend(&containers);
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

    /// Create a stopped VM.
    ///
    /// # Errors
    /// Usage errors (name, sizes, a disk that is not qcow2), [`Error::NotFound`] (image, kernel
    /// name, disk file), dependency (a kernel profile not installed), resource (memory larger
    /// than the host's), already exists.
    pub fn create(&self, name: &str, opts: &VmCreateOptions) -> Result<VmInfo> {
        self.audit.audited("vm.create", name, || self.create_inner(name, opts))
    }

    fn create_inner(&self, name: &str, opts: &VmCreateOptions) -> Result<VmInfo> {
        let name = vm_name(name)?;
        let machine: Machine =
            opts.machine.as_deref().unwrap_or(&self.settings.default_machine).parse().map_err(Error::from)?;
        let cpus = opts.cpus.unwrap_or(self.settings.default_cpus);
        if cpus == 0 || cpus > 255 {
            return Err(Error::InvalidArgument(format!("--cpus {cpus}: between 1 and 255")));
        }
        let memory_mib = parse_memory(opts.memory.as_deref().unwrap_or(&self.settings.default_memory))? >> 20;
        if memory_mib < 16 {
            return Err(Error::InvalidArgument("--memory: at least 16M".into()));
        }
        if let Some(host) = host_memory_mib() {
            if memory_mib > host {
                return Err(Error::Vm(volt_vm::Error::Resource(format!(
                    "--memory {memory_mib} MiB is more than the host has ({host} MiB)"
                ))));
            }
        }
        if opts.networks.is_empty() && !opts.ports.is_empty() {
            return Err(Error::InvalidArgument("port forwards need a network (--network)".into()));
        }
        if opts.image.is_some() && opts.disk.is_some() {
            return Err(Error::InvalidArgument("give --image or --disk, not both".into()));
        }
        for n in &opts.networks {
            crate::network::check_network_name(n)?;
        }
        let kernel = opts.kernel.clone().unwrap_or_else(|| self.settings.default_kernel.clone());
        self.kernels().resolve(&kernel)?;
        if let Some(i) = &opts.initrd {
            if !i.is_file() {
                return Err(Error::NotFound { what: "initramfs", name: i.display().to_string() });
            }
        }
        let disk_size = match &opts.disk_size {
            Some(s) => Some(volt_vm::disk::parse_size(s)?),
            None => None,
        };
        let hugepages = opts.hugepages.unwrap_or(self.settings.hugepages);

        let _l = self.lock(&name)?;
        let dir = self.dir(&name);
        if dir.exists() {
            return Err(Error::Vm(volt_vm::Error::AlreadyExists { what: "vm", name }));
        }
        // Everything is assembled in a hidden directory and renamed into place: a crash or a
        // refusal at any point leaves no half VM.
        let tmp = self.paths.vms_dir().join(format!(".{name}.creating-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(tmp.join(SNAPSHOTS)).map_err(|e| Error::io("create", &tmp, e))?;
        let mut imported: Option<String> = None;
        let r = (|| {
            let base = match (&opts.image, &opts.disk) {
                (Some(img), _) => Some(self.base_from_image(img)?),
                (_, Some(file)) => Some(self.base_from_file(file)?),
                _ => None,
            };
            imported = base.as_ref().map(|b| b.object.clone());
            let default_size = volt_vm::disk::parse_size(&self.settings.default_disk_size)?;
            let disk_path = tmp.join(DISK);
            let size = match &base {
                Some(b) => {
                    let base_file = self.materialise(&b.object)?;
                    let size = disk_size.unwrap_or(b.size.max(default_size));
                    volt_vm::disk::create_overlay(&base_file, &disk_path, Some(size))?;
                    size
                }
                None => {
                    let size = disk_size.unwrap_or(default_size);
                    volt_vm::disk::create_blank(&disk_path, size)?;
                    size
                }
            };
            let config = VmConfig {
                name: name.clone(),
                machine,
                cpus,
                memory_mib,
                kernel: kernel.clone(),
                initrd: opts.initrd.as_ref().map(|p| p.canonicalize().unwrap_or_else(|_| p.clone())),
                cmdline: opts.cmdline.clone().unwrap_or_default(),
                base: base.clone(),
                disk_size: size,
                networks: opts.networks.clone(),
                ports: opts.ports.clone(),
                hugepages,
                cpu_pin: Vec::new(),
                created: volt_vm::kernel::now(),
            };
            crate::fsutil::write_atomic(&tmp.join(CONFIG), &serde_json::to_vec_pretty(&config).expect("serialises"))?;
            if let Some(b) = &base {
                let id = ObjectId::from_hex(&b.object).map_err(|e| Error::InvalidArgument(e.to_string()))?;
                let txn = self.cas.begin()?;
                txn.protect(&id)?;
                txn.commit(Some((&self.base_ref(&name)?, &id)))?;
            }
            self.networks.reserve(&name, &opts.networks, &opts.ports)?;
            fs::rename(&tmp, &dir).map_err(|e| Error::io("rename", &dir, e))?;
            Ok(config)
        })();
        let config = match r {
            Ok(c) => c,
            Err(e) => {
                for n in &opts.networks {
                    let _ = self.networks.release(n, &name);
                }
                if let Ok(r) = self.base_ref(&name) {
                    let _ = self.cas.delete_ref(&r);
                }
                let _ = fs::remove_dir_all(&tmp);
                if let Some(o) = imported {
                    self.drop_base_if_unused(&o);
                }
                return Err(e);
            }
        };
        self.write_unit(&config)?;
        self.info(config)
    }

    fn base_ref(&self, name: &str) -> Result<RefName> {
        format!("vm/{name}").parse().map_err(Error::from)
    }

    /// The base disk inside an image: the first `disk/*.qcow2` (or `*.img`) of its tree.
    fn base_from_image(&self, image: &str) -> Result<BaseDisk> {
        let images = self
            .images
            .as_ref()
            .ok_or_else(|| Error::Unsupported("VM images need the local Stellarium store".into()))?;
        let name: ImageName = image.parse()?;
        let rec = images.inspect(&name)?;
        let tree = self.cas.read_tree(&rec.tree)?;
        let found = tree.entries.iter().find_map(|e| {
            let p = String::from_utf8_lossy(&e.path).into_owned();
            match &e.kind {
                volt_cas::EntryKind::File { id, .. }
                    if p.starts_with("disk/") && (p.ends_with(".qcow2") || p.ends_with(".img")) =>
                {
                    Some(*id)
                }
                _ => None,
            }
        });
        let Some(id) = found else {
            return Err(Error::InvalidArgument(format!(
                "image {image} has no disk: a VM image carries its qcow2 disk at /disk/NAME.qcow2 (import one with `volt vm create --disk FILE`)"
            )));
        };
        let file = self.materialise(&id.to_hex())?;
        let info = volt_vm::disk::check_base(&file)?;
        Ok(BaseDisk { object: id.to_hex(), source: format!("image {name}"), size: info.virtual_size })
    }

    /// Import a qcow2 file into the store as a base disk.
    fn base_from_file(&self, file: &Path) -> Result<BaseDisk> {
        if !file.is_file() {
            return Err(Error::NotFound { what: "disk image", name: file.display().to_string() });
        }
        let info = volt_vm::disk::check_base(file)?;
        let txn = self.cas.begin()?;
        let out = txn.put_file(file, &[], None)?;
        txn.commit(None)?;
        // The materialised base is a copy of the file itself (same bytes as the object).
        let dest = self.base_path(&out.id.to_hex());
        if !dest.exists() {
            self.install_base(&dest, |tmp| fs::copy(file, tmp).map(drop).map_err(|e| Error::io("copy", file, e)))?;
        }
        let abs = file.canonicalize().unwrap_or_else(|_| file.to_path_buf());
        Ok(BaseDisk { object: out.id.to_hex(), source: format!("file {}", abs.display()), size: info.virtual_size })
    }

    fn base_path(&self, object: &str) -> PathBuf {
        self.paths.images_dir().join("disks").join(format!("{object}.qcow2"))
    }

    fn install_base(&self, dest: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
        let d = dest.parent().expect("has a parent");
        fs::create_dir_all(d).map_err(|e| Error::io("create", d, e))?;
        let tmp = d.join(format!(".{}.tmp-{}", dest.file_name().unwrap().to_string_lossy(), std::process::id()));
        let r = fill(&tmp).and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            let f = fs::File::open(&tmp).map_err(|e| Error::io("open", &tmp, e))?;
            f.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
            // Read-only: a base is shared by every VM made from it.
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o444)).map_err(|e| Error::io("chmod", &tmp, e))?;
            fs::rename(&tmp, dest).map_err(|e| Error::io("rename", dest, e))
        });
        if r.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        r
    }

    /// The shared read-only file of a base disk object, written from the store on first use.
    fn materialise(&self, object: &str) -> Result<PathBuf> {
        let dest = self.base_path(object);
        if dest.exists() {
            return Ok(dest);
        }
        let id = ObjectId::from_hex(object).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        self.install_base(&dest, |tmp| {
            let mut r = self.cas.open_object(&id)?;
            let mut f = fs::File::create(tmp).map_err(|e| Error::io("create", tmp, e))?;
            std::io::copy(&mut r, &mut f).map_err(|e| Error::io("write", tmp, e))?;
            Ok(())
        })?;
        Ok(dest)
    }

    fn write_unit(&self, c: &VmConfig) -> Result<()> {
        let units = self.paths.units_dir();
        fs::create_dir_all(&units).map_err(|e| Error::io("create", &units, e))?;
        let sup = crate::container::runtime::find_supervisor(&self.containers)
            .unwrap_or_else(|_| PathBuf::from("/usr/bin/volt-supervisor"));
        let argv =
            vec![sup.display().to_string(), "vm-run".into(), self.dir(&c.name).join(RUN_ARGS).display().to_string()];
        let unit = plan::unit_file(&c.name, &argv, self.settings.stop_timeout);
        crate::fsutil::write_atomic(&self.unit_path(&c.name), unit.as_bytes())
    }

    // ---- inspection ---------------------------------------------------------------------------

    fn info(&self, config: VmConfig) -> Result<VmInfo> {
        let dir = self.dir(&config.name);
        let mut state = vsup::read_state(&dir).map_err(Error::from)?;
        if state.status.is_active() && !supervisor_alive(&dir) {
            // The supervisor died without recording an end (killed with SIGKILL, host crash).
            state.status = VmStatus::Failed;
            state.reason = Some("supervisor lost".into());
            state.qemu_pid = None;
            state.supervisor_pid = None;
            state.vcpus.clear();
        }
        let status = match state.status {
            VmStatus::Stopped => Status::Stopped,
            VmStatus::Running => Status::Running,
            VmStatus::Paused => Status::Paused,
            VmStatus::Failed => Status::Failed,
        };
        let endpoints = config
            .networks
            .iter()
            .enumerate()
            .map(|(i, n)| {
                Ok(VmEndpoint {
                    network: n.clone(),
                    address: self.networks.address(n, &config.name)?,
                    tap: host_ifname(n, &config.name),
                    mac: plan::mac_for(&config.name, i),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let vcpus = state
            .vcpus
            .iter()
            .map(|v| VcpuInfo { cpu: v.cpu, thread: v.thread, affinity: vsup::affinity(v.thread) })
            .collect();
        let files = RunFiles::in_dir(&dir);
        Ok(VmInfo {
            snapshots: self.snapshots_of(&config.name)?,
            unit: self.unit_path(&config.name),
            disk: dir.join(DISK),
            console: files.console,
            serial_log: files.serial_log,
            config,
            status,
            state,
            endpoints,
            vcpus,
        })
    }

    /// One VM.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn inspect(&self, name: &str) -> Result<VmInfo> {
        self.info(self.load(name)?)
    }

    /// All VMs, by name.
    ///
    /// # Errors
    /// I/O errors.
    pub fn list(&self) -> Result<Vec<VmInfo>> {
        self.sweep();
        let mut out = Vec::new();
        let Ok(rd) = fs::read_dir(self.paths.vms_dir()) else { return Ok(out) };
        let mut names: Vec<String> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        for n in names {
            match self.inspect(&n) {
                Ok(i) => out.push(i),
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Remove what an interrupted create or delete left (its process is gone): hidden
    /// directories, and base refs of VMs that do not exist. Addresses such a create reserved are
    /// reclaimed by the networks, which check that their owner exists.
    fn sweep(&self) {
        let d = self.paths.vms_dir();
        let Ok(rd) = fs::read_dir(&d) else { return };
        let mut busy = false;
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = n.rsplit_once('-').and_then(|(head, pid)| {
                (head.contains(".creating") || head.contains(".deleting")).then(|| pid.parse::<i32>().ok()).flatten()
            }) else {
                continue;
            };
            // SAFETY: kill with signal 0 only checks that the pid exists.
            let alive = unsafe { libc::kill(pid, 0) } == 0;
            if alive {
                busy = true;
            } else {
                let _ = fs::remove_dir_all(e.path());
            }
        }
        if busy {
            return;
        }
        if let Ok(refs) = self.cas.list_refs(Some("vm/")) {
            for r in refs {
                let vm = r.name.as_str().trim_start_matches("vm/").to_string();
                if !d.join(&vm).exists() {
                    let _ = self.cas.delete_ref(&r.name);
                }
            }
        }
    }

    // ---- lifecycle ----------------------------------------------------------------------------

    /// The accelerator for this host: `vms.accel` when it is `kvm` or `tcg`; for `auto`, the
    /// probe's verdict, cached for this boot under the run directory.
    pub fn accel(&self, kernel: &Path) -> volt_vm::accel::AccelChoice {
        let boot = volt_vm::accel::boot_id();
        match self.settings.accel.as_str() {
            "kvm" => {
                return volt_vm::accel::AccelChoice {
                    accel: Accel::Kvm,
                    reason: "vms.accel is kvm".into(),
                    boot_id: boot,
                }
            }
            "tcg" => {
                return volt_vm::accel::AccelChoice {
                    accel: Accel::Tcg,
                    reason: "vms.accel is tcg".into(),
                    boot_id: boot,
                }
            }
            _ => {}
        }
        let cache = self.paths.run_dir().join("kvm-probe.json");
        if let Ok(c) = read_json::<volt_vm::accel::AccelChoice>(&cache) {
            if c.boot_id == boot {
                return c;
            }
        }
        let helper = crate::container::runtime::find_supervisor(&self.containers).unwrap_or_default();
        let choice = volt_vm::accel::probe(
            &helper,
            &["kvm-probe"],
            &self.settings.qemu_binary,
            kernel,
            Duration::from_millis(self.settings.kvm_probe_timeout_ms),
        );
        tracing::info!(accel = %choice.accel, reason = %choice.reason, "accelerator chosen");
        let _ = fs::create_dir_all(self.paths.run_dir());
        let _ = crate::fsutil::write_atomic(&cache, &serde_json::to_vec(&choice).expect("serialises"));
        choice
    }

    /// Start a VM: kernel, accelerator, TAPs on its networks, then its supervisor, which starts
    /// QEMU and reports once QMP answers.
    ///
    /// # Errors
    /// [`Error::AlreadyRunning`] when it runs; kernel and network errors; the supervisor's message
    /// when QEMU does not come up.
    pub fn start(&self, name: &str) -> Result<VmInfo> {
        self.audit.audited("vm.start", name, || self.start_inner(name))
    }

    fn start_inner(&self, name: &str) -> Result<VmInfo> {
        let c = self.load(name)?;
        let _l = self.lock(&c.name)?;
        let dir = self.dir(&c.name);
        let cur = self.info(c.clone())?;
        cur.status.check(Op::Start, &c.name)?;
        if cur.state.status.is_active() {
            // The record of a supervisor that is gone (what `info` reported as supervisor lost)
            // is written down, so that nothing mistakes it for the new run.
            vsup::write_state(&dir, &cur.state).map_err(Error::from)?;
        }
        let kernels = self.kernels();
        let k: KernelInfo = kernels.resolve(&c.kernel)?;
        let (kernel, kinitrd) = kernels.files(&k.name);
        let binary = crate::container::runtime::find_supervisor(&self.containers)?;
        let choice = self.accel(&kernel);
        let mut nics = Vec::new();
        let mut guest = None;
        for (i, n) in c.networks.iter().enumerate() {
            let (tap, addr, net) = self.networks.attach_tap(n, &c.name)?;
            nics.push(Nic { tap, mac: plan::mac_for(&c.name, i) });
            if i == 0 {
                guest = Some(GuestNet {
                    addr,
                    prefix: net.subnet.prefix(),
                    gateway: Some(net.gateway),
                    hostname: c.name.clone(),
                });
            }
        }
        let mut hugetlbfs = None;
        if c.hugepages {
            hugetlbfs = Some(self.hugetlbfs()?);
            let free = hugepages_free_mib();
            if free < c.memory_mib {
                return Err(Error::Vm(volt_vm::Error::Resource(format!(
                    "{} MiB of hugepages needed, {free} MiB free (raise /proc/sys/vm/nr_hugepages)",
                    c.memory_mib
                ))));
            }
        }
        let spec = VmSpec {
            name: c.name.clone(),
            machine: c.machine,
            cpus: c.cpus,
            memory_mib: c.memory_mib,
            kernel,
            initrd: c.initrd.clone().or(kinitrd),
            cmdline: [k.cmdline.as_str(), c.cmdline.as_str()].join(" ").trim().to_string(),
            disk: Some(dir.join(DISK)),
            nics,
            hugepages: hugetlbfs,
        };
        let cmdline = plan::kernel_cmdline(&spec, choice.accel, volt_vm::accel::tsc_khz(), guest.as_ref());
        let files = RunFiles::in_dir(&dir);
        let argv = plan::qemu_argv(&self.settings.qemu_binary, &spec, &files, choice.accel, &cmdline);
        let args = vsup::SupervisorArgs {
            dir: dir.clone(),
            argv,
            stop_timeout: self.settings.stop_timeout,
            pin: c.cpu_pin.clone(),
            accel: choice.accel,
            accel_reason: choice.reason.clone(),
            ready_fd: Some(3),
        };
        // The same arguments, for the unit (`volt-supervisor vm-run run.json` under systemd).
        let json = serde_json::to_string(&args).expect("serialises");
        crate::fsutil::write_atomic(&dir.join(RUN_ARGS), json.as_bytes())?;
        if self.backend == Backend::Systemd {
            self.start_unit(&c, &dir)?;
            return self.info(c);
        }
        let log = dir.join("supervisor.log");
        let lock = take_run_lock(&dir)?
            .ok_or_else(|| Error::AlreadyRunning { name: c.name.clone(), status: Status::Running })?;
        let msg = spawn_detached(&binary, &["vm".into(), json], &log, Some(&lock))?;
        drop(lock);
        if let Err(m) = msg {
            let why = m.unwrap_or_else(|| {
                let tail = fs::read_to_string(&log).unwrap_or_default();
                format!(
                    "the supervisor exited before QEMU started{}",
                    tail.lines().last().map(|l| format!(": {l}")).unwrap_or_default()
                )
            });
            return Err(Error::Workload { name: c.name.clone(), reason: why });
        }
        self.info(c)
    }

    /// A hugetlbfs mount for guest memory: the host's (e.g. /dev/hugepages), or one Volt
    /// mounts under its run directory.
    fn hugetlbfs(&self) -> Result<PathBuf> {
        let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        if let Some(p) = mounts.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 3 && f[2] == "hugetlbfs" && !f[3].contains("pagesize=1G")).then(|| PathBuf::from(f[1]))
        }) {
            return Ok(p);
        }
        let p = self.paths.run_dir().join("hugepages");
        fs::create_dir_all(&p).map_err(|e| Error::io("create", &p, e))?;
        rustix::mount::mount("hugetlbfs", &p, "hugetlbfs", rustix::mount::MountFlags::empty(), None)
            .map_err(|e| Error::io("mount hugetlbfs", &p, e.into()))?;
        Ok(p)
    }

    /// Start `volt-vm@NAME.service` over D-Bus (its ExecStart runs the supervisor on the
    /// run.json just written) and wait until the supervisor records the VM running, or the unit
    /// ends.
    fn start_unit(&self, c: &VmConfig, dir: &Path) -> Result<()> {
        self.write_unit(c)?;
        let sd = self.systemd()?;
        let unit = Self::unit_name(&c.name);
        sd.install(&self.unit_path(&c.name))?;
        sd.start(&unit, Duration::from_secs(30))?;
        let t = Instant::now();
        loop {
            let alive = supervisor_alive(dir);
            let st = vsup::read_state(dir).map_err(Error::from)?;
            if alive && st.status == VmStatus::Running {
                return Ok(());
            }
            let u = sd.status(&unit)?;
            if !alive
                && matches!(u.active_state.as_str(), "inactive" | "failed")
                && t.elapsed() > Duration::from_millis(200)
            {
                let why = st
                    .reason
                    .filter(|_| st.status == VmStatus::Failed)
                    .unwrap_or_else(|| format!("{unit} ended ({})", u.result));
                return Err(Error::Workload { name: c.name.clone(), reason: why });
            }
            if t.elapsed() > Duration::from_secs(60) {
                return Err(Error::Timeout(format!("{unit}: QEMU did not come up within 60 s")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal_supervisor(&self, st: &VmState, sig: i32) -> Result<()> {
        let Some(pid) = st.supervisor_pid else { return Ok(()) };
        // SAFETY: kill(2) on a pid read from our state; a stale pid is guarded by the run lock
        // check the callers make first.
        if unsafe { libc::kill(pid as i32, sig) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(Error::io("signal", format!("supervisor {pid}"), e));
            }
        }
        Ok(())
    }

    fn wait_ended(&self, name: &str, timeout: Duration) -> Result<VmInfo> {
        let dir = self.dir(name);
        let t = Instant::now();
        while supervisor_alive(&dir) {
            if t.elapsed() > timeout {
                return Err(Error::Timeout(format!("{name} did not stop within {:.1} s", timeout.as_secs_f64())));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.inspect(name)
    }

    /// Stop: the ACPI power button, up to `timeout` seconds (default `vms.stop_timeout`) for the
    /// guest to power off, then `quit`. A timeout of 0 quits QEMU at once.
    ///
    /// # Errors
    /// [`Error::NotRunning`] when it is not running or paused.
    pub fn stop(&self, name: &str, timeout: Option<u64>) -> Result<VmInfo> {
        self.audit.audited("vm.stop", name, || {
            let c = self.load(name)?;
            let _l = self.lock(&c.name)?;
            let info = self.info(c.clone())?;
            info.status.check(Op::Stop, &c.name)?;
            let secs = timeout.unwrap_or(self.settings.stop_timeout);
            let dir = self.dir(&c.name);
            fs::write(dir.join(vsup::STOP_REQUEST), secs.to_string())
                .map_err(|e| Error::io("write", dir.join(vsup::STOP_REQUEST), e))?;
            if self.backend == Backend::Systemd {
                self.systemd()?.stop(&Self::unit_name(&c.name), Duration::from_secs(secs + 15))?;
            } else {
                self.signal_supervisor(&info.state, libc::SIGTERM)?;
            }
            self.wait_ended(&c.name, Duration::from_secs(secs + 15))
        })
    }

    /// Send `signal` to QEMU (SIGKILL by default at the CLI). The supervisor records the end.
    ///
    /// # Errors
    /// [`Error::NotRunning`] when it is not running.
    pub fn kill(&self, name: &str, signal: i32) -> Result<VmInfo> {
        self.audit.audited("vm.kill", name, || {
            let c = self.load(name)?;
            let _l = self.lock(&c.name)?;
            let info = self.info(c.clone())?;
            if !(1..=64).contains(&signal) {
                return Err(Error::InvalidArgument(format!("signal {signal} is out of range (1-64)")));
            }
            info.status.check(Op::Kill, &c.name)?;
            // The supervisor signals its own child: it knows QEMU's pid in its namespace and
            // reaps it, so the end is recorded with the signal.
            let dir = self.dir(&c.name);
            crate::fsutil::write_atomic(&dir.join(vsup::KILL_REQUEST), signal.to_string().as_bytes())?;
            if self.backend == Backend::Systemd {
                self.systemd()?.kill(&Self::unit_name(&c.name), libc::SIGUSR1)?;
            } else {
                self.signal_supervisor(&info.state, libc::SIGUSR1)?;
            }
            if signal == libc::SIGKILL || signal == libc::SIGTERM {
                return self.wait_ended(&c.name, Duration::from_secs(15));
            }
            self.inspect(&c.name)
        })
    }

    fn ctl(&self, name: &str) -> Result<QmpClient> {
        let files = RunFiles::in_dir(&self.dir(name));
        QmpClient::connect(&files.qmp_ctl, Duration::from_secs(5)).map_err(Error::from)
    }

    fn wait_status(&self, name: &str, want: Status) -> Result<VmInfo> {
        let t = Instant::now();
        loop {
            let i = self.inspect(name)?;
            if i.status == want {
                return Ok(i);
            }
            if t.elapsed() > Duration::from_secs(10) {
                return Err(Error::Timeout(format!("{name} did not become {want} within 10 s (it is {})", i.status)));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Pause the vCPUs (QMP `stop`). The supervisor records `paused` from QEMU's STOP event.
    ///
    /// # Errors
    /// [`Error::NotRunning`] or [`Error::InvalidState`] unless running.
    pub fn pause(&self, name: &str) -> Result<VmInfo> {
        self.audit.audited("vm.pause", name, || {
            let c = self.load(name)?;
            let _l = self.lock(&c.name)?;
            self.info(c.clone())?.status.check(Op::Pause, &c.name)?;
            self.ctl(&c.name)?.stop()?;
            self.wait_status(&c.name, Status::Paused)
        })
    }

    /// Resume the vCPUs (QMP `cont`).
    ///
    /// # Errors
    /// [`Error::InvalidState`] unless paused.
    pub fn resume(&self, name: &str) -> Result<VmInfo> {
        self.audit.audited("vm.resume", name, || {
            let c = self.load(name)?;
            let _l = self.lock(&c.name)?;
            self.info(c.clone())?.status.check(Op::Resume, &c.name)?;
            self.ctl(&c.name)?.cont()?;
            self.wait_status(&c.name, Status::Running)
        })
    }

    /// QEMU's own run state (`query-status`) of a running VM.
    ///
    /// # Errors
    /// [`Error::NotRunning`] when QEMU is not running; QMP errors.
    pub fn query_status(&self, name: &str) -> Result<String> {
        let i = self.inspect(name)?;
        i.status.check(Op::Attach, &i.config.name)?;
        Ok(self.ctl(&i.config.name)?.status()?.1)
    }

    /// Stop (if running) and start.
    ///
    /// # Errors
    /// As [`Vms::stop`] and [`Vms::start`].
    pub fn restart(&self, name: &str, timeout: Option<u64>) -> Result<VmInfo> {
        let i = self.inspect(name)?;
        if i.status.is_live() {
            self.stop(name, timeout)?;
        }
        self.start(name)
    }

    /// Delete a VM: its directory, TAPs, addresses, forwards, base ref and unit. A running VM
    /// needs `force` (it is killed first).
    ///
    /// # Errors
    /// [`Error::InvalidState`] for a running VM without `force`.
    pub fn delete(&self, name: &str, force: bool) -> Result<()> {
        self.audit.audited("vm.delete", name, || {
            let c = self.load(name)?;
            let info = self.info(c.clone())?;
            if info.status.is_live() {
                if !force {
                    info.status.check(Op::Delete, &c.name)?;
                }
                let _ = self.kill(&c.name, libc::SIGKILL);
            }
            let _l = self.lock(&c.name)?;
            let dir = self.dir(&c.name);
            let gone = self.paths.vms_dir().join(format!(".{}.deleting-{}", c.name, std::process::id()));
            fs::rename(&dir, &gone).map_err(|e| Error::io("rename", &dir, e))?;
            for n in &c.networks {
                self.networks.release(n, &c.name)?;
            }
            self.networks.forget(&c.name)?;
            match self.cas.delete_ref(&self.base_ref(&c.name)?) {
                Ok(()) | Err(volt_cas::Error::RefNotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
            if self.backend == Backend::Systemd {
                if let Ok(sd) = self.systemd() {
                    let _ = sd.uninstall(&Self::unit_name(&c.name));
                }
            }
            let _ = fs::remove_file(self.unit_path(&c.name));
            fs::remove_dir_all(&gone).map_err(|e| Error::io("remove", &gone, e))?;
            if let Some(b) = &c.base {
                self.drop_base_if_unused(&b.object);
            }
            Ok(())
        })
    }

    /// Remove a materialised base file no VM uses any more (the store object stays as long as an
    /// image or ref holds it; a later VM writes the file again).
    fn drop_base_if_unused(&self, object: &str) {
        let used = self
            .list()
            .map(|l| l.iter().any(|v| v.config.base.as_ref().is_some_and(|b| b.object == object)))
            .unwrap_or(true);
        // A create in progress (hidden directory) may be about to use it.
        let creating = fs::read_dir(self.paths.vms_dir())
            .map(|rd| rd.flatten().any(|e| e.file_name().to_string_lossy().contains(".creating-")))
            .unwrap_or(true);
        if !used && !creating {
            let _ = fs::remove_file(self.base_path(object));
        }
    }

    /// The last `tail` lines of the serial log (all with `None`).
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn logs(&self, name: &str, tail: Option<usize>) -> Result<String> {
        let c = self.load(name)?;
        let p = RunFiles::in_dir(&self.dir(&c.name)).serial_log;
        let mut text = String::new();
        if let Ok(mut f) = fs::File::open(&p) {
            let mut b = Vec::new();
            f.read_to_end(&mut b).map_err(|e| Error::io("read", &p, e))?;
            text = String::from_utf8_lossy(&b).into_owned();
        }
        Ok(match tail {
            Some(n) => {
                let lines: Vec<&str> = text.lines().collect();
                let from = lines.len().saturating_sub(n);
                let mut s = lines[from..].join("\n");
                if !s.is_empty() {
                    s.push('\n');
                }
                s
            }
            None => text,
        })
    }

    /// Connect to a running VM's serial console.
    ///
    /// # Errors
    /// [`Error::NotRunning`] when it is not running; the socket's error.
    pub fn console(&self, name: &str) -> Result<std::os::unix::net::UnixStream> {
        let i = self.inspect(name)?;
        i.status.check(Op::Attach, &i.config.name)?;
        std::os::unix::net::UnixStream::connect(&i.console).map_err(|e| Error::io("connect", &i.console, e))
    }

    /// Write `input` to the console and collect what the guest prints until `until` appears in
    /// it or `timeout` passes (a scripted session: Python, C and tests use it).
    ///
    /// # Errors
    /// As [`Vms::console`]; [`Error::Timeout`] when `until` never appears.
    pub fn console_exchange(&self, name: &str, input: &str, until: Option<&str>, timeout: Duration) -> Result<String> {
        let mut s = self.console(name)?;
        s.write_all(input.as_bytes()).map_err(|e| Error::io("write", "console", e))?;
        let t = Instant::now();
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let left = timeout.saturating_sub(t.elapsed());
            if left.is_zero() {
                break;
            }
            s.set_read_timeout(Some(left.min(Duration::from_millis(100)))).ok();
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => return Err(Error::io("read", "console", e)),
            }
            if let Some(u) = until {
                if String::from_utf8_lossy(&out).contains(u) {
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
            }
        }
        let text = String::from_utf8_lossy(&out).into_owned();
        match until {
            Some(u) => {
                Err(Error::Timeout(format!("{u:?} did not appear on {name}'s console within {} s", timeout.as_secs())))
            }
            None => Ok(text),
        }
    }

    // ---- snapshots ----------------------------------------------------------------------------

    fn snapshots_of(&self, name: &str) -> Result<Vec<SnapshotInfo>> {
        let d = self.dir(name).join(SNAPSHOTS);
        let mut out = Vec::new();
        let Ok(rd) = fs::read_dir(&d) else { return Ok(out) };
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if let Some(s) = n.strip_suffix(".json").filter(|_| !n.starts_with('.')) {
                if d.join(format!("{s}.qcow2")).exists() {
                    out.push(read_json(&e.path())?);
                }
            }
        }
        out.sort_by(|a: &SnapshotInfo, b| a.created.cmp(&b.created).then(a.name.cmp(&b.name)));
        Ok(out)
    }

    /// Take a snapshot of the VM's disk. A running VM is paused for the copy (QEMU flushes its
    /// disks when it stops the vCPUs) and resumed after.
    ///
    /// # Errors
    /// Already exists (exit 4); usage errors for a bad name.
    pub fn snapshot_create(&self, name: &str, snap: &str) -> Result<SnapshotInfo> {
        self.audit.audited("vm.snapshot.create", &format!("{name}@{snap}"), || {
            snapshot_name(snap)?;
            let c = self.load(name)?;
            let _l = self.lock(&c.name)?;
            let dir = self.dir(&c.name);
            let sd = dir.join(SNAPSHOTS);
            fs::create_dir_all(&sd).map_err(|e| Error::io("create", &sd, e))?;
            let file = sd.join(format!("{snap}.qcow2"));
            if file.exists() {
                return Err(Error::Vm(volt_vm::Error::AlreadyExists { what: "snapshot", name: snap.into() }));
            }
            let status = self.info(c.clone())?.status;
            let live = status.is_live();
            // A running VM is paused for the copy: QEMU writes its disks back when it stops the
            // vCPUs (a paused one did so when it was paused) and resumes after.
            let mut ctl = if status == Status::Running { Some(self.ctl(&c.name)?) } else { None };
            if let Some(q) = ctl.as_mut() {
                q.stop()?;
            }
            let copy = volt_vm::disk::copy_durable(&dir.join(DISK), &file);
            if let Some(q) = ctl.as_mut() {
                q.cont()?;
            }
            copy?;
            let info = SnapshotInfo {
                name: snap.into(),
                created: volt_vm::kernel::now(),
                size: fs::metadata(&file).map(|m| m.len()).unwrap_or(0),
                live,
            };
            crate::fsutil::write_atomic(
                &sd.join(format!("{snap}.json")),
                &serde_json::to_vec_pretty(&info).expect("serialises"),
            )?;
            Ok(info)
        })
    }

    /// Snapshots of a VM, oldest first.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn snapshot_list(&self, name: &str) -> Result<Vec<SnapshotInfo>> {
        let c = self.load(name)?;
        self.snapshots_of(&c.name)
    }

    /// Put the VM's disk back to a snapshot. The VM must be stopped.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::InvalidState`] while it runs.
    pub fn snapshot_restore(&self, name: &str, snap: &str) -> Result<()> {
        self.audit.audited("vm.snapshot.restore", &format!("{name}@{snap}"), || {
            snapshot_name(snap)?;
            let c = self.load(name)?;
            let _l = self.lock(&c.name)?;
            let dir = self.dir(&c.name);
            let file = dir.join(SNAPSHOTS).join(format!("{snap}.qcow2"));
            if !file.exists() {
                return Err(Error::NotFound { what: "snapshot", name: snap.into() });
            }
            self.info(c.clone())?.status.check(Op::Restore, &c.name)?;
            volt_vm::disk::copy_durable(&file, &dir.join(DISK)).map_err(Error::from)
        })
    }

    /// Delete a snapshot.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn snapshot_delete(&self, name: &str, snap: &str) -> Result<()> {
        self.audit.audited("vm.snapshot.delete", &format!("{name}@{snap}"), || {
            snapshot_name(snap)?;
            let c = self.load(name)?;
            let _l = self.lock(&c.name)?;
            let sd = self.dir(&c.name).join(SNAPSHOTS);
            let file = sd.join(format!("{snap}.qcow2"));
            if !file.exists() {
                return Err(Error::NotFound { what: "snapshot", name: snap.into() });
            }
            let _ = fs::remove_file(sd.join(format!("{snap}.json")));
            fs::remove_file(&file).map_err(|e| Error::io("remove", &file, e))
        })
    }

    // ---- tuning -------------------------------------------------------------------------------

    /// Pin the VM's vCPU threads to `cpus` (vCPU i on `cpus[i % len]`), now if it runs and at
    /// every start. An empty list unpins.
    ///
    /// # Errors
    /// Usage errors for CPUs the host lacks; QMP errors.
    pub fn pin_cpus(&self, name: &str, cpus: &[usize]) -> Result<VmInfo> {
        self.audit.audited("vm.tune.cpu-pin", name, || {
            let online = vsup::host_cpus();
            if let Some(c) = cpus.iter().find(|c| **c >= online) {
                return Err(Error::InvalidArgument(format!(
                    "host CPU {c} does not exist (the host has CPUs 0-{})",
                    online - 1
                )));
            }
            let mut c = self.load(name)?;
            let _l = self.lock(&c.name)?;
            let info = self.info(c.clone())?;
            if info.status.is_live() {
                let threads: Vec<VcpuThread> = self.ctl(&c.name)?.vcpu_threads()?;
                if cpus.is_empty() {
                    let all: Vec<usize> = (0..online).collect();
                    for t in &threads {
                        vsup::set_affinity(t.thread, &all)
                            .map_err(|e| Error::io("unpin", format!("thread {}", t.thread), e))?;
                    }
                } else {
                    vsup::pin_threads(&threads, cpus)?;
                }
            }
            c.cpu_pin = cpus.to_vec();
            self.save(&c)?;
            self.info(c)
        })
    }

    // ---- kernels ------------------------------------------------------------------------------

    /// Install a profile's kernel: `server`, `dev`, `desktop`, `rt` from Debian's kernel packages;
    /// `minimal` compiled from Debian's kernel source (a few minutes; the tree stays in the cache
    /// directory, so rebuilding is quick).
    ///
    /// # Errors
    /// Already exists; dependency and tool errors.
    pub fn kernel_build(&self, profile: &str) -> Result<KernelInfo> {
        let work = self.paths.cache_dir().join("kernels");
        self.audit.audited("kernel.build", profile, || {
            if profile == "minimal" {
                let jobs = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
                self.kernels().build_minimal(&work, jobs).map_err(Error::from)
            } else {
                self.kernels().build_debian(profile, &work).map_err(Error::from)
            }
        })
    }

    /// Import a kernel image (and initramfs) under `name` (audited).
    ///
    /// # Errors
    /// As [`Kernels::import`].
    pub fn kernel_import(&self, file: &Path, name: &str, initrd: Option<&Path>, cmdline: &str) -> Result<KernelInfo> {
        self.audit
            .audited("kernel.import", name, || self.kernels().import(file, name, initrd, cmdline).map_err(Error::from))
    }

    /// Installed kernels, by name.
    ///
    /// # Errors
    /// I/O errors.
    pub fn kernel_list(&self) -> Result<Vec<KernelInfo>> {
        self.kernels().list().map_err(Error::from)
    }

    /// Remove a kernel no VM uses.
    ///
    /// # Errors
    /// [`Error::InUse`] naming the VMs that use it.
    pub fn kernel_remove(&self, kernel: &str) -> Result<()> {
        let users: Vec<String> =
            self.list()?.into_iter().filter(|v| v.config.kernel == kernel).map(|v| v.config.name).collect();
        if !users.is_empty() {
            return Err(Error::InUse { what: "kernel", name: kernel.into(), users, hint: "" });
        }
        self.audit.audited("kernel.rm", kernel, || self.kernels().remove(kernel).map_err(Error::from))
    }
}

fn workload_of(i: &VmInfo) -> crate::workload::WorkloadInfo {
    crate::workload::WorkloadInfo {
        name: i.config.name.clone(),
        kind: "vm".into(),
        status: i.status,
        pid: i.state.qemu_pid,
    }
}

impl Vms {
    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(Vms) -> Result<T> + Send + 'static) -> Result<T> {
        let v = self.clone();
        tokio::task::spawn_blocking(move || f(v)).await.map_err(|e| Error::Task(e.to_string()))?
    }
}

/// VMs behind the generic [`crate::Runtime`] trait, beside containers: `spec.image` is a VM
/// image (a disk at `/disk/*.qcow2`), `memory` the guest's memory, `cpu_percent` rounds up to
/// vCPUs. A command is refused (a VM runs its image's own system); so is `exec`, which would
/// need an agent in the guest.
#[async_trait::async_trait]
impl crate::traits::Runtime for Vms {
    fn kind(&self) -> &'static str {
        "vm"
    }
    async fn create(&self, spec: &crate::workload::WorkloadSpec) -> Result<crate::workload::WorkloadInfo> {
        if !spec.command.is_empty() {
            return Err(Error::InvalidArgument("a VM runs its image's own system: no command".into()));
        }
        let spec = spec.clone();
        self.blocking(move |v| {
            let o = VmCreateOptions {
                image: (!spec.image.is_empty()).then(|| spec.image.clone()),
                memory: spec.memory.map(|m| format!("{}M", m >> 20)),
                cpus: spec.cpu_percent.map(|p| p.div_ceil(100).max(1)),
                networks: spec.networks.clone(),
                ..Default::default()
            };
            Ok(workload_of(&v.create(&spec.name, &o)?))
        })
        .await
    }
    async fn start(&self, name: &str) -> Result<()> {
        let n = name.to_string();
        self.blocking(move |v| v.start(&n).map(drop)).await
    }
    async fn stop(&self, name: &str, timeout_secs: u64) -> Result<()> {
        let n = name.to_string();
        self.blocking(move |v| v.stop(&n, Some(timeout_secs)).map(drop)).await
    }
    async fn kill(&self, name: &str, signal: i32) -> Result<()> {
        let n = name.to_string();
        self.blocking(move |v| v.kill(&n, signal).map(drop)).await
    }
    async fn delete(&self, name: &str) -> Result<()> {
        let n = name.to_string();
        self.blocking(move |v| v.delete(&n, false)).await
    }
    async fn status(&self, name: &str) -> Result<crate::workload::WorkloadInfo> {
        let n = name.to_string();
        self.blocking(move |v| Ok(workload_of(&v.inspect(&n)?))).await
    }
    async fn list(&self) -> Result<Vec<crate::workload::WorkloadInfo>> {
        self.blocking(|v| Ok(v.list()?.iter().map(workload_of).collect())).await
    }
    async fn exec(&self, _name: &str, _argv: &[String]) -> Result<i32> {
        Err(Error::Unsupported("exec in a VM needs a guest agent; use `volt vm console`".into()))
    }
    async fn logs(&self, name: &str, lines: usize) -> Result<Vec<String>> {
        let n = name.to_string();
        self.blocking(move |v| Ok(v.logs(&n, Some(lines))?.lines().map(str::to_string).collect())).await
    }
    async fn update(&self, _name: &str, _memory: Option<u64>, _cpu_percent: Option<u32>) -> Result<()> {
        Err(Error::Unsupported(
            "a VM's memory and vCPUs change with `volt vm create` options; live resize is not supported".into(),
        ))
    }
}

/// `volt-supervisor vm JSON`: detach and supervise one VM. `volt-supervisor vm-run FILE`: the
/// same in the foreground with the arguments from a file (a unit's ExecStart). `volt-supervisor
/// kvm-probe`: run a vCPU once (the accelerator probe's first stage).
pub fn supervisor_main(args: &[String]) -> i32 {
    match args.first().map(String::as_str) {
        Some("kvm-probe") => match volt_vm::accel::probe_kvm_in_process() {
            Ok(()) => {
                println!("ok");
                0
            }
            Err(e) => {
                println!("error: {e}");
                1
            }
        },
        Some("vm") => {
            let Some(json) = args.get(1) else {
                eprintln!("volt-supervisor vm: started by Volt to run one VM; not meant to be run by hand");
                return 2;
            };
            let a: vsup::SupervisorArgs = match serde_json::from_str(json) {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("volt-supervisor vm: bad arguments: {e}");
                    return 2;
                }
            };
            if vsup::detach().is_none() {
                return 0;
            }
            // QEMU must not inherit the report pipe or the run lock.
            for fd in [a.ready_fd, Some(crate::container::supervisor::RUN_LOCK_FD)].into_iter().flatten() {
                // SAFETY: fcntl on descriptors handed to us.
                unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
            }
            vsup::run(a)
        }
        Some("vm-run") => {
            let Some(path) = args.get(1) else {
                eprintln!("volt-supervisor vm-run: needs the VM's run.json");
                return 2;
            };
            let a: vsup::SupervisorArgs = match fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("volt-supervisor vm-run: {path}: {e}");
                    return 2;
                }
            };
            let lock = match take_run_lock(&a.dir) {
                Ok(Some(l)) => l,
                Ok(None) => {
                    eprintln!("volt-supervisor vm-run: the VM is running already");
                    return 1;
                }
                Err(e) => {
                    eprintln!("volt-supervisor vm-run: {}", e.chain());
                    return 1;
                }
            };
            let code = vsup::run(vsup::SupervisorArgs { ready_fd: None, ..a });
            drop(lock);
            code
        }
        _ => {
            eprintln!("volt-supervisor: unknown mode");
            2
        }
    }
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
