//! Deleting a network (refused while in use) and reclaiming leases of workloads that are gone.

use super::*;

impl Networks {
    pub(super) fn reclaim(&self, name: &str) -> Result<()> {
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
}
