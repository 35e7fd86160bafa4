//! Volt's nftables ruleset as a plan: one table `ip volt` rendered from the networks, port
//! forwards and firewall allowances, replaced as a whole in one `nft -f` transaction.
//!
//! Every chain has policy `accept`, and every rule that drops matches a Volt bridge on both
//! sides: traffic that neither comes from nor goes to a Volt network is never filtered, so
//! installing Volt does not change how the host's own traffic is treated. Rules outside the
//! `volt` table are never touched.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::cidr::Ipv4Net;
use crate::Error;

/// The table's name (family `ip`) for the system installation.
pub const TABLE: &str = "volt";

/// A network as the ruleset sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetRules {
    /// Network name.
    pub name: String,
    /// Its bridge interface.
    pub bridge: String,
    /// Its subnet.
    pub subnet: Ipv4Net,
    /// Masquerade traffic leaving the host from this network.
    pub masquerade: bool,
    /// Internal: its workloads reach each other, their DNS server and what is explicitly
    /// allowed, but not the host's other services nor anything outside.
    #[serde(default)]
    pub internal: bool,
    /// The bridge's address. Given, traffic between two workloads of the network skips
    /// connection tracking (see [`Ruleset::render`]).
    #[serde(default)]
    pub gateway: Option<Ipv4Addr>,
}

/// Transport protocol of a port forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Proto {
    fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// A port forward: host port → workload address and port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forward {
    /// Protocol.
    pub proto: Proto,
    /// Port on the host's own addresses (loopback included).
    pub host_port: u16,
    /// The workload's address.
    pub addr: Ipv4Addr,
    /// The workload's port.
    pub port: u16,
}

/// One side of a firewall allowance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    /// Every workload of a network (by network name).
    Network(String),
    /// Given workload addresses.
    Addrs(Vec<Ipv4Addr>),
}

/// Traffic allowed from one side to another (default: denied between networks), optionally
/// to one destination port only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allow {
    /// Source.
    pub from: Endpoint,
    /// Destination.
    pub to: Endpoint,
    /// Destination port, if only one is allowed.
    #[serde(default)]
    pub port: Option<(Proto, u16)>,
}

/// Everything the table is computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ruleset {
    /// Networks.
    pub networks: Vec<NetRules>,
    /// Port forwards.
    pub forwards: Vec<Forward>,
    /// Allowances between networks.
    pub allows: Vec<Allow>,
}

fn quote(s: &str) -> String {
    format!("\"{s}\"")
}

fn addr_set(a: &[Ipv4Addr]) -> String {
    if a.len() == 1 {
        a[0].to_string()
    } else {
        format!("{{ {} }}", a.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "))
    }
}

impl Ruleset {
    /// The match for one side of an allowance (`iifname "br"` or `ip saddr …`), or None when
    /// it names nothing (an unknown network, no addresses).
    fn side(&self, e: &Endpoint, src: bool) -> Option<String> {
        match e {
            Endpoint::Network(n) => {
                let b = &self.networks.iter().find(|x| &x.name == n)?.bridge;
                Some(format!("{} {}", if src { "iifname" } else { "oifname" }, quote(b)))
            }
            Endpoint::Addrs(a) if a.is_empty() => None,
            Endpoint::Addrs(a) => Some(format!("ip {} {}", if src { "saddr" } else { "daddr" }, addr_set(a))),
        }
    }
}

impl Ruleset {
    /// Check the plan: bridge names usable by nft, no two forwards of one host port.
    ///
    /// # Errors
    /// [`Error::Conflict`] for a host port forwarded twice; [`Error::InvalidName`].
    pub fn validate(&self) -> Result<(), Error> {
        for n in &self.networks {
            let ok = !n.bridge.is_empty()
                && n.bridge.len() < 16
                && n.bridge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
            if !ok {
                return Err(Error::InvalidName(format!("bridge name {:?}", n.bridge)));
            }
        }
        for (i, f) in self.forwards.iter().enumerate() {
            if self.forwards[..i].iter().any(|g| g.proto == f.proto && g.host_port == f.host_port) {
                return Err(Error::Conflict(format!(
                    "host port {}/{} is forwarded already",
                    f.host_port,
                    f.proto.as_str()
                )));
            }
        }
        Ok(())
    }

    /// The `nft -f` script that replaces table `ip volt` with this plan in one transaction
    /// (the `table` line first makes the `delete` valid when the table does not exist yet).
    pub fn render(&self) -> String {
        self.render_as(TABLE)
    }

    /// [`Ruleset::render`] for a table of another name (a relocated installation's).
    pub fn render_as(&self, table: &str) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "table ip {table}");
        let _ = writeln!(s, "delete table ip {table}");
        let _ = writeln!(s, "table ip {table} {{");
        let bridges: Vec<String> = self.networks.iter().map(|n| quote(&n.bridge)).collect();

        // forward: replies, within a network, allowed pairs, forwarded ports; then deny between
        // Volt networks and in or out of internal ones. Nothing else is matched.
        let _ = writeln!(s, "  chain forward {{\n    type filter hook forward priority filter; policy accept;");
        if !bridges.is_empty() {
            let set = format!("{{ {} }}", bridges.join(", "));
            // Within one network first: the bulk of the traffic (and, where br_netfilter passes
            // bridged frames through here, all of it) is decided by the first rules.
            for n in &self.networks {
                let b = quote(&n.bridge);
                let _ = writeln!(s, "    iifname {b} oifname {b} accept");
            }
            let _ = writeln!(s, "    iifname {set} ct state established,related accept");
            let _ = writeln!(s, "    oifname {set} ct state established,related accept");
            for a in &self.allows {
                let (Some(f), Some(t)) = (self.side(&a.from, true), self.side(&a.to, false)) else {
                    continue;
                };
                let port = a.port.map(|(p, n)| format!(" {} dport {n}", p.as_str())).unwrap_or_default();
                let _ = writeln!(s, "    {f} {t}{port} accept");
            }
            for f in &self.forwards {
                let _ =
                    writeln!(s, "    ip daddr {} {} dport {} ct status dnat accept", f.addr, f.proto.as_str(), f.port);
            }
            let _ = writeln!(s, "    iifname {set} oifname {set} drop");
            for n in self.networks.iter().filter(|n| n.internal) {
                let b = quote(&n.bridge);
                let _ = writeln!(s, "    iifname {b} drop");
                let _ = writeln!(s, "    oifname {b} drop");
            }
        }
        let _ = writeln!(s, "  }}");

        // input: workloads of internal networks reach only their DNS server on the host.
        let _ = writeln!(s, "  chain input {{\n    type filter hook input priority filter; policy accept;");
        for n in self.networks.iter().filter(|n| n.internal) {
            let b = quote(&n.bridge);
            let _ = writeln!(s, "    iifname {b} ct state established,related accept");
            let _ = writeln!(s, "    iifname {b} meta l4proto {{ tcp, udp }} th dport 53 accept");
            let _ = writeln!(s, "    iifname {b} drop");
        }
        let _ = writeln!(s, "  }}");

        // prerouting (from outside) and output (from the host itself, loopback included): DNAT
        // of forwarded ports addressed to the host.
        for (chain, hook, prio) in [("prerouting", "prerouting", "dstnat"), ("output", "output", "-100")] {
            let _ = writeln!(s, "  chain {chain} {{\n    type nat hook {hook} priority {prio}; policy accept;");
            for f in &self.forwards {
                let _ = writeln!(
                    s,
                    "    fib daddr type local {} dport {} dnat to {}:{}",
                    f.proto.as_str(),
                    f.host_port,
                    f.addr,
                    f.port
                );
            }
            let _ = writeln!(s, "  }}");
        }

        // raw: traffic between two workloads of one network needs no connection tracking (no
        // NAT, accepted within the bridge), and where br_netfilter hands bridged frames to the
        // IP hooks, tracking them costs throughput. Kept tracked: traffic to the gateway (the
        // host, forwards that may be NATed) and from forward targets (their replies may need
        // reverse NAT).
        let _ = writeln!(s, "  chain raw {{\n    type filter hook prerouting priority raw; policy accept;");
        for n in &self.networks {
            let Some(gw) = n.gateway else { continue };
            let targets: Vec<Ipv4Addr> =
                self.forwards.iter().map(|f| f.addr).filter(|a| n.subnet.contains(*a)).collect();
            let mut targets = targets;
            targets.sort();
            targets.dedup();
            let not_targets =
                if targets.is_empty() { String::new() } else { format!(" ip saddr != {}", addr_set(&targets)) };
            // By addresses, not by interface: where br_netfilter hands a bridged frame to this
            // hook its input interface is the bridge port (the veth), not the bridge.
            let _ =
                writeln!(s, "    ip saddr {} ip daddr {} ip daddr != {gw}{not_targets} notrack", n.subnet, n.subnet);
        }
        let _ = writeln!(s, "  }}");

        // postrouting: masquerade what leaves a network for elsewhere, and forwarded traffic
        // that came from the host's loopback (the workload could not answer 127.0.0.1).
        let _ = writeln!(s, "  chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;");
        for n in &self.networks {
            if n.masquerade && !n.internal {
                let _ = writeln!(s, "    ip saddr {} oifname != {} masquerade", n.subnet, quote(&n.bridge));
            }
            let _ = writeln!(s, "    ip saddr 127.0.0.0/8 oifname {} masquerade", quote(&n.bridge));
        }
        let _ = writeln!(s, "  }}");
        let _ = writeln!(s, "}}");
        s
    }

    /// Apply the plan: one `nft -f -` transaction that replaces the table (or changes nothing
    /// if it fails).
    ///
    /// # Errors
    /// [`Error::Nft`] with nft's message; a plan that fails [`Ruleset::validate`].
    pub fn apply(&self) -> Result<(), Error> {
        self.apply_as(TABLE)
    }

    /// [`Ruleset::apply`] to a table of another name.
    ///
    /// # Errors
    /// As [`Ruleset::apply`]; [`Error::InvalidName`] for a table name nft would not take.
    pub fn apply_as(&self, table: &str) -> Result<(), Error> {
        check_table(table)?;
        self.validate()?;
        run_nft(&self.render_as(table))
    }
}

fn check_table(t: &str) -> Result<(), Error> {
    let ok = !t.is_empty()
        && t.len() <= 64
        && t.as_bytes()[0].is_ascii_alphabetic()
        && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName(format!("nft table name {t:?}")))
    }
}

/// Remove table `ip volt` (nothing happens if it is absent).
///
/// # Errors
/// [`Error::Nft`].
pub fn remove_table() -> Result<(), Error> {
    remove_table_named(TABLE)
}

/// Remove table `ip NAME` (nothing happens if it is absent).
///
/// # Errors
/// [`Error::Nft`]; [`Error::InvalidName`].
pub fn remove_table_named(table: &str) -> Result<(), Error> {
    check_table(table)?;
    run_nft(&format!("table ip {table}\ndelete table ip {table}\n"))
}

fn run_nft(script: &str) -> Result<(), Error> {
    let mut c = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Io { op: "run", path: "nft".into(), source: e })?;
    c.stdin.take().expect("piped").write_all(script.as_bytes()).map_err(|e| Error::Io {
        op: "write to",
        path: "nft".into(),
        source: e,
    })?;
    let out = c.wait_with_output().map_err(|e| Error::Io { op: "wait for", path: "nft".into(), source: e })?;
    if !out.status.success() {
        return Err(Error::Nft(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Ruleset {
        Ruleset {
            networks: vec![
                NetRules {
                    name: "front".into(),
                    bridge: "volt0".into(),
                    subnet: "10.88.0.0/24".parse().unwrap(),
                    masquerade: true,
                    internal: false,
                    gateway: Some("10.88.0.1".parse().unwrap()),
                },
                NetRules {
                    name: "back".into(),
                    bridge: "voltb".into(),
                    subnet: "10.89.0.0/24".parse().unwrap(),
                    masquerade: false,
                    internal: true,
                    gateway: Some("10.89.0.1".parse().unwrap()),
                },
            ],
            forwards: vec![Forward {
                proto: Proto::Tcp,
                host_port: 8080,
                addr: "10.88.0.2".parse().unwrap(),
                port: 80,
            }],
            allows: vec![
                Allow { from: Endpoint::Network("front".into()), to: Endpoint::Network("back".into()), port: None },
                Allow {
                    from: Endpoint::Addrs(vec!["10.89.0.5".parse().unwrap()]),
                    to: Endpoint::Addrs(vec!["10.88.0.2".parse().unwrap(), "10.88.0.3".parse().unwrap()]),
                    port: Some((Proto::Tcp, 5432)),
                },
                // Names nothing: rendered as nothing.
                Allow { from: Endpoint::Network("gone".into()), to: Endpoint::Addrs(vec![]), port: None },
            ],
        }
    }

    #[test]
    fn ruleset_is_exact_and_only_drops_between_volt_bridges() {
        let text = plan().render();
        let expected = r#"table ip volt
delete table ip volt
table ip volt {
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "volt0" oifname "volt0" accept
    iifname "voltb" oifname "voltb" accept
    iifname { "volt0", "voltb" } ct state established,related accept
    oifname { "volt0", "voltb" } ct state established,related accept
    iifname "volt0" oifname "voltb" accept
    ip saddr 10.89.0.5 ip daddr { 10.88.0.2, 10.88.0.3 } tcp dport 5432 accept
    ip daddr 10.88.0.2 tcp dport 80 ct status dnat accept
    iifname { "volt0", "voltb" } oifname { "volt0", "voltb" } drop
    iifname "voltb" drop
    oifname "voltb" drop
  }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "voltb" ct state established,related accept
    iifname "voltb" meta l4proto { tcp, udp } th dport 53 accept
    iifname "voltb" drop
  }
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    fib daddr type local tcp dport 8080 dnat to 10.88.0.2:80
  }
  chain output {
    type nat hook output priority -100; policy accept;
    fib daddr type local tcp dport 8080 dnat to 10.88.0.2:80
  }
  chain raw {
    type filter hook prerouting priority raw; policy accept;
    ip saddr 10.88.0.0/24 ip daddr 10.88.0.0/24 ip daddr != 10.88.0.1 ip saddr != 10.88.0.2 notrack
    ip saddr 10.89.0.0/24 ip daddr 10.89.0.0/24 ip daddr != 10.89.0.1 notrack
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr 10.88.0.0/24 oifname != "volt0" masquerade
    ip saddr 127.0.0.0/8 oifname "volt0" masquerade
    ip saddr 127.0.0.0/8 oifname "voltb" masquerade
  }
}
"#;
        assert_eq!(text, expected);
        // Every drop matches a Volt bridge; every chain accepts by default.
        for l in text.lines().filter(|l| l.contains("drop")) {
            let l = l.trim_start();
            assert!(
                l.starts_with("iifname {") && l.contains("oifname {")
                    || l.starts_with("iifname \"voltb\"")
                    || l.starts_with("oifname \"voltb\""),
                "{l}"
            );
        }
        assert_eq!(text.matches("policy accept").count(), 6);
        assert!(!text.contains("policy drop"));
        // An empty plan still makes a valid, empty table.
        assert!(Ruleset::default().render().contains("chain forward"));
    }

    #[test]
    fn bad_plans_are_refused() {
        let mut p = plan();
        p.forwards.push(Forward { proto: Proto::Tcp, host_port: 8080, addr: "10.88.0.3".parse().unwrap(), port: 81 });
        assert!(matches!(p.validate(), Err(Error::Conflict(_))));
        p.forwards.pop();
        p.forwards.push(Forward { proto: Proto::Udp, host_port: 8080, addr: "10.88.0.3".parse().unwrap(), port: 81 });
        assert!(p.validate().is_ok(), "udp and tcp are separate ports");
        p.networks[0].bridge = "bad\"name".into();
        assert!(matches!(p.validate(), Err(Error::InvalidName(_))));
    }
}
