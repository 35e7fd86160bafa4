//! OCI images as Stellarium trees.
//!
//! An image is one ref, `images/<repository>/@<tag>`, pointing at a link object whose payload is
//! an [`ImageRecord`] and whose links keep the assembled root filesystem tree, the manifest, the
//! config and every layer blob alive. Layer blobs stay stored as they came (aliased by their
//! sha256), so the registry can serve them and `push` can upload them without recompressing, and
//! a layer the registry already holds is never stored twice.

mod archive;
mod distribution;
mod export;
mod layer;
mod name;
mod progress;
mod rootfs;
mod tarball;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use volt_cas::{Algorithm, Cas, Links, ObjectId, Tree, Txn};

use crate::audit::AuditLog;
use crate::error::{Error, Result};
use crate::oci::{self, Descriptor, Manifest};
use crate::paths::Paths;

pub use archive::ImportFormat;
pub use distribution::{is_loopback, local_name_for, parse_reference, Credentials, PushReport, RemoteOptions};
pub use layer::{LayerLimits, LayerStats};
pub use name::{valid_repository, valid_tag, ImageName};
pub use progress::{Phase, Progress, ProgressFn};
pub use rootfs::{RootfsMode, RootfsMount};

/// The parts of an image config a user asks about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// Entrypoint.
    pub entrypoint: Vec<String>,
    /// Default arguments.
    pub cmd: Vec<String>,
    /// Environment, `KEY=value`.
    pub env: Vec<String>,
    /// Working directory.
    pub workdir: String,
    /// User (name, uid, `uid:gid`).
    pub user: String,
    /// Exposed ports, e.g. `80/tcp`.
    pub exposed_ports: Vec<String>,
    /// Volumes.
    pub volumes: Vec<String>,
    /// Labels.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Stop signal.
    pub stop_signal: String,
    /// CPU architecture.
    pub architecture: String,
    /// Operating system.
    pub os: String,
    /// Creation time stated by the image.
    pub created: String,
}

impl ImageConfig {
    /// Read the fields Volt keeps from a config blob (OCI or Docker; unknown fields ignored).
    ///
    /// # Errors
    /// [`Error::InvalidImage`] when the blob is not a JSON object.
    pub fn parse(bytes: &[u8]) -> Result<(Self, Vec<String>)> {
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| Error::invalid_image("image config", e.to_string()))?;
        if !v.is_object() {
            return Err(Error::invalid_image("image config", "not a JSON object"));
        }
        let strs = |x: &serde_json::Value| -> Vec<String> {
            x.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect()).unwrap_or_default()
        };
        let keys = |x: &serde_json::Value| -> Vec<String> {
            x.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
        };
        let s = |x: &serde_json::Value| x.as_str().unwrap_or_default().to_string();
        let c = &v["config"];
        let cfg = ImageConfig {
            entrypoint: strs(&c["Entrypoint"]),
            cmd: strs(&c["Cmd"]),
            env: strs(&c["Env"]),
            workdir: s(&c["WorkingDir"]),
            user: s(&c["User"]),
            exposed_ports: keys(&c["ExposedPorts"]),
            volumes: keys(&c["Volumes"]),
            labels: c["Labels"]
                .as_object()
                .map(|o| o.iter().map(|(k, v)| (k.clone(), s(v))).collect())
                .unwrap_or_default(),
            stop_signal: s(&c["StopSignal"]),
            architecture: s(&v["architecture"]),
            os: s(&v["os"]),
            created: s(&v["created"]),
        };
        Ok((cfg, strs(&v["rootfs"]["diff_ids"])))
    }
}

/// One layer of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    /// Blob digest (as in the manifest).
    pub digest: String,
    /// Media type.
    pub media_type: String,
    /// Blob size in bytes.
    pub size: u64,
    /// Digest of the uncompressed tar.
    pub diff_id: String,
    /// The blob's Stellarium object.
    pub object: ObjectId,
}

/// Everything Volt records about a local image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Name and tag.
    pub name: ImageName,
    /// Image id: the config digest.
    pub id: String,
    /// Manifest digest.
    pub manifest_digest: String,
    /// Manifest media type.
    pub manifest_media_type: String,
    /// The manifest's Stellarium object.
    pub manifest_object: ObjectId,
    /// The config's Stellarium object.
    pub config_object: ObjectId,
    /// Config fields.
    pub config: ImageConfig,
    /// Layers, bottom first.
    pub layers: Vec<LayerRecord>,
    /// The assembled root filesystem tree.
    pub tree: ObjectId,
    /// Entries in the tree.
    pub files: u64,
    /// Bytes of file content in the tree.
    pub size: u64,
    /// Where the image came from (`oci-layout:PATH`, `docker-archive:PATH`, `rootfs:PATH`,
    /// `registry:REF`).
    pub source: String,
    /// When Volt stored it (RFC 3339).
    pub stored: String,
}

impl ImageRecord {
    /// Blob digests this image needs (manifest, config, layers).
    pub fn blob_digests(&self) -> Vec<&str> {
        let mut v = vec![self.manifest_digest.as_str(), self.id.as_str()];
        v.extend(self.layers.iter().map(|l| l.digest.as_str()));
        v
    }
}

/// One line of `volt image list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSummary {
    /// Name and tag.
    pub name: ImageName,
    /// Image id (config digest).
    pub id: String,
    /// Bytes of file content.
    pub size: u64,
    /// Number of layers.
    pub layers: usize,
    /// When Volt stored it.
    pub stored: String,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportReport {
    /// Destination (directory or tar file).
    pub path: PathBuf,
    /// Manifest digest.
    pub manifest_digest: String,
    /// Blobs written.
    pub blobs: usize,
    /// Bytes of blobs written.
    pub bytes: u64,
}

/// A layer blob ready to be applied: its descriptor and its Stellarium object.
#[derive(Debug, Clone)]
pub(crate) struct LayerBlob {
    pub desc: Descriptor,
    pub object: ObjectId,
}

/// Local images over one Stellarium store.
#[derive(Clone)]
pub struct Images {
    cas: Arc<Cas>,
    paths: Paths,
    audit: AuditLog,
    limits: LayerLimits,
}

impl std::fmt::Debug for Images {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Images").field("store", &self.cas.root()).finish_non_exhaustive()
    }
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

impl Images {
    /// Images over `cas`, with host paths (shared roots, container directories) from `paths`.
    pub fn new(cas: Arc<Cas>, paths: Paths, audit: AuditLog, limits: LayerLimits) -> Self {
        Images { cas, paths, audit, limits }
    }

    /// The store underneath.
    pub fn cas(&self) -> &Arc<Cas> {
        &self.cas
    }

    /// All local images, sorted by name.
    ///
    /// # Errors
    /// Store errors.
    pub fn list(&self) -> Result<Vec<ImageSummary>> {
        let mut out = Vec::new();
        for r in self.cas.list_refs(Some(name::IMAGE_REFS))? {
            let Some(name) = ImageName::from_ref(&r.name) else { continue };
            let rec = self.read_record(&r.target)?;
            out.push(ImageSummary { name, id: rec.id, size: rec.size, layers: rec.layers.len(), stored: rec.stored });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn read_record(&self, id: &ObjectId) -> Result<ImageRecord> {
        let links = self.cas.read_links(id)?;
        serde_json::from_slice(&links.payload)
            .map_err(|e| Error::invalid_image(format!("image record {id}"), format!("unreadable: {e}")))
    }

    /// The record of image `name`.
    ///
    /// # Errors
    /// [`Error::NotFound`] if there is no such image.
    pub fn inspect(&self, name: &ImageName) -> Result<ImageRecord> {
        let id = self.record_id(name)?;
        let mut rec = self.read_record(&id)?;
        rec.name = name.clone();
        Ok(rec)
    }

    fn record_id(&self, name: &ImageName) -> Result<ObjectId> {
        match self.cas.get_ref(&name.ref_name()) {
            Ok(id) => Ok(id),
            Err(volt_cas::Error::RefNotFound(_)) => Err(Error::NotFound { what: "image", name: name.to_string() }),
            Err(e) => Err(e.into()),
        }
    }

    /// Give image `src` the additional name `dst` (moving `dst` if it named another image).
    ///
    /// # Errors
    /// [`Error::NotFound`] if `src` does not exist.
    pub fn tag(&self, src: &ImageName, dst: &ImageName) -> Result<()> {
        self.audit.audited("image.tag", &format!("{src} -> {dst}"), || {
            let id = self.record_id(src)?;
            // Protected while the new name is written: a concurrent rm + gc cannot free it.
            let txn = self.cas.begin()?;
            if !txn.protect(&id)? {
                return Err(Error::NotFound { what: "image", name: src.to_string() });
            }
            txn.commit(Some((&dst.ref_name(), &id)))?;
            Ok(())
        })
    }

    /// Remove the name `name`. The content goes at the next gc if nothing else uses it.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::InUse`] if a container uses the image.
    pub fn remove(&self, name: &ImageName) -> Result<()> {
        self.audit.audited("image.rm", &name.to_string(), || {
            let tree = self.read_record(&self.record_id(name)?)?.tree;
            if let Some(user) = self.container_using(name)? {
                return Err(Error::InUse {
                    what: "image",
                    name: name.to_string(),
                    users: vec![format!("container {user}")],
                    hint: "",
                });
            }
            self.cas.delete_ref(&name.ref_name())?;
            self.drop_shared_root_if_unused(&tree)?;
            Ok(())
        })
    }

    /// The first container (by directory name) whose `config.json` names this image.
    fn container_using(&self, name: &ImageName) -> Result<Option<String>> {
        let dir = self.paths.containers_dir();
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("list containers", dir, e)),
        };
        let wanted = [name.to_string(), if name.tag == "latest" { name.repository.clone() } else { String::new() }];
        let mut users: Vec<String> = Vec::new();
        for ent in rd.flatten() {
            let Ok(text) = std::fs::read(ent.path().join("config.json")) else { continue };
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&text) else { continue };
            if let Some(img) = v["image"].as_str() {
                if !img.is_empty() && wanted.iter().any(|w| w == img) {
                    users.push(ent.file_name().to_string_lossy().into_owned());
                }
            }
        }
        users.sort();
        Ok(users.into_iter().next())
    }

    /// Store `bytes` (a manifest or config) with its sha256 alias; returns the object.
    pub(crate) fn put_json_blob(txn: &Txn<'_>, bytes: &[u8], digest: &str) -> Result<ObjectId> {
        let expected = oci::parse_digest(digest)?;
        let actual = oci::digest_of(expected.algorithm, bytes);
        if actual != expected {
            return Err(Error::invalid_image(digest, format!("content has digest {actual}")));
        }
        let out = txn.put_bytes(bytes, None)?;
        txn.add_alias(expected, out.id);
        if actual.algorithm != Algorithm::Sha256 {
            txn.add_alias(oci::digest_of(Algorithm::Sha256, bytes), out.id);
        }
        Ok(out.id)
    }

    /// Apply `layers` in order into a tree, store it, write the record and point `name` at it.
    /// With `given` = None the image is a bare root filesystem: a config for this host and a
    /// manifest are made once the layers' diff_ids are known.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn commit_image(
        &self,
        txn: Txn<'_>,
        name: &ImageName,
        source: String,
        given: Option<(&[u8], &[u8])>,
        layers: &[LayerBlob],
        progress: Option<&ProgressFn>,
    ) -> Result<ImageRecord> {
        let expected_diff_ids = match given {
            Some((_, config)) => ImageConfig::parse(config)?.1,
            None => Vec::new(),
        };
        if !expected_diff_ids.is_empty() && expected_diff_ids.len() != layers.len() {
            return Err(Error::invalid_image(
                "image config",
                format!("{} diff_ids for {} layers", expected_diff_ids.len(), layers.len()),
            ));
        }
        let mut root = layer::Rootfs::new();
        let mut records = Vec::with_capacity(layers.len());
        for (i, l) in layers.iter().enumerate() {
            if let Some(p) = progress {
                p(&Progress {
                    phase: Phase::Apply,
                    item: l.desc.digest.clone(),
                    done: i as u64,
                    total: Some(layers.len() as u64),
                });
            }
            let (stats, diff_id) = self.apply_layer(&txn, &mut root, l)?;
            if let Some(want) = expected_diff_ids.get(i) {
                if *want != diff_id {
                    return Err(Error::invalid_image(
                        format!("layer {}", l.desc.digest),
                        format!("uncompressed digest {diff_id} does not match the config's diff_id {want}"),
                    ));
                }
            }
            tracing::debug!(layer = %l.desc.digest, entries = stats.entries, bytes = stats.bytes, "layer applied");
            records.push(LayerRecord {
                digest: l.desc.digest.clone(),
                media_type: l.desc.media_type.clone(),
                size: l.desc.size.max(0) as u64,
                diff_id,
                object: l.object,
            });
        }
        if let Some(p) = progress {
            p(&Progress {
                phase: Phase::Apply,
                item: name.to_string(),
                done: layers.len() as u64,
                total: Some(layers.len() as u64),
            });
        }
        let (manifest_bytes, config_bytes) = match given {
            Some((m, c)) => (m.to_vec(), c.to_vec()),
            None => {
                let diff_ids: Vec<&str> = records.iter().map(|r| r.diff_id.as_str()).collect();
                let config = serde_json::to_vec(&serde_json::json!({
                    "architecture": archive::host_arch(),
                    "os": "linux",
                    "created": now_rfc3339(),
                    "config": {},
                    "rootfs": {"type": "layers", "diff_ids": diff_ids},
                }))
                .expect("config serialises");
                let manifest = archive::synth_manifest(&oci::sha256_digest(&config), config.len(), layers);
                (manifest, config)
            }
        };
        let manifest = Manifest::parse(&manifest_bytes)?;
        if manifest.is_index() {
            return Err(Error::invalid_image("manifest", "an index, not an image manifest"));
        }
        let manifest_digest = oci::sha256_digest(&manifest_bytes);
        let manifest_object = Self::put_json_blob(&txn, &manifest_bytes, &manifest_digest)?;
        let config_desc = manifest.config.clone().ok_or_else(|| Error::invalid_image("manifest", "no config"))?;
        let config_object = Self::put_json_blob(&txn, &config_bytes, &config_desc.digest)?;
        let (config, _) = ImageConfig::parse(&config_bytes)?;
        let tree = root.into_tree();
        let encoded = tree.encode();
        Tree::decode(&encoded).map_err(|e| Error::invalid_image("assembled tree", e))?;
        let tree_id = txn.put_bytes(&encoded, None)?.id;
        let rec = ImageRecord {
            name: name.clone(),
            id: config_desc.digest.clone(),
            manifest_digest,
            manifest_media_type: manifest.effective_media_type().to_string(),
            manifest_object,
            config_object,
            config,
            files: tree.entries.len() as u64,
            size: tree.content_bytes(),
            layers: records,
            tree: tree_id,
            source,
            stored: now_rfc3339(),
        };
        let mut ids = vec![tree_id, manifest_object, config_object];
        ids.extend(rec.layers.iter().map(|l| l.object));
        let links = Links { ids, payload: serde_json::to_vec(&rec).expect("record serialises") };
        let rid = txn.put_bytes(&links.encode(), None)?.id;
        txn.commit(Some((&name.ref_name(), &rid)))?;
        Ok(rec)
    }

    /// Apply one stored layer blob; returns its stats and diff_id.
    fn apply_layer(&self, txn: &Txn<'_>, root: &mut layer::Rootfs, l: &LayerBlob) -> Result<(LayerStats, String)> {
        use sha2::Digest as _;
        struct Hashing<R> {
            inner: R,
            h: sha2::Sha256,
        }
        impl<R: std::io::Read> std::io::Read for Hashing<R> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.inner.read(buf)?;
                self.h.update(&buf[..n]);
                Ok(n)
            }
        }
        let what = format!("layer {}", l.desc.digest);
        let reader = txn.open_object(&l.object)?;
        let tar_stream = layer::open_layer(std::io::BufReader::with_capacity(1 << 20, reader), self.limits)
            .map_err(|e| Error::invalid_image(&what, e.to_string()))?;
        let mut hashing = Hashing { inner: tar_stream, h: sha2::Sha256::new() };
        let stats = root.apply(txn, &l.desc.digest, &mut hashing)?;
        // The diff_id covers the whole stream, padding after the end-of-archive blocks included.
        std::io::copy(&mut hashing, &mut std::io::sink()).map_err(|e| Error::invalid_image(&what, e.to_string()))?;
        Ok((stats, format!("sha256:{}", hex::encode(hashing.h.finalize()))))
    }
}

/// Default limits from the configuration.
pub(crate) fn limits_from(c: &crate::config::ImageSettings) -> LayerLimits {
    LayerLimits { max_uncompressed: c.max_layer_size, max_ratio: c.max_expansion_ratio, ratio_floor: c.expansion_floor }
}

pub(crate) fn path_str(p: &Path) -> String {
    p.display().to_string()
}
