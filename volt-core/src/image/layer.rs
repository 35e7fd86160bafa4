//! Applying OCI layers (tar streams) in order into one Stellarium tree.
//!
//! Layers are untrusted: nothing is ever written to the host filesystem while they are read.
//! Entries go into an in-memory map of the root filesystem (file contents straight into the
//! store), and every path, link target and parent directory is checked on the way, so a layer
//! that tries to leave the root, write through a symlink or expand without bound is rejected
//! before anything is referenced.

use std::cell::Cell;
use std::collections::{BTreeMap, HashSet};
use std::io::{self, Read};
use std::path::Path;
use std::rc::Rc;

use volt_cas::{Entry, EntryKind, Meta, Tree, Txn, Xattr};

use crate::error::{Error, Result};
use crate::oci::Compression;

/// Bounds on what one layer may expand to (decompression bombs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerLimits {
    /// Most bytes a layer's tar may have once decompressed.
    pub max_uncompressed: u64,
    /// Most a compressed layer may expand, as a ratio of the compressed bytes read so far...
    pub max_ratio: u64,
    /// ...once it has expanded past this many bytes (small layers may compress very well).
    pub ratio_floor: u64,
}

impl Default for LayerLimits {
    fn default() -> Self {
        LayerLimits { max_uncompressed: 64 << 30, max_ratio: 200, ratio_floor: 256 << 20 }
    }
}

/// Counts bytes read through it into a shared cell.
struct Counted<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Fails the stream once the decompressed output outgrows the limits.
struct Bounded<R> {
    inner: R,
    out: u64,
    compressed: Option<Rc<Cell<u64>>>,
    limits: LayerLimits,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        if self.out > self.limits.max_uncompressed {
            return Err(io::Error::other(BombError(format!(
                "expands beyond the limit of {} bytes",
                self.limits.max_uncompressed
            ))));
        }
        if let Some(c) = &self.compressed {
            let read = c.get().max(1);
            if self.out > self.limits.ratio_floor && self.out / read > self.limits.max_ratio {
                return Err(io::Error::other(BombError(format!(
                    "decompression bomb: {} compressed bytes expanded to more than {} (over {}x)",
                    read, self.out, self.limits.max_ratio
                ))));
            }
        }
        Ok(n)
    }
}

#[derive(Debug)]
struct BombError(String);

impl std::fmt::Display for BombError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BombError {}

/// Most bytes a metadata entry (PAX header, GNU long name or long link) may have. The tar
/// reader buffers these whole, so without a bound one header could take all memory.
pub const MAX_TAR_METADATA: u64 = 1 << 20;

/// Watches a tar stream's headers as it passes and fails it when a metadata entry is larger than
/// [`MAX_TAR_METADATA`], before the tar reader buffers it. It follows entry sizes (including a
/// PAX `size` override) to know where headers are; it stops watching at the end-of-archive block.
struct HeaderGuard<R> {
    inner: R,
    /// Bytes until the next header block.
    skip: u64,
    /// Header bytes collected so far.
    header: Vec<u8>,
    /// Size override from the PAX header being read, applied to the next entry.
    pax_size: Option<u64>,
    /// Collecting the body of a PAX header (its bytes, left to read).
    pax_body: Option<(Vec<u8>, u64)>,
    done: bool,
}

fn tar_size(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        // base-256
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(*b))?;
        }
        return Some(v);
    }
    let t: Vec<u8> = field.iter().copied().filter(|b| *b != 0 && *b != b' ').collect();
    if t.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(std::str::from_utf8(&t).ok()?, 8).ok()
}

fn pax_size_record(body: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(body);
    text.lines()
        .find_map(|l| l.split_once(' ').and_then(|(_, kv)| kv.strip_prefix("size=")).and_then(|v| v.parse().ok()))
}

impl<R: Read> HeaderGuard<R> {
    fn new(inner: R) -> Self {
        HeaderGuard { inner, skip: 0, header: Vec::with_capacity(512), pax_size: None, pax_body: None, done: false }
    }

    fn observe(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() && !self.done {
            if self.skip > 0 {
                let n = (self.skip.min(data.len() as u64)) as usize;
                if let Some((body, left)) = &mut self.pax_body {
                    let take = (*left).min(n as u64) as usize;
                    body.extend_from_slice(&data[..take]);
                    *left -= take as u64;
                    if *left == 0 {
                        self.pax_size = pax_size_record(body);
                        self.pax_body = None;
                    }
                }
                self.skip -= n as u64;
                data = &data[n..];
                continue;
            }
            let n = (512 - self.header.len()).min(data.len());
            self.header.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.header.len() < 512 {
                continue;
            }
            let h = std::mem::take(&mut self.header);
            if h.iter().all(|b| *b == 0) {
                self.done = true; // end of archive: what follows is padding
                break;
            }
            let ty = h[156];
            let size = tar_size(&h[124..136]).ok_or_else(|| io::Error::other("tar header with an unreadable size"))?;
            let size = match (ty, self.pax_size.take()) {
                (b'x' | b'g' | b'L' | b'K', _) => {
                    if size > MAX_TAR_METADATA {
                        return Err(io::Error::other(BombError(format!(
                            "a tar metadata entry of {size} bytes (at most {MAX_TAR_METADATA} are accepted)"
                        ))));
                    }
                    if ty == b'x' {
                        self.pax_body = Some((Vec::with_capacity(size as usize), size));
                        if size == 0 {
                            self.pax_body = None;
                        }
                    }
                    size
                }
                (_, Some(over)) => over,
                (_, None) => size,
            };
            self.skip = size.div_ceil(512) * 512;
            if self.pax_body.is_some() && self.skip == 0 {
                self.pax_body = None;
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for HeaderGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.observe(&buf[..n])?;
        Ok(n)
    }
}

/// A layer's tar stream, decompressed as its magic bytes say, with bomb limits.
pub(crate) fn open_layer<'a>(mut raw: impl Read + 'a, limits: LayerLimits) -> io::Result<Box<dyn Read + 'a>> {
    let mut head = [0u8; 4];
    let got = volt_cas::read_full(&mut raw, &mut head)?;
    let count = Rc::new(Cell::new(0u64));
    let raw = Counted { inner: io::Cursor::new(head[..got].to_vec()).chain(raw), count: count.clone() };
    let (inner, compressed): (Box<dyn Read + 'a>, _) = match Compression::sniff(&head[..got]) {
        Compression::None => (Box::new(raw), None),
        Compression::Gzip => (Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::new(raw))), Some(count)),
        Compression::Zstd => (Box::new(zstd::stream::read::Decoder::new(raw)?), Some(count)),
    };
    Ok(Box::new(HeaderGuard::new(Bounded { inner, out: 0, compressed, limits })))
}

/// One node of the root filesystem being assembled.
#[derive(Debug, Clone)]
struct Node {
    kind: EntryKind,
    meta: Meta,
    /// Regular files: an inode number shared by hardlinked names.
    ino: u64,
}

/// What one layer contributed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayerStats {
    /// Tar entries read.
    pub entries: u64,
    /// Regular file bytes stored.
    pub bytes: u64,
    /// Paths removed by whiteouts.
    pub whiteouts: u64,
}

/// The root filesystem of an image, assembled layer by layer.
#[derive(Debug)]
pub(crate) struct Rootfs {
    nodes: BTreeMap<Vec<u8>, Node>,
    next_ino: u64,
}

fn unsafe_layer(layer: &str, path: &[u8], reason: impl Into<String>) -> Error {
    Error::invalid_image(format!("layer {layer}"), format!("{:?}: {}", String::from_utf8_lossy(path), reason.into()))
}

/// Normalise a tar path: strip `./` and trailing `/`; refuse absolute paths and `..`.
fn clean_path(raw: &[u8]) -> std::result::Result<Vec<u8>, &'static str> {
    if raw.starts_with(b"/") {
        return Err("absolute path");
    }
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    for comp in raw.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => return Err("path contains '..'"),
            c => {
                if c.contains(&0) {
                    return Err("path contains a NUL byte");
                }
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(c);
            }
        }
    }
    Ok(out)
}

fn split_parent(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|b| *b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&path[..0], path),
    }
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// Does a relative symlink target, resolved lexically from the link's directory, climb above
/// the root? Absolute targets are resolved inside the root by the container and are fine.
fn symlink_escapes(link: &[u8], target: &[u8]) -> bool {
    if target.starts_with(b"/") {
        return false;
    }
    let (dir, _) = split_parent(link);
    let mut depth: i64 = if dir.is_empty() { 0 } else { dir.split(|b| *b == b'/').count() as i64 };
    for comp in target.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

/// Record that this layer wrote `path`, and so (explicitly or not) each of its parents: a
/// whiteout in the same layer must not hide them.
fn mark_written(written: &mut HashSet<Vec<u8>>, path: Vec<u8>) {
    let mut end = path.len();
    while let Some(i) = path[..end].iter().rposition(|b| *b == b'/') {
        if !written.insert(path[..i].to_vec()) {
            break;
        }
        end = i;
    }
    written.insert(path);
}

fn dir_meta() -> Meta {
    Meta { mode: 0o755, ..Meta::neutral() }
}

impl Rootfs {
    pub(crate) fn new() -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(Vec::new(), Node { kind: EntryKind::Dir, meta: dir_meta(), ino: 0 });
        Rootfs { nodes, next_ino: 1 }
    }

    /// Remove `path` and everything below it, except paths this layer wrote (`keep`).
    fn remove_subtree(&mut self, path: &[u8], keep: &HashSet<Vec<u8>>) -> u64 {
        let mut lo = path.to_vec();
        lo.push(b'/');
        let mut hi = path.to_vec();
        hi.push(b'/' + 1);
        let mut doomed: Vec<Vec<u8>> =
            self.nodes.range(lo..hi).map(|(k, _)| k.clone()).filter(|k| !keep.contains(k)).collect();
        if !path.is_empty() && self.nodes.contains_key(path) && !keep.contains(path) {
            doomed.push(path.to_vec());
        }
        for k in &doomed {
            self.nodes.remove(k);
        }
        doomed.len() as u64
    }

    /// Check that every ancestor of `path` is a directory, creating missing ones.
    fn ensure_parents(&mut self, layer: &str, path: &[u8]) -> Result<()> {
        let mut i = 0;
        while let Some(off) = path[i..].iter().position(|b| *b == b'/') {
            let anc = &path[..i + off];
            match self.nodes.get(anc).map(|n| &n.kind) {
                Some(EntryKind::Dir) => {}
                Some(EntryKind::Symlink { .. }) => {
                    return Err(unsafe_layer(
                        layer,
                        path,
                        format!("writes through the symlink {:?}", String::from_utf8_lossy(anc)),
                    ))
                }
                Some(_) => {
                    return Err(unsafe_layer(
                        layer,
                        path,
                        format!("{:?} is not a directory", String::from_utf8_lossy(anc)),
                    ))
                }
                None => {
                    self.nodes.insert(anc.to_vec(), Node { kind: EntryKind::Dir, meta: dir_meta(), ino: 0 });
                }
            }
            i += off + 1;
        }
        Ok(())
    }

    /// Apply one layer (an already-decompressed tar stream). File contents are stored in `txn`.
    pub(crate) fn apply(&mut self, txn: &Txn<'_>, layer: &str, tar_stream: impl Read) -> Result<LayerStats> {
        let mut stats = LayerStats::default();
        let mut ar = tar::Archive::new(tar_stream);
        let mut written: HashSet<Vec<u8>> = HashSet::new();
        let read_err = |e: io::Error| match e.get_ref().and_then(|i| i.downcast_ref::<BombError>()) {
            Some(b) => Error::invalid_image(format!("layer {layer}"), b.to_string()),
            None => Error::invalid_image(format!("layer {layer}"), format!("unreadable tar: {e}")),
        };
        for entry in ar.entries().map_err(read_err)? {
            let mut e = entry.map_err(read_err)?;
            stats.entries += 1;
            let raw = e.path_bytes().into_owned();
            let path = clean_path(&raw).map_err(|r| unsafe_layer(layer, &raw, r))?;
            let (dir, base) = split_parent(&path);
            if let Some(hidden) = base.strip_prefix(b".wh.") {
                self.ensure_parents(layer, &path)?;
                if hidden == b".wh..opq" {
                    // Opaque: hide everything lower layers put below `dir`.
                    let children: Vec<Vec<u8>> = if dir.is_empty() {
                        self.nodes.keys().filter(|k| !k.is_empty() && !written.contains(*k)).cloned().collect()
                    } else {
                        let mut lo = dir.to_vec();
                        lo.push(b'/');
                        let mut hi = dir.to_vec();
                        hi.push(b'/' + 1);
                        self.nodes.range(lo..hi).map(|(k, _)| k.clone()).filter(|k| !written.contains(k)).collect()
                    };
                    for k in &children {
                        self.nodes.remove(k);
                    }
                    stats.whiteouts += children.len() as u64;
                } else {
                    if hidden.is_empty() || hidden == b"." || hidden == b".." {
                        return Err(unsafe_layer(layer, &raw, "whiteout names no file"));
                    }
                    stats.whiteouts += self.remove_subtree(&join(dir, hidden), &written);
                }
                continue;
            }
            let h = e.header().clone();
            let mut meta = Meta {
                mode: h.mode().map_err(read_err)? & 0o7777,
                uid: h.uid().map_err(read_err)? as u32,
                gid: h.gid().map_err(read_err)? as u32,
                mtime: h.mtime().map_err(read_err)? as i64,
                mtime_nsec: 0,
                xattrs: Vec::new(),
            };
            if let Some(exts) = e.pax_extensions().map_err(read_err)? {
                for ext in exts {
                    let ext = ext.map_err(read_err)?;
                    if let Some(name) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") {
                        meta.xattrs.push(Xattr { name: name.to_vec(), value: ext.value_bytes().to_vec() });
                    }
                }
                meta.xattrs.sort();
                meta.xattrs.dedup_by(|a, b| a.name == b.name);
            }
            use tar::EntryType as T;
            let ty = h.entry_type();
            if path.is_empty() {
                if ty == T::Directory {
                    self.nodes.insert(Vec::new(), Node { kind: EntryKind::Dir, meta, ino: 0 });
                    continue;
                }
                return Err(unsafe_layer(layer, &raw, "replaces the root directory with a non-directory"));
            }
            self.ensure_parents(layer, &path)?;
            let node = match ty {
                T::Regular | T::Continuous => {
                    let out = txn.put_reader(&mut e, Path::new(&*String::from_utf8_lossy(&path)), &[], None).map_err(
                        |err| match err {
                            volt_cas::Error::Io { source, .. } => read_err(source),
                            other => other.into(),
                        },
                    )?;
                    stats.bytes += out.size;
                    self.next_ino += 1;
                    Node { kind: EntryKind::File { size: out.size, id: out.id }, meta, ino: self.next_ino }
                }
                T::Directory => {
                    if let Some(Node { kind: EntryKind::Dir, .. }) = self.nodes.get(&path) {
                        self.nodes.insert(path.clone(), Node { kind: EntryKind::Dir, meta, ino: 0 });
                        mark_written(&mut written, path);
                        continue;
                    }
                    Node { kind: EntryKind::Dir, meta, ino: 0 }
                }
                T::Symlink => {
                    let target = e.link_name_bytes().map(|t| t.into_owned()).unwrap_or_default();
                    if target.is_empty() {
                        return Err(unsafe_layer(layer, &raw, "symlink without a target"));
                    }
                    if symlink_escapes(&path, &target) {
                        return Err(unsafe_layer(
                            layer,
                            &raw,
                            format!("symlink to {:?} points outside the root", String::from_utf8_lossy(&target)),
                        ));
                    }
                    Node { kind: EntryKind::Symlink { target }, meta, ino: 0 }
                }
                T::Link => {
                    let traw = e.link_name_bytes().map(|t| t.into_owned()).unwrap_or_default();
                    let target = clean_path(&traw).map_err(|r| {
                        unsafe_layer(layer, &raw, format!("hardlink target {:?}: {r}", String::from_utf8_lossy(&traw)))
                    })?;
                    match self.nodes.get(&target) {
                        Some(n @ Node { kind: EntryKind::File { .. }, .. }) => n.clone(),
                        _ => {
                            return Err(unsafe_layer(
                                layer,
                                &raw,
                                format!(
                                    "hardlink target {:?} is not a regular file inside the root",
                                    String::from_utf8_lossy(&traw)
                                ),
                            ))
                        }
                    }
                }
                T::Char | T::Block => {
                    let major = h.device_major().ok().flatten().unwrap_or(0);
                    let minor = h.device_minor().ok().flatten().unwrap_or(0);
                    let rdev = rustix::fs::makedev(major, minor);
                    let kind =
                        if ty == T::Char { EntryKind::CharDevice { rdev } } else { EntryKind::BlockDevice { rdev } };
                    Node { kind, meta, ino: 0 }
                }
                T::Fifo => Node { kind: EntryKind::Fifo, meta, ino: 0 },
                T::XGlobalHeader => continue,
                other => {
                    return Err(unsafe_layer(
                        layer,
                        &raw,
                        format!("unsupported tar entry type {:?}", other.as_byte() as char),
                    ))
                }
            };
            // A new non-directory (or a directory replacing a non-directory) replaces whatever
            // was there, subtree included.
            if self.nodes.contains_key(&path) {
                self.remove_subtree(&path, &HashSet::new());
            }
            self.nodes.insert(path.clone(), node);
            mark_written(&mut written, path);
        }
        Ok(stats)
    }

    /// The finished tree. Of each set of hardlinked names the first in path order is the file
    /// and the others link to it.
    pub(crate) fn into_tree(self) -> Tree {
        let mut first: std::collections::HashMap<u64, Vec<u8>> = std::collections::HashMap::new();
        let mut entries = Vec::with_capacity(self.nodes.len());
        for (path, node) in self.nodes {
            let kind = match node.kind {
                EntryKind::File { .. } => match first.get(&node.ino) {
                    Some(t) => EntryKind::Hardlink { target: t.clone() },
                    None => {
                        first.insert(node.ino, path.clone());
                        node.kind
                    }
                },
                k => k,
            };
            entries.push(Entry { path, kind, meta: node.meta });
        }
        Tree { entries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned_or_refused() {
        assert_eq!(clean_path(b"./usr/bin/").unwrap(), b"usr/bin");
        assert_eq!(clean_path(b"./").unwrap(), b"");
        assert_eq!(clean_path(b"a//b/./c").unwrap(), b"a/b/c");
        assert!(clean_path(b"/etc/passwd").is_err());
        assert!(clean_path(b"a/../../etc").is_err());
        assert!(clean_path(b"..").is_err());
    }

    #[test]
    fn symlink_escape_is_lexical_from_the_link_directory() {
        assert!(!symlink_escapes(b"usr/lib/x", b"../../lib/x"));
        assert!(symlink_escapes(b"usr/lib/x", b"../../../etc/shadow"));
        assert!(symlink_escapes(b"x", b".."));
        assert!(!symlink_escapes(b"bin/sh", b"/bin/busybox"));
        assert!(!symlink_escapes(b"a/b", b"c/../d"));
        assert!(symlink_escapes(b"a/b", b"c/../../../d"));
    }

    #[test]
    fn oversized_tar_metadata_is_refused_before_it_is_buffered() {
        // A PAX header claiming 8 GiB: refused at its header, long before its body.
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::XHeader);
        h.set_size(8 << 30);
        h.set_path("PaxHeaders/x").unwrap();
        h.set_cksum();
        let mut data = h.as_bytes().to_vec();
        data.extend(std::iter::repeat_n(b'a', 4096));
        let mut r = open_layer(&data[..], LayerLimits::default()).unwrap();
        let err = std::io::copy(&mut r, &mut std::io::sink()).unwrap_err();
        assert!(err.to_string().contains("metadata entry"), "{err}");
        // Ordinary archives with PAX headers, long names and a size override pass untouched.
        let mut b = tar::Builder::new(Vec::new());
        let long = format!("{}/file", "d".repeat(300));
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_pax_extensions([("SCHILY.xattr.user.k", b"v".as_slice())]).unwrap();
        b.append_data(&mut h, &long, &b"hello"[..]).unwrap();
        b.append_pax_extensions([("size", b"3".as_slice())]).unwrap();
        let mut h2 = tar::Header::new_ustar();
        h2.set_size(0);
        h2.set_mode(0o644);
        h2.set_entry_type(tar::EntryType::Regular);
        h2.set_path("over").unwrap();
        h2.set_cksum();
        b.append(&h2, &b"xyz"[..]).unwrap();
        let mut h3 = tar::Header::new_gnu();
        h3.set_size(2);
        h3.set_mode(0o644);
        h3.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h3, "last", &b"ok"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        let mut r = open_layer(&tar[..], LayerLimits::default()).unwrap();
        let mut ar = tar::Archive::new(&mut r);
        let names: Vec<String> =
            ar.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
        assert_eq!(names, [long, "over".to_string(), "last".to_string()]);
    }

    #[test]
    fn bounded_reader_stops_a_bomb() {
        let data = vec![0u8; 8 << 20];
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut enc, &data).unwrap();
        let gz = enc.finish().unwrap();
        let limits = LayerLimits { max_uncompressed: 1 << 40, max_ratio: 100, ratio_floor: 1 << 20 };
        let mut r = open_layer(&gz[..], limits).unwrap();
        let err = std::io::copy(&mut r, &mut std::io::sink()).unwrap_err();
        assert!(err.to_string().contains("decompression bomb"), "{err}");
        let limits = LayerLimits { max_uncompressed: 1 << 20, max_ratio: 1 << 30, ratio_floor: 0 };
        let mut r = open_layer(&data[..], limits).unwrap();
        let err = std::io::copy(&mut r, &mut std::io::sink()).unwrap_err();
        assert!(err.to_string().contains("beyond the limit"), "{err}");
        let mut r = open_layer(&gz[..], LayerLimits::default()).unwrap();
        assert_eq!(std::io::copy(&mut r, &mut std::io::sink()).unwrap(), 8 << 20);
    }
}
