//! Creating a network: its subnet (given or picked from the pool), bridge, rules and DNS server; ensure brings back what a reboot lost.

use super::*;

impl Networks {
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

    pub(super) fn create_inner(&self, name: &str, opts: &NetworkOptions) -> Result<NetworkInfo> {
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
            created: crate::supervise::logs::timestamp(),
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

    pub(super) fn host_networks(&self, existing: &[NetworkConfig]) -> Result<Vec<Ipv4Net>> {
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

    pub(super) fn bridge_taken(&self, bridge: &str) -> Result<bool> {
        Ok(block_on(async { Netlink::connect()?.index(bridge).await })??.is_some())
    }

    pub(super) fn free_subnet(&self, existing: &[NetworkConfig], host: &[Ipv4Net]) -> Result<Ipv4Net> {
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
    pub(super) fn ensure_locked(&self, c: &NetworkConfig) -> Result<bool> {
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
}
