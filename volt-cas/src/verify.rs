//! `verify`: re-hash stored objects and report corrupt or missing ones and the refs they break.

use std::collections::{BTreeSet, HashSet};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::chunk::ChunkIndex;
use crate::digest::{Digest, ObjectId};
use crate::error::Result;
use crate::reach::{FileRole, Reach};
use crate::store::Cas;

/// One damaged object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadObject {
    /// The object's name.
    pub id: ObjectId,
    /// The damaged file (object, chunk index or checkout variant).
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

/// A ref that reaches damaged or missing objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenRef {
    /// The ref.
    pub name: String,
    /// Damaged or missing objects it reaches.
    pub objects: Vec<ObjectId>,
}

/// Result of a verification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Object files re-hashed.
    pub checked: usize,
    /// Bytes of content checked (a chunked object's bytes are counted once, as its chunks).
    pub bytes: u64,
    /// Objects whose bytes do not match their name.
    pub corrupt: Vec<BadObject>,
    /// Objects referenced but absent.
    pub missing: Vec<ObjectId>,
    /// Refs that reach corrupt or missing objects.
    pub broken_refs: Vec<BrokenRef>,
}

impl VerifyReport {
    /// True if nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.corrupt.is_empty() && self.missing.is_empty() && self.broken_refs.is_empty()
    }
}

fn hash_file(path: &Path) -> io::Result<(blake3::Hash, u64)> {
    let mut f = File::open(path)?;
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((h.finalize(), n))
}

impl Cas {
    fn check_file(&self, id: &ObjectId, role: FileRole, path: &Path) -> (u64, Option<String>) {
        match role {
            FileRole::Blob | FileRole::Variant => match hash_file(path) {
                Ok((h, n)) if ObjectId::from(h) == *id => (n, None),
                Ok((h, n)) => (n, Some(format!("content hashes to {}", ObjectId::from(h)))),
                Err(e) => (0, Some(format!("unreadable: {e}"))),
            },
            FileRole::Index => {
                let idx = match std::fs::read(path).map_err(|e| e.to_string()).and_then(|b| ChunkIndex::decode(&b)) {
                    Ok(i) => i,
                    Err(e) => return (0, Some(format!("bad chunk index: {e}"))),
                };
                let mut h = blake3::Hasher::new();
                for c in &idx.chunks {
                    match std::fs::read(self.blob_path(&c.id)) {
                        Ok(b) => {
                            h.update(&b);
                        }
                        Err(e) => return (0, Some(format!("chunk {} unreadable: {e}", c.id))),
                    }
                }
                let got = ObjectId::from(h.finalize());
                if got == *id {
                    (idx.size, None)
                } else {
                    (idx.size, Some(format!("chunks assemble to {got}")))
                }
            }
        }
    }

    /// Re-hash every object in the store, then find the refs that reach damage.
    ///
    /// # Errors
    /// I/O errors listing the store (damage itself is reported, not returned as an error).
    pub fn verify_all(&self) -> Result<VerifyReport> {
        let files = self.object_files()?;
        let results: Vec<_> = files.par_iter().map(|f| (f, self.check_file(&f.id, f.role, &f.path))).collect();
        let mut rep = VerifyReport { checked: files.len(), ..Default::default() };
        let mut bad: HashSet<ObjectId> = HashSet::new();
        for (f, (n, problem)) in results {
            if f.role != FileRole::Index {
                rep.bytes += n;
            }
            if let Some(reason) = problem {
                // A damaged variant only affects future checkouts; the object itself is fine.
                if f.role != FileRole::Variant {
                    bad.insert(f.id);
                }
                rep.corrupt.push(BadObject { id: f.id, path: f.path.display().to_string(), reason });
            }
        }
        let (broken, missing) = self.broken_refs(&bad)?;
        rep.broken_refs = broken;
        rep.missing = missing;
        Ok(rep)
    }

    /// Refs that reach an object in `bad` or a missing object, and all missing objects.
    fn broken_refs(&self, bad: &HashSet<ObjectId>) -> Result<(Vec<BrokenRef>, Vec<ObjectId>)> {
        let mut missing = BTreeSet::new();
        let mut broken = Vec::new();
        for r in self.list_refs(None)? {
            let mut reach = Reach::default();
            self.mark(&r.target, &mut reach);
            let mut objs: Vec<ObjectId> = reach.seen.iter().filter(|id| bad.contains(id)).copied().collect();
            objs.extend(reach.missing.iter().copied());
            objs.extend(reach.damaged.iter().map(|(id, _)| *id));
            missing.extend(reach.missing);
            if !objs.is_empty() {
                objs.sort();
                objs.dedup();
                broken.push(BrokenRef { name: r.name.to_string(), objects: objs });
            }
        }
        Ok((broken, missing.into_iter().collect()))
    }

    /// Verify one object and everything it reaches (a tree's files and all chunks).
    ///
    /// # Errors
    /// [`Error::ObjectNotFound`] if the digest names nothing; I/O errors.
    pub fn verify_object(&self, d: &Digest) -> Result<VerifyReport> {
        let id = self.resolve(d)?;
        let mut reach = Reach::default();
        self.mark(&id, &mut reach);
        let damaged = reach.damaged;
        let miss = reach.missing;
        let ids: Vec<ObjectId> = reach.seen.into_iter().filter(|i| !miss.contains(i)).collect();
        let results: Vec<_> = ids
            .par_iter()
            .map(|i| {
                let (role, path) = match self.kind_of(i) {
                    Some(crate::store::ObjectKind::Chunked) => (FileRole::Index, self.index_path(i)),
                    _ => (FileRole::Blob, self.blob_path(i)),
                };
                (*i, path.clone(), self.check_file(i, role, &path))
            })
            .collect();
        let mut rep = VerifyReport { checked: ids.len(), missing: miss, ..Default::default() };
        for (i, path, (n, problem)) in results {
            if !path.to_string_lossy().ends_with(".idx") {
                rep.bytes += n;
            }
            if let Some(reason) = problem {
                rep.corrupt.push(BadObject { id: i, path: path.display().to_string(), reason });
            }
        }
        for (i, reason) in damaged {
            if !rep.corrupt.iter().any(|b| b.id == i) {
                let path = self.blob_path(&i).display().to_string();
                rep.corrupt.push(BadObject { id: i, path, reason });
            }
        }
        if !rep.corrupt.is_empty() || !rep.missing.is_empty() {
            let bad: HashSet<ObjectId> = rep.corrupt.iter().map(|b| b.id).collect();
            rep.broken_refs = self.broken_refs(&bad)?.0;
        }
        Ok(rep)
    }
}
