//! Workloads on networks: reserve addresses and forwards, attach a veth or a TAP, unplug, release.

use super::*;

impl Networks {
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
}
