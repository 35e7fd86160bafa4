//! `checkout`: materialise a tree into a directory.
//!
//! - `Hardlink` links each file to a store inode carrying exactly the entry's metadata: the
//!   object itself when it matches, else a per-metadata variant (`<id>.m<key>`) made once. Files
//!   with equal bytes but different mode, owner, mtime or xattrs therefore never share an inode.
//!   The result must be treated as read-only: writing through a link changes the store.
//! - `Copy` writes private files (`copy_file_range`, in-kernel on one filesystem).
//! - `Reflink` clones extents where the filesystem can, and otherwise falls back to copying,
//!   saying so in the report.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rayon::prelude::*;
use rustix::fs::{FileType, Mode, RenameFlags};
use serde::{Deserialize, Serialize};

use crate::digest::ObjectId;
use crate::error::{Error, IoContext, Result};
use crate::meta::{self, Meta};
use crate::store::{Cas, ObjectKind};
use crate::tree::{Entry, EntryKind, Tree};

/// How file content reaches the checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckoutMode {
    /// Hardlinks into the store (fast, shared, read-only by convention).
    #[default]
    Hardlink,
    /// Reflink (extent clone) where supported, else copy.
    Reflink,
    /// Private copies.
    Copy,
}

impl std::str::FromStr for CheckoutMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "hardlink" => Ok(CheckoutMode::Hardlink),
            "reflink" => Ok(CheckoutMode::Reflink),
            "copy" => Ok(CheckoutMode::Copy),
            _ => Err(Error::InvalidOption(format!("checkout mode {s:?} (expected hardlink, reflink or copy)"))),
        }
    }
}

/// What a checkout did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutReport {
    /// The tree that was checked out.
    pub root: ObjectId,
    /// Destination directory.
    pub dest: PathBuf,
    /// Mode asked for.
    pub mode: CheckoutMode,
    /// Entries created.
    pub entries: usize,
    /// Files linked to store inodes.
    pub linked: usize,
    /// Files written as copies or clones.
    pub copied: usize,
    /// Metadata variants created in the store for hardlink mode.
    pub variants_created: usize,
    /// Set when reflink was asked for but the filesystem cannot clone, so files were copied.
    pub notice: Option<String>,
}

struct Counters {
    linked: AtomicUsize,
    copied: AtomicUsize,
    variants: AtomicUsize,
    reflink_failed: AtomicBool,
}

impl Cas {
    /// Load and validate a tree object.
    ///
    /// # Errors
    /// [`Error::ObjectNotFound`], [`Error::NotATree`], [`Error::Malformed`].
    pub fn read_tree(&self, id: &ObjectId) -> Result<Tree> {
        let bytes = self.read(id)?;
        if !bytes.starts_with(crate::tree::TREE_MAGIC) {
            return Err(Error::NotATree(id.to_string()));
        }
        Tree::decode(&bytes).map_err(|reason| Error::Malformed { digest: format!("tree {id}"), reason })
    }

    /// Materialise tree `root` at `dest`, which must not exist or be an empty directory.
    ///
    /// # Errors
    /// [`Error::DestinationNotEmpty`], tree errors as [`Cas::read_tree`], I/O errors. On error
    /// the partly written destination is removed if this call created it.
    #[tracing::instrument(skip_all, fields(root = %root, dest = %dest.display()))]
    pub fn checkout(&self, root: &ObjectId, dest: &Path, mode: CheckoutMode) -> Result<CheckoutReport> {
        let txn = self.begin()?;
        if !txn.protect(root)? {
            return Err(Error::ObjectNotFound(root.to_string()));
        }
        let tree = self.read_tree(root)?;
        let created = match fs::read_dir(dest) {
            Ok(mut rd) => {
                if rd.next().is_some() {
                    return Err(Error::DestinationNotEmpty(dest.to_path_buf()));
                }
                false
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::DirBuilder::new().mode(0o700).create(dest).ctx("create destination", dest)?;
                true
            }
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
                return Err(Error::DestinationNotEmpty(dest.to_path_buf()))
            }
            Err(e) => return Err(Error::io("open destination", dest, e)),
        };
        let c = Counters {
            linked: AtomicUsize::new(0),
            copied: AtomicUsize::new(0),
            variants: AtomicUsize::new(0),
            reflink_failed: AtomicBool::new(false),
        };
        let res = self.materialise(&tree, dest, mode, &c);
        if res.is_err() {
            if created {
                let _ = fs::remove_dir_all(dest);
            } else if let Ok(rd) = fs::read_dir(dest) {
                for e in rd.flatten() {
                    let _ = fs::remove_dir_all(e.path()).or_else(|_| fs::remove_file(e.path()));
                }
            }
        }
        res?;
        drop(txn);
        let notice = c
            .reflink_failed
            .load(Ordering::Relaxed)
            .then(|| "this filesystem cannot clone file extents (no reflink support); files were copied".to_string());
        Ok(CheckoutReport {
            root: *root,
            dest: dest.to_path_buf(),
            mode,
            entries: tree.entries.len(),
            linked: c.linked.into_inner(),
            copied: c.copied.into_inner(),
            variants_created: c.variants.into_inner(),
            notice,
        })
    }

    fn materialise(&self, tree: &Tree, dest: &Path, mode: CheckoutMode, c: &Counters) -> Result<()> {
        let target = |e: &Entry| dest.join(std::ffi::OsStr::from_bytes(&e.path));
        // Directories first (parents precede children in path order), private until the end.
        for e in tree.entries.iter().skip(1).filter(|e| e.kind == EntryKind::Dir) {
            let p = target(e);
            fs::DirBuilder::new().mode(0o700).create(&p).ctx("create directory", &p)?;
        }
        let sources = match mode {
            CheckoutMode::Hardlink => self.link_sources(tree, c)?,
            _ => vec![None; tree.entries.len()],
        };
        // Everything but directories and hardlinks, in parallel.
        tree.entries
            .par_iter()
            .zip(sources.par_iter())
            .filter(|(e, _)| !matches!(e.kind, EntryKind::Dir | EntryKind::Hardlink { .. }))
            .try_for_each(|(e, src)| self.create_entry(e, &target(e), mode, src.as_deref(), c))?;
        for e in &tree.entries {
            if let EntryKind::Hardlink { target: t } = &e.kind {
                let from = dest.join(std::ffi::OsStr::from_bytes(t));
                let to = target(e);
                fs::hard_link(&from, &to).ctx("link", &to)?;
            }
        }
        // Directory metadata last, deepest first, so creating children does not bump mtimes.
        for e in tree.entries.iter().rev().filter(|e| e.kind == EntryKind::Dir) {
            let p = target(e);
            let f = File::open(&p).ctx("open directory", &p)?;
            meta::apply_fd(&f, &e.meta).ctx("set metadata", &p)?;
        }
        Ok(())
    }

    fn create_entry(&self, e: &Entry, path: &Path, mode: CheckoutMode, src: Option<&Path>, c: &Counters) -> Result<()> {
        match &e.kind {
            EntryKind::File { id, .. } => match mode {
                CheckoutMode::Hardlink => {
                    let src = src.expect("hardlink sources are prepared for every file");
                    match fs::hard_link(src, path) {
                        Ok(()) => {
                            c.linked.fetch_add(1, Ordering::Relaxed);
                            Ok(())
                        }
                        // The inode reached the filesystem's link limit (65000 on ext4): this
                        // one file becomes a private copy.
                        Err(err) if err.raw_os_error() == Some(rustix::io::Errno::MLINK.raw_os_error()) => {
                            let f = self.write_copy(id, path, false, c)?;
                            meta::apply_fd(&f, &e.meta).ctx("set metadata", path)?;
                            c.copied.fetch_add(1, Ordering::Relaxed);
                            Ok(())
                        }
                        Err(err) => Err(Error::io("link", path, err)),
                    }
                }
                CheckoutMode::Copy | CheckoutMode::Reflink => {
                    let f = self.write_copy(id, path, mode == CheckoutMode::Reflink, c)?;
                    meta::apply_new_fd(&f, &e.meta).ctx("set metadata", path)?;
                    c.copied.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
            },
            EntryKind::Symlink { target } => {
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(target), path).ctx("create symlink", path)?;
                meta::apply_symlink(path, &e.meta).ctx("set metadata", path)
            }
            EntryKind::CharDevice { rdev } | EntryKind::BlockDevice { rdev } => {
                let ft = if matches!(e.kind, EntryKind::CharDevice { .. }) {
                    FileType::CharacterDevice
                } else {
                    FileType::BlockDevice
                };
                rustix::fs::mknodat(rustix::fs::CWD, path, ft, Mode::from_raw_mode(0o600), *rdev)
                    .ctx("create device node", path)?;
                self.apply_path(path, &e.meta)
            }
            EntryKind::Fifo => {
                rustix::fs::mknodat(rustix::fs::CWD, path, FileType::Fifo, Mode::from_raw_mode(0o600), 0)
                    .ctx("create fifo", path)?;
                self.apply_path(path, &e.meta)
            }
            EntryKind::Dir | EntryKind::Hardlink { .. } => Ok(()),
        }
    }

    fn apply_path(&self, path: &Path, m: &Meta) -> Result<()> {
        // O_PATH cannot fchmod; open non-blocking so a fifo does not wait for a writer.
        let f = OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32 | rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)
            .ctx("open", path)?;
        meta::apply_fd(&f, m).ctx("set metadata", path)
    }

    /// For hardlink mode: per entry, the store inode that carries the entry's bytes and exactly
    /// its metadata — the object itself when it matches, else a variant (`<id>.m<key>`). Missing
    /// variants are written to `tmp/`, made durable together with one `syncfs`, and only then
    /// renamed into `objects/`, so a variant is never visible before its bytes are on disk.
    fn link_sources(&self, tree: &Tree, c: &Counters) -> Result<Vec<Option<PathBuf>>> {
        enum Src {
            Ready(PathBuf),
            Make(PathBuf),
        }
        let found: Vec<Option<Src>> = tree
            .entries
            .par_iter()
            .map(|e| {
                let EntryKind::File { id, .. } = &e.kind else { return Ok(None) };
                if self.kind_of(id) == Some(ObjectKind::Blob) {
                    let p = self.blob_path(id);
                    if meta::matches(&p, &e.meta).ctx("stat object", &p)? {
                        return Ok(Some(Src::Ready(p)));
                    }
                } else if !self.has(id) {
                    return Err(Error::ObjectNotFound(id.to_string()));
                }
                let v = self.variant_path(id, &e.meta.key());
                Ok(Some(if v.exists() { Src::Ready(v) } else { Src::Make(v) }))
            })
            .collect::<Result<_>>()?;
        // Each missing variant once, however many entries need it.
        let mut wanted: HashMap<&Path, &Entry> = HashMap::new();
        for (src, e) in found.iter().zip(&tree.entries) {
            if let Some(Src::Make(v)) = src {
                wanted.entry(v.as_path()).or_insert(e);
            }
        }
        if !wanted.is_empty() {
            let staged: Vec<(PathBuf, &Path)> = wanted
                .par_iter()
                .map(|(v, e)| {
                    let EntryKind::File { id, .. } = &e.kind else { unreachable!("only files need variants") };
                    let tmp = self.tmp_dir().join(format!("variant-{}-{}", std::process::id(), rand_suffix()));
                    let made = self
                        .write_copy(id, &tmp, false, c)
                        .and_then(|f| meta::apply_new_fd(&f, &e.meta).ctx("set metadata", &tmp));
                    match made {
                        Ok(()) => Ok((tmp, *v)),
                        Err(err) => {
                            let _ = fs::remove_file(&tmp);
                            Err(err)
                        }
                    }
                })
                .collect::<Result<_>>()?;
            let objects = File::open(self.objects_dir()).ctx("open objects", self.objects_dir())?;
            rustix::fs::syncfs(&objects).ctx("sync store", self.objects_dir())?;
            staged.par_iter().try_for_each(|(tmp, v)| {
                let res = match rustix::fs::renameat_with(
                    rustix::fs::CWD,
                    tmp,
                    rustix::fs::CWD,
                    *v,
                    RenameFlags::NOREPLACE,
                ) {
                    Ok(()) => {
                        c.variants.fetch_add(1, Ordering::Relaxed);
                        Ok(())
                    }
                    // Made meanwhile by a concurrent checkout: the same bytes and metadata.
                    Err(rustix::io::Errno::EXIST) => Ok(()),
                    Err(e) => Err(Error::io("publish variant", *v, e.into())),
                };
                let _ = fs::remove_file(tmp);
                res
            })?;
        }
        Ok(found
            .into_iter()
            .map(|s| match s {
                Some(Src::Ready(p) | Src::Make(p)) => Some(p),
                None => None,
            })
            .collect())
    }

    /// Create `path` with the bytes of `id` (cloned if `reflink` and possible, else copied).
    fn write_copy(&self, id: &ObjectId, path: &Path, reflink: bool, c: &Counters) -> Result<File> {
        let out = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).ctx("create", path)?;
        match self.kind_of(id) {
            Some(ObjectKind::Blob) => {
                let sp = self.blob_path(id);
                let src = File::open(&sp).ctx("open object", &sp)?;
                if reflink && !c.reflink_failed.load(Ordering::Relaxed) {
                    match rustix::fs::ioctl_ficlone(&out, &src) {
                        Ok(()) => return Ok(out),
                        Err(_) => c.reflink_failed.store(true, Ordering::Relaxed),
                    }
                }
                let len = src.metadata().ctx("stat object", &sp)?.len();
                copy_range(&src, &out, len).ctx("copy", path)?;
            }
            Some(ObjectKind::Chunked) => {
                // Chunked content has no single file to clone from: always assembled by copying.
                let mut r = self.open_object(id)?;
                io::copy(&mut r, &mut &out).ctx("copy", path)?;
            }
            None => return Err(Error::ObjectNotFound(id.to_string())),
        }
        Ok(out)
    }
}

/// Copy `len` bytes in the kernel where possible, falling back to read/write.
fn copy_range(src: &File, dst: &File, len: u64) -> io::Result<()> {
    let mut done = 0u64;
    while done < len {
        match rustix::fs::copy_file_range(src, None, dst, None, (len - done).min(1 << 30) as usize) {
            Ok(0) => break,
            Ok(n) => done += n as u64,
            Err(rustix::io::Errno::XDEV | rustix::io::Errno::NOSYS | rustix::io::Errno::INVAL) => {
                let mut s = src;
                io::copy(&mut s, &mut &*dst)?;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn rand_suffix() -> String {
    use std::sync::atomic::AtomicU64;
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{t:x}-{}", N.fetch_add(1, Ordering::Relaxed))
}
