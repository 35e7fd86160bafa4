//! Voltainer's lifecycle API: [`Containers`] creates, starts, stops, signals, inspects, execs
//! into, reads the logs of, limits and deletes containers, through one of two supervisors chosen
//! at run time — systemd (units over D-Bus) or Volt's own per-container supervisor process.

mod connect;
mod create;
mod delete;
mod exec;
mod inspect;
mod logs;
mod run;
mod start;
mod stop;
mod update;

pub use logs::{print_line, LogFollower};

use std::fs::{self, File};
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::store::{read_json, save_state};
use super::supervisor::{container_procs, ns_pid, spawn_supervisor, SupervisorArgs};
use super::{
    generate_name, nspawn_argv, parse_mount, unit_file, ContainerConfig, ContainerEndpoint, ContainerInfo,
    ContainerName, ContainerState, ContainerStore, CreateOptions, Limits, Mount, NspawnOptions, Volumes, UNIT_TEMPLATE,
};
use crate::audit::AuditLog;
use crate::config::ContainerSettings;
use crate::config::NetworkSettings;
use crate::error::{Error, Result};
use crate::image::{ImageName, Images, RootfsMode};
use crate::network::{host_ifname, Networks};
use crate::paths::Paths;
use crate::supervise::cgroup::{Cgroup, CgroupStats};
use crate::supervise::logs::{read_from, read_log, LineAssembler, LogLine, LogQuery, LOG_FILE};
use crate::supervise::systemd::{journal, Systemd, UnitStatus};
use crate::supervise::{
    choose_backend, find_supervisor, supervisor_alive, take_run_lock, wait_readable as wait_fd, Backend, KILL_REQUEST,
    STOP_REQUEST,
};
use crate::workload::{Op, Status};

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
    crate::supervise::pidfd(pid).ok()
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

    /// The lock-free store underneath (SDK users reading files directly).
    pub fn store(&self) -> &ContainerStore {
        &self.store
    }
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
                "signal" | "core-dump" => format!("signal {}", crate::supervise::signal_name(s.exec_main_status)),
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

/// A container as every runtime's workloads are listed (`volt ps`).
pub fn workload_info(i: &ContainerInfo) -> crate::workload::WorkloadInfo {
    crate::workload::WorkloadInfo {
        name: i.config.name.to_string(),
        kind: "container".into(),
        status: i.state.status,
        pid: i.state.pid,
        detail: i.config.image.clone(),
    }
}

impl Containers {
    /// Run a blocking container operation off the async runtime.
    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(Containers) -> Result<T> + Send + 'static) -> Result<T> {
        let c = self.clone();
        crate::workload::blocking(move || f(c)).await
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
            Ok(workload_info(&c.create(Some(&spec.name), &spec.image, &o)?))
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
        self.blocking(move |c| Ok(workload_info(&c.inspect(&n)?))).await
    }
    async fn list(&self) -> Result<Vec<crate::workload::WorkloadInfo>> {
        self.blocking(|c| Ok(Containers::list(&c)?.iter().map(workload_info).collect())).await
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
    async fn restart(&self, name: &str, timeout_secs: u64) -> Result<()> {
        let n = name.to_string();
        self.blocking(move |c| Containers::restart(&c, &n, Some(timeout_secs)).map(drop)).await
    }
}
