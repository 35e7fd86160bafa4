//! Networks of a container: endpoints shown in inspect, plugging at start, connect and disconnect.

use super::*;

impl Containers {
    /// Fill in a container's addresses.
    pub(super) fn with_endpoints(&self, mut info: ContainerInfo) -> Result<ContainerInfo> {
        let name = info.config.name.as_str();
        info.endpoints = info
            .config
            .networks
            .iter()
            .enumerate()
            .map(|(i, n)| {
                Ok(ContainerEndpoint {
                    network: n.clone(),
                    address: self.networks.address(n, name)?,
                    interface: format!("eth{i}"),
                    host_interface: host_ifname(n, name),
                })
            })
            .collect::<Result<_>>()?;
        Ok(info)
    }

    /// Put the container's network namespace on its networks (made if missing, e.g. after a
    /// reboot; what is there already is kept) and write its resolv.conf.
    pub(super) fn plug(&self, info: &ContainerInfo) -> Result<()> {
        let c = &info.config;
        if c.networks.is_empty() {
            return Ok(());
        }
        let dir = self.store.dir(&c.name);
        let ns = dir.join("netns");
        if volt_net::netns::create(&ns)? {
            // A new namespace: host ends left from the one before (being freed by the kernel
            // after a reboot-like loss, or a crash) must not pass for plugged.
            for n in &c.networks {
                self.networks.unplug(n, c.name.as_str())?;
            }
        }
        let mut resolv = String::new();
        for (i, n) in c.networks.iter().enumerate() {
            self.networks.attach(n, c.name.as_str(), &ns, &format!("eth{i}"), i == 0)?;
            if i == 0 {
                // `attach` has just ensured the network; its record is enough here.
                let gw = self.networks.load(n)?.gateway;
                resolv = format!("nameserver {gw}\nsearch {n}.{}\noptions ndots:1\n", volt_net::dns::DOMAIN);
            }
        }
        crate::fsutil::write_replace(&dir.join("resolv.conf"), resolv.as_bytes(), false)
    }

    /// Take the container off its networks for good (before its record goes).
    pub(super) fn unplug_all(&self, c: &ContainerConfig) -> Result<()> {
        for n in &c.networks {
            self.networks.release(n, c.name.as_str())?;
        }
        self.networks.forget(c.name.as_str())?;
        volt_net::netns::remove(&self.store.dir(&c.name).join("netns"))?;
        Ok(())
    }

    /// Put a container on one more network: an address now, and if it runs, the interface
    /// (`ethN`) at once.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Conflict`] if it is on that network already.
    pub fn connect(&self, name: &str, network: &str) -> Result<ContainerInfo> {
        let n = Self::name(name)?;
        self.audit.audited("container.connect", &format!("{name} {network}"), || {
            let _lock = self.store.lock(&n)?;
            let info = self.inspect_n(&n, true)?;
            if info.config.networks.iter().any(|x| x == network) {
                return Err(Error::Conflict(format!("container {n} is on network {network} already")));
            }
            self.networks.reserve(n.as_str(), std::slice::from_ref(&network.to_string()), &[])?;
            let mut config = info.config.clone();
            config.networks.push(network.to_string());
            let r = (|| {
                if is_running(&info.state) {
                    let ns = self.store.dir(&n).join("netns");
                    if !volt_net::netns::is_live(&ns) {
                        return Err(Error::Conflict(format!(
                            "container {n} runs on the host's network; connect it while stopped"
                        )));
                    }
                    let i = config.networks.len() - 1;
                    self.networks.attach(network, n.as_str(), &ns, &format!("eth{i}"), i == 0)?;
                }
                self.store.save_config(&config)
            })();
            if let Err(e) = r {
                let _ = self.networks.release(network, n.as_str());
                return Err(e);
            }
            self.write_unit(&ContainerInfo { config, ..info })?;
            self.inspect_n(&n, true)
        })
    }

    /// Take a container off a network: its interface there, address, name and forwards (all
    /// of its forwards when it is the first network). While it runs only its last network can
    /// be disconnected (interfaces are numbered in network order); stopped, any can, and the
    /// rest are renumbered at the next start.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Conflict`] if it is not on that network, or for a running
    /// container's network other than the last.
    pub fn disconnect(&self, name: &str, network: &str) -> Result<ContainerInfo> {
        let n = Self::name(name)?;
        self.audit.audited("container.disconnect", &format!("{name} {network}"), || {
            let _lock = self.store.lock(&n)?;
            let info = self.inspect_n(&n, true)?;
            let Some(pos) = info.config.networks.iter().position(|x| x == network) else {
                return Err(Error::Conflict(format!("container {n} is not on network {network}")));
            };
            let running = is_running(&info.state);
            if running && pos + 1 != info.config.networks.len() {
                // Interfaces are numbered in network order (and eth0 has the default route and
                // the forwards): only the last one can go while the container runs.
                return Err(Error::Conflict(format!(
                    "container {n} runs with {network} as eth{pos} ahead of other networks; stop it to disconnect it"
                )));
            }
            let mut config = info.config.clone();
            config.networks.remove(pos);
            if pos == 0 {
                // The forwards went to the address on this network.
                config.ports.clear();
            }
            self.store.save_config(&config)?;
            self.networks.release(network, n.as_str())?;
            if !running {
                // Renumbered from scratch at the next start.
                for other in &config.networks {
                    self.networks.unplug(other, n.as_str())?;
                }
                volt_net::netns::remove(&self.store.dir(&n).join("netns"))?;
            }
            self.write_unit(&ContainerInfo { config, ..info })?;
            self.inspect_n(&n, true)
        })
    }
}
