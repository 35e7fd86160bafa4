//! Named refs (`refs/<name>` → object id) and SHA-2 alias files, both written atomically.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::digest::{Digest, ObjectId};
use crate::error::{Error, IoContext, Result};
use crate::store::Cas;

/// A validated ref name: `/`-separated components of `[A-Za-z0-9._+@:-]`, none empty, none
/// starting with a dot (so no `.` or `..`), at most 255 bytes in all.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RefName(String);

impl RefName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RefName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason| Err(Error::InvalidRef { name: s.to_string(), reason });
        if s.is_empty() {
            return bad("empty");
        }
        if s.len() > 255 {
            return bad("longer than 255 bytes");
        }
        for comp in s.split('/') {
            if comp.is_empty() {
                return bad("empty path component (leading, trailing or double '/')");
            }
            if comp == ".." || comp == "." {
                return bad("'.' and '..' are not allowed");
            }
            if comp.starts_with('.') {
                return bad("components may not start with '.'");
            }
            if !comp.bytes().all(|b| b.is_ascii_alphanumeric() || b"._+@:-".contains(&b)) {
                return bad("only letters, digits and . _ + @ : - are allowed");
            }
        }
        Ok(RefName(s.to_string()))
    }
}

impl TryFrom<String> for RefName {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<RefName> for String {
    fn from(r: RefName) -> String {
        r.0
    }
}

impl fmt::Display for RefName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One ref and its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefEntry {
    /// Name.
    pub name: RefName,
    /// Target object.
    pub target: ObjectId,
}

/// A name part no other writer (process or thread) uses at the same time.
pub(crate) fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Create `path`, creating its directory first; retried because a concurrent ref delete may
/// prune the (then empty) namespace directory between the two steps.
fn create_in_dir(path: &Path) -> Result<File> {
    let dir = path.parent().expect("file has a parent");
    // A pruning delete can remove a directory between any two steps: mkdir's "exists" answer
    // and the file's creation can both be undone under us, so either failure is retried.
    let racing = |e: &io::Error| matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::AlreadyExists);
    let mut tries = 0;
    loop {
        tries += 1;
        match fs::DirBuilder::new().recursive(true).mode(0o700).create(dir) {
            Err(e) if racing(&e) && tries < 100 => continue,
            other => other.ctx("create directory", dir)?,
        }
        match File::create(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound && tries < 100 => continue,
            other => return other.ctx("create", path),
        }
    }
}

/// fsync a directory; one pruned meanwhile by a concurrent delete has nothing left to sync.
fn sync_dir(dir: &Path) -> Result<()> {
    match File::open(dir).and_then(|d| d.sync_all()) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other.ctx("fsync directory", dir),
    }
}

/// Write `data` to `path` atomically and durably: temp file in the same directory, fsync,
/// rename, fsync the directory.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().expect("file has a parent");
    let leaf = path.file_name().expect("file has a name").to_string_lossy();
    let tmp = dir.join(format!(".{leaf}.tmp{}", unique_suffix()));
    let res = (|| {
        let mut f = create_in_dir(&tmp)?;
        f.write_all(data).ctx("write", &tmp)?;
        f.sync_all().ctx("fsync", &tmp)?;
        fs::rename(&tmp, path).ctx("rename", path)?;
        sync_dir(dir)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

impl Cas {
    fn ref_path(&self, name: &RefName) -> PathBuf {
        self.root.join("refs").join(name.as_str())
    }

    /// Point `name` at `id`, atomically and durably.
    ///
    /// # Errors
    /// [`Error::ObjectNotFound`] if `id` is not stored; I/O errors.
    pub fn set_ref(&self, name: &RefName, id: &ObjectId) -> Result<()> {
        if !self.has(id) {
            return Err(Error::ObjectNotFound(id.to_string()));
        }
        let p = self.ref_path(name);
        if p.is_dir() {
            return Err(Error::InvalidRef { name: name.to_string(), reason: "a ref namespace of that name exists" });
        }
        let refs = self.root.join("refs");
        if p.ancestors().skip(1).take_while(|a| *a != refs).any(|a| a.is_file()) {
            return Err(Error::InvalidRef { name: name.to_string(), reason: "a ref is named by one of its prefixes" });
        }
        write_atomic(&p, format!("{id}\n").as_bytes())
    }

    /// The object `name` points at.
    ///
    /// # Errors
    /// [`Error::RefNotFound`]; [`Error::Malformed`] if the ref file is damaged.
    pub fn get_ref(&self, name: &RefName) -> Result<ObjectId> {
        let p = self.ref_path(name);
        let text = match fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::IsADirectory) => {
                return Err(Error::RefNotFound(name.to_string()))
            }
            Err(e) => return Err(Error::io("read ref", p, e)),
        };
        text.trim().parse().map_err(|_| Error::Malformed {
            digest: format!("ref {:?}", name.as_str()),
            reason: "the ref file does not hold a blake3 digest".into(),
        })
    }

    /// Remove a ref. The objects stay until gc.
    ///
    /// # Errors
    /// [`Error::RefNotFound`]; I/O errors.
    pub fn delete_ref(&self, name: &RefName) -> Result<()> {
        let p = self.ref_path(name);
        match fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::IsADirectory) => {
                return Err(Error::RefNotFound(name.to_string()))
            }
            Err(e) => return Err(Error::io("delete ref", p, e)),
        }
        let dir = p.parent().expect("ref has a parent");
        sync_dir(dir)?;
        // Drop now-empty namespace directories (but never refs/ itself).
        let refs = self.root.join("refs");
        let mut d = dir.to_path_buf();
        while d != refs && fs::remove_dir(&d).is_ok() {
            d.pop();
        }
        Ok(())
    }

    /// All refs, sorted by name, optionally restricted to a prefix namespace (`images/`).
    ///
    /// # Errors
    /// I/O errors; a damaged ref file is reported as [`Error::Malformed`].
    pub fn list_refs(&self, prefix: Option<&str>) -> Result<Vec<RefEntry>> {
        let mut out = Vec::new();
        let base = self.root.join("refs");
        walk_refs(&base, &base, &mut |name| {
            if prefix.is_none_or(|p| name.starts_with(p)) {
                if let Ok(n) = name.parse::<RefName>() {
                    let target = self.get_ref(&n)?;
                    out.push(RefEntry { name: n, target });
                }
            }
            Ok(())
        })?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

fn walk_refs(base: &Path, dir: &Path, f: &mut dyn FnMut(&str) -> Result<()>) -> Result<()> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("list refs", dir, e)),
    };
    for ent in rd {
        let ent = ent.ctx("list refs", dir)?;
        let name = ent.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let p = ent.path();
        if ent.file_type().ctx("stat", &p)?.is_dir() {
            walk_refs(base, &p, f)?;
        } else {
            let rel = p.strip_prefix(base).expect("under base").to_string_lossy().into_owned();
            f(&rel)?;
        }
    }
    Ok(())
}

/// Record `digest → id` (`aliases/<algo>/ab/<hex>`) and the reverse `id → digest`
/// (`aliases/by-object/ab/<id>.<algo>`). Each is its own file, so concurrent writers never
/// read-modify-write. Not individually fsynced: the calling commit syncs the filesystem after.
pub(crate) fn write_alias(cas: &Cas, digest: &Digest, id: &ObjectId) -> Result<()> {
    write_unsynced(&cas.alias_path(digest), format!("{id}\n").as_bytes())?;
    write_unsynced(&cas.reverse_alias_path(id, digest.algorithm), format!("{digest}\n").as_bytes())
}

fn write_unsynced(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().expect("file has a parent");
    let tmp = dir.join(format!(".tmp{}", unique_suffix()));
    create_in_dir(&tmp)?.write_all(data).ctx("write", &tmp)?;
    fs::rename(&tmp, path).ctx("rename", path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_names() {
        for ok in ["a", "images/debian:12", "registry/lib/alpine/v1.2", "x@y+z_-"] {
            assert!(ok.parse::<RefName>().is_ok(), "{ok}");
        }
        for bad in ["", "/abs", "a/../b", "..", "a//b", "a/", ".hidden", "sp ace", "a\\b", "é"] {
            assert!(bad.parse::<RefName>().is_err(), "{bad}");
        }
    }
}
