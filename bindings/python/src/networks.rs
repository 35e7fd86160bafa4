//! `volt.Networks`: networks, their firewall allowances and rules through
//! [`volt_core::network::Networks`]. Connecting containers is on `volt.Containers`
//! (`connect`/`disconnect`).
//!
//! Every call is synchronous in the SDK and runs inside `py.detach(…)` on the calling thread.

use pyo3::prelude::*;
use volt_core::network::{NetworkOptions, Networks as CoreNetworks};

use crate::convert::to_python;
use crate::error::IntoPyResult;

/// The networks of a store (`Store.networks`).
///
/// A network is a bridge named after it with the gateway address, NAT (unless internal), rules in
/// nftables table `ip volt`, and a DNS server for its workloads' names (a `volt-supervisor dns`
/// process, found like the container supervisor). Creating, deleting and changing networks needs
/// root and the `nft` program. Every method releases the GIL while it works.
#[pyclass(module = "volt._volt", frozen)]
pub(crate) struct Networks {
    networks: CoreNetworks,
    root: String,
}

impl Networks {
    pub(crate) fn new(networks: CoreNetworks, root: String) -> Self {
        Networks { networks, root }
    }
}

#[pymethods]
impl Networks {
    fn __repr__(&self) -> String {
        format!("Networks(root={:?})", self.root)
    }

    /// Create network `name` (1 to 15 of a-z, 0-9, '-' and '_'; also the bridge's name).
    /// `subnet` defaults to the first free /24 of `networks.subnet_pool`, `gateway` (only with
    /// `subnet`) to its first host; `internal` networks have no way out; `dns_upstreams`
    /// (`"IP[:PORT]"`) default to `networks.dns_upstreams`. Returns the network's record.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (name, *, subnet=None, gateway=None, internal=false, mesh=false, dns_upstreams=None))]
    fn create<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        subnet: Option<String>,
        gateway: Option<String>,
        internal: bool,
        mesh: bool,
        dns_upstreams: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut opts = NetworkOptions::default();
        opts.subnet = subnet;
        opts.gateway = gateway;
        opts.internal = internal;
        opts.mesh = mesh;
        opts.dns_upstreams = dns_upstreams;
        let n = &self.networks;
        let info = py.detach(|| n.create(name, &opts)).py_err()?;
        to_python(py, &info)
    }

    /// All networks, sorted by name.
    fn list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let n = &self.networks;
        let list = py.detach(|| n.list()).py_err()?;
        to_python(py, &list)
    }

    /// Network `name` with the workloads holding an address on it (leases of workloads that are
    /// gone are given back first) and its DNS server's pid.
    fn inspect<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let n = &self.networks;
        let info = py.detach(|| n.inspect(name)).py_err()?;
        to_python(py, &info)
    }

    /// Delete network `name`: its DNS server, bridge, rules (and allowances naming it) and
    /// files. `ConflictError` while a container is on it.
    fn delete(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let n = &self.networks;
        py.detach(|| n.delete(name)).py_err()
    }

    /// Allow traffic from `from_` to `to` (each a network or a container on one; different
    /// networks are denied to each other by default), only to `port` (`"PORT[/tcp|udp]"`) if
    /// given. Idempotent. Returns the rule.
    #[pyo3(signature = (from_, to, port=None))]
    fn firewall_allow<'py>(
        &self,
        py: Python<'py>,
        from_: &str,
        to: &str,
        port: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let n = &self.networks;
        let rule = py.detach(|| n.firewall_allow(from_, to, port)).py_err()?;
        to_python(py, &rule)
    }

    /// Remove the allowance from `from_` to `to` for `port` (None: the one for every port);
    /// `NotFoundError` if there is none.
    #[pyo3(signature = (from_, to, port=None))]
    fn firewall_deny(&self, py: Python<'_>, from_: &str, to: &str, port: Option<&str>) -> PyResult<()> {
        let n = &self.networks;
        py.detach(|| n.firewall_deny(from_, to, port)).py_err()
    }

    /// The firewall's allowances.
    fn firewall_rules<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let n = &self.networks;
        let rules = py.detach(|| n.firewall_rules()).py_err()?;
        to_python(py, &rules)
    }

    /// Re-apply nftables table `ip volt` from the stored state (after a reboot or
    /// `nft flush ruleset`).
    fn sync_rules(&self, py: Python<'_>) -> PyResult<()> {
        let n = &self.networks;
        py.detach(|| n.sync_rules()).py_err()
    }
}
