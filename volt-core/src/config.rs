//! Configuration: the YAML file (`VOLT_CONFIG`, default `/etc/volt/config.yaml` under the paths'
//! root) with the reference's `VOLT_*` environment variables layered on top.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::paths::Paths;

/// How results are printed by frontends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Aligned human-readable columns.
    #[default]
    Table,
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

impl std::str::FromStr for OutputFormat {
    type Err = ();
    fn from_str(s: &str) -> std::result::Result<Self, ()> {
        match s {
            "table" => Ok(OutputFormat::Table),
            "json" => Ok(OutputFormat::Json),
            "yaml" => Ok(OutputFormat::Yaml),
            _ => Err(()),
        }
    }
}

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorMode {
    /// Colour when writing to a terminal.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl std::str::FromStr for ColorMode {
    type Err = ();
    fn from_str(s: &str) -> std::result::Result<Self, ()> {
        match s {
            "auto" => Ok(ColorMode::Auto),
            "always" => Ok(ColorMode::Always),
            "never" => Ok(ColorMode::Never),
            _ => Err(()),
        }
    }
}

/// Stellarium settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CasConfig {
    /// Objects above this size are chunked (bytes).
    pub chunk_threshold: u64,
    /// FastCDC minimum chunk size (bytes).
    pub chunk_min: u32,
    /// FastCDC average chunk size (bytes).
    pub chunk_avg: u32,
    /// FastCDC maximum chunk size (bytes).
    pub chunk_max: u32,
    /// Keep the build stat cache (faster re-builds).
    pub build_cache: bool,
}

impl Default for CasConfig {
    fn default() -> Self {
        let o = volt_cas::Options::default();
        CasConfig {
            chunk_threshold: o.chunk_threshold,
            chunk_min: o.chunk_min,
            chunk_avg: o.chunk_avg,
            chunk_max: o.chunk_max,
            build_cache: true,
        }
    }
}

/// Image import limits (`images:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageSettings {
    /// Most bytes one layer may expand to.
    pub max_layer_size: u64,
    /// Most a compressed layer may expand, as a multiple of its compressed size...
    pub max_expansion_ratio: u64,
    /// ...once it has expanded beyond this many bytes.
    pub expansion_floor: u64,
}

impl Default for ImageSettings {
    fn default() -> Self {
        ImageSettings { max_layer_size: 64 << 30, max_expansion_ratio: 200, expansion_floor: 256 << 20 }
    }
}

/// Registry settings (`registry:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrySettings {
    /// Pull without a token.
    pub anonymous_pull: bool,
    /// Seconds an idle upload session lives.
    pub upload_ttl: u64,
    /// Seconds a blob pushed but not yet referenced by a manifest is kept.
    pub blob_grace: u64,
    /// Largest manifest accepted (bytes).
    pub max_manifest_size: u64,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        RegistrySettings { anonymous_pull: true, upload_ttl: 3600, blob_grace: 3600, max_manifest_size: 4 << 20 }
    }
}

/// Which supervisor runs containers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SupervisorMode {
    /// systemd when it is PID 1 (`/run/systemd/system` exists), Volt's own otherwise.
    #[default]
    Auto,
    /// Units driven over D-Bus.
    Systemd,
    /// Volt's own supervisor process per container.
    Direct,
}

/// Container settings (`containers:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContainerSettings {
    /// Supervisor choice.
    pub supervisor: SupervisorMode,
    /// Seconds a stop waits for the workload before killing it.
    pub stop_timeout: u64,
    /// Rotate a container's log file past this size (bytes; direct supervisor).
    pub log_max_size: u64,
    /// Log files kept per container, the current one included.
    pub log_files: u32,
    /// The cgroup filesystem.
    pub cgroup_root: PathBuf,
    /// Parent cgroup of containers (default `volt`, or `volt-<hash of root>` when relocated).
    pub cgroup_parent: Option<String>,
    /// The `volt-supervisor` binary (default: `VOLT_SUPERVISOR`, beside the running program,
    /// then `PATH`).
    pub supervisor_binary: Option<PathBuf>,
    /// D-Bus address of systemd's bus (default: the system bus).
    pub systemd_bus: Option<String>,
    /// Root directory journalctl reads the journal under (default: the host's).
    pub journal_root: Option<PathBuf>,
}

impl Default for ContainerSettings {
    fn default() -> Self {
        ContainerSettings {
            supervisor: SupervisorMode::Auto,
            stop_timeout: 10,
            log_max_size: 10 << 20,
            log_files: 3,
            cgroup_root: PathBuf::from("/sys/fs/cgroup"),
            cgroup_parent: None,
            supervisor_binary: None,
            systemd_bus: None,
            journal_root: None,
        }
    }
}

/// Network settings (`networks:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkSettings {
    /// Where subnets of networks created without `--subnet` are carved from, as /24s.
    pub subnet_pool: String,
    /// The network `--network` means when given no name, created on first use.
    pub default_network: String,
    /// Upstream DNS servers the internal DNS forwards other names to (default: none, so
    /// workloads only resolve each other). `IP` or `IP:PORT`.
    pub dns_upstreams: Vec<String>,
    /// Run the internal DNS server on each network's gateway.
    pub dns: bool,
}

/// The `vms:` section: Voltvisor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VmSettings {
    /// The QEMU binary.
    pub qemu_binary: PathBuf,
    /// `auto` (probe KVM, fall back to TCG), `kvm` or `tcg`.
    pub accel: String,
    /// How long the KVM probe may take (milliseconds) before KVM counts as unusable.
    pub kvm_probe_timeout_ms: u64,
    /// Seconds `vm stop` waits for the guest to power off before it quits QEMU.
    pub stop_timeout: u64,
    /// Kernel (profile or name) when `--kernel` is not given.
    pub default_kernel: String,
    /// Machine type when `--machine` is not given (`microvm` or `q35`).
    pub default_machine: String,
    /// Memory when `--memory` is not given.
    pub default_memory: String,
    /// vCPUs when `--cpus` is not given.
    pub default_cpus: u32,
    /// Disk size when `--disk-size` is not given (the image's size when larger).
    pub default_disk_size: String,
    /// Back guest memory with hugepages (hugetlbfs at /dev/hugepages) by default.
    pub hugepages: bool,
}

impl Default for VmSettings {
    fn default() -> Self {
        VmSettings {
            qemu_binary: PathBuf::from("qemu-system-x86_64"),
            accel: "auto".into(),
            kvm_probe_timeout_ms: 5000,
            stop_timeout: 30,
            default_kernel: "server".into(),
            default_machine: "microvm".into(),
            default_memory: "512M".into(),
            default_cpus: 1,
            default_disk_size: "10G".into(),
            hugepages: false,
        }
    }
}

impl Default for NetworkSettings {
    fn default() -> Self {
        NetworkSettings {
            subnet_pool: "10.88.0.0/16".into(),
            default_network: "volt0".into(),
            dns_upstreams: Vec::new(),
            dns: true,
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// Prefix for every host path (`VOLT_ROOT` overrides it).
    pub root: Option<PathBuf>,
    /// Default output format (`VOLT_OUTPUT`).
    pub output: OutputFormat,
    /// Colour mode (`VOLT_COLOR`).
    pub color: ColorMode,
    /// Debug logging (`VOLT_DEBUG`).
    pub debug: bool,
    /// Daemon socket (`VOLT_HOST`); defaults to `/run/volt/volt.sock` under the root.
    pub host: Option<PathBuf>,
    /// Named context (`VOLT_CONTEXT`).
    pub context: String,
    /// Default constellation file (`VOLT_COMPOSE_FILE`).
    pub compose_file: PathBuf,
    /// Write the audit log.
    pub audit: bool,
    /// Stellarium settings.
    pub cas: CasConfig,
    /// Image import limits.
    pub images: ImageSettings,
    /// Registry settings.
    pub registry: RegistrySettings,
    /// Containers.
    pub containers: ContainerSettings,
    /// Networks.
    pub networks: NetworkSettings,
    /// The `vms:` section (Voltvisor).
    pub vms: VmSettings,
    /// Where this configuration was read from (not a file key).
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// Paths fixed by the caller, overriding `root:` and `VOLT_ROOT` (see [`Config::relocate`]).
    #[serde(skip)]
    pub paths_override: Option<Paths>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            root: None,
            output: OutputFormat::Table,
            color: ColorMode::Auto,
            debug: false,
            host: None,
            context: "default".into(),
            compose_file: PathBuf::from("volt-compose.yaml"),
            audit: true,
            cas: CasConfig::default(),
            images: ImageSettings::default(),
            registry: RegistrySettings::default(),
            containers: ContainerSettings::default(),
            networks: NetworkSettings::default(),
            vms: VmSettings::default(),
            source: None,
            paths_override: None,
        }
    }
}

impl Config {
    /// Put every path under `root`, whatever `VOLT_ROOT` or the file say (for SDK callers and
    /// bindings that are handed a root explicitly).
    pub fn relocate(mut self, root: impl Into<PathBuf>) -> Self {
        self.paths_override = Some(Paths::under(root));
        self
    }

    /// The paths this configuration selects: an explicit [`Config::relocate`], else `VOLT_ROOT`,
    /// else `root:` from the file, else the system locations.
    pub fn paths(&self) -> Paths {
        if let Some(p) = &self.paths_override {
            return p.clone();
        }
        match std::env::var_os("VOLT_ROOT") {
            Some(r) if !r.is_empty() => Paths::under(r),
            _ => self.root.clone().map(Paths::under).unwrap_or_default(),
        }
    }

    /// The daemon socket.
    pub fn socket(&self) -> PathBuf {
        self.host.clone().unwrap_or_else(|| self.paths().socket())
    }

    /// Store options derived from `cas:`.
    pub fn cas_options(&self) -> volt_cas::Options {
        let mut o = volt_cas::Options::default();
        o.chunk_threshold = self.cas.chunk_threshold;
        o.chunk_min = self.cas.chunk_min;
        o.chunk_avg = self.cas.chunk_avg;
        o.chunk_max = self.cas.chunk_max;
        o.cache_dir = self.cas.build_cache.then(|| self.paths().cas_cache_dir());
        o
    }

    /// Parse YAML text (an empty document is the defaults).
    ///
    /// # Errors
    /// [`Error::Config`] naming `origin` and the problem (unknown keys included).
    pub fn from_yaml(text: &str, origin: impl Into<PathBuf>) -> Result<Self> {
        let origin = origin.into();
        let mut c: Config = if text.trim().is_empty() {
            Config::default()
        } else {
            serde_yaml::from_str(text).map_err(|e| Error::Config { path: origin.clone(), reason: e.to_string() })?
        };
        c.source = Some(origin.clone());
        c.validate().map_err(|reason| Error::Config { path: origin, reason })?;
        Ok(c)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if !matches!(self.vms.accel.as_str(), "auto" | "kvm" | "tcg") {
            return Err(format!("vms.accel {:?}: use auto, kvm or tcg", self.vms.accel));
        }
        if !matches!(self.vms.default_machine.as_str(), "microvm" | "q35") {
            return Err(format!("vms.default_machine {:?}: use microvm or q35", self.vms.default_machine));
        }
        self.cas_options().validate().map_err(|e| e.to_string())
    }

    /// Load the configuration as the CLI does: the file named by `VOLT_CONFIG`, else
    /// `etc/volt/config.yaml` under the root (absent is fine), then the environment.
    ///
    /// # Errors
    /// [`Error::Config`] if `VOLT_CONFIG` names a missing file or any file is invalid;
    /// [`Error::Env`] for bad `VOLT_*` values.
    pub fn load() -> Result<Self> {
        Self::load_from(Config::default().paths())
    }

    /// [`Config::load`] with every path under `root`, whatever `VOLT_ROOT` says: the file is
    /// `root/etc/volt/config.yaml` unless `VOLT_CONFIG` names one. For bindings and embedders
    /// that are handed a root.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn load_under(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        Ok(Self::load_from(Paths::under(&root))?.relocate(root))
    }

    fn load_from(paths: Paths) -> Result<Self> {
        let mut c = match std::env::var_os("VOLT_CONFIG").filter(|v| !v.is_empty()) {
            Some(p) => {
                let p = PathBuf::from(p);
                let text = std::fs::read_to_string(&p)
                    .map_err(|e| Error::Config { path: p.clone(), reason: format!("cannot read: {e}") })?;
                Config::from_yaml(&text, p)?
            }
            None => {
                let p = paths.config_file();
                match std::fs::read_to_string(&p) {
                    Ok(text) => Config::from_yaml(&text, p)?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Config::default(),
                    Err(e) => return Err(Error::Config { path: p, reason: format!("cannot read: {e}") }),
                }
            }
        };
        c.apply_env()?;
        Ok(c)
    }

    /// Layer the `VOLT_*` variables over the file's values.
    ///
    /// # Errors
    /// [`Error::Env`] for values outside what each variable accepts.
    pub fn apply_env(&mut self) -> Result<()> {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        if let Some(v) = var("VOLT_OUTPUT") {
            self.output = v.parse().map_err(|()| Error::Env {
                name: "VOLT_OUTPUT",
                value: v.clone(),
                reason: "expected table, json or yaml",
            })?;
        }
        if let Some(v) = var("VOLT_COLOR") {
            self.color = v.parse().map_err(|()| Error::Env {
                name: "VOLT_COLOR",
                value: v.clone(),
                reason: "expected auto, always or never",
            })?;
        }
        if let Some(v) = var("VOLT_DEBUG") {
            self.debug = match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => return Err(Error::Env { name: "VOLT_DEBUG", value: v, reason: "expected true or false" }),
            };
        }
        if let Some(v) = var("VOLT_HOST") {
            self.host = Some(PathBuf::from(v));
        }
        if let Some(v) = var("VOLT_CONTEXT") {
            self.context = v;
        }
        if let Some(v) = var("VOLT_COMPOSE_FILE") {
            self.compose_file = PathBuf::from(v);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_yaml_and_rejects_unknown_keys() {
        let c = Config::from_yaml("output: json\ncas:\n  chunk_threshold: 8388608\n", "t.yaml").unwrap();
        assert_eq!(c.output, OutputFormat::Json);
        assert_eq!(c.cas.chunk_threshold, 8 << 20);
        assert!(Config::from_yaml("outptu: json\n", "t.yaml").is_err());
        let e = Config::from_yaml("cas:\n  chunk_min: 1\n", "t.yaml").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidConfig);
        assert_eq!(Config::from_yaml("", "t.yaml").unwrap().context, "default");
    }
}
