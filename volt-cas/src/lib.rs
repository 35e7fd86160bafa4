//! Stellarium, Volt's content-addressed store.
//!
//! Objects are addressed by the BLAKE3 hash of their bytes. Small objects are stored whole;
//! objects above [`Options::chunk_threshold`] are split into FastCDC chunks so that similar large
//! files (VM disks, layers) share most of their storage. SHA-256/512 digests are recorded as
//! aliases only where an OCI digest is needed. A directory is stored as a [`Tree`] object; refs
//! give trees and objects names. All writes go through a [`Txn`]: staged, synced, renamed into
//! place, and only then referenced, so a crash never leaves a partial object visible.
//!
//! On disk (`root/`): `objects/ab/<hex>` (whole objects and chunks), `objects/ab/<hex>.idx`
//! (chunk lists), `objects/ab/<hex>.m<key>` (checkout variants), `refs/<name>`,
//! `aliases/<algo>/ab/<hex>`, `tmp/` (staging and leases), and the `lock` file.
//!
//! ```no_run
//! use volt_cas::{Cas, CheckoutMode, Options};
//! # fn main() -> volt_cas::Result<()> {
//! let cas = Cas::open("/var/lib/volt/cas", Options::default())?;
//! let report = cas.build("/srv/rootfs".as_ref(), Some(&"images/demo".parse()?))?;
//! cas.checkout(&report.root, "/tmp/demo".as_ref(), CheckoutMode::Hardlink)?;
//! assert!(cas.verify_all()?.is_clean());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod build;
mod checkout;
mod chunk;
mod digest;
mod error;
mod gc;
mod hashing;
mod links;
mod meta;
mod reach;
mod refs;
mod stats;
mod store;
mod tree;
mod txn;
mod verify;

pub use build::BuildReport;
pub use checkout::{CheckoutMode, CheckoutReport};
pub use chunk::{Chunk, ChunkIndex};
pub use digest::{Algorithm, Digest, ObjectId};
pub use error::{Error, Result};
pub use gc::GcReport;
pub use links::Links;
pub use meta::{Meta, Xattr};
pub use refs::{RefEntry, RefName};
pub use stats::{DedupReport, SharedObject, Status};
pub use store::{read_full, Cas, ObjectInfo, ObjectKind, ObjectReader, Options};
pub use tree::{Entry, EntryKind, Tree};
pub use txn::{PutOutcome, Txn};
pub use verify::{BadObject, BrokenRef, VerifyReport};
