//! Voltvisor, Volt's virtual-machine engine (volt-vm): QEMU VMs planned as data and driven over
//! QMP. It has no dependency on volt-core, which adapts it to its `Runtime` trait.
//!
//! - [`plan`]: the VM spec, the QEMU and kernel command lines and the systemd unit, as data.
//! - [`qmp`]: a typed QMP client (the `qapi` crate) with timeouts, and QMP events.
//! - [`accel`]: the accelerator probe (does KVM really run a guest here?) and the host TSC rate.
//! - [`disk`]: qcow2 disks and overlays with `qemu-img`, and snapshots.
//! - [`kernel`]: kernels by profile or name under `kernels/`.
//! - [`supervisor`]: the process that runs QEMU and keeps the VM's `state.json`.
#![deny(missing_docs)]

pub mod accel;
pub mod disk;
pub mod error;
pub mod kernel;
pub mod plan;
pub mod qmp;
pub mod supervisor;

pub use error::{require_tool, Error, Result};
pub use plan::{Accel, GuestNet, Machine, Nic, RunFiles, VmSpec};
pub use supervisor::{VmState, VmStatus};

/// Version of this crate, so frontends can report what they were built with.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
