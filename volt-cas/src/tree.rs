//! Tree objects: a flat, path-sorted listing of a directory snapshot.

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
        for e in &self.entries[1..] {
            if !is_safe_rel(&e.path) {
                return Err(format!("unsafe path {:?}", String::from_utf8_lossy(&e.path)));
            }
            if let EntryKind::Hardlink { target } = &e.kind {
                if !is_safe_rel(target) || target >= &e.path {
                    return Err(format!("bad hardlink target for {:?}", String::from_utf8_lossy(&e.path)));
                }
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

    /// Content objects referenced by regular files.
    pub fn file_ids(&self) -> impl Iterator<Item = (&ObjectId, u64)> {
        self.entries.iter().filter_map(|e| match &e.kind {
            EntryKind::File { id, size } => Some((id, *size)),
            _ => None,
        })
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
    }
}
