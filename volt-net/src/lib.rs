//! Volt's networking engine (volt-net).
//!
//! This crate is a placeholder in the workspace so that the layering is fixed from the start.
//! What is coming here (see `docs/networking.md` once it lands): Linux bridges and veth/TAP
//! endpoints over rtnetlink, address allocation per network, an nftables ruleset in Volt's own
//! table (input/forward filtering, port forwards, SNAT), and an internal DNS resolver for
//! workload names. Like the other engines it will not depend on volt-core; volt-core adapts it
//! to its `Network` trait.
#![deny(missing_docs)]

/// Version of this crate, so frontends can report what they were built with.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
