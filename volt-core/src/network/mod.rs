//! Networks: a bridge per network with the gateway address, persistent IPAM, veth endpoints
//! in the workloads' own network namespaces, port forwards and firewall allowances in
//! nftables table `ip volt`, and an internal DNS server per network — built on volt-net.
//!
//! State lives under `networks/` in the lib directory:
//! - `networks/NAME/network.json` — the network's configuration (written last on create,
//!   removed first on delete, so a directory without it is debris of an interrupted create);
//! - `networks/NAME/leases.json` — its IPAM leases (owner = workload name);
//! - `networks/NAME/dns.lock|dns.pid|dns.log` — its DNS server;
//! - `networks/forwards.json`, `networks/firewall.json` — port forwards and allowances;
//! - `networks/.lock` — serialises every change of the above.
//!
//! The kernel objects (bridge, veths, the nft table, the DNS server) are derived from these
//! files and re-made when missing ([`Networks::ensure`]), so a reboot or a crash between steps
//! is repaired by the next start of a workload.

mod attach;
mod create;
mod delete;
mod dns;
mod firewall;
mod inspect;

pub use dns::{dns_main, DnsArgs};

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use volt_net::cidr::Ipv4Net;
use volt_net::ipam::Ipam;
use volt_net::link::{self, Netlink};
use volt_net::nft::{self, Allow, Endpoint, Forward, NetRules, Proto, Ruleset};

use crate::audit::AuditLog;
use crate::config::{ContainerSettings, NetworkSettings};
use crate::error::{Error, Result};
use crate::fsutil::write_replace;
use crate::paths::Paths;

/// A network's stored configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkConfig {
    /// Name (also the bridge's name).
    pub name: String,
    /// The bridge interface.
    pub bridge: String,
    /// IPv4 subnet.
    pub subnet: Ipv4Net,
    /// The gateway: the bridge's address, where the DNS server answers.
    pub gateway: Ipv4Addr,
    /// No way out: workloads reach each other and their DNS server only.
    #[serde(default)]
    pub internal: bool,
    /// Marked to span hosts later (mesh); see docs/networking.md for the naming rules.
    #[serde(default)]
    pub mesh: bool,
    /// DNS upstreams for names that are not workloads (empty: refused).
    #[serde(default)]
    pub dns_upstreams: Vec<String>,
    /// Creation time (RFC 3339).
    pub created: String,
}

/// One workload's endpoint on a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkEndpoint {
    /// The workload.
    pub workload: String,
    /// Its address.
    pub address: Ipv4Addr,
}

/// A network with its endpoints and live state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInfo {
    /// Configuration.
    #[serde(flatten)]
    pub config: NetworkConfig,
    /// Workloads holding an address on it.
    pub endpoints: Vec<NetworkEndpoint>,
    /// PID of its DNS server, if one runs.
    pub dns_pid: Option<u32>,
}

/// What `create` may be given.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct NetworkOptions {
    /// Subnet (default: the first free /24 of `networks.subnet_pool`).
    pub subnet: Option<String>,
    /// Gateway (default: the subnet's first host address).
    pub gateway: Option<String>,
    /// No way out (see [`NetworkConfig::internal`]).
    pub internal: bool,
    /// Mark for multi-host (mesh) use.
    pub mesh: bool,
    /// DNS upstreams (default: `networks.dns_upstreams`).
    pub dns_upstreams: Option<Vec<String>>,
}

/// A port forward: `HOSTPORT:PORT[/tcp|udp]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMap {
    /// Port on the host's addresses (loopback included).
    pub host_port: u16,
    /// Port in the workload.
    pub port: u16,
    /// Protocol.
    pub proto: Proto,
}

impl std::str::FromStr for PortMap {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: &str| Error::InvalidArgument(format!("port {s:?}: {why} (expected HOSTPORT:PORT[/tcp|udp])"));
        let (ports, proto) = match s.rsplit_once('/') {
            Some((p, "tcp")) => (p, Proto::Tcp),
            Some((p, "udp")) => (p, Proto::Udp),
            Some((_, other)) => return Err(bad(&format!("unknown protocol {other:?}"))),
            None => (s, Proto::Tcp),
        };
        let port = |t: &str| match t.parse::<u16>() {
            Ok(0) | Err(_) => Err(bad(&format!("{t:?} is not a port from 1 to 65535"))),
            Ok(p) => Ok(p),
        };
        let (host_port, port) = match ports.split(':').collect::<Vec<_>>().as_slice() {
            [p] => (port(p)?, port(p)?),
            [h, p] => (port(h)?, port(p)?),
            _ => return Err(bad("too many ':'")),
        };
        Ok(PortMap { host_port, port, proto })
    }
}

impl std::fmt::Display for PortMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = match self.proto {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        };
        write!(f, "{}:{}/{p}", self.host_port, self.port)
    }
}

/// A stored port forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardRecord {
    /// The workload it reaches.
    pub workload: String,
    /// On which network (the workload's address there is the target).
    pub network: String,
    /// The ports.
    #[serde(flatten)]
    pub map: PortMap,
}

/// A firewall allowance between networks or workloads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallRule {
    /// Source: a network or a workload.
    pub from: String,
    /// Destination: a network or a workload.
    pub to: String,
    /// Destination port only (`PORT[/tcp|udp]`), if given.
    #[serde(default)]
    pub port: Option<String>,
}

/// Networks of one Volt installation.
#[derive(Debug, Clone)]
pub struct Networks {
    paths: Paths,
    settings: NetworkSettings,
    containers: ContainerSettings,
    audit: AuditLog,
}

struct Locked(#[allow(dead_code)] File);

/// A network name: 1–15 of `a-z 0-9 - _`, starting with a letter or digit (it is also the
/// bridge's interface name).
///
/// # Errors
/// [`Error::InvalidArgument`].
pub fn check_network_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name != "volt";
    if !ok {
        return Err(Error::InvalidArgument(format!(
            "network name {name:?}: 1 to 15 of a-z, 0-9, '-' and '_', starting with a letter or digit"
        )));
    }
    Ok(())
}

/// The host end of workload `workload`'s veth on `network`: `vt` + 10 hex digits of a hash,
/// unique per pair and within the 15 characters Linux allows.
pub fn host_ifname(network: &str, workload: &str) -> String {
    let h = blake3::hash(format!("{network}/{workload}").as_bytes());
    format!("vt{}", &h.to_hex()[..10])
}

/// Run a future on a private current-thread runtime (netlink needs one; the SDK's calls are
/// blocking).
pub(crate) fn block_on<F: std::future::Future>(f: F) -> Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("start runtime", "tokio", e))?;
    Ok(rt.block_on(f))
}

fn read_json<T: serde::de::DeserializeOwned>(p: &Path) -> Result<Option<T>> {
    match fs::read(p) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| Error::Conflict(format!("{}: unreadable ({e}); fix or remove it", p.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", p, e)),
    }
}

fn write_json<T: Serialize>(p: &Path, v: &T) -> Result<()> {
    write_replace(p, &serde_json::to_vec_pretty(v).expect("serialises"), true)
}

impl Networks {
    /// Networks under `paths` (normally from [`crate::Volt::networks`]).
    pub fn new(paths: Paths, settings: NetworkSettings, containers: ContainerSettings, audit: AuditLog) -> Self {
        Networks { paths, settings, containers, audit }
    }

    /// `networks/` in the lib directory.
    pub fn dir(&self) -> PathBuf {
        self.paths.lib_dir().join("networks")
    }

    fn net_dir(&self, name: &str) -> PathBuf {
        self.dir().join(name)
    }

    fn lock(&self) -> Result<Locked> {
        Ok(Locked(crate::fsutil::lock_file(&self.dir().join(".lock"))?))
    }

    fn config_of(&self, name: &str) -> Result<Option<NetworkConfig>> {
        read_json(&self.net_dir(name).join("network.json"))
    }

    /// A network's stored configuration (the file only; nothing on the host is touched).
    ///
    /// # Errors
    /// [`Error::NotFound`]; usage errors for a bad name.
    pub fn load(&self, name: &str) -> Result<NetworkConfig> {
        check_network_name(name)?;
        self.config_of(name)?.ok_or_else(|| Error::NotFound { what: "network", name: name.into() })
    }

    fn configs(&self) -> Result<Vec<NetworkConfig>> {
        let mut out = Vec::new();
        let rd = match fs::read_dir(self.dir()) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io("read", self.dir(), e)),
        };
        for e in rd.flatten() {
            let Ok(n) = e.file_name().into_string() else { continue };
            if check_network_name(&n).is_ok() {
                if let Some(c) = self.config_of(&n)? {
                    out.push(c);
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn ipam(&self, name: &str) -> Ipam {
        Ipam::new(self.net_dir(name))
    }

    /// Is `owner` (a workload) still there? Its container or VM directory exists.
    fn alive(&self, owner: &str) -> bool {
        self.paths.containers_dir().join(owner).join("config.json").exists()
            || self.paths.vms_dir().join(owner).is_dir()
    }
}

fn proto_str(p: Proto) -> &'static str {
    match p {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
    }
}

/// `PORT[/tcp|udp]`.
fn parse_port(s: &str) -> Result<(Proto, u16)> {
    let (p, proto) = match s.rsplit_once('/') {
        Some((p, "tcp")) => (p, Proto::Tcp),
        Some((p, "udp")) => (p, Proto::Udp),
        Some(_) => return Err(Error::InvalidArgument(format!("port {s:?}: the protocol is tcp or udp"))),
        None => (s, Proto::Tcp),
    };
    match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok((proto, n)),
        _ => Err(Error::InvalidArgument(format!("port {s:?}: expected PORT[/tcp|udp], PORT from 1 to 65535"))),
    }
}

#[async_trait::async_trait]
impl crate::traits::Network for Networks {
    async fn create(&self, spec: &crate::traits::NetworkSpec) -> Result<()> {
        let me = self.clone();
        let spec = spec.clone();
        crate::workload::blocking(move || {
            me.create(&spec.name, &NetworkOptions { subnet: Some(spec.subnet), ..Default::default() }).map(|_| ())
        })
        .await
    }
    async fn delete(&self, name: &str) -> Result<()> {
        let (me, name) = (self.clone(), name.to_string());
        crate::workload::blocking(move || Networks::delete(&me, &name)).await
    }
    async fn list(&self) -> Result<Vec<crate::traits::NetworkSpec>> {
        let me = self.clone();
        crate::workload::blocking(move || {
            Ok(Networks::list(&me)?
                .into_iter()
                .map(|i| crate::traits::NetworkSpec { name: i.config.name, subnet: i.config.subnet.to_string() })
                .collect())
        })
        .await
    }
    async fn attach(&self, network: &str, workload: &str, netns_path: &Path) -> Result<String> {
        let (me, network, workload, ns) =
            (self.clone(), network.to_string(), workload.to_string(), netns_path.to_path_buf());
        crate::workload::blocking(move || {
            Networks::attach(&me, &network, &workload, &ns, "eth0", true).map(|a| a.to_string())
        })
        .await
    }
    async fn detach(&self, network: &str, workload: &str) -> Result<()> {
        let (me, network, workload) = (self.clone(), network.to_string(), workload.to_string());
        crate::workload::blocking(move || Networks::release(&me, &network, &workload)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_maps_parse() {
        let p: PortMap = "8080:80".parse().unwrap();
        assert_eq!(p, PortMap { host_port: 8080, port: 80, proto: Proto::Tcp });
        assert_eq!("53/udp".parse::<PortMap>().unwrap(), PortMap { host_port: 53, port: 53, proto: Proto::Udp });
        assert_eq!(p.to_string(), "8080:80/tcp");
        for bad in ["", "0:80", "80:70000", "a:b", "1:2:3", "80/sctp"] {
            let e = bad.parse::<PortMap>().unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Usage, "{bad}");
        }
    }

    #[test]
    fn names_and_interfaces() {
        for ok in ["volt0", "front", "a", "back-end_2", "abcdefghijklmno"] {
            check_network_name(ok).unwrap();
        }
        for bad in ["", "Front", "-x", "abcdefghijklmnop", "a.b", "volt", "a b"] {
            assert!(check_network_name(bad).is_err(), "{bad}");
        }
        let a = host_ifname("front", "web");
        assert_eq!(a.len(), 12);
        assert_ne!(a, host_ifname("back", "web"));
        assert_eq!(a, host_ifname("front", "web"));
    }
}
