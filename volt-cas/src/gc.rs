//! Garbage collection: mark from refs and live leases, then sweep, all under the store's
//! exclusive lock (see `txn.rs` for why that makes racing writers safe).

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt;

use serde::{Deserialize, Serialize};

use crate::digest::ObjectId;
use crate::error::{IoContext, Result};
use crate::reach::Reach;
use crate::store::Cas;
use crate::txn::{lease_is_live, lock_exclusive, read_lease};

/// What gc removed (or would remove, in a dry run).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcReport {
    /// Nothing was deleted.
    pub dry_run: bool,
    /// Objects reachable from refs or leases.
    pub live_objects: usize,
    /// Object files (objects, chunk indexes, variants) removed.
    pub removed_files: usize,
    /// Bytes they held.
    pub removed_bytes: u64,
    /// Alias files removed.
    pub removed_aliases: usize,
    /// Abandoned transactions (dead writers) cleaned up.
    pub stale_transactions: usize,
    /// Transactions in flight whose leases protected objects.
    pub live_transactions: usize,
}

impl Cas {
    /// Collect garbage. Objects reachable from a ref, or from the lease of a writer that is still
    /// running, are kept; everything else is removed (or counted, if `dry_run`).
    ///
    /// # Errors
    /// I/O errors; a failure part-way leaves a consistent store (only unreachable files go).
    #[tracing::instrument(skip_all, fields(dry_run))]
    pub fn gc(&self, dry_run: bool) -> Result<GcReport> {
        let _lock = lock_exclusive(self)?;
        let mut rep = GcReport { dry_run, ..Default::default() };
        let mut reach = Reach::default();
        for r in self.list_refs(None)? {
            self.mark(&r.target, &mut reach);
        }
        let tmp = self.tmp_dir();
        for ent in fs::read_dir(&tmp).ctx("list tmp", &tmp)? {
            let ent = ent.ctx("list tmp", &tmp)?;
            let name = ent.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".lease") {
                continue;
            }
            let lease = ent.path();
            if lease_is_live(&lease) {
                rep.live_transactions += 1;
                for id in read_lease(&lease).ctx("read lease", &lease)? {
                    self.mark(&id, &mut reach);
                }
            } else {
                rep.stale_transactions += 1;
                if !dry_run {
                    let _ = fs::remove_file(&lease);
                }
            }
        }
        // Left-overs of writers that died: variants being written by a checkout, and a lease
        // killed between its creation and its rename to `.lease` (begin's only unlocked window
        // is before that, so only a dead writer's pid marks one as garbage).
        if !dry_run {
            for ent in fs::read_dir(&tmp).ctx("list tmp", &tmp)?.flatten() {
                let n = ent.file_name().to_string_lossy().into_owned();
                let dead_lease = n.starts_with("txn-") && n.ends_with(".new");
                if (n.starts_with("variant-") || dead_lease) && !pid_alive(&n) {
                    let _ = fs::remove_file(ent.path());
                }
            }
        }
        // What a damaged tree or chunk index reaches is unknown, so nothing can be called garbage.
        if let Some((id, reason)) = reach.damaged.first() {
            return Err(crate::error::Error::Malformed {
                digest: format!("object {id}"),
                reason: format!("{reason}; gc refuses to run until `volt cas verify` is clean"),
            });
        }
        let live: HashSet<ObjectId> = reach.seen;
        rep.live_objects = live.len();
        let (files, staged) = self.scan_objects()?;
        if !dry_run && files.iter().any(|f| !live.contains(&f.id)) {
            let next = self.generation() + 1;
            crate::refs::write_atomic(&self.root.join("generation"), format!("{next}\n").as_bytes())?;
        }
        // Staged files of writers that died before publishing them.
        for (txn, path) in staged {
            if !lease_is_live(&tmp.join(format!("{txn}.lease"))) {
                rep.removed_files += 1;
                rep.removed_bytes += fs::symlink_metadata(&path).map(|m| m.size()).unwrap_or(0);
                if !dry_run {
                    let _ = fs::remove_file(&path);
                }
            }
        }
        for f in files {
            if live.contains(&f.id) {
                continue;
            }
            rep.removed_files += 1;
            rep.removed_bytes += fs::symlink_metadata(&f.path).map(|m| m.size()).unwrap_or(0);
            if !dry_run {
                match fs::remove_file(&f.path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(crate::error::Error::io("remove object", &f.path, e)),
                }
            }
        }
        rep.removed_aliases = self.sweep_aliases(&live, dry_run)?;
        Ok(rep)
    }

    fn sweep_aliases(&self, live: &HashSet<ObjectId>, dry_run: bool) -> Result<usize> {
        let mut n = 0;
        let base = self.root.join("aliases");
        let Ok(algos) = fs::read_dir(&base) else { return Ok(0) };
        for algo in algos.flatten() {
            let by_object = algo.file_name() == "by-object";
            let Ok(fans) = fs::read_dir(algo.path()) else { continue };
            for fan in fans.flatten() {
                let Ok(files) = fs::read_dir(fan.path()) else { continue };
                for f in files.flatten() {
                    let target = if by_object {
                        let name = f.file_name().to_string_lossy().into_owned();
                        name.get(..64).and_then(|h| ObjectId::from_hex(h).ok())
                    } else {
                        fs::read_to_string(f.path()).ok().and_then(|t| t.trim().parse::<ObjectId>().ok())
                    };
                    if target.is_some_and(|t| live.contains(&t)) {
                        continue;
                    }
                    n += usize::from(!by_object);
                    if !dry_run {
                        let _ = fs::remove_file(f.path());
                    }
                }
            }
        }
        Ok(n)
    }
}

/// `variant-<pid>-…` temp files belong to a process; keep those whose process still runs.
fn pid_alive(name: &str) -> bool {
    name.split('-')
        .nth(1)
        .and_then(|p| p.parse::<i32>().ok())
        .is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
}
