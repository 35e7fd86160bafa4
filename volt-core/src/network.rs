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

    /// Create a network: its record, lease file, bridge with the gateway address, nft rules and
    /// DNS server. A name taken, an overlapping subnet or a bridge name already used by the host
    /// are refused before anything is made; a failure later removes what was made.
    ///
    /// # Errors
    /// Usage errors (bad name, CIDR, gateway); [`Error::Conflict`] (exit 9) for overlaps;
    /// already exists (exit 4); network errors (exit 8).
    pub fn create(&self, name: &str, opts: &NetworkOptions) -> Result<NetworkInfo> {
        let r = self.create_inner(name, opts);
        let what = match &r {
            Ok(i) => format!("{name} {}", i.config.subnet),
            Err(_) => name.to_string(),
        };
        self.audit.outcome("network.create", &what, r)
    }

    fn create_inner(&self, name: &str, opts: &NetworkOptions) -> Result<NetworkInfo> {
        check_network_name(name)?;
        let upstreams = opts.dns_upstreams.clone().unwrap_or_else(|| self.settings.dns_upstreams.clone());
        for u in &upstreams {
            volt_net::dns::parse_upstream(u)?;
        }
        let subnet = opts.subnet.as_deref().map(str::parse::<Ipv4Net>).transpose()?;
        let gateway = opts
            .gateway
            .as_deref()
            .map(|g| {
                g.parse::<Ipv4Addr>().map_err(|_| Error::InvalidArgument(format!("gateway {g:?}: not an IPv4 address")))
            })
            .transpose()?;
        if gateway.is_some() && subnet.is_none() {
            return Err(Error::InvalidArgument("a gateway needs a subnet (--subnet)".into()));
        }
        let _l = self.lock()?;
        if self.config_of(name)?.is_some() {
            return Err(Error::io(
                "create network",
                self.net_dir(name),
                std::io::Error::new(std::io::ErrorKind::AlreadyExists, format!("a network named {name} exists")),
            ));
        }
        let existing = self.configs()?;
        let host_nets = self.host_networks(&existing)?;
        let subnet = match subnet {
            Some(s) => {
                if let Some(o) = existing.iter().find(|o| o.subnet.overlaps(&s)) {
                    return Err(Error::Conflict(format!("subnet {s} overlaps network {} ({})", o.name, o.subnet)));
                }
                if let Some(h) = host_nets.iter().find(|h| h.overlaps(&s)) {
                    return Err(Error::Conflict(format!("subnet {s} overlaps the host's network {h}")));
                }
                s
            }
            None => self.free_subnet(&existing, &host_nets)?,
        };
        let gateway = gateway.unwrap_or_else(|| subnet.first_host());
        if self.bridge_taken(name)? {
            return Err(Error::Conflict(format!("the host already has an interface named {name}")));
        }
        let dir = self.net_dir(name);
        // Debris of an interrupted create (no network.json): we hold the lock, so remove it.
        let _ = fs::remove_dir_all(&dir);
        let config = NetworkConfig {
            name: name.into(),
            bridge: name.into(),
            subnet,
            gateway,
            internal: opts.internal,
            mesh: opts.mesh,
            dns_upstreams: upstreams,
            created: crate::container::logs::timestamp(),
        };
        let r = (|| {
            self.ipam(name).init(subnet, gateway)?;
            write_json(&dir.join("network.json"), &config)?;
            self.ensure_locked(&config)?;
            self.sync_rules_locked()
        })();
        if let Err(e) = r {
            let _ = fs::remove_file(dir.join("network.json"));
            self.stop_dns(name);
            let _ = block_on(async { Netlink::connect()?.delete(&config.bridge).await });
            let _ = fs::remove_dir_all(&dir);
            let _ = self.sync_rules_locked();
            return Err(e);
        }
        self.info(config)
    }

    fn host_networks(&self, existing: &[NetworkConfig]) -> Result<Vec<Ipv4Net>> {
        let addrs = block_on(async { Netlink::connect()?.ipv4_networks().await })??;
        Ok(addrs
            .into_iter()
            .filter(|(ip, _)| !ip.is_loopback())
            .filter(|(ip, _)| !existing.iter().any(|n| n.gateway == *ip))
            .filter_map(|(ip, p)| {
                let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
                Ipv4Net::new(Ipv4Addr::from(u32::from(ip) & mask), p).ok()
            })
            .collect())
    }

    fn bridge_taken(&self, bridge: &str) -> Result<bool> {
        Ok(block_on(async { Netlink::connect()?.index(bridge).await })??.is_some())
    }

    fn free_subnet(&self, existing: &[NetworkConfig], host: &[Ipv4Net]) -> Result<Ipv4Net> {
        let pool: Ipv4Net = self.settings.subnet_pool.parse().map_err(|e: volt_net::Error| Error::Config {
            path: self.paths.config_file(),
            reason: format!("networks.subnet_pool: {e}"),
        })?;
        let start = u32::from(pool.addr());
        let count = if pool.prefix() >= 24 { 1 } else { 1u32 << (24 - pool.prefix()) };
        for i in 0..count {
            let s = Ipv4Net::new(Ipv4Addr::from(start + (i << 8)), 24.max(pool.prefix()))?;
            if !existing.iter().any(|o| o.subnet.overlaps(&s)) && !host.iter().any(|h| h.overlaps(&s)) {
                return Ok(s);
            }
        }
        Err(Error::Network(volt_net::Error::Exhausted { subnet: format!("pool {pool}") }))
    }

    /// Make the kernel side of a network match its record: bridge with the gateway, up,
    /// `route_localnet` (port forwards from 127.0.0.1), IPv4 forwarding, and the DNS server.
    /// True when the bridge had to be made (a new network, or after a reboot).
    fn ensure_locked(&self, c: &NetworkConfig) -> Result<bool> {
        let made = block_on(async {
            let nl = Netlink::connect()?;
            let existed = nl.index(&c.bridge).await?.is_some();
            nl.ensure_bridge(&c.bridge, c.gateway, c.subnet.prefix()).await.map(|_| !existed)
        })??;
        link::set_ipv4_sysctl(&format!("conf/{}/route_localnet", c.bridge), "1")?;
        if !c.internal {
            link::set_ipv4_sysctl("ip_forward", "1")?;
        }
        if self.settings.dns {
            self.ensure_dns(c)?;
        }
        Ok(made)
    }

    /// Bring a network's bridge, sysctls and DNS server back if they are missing, and the nft
    /// table with the bridge (after a reboot, say). `volt0` (the default network) is created on first use.
    ///
    /// # Errors
    /// [`Error::NotFound`]; network errors.
    pub fn ensure(&self, name: &str) -> Result<NetworkConfig> {
        if name == self.settings.default_network && self.config_of(name)?.is_none() {
            match self.create(name, &NetworkOptions::default()) {
                Ok(i) => return Ok(i.config),
                Err(e) if e.kind() == crate::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        let c = self.load(name)?;
        let _l = self.lock()?;
        if self.ensure_locked(&c)? {
            // A bridge that had to be re-made means the table went with it (a reboot). An
            // `nft flush ruleset` alone is repaired by `volt network firewall sync`.
            self.sync_rules_locked()?;
        }
        Ok(c)
    }

    fn info(&self, config: NetworkConfig) -> Result<NetworkInfo> {
        let leases = self.ipam(&config.name).leases()?;
        let endpoints =
            leases.leases.into_iter().map(|(address, workload)| NetworkEndpoint { workload, address }).collect();
        let dns_pid = self.dns_pid(&config.name);
        Ok(NetworkInfo { config, endpoints, dns_pid })
    }

    /// All networks.
    ///
    /// # Errors
    /// I/O errors.
    pub fn list(&self) -> Result<Vec<NetworkInfo>> {
        self.configs()?.into_iter().map(|c| self.info(c)).collect()
    }

    /// One network, after reclaiming the leases of workloads that are gone.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn inspect(&self, name: &str) -> Result<NetworkInfo> {
        let c = self.load(name)?;
        self.reclaim(name)?;
        self.info(c)
    }

    fn reclaim(&self, name: &str) -> Result<()> {
        let gone = self.ipam(name).reclaim(|o| self.alive(o))?;
        if !gone.is_empty() {
            let _l = self.lock()?;
            let mut fw: Vec<ForwardRecord> = read_json(&self.dir().join("forwards.json"))?.unwrap_or_default();
            fw.retain(|f| !gone.iter().any(|(_, o)| *o == f.workload));
            write_json(&self.dir().join("forwards.json"), &fw)?;
            for (_, o) in &gone {
                let _ = block_on(async { Netlink::connect()?.delete(&host_ifname(name, o)).await });
            }
            self.sync_rules_locked()?;
        }
        Ok(())
    }

    /// Delete a network: refused while a workload is on it (exit 9); removes its bridge, DNS
    /// server, rules (and firewall rules naming it) and files.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::InUse`] while in use.
    pub fn delete(&self, name: &str) -> Result<()> {
        self.audit.audited("network.delete", name, || {
            let c = self.load(name)?;
            self.reclaim(name)?;
            let _l = self.lock()?;
            let users: Vec<String> = self.ipam(name).leases()?.leases.into_values().collect();
            if !users.is_empty() {
                return Err(Error::InUse {
                    what: "network",
                    name: name.into(),
                    users,
                    hint: "; delete or disconnect them first",
                });
            }
            let dir = self.net_dir(name);
            // The record goes first: from here on the network does not exist for anyone.
            fs::remove_file(dir.join("network.json")).map_err(|e| Error::io("remove", &dir, e))?;
            let mut fw: Vec<FirewallRule> = read_json(&self.dir().join("firewall.json"))?.unwrap_or_default();
            fw.retain(|r| r.from != name && r.to != name);
            write_json(&self.dir().join("firewall.json"), &fw)?;
            self.sync_rules_locked()?;
            self.stop_dns(name);
            block_on(async { Netlink::connect()?.delete(&c.bridge).await })??;
            fs::remove_dir_all(&dir).map_err(|e| Error::io("remove", &dir, e))?;
            Ok(())
        })
    }

    // ---- endpoints -------------------------------------------------------------------------

    /// Reserve addresses for `workload` on `networks` and record its port forwards (on the
    /// first network), then apply the rules. Refused, with nothing kept, for an unknown
    /// network or a host port forwarded already.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Conflict`] (exit 9); exhausted subnet (exit 11).
    pub fn reserve(&self, workload: &str, networks: &[String], ports: &[PortMap]) -> Result<Vec<(String, Ipv4Addr)>> {
        if networks.is_empty() && !ports.is_empty() {
            return Err(Error::InvalidArgument(
                "port forwards need a network (--network): a forward reaches an address on one".into(),
            ));
        }
        for (i, n) in networks.iter().enumerate() {
            if networks[..i].contains(n) {
                return Err(Error::InvalidArgument(format!("network {n} given twice")));
            }
        }
        for n in networks {
            if n == &self.settings.default_network {
                self.ensure(n)?;
            } else {
                self.load(n)?;
            }
            self.reclaim(n)?;
        }
        let _l = self.lock()?;
        let path = self.dir().join("forwards.json");
        let mut fw: Vec<ForwardRecord> = read_json(&path)?.unwrap_or_default();
        for (i, p) in ports.iter().enumerate() {
            let dup = ports[..i].iter().any(|q| q.host_port == p.host_port && q.proto == p.proto);
            if let Some(o) =
                fw.iter().find(|f| f.map.host_port == p.host_port && f.map.proto == p.proto && f.workload != workload)
            {
                return Err(Error::Conflict(format!("host port {} is forwarded to {} already", p, o.workload)));
            }
            if dup {
                return Err(Error::Conflict(format!("host port {p} is given twice")));
            }
        }
        let mut got = Vec::new();
        let r = (|| {
            for n in networks {
                got.push((n.clone(), self.ipam(n).allocate(workload)?));
            }
            // Forwards are given with the first network (create); a later reserve (connect)
            // leaves the workload's forwards as they are.
            if let (Some(first), false) = (networks.first(), ports.is_empty()) {
                fw.retain(|f| f.workload != workload);
                fw.extend(ports.iter().map(|p| ForwardRecord {
                    workload: workload.into(),
                    network: first.clone(),
                    map: *p,
                }));
                write_json(&path, &fw)?;
            }
            // The table changes only with forwards, or with allowances naming this workload.
            if !ports.is_empty() || self.named_in_rules(workload)? {
                self.sync_rules_locked()?;
            }
            Ok(())
        })();
        if let Err(e) = r {
            for (n, _) in &got {
                let _ = self.ipam(n).release(workload);
            }
            return Err(e);
        }
        Ok(got)
    }

    /// `workload`'s address on `network`, if it holds one.
    ///
    /// # Errors
    /// I/O errors.
    pub fn address(&self, network: &str, workload: &str) -> Result<Option<Ipv4Addr>> {
        if self.config_of(network)?.is_none() {
            return Ok(None);
        }
        Ok(self.ipam(network).leases()?.leases.into_iter().find(|(_, o)| o == workload).map(|(a, _)| a))
    }

    /// Connect the network namespace at `netns` to `network` as `ifname` for `workload`: the
    /// bridge (re-made if missing), an address (reserved if it has none), a veth pair, the
    /// default route if `default_route`, and — since names are served from the leases — its
    /// DNS name. Nothing happens if the host end exists already. Returns the address.
    ///
    /// # Errors
    /// [`Error::NotFound`]; network errors (exit 8).
    pub fn attach(
        &self,
        network: &str,
        workload: &str,
        netns: &Path,
        ifname: &str,
        default_route: bool,
    ) -> Result<Ipv4Addr> {
        let c = self.ensure(network)?;
        let addr = self.ipam(network).allocate(workload)?;
        let host_if = host_ifname(network, workload);
        block_on(async {
            let nl = Netlink::connect()?;
            if nl.index(&host_if).await?.is_some() {
                // Plugged already; its bridge may have been re-made since.
                return nl.enslave(&host_if, &c.bridge).await;
            }
            let via = default_route.then_some(c.gateway);
            nl.attach_veth(&c.bridge, &host_if, netns, ifname, addr, c.subnet.prefix(), via).await
        })??;
        Ok(addr)
    }

    /// Connect a VM to `network`: a persistent TAP device named like a container's host end,
    /// on the network's bridge (re-enslaved if the bridge was re-made), and an address (reserved
    /// if it has none), which also gives the VM its DNS name. Returns the TAP's name, the
    /// address and the network.
    ///
    /// # Errors
    /// [`Error::NotFound`]; network errors (exit 8).
    pub fn attach_tap(&self, network: &str, workload: &str) -> Result<(String, Ipv4Addr, NetworkConfig)> {
        let c = self.ensure(network)?;
        let addr = self.ipam(network).allocate(workload)?;
        let tap = host_ifname(network, workload);
        block_on(async {
            let nl = Netlink::connect()?;
            volt_net::link::create_tap(&nl, &c.bridge, &tap).await
        })??;
        Ok((tap, addr, c))
    }

    /// Remove `workload`'s veth on `network` (its end in the namespace goes with it).
    ///
    /// # Errors
    /// Network errors.
    pub fn unplug(&self, network: &str, workload: &str) -> Result<()> {
        block_on(async { Netlink::connect()?.delete(&host_ifname(network, workload)).await })??;
        Ok(())
    }

    /// Take `workload` off `network` for good: veth, address (so its DNS name), port forwards
    /// there, rules.
    ///
    /// # Errors
    /// Network and I/O errors.
    pub fn release(&self, network: &str, workload: &str) -> Result<()> {
        self.unplug(network, workload)?;
        let _l = self.lock()?;
        if self.config_of(network)?.is_some() {
            self.ipam(network).release(workload)?;
        }
        let path = self.dir().join("forwards.json");
        let mut fw: Vec<ForwardRecord> = read_json(&path)?.unwrap_or_default();
        let before = fw.len();
        fw.retain(|f| !(f.workload == workload && f.network == network));
        let forwards_changed = fw.len() != before;
        if forwards_changed {
            write_json(&path, &fw)?;
        }
        if forwards_changed || self.named_in_rules(workload)? {
            self.sync_rules_locked()?;
        }
        Ok(())
    }

    /// Does an allowance name `workload` (so its addresses are in the table)?
    fn named_in_rules(&self, workload: &str) -> Result<bool> {
        Ok(self.firewall_rules()?.iter().any(|r| r.from == workload || r.to == workload))
    }

    /// The port forwards of `workload`.
    ///
    /// # Errors
    /// I/O errors.
    pub fn forwards(&self, workload: Option<&str>) -> Result<Vec<ForwardRecord>> {
        let fw: Vec<ForwardRecord> = read_json(&self.dir().join("forwards.json"))?.unwrap_or_default();
        Ok(fw.into_iter().filter(|f| workload.is_none_or(|w| f.workload == w)).collect())
    }

    // ---- firewall -------------------------------------------------------------------------

    /// Allow traffic from `from` to `to` (each a network or a workload on one), optionally to
    /// one port (`PORT[/tcp|udp]`). Idempotent.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown network or workload; usage errors.
    pub fn firewall_allow(&self, from: &str, to: &str, port: Option<&str>) -> Result<FirewallRule> {
        self.audit.audited("network.firewall.allow", &format!("{from} -> {to}"), || {
            let _l = self.lock()?;
            for side in [from, to] {
                if self.resolve(side)?.is_none() {
                    return Err(Error::NotFound { what: "network or workload", name: side.into() });
                }
            }
            let port = port.map(parse_port).transpose()?.map(|(p, n)| format!("{n}/{}", proto_str(p)));
            let rule = FirewallRule { from: from.into(), to: to.into(), port };
            let path = self.dir().join("firewall.json");
            let mut fw: Vec<FirewallRule> = read_json(&path)?.unwrap_or_default();
            if !fw.contains(&rule) {
                fw.push(rule.clone());
                write_json(&path, &fw)?;
            }
            self.sync_rules_locked()?;
            Ok(rule)
        })
    }

    /// Remove an allowance (the default — deny between networks — applies again).
    ///
    /// # Errors
    /// [`Error::NotFound`] when no such rule exists.
    pub fn firewall_deny(&self, from: &str, to: &str, port: Option<&str>) -> Result<()> {
        self.audit.audited("network.firewall.deny", &format!("{from} -> {to}"), || {
            let _l = self.lock()?;
            let port = port.map(parse_port).transpose()?.map(|(p, n)| format!("{n}/{}", proto_str(p)));
            let path = self.dir().join("firewall.json");
            let mut fw: Vec<FirewallRule> = read_json(&path)?.unwrap_or_default();
            let before = fw.len();
            fw.retain(|r| !(r.from == from && r.to == to && r.port == port));
            if fw.len() == before {
                return Err(Error::NotFound { what: "firewall rule", name: format!("{from} -> {to}") });
            }
            write_json(&path, &fw)?;
            self.sync_rules_locked()
        })
    }

    /// Drop the allowances naming workload `workload` (it is being deleted: a later workload
    /// of the same name must not inherit them).
    ///
    /// # Errors
    /// I/O errors; nft.
    pub fn forget(&self, workload: &str) -> Result<()> {
        let _l = self.lock()?;
        let path = self.dir().join("firewall.json");
        let mut fw: Vec<FirewallRule> = read_json(&path)?.unwrap_or_default();
        let is_net = check_network_name(workload).is_ok() && self.config_of(workload)?.is_some();
        let before = fw.len();
        if !is_net {
            fw.retain(|r| r.from != workload && r.to != workload);
        }
        if fw.len() != before {
            write_json(&path, &fw)?;
            self.sync_rules_locked()?;
        }
        Ok(())
    }

    /// The allowances.
    ///
    /// # Errors
    /// I/O errors.
    pub fn firewall_rules(&self) -> Result<Vec<FirewallRule>> {
        Ok(read_json(&self.dir().join("firewall.json"))?.unwrap_or_default())
    }

    /// A network name → its bridge; a workload name → its addresses on every network.
    fn resolve(&self, side: &str) -> Result<Option<Endpoint>> {
        if check_network_name(side).is_ok() && self.config_of(side)?.is_some() {
            return Ok(Some(Endpoint::Network(side.into())));
        }
        let mut addrs = Vec::new();
        for c in self.configs()? {
            addrs.extend(self.ipam(&c.name).leases()?.leases.into_iter().filter(|(_, o)| o == side).map(|(a, _)| a));
        }
        Ok((!addrs.is_empty() || self.alive(side)).then_some(Endpoint::Addrs(addrs)))
    }

    /// The ruleset the stored state calls for.
    ///
    /// # Errors
    /// I/O errors.
    pub fn ruleset(&self) -> Result<Ruleset> {
        let configs = self.configs()?;
        let mut leases: BTreeMap<String, BTreeMap<String, Ipv4Addr>> = BTreeMap::new();
        for c in &configs {
            let l = self.ipam(&c.name).leases()?;
            leases.insert(c.name.clone(), l.leases.into_iter().map(|(a, o)| (o, a)).collect());
        }
        let networks = configs
            .iter()
            .map(|c| NetRules {
                name: c.name.clone(),
                bridge: c.bridge.clone(),
                subnet: c.subnet,
                masquerade: true,
                internal: c.internal,
                gateway: Some(c.gateway),
            })
            .collect();
        let forwards = self
            .forwards(None)?
            .into_iter()
            .filter_map(|f| {
                let addr = *leases.get(&f.network)?.get(&f.workload)?;
                Some(Forward { proto: f.map.proto, host_port: f.map.host_port, addr, port: f.map.port })
            })
            .collect();
        let mut allows = Vec::new();
        for r in self.firewall_rules()? {
            let (Some(from), Some(to)) = (self.resolve(&r.from)?, self.resolve(&r.to)?) else { continue };
            let port = r.port.as_deref().map(parse_port).transpose()?;
            allows.push(Allow { from, to, port });
        }
        Ok(Ruleset { networks, forwards, allows })
    }

    /// The nftables table (family `ip`) of this installation: `volt` for the system one; a
    /// relocated installation (tests, trials under `VOLT_ROOT`) gets `volt_` and 8 hex digits
    /// of its root, so it never replaces or removes the real installation's rules.
    pub fn table(&self) -> String {
        if self.paths.is_system() {
            nft::TABLE.into()
        } else {
            let h = blake3::hash(self.paths.lib_dir().as_os_str().as_encoded_bytes());
            format!("{}_{}", nft::TABLE, &h.to_hex()[..8])
        }
    }

    fn sync_rules_locked(&self) -> Result<()> {
        let rs = self.ruleset()?;
        if rs.networks.is_empty() {
            return Ok(nft::remove_table_named(&self.table())?);
        }
        Ok(rs.apply_as(&self.table())?)
    }

    /// Re-apply the nftables table ([`Networks::table`]) from the stored state (after a reboot or `nft flush ruleset`).
    ///
    /// # Errors
    /// [`Error::Network`] when nft refuses.
    pub fn sync_rules(&self) -> Result<()> {
        let _l = self.lock()?;
        self.sync_rules_locked()
    }

    // ---- DNS ------------------------------------------------------------------------------

    fn dns_pid(&self, name: &str) -> Option<u32> {
        let d = self.net_dir(name);
        let f = File::open(d.join("dns.lock")).ok()?;
        match rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockShared) {
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                fs::read_to_string(d.join("dns.pid")).ok()?.trim().parse().ok()
            }
            _ => None,
        }
    }

    fn ensure_dns(&self, c: &NetworkConfig) -> Result<()> {
        if self.dns_pid(&c.name).is_some() {
            return Ok(());
        }
        let bin = crate::container::find_supervisor(&self.containers)?;
        let args = DnsArgs {
            networks_dir: self.dir(),
            network: c.name.clone(),
            listen: vec![format!("{}:53", c.gateway)],
            upstreams: c.dns_upstreams.clone(),
        };
        let log = self.net_dir(&c.name).join("dns.log");
        let json = serde_json::to_string(&args).expect("serialises");
        match crate::container::supervisor::spawn_detached(&bin, &["dns".into(), json], &log, None)? {
            Ok(_) => Ok(()),
            Err(m) => Err(Error::Workload {
                name: format!("DNS server of network {}", c.name),
                reason: m.unwrap_or_else(|| format!("it exited without a word; see {}", log.display())),
            }),
        }
    }

    fn stop_dns(&self, name: &str) {
        if let Some(pid) = self.dns_pid(name) {
            let _ = rustix::process::kill_process(
                rustix::process::Pid::from_raw(pid as i32).expect("positive"),
                rustix::process::Signal::TERM,
            );
            let end = Instant::now() + Duration::from_secs(3);
            while self.dns_pid(name).is_some() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
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

/// What the DNS server is told (`volt-supervisor dns JSON`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DnsArgs {
    /// The `networks/` directory.
    pub networks_dir: PathBuf,
    /// Its network.
    pub network: String,
    /// `IP:PORT` to listen on.
    pub listen: Vec<String>,
    /// Upstreams.
    pub upstreams: Vec<String>,
}

/// `volt-supervisor dns JSON`: detach, hold `dns.lock`, bind, report on fd 3, serve until the
/// network's record disappears or SIGTERM.
pub fn dns_main(json: &str) -> i32 {
    let args: DnsArgs = match serde_json::from_str(json) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("volt-supervisor dns: bad arguments: {e}");
            return 2;
        }
    };
    // SAFETY: single-threaded here; the child only continues this program.
    match unsafe { libc::fork() } {
        -1 => return 1,
        0 => {}
        _ => return 0,
    }
    // SAFETY: plain syscalls.
    unsafe {
        libc::setsid();
        libc::fcntl(3, libc::F_SETFD, libc::FD_CLOEXEC);
    }
    use std::io::Write;
    use std::os::fd::FromRawFd;
    // SAFETY: fd 3 is the report pipe handed to us.
    let mut ready = Some(unsafe { File::from_raw_fd(3) });
    let dir = args.networks_dir.join(&args.network);
    let report = &mut ready;
    let r = (|| -> std::result::Result<(), String> {
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("dns.lock"))
            .map_err(|e| format!("dns.lock: {e}"))?;
        match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                if let Some(mut f) = report.take() {
                    let _ = writeln!(f, "ok running");
                }
                return Ok(());
            }
            Err(e) => return Err(format!("dns.lock: {e}")),
        }
        let listen = args
            .listen
            .iter()
            .map(|a| a.parse())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| format!("{e}"))?;
        let upstreams = args
            .upstreams
            .iter()
            .map(|u| volt_net::dns::parse_upstream(u))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let opts = volt_net::dns::DnsOptions {
            networks_dir: args.networks_dir.clone(),
            network: args.network.clone(),
            listen,
            upstreams,
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            let server = volt_net::dns::DnsServer::bind(&opts).await.map_err(|e| e.to_string())?;
            fs::write(dir.join("dns.pid"), std::process::id().to_string()).map_err(|e| e.to_string())?;
            if let Some(mut f) = report.take() {
                let _ = writeln!(f, "ok {}", std::process::id());
            }
            let record = dir.join("network.json");
            let watch = async move {
                while record.exists() {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            };
            tokio::select! {
                r = server.serve() => r.map_err(|e| e.to_string()),
                () = watch => Ok(()),
            }
        })?;
        drop(lock);
        Ok(())
    })();
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("volt-supervisor dns: {e}");
            // Serving may fail after the report was sent: then only the log has it.
            if let Some(mut f) = ready.take() {
                let _ = writeln!(f, "error: {e}");
            }
            1
        }
    }
}

#[async_trait::async_trait]
impl crate::traits::Network for Networks {
    async fn create(&self, spec: &crate::traits::NetworkSpec) -> Result<()> {
        let me = self.clone();
        let spec = spec.clone();
        blocking(move || {
            me.create(&spec.name, &NetworkOptions { subnet: Some(spec.subnet), ..Default::default() }).map(|_| ())
        })
        .await
    }
    async fn delete(&self, name: &str) -> Result<()> {
        let (me, name) = (self.clone(), name.to_string());
        blocking(move || Networks::delete(&me, &name)).await
    }
    async fn list(&self) -> Result<Vec<crate::traits::NetworkSpec>> {
        let me = self.clone();
        blocking(move || {
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
        blocking(move || Networks::attach(&me, &network, &workload, &ns, "eth0", true).map(|a| a.to_string())).await
    }
    async fn detach(&self, network: &str, workload: &str) -> Result<()> {
        let (me, network, workload) = (self.clone(), network.to_string(), workload.to_string());
        blocking(move || Networks::release(&me, &network, &workload)).await
    }
}

/// Run blocking network work off the async executor (netlink gets its own runtime there).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::Task(e.to_string()))?
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
