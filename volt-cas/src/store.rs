//! The store itself: layout on disk, opening, reading objects and resolving aliases.

use std::fs::{self, File};
use std::io::{self, Read, Seek};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::chunk::ChunkIndex;
use crate::digest::{Algorithm, Digest, ObjectId};
use crate::error::{Error, IoContext, Result};
use crate::tree::TREE_MAGIC;

/// Tunables of a store. The defaults suit root filesystems and VM disks alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Options {
    /// Objects larger than this are split into content-defined chunks; smaller ones are stored
    /// whole (bytes).
    pub chunk_threshold: u64,
    /// FastCDC minimum chunk size (bytes).
    pub chunk_min: u32,
    /// FastCDC average chunk size (bytes).
    pub chunk_avg: u32,
    /// FastCDC maximum chunk size (bytes).
    pub chunk_max: u32,
    /// Where `build` keeps its stat cache (safe to delete). `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            chunk_threshold: 4 << 20,
            chunk_min: 16 << 10,
            chunk_avg: 64 << 10,
            chunk_max: 256 << 10,
            cache_dir: None,
        }
    }
}

impl Options {
    /// Set where `build` keeps its stat cache.
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Set the chunking threshold and the FastCDC minimum, average and maximum chunk sizes.
    pub fn with_chunking(mut self, threshold: u64, min: u32, avg: u32, max: u32) -> Self {
        self.chunk_threshold = threshold;
        self.chunk_min = min;
        self.chunk_avg = avg;
        self.chunk_max = max;
        self
    }

    /// Check the chunking parameters against what FastCDC accepts.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] naming the first bad value.
    pub fn validate(&self) -> Result<()> {
        use fastcdc::v2020::{AVERAGE_MAX, AVERAGE_MIN, MAXIMUM_MAX, MAXIMUM_MIN, MINIMUM_MAX, MINIMUM_MIN};
        let bad = |m: String| Err(Error::InvalidOption(m));
        if !(MINIMUM_MIN..=MINIMUM_MAX).contains(&self.chunk_min) {
            return bad(format!("chunk_min {} outside {MINIMUM_MIN}..={MINIMUM_MAX}", self.chunk_min));
        }
        if !(AVERAGE_MIN..=AVERAGE_MAX).contains(&self.chunk_avg) {
            return bad(format!("chunk_avg {} outside {AVERAGE_MIN}..={AVERAGE_MAX}", self.chunk_avg));
        }
        if !(MAXIMUM_MIN..=MAXIMUM_MAX).contains(&self.chunk_max) {
            return bad(format!("chunk_max {} outside {MAXIMUM_MIN}..={MAXIMUM_MAX}", self.chunk_max));
        }
        if !(self.chunk_min <= self.chunk_avg && self.chunk_avg <= self.chunk_max) {
            return bad("chunk sizes must satisfy min <= avg <= max".into());
        }
        if self.chunk_threshold < u64::from(self.chunk_max) {
            return bad(format!("chunk_threshold {} is below chunk_max {}", self.chunk_threshold, self.chunk_max));
        }
        Ok(())
    }
}

/// How an object is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    /// Stored whole as one file.
    Blob,
    /// Split into content-defined chunks listed by an index.
    Chunked,
}

/// What `stat` says of an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    /// Native address.
    pub id: ObjectId,
    /// Whole or chunked.
    pub kind: ObjectKind,
    /// Logical size in bytes.
    pub size: u64,
    /// Number of chunks (0 for whole blobs).
    pub chunks: usize,
    /// True if the object is a tree (a directory snapshot).
    pub tree: bool,
    /// SHA-2 aliases recorded for it.
    pub aliases: Vec<Digest>,
}

/// A content-addressed store rooted at one directory (`objects/`, `refs/`, `aliases/`, `tmp/`).
#[derive(Debug)]
pub struct Cas {
    pub(crate) root: PathBuf,
    pub(crate) opts: Options,
}

const DIRS: [&str; 4] = ["objects", "refs", "aliases", "tmp"];

impl Cas {
    /// Open the store at `root`, creating its directories if needed.
    ///
    /// # Errors
    /// Invalid options, or the directories cannot be created.
    pub fn open(root: impl Into<PathBuf>, opts: Options) -> Result<Self> {
        opts.validate()?;
        let root = root.into();
        for d in DIRS {
            let p = root.join(d);
            fs::DirBuilder::new().recursive(true).mode(0o700).create(&p).ctx("create store directory", &p)?;
        }
        let lock = root.join("lock");
        if !lock.exists() {
            File::create(&lock).ctx("create lock file", &lock)?;
        }
        // A new store starts its gc generation at an arbitrary value, so a build cache left
        // over from an earlier store at the same path never matches it.
        let generation = root.join("generation");
        if !generation.exists() {
            let start = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1);
            crate::refs::write_atomic(&generation, format!("{start}\n").as_bytes())?;
        }
        Ok(Cas { root, opts })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The options it was opened with.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    pub(crate) fn objects_dir(&self) -> PathBuf {
        self.root.join("objects")
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Path of a whole object (`objects/ab/abcd…`).
    pub(crate) fn blob_path(&self, id: &ObjectId) -> PathBuf {
        let h = id.to_hex();
        self.root.join("objects").join(&h[..2]).join(h)
    }

    /// Path of a chunked object's index (`objects/ab/abcd….idx`).
    pub(crate) fn index_path(&self, id: &ObjectId) -> PathBuf {
        let h = id.to_hex();
        self.root.join("objects").join(&h[..2]).join(format!("{h}.idx"))
    }

    /// Path of a checkout variant: the object's bytes with other metadata (`….m<key>`).
    pub(crate) fn variant_path(&self, id: &ObjectId, key: &str) -> PathBuf {
        let h = id.to_hex();
        self.root.join("objects").join(&h[..2]).join(format!("{h}.m{key}"))
    }

    pub(crate) fn alias_path(&self, d: &Digest) -> PathBuf {
        let h = d.hex();
        self.root.join("aliases").join(d.algorithm.name()).join(&h[..2]).join(h)
    }

    /// How the object is stored, if it is.
    pub(crate) fn kind_of(&self, id: &ObjectId) -> Option<ObjectKind> {
        if self.blob_path(id).exists() {
            Some(ObjectKind::Blob)
        } else if self.index_path(id).exists() {
            Some(ObjectKind::Chunked)
        } else {
            None
        }
    }

    /// The gc generation: a counter gc raises (durably, before deleting anything) on every
    /// sweep that removes objects. Equal generations mean no object was removed in between.
    pub fn generation(&self) -> u64 {
        fs::read_to_string(self.root.join("generation")).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0)
    }

    /// Is an object with this native id stored?
    pub fn has(&self, id: &ObjectId) -> bool {
        self.kind_of(id).is_some()
    }

    /// Map any digest (BLAKE3, or a recorded SHA-2 alias) to the stored object.
    ///
    /// # Errors
    /// [`Error::ObjectNotFound`] if nothing is stored under it.
    pub fn resolve(&self, d: &Digest) -> Result<ObjectId> {
        let id = match d.object_id() {
            Some(id) => id,
            None => {
                let p = self.alias_path(d);
                let text = match fs::read_to_string(&p) {
                    Ok(t) => t,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Error::ObjectNotFound(d.to_string())),
                    Err(e) => return Err(Error::io("read alias", p, e)),
                };
                text.trim().parse::<ObjectId>().map_err(|_| Error::Malformed {
                    digest: format!("alias {d}"),
                    reason: "the alias file does not hold a blake3 digest".into(),
                })?
            }
        };
        if self.has(&id) {
            Ok(id)
        } else {
            Err(Error::ObjectNotFound(d.to_string()))
        }
    }

    pub(crate) fn reverse_alias_path(&self, id: &ObjectId, algo: Algorithm) -> PathBuf {
        let h = id.to_hex();
        self.root.join("aliases").join("by-object").join(&h[..2]).join(format!("{h}.{}", algo.name()))
    }

    /// SHA-2 aliases recorded for `id`.
    pub fn aliases_of(&self, id: &ObjectId) -> Vec<Digest> {
        [Algorithm::Sha256, Algorithm::Sha512]
            .into_iter()
            .filter_map(|a| fs::read_to_string(self.reverse_alias_path(id, a)).ok())
            .filter_map(|t| t.trim().parse().ok())
            .collect()
    }

    pub(crate) fn read_index(&self, id: &ObjectId) -> Result<ChunkIndex> {
        let p = self.index_path(id);
        let bytes = fs::read(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::ObjectNotFound(id.to_string()),
            _ => Error::io("read chunk index", &p, e),
        })?;
        ChunkIndex::decode(&bytes).map_err(|reason| Error::Malformed { digest: format!("chunk index {id}"), reason })
    }

    /// Open an object for streaming reads.
    ///
    /// # Errors
    /// [`Error::ObjectNotFound`], or I/O errors.
    pub fn open_object(&self, id: &ObjectId) -> Result<ObjectReader<'_>> {
        self.open_object_at(id, 0)
    }

    /// Open an object for streaming reads from byte `offset` (clamped to its size). The reader
    /// does not borrow the store, so it can move to another thread or task.
    ///
    /// # Errors
    /// [`Error::ObjectNotFound`], or I/O errors.
    pub fn open_object_at(&self, id: &ObjectId, offset: u64) -> Result<ObjectReader<'static>> {
        let p = self.blob_path(id);
        match File::open(&p) {
            Ok(mut f) => {
                if offset > 0 {
                    f.seek(io::SeekFrom::Start(offset)).map_err(|e| Error::io("seek object", &p, e))?;
                }
                Ok(ObjectReader { _store: std::marker::PhantomData, inner: Inner::Blob(f) })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let idx = self.read_index(id)?;
                let (mut skip, mut first) = (offset, idx.chunks.len());
                for (i, c) in idx.chunks.iter().enumerate() {
                    if skip < u64::from(c.len) {
                        first = i;
                        break;
                    }
                    skip -= u64::from(c.len);
                }
                let chunks: Vec<PathBuf> = idx.chunks[first..].iter().map(|c| self.blob_path(&c.id)).collect();
                let mut r = ObjectReader {
                    _store: std::marker::PhantomData,
                    inner: Inner::Chunks { chunks, next: 0, cur: None },
                };
                if first < idx.chunks.len() && skip > 0 {
                    r.open_next_chunk()?;
                    if let Inner::Chunks { cur: Some(f), .. } = &mut r.inner {
                        f.seek(io::SeekFrom::Start(skip)).map_err(|e| Error::io("seek chunk", &p, e))?;
                    }
                }
                Ok(r)
            }
            Err(e) => Err(Error::io("open object", p, e)),
        }
    }

    /// Read a whole object into memory (for trees and small objects).
    ///
    /// # Errors
    /// As [`Cas::open_object`].
    pub fn read(&self, id: &ObjectId) -> Result<Vec<u8>> {
        let mut r = self.open_object(id)?;
        let mut v = Vec::new();
        r.read_to_end(&mut v).map_err(|e| Error::io("read object", self.blob_path(id), e))?;
        Ok(v)
    }

    /// Stream an object into `out`, returning the number of bytes written.
    ///
    /// # Errors
    /// As [`Cas::open_object`], plus write errors on `out`.
    pub fn get(&self, d: &Digest, out: &mut dyn io::Write) -> Result<u64> {
        let id = self.resolve(d)?;
        let mut r = self.open_object(&id)?;
        let mut buf = vec![0u8; 256 << 10];
        let mut n = 0u64;
        loop {
            let k = match r.read(&mut buf) {
                Ok(0) => return Ok(n),
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("read object", self.blob_path(&id), e)),
            };
            out.write_all(&buf[..k]).map_err(Error::Output)?;
            n += k as u64;
        }
    }

    /// Describe an object.
    ///
    /// # Errors
    /// [`Error::ObjectNotFound`], or I/O errors.
    pub fn stat(&self, d: &Digest) -> Result<ObjectInfo> {
        let id = self.resolve(d)?;
        let (kind, size, chunks) = match self.kind_of(&id) {
            Some(ObjectKind::Blob) => {
                let p = self.blob_path(&id);
                let m = fs::metadata(&p).ctx("stat object", &p)?;
                (ObjectKind::Blob, m.size(), 0)
            }
            Some(ObjectKind::Chunked) => {
                let idx = self.read_index(&id)?;
                (ObjectKind::Chunked, idx.size, idx.chunks.len())
            }
            None => return Err(Error::ObjectNotFound(d.to_string())),
        };
        let mut head = [0u8; 8];
        let tree = size >= 8 && {
            let mut r = self.open_object(&id)?;
            r.read_exact(&mut head).is_ok() && head == *TREE_MAGIC
        };
        Ok(ObjectInfo { id, kind, size, chunks, tree, aliases: self.aliases_of(&id) })
    }
}

/// Read until `buf` is full or the stream ends (retrying interrupted reads); returns the bytes
/// read, fewer than `buf.len()` only at the end of the stream.
///
/// # Errors
/// The first read error other than an interruption.
pub fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A streaming reader over one object, whole or chunked.
pub struct ObjectReader<'a> {
    _store: std::marker::PhantomData<&'a Cas>,
    inner: Inner,
}

enum Inner {
    Blob(File),
    Chunks { chunks: Vec<PathBuf>, next: usize, cur: Option<File> },
}

impl ObjectReader<'_> {
    pub(crate) fn from_file(f: File) -> ObjectReader<'static> {
        ObjectReader { _store: std::marker::PhantomData, inner: Inner::Blob(f) }
    }

    pub(crate) fn from_chunks(chunks: Vec<PathBuf>) -> ObjectReader<'static> {
        ObjectReader { _store: std::marker::PhantomData, inner: Inner::Chunks { chunks, next: 0, cur: None } }
    }

    fn open_next_chunk(&mut self) -> Result<bool> {
        let Inner::Chunks { chunks, next, cur } = &mut self.inner else { return Ok(false) };
        if *next >= chunks.len() {
            *cur = None;
            return Ok(false);
        }
        let p = &chunks[*next];
        *next += 1;
        *cur = Some(File::open(p).map_err(|e| Error::io("open chunk", p, e))?);
        Ok(true)
    }
}

impl std::fmt::Debug for ObjectReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader").finish_non_exhaustive()
    }
}

impl Read for ObjectReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Blob(f) => f.read(buf),
            Inner::Chunks { .. } => loop {
                if let Inner::Chunks { cur: Some(f), .. } = &mut self.inner {
                    let n = f.read(buf)?;
                    if n > 0 {
                        return Ok(n);
                    }
                }
                match self.open_next_chunk() {
                    Ok(true) => {}
                    Ok(false) => return Ok(0),
                    Err(Error::Io { source, path, .. }) => {
                        return Err(io::Error::new(source.kind(), format!("chunk {}: {source}", path.display())))
                    }
                    Err(e) => return Err(io::Error::other(e.to_string())),
                }
            },
        }
    }
}
