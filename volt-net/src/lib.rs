//! Volt's networking engine (volt-net).
//!
//! Here so far (issue 5 groundwork; not wired to volt-core's `Network` trait yet):
//! - [`cidr`]: IPv4 networks — parsing, overlap, host ranges;
//! - [`ipam`]: per-network address allocation, persistent and safe across processes;
//! - [`link`]: bridges and veth pairs over rtnetlink, the workload end addressed and routed
//!   inside its network namespace;
//! - [`nft`]: Volt's nftables table as a plan (networks, port forwards, allowances between
//!   networks), rendered as one `nft -f` transaction that only ever drops traffic between Volt's
//!   own bridges.
//!
//! Coming: TAP devices, wiring into volt-core's `Network` trait and the container commands, and
//! the internal DNS server. Like the other engines this crate does not depend on volt-core; volt-core adapts it
//! to its `Network` trait.
#![deny(missing_docs)]

use std::path::PathBuf;

pub mod cidr;
pub mod dns;
pub mod ipam;
pub mod link;
pub mod netns;
pub mod nft;

/// Version of this crate, so frontends can report what they were built with.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What volt-net can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A CIDR or address that is not usable.
    #[error("{cidr}: {reason}")]
    InvalidCidr {
        /// The text given.
        cidr: String,
        /// What is wrong.
        reason: String,
    },
    /// A name nft or the kernel would not accept.
    #[error("invalid {0}")]
    InvalidName(String),
    /// Conflicts with what exists (a subnet recorded differently, a port forwarded twice).
    #[error("{0}")]
    Conflict(String),
    /// No free address is left.
    #[error("no free address left in {subnet}")]
    Exhausted {
        /// The network's subnet.
        subnet: String,
    },
    /// A state file that cannot be parsed.
    #[error("{}: unreadable: {reason}", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parse error.
        reason: String,
    },
    /// A netlink request failed.
    #[error("netlink: {0}")]
    Netlink(String),
    /// nft refused the ruleset (nothing was changed).
    #[error("nft: {0}")]
    Nft(String),
    /// An I/O operation failed.
    #[error("{}: {op}", .path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// Where.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}
