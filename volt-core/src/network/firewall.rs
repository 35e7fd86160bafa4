//! The firewall between networks and the nftables ruleset of all of them.

use super::*;

impl Networks {
    /// Does an allowance name `workload` (so its addresses are in the table)?
    pub(super) fn named_in_rules(&self, workload: &str) -> Result<bool> {
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
    pub(super) fn resolve(&self, side: &str) -> Result<Option<Endpoint>> {
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

    pub(super) fn sync_rules_locked(&self) -> Result<()> {
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
}
