//! Stellarium as the SDK's [`Store`]: volt-cas runs on the blocking pool, and every
//! state-changing call is written to the audit log.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use volt_cas::{
    BuildReport, Cas, CheckoutMode, CheckoutReport, DedupReport, Digest, GcReport, ObjectId, ObjectInfo, PutOutcome,
    RefEntry, RefName, Status, VerifyReport,
};

use crate::audit::AuditLog;
use crate::error::{Error, Result};
use crate::traits::{PutOptions, Store};

/// The local Stellarium store.
#[derive(Debug, Clone)]
pub struct LocalStore {
    cas: Arc<Cas>,
    audit: AuditLog,
    /// Registry blob links unreferenced for this long are dropped before each gc.
    registry_grace: std::time::Duration,
}

impl LocalStore {
    /// Wrap an open store.
    pub fn new(cas: Cas, audit: AuditLog) -> Self {
        LocalStore { cas: Arc::new(cas), audit, registry_grace: default_grace() }
    }

    /// Share an already-open store (the image and registry layers use the same one).
    pub fn from_shared(cas: Arc<Cas>, audit: AuditLog) -> Self {
        LocalStore { cas, audit, registry_grace: default_grace() }
    }

    /// How long a registry blob that no manifest references survives gc.
    pub fn with_registry_grace(mut self, grace: std::time::Duration) -> Self {
        self.registry_grace = grace;
        self
    }

    /// The engine underneath, for callers that want its synchronous API.
    pub fn cas(&self) -> &Arc<Cas> {
        &self.cas
    }

    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(&Cas) -> Result<T> + Send + 'static) -> Result<T> {
        let cas = self.cas.clone();
        crate::workload::blocking(move || f(&cas)).await
    }

    async fn audited<T: Send + 'static>(
        &self,
        action: &'static str,
        resource: String,
        f: impl FnOnce(&Cas) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.audit.outcome(action, &resource, self.blocking(f).await)
    }
}

fn default_grace() -> std::time::Duration {
    std::time::Duration::from_secs(crate::config::RegistrySettings::default().blob_grace)
}

/// A name part unique within this process.
fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Resolve a target (digest or ref name) against the engine.
pub(crate) fn resolve_in(cas: &Cas, target: &str) -> Result<ObjectId> {
    match target.parse::<Digest>() {
        Ok(d) => Ok(cas.resolve(&d)?),
        Err(digest_err) => {
            let looks_like_digest = target.contains(':')
                && target.split(':').next().is_some_and(|a| matches!(a, "blake3" | "sha256" | "sha512"))
                || (target.len() >= 32 && target.bytes().all(|b| b.is_ascii_hexdigit()));
            if looks_like_digest {
                return Err(digest_err.into());
            }
            let name: RefName = target.parse()?;
            Ok(cas.get_ref(&name)?)
        }
    }
}

#[async_trait]
impl Store for LocalStore {
    async fn resolve(&self, target: &str) -> Result<ObjectId> {
        let t = target.to_string();
        self.blocking(move |c| resolve_in(c, &t)).await
    }

    async fn put_file(&self, path: &Path, opts: PutOptions) -> Result<PutOutcome> {
        let p = path.to_path_buf();
        self.audited("cas.put", path.display().to_string(), move |c| {
            let txn = c.begin()?;
            let out = txn.put_file(&p, &opts.also, None)?;
            txn.commit(opts.reference.as_ref().map(|r| (r, &out.id)))?;
            Ok(out)
        })
        .await
    }

    async fn put_bytes(&self, data: Vec<u8>, opts: PutOptions) -> Result<PutOutcome> {
        self.audited("cas.put", format!("<{} bytes>", data.len()), move |c| {
            let txn = c.begin()?;
            let out = txn.put_reader(&mut std::io::Cursor::new(data), Path::new("<memory>"), &opts.also, None)?;
            txn.commit(opts.reference.as_ref().map(|r| (r, &out.id)))?;
            Ok(out)
        })
        .await
    }

    async fn get(&self, target: &str, mut out: Box<dyn Write + Send>) -> Result<u64> {
        let t = target.to_string();
        self.blocking(move |c| {
            let id = resolve_in(c, &t)?;
            let n = c.get(&id.digest(), &mut out)?;
            out.flush().map_err(|e| Error::io("write", PathBuf::from("<output>"), e))?;
            Ok(n)
        })
        .await
    }

    async fn get_to_path(&self, target: &str, dest: &Path) -> Result<u64> {
        let (t, dest) = (target.to_string(), dest.to_path_buf());
        self.blocking(move |c| {
            let id = resolve_in(c, &t)?;
            let name = dest
                .file_name()
                .ok_or_else(|| Error::InvalidArgument(format!("{}: not a file name", dest.display())))?;
            let tmp = dest.with_file_name(format!(".{}.volt-tmp-{}", name.to_string_lossy(), unique()));
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .map_err(|e| Error::io("create", &dest, e))?;
            let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
            let res = c
                .get(&id.digest(), &mut out)
                .map_err(Error::from)
                .and_then(|n| out.flush().map(|()| n).map_err(|e| Error::io("write", &dest, e)))
                .and_then(|n| std::fs::rename(&tmp, &dest).map(|()| n).map_err(|e| Error::io("rename", &dest, e)));
            if res.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            res
        })
        .await
    }

    async fn read(&self, target: &str) -> Result<Vec<u8>> {
        let t = target.to_string();
        self.blocking(move |c| Ok(c.read(&resolve_in(c, &t)?)?)).await
    }

    async fn has(&self, target: &str) -> Result<bool> {
        let t = target.to_string();
        self.blocking(move |c| match resolve_in(c, &t) {
            Ok(_) => Ok(true),
            Err(Error::Store(e)) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        })
        .await
    }

    async fn stat(&self, target: &str) -> Result<ObjectInfo> {
        let t = target.to_string();
        self.blocking(move |c| Ok(c.stat(&resolve_in(c, &t)?.digest())?)).await
    }

    async fn build(&self, dir: &Path, reference: Option<RefName>) -> Result<BuildReport> {
        let d = dir.to_path_buf();
        let res = match &reference {
            Some(r) => format!("{} -> {r}", dir.display()),
            None => dir.display().to_string(),
        };
        self.audited("cas.build", res, move |c| Ok(c.build(&d, reference.as_ref())?)).await
    }

    async fn checkout(&self, target: &str, dest: &Path, mode: CheckoutMode) -> Result<CheckoutReport> {
        let (t, d) = (target.to_string(), dest.to_path_buf());
        self.audited("cas.checkout", format!("{target} -> {}", dest.display()), move |c| {
            let id = resolve_in(c, &t)?;
            Ok(c.checkout(&id, &d, mode)?)
        })
        .await
    }

    async fn verify(&self, target: Option<&str>) -> Result<VerifyReport> {
        let t = target.map(str::to_string);
        self.blocking(move |c| match t {
            Some(t) => Ok(c.verify_object(&resolve_in(c, &t)?.digest())?),
            None => Ok(c.verify_all()?),
        })
        .await
    }

    async fn gc(&self, dry_run: bool) -> Result<GcReport> {
        if dry_run {
            return self.blocking(move |c| Ok(c.gc(true)?)).await;
        }
        let grace = self.registry_grace;
        self.audited("cas.gc", "store".into(), move |c| {
            let pruned = crate::registry::prune(c, grace)?;
            if pruned > 0 {
                tracing::info!(pruned, "dropped registry blob links no manifest references");
            }
            Ok(c.gc(false)?)
        })
        .await
    }

    async fn status(&self) -> Result<Status> {
        self.blocking(|c| Ok(c.status()?)).await
    }

    async fn dedup(&self, top: usize) -> Result<DedupReport> {
        self.blocking(move |c| Ok(c.dedup(top)?)).await
    }

    async fn refs(&self, prefix: Option<&str>) -> Result<Vec<RefEntry>> {
        let p = prefix.map(str::to_string);
        self.blocking(move |c| Ok(c.list_refs(p.as_deref())?)).await
    }

    async fn set_ref(&self, name: &RefName, target: &str) -> Result<ObjectId> {
        let (n, t) = (name.clone(), target.to_string());
        self.audited("cas.ref.set", format!("{name} -> {target}"), move |c| {
            let id = resolve_in(c, &t)?;
            c.set_ref(&n, &id)?;
            Ok(id)
        })
        .await
    }

    async fn delete_ref(&self, name: &RefName) -> Result<()> {
        let n = name.clone();
        self.audited("cas.ref.delete", name.to_string(), move |c| Ok(c.delete_ref(&n)?)).await
    }
}
