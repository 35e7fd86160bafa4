//! Voltainer, the container engine: the plan layer.
//!
//! Everything here is data: validated names, resource limits, the container configuration that
//! is persisted as `config.json`, the `systemd-nspawn` command line and the systemd unit. The
//! parts that act on the host (supervisors, cgroups, D-Bus) build on these plans, and unit tests
//! check the plans without root.

mod plan;
pub(crate) mod runtime;
mod store;
pub mod supervisor;
mod volume;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use crate::supervise::logs::{LogLine, LogQuery};
pub use crate::supervise::{Backend, Limits, ProcRef};
pub use crate::workload::parse_memory;
pub use plan::{nspawn_argv, unit_file, with_exec_start_pre, NspawnOptions, UNIT_TEMPLATE};
pub use runtime::{print_line, workload_info, Containers, LogFollower, TopEntry};
pub use store::{ContainerEndpoint, ContainerInfo, ContainerLock, ContainerState, ContainerStore, CreateOptions};
pub use volume::{Volume, Volumes};

/// A container name: 1-63 characters of lower-case letters, digits, `-` and `_`, starting with a
/// letter or digit. It is a directory name, a machine name and part of a unit name, so nothing
/// else is allowed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContainerName(String);

impl ContainerName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ContainerName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        crate::workload::check_name("container", s)?;
        Ok(ContainerName(s.to_string()))
    }
}

impl TryFrom<String> for ContainerName {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<ContainerName> for String {
    fn from(n: ContainerName) -> String {
        n.0
    }
}

impl fmt::Display for ContainerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What to do when the workload exits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Never restart.
    #[default]
    No,
    /// Restart after a non-zero exit or a signal.
    OnFailure,
    /// Restart whenever it exits.
    Always,
}

impl FromStr for RestartPolicy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "no" => Ok(RestartPolicy::No),
            "on-failure" => Ok(RestartPolicy::OnFailure),
            "always" => Ok(RestartPolicy::Always),
            _ => Err(Error::InvalidArgument(format!("restart policy {s:?}: expected no, on-failure or always"))),
        }
    }
}

/// A mount into the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// Host path (a named volume's directory is resolved to its path before planning).
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub target: String,
    /// Read-only.
    pub read_only: bool,
}

/// A container's configuration, persisted as `containers/NAME/config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerConfig {
    /// Name.
    pub name: ContainerName,
    /// Image it was created from (`REPOSITORY:TAG`).
    pub image: String,
    /// Command and arguments (the image's entrypoint + cmd unless given).
    pub command: Vec<String>,
    /// Environment, `KEY=value`, image defaults first.
    pub env: Vec<String>,
    /// Working directory inside the container.
    pub workdir: Option<String>,
    /// User to run as.
    pub user: Option<String>,
    /// Hostname.
    pub hostname: Option<String>,
    /// Mounts (volumes and binds).
    pub mounts: Vec<Mount>,
    /// Resource limits.
    pub limits: Limits,
    /// Restart policy.
    pub restart: RestartPolicy,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Deleted when it ends (`run --rm`); see [`CreateOptions::ephemeral`].
    #[serde(default)]
    pub ephemeral: bool,
    /// Networks it is on (`eth0`, `eth1`, … in this order; the first has the default route
    /// and the DNS server). Empty: the host's network.
    #[serde(default)]
    pub networks: Vec<String>,
    /// Port forwards to its address on the first network.
    #[serde(default)]
    pub ports: Vec<crate::network::PortMap>,
}

/// Check an environment entry (`KEY=value`, KEY a shell-style name).
///
/// # Errors
/// [`Error::InvalidArgument`].
pub fn check_env(e: &str) -> Result<()> {
    let (k, _) =
        e.split_once('=').ok_or_else(|| Error::InvalidArgument(format!("environment {e:?}: expected KEY=value")))?;
    let ok =
        !k.is_empty() && !k.as_bytes()[0].is_ascii_digit() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok {
        return Err(Error::InvalidArgument(format!("environment {e:?}: the name must be letters, digits and _")));
    }
    Ok(())
}

/// Parse a `-v SOURCE:/path[:ro|rw]` argument (source: a host path or a volume name).
///
/// # Errors
/// [`Error::InvalidArgument`].
pub fn parse_mount(s: &str) -> Result<(String, String, bool)> {
    let bad = |why: &str| Error::InvalidArgument(format!("volume {s:?}: {why}"));
    let parts: Vec<&str> = s.split(':').collect();
    let (src, dst, ro) = match parts.as_slice() {
        [src, dst] => (*src, *dst, false),
        [src, dst, "ro"] => (*src, *dst, true),
        [src, dst, "rw"] => (*src, *dst, false),
        [_, _, other] => return Err(bad(&format!("unknown option {other:?} (ro or rw)"))),
        _ => return Err(bad("expected SOURCE:/path[:ro]")),
    };
    if src.is_empty() {
        return Err(bad("empty source"));
    }
    if !dst.starts_with('/') || dst.split('/').any(|c| c == "..") {
        return Err(bad("the container path must be absolute, without '..'"));
    }
    Ok((src.to_string(), dst.to_string(), ro))
}

/// A generated human name, `adjective_noun` (as podman and Docker do).
pub fn generate_name(seed: u64) -> ContainerName {
    const ADJ: [&str; 16] = [
        "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "kind", "lively", "merry", "nimble", "proud",
        "quiet", "swift", "witty", "zealous",
    ];
    const NOUN: [&str; 16] = [
        "ampere", "bohr", "curie", "dirac", "euler", "faraday", "gauss", "hopper", "joule", "kepler", "lovelace",
        "maxwell", "noether", "ohm", "tesla", "volta",
    ];
    let h = blake3::hash(&seed.to_le_bytes());
    let b = h.as_bytes();
    format!("{}_{}", ADJ[usize::from(b[0]) % ADJ.len()], NOUN[usize::from(b[1]) % NOUN.len()])
        .parse()
        .expect("generated names are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["web", "a", "db-1", "x_y", "0abc"] {
            assert!(ok.parse::<ContainerName>().is_ok(), "{ok}");
        }
        let long = "a".repeat(300);
        for bad in ["", "../x", "UPPER", "-x", "a/b", "a b", "a.b", long.as_str()] {
            let e = bad.parse::<ContainerName>().unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Usage, "{bad:?}");
        }
        let n = generate_name(7);
        assert!(n.as_str().contains('_'));
        assert_eq!(generate_name(7), n);
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("1G").unwrap(), 1 << 30);
        assert_eq!(parse_memory("512M").unwrap(), 512 << 20);
        assert_eq!(parse_memory("32MiB").unwrap(), 32 << 20);
        assert_eq!(parse_memory("2097152").unwrap(), 2 << 20);
        for bad in ["12Q", "", "G", "-1G", "1.5G", "100", "99999999999999T"] {
            assert!(parse_memory(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn env_mounts_restart_limits() {
        assert!(check_env("A_1=x=y").is_ok());
        assert!(check_env("1A=x").is_err());
        assert!(check_env("NOEQUALS").is_err());
        assert_eq!(parse_mount("data:/var/lib/db").unwrap(), ("data".into(), "/var/lib/db".into(), false));
        assert_eq!(parse_mount("/srv:/srv:ro").unwrap(), ("/srv".into(), "/srv".into(), true));
        for bad in ["x", "x:rel", "x:/a:zz", ":/a", "x:/a/../b"] {
            assert!(parse_mount(bad).is_err(), "{bad:?}");
        }
        assert_eq!("on-failure".parse::<RestartPolicy>().unwrap(), RestartPolicy::OnFailure);
        assert!("sometimes".parse::<RestartPolicy>().is_err());
        assert!(Limits { cpu: Some(0), ..Default::default() }.validate().is_err());
        assert!(Limits { memory: Some(1 << 30), cpu: Some(150), pids: Some(64) }.validate().is_ok());
    }
}
