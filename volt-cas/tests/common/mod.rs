//! Test helpers: a fixture tree with every kind of entry, and an exact tree comparison.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use volt_cas::{Cas, Options};

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Privileged parts of a test: run them as root; say so when skipping, and fail under CI.
pub fn require_root(what: &str) -> bool {
    if is_root() {
        return true;
    }
    if std::env::var_os("CI").is_some_and(|v| v == "true") {
        panic!("{what} needs root, and CI=true forbids skipping");
    }
    eprintln!("SKIP {what}: needs root");
    false
}

/// The file under `objects/` that holds a whole object.
pub fn object_file(cas: &Cas, id: &volt_cas::ObjectId) -> PathBuf {
    let hex = id.to_hex();
    cas.root().join("objects").join(&hex[..2]).join(hex)
}

/// Replace a stored object's bytes behind the store's back (objects are read-only files).
pub fn overwrite(path: &Path, bytes: &[u8]) {
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(path, bytes).unwrap();
}

pub fn store(dir: &Path) -> Cas {
    Cas::open(dir.join("cas"), Options::default().with_cache_dir(dir.join("cache"))).unwrap()
}

pub fn small_chunk_store(dir: &Path) -> Cas {
    Cas::open(
        dir.join("cas"),
        Options::default().with_cache_dir(dir.join("cache")).with_chunking(256 << 10, 4 << 10, 16 << 10, 64 << 10),
    )
    .unwrap()
}

/// Deterministic pseudo-random bytes.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn set_mtime(p: &Path, secs: i64, nsec: i64) {
    let t = rustix::fs::Timespec { tv_sec: secs, tv_nsec: nsec as _ };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        p,
        &rustix::fs::Timestamps { last_access: t, last_modification: t },
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

/// A tree with regular files (small, empty, chunk-sized), nested and empty directories,
/// symlinks (relative, dangling, absolute), hardlinks, a fifo, setuid/setgid/sticky modes,
/// user xattrs, odd file names and fixed mtimes. As root also: device nodes, other owners and
/// a `security.capability` xattr.
pub fn fixture(root: &Path) {
    fs::create_dir_all(root.join("etc/conf.d")).unwrap();
    fs::create_dir_all(root.join("usr/bin")).unwrap();
    fs::create_dir_all(root.join("empty/nested-empty")).unwrap();
    fs::create_dir_all(root.join("tmp")).unwrap();
    fs::write(root.join("etc/hostname"), "volt\n").unwrap();
    fs::write(root.join("etc/conf.d/same-a"), "same content\n").unwrap();
    fs::write(root.join("etc/conf.d/same-b"), "same content\n").unwrap();
    fs::write(root.join("etc/empty-file"), "").unwrap();
    fs::write(root.join("usr/bin/tool"), noise(1, 300_000)).unwrap();
    fs::write(root.join("usr/bin/big"), noise(2, 5 << 20)).unwrap();
    fs::write(root.join("name with spaces & ünïcödé"), "x").unwrap();
    fs::write(root.join(std::ffi::OsStr::from_bytes(b"latin1-\xe9")), "not utf-8 name").unwrap();
    fs::hard_link(root.join("usr/bin/tool"), root.join("usr/bin/tool-link")).unwrap();
    symlink("../etc/hostname", root.join("usr/hostname-link")).unwrap();
    symlink("/nonexistent/target", root.join("dangling")).unwrap();
    rustix::fs::mknodat(rustix::fs::CWD, root.join("tmp/fifo"), rustix::fs::FileType::Fifo, 0o640.into(), 0).unwrap();
    fs::set_permissions(root.join("usr/bin/tool"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::set_permissions(root.join("etc/conf.d/same-b"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::set_permissions(root.join("etc/conf.d"), fs::Permissions::from_mode(0o2750)).unwrap();
    rustix::fs::setxattr(
        root.join("etc/hostname"),
        "user.volt.test",
        b"value\0with nul",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    rustix::fs::setxattr(root.join("empty"), "user.dir", b"on a directory", rustix::fs::XattrFlags::empty()).unwrap();
    if is_root() {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("tmp/null"),
            rustix::fs::FileType::CharacterDevice,
            0o666.into(),
            rustix::fs::makedev(1, 3),
        )
        .unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("tmp/loop9"),
            rustix::fs::FileType::BlockDevice,
            0o660.into(),
            rustix::fs::makedev(7, 9),
        )
        .unwrap();
        rustix::fs::chownat(
            rustix::fs::CWD,
            root.join("etc/conf.d/same-a"),
            Some(rustix::fs::Uid::from_raw(1234)),
            Some(rustix::fs::Gid::from_raw(5678)),
            rustix::fs::AtFlags::empty(),
        )
        .unwrap();
        rustix::fs::chownat(
            rustix::fs::CWD,
            root.join("dangling"),
            Some(rustix::fs::Uid::from_raw(42)),
            Some(rustix::fs::Gid::from_raw(43)),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .unwrap();
        // cap_net_raw+ep, VFS capability v2.
        let cap: [u8; 20] = [1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        fs::write(root.join("usr/bin/ping"), noise(3, 1000)).unwrap();
        rustix::fs::setxattr(root.join("usr/bin/ping"), "security.capability", &cap, rustix::fs::XattrFlags::empty())
            .unwrap();
    }
    // Fixed, distinct mtimes (with nanoseconds), directories last so children don't bump them.
    let mut all = Vec::new();
    collect(root, &mut all);
    all.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    for (i, p) in all.iter().enumerate() {
        set_mtime(p, 1_600_000_000 + i as i64 * 1000, 123_456_789);
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            collect(&e.path(), out);
        } else {
            out.push(e.path());
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Desc {
    kind: u32,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: Option<(i64, i64)>,
    size: u64,
    rdev: u64,
    content: Option<[u8; 32]>,
    target: Option<Vec<u8>>,
    pub xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
}

pub fn describe(p: &Path) -> Desc {
    let m = fs::symlink_metadata(p).unwrap();
    let kind = m.mode() & 0o170000;
    let is_link = m.file_type().is_symlink();
    let mut names = vec![0u8; 65536];
    let n = rustix::fs::llistxattr(p, &mut names[..]).unwrap_or(0);
    let mut xattrs = BTreeMap::new();
    for name in names[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let mut v = vec![0u8; 65536];
        let k = rustix::fs::lgetxattr(p, name, &mut v[..]).unwrap();
        xattrs.insert(name.to_vec(), v[..k].to_vec());
    }
    Desc {
        kind,
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        mtime: (!is_link).then(|| (m.mtime(), m.mtime_nsec())),
        size: if m.is_file() { m.size() } else { 0 },
        rdev: m.rdev(),
        content: m.is_file().then(|| *blake3::hash(&fs::read(p).unwrap()).as_bytes()),
        target: is_link.then(|| fs::read_link(p).unwrap().as_os_str().as_bytes().to_vec()),
        xattrs,
    }
}

fn walk_rel(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        out.push(e.path().strip_prefix(root).unwrap().to_path_buf());
        if e.file_type().unwrap().is_dir() {
            walk_rel(root, &e.path(), out);
        }
    }
}

/// Every difference between two trees (empty = identical in content and metadata, including
/// directory mtimes and hardlink structure).
pub fn diff(a: &Path, b: &Path) -> Vec<String> {
    let (mut ea, mut eb) = (vec![PathBuf::new()], vec![PathBuf::new()]);
    walk_rel(a, a, &mut ea);
    walk_rel(b, b, &mut eb);
    ea.sort();
    eb.sort();
    let mut out = Vec::new();
    if ea != eb {
        out.push(format!("entry lists differ: {} vs {}", ea.len(), eb.len()));
        return out;
    }
    let mut groups_a: HashMap<u64, Vec<&PathBuf>> = HashMap::new();
    for rel in &ea {
        let (da, db) = (describe(&a.join(rel)), describe(&b.join(rel)));
        if da != db {
            out.push(format!("{}: {:?} != {:?}", rel.display(), da, db));
        }
        let m = fs::symlink_metadata(a.join(rel)).unwrap();
        if m.is_file() && m.nlink() > 1 {
            groups_a.entry(m.ino()).or_default().push(rel);
        }
    }
    for g in groups_a.values().filter(|g| g.len() > 1) {
        let inos: std::collections::HashSet<u64> =
            g.iter().map(|r| fs::symlink_metadata(b.join(r)).unwrap().ino()).collect();
        if inos.len() != 1 {
            out.push(format!("hardlink group split: {g:?}"));
        }
    }
    out
}
