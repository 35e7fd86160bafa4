//! `build`: store a directory as a tree object.
//!
//! The walk (readdir + lstat) is serial; reading xattrs, hashing and staging file content run
//! on all cores. A stat cache (inode, size, mtime, ctime → content id and xattrs) lets a re-build
//! of an unchanged tree skip opening files at all.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::digest::ObjectId;
use crate::error::{Error, IoContext, Result};
use crate::meta::{self, Xattr};
use crate::refs::RefName;
use crate::store::Cas;
use crate::tree::{Entry, EntryKind, Tree};
use crate::txn::Txn;

/// What a build did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildReport {
    /// The tree object.
    pub root: ObjectId,
    /// The ref pointed at it, if one was asked for.
    pub reference: Option<RefName>,
    /// Entries in the tree (including the root directory).
    pub entries: usize,
    /// Regular files (hardlinks counted once).
    pub files: usize,
    /// Bytes of regular-file content.
    pub bytes: u64,
    /// Objects newly written to the store.
    pub new_objects: usize,
    /// Files whose content id came from the stat cache without reading them.
    pub cached: usize,
    /// Paths left out (sockets cannot be stored).
    pub skipped: Vec<String>,
}

struct Item {
    rel: Vec<u8>,
    abs: PathBuf,
    st: fs::Metadata,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CacheRec {
    ino: u64,
    dev: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
    ctime: i64,
    ctime_nsec: i64,
    xattrs: Vec<Xattr>,
    id: Option<ObjectId>,
}

impl CacheRec {
    fn key_matches(&self, st: &fs::Metadata) -> bool {
        self.ino == st.ino()
            && self.dev == st.dev()
            && self.size == st.size()
            && self.mtime == st.mtime()
            && self.mtime_nsec == st.mtime_nsec()
            && self.ctime == st.ctime()
            && self.ctime_nsec == st.ctime_nsec()
    }
}

#[derive(Default, Serialize, Deserialize)]
struct BuildCache {
    /// Store gc generation at which every cached content id was known to be stored.
    generation: u64,
    /// Sorted by path, like the tree, so lookups are one merge pass.
    entries: Vec<(Vec<u8>, CacheRec)>,
    /// The tree these entries made, when every entry of it is cached: if every path and stat
    /// still matches, the tree is the same object and need not be assembled again.
    root: Option<ObjectId>,
}

/// For each item (sorted by path), its record in the (sorted) cache, if any.
fn match_cache<'c>(items: &[Item], cache: &'c BuildCache) -> Vec<Option<&'c CacheRec>> {
    let mut out = Vec::with_capacity(items.len());
    let mut j = 0;
    for it in items {
        while j < cache.entries.len() && cache.entries[j].0 < it.rel {
            j += 1;
        }
        out.push(cache.entries.get(j).filter(|(p, _)| *p == it.rel).map(|(_, r)| r));
    }
    out
}

const CACHE_MAGIC: &[u8; 8] = b"VOLTBC\x00\x01";

impl Cas {
    fn cache_file(&self, dir: &Path) -> Option<PathBuf> {
        let cd = self.opts.cache_dir.as_ref()?;
        let mut key = blake3::Hasher::new();
        key.update(self.root.as_os_str().as_bytes());
        key.update(b"\0");
        key.update(dir.as_os_str().as_bytes());
        let key = key.finalize();
        Some(cd.join(format!("build-{}.cache", &key.to_hex()[..32])))
    }

    fn load_cache(&self, dir: &Path) -> BuildCache {
        let Some(p) = self.cache_file(dir) else { return BuildCache::default() };
        let Ok(bytes) = fs::read(&p) else { return BuildCache::default() };
        // A damaged or foreign cache is just a cold cache.
        bytes.strip_prefix(CACHE_MAGIC.as_slice()).and_then(|b| postcard::from_bytes(b).ok()).unwrap_or_default()
    }

    fn save_cache(&self, dir: &Path, cache: &BuildCache) {
        let Some(p) = self.cache_file(dir) else { return };
        let mut data = CACHE_MAGIC.to_vec();
        data.extend(postcard::to_stdvec(cache).unwrap_or_default());
        let tmp = p.with_extension(format!("tmp{}", std::process::id()));
        let ok = p.parent().is_some_and(|d| fs::create_dir_all(d).is_ok())
            && fs::write(&tmp, &data).is_ok()
            && fs::rename(&tmp, &p).is_ok();
        if !ok {
            let _ = fs::remove_file(&tmp);
            tracing::debug!(path = %p.display(), "could not write build cache");
        }
    }

    /// Store the directory `dir` as a tree and, if `reference` is given, point it at the tree.
    ///
    /// # Errors
    /// [`Error::SourceNotFound`], [`Error::NotADirectory`], [`Error::PermissionDenied`] on an
    /// unreadable file or directory (nothing is referenced then), other I/O errors.
    #[tracing::instrument(skip_all, fields(dir = %dir.display()))]
    pub fn build(&self, dir: &Path, reference: Option<&RefName>) -> Result<BuildReport> {
        let started_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        let dir = fs::canonicalize(dir).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::SourceNotFound(dir.to_path_buf()),
            _ => Error::io("resolve", dir, e),
        })?;
        let st = fs::symlink_metadata(&dir).ctx("stat", &dir)?;
        if !st.is_dir() {
            return Err(Error::NotADirectory(dir));
        }
        let t0 = std::time::Instant::now();
        let mut items = vec![Item { rel: Vec::new(), abs: dir.clone(), st }];
        items.extend(walk(&dir, &[])?);
        tracing::debug!(entries = items.len(), elapsed = ?t0.elapsed(), "walked");
        items.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));

        // First name of each multiply-linked inode, in sorted order.
        let mut first_name: HashMap<(u64, u64), usize> = HashMap::new();
        let mut link_to: Vec<Option<usize>> = vec![None; items.len()];
        for (i, it) in items.iter().enumerate() {
            // Only regular files become hardlink entries; other multiply-linked inodes (device
            // nodes, fifos, symlinks) are recreated as separate entries.
            if it.st.is_file() && it.st.nlink() > 1 {
                match first_name.entry((it.st.dev(), it.st.ino())) {
                    std::collections::hash_map::Entry::Occupied(o) => link_to[i] = Some(*o.get()),
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(i);
                    }
                }
            }
        }

        let cache = self.load_cache(&dir);
        if let Some(report) = self.unchanged(&items, &cache, reference)? {
            return Ok(report);
        }
        let hits = match_cache(&items, &cache);
        let txn = self.begin()?;
        // One lock and one lease write for the whole scan; gc waits for it.
        let hold = txn.hold()?;
        let mut results: Vec<Result<Option<Built>>> = items
            .par_iter()
            .zip(link_to.par_iter())
            .zip(hits.par_iter())
            .map(|((it, link), hit)| entry_for(&txn, it, link.map(|i| &items[i]), *hit, started_ns))
            .collect();
        drop(hits);
        hold.release()?;
        // Content ids taken from the cache are leased in one batch; any that gc has removed since
        // are read from disk after all.
        let hits: Vec<(usize, ObjectId)> = results
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match r {
                Ok(Some((Entry { kind: EntryKind::File { id, .. }, .. }, _, true))) => Some((i, *id)),
                _ => None,
            })
            .collect();
        let ids: Vec<ObjectId> = hits.iter().map(|(_, id)| *id).collect();
        let present = txn.protect_many(&ids, Some(cache.generation))?;
        let redo: Vec<usize> = hits.iter().zip(present).filter(|(_, p)| !p).map(|((i, _), _)| *i).collect();
        let redone: Vec<(usize, Result<ObjectId>)> = redo
            .par_iter()
            .map(|&i| {
                let meta = match &results[i] {
                    Ok(Some((e, _, _))) => e.meta.clone(),
                    _ => unreachable!("only cache hits are redone"),
                };
                (i, txn.put_file(&items[i].abs, &[], Some(&meta)).map(|o| o.id))
            })
            .collect();
        for (i, r) in redone {
            let new_id = r?;
            if let Ok(Some((e, rec, hit))) = &mut results[i] {
                if let EntryKind::File { id, .. } = &mut e.kind {
                    *id = new_id;
                }
                if let Some(rec) = rec {
                    rec.id = Some(new_id);
                }
                *hit = false;
            }
        }

        tracing::debug!(elapsed = ?t0.elapsed(), "content staged");
        let mut tree = Tree { entries: Vec::with_capacity(items.len()) };
        let mut new_cache = BuildCache { generation: txn.generation(), ..BuildCache::default() };
        let mut skipped = Vec::new();
        let (mut files, mut cached) = (0usize, 0usize);
        let mut complete = true;
        for (it, r) in items.iter().zip(results) {
            match r? {
                None => skipped.push(String::from_utf8_lossy(&it.rel).into_owned()),
                Some((entry, rec, hit)) => {
                    if matches!(entry.kind, EntryKind::File { .. }) {
                        files += 1;
                        cached += usize::from(hit);
                    }
                    match rec {
                        Some(rec) => new_cache.entries.push((entry.path.clone(), rec)),
                        None => complete = false,
                    }
                    tree.entries.push(entry);
                }
            }
        }
        let bytes = tree.content_bytes();
        let entries = tree.entries.len();
        let encoded = tree.encode();
        drop(tree);
        let root = txn.put_reader(&mut io::Cursor::new(encoded), Path::new("<tree>"), &[], None)?.id;
        tracing::debug!(elapsed = ?t0.elapsed(), "tree stored");
        let new_objects = txn.commit(reference.map(|r| (r, &root)))?;
        tracing::debug!(elapsed = ?t0.elapsed(), "committed");
        new_cache.root = (complete && skipped.is_empty()).then_some(root);
        self.save_cache(&dir, &new_cache);
        tracing::debug!(elapsed = ?t0.elapsed(), "cache saved");
        for s in &skipped {
            tracing::info!(path = %s, "socket left out of the tree");
        }
        Ok(BuildReport { root, reference: reference.cloned(), entries, files, bytes, new_objects, cached, skipped })
    }
}

/// Everything below `dir` (not `dir` itself); subdirectories are walked in parallel.
impl Cas {
    /// If the walk found exactly the paths of the cached tree, each with an unchanged stat, the
    /// tree is the cached one: lease it and point the ref at it without assembling it again.
    fn unchanged(
        &self,
        items: &[Item],
        cache: &BuildCache,
        reference: Option<&RefName>,
    ) -> Result<Option<BuildReport>> {
        let Some(root) = cache.root else { return Ok(None) };
        let same = items.len() == cache.entries.len()
            && items.iter().zip(&cache.entries).all(|(it, (path, rec))| it.rel == *path && rec.key_matches(&it.st));
        if !same {
            return Ok(None);
        }
        let txn = self.begin()?;
        // Only if no gc removed anything since: an interrupted sweep could have taken some of
        // the tree's files and left the tree object itself.
        if txn.generation() != cache.generation || !txn.protect_many(&[root], Some(cache.generation))?[0] {
            return Ok(None);
        }
        txn.commit(reference.map(|r| (r, &root)))?;
        let file_recs = || cache.entries.iter().filter(|(_, r)| r.id.is_some());
        let files = file_recs().count();
        Ok(Some(BuildReport {
            root,
            reference: reference.cloned(),
            entries: items.len(),
            files,
            bytes: file_recs().map(|(_, r)| r.size).sum(),
            new_objects: 0,
            cached: files,
            skipped: Vec::new(),
        }))
    }
}

fn walk(dir: &Path, rel: &[u8]) -> Result<Vec<Item>> {
    let mut out = Vec::new();
    for ent in fs::read_dir(dir).ctx("read directory", dir)? {
        let ent = ent.ctx("read directory", dir)?;
        let abs = ent.path();
        // lstat relative to the open directory (no path walk from the root).
        let st = ent.metadata().ctx("stat", &abs)?;
        let mut r = Vec::with_capacity(rel.len() + 1 + ent.file_name().len());
        r.extend_from_slice(rel);
        if !r.is_empty() {
            r.push(b'/');
        }
        r.extend_from_slice(ent.file_name().as_bytes());
        out.push(Item { rel: r, abs, st });
    }
    let subs: Vec<Vec<Item>> =
        out.par_iter().filter(|i| i.st.is_dir()).map(|i| walk(&i.abs, &i.rel)).collect::<Result<_>>()?;
    out.extend(subs.into_iter().flatten());
    Ok(out)
}

/// An entry, the cache record to keep for it, and whether the cache supplied its content.
type Built = (Entry, Option<CacheRec>, bool);

/// Build one entry. Returns `None` for sockets; otherwise the entry, the cache record to keep
/// (none for entries too new to trust), and whether the cache supplied the content.
fn entry_for(
    txn: &Txn<'_>,
    it: &Item,
    link: Option<&Item>,
    cached: Option<&CacheRec>,
    started_ns: i64,
) -> Result<Option<Built>> {
    let ft = it.st.file_type();
    if ft.is_socket() {
        return Ok(None);
    }
    let cached = cached.filter(|c| c.key_matches(&it.st));
    let xattrs = match cached {
        Some(c) => c.xattrs.clone(),
        None => meta::read_xattrs(&it.abs).ctx("read xattrs", &it.abs)?,
    };
    let meta = meta::from_stat(&it.st, xattrs);
    let mut id = None;
    let mut hit = false;
    let kind = if let Some(first) = link {
        EntryKind::Hardlink { target: first.rel.clone() }
    } else if ft.is_dir() {
        EntryKind::Dir
    } else if ft.is_file() {
        // A cached id is checked (and leased) in one batch by the caller.
        let cid = match cached.and_then(|c| c.id) {
            Some(cid) => {
                hit = true;
                cid
            }
            None => txn.put_file_sized(&it.abs, Some(it.st.size()), &[], Some(&meta))?.id,
        };
        id = Some(cid);
        EntryKind::File { size: it.st.size(), id: cid }
    } else if ft.is_symlink() {
        let t = fs::read_link(&it.abs).ctx("read symlink", &it.abs)?;
        EntryKind::Symlink { target: t.as_os_str().as_bytes().to_vec() }
    } else if ft.is_char_device() {
        EntryKind::CharDevice { rdev: it.st.rdev() }
    } else if ft.is_block_device() {
        EntryKind::BlockDevice { rdev: it.st.rdev() }
    } else {
        EntryKind::Fifo
    };
    // An entry changed within the second before the build may change again within the same
    // timestamp tick without its stat changing; do not trust it next time.
    let ns = |s: i64, n: i64| s.saturating_mul(1_000_000_000).saturating_add(n);
    let newest = ns(it.st.ctime(), it.st.ctime_nsec()).max(ns(it.st.mtime(), it.st.mtime_nsec()));
    let racy = newest > started_ns - 1_000_000_000;
    let rec = (!racy).then(|| CacheRec {
        ino: it.st.ino(),
        dev: it.st.dev(),
        size: it.st.size(),
        mtime: it.st.mtime(),
        mtime_nsec: it.st.mtime_nsec(),
        ctime: it.st.ctime(),
        ctime_nsec: it.st.ctime_nsec(),
        xattrs: meta.xattrs.clone(),
        id,
    });
    Ok(Some((Entry { path: it.rel.clone(), kind, meta }, rec, hit)))
}
