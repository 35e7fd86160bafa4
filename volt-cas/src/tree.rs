//! Tree objects: a flat, path-sorted listing of a directory snapshot.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::digest::ObjectId;
use crate::meta::Meta;

/// First bytes of every tree object.
pub(crate) const TREE_MAGIC: &[u8; 8] = b"VOLTTREE";
const TREE_VERSION: u8 = 1;

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryKind {
    /// A directory (its children are the entries below its path).
    Dir,
    /// A regular file whose bytes are the object `id`.
    File {
        /// Size in bytes.
        size: u64,
        /// Content object.
        id: ObjectId,
    },
    /// A symbolic link.
    Symlink {
        /// Link target, as raw bytes.
        #[serde(with = "serde_bytes")]
        target: Vec<u8>,
    },
    /// A second name for a file that appears earlier in the tree (same inode in the source).
    Hardlink {
        /// Path (relative to the root) of the first name.
        #[serde(with = "serde_bytes")]
        target: Vec<u8>,
    },
    /// A character device.
    CharDevice {
        /// Device number.
        rdev: u64,
    },
    /// A block device.
    BlockDevice {
        /// Device number.
        rdev: u64,
    },
    /// A named pipe.
    Fifo,
}

/// One path in a tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Path relative to the tree root, `/`-separated, raw bytes; the root itself is empty.
    #[serde(with = "serde_bytes")]
    pub path: Vec<u8>,
    /// Type and type-specific data.
    pub kind: EntryKind,
    /// Mode, owner, mtime, xattrs.
    pub meta: Meta,
}

/// A directory snapshot. Entries are sorted by path so parents precede children and the first
/// name of a hardlinked inode precedes its other names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tree {
    /// All entries, the root (empty path) first.
    pub entries: Vec<Entry>,
}

impl Tree {
    /// Serialise with the tree magic and version.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = TREE_MAGIC.to_vec();
        out.push(TREE_VERSION);
        out.extend(postcard::to_stdvec(self).expect("tree serialises"));
        out
    }

    /// Parse an encoded tree, checking that entries are sorted, unique and well-formed.
    ///
    /// # Errors
    /// A description of what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let body = bytes.strip_prefix(TREE_MAGIC.as_slice()).ok_or("not a tree (bad magic)")?;
        let (&ver, body) = body.split_first().ok_or("truncated tree")?;
        if ver != TREE_VERSION {
            return Err(format!("unsupported tree version {ver}"));
        }
        let t: Tree = postcard::from_bytes(body).map_err(|e| e.to_string())?;
        t.check()?;
        Ok(t)
    }

    /// Structural checks: root first, sorted unique paths, safe components, hardlinks to earlier
    /// entries. Trees come from disk, so they are untrusted input to checkout.
    fn check(&self) -> Result<(), String> {
        match self.entries.first() {
            Some(e) if e.path.is_empty() && e.kind == EntryKind::Dir => {}
            _ => return Err("first entry is not the root directory".into()),
        }
        for w in self.entries.windows(2) {
            if w[0].path >= w[1].path {
                return Err("entries are not sorted and unique".into());
            }
        }
        // Every parent must be a directory of the tree (so no entry is written through a
        // symlink), and a hardlink must name a regular file listed before it.
        let mut dirs: HashSet<&[u8]> = HashSet::new();
        let mut files: HashSet<&[u8]> = HashSet::new();
        dirs.insert(b"");
        for e in &self.entries[1..] {
            let show = || String::from_utf8_lossy(&e.path).into_owned();
            if !is_safe_rel(&e.path) {
                return Err(format!("unsafe path {:?}", show()));
            }
            let parent = e.path.iter().rposition(|b| *b == b'/').map_or(&e.path[..0], |i| &e.path[..i]);
            if !dirs.contains(parent) {
                return Err(format!("{:?} is not inside a directory of the tree", show()));
            }
            match &e.kind {
                EntryKind::Dir => {
                    dirs.insert(&e.path);
                }
                EntryKind::File { .. } => {
                    files.insert(&e.path);
                }
                EntryKind::Hardlink { target } if !files.contains(target.as_slice()) => {
                    return Err(format!("hardlink {:?} does not name an earlier regular file", show()));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Total bytes of regular file content (each hardlinked inode counted once).
    pub fn content_bytes(&self) -> u64 {
        self.entries
            .iter()
            .map(|e| match e.kind {
                EntryKind::File { size, .. } => size,
                _ => 0,
            })
            .sum()
    }
}

/// A relative path with no empty, `.` or `..` components and no leading `/`.
pub(crate) fn is_safe_rel(p: &[u8]) -> bool {
    !p.is_empty() && p.split(|b| *b == b'/').all(|c| !c.is_empty() && c != b"." && c != b".." && !c.contains(&0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(path: &str) -> Entry {
        Entry { path: path.as_bytes().to_vec(), kind: EntryKind::Dir, meta: Meta::neutral() }
    }

    #[test]
    fn roundtrip_and_checks() {
        let t = Tree { entries: vec![dir(""), dir("a"), dir("a/b")] };
        assert_eq!(Tree::decode(&t.encode()).unwrap(), t);
        let unsorted = Tree { entries: vec![dir(""), dir("b"), dir("a")] };
        assert!(Tree::decode(&unsorted.encode()).is_err());
        let escape = Tree { entries: vec![dir(""), dir("../x")] };
        assert!(Tree::decode(&escape.encode()).is_err());
        let abs = Tree { entries: vec![dir(""), dir("/etc")] };
        assert!(Tree::decode(&abs.encode()).is_err());
        assert!(Tree::decode(b"VOLTTREE\x01garbage").is_err());
        assert!(Tree::decode(b"nope").is_err());
        // A file below a symlink would be written through the link, outside the checkout.
        let link = Entry {
            path: b"etc".to_vec(),
            kind: EntryKind::Symlink { target: b"/etc".to_vec() },
            meta: Meta::neutral(),
        };
        let file = Entry {
            path: b"etc/passwd".to_vec(),
            kind: EntryKind::File { size: 0, id: ObjectId::of(b"") },
            meta: Meta::neutral(),
        };
        let through = Tree { entries: vec![dir(""), link.clone(), file.clone()] };
        assert!(Tree::decode(&through.encode()).unwrap_err().contains("not inside a directory"));
        let orphan = Tree { entries: vec![dir(""), file.clone()] };
        assert!(Tree::decode(&orphan.encode()).is_err());
        let hl = |t: &[u8]| Entry {
            path: b"zz".to_vec(),
            kind: EntryKind::Hardlink { target: t.to_vec() },
            meta: Meta::neutral(),
        };
        let ok = Tree { entries: vec![dir(""), dir("etc"), file.clone(), hl(b"etc/passwd")] };
        assert!(Tree::decode(&ok.encode()).is_ok());
        let to_dir = Tree { entries: vec![dir(""), dir("etc"), file, hl(b"etc")] };
        assert!(Tree::decode(&to_dir.encode()).is_err());
    }

    #[test]
    fn mutated_trees_never_panic() {
        let mut entries = vec![dir(""), dir("a"), dir("a/b")];
        for i in 0..20 {
            entries.push(Entry {
                path: format!("a/b/f{i:02}").into_bytes(),
                kind: EntryKind::File { size: i, id: ObjectId::of(&[i as u8]) },
                meta: Meta::neutral(),
            });
        }
        let good = Tree { entries }.encode();
        let mut x: u64 = 0x9e3779b97f4a7c15;
        for _ in 0..20_000 {
            let mut bytes = good.clone();
            for _ in 0..1 + (x % 4) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x as usize) % bytes.len();
                match x % 3 {
                    0 => bytes[i] ^= 1 << (x % 8),
                    1 => bytes.truncate(i.max(9)),
                    _ => bytes.insert(i, x as u8),
                }
            }
            // Either rejected, or a tree that passes every structural check.
            if let Ok(t) = Tree::decode(&bytes) {
                assert!(t.check().is_ok());
            }
        }
    }
}
