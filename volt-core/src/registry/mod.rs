//! Registry storage on Stellarium: repositories, blob links, manifests, tags, referrers and
//! upload sessions. The HTTP server (`volt-registry`) is a thin layer over this.
//!
//! Layout, all refs in the store (repository names cannot contain `@`, so these never collide):
//!
//! ```text
//! registry/<repo>/@blobs/<algo>:<hex>                 → blob object (the repository may serve it)
//! registry/<repo>/@manifests/<algo>:<hex>             → manifest link object
//! registry/<repo>/@tags/<tag>                         → manifest link object
//! registry/<repo>/@referrers/<subject>/<algo>:<hex>   → manifest link object (sha512 hex cut to 64)
//! ```
//!
//! A manifest link object lists the manifest bytes' object and every blob and child manifest it
//! references, so gc keeps what any manifest needs. Blob links are refs too: a blob pushed ahead
//! of its manifest survives gc; [`prune`] drops links that no manifest references once they are
//! older than the grace period, and the next gc collects the blobs.

mod blobs;
mod manifests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use volt_cas::{Algorithm, Cas, Digest, Links, ObjectId, RefName};

use crate::audit::AuditLog;
use crate::config::RegistrySettings;
use crate::error::{Error, Result};
use crate::image::{valid_repository, valid_tag};
use crate::oci::{self, Descriptor, Manifest};

/// Ref namespace of the registry.
pub const REGISTRY_REFS: &str = "registry";

/// Most upload sessions open at once (each has a writer thread).
pub const MAX_UPLOADS: usize = 256;

/// Longest repository name that fits every ref of the layout (a referrers ref holds two digests
/// of up to 71 characters each).
pub const MAX_REPOSITORY_LEN: usize = 80;

/// Registry errors, each one code of the distribution spec.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// BLOB_UNKNOWN (404).
    #[error("blob unknown to registry: {0}")]
    BlobUnknown(String),
    /// BLOB_UPLOAD_UNKNOWN (404).
    #[error("blob upload unknown to registry: {0}")]
    UploadUnknown(String),
    /// BLOB_UPLOAD_INVALID (400), or 416 when `range` is set (a chunk out of order).
    #[error("blob upload invalid: {reason}")]
    UploadInvalid {
        /// What is wrong.
        reason: String,
        /// The chunk did not start where the upload ends.
        range: bool,
    },
    /// DIGEST_INVALID (400).
    #[error("provided digest did not match uploaded content: {0}")]
    DigestInvalid(String),
    /// MANIFEST_BLOB_UNKNOWN (400).
    #[error("manifest references a blob or manifest unknown to the repository: {0}")]
    ManifestBlobUnknown(String),
    /// MANIFEST_INVALID (400).
    #[error("manifest invalid: {0}")]
    ManifestInvalid(String),
    /// MANIFEST_UNKNOWN (404).
    #[error("manifest unknown to registry: {0}")]
    ManifestUnknown(String),
    /// NAME_INVALID (400).
    #[error("invalid repository name: {0}")]
    NameInvalid(String),
    /// NAME_UNKNOWN (404).
    #[error("repository name not known to registry: {0}")]
    NameUnknown(String),
    /// SIZE_INVALID (400 / 413).
    #[error("{0}")]
    SizeInvalid(String),
    /// TOOMANYREQUESTS (429): too many upload sessions at once.
    #[error("too many uploads in progress ({0}); retry later")]
    TooManyRequests(usize),
    /// UNSUPPORTED (405 / 400).
    #[error("the operation is unsupported: {0}")]
    Unsupported(String),
    /// Anything else (500).
    #[error(transparent)]
    Internal(#[from] Error),
}

impl From<volt_cas::Error> for RegistryError {
    fn from(e: volt_cas::Error) -> Self {
        RegistryError::Internal(e.into())
    }
}

impl RegistryError {
    /// The spec's error code.
    pub fn code(&self) -> &'static str {
        match self {
            RegistryError::BlobUnknown(_) => "BLOB_UNKNOWN",
            RegistryError::UploadUnknown(_) => "BLOB_UPLOAD_UNKNOWN",
            RegistryError::UploadInvalid { .. } => "BLOB_UPLOAD_INVALID",
            RegistryError::DigestInvalid(_) => "DIGEST_INVALID",
            RegistryError::ManifestBlobUnknown(_) => "MANIFEST_BLOB_UNKNOWN",
            RegistryError::ManifestInvalid(_) => "MANIFEST_INVALID",
            RegistryError::ManifestUnknown(_) => "MANIFEST_UNKNOWN",
            RegistryError::NameInvalid(_) => "NAME_INVALID",
            RegistryError::NameUnknown(_) => "NAME_UNKNOWN",
            RegistryError::SizeInvalid(_) => "SIZE_INVALID",
            RegistryError::Unsupported(_) => "UNSUPPORTED",
            RegistryError::TooManyRequests(_) => "TOOMANYREQUESTS",
            RegistryError::Internal(_) => "UNKNOWN",
        }
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            RegistryError::BlobUnknown(_)
            | RegistryError::UploadUnknown(_)
            | RegistryError::ManifestUnknown(_)
            | RegistryError::NameUnknown(_) => 404,
            RegistryError::UploadInvalid { range: true, .. } => 416,
            RegistryError::SizeInvalid(_) => 413,
            RegistryError::TooManyRequests(_) => 429,
            RegistryError::Unsupported(_) => 405,
            RegistryError::Internal(_) => 500,
            _ => 400,
        }
    }
}

/// Result alias for registry operations.
pub type RResult<T> = std::result::Result<T, RegistryError>;

/// What a manifest link object's payload records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestInfo {
    /// Digest (as pushed).
    pub digest: String,
    /// Media type to serve it with.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// Artifact type (referrers API).
    #[serde(default)]
    pub artifact_type: Option<String>,
    /// Subject digest, if the manifest has one.
    #[serde(default)]
    pub subject: Option<String>,
    /// The manifest bytes' object.
    pub object: ObjectId,
}

/// Check a repository name.
///
/// # Errors
/// [`RegistryError::NameInvalid`].
pub fn check_repository(repo: &str) -> RResult<()> {
    if !valid_repository(repo) || repo.contains(':') || repo.len() > MAX_REPOSITORY_LEN {
        return Err(RegistryError::NameInvalid(format!(
            "{repo:?}: lower-case letters, digits and . _ - separated by '/', at most {MAX_REPOSITORY_LEN} bytes"
        )));
    }
    Ok(())
}

fn ref_of(repo: &str, rest: &str) -> RResult<RefName> {
    format!("{REGISTRY_REFS}/{repo}/{rest}")
        .parse()
        .map_err(|e: volt_cas::Error| RegistryError::NameInvalid(e.to_string()))
}

/// How a digest appears in a referrers ref name: sha512 hex is cut to 64 digits so that two
/// digests fit in one ref (the full digests live in the manifest records).
fn ref_key(d: &Digest) -> String {
    let hex = d.hex();
    format!("{}:{}", d.algorithm.name(), &hex[..hex.len().min(64)])
}

fn digest_arg(s: &str) -> RResult<Digest> {
    oci::parse_digest(s).map_err(|e| RegistryError::DigestInvalid(e.to_string()))
}

/// One in-flight upload: bytes flow from HTTP requests through a channel into a Stellarium
/// transaction on a thread of its own, hashed on the way.
pub struct Upload {
    /// Session id.
    pub id: String,
    /// Repository.
    pub repo: String,
    tx: Mutex<Option<tokio::sync::mpsc::Sender<Msg>>>,
    received: AtomicU64,
    last_active: Mutex<Instant>,
    /// Serialises the requests of one session.
    pub lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload").field("id", &self.id).field("repo", &self.repo).finish_non_exhaustive()
    }
}

enum Msg {
    Data(bytes::Bytes),
    Finish { digest: Digest, link: RefName, reply: tokio::sync::oneshot::Sender<RResult<(ObjectId, u64)>> },
}

impl Upload {
    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    fn touch(&self) {
        *self.last_active.lock().expect("poisoned") = Instant::now();
    }

    fn sender(&self) -> RResult<tokio::sync::mpsc::Sender<Msg>> {
        self.tx.lock().expect("poisoned").clone().ok_or_else(|| RegistryError::UploadUnknown(self.id.clone()))
    }

    /// Append a chunk. `start`, when the client states one, must be where the upload ends.
    ///
    /// # Errors
    /// [`RegistryError::UploadInvalid`] (range) for a chunk out of order; upload unknown if the
    /// session ended.
    pub async fn append(&self, start: Option<u64>, data: bytes::Bytes) -> RResult<u64> {
        if let Some(s) = start {
            if s != self.received() {
                return Err(RegistryError::UploadInvalid {
                    reason: format!("chunk starts at {s}, the upload has {} bytes", self.received()),
                    range: true,
                });
            }
        }
        self.touch();
        if data.is_empty() {
            return Ok(self.received());
        }
        let n = data.len() as u64;
        self.sender()?
            .send(Msg::Data(data))
            .await
            .map_err(|_| RegistryError::UploadInvalid { reason: "the upload failed".into(), range: false })?;
        Ok(self.received.fetch_add(n, Ordering::Relaxed) + n)
    }

    async fn finish(&self, digest: Digest, link: RefName) -> RResult<(ObjectId, u64)> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let tx =
            self.tx.lock().expect("poisoned").take().ok_or_else(|| RegistryError::UploadUnknown(self.id.clone()))?;
        tx.send(Msg::Finish { digest, link, reply })
            .await
            .map_err(|_| RegistryError::UploadInvalid { reason: "the upload failed".into(), range: false })?;
        rx.await.map_err(|_| RegistryError::UploadInvalid { reason: "the upload failed".into(), range: false })?
    }

    /// Drop the session: the writer sees the channel close and discards what it staged.
    fn cancel(&self) {
        self.tx.lock().expect("poisoned").take();
    }
}

/// Reads upload bytes from the channel; keeps the finishing message when it arrives.
struct ChanReader {
    rx: tokio::sync::mpsc::Receiver<Msg>,
    buf: bytes::Bytes,
    finish: Option<Msg>,
}

impl Read for ChanReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.buf.is_empty() {
            if self.finish.is_some() {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Msg::Data(b)) => self.buf = b,
                Some(m @ Msg::Finish { .. }) => self.finish = Some(m),
                None => return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "upload cancelled")),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf.split_to(n));
        Ok(n)
    }
}

/// The registry's storage.
#[derive(Clone)]
pub struct RegistryStore {
    cas: Arc<Cas>,
    settings: RegistrySettings,
    audit: AuditLog,
    uploads: Arc<Mutex<HashMap<String, Arc<Upload>>>>,
}

impl std::fmt::Debug for RegistryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryStore").field("store", &self.cas.root()).finish_non_exhaustive()
    }
}

fn new_id() -> String {
    let mut b = [0u8; 16];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)).is_err() {
        let t = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos();
        b = blake3::hash(format!("{t}-{}", std::process::id()).as_bytes()).as_bytes()[..16].try_into().expect("16");
    }
    hex::encode(b)
}

impl RegistryStore {
    /// The registry over `cas`.
    pub fn new(cas: Arc<Cas>, settings: RegistrySettings, audit: AuditLog) -> Self {
        RegistryStore { cas, settings, audit, uploads: Arc::default() }
    }

    /// Settings.
    pub fn settings(&self) -> &RegistrySettings {
        &self.settings
    }

    /// The store underneath.
    pub fn cas(&self) -> &Arc<Cas> {
        &self.cas
    }

    fn get(&self, name: &RefName) -> RResult<Option<ObjectId>> {
        match self.cas.get_ref(name) {
            Ok(id) => Ok(Some(id)),
            Err(volt_cas::Error::RefNotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Does the repository exist (hold any blob, manifest or tag)?
    pub fn repo_exists(&self, repo: &str) -> RResult<bool> {
        check_repository(repo)?;
        let dir = self.cas.root().join("refs").join(REGISTRY_REFS).join(repo);
        Ok(["@blobs", "@manifests", "@tags"].iter().any(|d| dir.join(d).is_dir()))
    }
}

/// The writer thread of one upload.
fn upload_writer(cas: &Cas, name: &str, rx: tokio::sync::mpsc::Receiver<Msg>) {
    let mut reader = ChanReader { rx, buf: bytes::Bytes::new(), finish: None };
    let txn = match cas.begin() {
        Ok(t) => t,
        Err(e) => {
            // Drain until the finishing message so the client gets the error.
            while reader.finish.is_none() {
                if io::copy(&mut reader, &mut io::sink()).is_err() {
                    return;
                }
            }
            if let Some(Msg::Finish { reply, .. }) = reader.finish.take() {
                let _ = reply.send(Err(e.into()));
            }
            return;
        }
    };
    // sha256 is hashed on the way in; the rare sha512 upload is hashed again once stored.
    let put = oci::put_blob(&txn, &mut reader, std::path::Path::new(name), &[Algorithm::Sha256]);
    let Some(Msg::Finish { digest, link, reply }) = reader.finish.take() else {
        return; // cancelled: dropping the transaction discards what was staged
    };
    let res = (|| -> RResult<(ObjectId, u64)> {
        let out = put.map_err(Error::from)?;
        let mismatch = |actual: String| RegistryError::DigestInvalid(format!("{digest} (content is {actual})"));
        match digest.algorithm {
            Algorithm::Blake3 if digest.object_id() != Some(out.id) => return Err(mismatch(out.id.to_string())),
            Algorithm::Sha256 if !out.aliases.contains(&digest) => return Err(mismatch(out.aliases[0].to_string())),
            Algorithm::Sha512 => {
                txn.commit(None)?;
                let mut h = <sha2::Sha512 as sha2::Digest>::new();
                let mut r = cas.open_object(&out.id)?;
                io::copy(&mut r, &mut h).map_err(|e| Error::io("hash upload", name, e))?;
                let actual = Digest { algorithm: Algorithm::Sha512, bytes: sha2::Digest::finalize(h).to_vec() };
                if actual != digest {
                    return Err(mismatch(actual.to_string())); // unreferenced: the next gc removes it
                }
                let t2 = cas.begin()?;
                if !t2.protect(&out.id)? {
                    return Err(RegistryError::UploadInvalid {
                        reason: "stored blob vanished; retry".into(),
                        range: false,
                    });
                }
                t2.add_alias(digest.clone(), out.id);
                t2.commit(Some((&link, &out.id)))?;
                return Ok((out.id, out.size));
            }
            _ => {}
        }
        txn.commit(Some((&link, &out.id)))?;
        Ok((out.id, out.size))
    })();
    let _ = reply.send(res);
}

/// Drop blob links that no manifest of their repository references and that are older than
/// `grace`; returns how many. The next gc collects blobs nothing else keeps.
///
/// # Errors
/// Store errors.
pub fn prune(cas: &Cas, grace: Duration) -> Result<usize> {
    let prefix = format!("{REGISTRY_REFS}/");
    let mut links: BTreeMap<String, Vec<(RefName, String)>> = BTreeMap::new();
    let mut used: HashMap<String, HashSet<String>> = HashMap::new();
    for r in cas.list_refs(Some(REGISTRY_REFS))? {
        let Some(rest) = r.name.as_str().strip_prefix(&prefix) else { continue };
        let Some((repo, kind)) = rest.split_once("/@") else { continue };
        if let Some(d) = kind.strip_prefix("blobs/") {
            links.entry(repo.to_string()).or_default().push((r.name.clone(), d.to_string()));
        } else if kind.starts_with("manifests/") {
            let Ok(l) = cas.read_links(&r.target) else { continue };
            let Ok(info) = serde_json::from_slice::<ManifestInfo>(&l.payload) else { continue };
            let Ok(bytes) = cas.read(&info.object) else { continue };
            let Ok(m) = Manifest::parse(&bytes) else { continue };
            let set = used.entry(repo.to_string()).or_default();
            set.extend(m.config.iter().chain(&m.layers).map(|d| d.digest.clone()));
        }
    }
    let now = SystemTime::now();
    let mut removed = 0;
    for (repo, ls) in links {
        let set = used.get(&repo);
        for (name, digest) in ls {
            if set.is_some_and(|s| s.contains(&digest)) {
                continue;
            }
            let path = cas.root().join("refs").join(name.as_str());
            let age = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .unwrap_or_default();
            if age < grace {
                continue;
            }
            match cas.delete_ref(&name) {
                Ok(()) => removed += 1,
                Err(volt_cas::Error::RefNotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_and_error_codes() {
        for ok in ["a", "team/app", "a-b/c_d/e.f", "x__y"] {
            assert!(check_repository(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/../b", "../a", "a/./b", "UPPER", "host:5000/a", "a//b", "a/", "-a", &"a".repeat(81)] {
            assert!(matches!(check_repository(bad), Err(RegistryError::NameInvalid(_))), "{bad:?} accepted");
        }
        let e = RegistryError::UploadInvalid { reason: "x".into(), range: true };
        assert_eq!((e.status(), e.code()), (416, "BLOB_UPLOAD_INVALID"));
        assert_eq!(RegistryError::SizeInvalid("x".into()).status(), 413);
        assert_eq!(RegistryError::ManifestUnknown("x".into()).status(), 404);
        assert_eq!(RegistryError::DigestInvalid("x".into()).code(), "DIGEST_INVALID");
    }
}
