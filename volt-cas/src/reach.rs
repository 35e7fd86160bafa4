//! Listing stored object files and walking what a root reaches (tree → files → chunks).

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::path::PathBuf;

use crate::digest::ObjectId;
use crate::error::{IoContext, Result};
use crate::links::LINKS_MAGIC;
use crate::store::{Cas, ObjectKind};
use crate::tree::{EntryKind, TREE_MAGIC};

/// What a walk from roots reached.
#[derive(Debug, Default)]
pub(crate) struct Reach {
    /// Every object reached (present or not).
    pub seen: HashSet<ObjectId>,
    /// Objects that should exist but do not.
    pub missing: Vec<ObjectId>,
    /// Trees and chunk indexes that exist but cannot be decoded: what they reach is unknown.
    pub damaged: Vec<(ObjectId, String)>,
}

/// What a file under `objects/` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileRole {
    Blob,
    Index,
    Variant,
}

/// A staged file: (transaction name, path).
pub(crate) type StagedFile = (String, PathBuf);

/// One file under `objects/`.
#[derive(Debug, Clone)]
pub(crate) struct ObjectFile {
    pub id: ObjectId,
    pub role: FileRole,
    pub path: PathBuf,
}

impl Cas {
    /// Every object file in the store (unrecognised names are skipped).
    pub(crate) fn object_files(&self) -> Result<Vec<ObjectFile>> {
        Ok(self.scan_objects()?.0)
    }

    /// Object files, and staged files as (transaction name, path).
    pub(crate) fn scan_objects(&self) -> Result<(Vec<ObjectFile>, Vec<StagedFile>)> {
        let mut out = Vec::new();
        let mut staged = Vec::new();
        let objects = self.objects_dir();
        let mut fans: Vec<_> = fs::read_dir(&objects)
            .ctx("list objects", &objects)?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().len() == 2)
            .map(|e| e.path())
            .collect();
        fans.sort();
        for fan in fans {
            for ent in fs::read_dir(&fan).ctx("list objects", &fan)? {
                let ent = ent.ctx("list objects", &fan)?;
                let name = ent.file_name();
                let name = name.to_string_lossy();
                if let Some(rest) = name.strip_prefix(crate::txn::STAGE_PREFIX) {
                    // `.stage-<txn>-<hex>[.idx]`: neither the hex nor the suffix has a '-'.
                    if let Some(cut) = rest.rfind('-') {
                        staged.push((rest[..cut].to_string(), ent.path()));
                    }
                    continue;
                }
                if name.len() < 64 {
                    continue;
                }
                let Ok(id) = ObjectId::from_hex(&name[..64]) else { continue };
                let role = match &name[64..] {
                    "" => FileRole::Blob,
                    ".idx" => FileRole::Index,
                    s if s.starts_with(".m") => FileRole::Variant,
                    _ => continue,
                };
                out.push(ObjectFile { id, role, path: ent.path() });
            }
        }
        Ok((out, staged))
    }

    /// The first eight bytes of an object, if it has that many.
    fn magic(&self, id: &ObjectId) -> Option<[u8; 8]> {
        let mut head = [0u8; 8];
        self.open_object(id).ok().and_then(|mut r| r.read_exact(&mut head).ok().map(|_| head))
    }

    /// Does the object's content start with the tree magic?
    pub(crate) fn is_tree(&self, id: &ObjectId) -> bool {
        self.magic(id).is_some_and(|m| m == *TREE_MAGIC)
    }

    /// Mark `root` and everything it reaches into `seen`; ids that should exist but do not go
    /// into `missing`. Trees are descended into (file contents never are); link objects are
    /// followed to whatever they list, trees and other link objects included.
    pub(crate) fn mark(&self, root: &ObjectId, r: &mut Reach) {
        let mut stack = vec![*root];
        while let Some(id) = stack.pop() {
            if !self.mark_one(&id, r) {
                continue;
            }
            match self.magic(&id) {
                Some(m) if m == *TREE_MAGIC => match self.read_tree(&id) {
                    Ok(tree) => {
                        for e in &tree.entries {
                            if let EntryKind::File { id, .. } = &e.kind {
                                self.mark_one(id, r);
                            }
                        }
                    }
                    Err(e) => self.undecodable(id, e.to_string(), r),
                },
                Some(m) if m == *LINKS_MAGIC => match self.read_links(&id) {
                    Ok(links) => stack.extend(links.ids),
                    Err(e) => self.undecodable(id, e.to_string(), r),
                },
                _ => {}
            }
        }
    }

    /// An object starts like a tree or link object but does not decode. If its bytes still hash
    /// to its name it was never one (user content — a registry blob can start with anything) and
    /// reaches nothing; if they do not, it is damage, and what it should reach is unknown.
    fn undecodable(&self, id: ObjectId, reason: String, r: &mut Reach) {
        let intact = self.open_object(&id).ok().and_then(|mut rd| {
            let mut h = blake3::Hasher::new();
            std::io::copy(&mut rd, &mut h).ok().map(|_| ObjectId(*h.finalize().as_bytes()) == id)
        });
        if intact != Some(true) {
            r.damaged.push((id, reason));
        }
    }

    /// Mark one object and its chunks. Returns true if it was newly marked and exists.
    fn mark_one(&self, id: &ObjectId, r: &mut Reach) -> bool {
        if !r.seen.insert(*id) {
            return false;
        }
        match self.kind_of(id) {
            None => {
                r.missing.push(*id);
                false
            }
            Some(ObjectKind::Blob) => true,
            Some(ObjectKind::Chunked) => {
                match self.read_index(id) {
                    Ok(idx) => {
                        for c in idx.chunks {
                            if r.seen.insert(c.id) && self.kind_of(&c.id).is_none() {
                                r.missing.push(c.id);
                            }
                        }
                    }
                    Err(e) => r.damaged.push((*id, e.to_string())),
                }
                true
            }
        }
    }
}
