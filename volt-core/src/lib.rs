//! Volt's SDK. `cargo add volt-core` and call [`Volt::open`]: every feature of the `volt` CLI, the
//! C library and the Python module is a function reachable from here.
//!
//! - [`Store`] — content-addressed objects, trees and refs (Stellarium, from volt-cas).
//! - [`Runtime`] — workload lifecycle (containers, VMs) with one [`Status`] state machine.
//! - [`Network`] — networks and endpoints; [`network::Networks`] is the full API.
//! - [`Config`], [`Paths`], [`AuditLog`], and [`Error`] whose [`Error::kind`] gives the exit code.
#![deny(missing_docs)]

mod audit;
mod config;
pub mod container;
mod error;
mod fsutil;
pub mod image;
pub mod network;
pub mod oci;
mod paths;
pub mod registry;
mod store;
pub mod supervise;
mod traits;
pub mod vm;
mod volt;
mod workload;

pub use audit::{AuditLog, AuditRecord};
pub use config::{
    CasConfig, ColorMode, Config, ContainerSettings, ImageSettings, NetworkSettings, OutputFormat, RegistrySettings,
    SupervisorMode, VmSettings,
};
pub use error::{error_chain, Error, ErrorKind, Result};
pub use paths::Paths;
pub use store::LocalStore;
pub use traits::{Network, NetworkSpec, PutOptions, Runtime, Store};
pub use volt::{Volt, BUILTIN_KINDS};
pub use workload::{Op, Status, WorkloadInfo, WorkloadSpec};

/// Stellarium's types, re-exported so SDK users need only this crate.
pub mod cas {
    pub use volt_cas::*;
}

/// The networking engine's building blocks (CIDRs, IPAM, links and namespaces, the nftables
/// plan, the DNS server), re-exported for SDK users who assemble their own.
pub mod net {
    pub use volt_net::*;
}

/// Voltvisor's engine (QEMU plans, QMP client, qcow2 disks, kernels, the accelerator probe, the
/// VM supervisor), re-exported for SDK users who drive QEMU themselves.
pub mod vmm {
    pub use volt_vm::*;
}
