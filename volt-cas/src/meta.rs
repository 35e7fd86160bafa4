//! File metadata as the store records it (mode, owner, mtime, xattrs) and the syscalls that read
//! and apply it. Order matters when applying: chown clears setuid bits and file capabilities, so
//! owner first, then mode, then xattrs, then times.

use std::io;
use std::os::fd::AsFd;
use std::path::Path;

use rustix::fs::Timespec;
use rustix::fs::{Gid, Mode, Timestamps, Uid, XattrFlags};
use serde::{Deserialize, Serialize};

/// One extended attribute (name and raw value).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Xattr {
    /// Full name including namespace, e.g. `security.capability`.
    #[serde(with = "serde_bytes")]
    pub name: Vec<u8>,
    /// Raw value.
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
}

/// Metadata of a filesystem entry that the store preserves.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Meta {
    /// Permission bits including setuid, setgid and sticky (`0o7777` mask).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Modification time, nanoseconds.
    pub mtime_nsec: u32,
    /// Extended attributes, sorted by name.
    pub xattrs: Vec<Xattr>,
}

impl Meta {
    /// Metadata given to objects stored without a file behind them: read-only, owned by the
    /// current user, epoch mtime.
    pub fn neutral() -> Self {
        Meta {
            mode: 0o444,
            uid: effective_ids().0,
            gid: effective_ids().1,
            mtime: 0,
            mtime_nsec: 0,
            xattrs: Vec::new(),
        }
    }

    /// A short key identifying this metadata (used to name checkout variants).
    pub fn key(&self) -> String {
        let mut h = blake3::Hasher::new();
        h.update(&self.mode.to_le_bytes());
        h.update(&self.uid.to_le_bytes());
        h.update(&self.gid.to_le_bytes());
        h.update(&self.mtime.to_le_bytes());
        h.update(&self.mtime_nsec.to_le_bytes());
        for x in &self.xattrs {
            h.update(&(x.name.len() as u64).to_le_bytes());
            h.update(&x.name);
            h.update(&(x.value.len() as u64).to_le_bytes());
            h.update(&x.value);
        }
        hex::encode(&h.finalize().as_bytes()[..8])
    }

    fn times(&self) -> Timestamps {
        let t = Timespec { tv_sec: self.mtime, tv_nsec: self.mtime_nsec as _ };
        Timestamps { last_access: t, last_modification: t }
    }
}

/// The process's effective uid and gid, asked once.
fn effective_ids() -> (u32, u32) {
    static IDS: std::sync::OnceLock<(u32, u32)> = std::sync::OnceLock::new();
    *IDS.get_or_init(|| (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw()))
}

fn is_root() -> bool {
    effective_ids().0 == 0
}

/// Apply `meta` to an open regular file, device or directory.
pub(crate) fn apply_fd(fd: impl AsFd, meta: &Meta) -> io::Result<()> {
    apply(fd.as_fd(), meta, false)
}

/// Apply `meta` to a file this process just created (so it is owned by the effective ids and
/// the chown can be skipped when they are what is wanted).
pub(crate) fn apply_new_fd(fd: impl AsFd, meta: &Meta) -> io::Result<()> {
    apply(fd.as_fd(), meta, true)
}

fn apply(fd: std::os::fd::BorrowedFd<'_>, meta: &Meta, fresh: bool) -> io::Result<()> {
    let ours = fresh && (meta.uid, meta.gid) == effective_ids();
    if !ours {
        chown_result(rustix::fs::fchown(fd, Some(Uid::from_raw(meta.uid)), Some(Gid::from_raw(meta.gid))))?;
    }
    rustix::fs::fchmod(fd, Mode::from_raw_mode(meta.mode & 0o7777))?;
    for x in &meta.xattrs {
        rustix::fs::fsetxattr(fd, x.name.as_slice(), &x.value, XattrFlags::empty())?;
    }
    rustix::fs::futimens(fd, &meta.times())?;
    Ok(())
}

/// Apply `meta` to a symlink (no mode: symlinks have none on Linux).
pub(crate) fn apply_symlink(path: &Path, meta: &Meta) -> io::Result<()> {
    chown_result(rustix::fs::chownat(
        rustix::fs::CWD,
        path,
        Some(Uid::from_raw(meta.uid)),
        Some(Gid::from_raw(meta.gid)),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    ))?;
    for x in &meta.xattrs {
        rustix::fs::lsetxattr(path, x.name.as_slice(), &x.value, XattrFlags::empty())?;
    }
    rustix::fs::utimensat(rustix::fs::CWD, path, &meta.times(), rustix::fs::AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(())
}

/// Non-root users cannot give files away: keep their own ownership instead of failing.
fn chown_result(r: rustix::io::Result<()>) -> io::Result<()> {
    match r {
        Err(rustix::io::Errno::PERM) if !is_root() => Ok(()),
        other => other.map_err(io::Error::from),
    }
}

/// Read the extended attributes of `path` without following a symlink, sorted by name.
pub(crate) fn read_xattrs(path: &Path) -> io::Result<Vec<Xattr>> {
    let mut small = [0u8; 1024];
    let names: Vec<u8> = match rustix::fs::llistxattr(path, &mut small[..]) {
        Ok(0) => return Ok(Vec::new()),
        Ok(n) => small[..n].to_vec(),
        Err(rustix::io::Errno::RANGE) => {
            let mut big = vec![0u8; 65536];
            let n = rustix::fs::llistxattr(path, &mut big[..])?;
            big.truncate(n);
            big
        }
        Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let value = match rustix::fs::lgetxattr(path, name, &mut small[..]) {
            Ok(n) => small[..n].to_vec(),
            Err(rustix::io::Errno::RANGE) => {
                let mut big = vec![0u8; 65536];
                let n = rustix::fs::lgetxattr(path, name, &mut big[..])?;
                big.truncate(n);
                big
            }
            // Removed between list and get: it is simply not there any more.
            Err(rustix::io::Errno::NODATA) => continue,
            Err(e) => return Err(e.into()),
        };
        out.push(Xattr { name: name.to_vec(), value });
    }
    out.sort();
    Ok(out)
}

/// Metadata of `path` (not following symlinks) from an already-taken `lstat` plus its xattrs.
pub(crate) fn from_stat(st: &std::fs::Metadata, xattrs: Vec<Xattr>) -> Meta {
    use std::os::unix::fs::MetadataExt;
    Meta {
        mode: st.mode() & 0o7777,
        uid: st.uid(),
        gid: st.gid(),
        mtime: st.mtime(),
        mtime_nsec: st.mtime_nsec() as u32,
        xattrs,
    }
}

/// Does the file at `path` (an object) carry exactly `meta`?
pub(crate) fn matches(path: &Path, meta: &Meta) -> io::Result<bool> {
    let st = std::fs::symlink_metadata(path)?;
    let mut have = from_stat(&st, Vec::new());
    if have.mode != meta.mode || have.uid != meta.uid || have.gid != meta.gid {
        return Ok(false);
    }
    if have.mtime != meta.mtime || have.mtime_nsec != meta.mtime_nsec {
        return Ok(false);
    }
    have.xattrs = read_xattrs(path)?;
    Ok(have.xattrs == meta.xattrs)
}
