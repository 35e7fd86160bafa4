//! Container directories: `containers/NAME/{config.json,state.json,rootfs,upper,work}`, created
//! all or nothing and changed under a per-container lock.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{check_env, ContainerConfig, ContainerName, Limits, Mount, ProcRef, RestartPolicy};
use crate::error::{Error, Result};
use crate::image::{ImageName, Images, RootfsMount};
use crate::paths::Paths;
use crate::supervise::cgroup::Cgroup;
use crate::workload::{Op, Status};

/// Runtime state, persisted as `state.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerState {
    /// Lifecycle status.
    pub status: Status,
    /// When the container was created (RFC 3339).
    pub created: String,
    /// Main process id while running.
    #[serde(default)]
    pub pid: Option<u32>,
    /// When it last started.
    #[serde(default)]
    pub started: Option<String>,
    /// When it last stopped.
    #[serde(default)]
    pub finished: Option<String>,
    /// Exit code of the last run.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Why it stopped or failed (`exit 3`, `signal SIGKILL`, `oom`).
    #[serde(default)]
    pub reason: Option<String>,
    /// Which supervisor runs it (`direct` or `systemd`).
    #[serde(default)]
    pub backend: Option<String>,
    /// The direct supervisor process while it lives.
    #[serde(default)]
    pub supervisor: Option<ProcRef>,
    /// The cgroup the direct supervisor made.
    #[serde(default)]
    pub cgroup: Option<Cgroup>,
    /// Restarts by the restart policy since the last start.
    #[serde(default)]
    pub restarts: u32,
}

impl ContainerState {
    /// A freshly created, stopped container.
    pub fn new(created: String) -> Self {
        ContainerState {
            status: Status::Stopped,
            created,
            pid: None,
            started: None,
            finished: None,
            exit_code: None,
            reason: None,
            backend: None,
            supervisor: None,
            cgroup: None,
            restarts: 0,
        }
    }
}

/// Read and parse a JSON file of a container directory.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(dir: &Path, file: &str) -> Result<T> {
    let p = dir.join(file);
    let b = fs::read(&p).map_err(|e| Error::io("read", &p, e))?;
    serde_json::from_slice(&b).map_err(|e| Error::Config { path: p, reason: e.to_string() })
}

/// Write `state.json` atomically.
pub(crate) fn save_state(dir: &Path, state: &ContainerState) -> Result<()> {
    save_state_with(dir, state, true)
}

/// Write `state.json` atomically; durably (fsync) unless the container is ephemeral.
pub(crate) fn save_state_with(dir: &Path, state: &ContainerState, durable: bool) -> Result<()> {
    crate::fsutil::write_replace(
        &dir.join("state.json"),
        &serde_json::to_vec_pretty(state).expect("serialises"),
        durable,
    )
}

/// What a caller asks for when creating a container; unset fields come from the image.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CreateOptions {
    /// Command (default: the image's entrypoint and cmd).
    pub command: Vec<String>,
    /// Extra environment, `KEY=value`, after the image's.
    pub env: Vec<String>,
    /// Working directory (default: the image's).
    pub workdir: Option<String>,
    /// User (default: the image's).
    pub user: Option<String>,
    /// Hostname (default: the name).
    pub hostname: Option<String>,
    /// Mounts.
    pub mounts: Vec<Mount>,
    /// Limits.
    pub limits: Limits,
    /// Restart policy.
    pub restart: RestartPolicy,
    /// Copy the image instead of mounting an overlay.
    pub copy_rootfs: bool,
    /// Deleted when it ends (`run --rm`): its state files skip fsync and its overlay is mounted
    /// `volatile`, since nothing of it is meant to outlive the run.
    pub ephemeral: bool,
    /// Networks to join (see [`ContainerConfig::networks`]).
    pub networks: Vec<String>,
    /// Port forwards (`-p`), to its address on the first network.
    pub ports: Vec<crate::network::PortMap>,
}

/// A container as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// Configuration.
    pub config: ContainerConfig,
    /// State.
    pub state: ContainerState,
    /// Root filesystem.
    pub rootfs: RootfsMount,
    /// Its addresses on its networks (filled in by inspect and list).
    #[serde(default)]
    pub endpoints: Vec<ContainerEndpoint>,
}

/// A container's place on one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerEndpoint {
    /// Network.
    pub network: String,
    /// Its address there (none: not reserved, e.g. after the network was re-made).
    pub address: Option<std::net::Ipv4Addr>,
    /// Interface inside the container.
    pub interface: String,
    /// The veth's host end.
    pub host_interface: String,
}

/// The container directories of one Volt installation.
#[derive(Debug, Clone)]
pub struct ContainerStore {
    paths: Paths,
    images: Images,
}

/// An exclusive lock on one container (flock on `locks/container-NAME.lock`), held while it lives.
#[derive(Debug)]
pub struct ContainerLock(#[allow(dead_code)] File);

impl ContainerStore {
    /// Containers under `paths`, made from `images`.
    pub fn new(paths: Paths, images: Images) -> Self {
        ContainerStore { paths, images }
    }

    /// The directory of container `name`.
    pub fn dir(&self, name: &ContainerName) -> PathBuf {
        self.paths.containers_dir().join(name.as_str())
    }

    /// Take the container's lock (blocks while another operation on it runs).
    ///
    /// # Errors
    /// I/O errors.
    pub fn lock(&self, name: &ContainerName) -> Result<ContainerLock> {
        let p = self.paths.locks_dir().join(format!("container-{name}.lock"));
        Ok(ContainerLock(crate::fsutil::lock_file(&p)?))
    }

    /// Replace a container's `config.json` (atomically, durably). The caller holds its lock.
    ///
    /// # Errors
    /// I/O errors.
    pub fn save_config(&self, config: &ContainerConfig) -> Result<()> {
        crate::fsutil::write_atomic(
            &self.dir(&config.name).join("config.json"),
            &serde_json::to_vec_pretty(config).expect("serialises"),
        )
    }

    /// Create container `name` from `image`. All or nothing: on any error no trace of the
    /// container is left. A name that exists is [`crate::ErrorKind::AlreadyExists`].
    ///
    /// # Errors
    /// Usage errors for bad options, not found for the image, already exists, I/O errors.
    pub fn create(&self, name: &ContainerName, image: &ImageName, opts: &CreateOptions) -> Result<ContainerInfo> {
        opts.limits.validate()?;
        for e in &opts.env {
            check_env(e)?;
        }
        let rec = self.images.inspect(image)?;
        let _lock = self.lock(name)?;
        let dir = self.dir(name);
        fs::create_dir_all(self.paths.containers_dir())
            .map_err(|e| Error::io("create", self.paths.containers_dir(), e))?;
        // A directory without config.json is what a create killed half-way left: we hold the
        // lock, so nobody is still making it.
        if dir.is_dir() && !dir.join("config.json").exists() {
            let _ = self.images.remove_rootfs(&dir);
            let _ = fs::remove_dir_all(&dir);
        }
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(Error::io(
                    "create container",
                    &dir,
                    io::Error::new(io::ErrorKind::AlreadyExists, format!("a container named {name} exists")),
                ))
            }
            Err(e) => return Err(Error::io("create", &dir, e)),
        }
        let r = (|| {
            let c = &rec.config;
            let command = if opts.command.is_empty() {
                c.entrypoint.iter().chain(c.cmd.iter()).cloned().collect()
            } else if c.entrypoint.is_empty() {
                opts.command.clone()
            } else {
                c.entrypoint.iter().chain(opts.command.iter()).cloned().collect()
            };
            if command.is_empty() {
                return Err(Error::InvalidArgument(format!("image {image} names no command; give one after --")));
            }
            let config = ContainerConfig {
                name: name.clone(),
                image: image.to_string(),
                command,
                env: c.env.iter().chain(opts.env.iter()).cloned().collect(),
                workdir: opts.workdir.clone().or_else(|| (!c.workdir.is_empty()).then(|| c.workdir.clone())),
                user: opts.user.clone().or_else(|| (!c.user.is_empty()).then(|| c.user.clone())),
                hostname: opts.hostname.clone(),
                mounts: opts.mounts.clone(),
                limits: opts.limits.clone(),
                restart: opts.restart,
                labels: c.labels.clone(),
                ephemeral: opts.ephemeral,
                networks: opts.networks.clone(),
                ports: opts.ports.clone(),
            };
            let rootfs = self.images.create_rootfs_with(image, &dir, opts.copy_rootfs, opts.ephemeral)?;
            let state = ContainerState::new(crate::image::now_rfc3339());
            save_state_with(&dir, &state, !opts.ephemeral)?;
            // config.json last: its presence marks a complete container.
            crate::fsutil::write_replace(
                &dir.join("config.json"),
                &serde_json::to_vec_pretty(&config).expect("serialises"),
                !opts.ephemeral,
            )?;
            Ok(ContainerInfo { config, state, rootfs, endpoints: Vec::new() })
        })();
        if r.is_err() {
            let _ = self.images.remove_rootfs(&dir);
            let _ = fs::remove_dir_all(&dir);
        }
        r
    }

    /// A container's configuration, state and root filesystem.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn inspect(&self, name: &ContainerName) -> Result<ContainerInfo> {
        let dir = self.dir(name);
        let read = |f: &str| -> Result<Vec<u8>> {
            fs::read(dir.join(f)).map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => Error::NotFound { what: "container", name: name.to_string() },
                _ => Error::io("read", dir.join(f), e),
            })
        };
        let parse =
            |f: &str, b: Vec<u8>| Error::Config { path: dir.join(f), reason: format!("unreadable ({})", b.len()) };
        let cb = read("config.json")?;
        let config = serde_json::from_slice(&cb).map_err(|_| parse("config.json", cb))?;
        let sb = read("state.json")?;
        let state = serde_json::from_slice(&sb).map_err(|_| parse("state.json", sb))?;
        let rb = read("rootfs.json")?;
        let rootfs = serde_json::from_slice(&rb).map_err(|_| parse("rootfs.json", rb))?;
        Ok(ContainerInfo { config, state, rootfs, endpoints: Vec::new() })
    }

    /// All complete containers, by name. Directories without `config.json` (a create that
    /// crashed) are skipped.
    ///
    /// # Errors
    /// I/O errors.
    pub fn list(&self) -> Result<Vec<ContainerInfo>> {
        let dir = self.paths.containers_dir();
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("list", &dir, e)),
        };
        let mut out = Vec::new();
        for ent in rd.flatten() {
            let Ok(name) = ent.file_name().to_string_lossy().parse::<ContainerName>() else { continue };
            if let Ok(info) = self.inspect(&name) {
                out.push(info);
            }
        }
        out.sort_by(|a, b| a.config.name.cmp(&b.config.name));
        Ok(out)
    }

    /// Delete a stopped or failed container (its root filesystem and directory). A running one
    /// is refused ([`crate::ErrorKind::Conflict`]) unless the caller has stopped it (`force`
    /// handling belongs to the runtime, which stops first).
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::InvalidState`], I/O errors.
    pub fn delete(&self, name: &ContainerName) -> Result<()> {
        let _lock = self.lock(name)?;
        self.delete_locked(name)
    }

    /// [`ContainerStore::delete`] for a caller that holds the lock.
    ///
    /// # Errors
    /// As [`ContainerStore::delete`].
    pub(crate) fn delete_locked(&self, name: &ContainerName) -> Result<()> {
        let info = self.inspect(name)?;
        info.state.status.check(Op::Delete, name.as_str())?;
        let dir = self.dir(name);
        // config.json marks a complete container: it goes first (durably), so a crash during
        // the rest leaves a directory that is never listed and that the next create of the name
        // clears, never a container that is half there.
        let cfg = dir.join("config.json");
        fs::remove_file(&cfg).map_err(|e| Error::io("remove", &cfg, e))?;
        File::open(&dir).and_then(|d| d.sync_all()).map_err(|e| Error::io("sync", &dir, e))?;
        self.images.remove_rootfs(&dir)?;
        fs::remove_dir_all(&dir).map_err(|e| Error::io("remove", &dir, e))
    }
}
