//! Write transactions. Every write to the store goes through a [`Txn`]:
//!
//! - Each object a transaction writes *or relies on* is first recorded in its lease file
//!   (`tmp/<txn>.lease`, held with an exclusive `flock` while the writer lives), under a shared
//!   lock on the store's `lock` file. gc takes that lock exclusively while it reads leases and
//!   sweeps, so an object the writer found present cannot be swept before the writer's ref lands.
//! - New objects are staged next to their final place as `objects/ab/.stage-<txn>-<hex>`, made
//!   durable with one `syncfs`, then renamed to `objects/ab/<hex>` (never replacing an existing
//!   object) and the directories synced again, before any ref points at them. Names starting
//!   with `.` are never objects, so a killed writer leaves only staged files that gc removes once
//!   the writer's lease is dead.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;
use rustix::fs::{FlockOperation, RenameFlags};

use crate::chunk::{Chunk, ChunkIndex};
use crate::digest::{Algorithm, Digest, ObjectId};
use crate::error::{Error, IoContext, Result};
use crate::hashing::Hashers;
use crate::meta::{self, Meta};
use crate::refs::RefName;
use crate::store::Cas;

/// What a put stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PutOutcome {
    /// Native address of the content.
    pub id: ObjectId,
    /// Logical size.
    pub size: u64,
    /// Number of chunks (0 if stored whole).
    pub chunks: usize,
    /// True if the content was already in the store (nothing new written for it).
    pub existed: bool,
    /// SHA-2 digests recorded as aliases.
    pub aliases: Vec<Digest>,
}

/// The store-wide lock plus this transaction's lease. Writers hold the lock shared while they
/// record ids in the lease and check presence; gc holds it exclusively while it reads leases and
/// sweeps. Several threads of one transaction share one descriptor, so the flock is taken by the
/// first holder and released by the last — and lease records are buffered until then: gc cannot
/// read the lease before the lock is released, so writing them just before is enough. A long
/// operation holds the lock across many objects ([`Txn::hold`]) and pays one write for them all.
struct StoreLock {
    file: File,
    lease: File,
    lease_path: PathBuf,
    inner: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    holders: usize,
    unwritten: Vec<u8>,
}

struct SharedGuard<'a>(&'a StoreLock);

impl StoreLock {
    fn open(cas: &Cas, lease: File, lease_path: PathBuf) -> Result<Self> {
        let p = cas.root.join("lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&p)
            .ctx("open store lock", &p)?;
        Ok(StoreLock { file, lease, lease_path, inner: Mutex::new(Held::default()) })
    }

    fn shared(&self) -> Result<SharedGuard<'_>> {
        let mut h = self.inner.lock().expect("lock poisoned");
        if h.holders == 0 {
            rustix::fs::flock(&self.file, FlockOperation::LockShared).ctx("lock store", "lock")?;
        }
        h.holders += 1;
        Ok(SharedGuard(self))
    }
}

impl SharedGuard<'_> {
    /// Add ids to the lease (written before the lock is released).
    fn record(&self, ids: &[ObjectId]) {
        let mut h = self.0.inner.lock().expect("lock poisoned");
        for id in ids {
            h.unwritten.extend_from_slice(&id.0);
        }
    }

    /// Release, writing buffered lease records first if this is the last holder.
    fn release(self) -> Result<()> {
        let res = {
            let mut h = self.0.inner.lock().expect("lock poisoned");
            if h.holders == 1 && !h.unwritten.is_empty() {
                let buf = std::mem::take(&mut h.unwritten);
                (&self.0.lease).write_all(&buf).ctx("write lease", &self.0.lease_path)
            } else {
                Ok(())
            }
        };
        drop(self);
        res
    }
}

impl Drop for SharedGuard<'_> {
    fn drop(&mut self) {
        let mut h = self.0.inner.lock().expect("lock poisoned");
        h.holders -= 1;
        if h.holders == 0 {
            if !h.unwritten.is_empty() {
                // Only reached when release() was skipped (a panic): never let gc see the lock
                // free while ids it should respect are unwritten.
                let buf = std::mem::take(&mut h.unwritten);
                let _ = (&self.0.lease).write_all(&buf);
            }
            let _ = rustix::fs::flock(&self.0.file, FlockOperation::Unlock);
        }
    }
}

/// Holds the store lock shared for the lifetime of the value (see [`Txn::hold`]).
#[must_use = "the lock is released when this is dropped"]
pub struct Hold<'a>(Option<SharedGuard<'a>>);

impl Hold<'_> {
    /// Release now, reporting a failure to write the lease.
    ///
    /// # Errors
    /// I/O errors writing the lease.
    pub fn release(mut self) -> Result<()> {
        self.0.take().map_or(Ok(()), SharedGuard::release)
    }
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        if let Some(g) = self.0.take() {
            let _ = g.release();
        }
    }
}

/// Take the store lock exclusively (gc). Blocks until writers leave their critical sections.
pub(crate) fn lock_exclusive(cas: &Cas) -> Result<File> {
    let p = cas.root.join("lock");
    let f =
        OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&p).ctx("open store lock", &p)?;
    rustix::fs::flock(&f, FlockOperation::LockExclusive).ctx("lock store", &p)?;
    Ok(f)
}

#[derive(Default)]
struct State {
    /// Objects staged by this transaction: id → (staged file, final file).
    pending: HashMap<ObjectId, (PathBuf, PathBuf)>,
    aliases: Vec<(Digest, ObjectId)>,
    /// Ids already written to the lease (avoid re-recording).
    leased: HashSet<ObjectId>,
}

/// A write transaction. Dropping it without [`Txn::commit`] discards what it staged.
pub struct Txn<'a> {
    cas: &'a Cas,
    /// Prefix of staged file names: `.stage-<txn>-`.
    stage: String,
    lease_path: PathBuf,
    lock: StoreLock,
    state: Mutex<State>,
    generation: u64,
    done: bool,
}

impl std::fmt::Debug for Txn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Txn").field("name", &self.stage).finish_non_exhaustive()
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Staged files are named `.stage-<txn>-<hex>[.idx]` inside the fanout directories.
pub(crate) const STAGE_PREFIX: &str = ".stage-";

impl Cas {
    /// Start a write transaction.
    ///
    /// # Errors
    /// I/O errors creating the staging directory or lease.
    pub fn begin(&self) -> Result<Txn<'_>> {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let name = format!("txn-{}-{nanos:x}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let tmp = self.tmp_dir();
        let lease_path = tmp.join(format!("{name}.lease"));
        // Locked before it gets the name gc looks for, so gc never sees it unlocked while alive.
        let fresh = tmp.join(format!("{name}.new"));
        let lease = OpenOptions::new()
            .create_new(true)
            .append(true)
            .read(true)
            .mode(0o600)
            .open(&fresh)
            .ctx("create lease", &fresh)?;
        rustix::fs::flock(&lease, FlockOperation::NonBlockingLockExclusive).ctx("lock lease", &fresh)?;
        fs::rename(&fresh, &lease_path).ctx("create lease", &lease_path)?;
        let stage = format!("{STAGE_PREFIX}{name}-");
        let lock = StoreLock::open(self, lease, lease_path.clone())?;
        let generation = {
            let _g = lock.shared()?;
            self.generation()
        };
        Ok(Txn { generation, cas: self, stage, lease_path, lock, state: Mutex::new(State::default()), done: false })
    }
}

impl<'a> Txn<'a> {
    /// The store's gc generation when this transaction began. Every id it protects was
    /// present at that generation or later.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The store this transaction writes to.
    pub fn cas(&self) -> &'a Cas {
        self.cas
    }

    /// Record `id` in the lease and report whether it is already stored (or staged here). After
    /// this returns `true`, gc will not remove the object while the transaction lives.
    ///
    /// # Errors
    /// I/O errors on the lease or lock.
    pub fn protect(&self, id: &ObjectId) -> Result<bool> {
        self.protect_as(id, false)
    }

    /// Protect, checking only for a whole object when `whole` (content below the chunk
    /// threshold is never stored chunked by this store's options).
    fn protect_as(&self, id: &ObjectId, whole: bool) -> Result<bool> {
        let g = self.lock.shared()?;
        {
            let mut st = self.state.lock().expect("lock poisoned");
            if st.pending.contains_key(id) {
                return g.release().map(|()| true);
            }
            if st.leased.insert(*id) {
                g.record(std::slice::from_ref(id));
            }
        }
        let present = if whole { self.cas.blob_path(id).exists() } else { self.cas.has(id) };
        g.release()?;
        Ok(present)
    }

    /// Hold the store lock shared until the returned value is dropped, so that a run of puts
    /// and protects pays for one lock and one lease write. gc waits meanwhile.
    ///
    /// # Errors
    /// I/O errors taking the lock.
    pub fn hold(&self) -> Result<Hold<'_>> {
        Ok(Hold(Some(self.lock.shared()?)))
    }

    /// [`Txn::protect`] for many ids at once: one lock, one lease write. Returns, per id,
    /// whether it is stored. If `known_at` is the store's current gc generation (see
    /// [`Cas::generation`]), no gc has removed anything since the caller last saw these ids
    /// stored, so their presence is not checked one by one.
    ///
    /// # Errors
    /// I/O errors on the lease or lock.
    pub fn protect_many(&self, ids: &[ObjectId], known_at: Option<u64>) -> Result<Vec<bool>> {
        let g = self.lock.shared()?;
        let staged: Vec<bool> = {
            let mut st = self.state.lock().expect("lock poisoned");
            let staged = ids.iter().map(|id| st.pending.contains_key(id)).collect();
            let new: Vec<ObjectId> = ids.iter().filter(|id| st.leased.insert(**id)).copied().collect();
            g.record(&new);
            staged
        };
        let present = if known_at.is_some() && known_at == Some(self.cas.generation()) {
            vec![true; ids.len()]
        } else {
            ids.par_iter().zip(staged).map(|(id, s)| s || self.cas.has(id)).collect()
        };
        g.release()?;
        Ok(present)
    }

    /// Claim `id` for staging; false if another thread of this transaction already did.
    fn claim(&self, id: &ObjectId, suffix: &str) -> Option<PathBuf> {
        let mut st = self.state.lock().expect("lock poisoned");
        if st.pending.contains_key(id) {
            return None;
        }
        let hex = id.to_hex();
        let dir = self.cas.objects_dir().join(&hex[..2]);
        let staged = dir.join(format!("{}{hex}{suffix}", self.stage));
        let fin = dir.join(format!("{hex}{suffix}"));
        st.pending.insert(*id, (staged.clone(), fin));
        Some(staged)
    }

    fn stage_bytes(&self, id: &ObjectId, suffix: &str, data: &[u8], meta: &Meta) -> Result<()> {
        let Some(staged) = self.claim(id, suffix) else { return Ok(()) };
        let create = || OpenOptions::new().write(true).create_new(true).mode(0o600).open(&staged);
        let mut f = match create() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let dir = staged.parent().expect("fanout dir");
                fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).ctx("create fanout directory", dir)?;
                create()
            }
            other => other,
        }
        .ctx("stage object", &staged)?;
        f.write_all(data).ctx("write object", &staged)?;
        meta::apply_new_fd(&f, meta).ctx("set object metadata", &staged)?;
        Ok(())
    }

    /// Store bytes held in memory as one whole object (no chunking), with the given metadata if
    /// it is new.
    ///
    /// # Errors
    /// I/O errors.
    pub fn put_bytes(&self, data: &[u8], meta: Option<&Meta>) -> Result<PutOutcome> {
        let id = ObjectId::of(data);
        let existed = self.put_known(id, data, meta)?;
        Ok(PutOutcome { id, size: data.len() as u64, chunks: 0, existed, aliases: Vec::new() })
    }

    fn put_known(&self, id: ObjectId, data: &[u8], meta: Option<&Meta>) -> Result<bool> {
        if self.protect_as(&id, true)? {
            return Ok(true);
        }
        let neutral;
        let meta = match meta {
            Some(m) => m,
            None => {
                neutral = Meta::neutral();
                &neutral
            }
        };
        self.stage_bytes(&id, "", data, meta)?;
        Ok(false)
    }

    /// Store a stream. Content up to the chunk threshold is stored whole; larger content is
    /// split into FastCDC chunks plus an index. `also` lists SHA-2 digests to compute on the
    /// same pass and record as aliases. Memory use is bounded by the threshold.
    ///
    /// # Errors
    /// Read errors on `r` (reported against `what`), I/O errors in the store.
    pub fn put_reader(
        &self,
        r: &mut dyn Read,
        what: &Path,
        also: &[Algorithm],
        meta: Option<&Meta>,
    ) -> Result<PutOutcome> {
        let opts = &self.cas.opts;
        let limit = opts.chunk_threshold;
        let mut head = Vec::new();
        r.take(limit + 1).read_to_end(&mut head).ctx("read", what)?;
        let mut algos = vec![Algorithm::Blake3];
        algos.extend(also.iter().copied().filter(|a| *a != Algorithm::Blake3));
        let mut hs = Hashers::new(&algos);
        if head.len() as u64 <= limit {
            hs.update(&head);
            let digests = hs.finish();
            let id = digests[0].object_id().expect("blake3 first");
            let existed = self.put_known(id, &head, meta)?;
            let aliases = self.record_aliases(id, &digests[1..]);
            return Ok(PutOutcome { id, size: head.len() as u64, chunks: 0, existed, aliases });
        }
        let reader = io::Cursor::new(head).chain(r);
        let chunker = fastcdc::v2020::StreamCDC::new(reader, opts.chunk_min, opts.chunk_avg, opts.chunk_max);
        // Cutting chunks and hashing the whole stream is sequential; hashing and staging each
        // chunk runs on a second thread. The channel bounds what is in memory to a few chunks.
        let (chunks, all_existed) = std::thread::scope(|s| -> Result<(Vec<Chunk>, bool)> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(16);
            let writer = s.spawn(move || -> Result<(Vec<Chunk>, bool)> {
                let (mut chunks, mut existed) = (Vec::new(), true);
                for data in rx {
                    let cid = ObjectId::of(&data);
                    existed &= self.put_known(cid, &data, None)?;
                    chunks.push(Chunk { id: cid, len: data.len() as u32 });
                }
                Ok((chunks, existed))
            });
            let mut read_error = None;
            for chunk in chunker {
                match chunk {
                    Ok(c) => {
                        hs.update(&c.data);
                        if tx.send(c.data).is_err() {
                            break; // the writer failed; its error is reported below
                        }
                    }
                    Err(e) => {
                        read_error = Some(match e {
                            fastcdc::v2020::Error::IoError(e) => Error::io("read", what, e),
                            other => Error::io("read", what, io::Error::other(other.to_string())),
                        });
                        break;
                    }
                }
            }
            drop(tx);
            let written = writer.join().expect("chunk writer panicked");
            match read_error {
                Some(e) => Err(e),
                None => written,
            }
        })?;
        let idx = ChunkIndex { size: chunks.iter().map(|c| u64::from(c.len)).sum(), chunks };
        let digests = hs.finish();
        let id = digests[0].object_id().expect("blake3 first");
        let existed = if self.protect(&id)? {
            true
        } else {
            self.stage_bytes(&id, ".idx", &idx.encode(), &Meta::neutral())?;
            false
        };
        let aliases = self.record_aliases(id, &digests[1..]);
        Ok(PutOutcome { id, size: idx.size, chunks: idx.chunks.len(), existed: existed && all_existed, aliases })
    }

    /// Store a stream as one whole object whatever its size: no chunking. For content that
    /// chunking cannot deduplicate (compressed archives, say), this costs one file instead of
    /// thousands. The stream is written to a temporary file while a second thread hashes it;
    /// memory use is a few megabytes.
    ///
    /// # Errors
    /// Read errors on `r` (reported against `what`), I/O errors in the store.
    pub fn put_stream_whole(&self, r: &mut dyn Read, what: &Path, also: &[Algorithm]) -> Result<PutOutcome> {
        static PART: AtomicU64 = AtomicU64::new(0);
        let part = self.cas.tmp_dir().join(format!(
            "variant-{}-part-{}",
            std::process::id(),
            PART.fetch_add(1, Ordering::Relaxed)
        ));
        let mut algos = vec![Algorithm::Blake3];
        algos.extend(also.iter().copied().filter(|a| *a != Algorithm::Blake3));
        let result = (|| -> Result<PutOutcome> {
            let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&part).ctx("create", &part)?;
            let (size, digests) = std::thread::scope(|s| -> Result<(u64, Vec<Digest>)> {
                let (tx, rx) = std::sync::mpsc::sync_channel::<std::sync::Arc<Vec<u8>>>(2);
                let hasher = s.spawn(move || {
                    let mut hs = Hashers::new(&algos);
                    for block in rx {
                        hs.update(&block);
                    }
                    hs.finish()
                });
                let mut size = 0u64;
                let outcome = (|| -> Result<()> {
                    loop {
                        let mut buf = vec![0u8; 256 << 10];
                        let filled = crate::store::read_full(r, &mut buf).map_err(|e| Error::io("read", what, e))?;
                        if filled == 0 {
                            return Ok(());
                        }
                        buf.truncate(filled);
                        f.write_all(&buf).ctx("write object", &part)?;
                        size += filled as u64;
                        let _ = tx.send(std::sync::Arc::new(buf));
                    }
                })();
                drop(tx);
                let digests = hasher.join().expect("hasher panicked");
                outcome.map(|()| (size, digests))
            })?;
            let id = digests[0].object_id().expect("blake3 first");
            let existed = self.protect_as(&id, true)?;
            if !existed {
                meta::apply_new_fd(&f, &Meta::neutral()).ctx("set object metadata", &part)?;
                drop(f);
                // (None: another thread of this transaction staged the same content.)
                if let Some(staged) = self.claim(&id, "") {
                    let dir = staged.parent().expect("fanout dir");
                    fs::DirBuilder::new()
                        .recursive(true)
                        .mode(0o700)
                        .create(dir)
                        .ctx("create fanout directory", dir)?;
                    fs::rename(&part, &staged).ctx("stage object", &staged)?;
                }
            }
            let aliases = self.record_aliases(id, &digests[1..]);
            Ok(PutOutcome { id, size, chunks: 0, existed, aliases })
        })();
        let _ = fs::remove_file(&part);
        result
    }

    /// Store a file from disk (whole or chunked by size), with `meta` for a new whole object.
    ///
    /// # Errors
    /// [`Error::SourceNotFound`], [`Error::PermissionDenied`], other I/O errors.
    pub fn put_file(&self, path: &Path, also: &[Algorithm], meta: Option<&Meta>) -> Result<PutOutcome> {
        self.put_file_sized(path, None, also, meta)
    }

    /// [`Txn::put_file`] for a regular file whose size the caller already knows (from a walk),
    /// saving a stat and reading exactly that many bytes.
    pub(crate) fn put_file_sized(
        &self,
        path: &Path,
        known_len: Option<u64>,
        also: &[Algorithm],
        meta: Option<&Meta>,
    ) -> Result<PutOutcome> {
        let mut f = File::open(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::SourceNotFound(path.to_path_buf()),
            _ => Error::io("open", path, e),
        })?;
        let len = match known_len {
            Some(l) => Some(l),
            // Pipes and devices have no meaningful size: they are streamed.
            None => Some(f.metadata().ctx("stat", path)?).filter(|m| m.is_file()).map(|m| m.len()),
        };
        match len {
            Some(len) if len <= self.cas.opts.chunk_threshold && also.is_empty() => {
                let mut data = vec![0u8; len as usize];
                f.read_exact(&mut data).map_err(|e| match e.kind() {
                    io::ErrorKind::UnexpectedEof => {
                        Error::io("read", path, io::Error::other("the file shrank while it was being stored"))
                    }
                    _ => Error::io("read", path, e),
                })?;
                self.put_bytes(&data, meta)
            }
            _ => self.put_reader(&mut f, path, also, meta),
        }
    }

    /// Open an object for reading: one this transaction staged (not yet visible to anyone else)
    /// or one already in the store.
    ///
    /// # Errors
    /// [`Error::ObjectNotFound`], I/O errors.
    pub fn open_object(&self, id: &ObjectId) -> Result<crate::store::ObjectReader<'static>> {
        let staged = |id: &ObjectId| self.state.lock().expect("lock poisoned").pending.get(id).cloned();
        match staged(id) {
            None => self.cas.open_object_at(id, 0),
            Some((staged_path, fin)) if fin.to_string_lossy().ends_with(".idx") => {
                let bytes = fs::read(&staged_path).ctx("read staged chunk index", &staged_path)?;
                let idx = crate::chunk::ChunkIndex::decode(&bytes)
                    .map_err(|reason| Error::Malformed { digest: format!("chunk index {id}"), reason })?;
                let paths = idx
                    .chunks
                    .iter()
                    .map(|c| staged(&c.id).map_or_else(|| self.cas.blob_path(&c.id), |(p, _)| p))
                    .collect();
                Ok(crate::store::ObjectReader::from_chunks(paths))
            }
            Some((staged_path, _)) => {
                let f = File::open(&staged_path).ctx("open staged object", &staged_path)?;
                Ok(crate::store::ObjectReader::from_file(f))
            }
        }
    }

    /// Record that `digest` (a SHA-2 digest of the same bytes) names `id`.
    pub fn add_alias(&self, digest: Digest, id: ObjectId) {
        if digest.algorithm != Algorithm::Blake3 {
            self.state.lock().expect("lock poisoned").aliases.push((digest, id));
        }
    }

    fn record_aliases(&self, id: ObjectId, digests: &[Digest]) -> Vec<Digest> {
        for d in digests {
            self.add_alias(d.clone(), id);
        }
        digests.to_vec()
    }

    /// Make everything staged durable and visible, then point `reference` (if any) at `root`.
    /// Returns the number of new objects.
    ///
    /// # Errors
    /// I/O errors; on error nothing is referenced and staged objects are discarded.
    pub fn commit(self, reference: Option<(&RefName, &ObjectId)>) -> Result<usize> {
        match reference {
            Some(r) => self.commit_refs(&[r]),
            None => self.commit_refs(&[]),
        }
    }

    /// As [`Txn::commit`], pointing several refs while the transaction still protects what it
    /// wrote, so that none of them can dangle because of a gc in between. Refs are set in order;
    /// on an error the ones already set stay (each is a complete, valid ref).
    ///
    /// # Errors
    /// As [`Txn::commit`].
    pub fn commit_refs(mut self, refs: &[(&RefName, &ObjectId)]) -> Result<usize> {
        let st = {
            let mut g = self.state.lock().expect("lock poisoned");
            State { pending: g.pending.clone(), aliases: std::mem::take(&mut g.aliases), leased: HashSet::new() }
        };
        let n = st.pending.len();
        if n > 0 {
            let objects = File::open(self.cas.objects_dir()).ctx("open objects", self.cas.objects_dir())?;
            let t0 = std::time::Instant::now();
            rustix::fs::syncfs(&objects).ctx("sync store", self.cas.objects_dir())?;
            tracing::debug!(objects = n, elapsed = ?t0.elapsed(), "staged objects synced");
            let pending: Vec<_> = st.pending.values().collect();
            pending.par_iter().try_for_each(|(staged, fin)| {
                match rustix::fs::renameat_with(rustix::fs::CWD, staged, rustix::fs::CWD, fin, RenameFlags::NOREPLACE) {
                    Ok(()) => Ok(()),
                    // Another writer stored the same content first: theirs is as good as ours.
                    Err(rustix::io::Errno::EXIST) => {
                        let _ = fs::remove_file(staged);
                        Ok(())
                    }
                    Err(e) => Err(Error::io("publish object", fin.clone(), e.into())),
                }
            })?;
            // Published: nothing left for finish() to discard.
            self.state.lock().expect("lock poisoned").pending.clear();
        }
        for (digest, id) in &st.aliases {
            crate::refs::write_alias(self.cas, digest, id)?;
        }
        tracing::debug!("objects published");
        if n > 0 || !st.aliases.is_empty() {
            let objects = File::open(self.cas.objects_dir()).ctx("open objects", self.cas.objects_dir())?;
            rustix::fs::syncfs(&objects).ctx("sync store", self.cas.objects_dir())?;
        }
        for (name, id) in refs {
            self.cas.set_ref(name, id)?;
        }
        self.finish();
        Ok(n)
    }

    /// Drop the lease. Done under the shared lock so that a gc, which reads refs and then
    /// leases under the exclusive lock, sees either the new ref or the lease.
    fn finish(&mut self) {
        self.done = true;
        let _g = self.lock.shared();
        for (staged, _) in self.state.lock().expect("lock poisoned").pending.values() {
            let _ = fs::remove_file(staged);
        }
        let _ = fs::remove_file(&self.lease_path);
    }
}

impl Drop for Txn<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.finish();
        }
    }
}

/// Ids listed in a lease file.
pub(crate) fn read_lease(path: &Path) -> io::Result<Vec<ObjectId>> {
    let bytes = fs::read(path)?;
    Ok(bytes
        .chunks_exact(32)
        .map(|c| {
            let mut a = [0u8; 32];
            a.copy_from_slice(c);
            ObjectId(a)
        })
        .collect())
}

/// Is the lease at `path` held by a live writer? (A dead writer's flock is gone.)
pub(crate) fn lease_is_live(path: &Path) -> bool {
    match File::open(path) {
        Ok(f) => match rustix::fs::flock(&f, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => false,
            Err(_) => true,
        },
        Err(_) => false,
    }
}
