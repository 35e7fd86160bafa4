//! `status` and `dedup`: what the store holds and how much sharing saves.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;

use serde::{Deserialize, Serialize};

use crate::digest::ObjectId;
use crate::error::Result;
use crate::reach::FileRole;
use crate::store::{Cas, ObjectKind};
use crate::tree::EntryKind;

/// Store totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// Store directory.
    pub root: String,
    /// Objects (whole blobs plus chunked objects).
    pub objects: usize,
    /// Files stored whole (objects, chunks and trees alike).
    pub blobs: usize,
    /// Objects stored as chunk lists.
    pub chunked: usize,
    /// Distinct chunks referenced by chunk lists.
    pub chunks: usize,
    /// Checkout variants (same bytes, other metadata).
    pub variants: usize,
    /// Bytes on disk under `objects/`.
    pub stored_bytes: u64,
    /// Refs.
    pub refs: usize,
    /// Bytes that the refs' content adds up to.
    pub logical_bytes: u64,
    /// `logical_bytes / unique content bytes` (1.0 = no sharing).
    pub dedup_ratio: f64,
}

/// One object shared by several files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedObject {
    /// The object.
    pub id: ObjectId,
    /// Its size.
    pub size: u64,
    /// How many files (across all refs) have this content.
    pub uses: u64,
    /// Bytes saved by storing it once: `size × (uses − 1)`.
    pub saved: u64,
}

/// Sharing analysis over everything the refs reach.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DedupReport {
    /// Sum of file sizes as seen through all refs (what copies would cost).
    pub logical_bytes: u64,
    /// Bytes of unique content actually stored (whole blobs plus unique chunks).
    pub stored_bytes: u64,
    /// `logical_bytes / stored_bytes`.
    pub ratio: f64,
    /// Files seen through all refs.
    pub files: u64,
    /// Distinct content objects among them.
    pub unique_objects: usize,
    /// Chunks shared by several chunked objects (or repeated within one).
    pub shared_chunks: usize,
    /// The objects whose sharing saves most.
    pub top: Vec<SharedObject>,
}

impl Cas {
    /// Count objects and bytes and compute the dedup ratio.
    ///
    /// # Errors
    /// I/O errors reading the store.
    pub fn status(&self) -> Result<Status> {
        let mut st = Status { root: self.root.display().to_string(), ..Default::default() };
        let mut chunks = HashSet::new();
        for f in self.object_files()? {
            st.stored_bytes += fs::symlink_metadata(&f.path).map(|m| m.size()).unwrap_or(0);
            match f.role {
                FileRole::Blob => st.blobs += 1,
                FileRole::Index => {
                    st.chunked += 1;
                    if let Ok(idx) = self.read_index(&f.id) {
                        chunks.extend(idx.chunks.into_iter().map(|c| c.id));
                    }
                }
                FileRole::Variant => st.variants += 1,
            }
        }
        st.chunks = chunks.len();
        st.objects = st.blobs + st.chunked;
        st.refs = self.list_refs(None)?.len();
        let d = self.dedup(0)?;
        st.logical_bytes = d.logical_bytes;
        st.dedup_ratio = d.ratio;
        Ok(st)
    }

    /// Logical versus stored bytes over all refs, and the `top` most-shared objects.
    ///
    /// # Errors
    /// I/O errors reading refs or trees.
    pub fn dedup(&self, top: usize) -> Result<DedupReport> {
        let mut uses: HashMap<ObjectId, (u64, u64)> = HashMap::new();
        let mut rep = DedupReport::default();
        for r in self.list_refs(None)? {
            if self.is_tree(&r.target) {
                let Ok(tree) = self.read_tree(&r.target) else { continue };
                for e in &tree.entries {
                    if let EntryKind::File { id, size } = &e.kind {
                        let u = uses.entry(*id).or_insert((*size, 0));
                        u.1 += 1;
                        rep.logical_bytes += size;
                        rep.files += 1;
                    }
                }
            } else if let Ok(info) = self.stat(&r.target.digest()) {
                let u = uses.entry(r.target).or_insert((info.size, 0));
                u.1 += 1;
                rep.logical_bytes += info.size;
                rep.files += 1;
            }
        }
        rep.unique_objects = uses.len();
        let mut chunks: HashMap<ObjectId, u32> = HashMap::new();
        let mut chunk_uses: HashSet<ObjectId> = HashSet::new();
        for (id, (size, _)) in &uses {
            match self.kind_of(id) {
                Some(ObjectKind::Chunked) => {
                    if let Ok(idx) = self.read_index(id) {
                        for c in idx.chunks {
                            if chunks.insert(c.id, c.len).is_some() {
                                chunk_uses.insert(c.id);
                            }
                        }
                    }
                }
                Some(ObjectKind::Blob) => rep.stored_bytes += size,
                None => {}
            }
        }
        rep.stored_bytes += chunks.values().map(|l| u64::from(*l)).sum::<u64>();
        rep.shared_chunks = chunk_uses.len();
        rep.ratio = if rep.stored_bytes == 0 { 1.0 } else { rep.logical_bytes as f64 / rep.stored_bytes as f64 };
        let mut shared: Vec<SharedObject> = uses
            .into_iter()
            .filter(|(_, (_, n))| *n > 1)
            .map(|(id, (size, n))| SharedObject { id, size, uses: n, saved: size * (n - 1) })
            .collect();
        shared.sort_by(|a, b| b.saved.cmp(&a.saved).then(b.uses.cmp(&a.uses)).then(a.id.cmp(&b.id)));
        shared.truncate(top);
        rep.top = shared;
        Ok(rep)
    }
}
