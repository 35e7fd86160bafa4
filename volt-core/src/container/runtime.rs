//! Voltainer's lifecycle API: [`Containers`] creates, starts, stops, signals, inspects, execs
//! into, reads the logs of, limits and deletes containers, through one of two supervisors chosen
//! at run time — systemd (units over D-Bus) or Volt's own per-container supervisor process.

use std::fs::{self, File};
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::cgroup::{Cgroup, CgroupStats};
use super::logs::{read_from, read_log, LineAssembler, LogLine, LogQuery, LOG_FILE};
use super::store::{read_json, save_state};
use super::supervisor::{
    container_procs, ns_pid, spawn_supervisor, supervisor_alive, take_run_lock, wait_readable as wait_fd,
    SupervisorArgs, KILL_REQUEST, STOP_REQUEST,
};
use super::systemd::{journal, Systemd, UnitStatus};
use super::{
    generate_name, nspawn_argv, parse_mount, unit_file, ContainerConfig, ContainerEndpoint, ContainerInfo,
    ContainerName, ContainerState, ContainerStore, CreateOptions, Limits, Mount, NspawnOptions, Volumes, UNIT_TEMPLATE,
};
use crate::audit::AuditLog;
use crate::config::NetworkSettings;
use crate::config::{ContainerSettings, SupervisorMode};
use crate::error::{Error, Result};
use crate::image::{ImageName, Images, RootfsMode};
use crate::network::{host_ifname, Networks};
use crate::paths::Paths;
use crate::workload::{Op, Status};

/// The supervisor in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// systemd units over D-Bus.
    Systemd,
    /// Volt's own supervisor process.
    Direct,
}

impl Backend {
    /// `systemd` or `direct`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Systemd => "systemd",
            Backend::Direct => "direct",
        }
    }
}

/// One row of `volt top`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopEntry {
    /// Container name.
    pub name: String,
    /// CPU use over the sampling interval, percent of one CPU.
    pub cpu_percent: f64,
    /// Raw counters at the end of the interval.
    #[serde(flatten)]
    pub stats: CgroupStats,
}

/// Containers of one Volt installation.
#[derive(Debug, Clone)]
pub struct Containers {
    store: ContainerStore,
    images: Images,
    volumes: Volumes,
    paths: Paths,
    settings: ContainerSettings,
    audit: AuditLog,
    backend: Backend,
    systemd: OnceLock<Systemd>,
    networks: Networks,
}

fn unit_name(name: &ContainerName) -> String {
    UNIT_TEMPLATE.replace("%s", name.as_str())
}

fn is_running(s: &ContainerState) -> bool {
    s.status == Status::Running
}

/// A pidfd for `pid`, or None if it is gone.
fn pidfd(pid: u32) -> Option<File> {
    super::supervisor::pidfd(pid).ok()
}

/// The supervisor for `settings`: as configured, or in `auto` mode systemd when it is PID 1.
pub(crate) fn choose_backend(settings: &ContainerSettings) -> Backend {
    match settings.supervisor {
        SupervisorMode::Systemd => Backend::Systemd,
        SupervisorMode::Direct => Backend::Direct,
        SupervisorMode::Auto if Path::new("/run/systemd/system").is_dir() => Backend::Systemd,
        SupervisorMode::Auto => Backend::Direct,
    }
}

impl Containers {
    /// Containers under `paths`, from `images`; the supervisor is chosen from `settings` (and,
    /// in `auto` mode, from whether systemd is PID 1) and logged.
    pub fn new(paths: Paths, images: Images, settings: ContainerSettings, audit: AuditLog) -> Self {
        let backend = choose_backend(&settings);
        tracing::debug!(supervisor = backend.as_str(), "containers: supervisor chosen");
        let networks = Networks::new(paths.clone(), NetworkSettings::default(), settings.clone(), audit.clone());
        Containers {
            store: ContainerStore::new(paths.clone(), images.clone()),
            volumes: Volumes::new(paths.clone(), audit.clone()),
            images,
            paths,
            settings,
            audit,
            backend,
            systemd: OnceLock::new(),
            networks,
        }
    }

    /// Use these networks (with their settings) for `--network`.
    pub fn with_networks(mut self, networks: Networks) -> Self {
        self.networks = networks;
        self
    }

    /// The networks containers join.
    pub fn networks(&self) -> &Networks {
        &self.networks
    }

    /// The supervisor in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Named volumes.
    pub fn volumes(&self) -> &Volumes {
        &self.volumes
    }

    fn systemd(&self) -> Result<&Systemd> {
        if let Some(s) = self.systemd.get() {
            return Ok(s);
        }
        let s = Systemd::connect(self.settings.systemd_bus.as_deref())?;
        Ok(self.systemd.get_or_init(|| s))
    }

    fn cgroup_parent(&self) -> String {
        match &self.settings.cgroup_parent {
            Some(p) => p.clone(),
            None if self.paths.is_system() => "volt".into(),
            // A relocated installation (tests, trials) gets cgroups of its own.
            None => {
                let h = blake3::hash(self.paths.lib_dir().as_os_str().as_encoded_bytes());
                format!("volt-{}", &h.to_hex()[..8])
            }
        }
    }

    fn supervisor_binary(&self) -> Result<PathBuf> {
        find_supervisor(&self.settings)
    }

    /// A supervisor that recorded its container's end exits right after: wait (up to 5 s) for
    /// that, so the next operation does not take it for one that is starting. True if none is
    /// left.
    fn supervisor_gone(&self, n: &ContainerName) -> bool {
        let dir = self.store.dir(n);
        let end = Instant::now() + Duration::from_secs(5);
        while supervisor_alive(&dir) {
            let running = read_json::<ContainerState>(&dir, "state.json").is_ok_and(|s| is_running(&s));
            if running || Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        true
    }

    fn name(name: &str) -> Result<ContainerName> {
        name.parse()
    }

    /// Turn a `-v SOURCE:/path[:ro]` argument into a mount: a SOURCE starting with `/` or `.`
    /// is a host directory that must exist, anything else a named volume (created if missing).
    ///
    /// # Errors
    /// Usage errors, a missing host directory ([`Error::NotFound`]).
    pub fn mount_from_arg(&self, spec: &str) -> Result<Mount> {
        let (src, target, read_only) = parse_mount(spec)?;
        let source = if src.starts_with('/') || src.starts_with('.') {
            let p = fs::canonicalize(&src).map_err(|_| Error::NotFound { what: "bind source", name: src.clone() })?;
            if !p.is_dir() && !p.is_file() {
                return Err(Error::InvalidArgument(format!("volume {spec:?}: {src} is not a file or directory")));
            }
            p
        } else {
            self.volumes.ensure(&src)?.path
        };
        Ok(Mount { source, target, read_only })
    }

    /// Create a stopped container from `image`; a name is generated when `name` is None.
    ///
    /// # Errors
    /// Usage errors (bad name or options), [`Error::NotFound`] for the image, already exists.
    pub fn create(&self, name: Option<&str>, image: &str, opts: &CreateOptions) -> Result<ContainerInfo> {
        let r = self.create_inner(name, image, opts);
        let what = match &r {
            Ok(i) => i.config.name.to_string(),
            Err(_) => name.unwrap_or("-").to_string(),
        };
        self.audit.outcome("container.create", &format!("{what} from {image}"), r)
    }

    fn create_inner(&self, name: Option<&str>, image: &str, opts: &CreateOptions) -> Result<ContainerInfo> {
        let image: ImageName = image.parse()?;
        let name = match name {
            Some(n) => Self::name(n)?,
            None => self.free_name(),
        };
        for n in &opts.networks {
            crate::network::check_network_name(n)?;
        }
        let info = self.store.create(&name, &image, opts)?;
        let r = (|| {
            self.networks.reserve(name.as_str(), &opts.networks, &opts.ports)?;
            self.write_unit(&info)
        })();
        if let Err(e) = r {
            // Nothing of a refused create is kept: not the record, not an address or a rule.
            let _lock = self.store.lock(&name)?;
            for n in &opts.networks {
                let _ = self.networks.release(n, name.as_str());
            }
            self.store.delete_locked(&name)?;
            return Err(e);
        }
        self.with_endpoints(info)
    }

    /// Fill in a container's addresses.
    fn with_endpoints(&self, mut info: ContainerInfo) -> Result<ContainerInfo> {
        let name = info.config.name.as_str();
        info.endpoints = info
            .config
            .networks
            .iter()
            .enumerate()
            .map(|(i, n)| {
                Ok(ContainerEndpoint {
                    network: n.clone(),
                    address: self.networks.address(n, name)?,
                    interface: format!("eth{i}"),
                    host_interface: host_ifname(n, name),
                })
            })
            .collect::<Result<_>>()?;
        Ok(info)
    }

    /// Put the container's network namespace on its networks (made if missing, e.g. after a
    /// reboot; what is there already is kept) and write its resolv.conf.
    fn plug(&self, info: &ContainerInfo) -> Result<()> {
        let c = &info.config;
        if c.networks.is_empty() {
            return Ok(());
        }
        let dir = self.store.dir(&c.name);
        let ns = dir.join("netns");
        if volt_net::netns::create(&ns)? {
            // A new namespace: host ends left from the one before (being freed by the kernel
            // after a reboot-like loss, or a crash) must not pass for plugged.
            for n in &c.networks {
                self.networks.unplug(n, c.name.as_str())?;
            }
        }
        let mut resolv = String::new();
        for (i, n) in c.networks.iter().enumerate() {
            self.networks.attach(n, c.name.as_str(), &ns, &format!("eth{i}"), i == 0)?;
            if i == 0 {
                // `attach` has just ensured the network; its record is enough here.
                let gw = self.networks.load(n)?.gateway;
                resolv = format!("nameserver {gw}\nsearch {n}.{}\noptions ndots:1\n", volt_net::dns::DOMAIN);
            }
        }
        crate::fsutil::write_replace(&dir.join("resolv.conf"), resolv.as_bytes(), false)
    }

    /// Take the container off its networks for good (before its record goes).
    fn unplug_all(&self, c: &ContainerConfig) -> Result<()> {
        for n in &c.networks {
            self.networks.release(n, c.name.as_str())?;
        }
        self.networks.forget(c.name.as_str())?;
        volt_net::netns::remove(&self.store.dir(&c.name).join("netns"))?;
        Ok(())
    }

    /// Put a container on one more network: an address now, and if it runs, the interface
    /// (`ethN`) at once.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Conflict`] if it is on that network already.
    pub fn connect(&self, name: &str, network: &str) -> Result<ContainerInfo> {
        let n = Self::name(name)?;
        self.audit.audited("container.connect", &format!("{name} {network}"), || {
            let _lock = self.store.lock(&n)?;
            let info = self.inspect_n(&n, true)?;
            if info.config.networks.iter().any(|x| x == network) {
                return Err(Error::Conflict(format!("container {n} is on network {network} already")));
            }
            self.networks.reserve(n.as_str(), std::slice::from_ref(&network.to_string()), &[])?;
            let mut config = info.config.clone();
            config.networks.push(network.to_string());
            let r = (|| {
                if is_running(&info.state) {
                    let ns = self.store.dir(&n).join("netns");
                    if !volt_net::netns::is_live(&ns) {
                        return Err(Error::Conflict(format!(
                            "container {n} runs on the host's network; connect it while stopped"
                        )));
                    }
                    let i = config.networks.len() - 1;
                    self.networks.attach(network, n.as_str(), &ns, &format!("eth{i}"), i == 0)?;
                }
                self.store.save_config(&config)
            })();
            if let Err(e) = r {
                let _ = self.networks.release(network, n.as_str());
                return Err(e);
            }
            self.write_unit(&ContainerInfo { config, ..info })?;
            self.inspect_n(&n, true)
        })
    }

    /// Take a container off a network: its interface there, address, name and forwards (all
    /// of its forwards when it is the first network). While it runs only its last network can
    /// be disconnected (interfaces are numbered in network order); stopped, any can, and the
    /// rest are renumbered at the next start.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Conflict`] if it is not on that network, or for a running
    /// container's network other than the last.
    pub fn disconnect(&self, name: &str, network: &str) -> Result<ContainerInfo> {
        let n = Self::name(name)?;
        self.audit.audited("container.disconnect", &format!("{name} {network}"), || {
            let _lock = self.store.lock(&n)?;
            let info = self.inspect_n(&n, true)?;
            let Some(pos) = info.config.networks.iter().position(|x| x == network) else {
                return Err(Error::Conflict(format!("container {n} is not on network {network}")));
            };
            let running = is_running(&info.state);
            if running && pos + 1 != info.config.networks.len() {
                // Interfaces are numbered in network order (and eth0 has the default route and
                // the forwards): only the last one can go while the container runs.
                return Err(Error::Conflict(format!(
                    "container {n} runs with {network} as eth{pos} ahead of other networks; stop it to disconnect it"
                )));
            }
            let mut config = info.config.clone();
            config.networks.remove(pos);
            if pos == 0 {
                // The forwards went to the address on this network.
                config.ports.clear();
            }
            self.store.save_config(&config)?;
            self.networks.release(network, n.as_str())?;
            if !running {
                // Renumbered from scratch at the next start.
                for other in &config.networks {
                    self.networks.unplug(other, n.as_str())?;
                }
                volt_net::netns::remove(&self.store.dir(&n).join("netns"))?;
            }
            self.write_unit(&ContainerInfo { config, ..info })?;
            self.inspect_n(&n, true)
        })
    }

    fn free_name(&self) -> ContainerName {
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        for i in 0..64 {
            let n = generate_name(seed.wrapping_add(i));
            if !self.store.dir(&n).exists() {
                return n;
            }
        }
        // 256 combinations are taken: add a number.
        format!("{}_{}", generate_name(seed), seed % 100_000).parse().expect("valid")
    }

    /// `units/volt-container@NAME.service`, regenerated from the configuration.
    fn write_unit(&self, info: &ContainerInfo) -> Result<PathBuf> {
        let dir = self.store.dir(&info.config.name);
        let argv = nspawn_argv(&info.config, &info.rootfs.path, &NspawnOptions::for_container(&info.config, &dir));
        let mut unit = unit_file(&info.config, &argv);
        if info.rootfs.mode == RootfsMode::Overlay {
            if let (Some(l), Some(u)) = (&info.rootfs.lower, &info.rootfs.upper) {
                let work = self.store.dir(&info.config.name).join("work");
                let opts = format!("lowerdir={},upperdir={},workdir={}", l.display(), u.display(), work.display());
                let pre = [
                    "/bin/sh".to_string(),
                    "-c".into(),
                    "mountpoint -q \"$0\" || exec mount -t overlay overlay -o \"$1\" \"$0\"".into(),
                    info.rootfs.path.display().to_string(),
                    opts,
                ];
                unit = super::plan::with_exec_start_pre(&unit, &pre);
            }
        }
        let dir = self.paths.units_dir();
        fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
        let p = dir.join(unit_name(&info.config.name));
        // Derived from config.json and rewritten at every start: no fsync needed.
        crate::fsutil::write_replace(&p, unit.as_bytes(), false)?;
        Ok(p)
    }

    /// A container with its live state (a direct supervisor that died is noticed and recorded
    /// here; systemd is asked for the unit's state).
    ///
    /// # Errors
    /// [`Error::NotFound`], usage errors for a bad name.
    pub fn inspect(&self, name: &str) -> Result<ContainerInfo> {
        let n = Self::name(name)?;
        self.inspect_n(&n, false)
    }

    fn inspect_n(&self, n: &ContainerName, locked: bool) -> Result<ContainerInfo> {
        self.with_endpoints(self.live(self.store.inspect(n)?, locked)?)
    }

    /// Bring a stored record up to date with its supervisor (see [`Containers::inspect`]).
    fn live(&self, mut info: ContainerInfo, locked: bool) -> Result<ContainerInfo> {
        let n = &info.config.name.clone();
        match info.state.backend.as_deref() {
            Some("systemd") if is_running(&info.state) => {
                let s = self.systemd()?.status(&unit_name(n))?;
                let mut st = info.state.clone();
                apply_unit_status(&mut st, &s);
                if st.status != info.state.status {
                    // The unit ended on its own: record it, under the lock.
                    let _lock = if locked { None } else { Some(self.store.lock(n)?) };
                    st.finished = Some(super::logs::timestamp());
                    save_state(&self.store.dir(n), &st)?;
                }
                info.state = st;
            }
            Some("direct") if is_running(&info.state) && !supervisor_alive(&self.store.dir(n)) => {
                // The supervisor was killed (or the host rebooted): record it once, under the lock.
                let _lock = if locked { None } else { Some(self.store.lock(n)?) };
                let mut st: ContainerState = read_json(&self.store.dir(n), "state.json")?;
                if is_running(&st) && !supervisor_alive(&self.store.dir(n)) {
                    if let Some(cg) = &st.cgroup {
                        let _ = cg.remove();
                    }
                    st.status = Status::Failed;
                    st.pid = None;
                    st.supervisor = None;
                    st.reason = Some("supervisor lost: its process is gone, so the container was ended".into());
                    st.finished = Some(super::logs::timestamp());
                    save_state(&self.store.dir(n), &st)?;
                }
                info.state = st;
            }
            _ => {}
        }
        Ok(info)
    }

    /// All containers, by name, with live state.
    ///
    /// # Errors
    /// I/O errors.
    pub fn list(&self) -> Result<Vec<ContainerInfo>> {
        let mut out = Vec::new();
        for i in self.store.list()? {
            let fallback = i.clone();
            let i = self.live(i, false).unwrap_or(fallback);
            let fallback = i.clone();
            out.push(self.with_endpoints(i).unwrap_or(fallback));
        }
        Ok(out)
    }

    /// Start a stopped (or failed) container; returns once it runs.
    ///
    /// # Errors
    /// [`Error::AlreadyRunning`] if it runs already (exit 9); supervisor and I/O errors.
    pub fn start(&self, name: &str) -> Result<ContainerInfo> {
        let n = Self::name(name)?;
        self.audit.audited("container.start", name, || {
            let _lock = self.store.lock(&n)?;
            self.start_locked(&n)
        })
    }

    fn start_locked(&self, n: &ContainerName) -> Result<ContainerInfo> {
        let info = self.inspect_n(n, true)?;
        info.state.status.check(Op::Start, n.as_str())?;
        let dir = self.store.dir(n);
        for m in &info.config.mounts {
            if !m.source.exists() {
                return Err(Error::NotFound { what: "mount source", name: m.source.display().to_string() });
            }
        }
        let _ = fs::remove_file(dir.join(STOP_REQUEST));
        self.plug(&info)?;
        match self.backend {
            Backend::Direct => {
                let rootfs = self.images.ensure_rootfs(&dir)?;
                // systemd-nspawn only accepts a directory with /usr as an OS tree.
                let usr = rootfs.path.join("usr");
                if !usr.exists() {
                    fs::create_dir(&usr).map_err(|e| Error::io("create", &usr, e))?;
                }
                let cgroup = Cgroup::at(&self.settings.cgroup_root, &self.cgroup_parent(), n.as_str())?;
                let args = SupervisorArgs {
                    dir: dir.clone(),
                    cgroup,
                    log_max_size: self.settings.log_max_size,
                    log_files: self.settings.log_files,
                    stop_timeout: self.settings.stop_timeout,
                    ready_fd: None,
                };
                // The run lock: held by the supervisor for its whole life, so a second start
                // (after a client was killed mid-start, say) can never run a second one.
                self.supervisor_gone(n);
                let Some(lock) = take_run_lock(&dir)? else {
                    return Err(Error::Conflict(format!("container {n} is being started by another supervisor")));
                };
                spawn_supervisor(&self.supervisor_binary()?, &args, n.as_str(), &lock)?;
            }
            Backend::Systemd => {
                let unit = self.write_unit(&info)?;
                let sd = self.systemd()?;
                sd.install(&unit)?;
                let mut st = info.state.clone();
                st.backend = Some("systemd".into());
                st.status = Status::Running;
                st.started = Some(super::logs::timestamp());
                st.exit_code = None;
                st.reason = None;
                st.supervisor = None;
                st.cgroup = None;
                save_state(&dir, &st)?;
                let s = sd.start(&unit_name(n), Duration::from_secs(30))?;
                apply_unit_status(&mut st, &s);
                save_state(&dir, &st)?;
            }
        }
        self.inspect_n(n, true)
    }

    /// Stop a running container: SIGTERM to the workload, SIGKILL after `timeout` seconds
    /// (default: `containers.stop_timeout`).
    ///
    /// # Errors
    /// [`Error::NotRunning`] if it is not running (exit 9).
    pub fn stop(&self, name: &str, timeout: Option<u64>) -> Result<ContainerInfo> {
        let n = Self::name(name)?;
        self.audit.audited("container.stop", name, || {
            let _lock = self.store.lock(&n)?;
            self.stop_locked(&n, timeout)
        })
    }

    fn stop_locked(&self, n: &ContainerName, timeout: Option<u64>) -> Result<ContainerInfo> {
        let info = self.inspect_n(n, true)?;
        if info.state.status != Status::Failed {
            info.state.status.check(Op::Stop, n.as_str())?;
        }
        if !is_running(&info.state) {
            // A failed container is "stopped" by recording it so.
            let mut st = info.state;
            st.status = Status::Stopped;
            save_state(&self.store.dir(n), &st)?;
            return self.inspect_n(n, true);
        }
        let secs = timeout.unwrap_or(self.settings.stop_timeout);
        let dir = self.store.dir(n);
        match info.state.backend.as_deref() {
            Some("systemd") => {
                let s = self.systemd()?.stop(&unit_name(n), Duration::from_secs(secs))?;
                let mut st = info.state.clone();
                apply_unit_status(&mut st, &s);
                // Asked to stop: stopped, whatever status the workload died with.
                st.status = Status::Stopped;
                st.reason = Some("stopped".into());
                st.finished = Some(super::logs::timestamp());
                save_state(&dir, &st)?;
            }
            _ => {
                let Some(sup) = info.state.supervisor.clone() else {
                    return Err(Error::Workload { name: n.to_string(), reason: "no supervisor recorded".into() });
                };
                crate::fsutil::write_replace(&dir.join(STOP_REQUEST), secs.to_string().as_bytes(), false)?;
                let fd = pidfd(sup.pid);
                // SAFETY: kill(2).
                unsafe { libc::kill(sup.pid as libc::pid_t, libc::SIGTERM) };
                let done = fd.as_ref().is_none_or(|f| wait_fd(f, Duration::from_secs(secs + 15)));
                if !done {
                    // The supervisor is stuck: end everything and record it.
                    if let Some(cg) = &info.state.cgroup {
                        cg.kill_all();
                    }
                    // SAFETY: kill(2).
                    unsafe { libc::kill(sup.pid as libc::pid_t, libc::SIGKILL) };
                    if let Some(f) = &fd {
                        wait_fd(f, Duration::from_secs(5));
                    }
                }
            }
        }
        self.inspect_n(n, true)
    }

    /// Stop (if running) and start again.
    ///
    /// # Errors
    /// As [`Containers::stop`] and [`Containers::start`].
    pub fn restart(&self, name: &str, timeout: Option<u64>) -> Result<ContainerInfo> {
        let n = Self::name(name)?;
        self.audit.audited("container.restart", name, || {
            let _lock = self.store.lock(&n)?;
            if is_running(&self.inspect_n(&n, true)?.state) {
                self.stop_locked(&n, timeout)?;
            }
            self.start_locked(&n)
        })
    }

    /// Send `signal` to the container's main process (the workload).
    ///
    /// # Errors
    /// [`Error::NotRunning`] if it is not running.
    pub fn kill(&self, name: &str, signal: i32) -> Result<()> {
        let n = Self::name(name)?;
        self.audit.audited("container.kill", &format!("{name} signal {signal}"), || {
            let _lock = self.store.lock(&n)?;
            let info = self.inspect_n(&n, true)?;
            info.state.status.check(Op::Kill, n.as_str())?;
            // The workload, never nspawn (which ends the whole container on most signals).
            let cg = self.running_cgroup(&info)?;
            let target = self.container_pids(&info, &cg, Duration::from_secs(1)).1;
            let target = target.ok_or_else(|| Error::Workload {
                name: n.to_string(),
                reason: "no workload process (restarting?)".into(),
            })?;
            crate::fsutil::write_replace(&self.store.dir(&n).join(KILL_REQUEST), signal.to_string().as_bytes(), false)?;
            // SAFETY: kill(2).
            if unsafe { libc::kill(target as libc::pid_t, signal) } != 0 {
                return Err(Error::io("signal", format!("pid {target}"), std::io::Error::last_os_error()));
            }
            Ok(())
        })
    }

    /// Delete a container (root filesystem, directory, unit). A running one is refused with
    /// exit 9 unless `force`, which stops it first.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::InvalidState`].
    pub fn delete(&self, name: &str, force: bool) -> Result<()> {
        let n = Self::name(name)?;
        self.audit.audited("container.delete", name, || {
            let _lock = self.store.lock(&n)?;
            let info = self.inspect_n(&n, true)?;
            if !is_running(&info.state) && !self.supervisor_gone(&n) {
                return Err(Error::Conflict(format!("container {n} is starting; try again")));
            }
            if is_running(&info.state) {
                if !force {
                    info.state.status.check(Op::Delete, n.as_str())?;
                }
                self.stop_locked(&n, Some(0))?;
            }
            if info.state.backend.as_deref() == Some("systemd") {
                let _ = self.systemd()?.uninstall(&unit_name(&n));
            }
            if let Some(cg) = &info.state.cgroup {
                cg.remove()?;
            }
            let _ = fs::remove_file(self.paths.units_dir().join(unit_name(&n)));
            self.unplug_all(&info.config)?;
            self.store.delete_locked(&n)
        })
    }

    /// Wait until the container is no longer running (its supervisor has exited) or `timeout`
    /// passes; returns its state.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Timeout`].
    pub fn wait(&self, name: &str, timeout: Option<Duration>) -> Result<ContainerInfo> {
        let end = timeout.map(|t| Instant::now() + t);
        loop {
            let info = self.inspect(name)?;
            if !is_running(&info.state) {
                // Let a supervisor that just recorded the end exit, so what the caller does
                // next (delete, start) finds it gone.
                self.supervisor_gone(&info.config.name);
                return Ok(info);
            }
            let slice = end.map_or(Duration::from_millis(500), |e| {
                e.saturating_duration_since(Instant::now()).min(Duration::from_millis(500))
            });
            if slice.is_zero() {
                return Err(Error::Timeout(format!("container {name} still runs")));
            }
            match info.state.supervisor.as_ref().and_then(|s| pidfd(s.pid)) {
                Some(fd) => {
                    wait_fd(&fd, slice);
                }
                None => std::thread::sleep(slice.min(Duration::from_millis(50))),
            }
        }
    }

    fn running_cgroup(&self, info: &ContainerInfo) -> Result<Cgroup> {
        info.state.status.check(Op::Attach, info.config.name.as_str())?;
        if let Some(cg) = &info.state.cgroup {
            return Ok(cg.clone());
        }
        // systemd: the unit's ControlGroup under the cgroup root; nspawn may have moved the
        // container into a `payload` child of it.
        let path = self.systemd()?.control_group(&unit_name(&info.config.name))?;
        let path = path.trim_start_matches('/');
        let cg = Cgroup::existing(&self.settings.cgroup_root, path)?;
        match Cgroup::existing(&self.settings.cgroup_root, &format!("{path}/payload")) {
            Ok(p) if !p.procs().is_empty() => Ok(p),
            _ => Ok(cg),
        }
    }

    /// The container's init and workload processes (host pids).
    fn container_pids(&self, info: &ContainerInfo, cg: &Cgroup, wait: Duration) -> (Option<u32>, Option<u32>) {
        let end = Instant::now() + wait;
        loop {
            let found = match info.state.backend.as_deref() {
                // MainPID is systemd's pid, which need not be ours (systemd in a namespace):
                // go by the unit's cgroup.
                Some("systemd") => {
                    let init = ns_pid(cg, 1);
                    (init, init.and_then(super::supervisor::workload_of))
                }
                _ => info.state.pid.map_or((None, None), container_procs),
            };
            if found.1.is_some() || Instant::now() >= end {
                return found;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn exec_command(&self, name: &str, argv: &[String], tty: bool) -> Result<(Command, Vec<File>)> {
        if argv.is_empty() {
            return Err(Error::InvalidArgument("exec: give a command after --".into()));
        }
        let info = self.inspect(name)?;
        let cg = self.running_cgroup(&info)?;
        // Right after start nspawn may still be setting up: give it a moment.
        let (init, _) = self.container_pids(&info, &cg, Duration::from_secs(3));
        let init = init.ok_or_else(|| Error::Workload {
            name: name.into(),
            reason: "the container has no init process yet (starting or restarting)".into(),
        })?;
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t").arg(init.to_string()).args(["-m", "-u", "-i", "-n", "-p", "-C", "-r"]);
        // --wdns resolves the directory inside the container's root (--wd=DIR would be the
        // host's DIR).
        cmd.arg(format!("--wdns={}", info.config.workdir.as_deref().unwrap_or("/")));
        if let Some(u) = &info.config.user {
            let (uid, gid) = u.split_once(':').unwrap_or((u, u));
            if uid.parse::<u32>().is_ok() && gid.parse::<u32>().is_ok() {
                cmd.arg(format!("--setuid={uid}")).arg(format!("--setgid={gid}"));
            }
        }
        cmd.arg("--").args(argv).env_clear();
        for e in &info.config.env {
            if let Some((k, v)) = e.split_once('=') {
                cmd.env(k, v);
            }
        }
        if tty {
            if let Some(t) = std::env::var_os("TERM") {
                cmd.env("TERM", t);
            }
        }
        let procs = cg.open_procs()?;
        let fds: Vec<RawFd> = procs.iter().map(|f| f.as_raw_fd()).collect();
        // SAFETY: only write(2) and close_range(2) on descriptors opened before the fork.
        unsafe {
            cmd.pre_exec(move || {
                for &fd in &fds {
                    libc::write(fd, b"0".as_ptr().cast(), 1);
                }
                // No descriptor of the caller's reaches into the container.
                libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, super::supervisor::CLOSE_RANGE_CLOEXEC);
                Ok(())
            });
        }
        Ok((cmd, procs))
    }

    /// Run `argv` inside a running container with this process's standard input and output
    /// (a terminal stays a terminal); returns its exit status (128+N for signal N).
    ///
    /// # Errors
    /// [`Error::NotRunning`] for a container that is not running (exit 9).
    pub fn exec(&self, name: &str, argv: &[String], tty: bool) -> Result<i32> {
        let (mut cmd, _procs) = self.exec_command(name, argv, tty)?;
        let st = cmd.status().map_err(|e| Error::io("run", "nsenter", e))?;
        self.audit.record("container.exec", name, Ok(()));
        Ok(exit_of(st))
    }

    /// Run `argv` inside a running container and capture its output: `(status, stdout, stderr)`.
    ///
    /// # Errors
    /// As [`Containers::exec`].
    pub fn exec_output(&self, name: &str, argv: &[String]) -> Result<(i32, Vec<u8>, Vec<u8>)> {
        let (mut cmd, _procs) = self.exec_command(name, argv, false)?;
        let out = cmd.stdin(Stdio::null()).output().map_err(|e| Error::io("run", "nsenter", e))?;
        self.audit.record("container.exec", name, Ok(()));
        Ok((exit_of(out.status), out.stdout, out.stderr))
    }

    /// Log lines of a container.
    ///
    /// # Errors
    /// [`Error::NotFound`]; journalctl errors (systemd).
    pub fn logs(&self, name: &str, query: &LogQuery) -> Result<Vec<LogLine>> {
        let n = Self::name(name)?;
        let info = self.store.inspect(&n)?;
        if info.state.backend.as_deref() == Some("systemd") {
            let since = info.state.started.as_deref();
            let (mut lines, _) = journal(&unit_name(&n), self.settings.journal_root.as_deref(), None, since)?;
            query.apply(&mut lines);
            return Ok(lines);
        }
        Ok(read_log(&self.store.dir(&n).join(LOG_FILE), self.settings.log_files, query)?.0)
    }

    /// Follow a container's log: the lines `query` selects first, then new ones as they come,
    /// until the container stops. Pull batches with [`LogFollower::next_batch`].
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn follow(&self, name: &str, query: &LogQuery) -> Result<LogFollower<'_>> {
        let n = Self::name(name)?;
        let info = self.store.inspect(&n)?;
        let systemd = info.state.backend.as_deref() == Some("systemd");
        let path = self.store.dir(&n).join(LOG_FILE);
        let (first, offset, cursor) = if systemd {
            let since = info.state.started.as_deref();
            let (lines, cursor) = journal(&unit_name(&n), self.settings.journal_root.as_deref(), None, since)?;
            let skip = query.tail.map_or(0, |t| lines.len().saturating_sub(t));
            (lines.into_iter().skip(skip).collect(), 0, cursor)
        } else {
            let (l, off) = read_log(&path, self.settings.log_files, query)?;
            (l, off, None)
        };
        Ok(LogFollower {
            containers: self,
            name: n.to_string(),
            path,
            offset,
            cursor,
            systemd,
            asm: LineAssembler::default(),
            first: Some(first),
            done: false,
            since: info.state.started.clone(),
        })
    }

    /// Change limits; a running container's cgroup (or unit) is updated at once.
    ///
    /// # Errors
    /// Usage errors; I/O or bus errors writing the limits.
    pub fn update(
        &self,
        name: &str,
        memory: Option<u64>,
        cpu: Option<u32>,
        pids: Option<u32>,
    ) -> Result<ContainerInfo> {
        let n = Self::name(name)?;
        self.audit.audited("container.update", name, || {
            let _lock = self.store.lock(&n)?;
            let info = self.inspect_n(&n, true)?;
            let mut config = info.config.clone();
            let limits = Limits {
                memory: memory.or(config.limits.memory),
                cpu: cpu.or(config.limits.cpu),
                pids: pids.or(config.limits.pids),
            };
            limits.validate()?;
            if is_running(&info.state) {
                match info.state.backend.as_deref() {
                    Some("systemd") => self.systemd()?.set_limits(&unit_name(&n), &limits)?,
                    _ => {
                        if let Some(cg) = &info.state.cgroup {
                            cg.apply(&limits)?;
                        }
                    }
                }
            }
            config.limits = limits;
            let dir = self.store.dir(&n);
            crate::fsutil::write_atomic(&dir.join("config.json"), &serde_json::to_vec_pretty(&config).expect("ok"))?;
            let info = self.inspect_n(&n, true)?;
            self.write_unit(&info)?;
            Ok(info)
        })
    }

    /// Usage counters of a running container.
    ///
    /// # Errors
    /// [`Error::NotRunning`] if it is not running.
    pub fn stats(&self, name: &str) -> Result<CgroupStats> {
        let info = self.inspect(name)?;
        Ok(self.running_cgroup(&info)?.stats())
    }

    /// CPU, memory, I/O and tasks of every running container, CPU measured over `interval`.
    ///
    /// # Errors
    /// I/O errors listing containers.
    pub fn top(&self, interval: Duration) -> Result<Vec<TopEntry>> {
        let running: Vec<(String, Cgroup)> = self
            .list()?
            .into_iter()
            .filter_map(|i| self.running_cgroup(&i).ok().map(|c| (i.config.name.to_string(), c)))
            .collect();
        let before: Vec<u64> = running.iter().map(|(_, c)| c.stats().cpu_ns).collect();
        let t0 = Instant::now();
        std::thread::sleep(interval);
        let dt = t0.elapsed().as_nanos().max(1) as f64;
        Ok(running
            .into_iter()
            .zip(before)
            .map(|((name, cg), b)| {
                let stats = cg.stats();
                let cpu_percent = (stats.cpu_ns.saturating_sub(b)) as f64 / dt * 100.0;
                TopEntry { name, cpu_percent: (cpu_percent * 10.0).round() / 10.0, stats }
            })
            .collect())
    }

    /// Create, start and (unless `detach`) follow a container until it ends, handing each
    /// output line to `on_line`; with `rm` it is deleted afterwards. Returns the final state.
    ///
    /// # Errors
    /// As [`Containers::create`] and [`Containers::start`]; a failed start of an `rm` container
    /// deletes it.
    pub fn run(
        &self,
        name: Option<&str>,
        image: &str,
        opts: &CreateOptions,
        detach: bool,
        rm: bool,
        on_line: &mut dyn FnMut(&LogLine),
    ) -> Result<ContainerInfo> {
        if detach && rm {
            return Err(Error::InvalidArgument(
                "--rm needs an attached run (without -d): delete a detached container yourself".into(),
            ));
        }
        let mut opts = opts.clone();
        opts.ephemeral |= rm;
        let info = self.create(name, image, &opts)?;
        let n = info.config.name.to_string();
        if let Err(e) = self.start(&n) {
            if rm {
                let _ = self.delete(&n, true);
            }
            return Err(e);
        }
        if detach {
            return self.inspect(&n);
        }
        let mut f = self.follow(&n, &LogQuery::default())?;
        while let Some(batch) = f.next_batch(Duration::from_millis(200))? {
            for l in &batch {
                on_line(l);
            }
        }
        let info = self.wait(&n, None)?;
        if rm {
            self.delete(&n, true)?;
        }
        Ok(info)
    }

    /// The lock-free store underneath (SDK users reading files directly).
    pub fn store(&self) -> &ContainerStore {
        &self.store
    }
}

/// The `volt-supervisor` binary: `containers.supervisor_binary`, `VOLT_SUPERVISOR`, beside the
/// running program, then `PATH`.
pub(crate) fn find_supervisor(settings: &ContainerSettings) -> Result<PathBuf> {
    if let Some(p) = &settings.supervisor_binary {
        return Ok(p.clone());
    }
    if let Some(p) = std::env::var_os("VOLT_SUPERVISOR") {
        return Ok(PathBuf::from(p));
    }
    if let Some(p) = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join("volt-supervisor"))) {
        if p.is_file() {
            return Ok(p);
        }
    }
    for d in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let p = d.join("volt-supervisor");
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(Error::Unsupported(
        "volt-supervisor not found (set VOLT_SUPERVISOR, containers.supervisor_binary, or put it on PATH)".into(),
    ))
}

fn exit_of(st: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

fn apply_unit_status(st: &mut ContainerState, s: &UnitStatus) {
    match s.active_state.as_str() {
        "active" | "activating" | "deactivating" | "reloading" => {
            st.status = Status::Running;
            st.pid = (s.main_pid != 0).then_some(s.main_pid);
        }
        "failed" => {
            st.status = Status::Failed;
            st.pid = None;
            st.exit_code = Some(if s.exec_main_code == 1 { s.exec_main_status } else { 128 + s.exec_main_status });
            st.reason = Some(match s.result.as_str() {
                "exit-code" => format!("exit {}", s.exec_main_status),
                "signal" | "core-dump" => format!("signal {}", super::supervisor::signal_name(s.exec_main_status)),
                "oom-kill" => "oom: killed by the kernel's OOM killer (memory limit)".into(),
                r => r.to_string(),
            });
        }
        _ => {
            st.status = Status::Stopped;
            st.pid = None;
            if s.exec_main_code == 1 {
                st.exit_code = Some(s.exec_main_status);
            }
            if st.reason.is_none() {
                st.reason = Some(format!("exit {}", s.exec_main_status));
            }
        }
    }
}

/// Follows a container's log; see [`Containers::follow`].
#[derive(Debug)]
pub struct LogFollower<'a> {
    containers: &'a Containers,
    name: String,
    path: PathBuf,
    offset: u64,
    cursor: Option<String>,
    systemd: bool,
    asm: LineAssembler,
    first: Option<Vec<LogLine>>,
    done: bool,
    since: Option<String>,
}

impl LogFollower<'_> {
    /// The next lines, waiting up to `wait` for some. `Ok(None)` once the container has stopped
    /// and everything it wrote was returned.
    ///
    /// # Errors
    /// I/O and journal errors.
    pub fn next_batch(&mut self, wait: Duration) -> Result<Option<Vec<LogLine>>> {
        if let Some(f) = self.first.take() {
            return Ok(Some(f));
        }
        if self.done {
            return Ok(None);
        }
        let info = self.containers.inspect(&self.name)?;
        let running = is_running(&info.state);
        let lines = self.read_new()?;
        if !lines.is_empty() {
            return Ok(Some(lines));
        }
        if !running {
            self.done = true;
            return Ok(None);
        }
        // Sleep until the supervisor exits or the wait is over, then look again.
        match info.state.supervisor.as_ref().and_then(|s| pidfd(s.pid)) {
            Some(fd) => {
                wait_fd(&fd, wait.min(Duration::from_millis(100)));
            }
            None => std::thread::sleep(wait.min(Duration::from_millis(100))),
        }
        Ok(Some(self.read_new()?))
    }

    fn read_new(&mut self) -> Result<Vec<LogLine>> {
        if self.systemd {
            let n: ContainerName = self.name.parse()?;
            let (lines, cursor) = journal(
                &unit_name(&n),
                self.containers.settings.journal_root.as_deref(),
                self.cursor.as_deref(),
                self.since.as_deref(),
            )?;
            if cursor.is_some() {
                self.cursor = cursor;
            }
            return Ok(lines);
        }
        let (lines, off) = read_from(&self.path, self.offset, &mut self.asm)?;
        self.offset = off;
        Ok(lines)
    }
}

/// Copy a log line to a writer the way `volt logs` prints it.
///
/// # Errors
/// Write errors.
pub fn print_line(out: &mut dyn Write, l: &LogLine, timestamps: bool) -> std::io::Result<()> {
    if timestamps {
        write!(out, "{} ", l.time)?;
    }
    writeln!(out, "{}", l.text)
}

fn info_of(i: &ContainerInfo) -> crate::workload::WorkloadInfo {
    crate::workload::WorkloadInfo {
        name: i.config.name.to_string(),
        kind: "container".into(),
        status: i.state.status,
        pid: i.state.pid,
    }
}

impl Containers {
    /// Run a blocking container operation off the async runtime.
    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(Containers) -> Result<T> + Send + 'static) -> Result<T> {
        let c = self.clone();
        tokio::task::spawn_blocking(move || f(c)).await.map_err(|e| Error::Task(e.to_string()))?
    }
}

/// The container engine behind the generic [`crate::Runtime`] trait.
#[async_trait::async_trait]
impl crate::traits::Runtime for Containers {
    fn kind(&self) -> &'static str {
        "container"
    }
    async fn create(&self, spec: &crate::workload::WorkloadSpec) -> Result<crate::workload::WorkloadInfo> {
        let spec = spec.clone();
        self.blocking(move |c| {
            let o = CreateOptions {
                command: spec.command.clone(),
                limits: Limits { memory: spec.memory, cpu: spec.cpu_percent, pids: None },
                networks: spec.networks.clone(),
                ..Default::default()
            };
            Ok(info_of(&c.create(Some(&spec.name), &spec.image, &o)?))
        })
        .await
    }
    async fn start(&self, name: &str) -> Result<()> {
        let n = name.to_string();
        self.blocking(move |c| c.start(&n).map(|_| ())).await
    }
    async fn stop(&self, name: &str, timeout_secs: u64) -> Result<()> {
        let n = name.to_string();
        self.blocking(move |c| c.stop(&n, Some(timeout_secs)).map(|_| ())).await
    }
    async fn kill(&self, name: &str, signal: i32) -> Result<()> {
        let n = name.to_string();
        self.blocking(move |c| Containers::kill(&c, &n, signal)).await
    }
    async fn delete(&self, name: &str) -> Result<()> {
        let n = name.to_string();
        self.blocking(move |c| c.delete(&n, false)).await
    }
    async fn status(&self, name: &str) -> Result<crate::workload::WorkloadInfo> {
        let n = name.to_string();
        self.blocking(move |c| Ok(info_of(&c.inspect(&n)?))).await
    }
    async fn list(&self) -> Result<Vec<crate::workload::WorkloadInfo>> {
        self.blocking(|c| Ok(Containers::list(&c)?.iter().map(info_of).collect())).await
    }
    async fn exec(&self, name: &str, argv: &[String]) -> Result<i32> {
        let (n, a) = (name.to_string(), argv.to_vec());
        self.blocking(move |c| Containers::exec(&c, &n, &a, false)).await
    }
    async fn logs(&self, name: &str, lines: usize) -> Result<Vec<String>> {
        let n = name.to_string();
        self.blocking(move |c| {
            Ok(Containers::logs(&c, &n, &LogQuery::new(Some(lines), None))?.into_iter().map(|l| l.text).collect())
        })
        .await
    }
    async fn update(&self, name: &str, memory: Option<u64>, cpu_percent: Option<u32>) -> Result<()> {
        let n = name.to_string();
        self.blocking(move |c| Containers::update(&c, &n, memory, cpu_percent, None).map(|_| ())).await
    }
}
