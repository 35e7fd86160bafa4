//! `image pull` and `image push` against any OCI Distribution registry, through oci-client.
//!
//! Blobs stream straight into (or out of) Stellarium; a blob whose digest the store already has
//! is never transferred. Plain HTTP is used only for loopback registries or when the caller
//! says `insecure`.

use std::io::{self, Read};
use std::sync::Arc;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;
use volt_cas::{Algorithm, ObjectId};

use super::{ImageName, ImageRecord, Images, LayerBlob, Phase, Progress, ProgressFn};
use crate::error::{Error, ErrorKind, Result};
use crate::oci::{self, Descriptor, Manifest, MANIFEST_MEDIA_TYPES};

/// Credentials for a remote registry.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Credentials {
    /// No credentials (anonymous pull, or the registry's token flow without a login).
    #[default]
    Anonymous,
    /// A user name and password (the token flow's basic login).
    Basic {
        /// User name.
        username: String,
        /// Password or token.
        password: String,
    },
    /// A bearer token sent as is.
    Bearer(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets never reach logs.
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Credentials::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

/// How to reach a registry.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RemoteOptions {
    /// Credentials.
    pub credentials: Credentials,
    /// Allow plain HTTP to a registry that is not on loopback.
    pub insecure: bool,
    /// Extra PEM CA certificates to trust (a registry with a private CA).
    pub ca_certs: Vec<Vec<u8>>,
}

impl RemoteOptions {
    /// Options with these credentials.
    pub fn with_credentials(mut self, c: Credentials) -> Self {
        self.credentials = c;
        self
    }

    /// Allow plain HTTP to non-loopback registries.
    pub fn insecure(mut self, yes: bool) -> Self {
        self.insecure = yes;
        self
    }
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushReport {
    /// Where the image went.
    pub reference: String,
    /// Manifest digest.
    pub manifest_digest: String,
    /// Blobs uploaded.
    pub uploaded: usize,
    /// Blobs the registry already had.
    pub skipped: usize,
    /// Bytes uploaded.
    pub bytes: u64,
}

/// Is `registry` (host[:port]) a loopback address?
pub fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        registry
            .rsplit_once(':')
            .map_or(registry, |(h, p)| if p.bytes().all(|b| b.is_ascii_digit()) { h } else { registry })
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Parse a remote reference (`[registry/]repository[:tag][@digest]`).
///
/// # Errors
/// [`Error::InvalidArgument`].
pub fn parse_reference(s: &str) -> Result<Reference> {
    s.parse::<Reference>().map_err(|e| Error::InvalidArgument(format!("image reference {s:?}: {e}")))
}

/// The local name a pulled reference gets by default: the reference without `docker.io/` and
/// `library/`, and its tag (`latest` when pulled by digest only).
pub fn local_name_for(r: &Reference) -> Result<ImageName> {
    let mut repo = r.repository().to_string();
    if r.registry() == "docker.io" || r.registry() == "index.docker.io" {
        if let Some(rest) = repo.strip_prefix("library/") {
            repo = rest.to_string();
        }
    } else {
        repo = format!("{}/{repo}", r.registry());
    }
    format!("{repo}:{}", r.tag().unwrap_or("latest")).parse()
}

fn client_for(r: &Reference, opts: &RemoteOptions) -> Result<Client> {
    let registry = r.resolve_registry().to_string();
    let protocol = if opts.insecure {
        ClientProtocol::Http
    } else if is_loopback(&registry) {
        ClientProtocol::HttpsExcept(vec![registry])
    } else {
        ClientProtocol::Https
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = ClientConfig {
        protocol,
        use_monolithic_push: true,
        extra_root_certificates: opts
            .ca_certs
            .iter()
            .map(|pem| oci_client::client::Certificate {
                encoding: oci_client::client::CertificateEncoding::Pem,
                data: pem.clone(),
            })
            .collect(),
        connect_timeout: Some(std::time::Duration::from_secs(30)),
        read_timeout: Some(std::time::Duration::from_secs(300)),
        ..Default::default()
    };
    Ok(Client::new(config))
}

fn auth_of(c: &Credentials) -> RegistryAuth {
    match c {
        Credentials::Anonymous => RegistryAuth::Anonymous,
        Credentials::Basic { username, password } => RegistryAuth::Basic(username.clone(), password.clone()),
        Credentials::Bearer(t) => RegistryAuth::Bearer(t.clone()),
    }
}

/// Map a client error to the SDK's taxonomy.
fn remote(r: &Reference, e: OciDistributionError) -> Error {
    use OciDistributionError as E;
    let registry = format!("{}/{}", r.resolve_registry(), r.repository());
    let kind = match &e {
        E::ImageManifestNotFoundError(_) => ErrorKind::NotFound,
        E::AuthenticationFailure(_) | E::UnauthorizedError { .. } => ErrorKind::Permission,
        E::RegistryError { envelope, .. } => {
            let codes: Vec<String> = envelope.errors.iter().map(|x| format!("{:?}", x.code)).collect();
            if codes.iter().any(|c| c.contains("Unknown")) {
                ErrorKind::NotFound
            } else if codes.iter().any(|c| c.contains("Unauthorized") || c.contains("Denied")) {
                ErrorKind::Permission
            } else {
                ErrorKind::General
            }
        }
        E::ServerError { code, .. } => match code {
            401 | 403 => ErrorKind::Permission,
            404 => ErrorKind::NotFound,
            _ => ErrorKind::General,
        },
        E::RequestError(re) if re.is_timeout() => ErrorKind::Timeout,
        E::RequestError(re) if re.status().is_some_and(|s| s.as_u16() == 401 || s.as_u16() == 403) => {
            ErrorKind::Permission
        }
        E::RequestError(re) if re.status().is_some_and(|s| s.as_u16() == 404) => ErrorKind::NotFound,
        E::RequestError(_) => ErrorKind::Network,
        E::DigestError(_) => ErrorKind::Usage,
        _ => ErrorKind::General,
    };
    Error::Remote { registry, reason: crate::error_chain(&e), kind }
}

/// A layer download that failed, naming the layer (and, for one the registry need not have,
/// where else it was looked for).
fn layer_error(r: &Reference, l: &Descriptor, e: OciDistributionError) -> Error {
    match remote(r, e) {
        Error::Remote { registry, reason, kind } => {
            let reason = if l.urls.is_empty() {
                format!("layer {}: {reason}", l.digest)
            } else {
                format!("layer {} (not in the registry; its urls: {}): {reason}", l.digest, l.urls.join(", "))
            };
            Error::Remote { registry, reason, kind }
        }
        other => other,
    }
}

/// Start downloading blob `desc` on the runtime (oci-client checks the status and verifies the
/// digest as it writes) and return the blocking reader of what arrives, with the task.
fn fetch<'p>(
    rt: &Handle,
    client: &Client,
    r: &Reference,
    desc: &Descriptor,
    pipe_size: usize,
    progress: Option<&'p ProgressFn>,
) -> (Download<'p>, tokio::task::JoinHandle<oci_client::errors::Result<()>>) {
    let (writer, pipe) = tokio::io::duplex(pipe_size);
    let (c, rr, d) = (client.clone(), r.clone(), to_client_desc(desc));
    let task = rt.spawn(async move { c.pull_blob(&rr, &d, writer).await });
    let total = progress.map(|_| desc.size.max(0) as u64);
    (Download { rt: rt.clone(), pipe, done: 0, total, item: desc.digest.clone(), progress }, task)
}

/// A blocking reader over a blob download: the client writes into one end of an in-memory pipe
/// on the runtime, this end is read from the store's writer thread.
struct Download<'p> {
    rt: Handle,
    pipe: tokio::io::DuplexStream,
    done: u64,
    total: Option<u64>,
    item: String,
    progress: Option<&'p ProgressFn>,
}

impl Read for Download<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        use tokio::io::AsyncReadExt;
        let n = self.rt.block_on(self.pipe.read(out))?;
        if n > 0 {
            self.done += n as u64;
            if let Some(p) = self.progress {
                p(&Progress { phase: Phase::Download, item: self.item.clone(), done: self.done, total: self.total });
            }
        }
        Ok(n)
    }
}

impl Images {
    /// Pull `reference` into the store and name it `name` (default: see [`local_name_for`]).
    /// Blobs already in the store, under any name, are not downloaded. Runs the transfer on the
    /// blocking pool; call from a tokio runtime.
    ///
    /// # Errors
    /// [`Error::Remote`] (its kind from the registry's answer), [`Error::InvalidImage`], store
    /// errors. Nothing is kept from a failed pull.
    pub async fn pull(
        &self,
        reference: &str,
        name: Option<&ImageName>,
        opts: &RemoteOptions,
        progress: Option<Arc<ProgressFn>>,
    ) -> Result<ImageRecord> {
        let r = parse_reference(reference)?;
        let local = match name {
            Some(n) => n.clone(),
            None => local_name_for(&r)?,
        };
        let this = self.clone();
        let opts = opts.clone();
        let rt = Handle::current();
        let res = tokio::task::spawn_blocking(move || this.pull_blocking(&rt, &r, &local, &opts, progress.as_deref()))
            .await
            .map_err(|e| Error::Task(e.to_string()))?;
        self.audit.outcome("image.pull", reference, res)
    }

    fn pull_blocking(
        &self,
        rt: &Handle,
        r: &Reference,
        name: &ImageName,
        opts: &RemoteOptions,
        progress: Option<&ProgressFn>,
    ) -> Result<ImageRecord> {
        let client = client_for(r, opts)?;
        let auth = auth_of(&opts.credentials);
        let (mut manifest_bytes, mut digest) =
            rt.block_on(client.pull_manifest_raw(r, &auth, &MANIFEST_MEDIA_TYPES)).map_err(|e| remote(r, e))?;
        let mut manifest = Manifest::parse(&manifest_bytes)?;
        if manifest.is_index() {
            let d = super::archive::pick_platform(&manifest.manifests)?;
            let child = r.clone_with_digest(d.digest.clone());
            (manifest_bytes, digest) = rt
                .block_on(client.pull_manifest_raw(&child, &auth, &MANIFEST_MEDIA_TYPES))
                .map_err(|e| remote(r, e))?;
            manifest = Manifest::parse(&manifest_bytes)?;
        }
        let actual = oci::sha256_digest(&manifest_bytes);
        if digest.starts_with("sha256:") && digest != actual {
            return Err(Error::invalid_image("manifest", format!("has digest {actual}, the registry said {digest}")));
        }
        let _ = &mut digest;
        let config_desc = manifest.config.clone().ok_or_else(|| Error::invalid_image("manifest", "no config"))?;
        let txn = self.cas.begin()?;
        const CONFIG_LIMIT: i64 = 8 << 20;
        if !(0..=CONFIG_LIMIT).contains(&config_desc.size) {
            return Err(Error::invalid_image(
                "image config",
                format!("{} bytes; at most {CONFIG_LIMIT} are accepted", config_desc.size),
            ));
        }
        let config = match self.local_blob(&config_desc.digest)? {
            Some(id) => self.cas.read(&id)?,
            None => {
                let (mut reader, fetch) = fetch(rt, &client, r, &config_desc, 64 << 10, None);
                let mut v = Vec::new();
                let read = (&mut reader).take(CONFIG_LIMIT as u64 + 1).read_to_end(&mut v);
                drop(reader);
                if v.len() as i64 > config_desc.size {
                    fetch.abort();
                    return Err(Error::invalid_image(
                        "image config",
                        "the registry sent more than the manifest states",
                    ));
                }
                rt.block_on(fetch).map_err(|e| Error::Task(e.to_string()))?.map_err(|e| remote(r, e))?;
                read.map_err(|e| Error::Remote {
                    registry: r.whole(),
                    reason: e.to_string(),
                    kind: ErrorKind::Network,
                })?;
                v
            }
        };
        let mut layers = Vec::new();
        for l in &manifest.layers {
            let object = match self.local_blob(&l.digest)? {
                Some(id) if txn.protect(&id)? => {
                    if let Some(p) = progress {
                        p(&Progress {
                            phase: Phase::Skip,
                            item: l.digest.clone(),
                            done: l.size as u64,
                            total: Some(l.size as u64),
                        });
                    }
                    id
                }
                _ => self.download(rt, &client, r, &txn, l, progress)?,
            };
            layers.push(LayerBlob { desc: l.clone(), object });
        }
        self.commit_image(
            txn,
            name,
            format!("registry:{}", r.whole()),
            Some((&manifest_bytes, &config)),
            &layers,
            progress,
        )
    }

    /// The object a blob digest names, if the store has it.
    pub(crate) fn local_blob(&self, digest: &str) -> Result<Option<ObjectId>> {
        let d = oci::parse_digest(digest)?;
        match self.cas.resolve(&d) {
            Ok(id) if self.cas.has(&id) => Ok(Some(id)),
            Ok(_) | Err(volt_cas::Error::ObjectNotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn download(
        &self,
        rt: &Handle,
        client: &Client,
        r: &Reference,
        txn: &volt_cas::Txn<'_>,
        l: &Descriptor,
        progress: Option<&ProgressFn>,
    ) -> Result<ObjectId> {
        let want = oci::parse_digest(&l.digest)?;
        let (mut reader, fetch) = fetch(rt, client, r, l, 1 << 20, progress);
        // Always keep a sha256 name too, so the registry and `image push` find the blob.
        let mut also = vec![Algorithm::Sha256];
        if want.algorithm == Algorithm::Sha512 {
            also.push(Algorithm::Sha512);
        }
        // Never more than the manifest states: one byte over is enough to know it lied.
        let stored = oci::put_blob(
            txn,
            &mut (&mut reader).take(l.size.max(0) as u64 + 1),
            std::path::Path::new(&l.digest),
            &also,
        );
        drop(reader);
        if let Ok(out) = &stored {
            if out.size < l.size.max(0) as u64 {
                // Short: the transfer's own failure, when it has one, is the cause.
                if let Ok(Err(e)) = rt.block_on(fetch) {
                    return Err(layer_error(r, l, e));
                }
                return Err(Error::invalid_image(
                    &l.digest,
                    format!("{} bytes arrived; the manifest states {}", out.size, l.size),
                ));
            }
            if out.size != l.size.max(0) as u64 {
                fetch.abort();
                return Err(Error::invalid_image(
                    &l.digest,
                    format!("{} bytes arrived; the manifest states {}", out.size, l.size),
                ));
            }
        }
        rt.block_on(fetch).map_err(|e| Error::Task(e.to_string()))?.map_err(|e| layer_error(r, l, e))?;
        let out = stored.map_err(|e| Error::Remote {
            registry: r.whole(),
            reason: format!("layer {}: {}", l.digest, crate::error_chain(&e)),
            kind: ErrorKind::Network,
        })?;
        let ok = match want.algorithm {
            Algorithm::Blake3 => want.object_id() == Some(out.id),
            _ => out.aliases.contains(&want),
        };
        if !ok {
            return Err(Error::invalid_image(&l.digest, "downloaded content does not match the digest"));
        }
        Ok(out.id)
    }

    /// Push image `name` to `reference` (default: the image's own name). Blobs the registry
    /// already has are not uploaded.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown image, [`Error::Remote`].
    pub async fn push(
        &self,
        name: &ImageName,
        reference: Option<&str>,
        opts: &RemoteOptions,
        progress: Option<Arc<ProgressFn>>,
    ) -> Result<PushReport> {
        let target = reference.map(String::from).unwrap_or_else(|| name.to_string());
        let res = self.push_inner(name, &target, opts, progress).await;
        self.audit.outcome("image.push", &format!("{name} -> {target}"), res)
    }

    async fn push_inner(
        &self,
        name: &ImageName,
        target: &str,
        opts: &RemoteOptions,
        progress: Option<Arc<ProgressFn>>,
    ) -> Result<PushReport> {
        // The store work (record, sizes, manifest bytes) runs on the blocking pool.
        let (this, n) = (self.clone(), name.clone());
        let (rec, config_size, manifest) = tokio::task::spawn_blocking(move || -> Result<_> {
            let rec = this.inspect(&n)?;
            let size = this.cas.stat(&rec.config_object.digest())?.size;
            let manifest = this.cas.read(&rec.manifest_object)?;
            Ok((rec, size, manifest))
        })
        .await
        .map_err(|e| Error::Task(e.to_string()))??;
        let r = parse_reference(target)?;
        let client = client_for(&r, opts)?;
        let auth = auth_of(&opts.credentials);
        client.auth(&r, &auth, oci_client::RegistryOperation::Push).await.map_err(|e| remote(&r, e))?;
        let mut rep = PushReport {
            reference: r.whole(),
            manifest_digest: rec.manifest_digest.clone(),
            uploaded: 0,
            skipped: 0,
            bytes: 0,
        };
        let mut blobs: Vec<(String, ObjectId, u64)> = vec![(rec.id.clone(), rec.config_object, config_size)];
        blobs.extend(rec.layers.iter().map(|l| (l.digest.clone(), l.object, l.size)));
        for (digest, id, size) in blobs {
            if client.blob_exists(&r, &digest).await.map_err(|e| remote(&r, e))? {
                rep.skipped += 1;
                if let Some(p) = &progress {
                    p(&Progress { phase: Phase::Skip, item: digest.clone(), done: size, total: Some(size) });
                }
                continue;
            }
            let stream = self.upload_stream(id, digest.clone(), size, progress.clone());
            client.push_blob_stream(&r, stream, &digest, Some(size)).await.map_err(|e| remote(&r, e))?;
            rep.uploaded += 1;
            rep.bytes += size;
        }
        let ct = http::HeaderValue::from_str(&rec.manifest_media_type)
            .map_err(|e| Error::invalid_image("manifest", format!("media type: {e}")))?;
        client.push_manifest_raw(&r, manifest, ct).await.map_err(|e| remote(&r, e))?;
        Ok(rep)
    }

    /// A blob as a stream of 1 MiB pieces read on the blocking pool.
    fn upload_stream(
        &self,
        id: ObjectId,
        item: String,
        total: u64,
        progress: Option<Arc<ProgressFn>>,
    ) -> impl futures_util::Stream<Item = oci_client::errors::Result<bytes::Bytes>> + Send + 'static {
        let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<bytes::Bytes>>(4);
        let cas = self.cas.clone();
        tokio::task::spawn_blocking(move || {
            let mut r = match cas.open_object(&id) {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.blocking_send(Err(io::Error::other(e.to_string())));
                    return;
                }
            };
            let mut done = 0u64;
            loop {
                let mut buf = vec![0u8; 1 << 20];
                let filled = match volt_cas::read_full(&mut r, &mut buf) {
                    Ok(n) => n,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                };
                if filled == 0 {
                    return;
                }
                buf.truncate(filled);
                done += filled as u64;
                if let Some(p) = &progress {
                    p(&Progress { phase: Phase::Upload, item: item.clone(), done, total: Some(total) });
                }
                if tx.blocking_send(Ok(bytes::Bytes::from(buf))).is_err() {
                    return;
                }
            }
        });
        futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item.map_err(OciDistributionError::IoError), rx))
        })
    }
}

fn to_client_desc(d: &Descriptor) -> oci_client::manifest::OciDescriptor {
    oci_client::manifest::OciDescriptor {
        media_type: d.media_type.clone(),
        digest: d.digest.clone(),
        size: d.size,
        // oci-client tries these, without credentials, when the registry does not have the blob.
        urls: (!d.urls.is_empty()).then(|| d.urls.clone()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_local_names() {
        for l in ["localhost:5000", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000", "localhost"] {
            assert!(is_loopback(l), "{l}");
        }
        for n in ["example.com:5000", "10.0.0.1:5000", "docker.io", "[fe80::1]:5000"] {
            assert!(!is_loopback(n), "{n}");
        }
        let r = parse_reference("busybox").unwrap();
        assert_eq!(local_name_for(&r).unwrap().to_string(), "busybox:latest");
        let r = parse_reference("127.0.0.1:5000/team/app:v1").unwrap();
        assert_eq!(local_name_for(&r).unwrap().to_string(), "127.0.0.1:5000/team/app:v1");
        assert!(format!("{:?}", Credentials::Bearer("s3cret".into())).find("s3cret").is_none());
        let basic = Credentials::Basic { username: "u".into(), password: "s3cret".into() };
        assert!(!format!("{basic:?}").contains("s3cret"));
    }
}
