//! Voltvisor, Volt's virtual-machine engine (volt-vm).
//!
//! This crate is a placeholder in the workspace so that the layering is fixed from the start.
//! What is coming here: QEMU command lines planned as data, QMP control (qapi types), qcow2
//! disks created with qemu-img and backed by store objects, kernel profiles, snapshots, and an
//! accelerator probe that falls back to TCG where KVM cannot run guests. volt-core will adapt
//! it to its `Runtime` trait.
#![deny(missing_docs)]

/// Version of this crate, so frontends can report what they were built with.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
