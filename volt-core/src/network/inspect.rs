//! Reading networks: one with its leases, the list.

use super::*;

impl Networks {
    pub(super) fn info(&self, config: NetworkConfig) -> Result<NetworkInfo> {
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
}
