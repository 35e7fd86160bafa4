//! `image import`: OCI image layouts (directory or tar), docker-archive tars (`docker save`) and
//! plain root filesystems (directory or tarball), recognised from their content.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use volt_cas::{Algorithm, Digest, ObjectId, Txn};

use super::{path_str, ImageName, ImageRecord, Images, LayerBlob, Phase, Progress, ProgressFn};
use crate::error::{Error, Result};
use crate::oci::{self, Compression, Descriptor, LayoutIndex, Manifest, ANNOTATION_REF_NAME};

/// What an import source turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportFormat {
    /// An OCI image layout (`oci-layout`, `index.json`, `blobs/`), as a directory or a tar.
    OciLayout,
    /// A `docker save` archive (`manifest.json` listing configs and layer tars).
    DockerArchive,
    /// A root filesystem directory.
    RootfsDir,
    /// A root filesystem tarball (plain, gzip or zstd).
    RootfsTar,
}

impl ImportFormat {
    /// Name used in records and output.
    pub fn name(self) -> &'static str {
        match self {
            ImportFormat::OciLayout => "oci-layout",
            ImportFormat::DockerArchive => "docker-archive",
            ImportFormat::RootfsDir => "rootfs",
            ImportFormat::RootfsTar => "rootfs",
        }
    }
}

/// Files of an archive: read from a directory, or already stored from a tar.
enum Source {
    Dir(PathBuf),
    /// Path in the tar → (object, sha256, size); symlinks resolved to their target's entry.
    Stored(HashMap<String, (ObjectId, Digest, u64)>),
}

fn norm(p: &str) -> String {
    p.trim_start_matches("./").trim_end_matches('/').to_string()
}

/// `name` (from an untrusted manifest) as a path inside directory `d`: relative, no `..`, and
/// still inside `d` once symlinks are resolved.
fn inside(d: &Path, name: &str) -> Result<std::path::PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() || p.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        return Err(Error::invalid_image(name, "names a file outside the image directory"));
    }
    let joined = d.join(p);
    match std::fs::canonicalize(&joined) {
        Ok(real) if real.starts_with(d) => Ok(real),
        Ok(_) => Err(Error::invalid_image(name, "resolves outside the image directory")),
        Err(_) => Ok(joined), // missing: the caller reports it
    }
}

impl Source {
    fn has(&self, name: &str) -> bool {
        match self {
            Source::Dir(d) => inside(d, name).is_ok_and(|p| p.is_file()),
            Source::Stored(m) => m.contains_key(name),
        }
    }

    /// Read a small file (JSON), refusing anything over `limit` bytes.
    fn read_small(&self, txn: &Txn<'_>, name: &str, limit: u64) -> Result<Vec<u8>> {
        let bytes = match self {
            Source::Dir(d) => {
                let p = inside(d, name)?;
                let len = std::fs::metadata(&p).map_err(|e| Error::io("read", &p, e))?.len();
                if len > limit {
                    return Err(Error::invalid_image(name, format!("{len} bytes; at most {limit} are accepted")));
                }
                std::fs::read(&p).map_err(|e| Error::io("read", &p, e))?
            }
            Source::Stored(m) => {
                let (id, _, size) =
                    m.get(name).ok_or_else(|| Error::invalid_image(name, "missing from the archive"))?;
                if *size > limit {
                    return Err(Error::invalid_image(name, format!("{size} bytes; at most {limit} are accepted")));
                }
                let mut v = Vec::new();
                txn.open_object(id)?.read_to_end(&mut v).map_err(|e| Error::io("read", name, e))?;
                v
            }
        };
        Ok(bytes)
    }

    /// Store (or find) a blob, checking it against `expected` when given. Returns the object,
    /// its sha256 digest and size.
    fn blob(&self, txn: &Txn<'_>, name: &str, expected: Option<&str>) -> Result<(ObjectId, Digest, u64)> {
        let exp = expected.map(oci::parse_digest).transpose()?;
        let (id, digests, size) = match self {
            Source::Dir(d) => {
                let p = inside(d, name)?;
                let mut also = vec![Algorithm::Sha256];
                if let Some(e) = &exp {
                    if e.algorithm == Algorithm::Sha512 {
                        also.push(Algorithm::Sha512);
                    }
                }
                let mut f = match File::open(&p) {
                    Ok(f) => f,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        return Err(Error::invalid_image(name, "missing from the layout"))
                    }
                    Err(e) => return Err(Error::io("open", &p, e)),
                };
                let out = oci::put_blob(txn, &mut f, &p, &also)?;
                (out.id, out.aliases, out.size)
            }
            Source::Stored(m) => {
                let (id, sha, size) =
                    m.get(name).ok_or_else(|| Error::invalid_image(name, "missing from the archive"))?;
                txn.protect(id)?;
                (*id, vec![sha.clone()], *size)
            }
        };
        let sha = digests.iter().find(|d| d.algorithm == Algorithm::Sha256).cloned().expect("sha256 computed");
        if let Some(e) = exp {
            let ok = match e.algorithm {
                Algorithm::Blake3 => e.object_id() == Some(id),
                _ => digests.contains(&e),
            };
            if !ok {
                return Err(Error::invalid_image(name, format!("content does not match its digest {e}")));
            }
        }
        Ok((id, sha, size))
    }
}

/// Docker `manifest.json` entry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

const JSON_LIMIT: u64 = 8 << 20;

fn blob_path(digest: &str) -> Result<String> {
    let d = oci::parse_digest(digest)?;
    Ok(format!("blobs/{}/{}", d.algorithm.name(), d.hex()))
}

impl Images {
    /// Import an image from `path` under `name`, recognising the format from the content.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a missing path, [`Error::InvalidImage`] for a malformed or unsafe
    /// image (nothing is kept), store errors.
    pub fn import(&self, path: &Path, name: &ImageName, progress: Option<&ProgressFn>) -> Result<ImageRecord> {
        self.audit.audited("image.import", &format!("{name} <- {}", path.display()), || {
            self.import_inner(path, name, progress)
        })
    }

    fn import_inner(&self, path: &Path, name: &ImageName, progress: Option<&ProgressFn>) -> Result<ImageRecord> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io("import", path, e))?;
        let abs = std::fs::canonicalize(path).map_err(|e| Error::io("import", path, e))?;
        let path = abs.as_path();
        let txn = self.cas.begin()?;
        if meta.is_dir() {
            if path.join("oci-layout").is_file() {
                let src = Source::Dir(path.to_path_buf());
                return self.import_oci(txn, &src, name, format!("oci-layout:{}", path_str(path)), progress);
            }
            if path.join("manifest.json").is_file() {
                let src = Source::Dir(path.to_path_buf());
                return self.import_docker(txn, &src, name, format!("docker-archive:{}", path_str(path)), progress);
            }
            return self.import_rootfs_dir(txn, path, name, progress);
        }
        let format = sniff_tar(path, self.limits)?;
        match format {
            ImportFormat::OciLayout | ImportFormat::DockerArchive => {
                let src = self.store_archive(&txn, path, progress)?;
                if format == ImportFormat::OciLayout {
                    self.import_oci(txn, &src, name, format!("oci-archive:{}", path_str(path)), progress)
                } else {
                    self.import_docker(txn, &src, name, format!("docker-archive:{}", path_str(path)), progress)
                }
            }
            _ => {
                let mut f = File::open(path).map_err(|e| Error::io("open", path, e))?;
                let out = oci::put_blob(&txn, &mut f, path, &[Algorithm::Sha256])?;
                let sha = out.aliases[0].to_string();
                self.import_single_layer(
                    txn,
                    out.id,
                    sha,
                    out.size,
                    name,
                    format!("rootfs:{}", path_str(path)),
                    progress,
                )
            }
        }
    }

    /// Store every regular file of an archive tar (each with its sha256) and map names to them.
    fn store_archive(&self, txn: &Txn<'_>, path: &Path, progress: Option<&ProgressFn>) -> Result<Source> {
        let f = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let total = f.metadata().map(|m| m.len()).ok();
        let what = path.display().to_string();
        let bad = |e: io::Error| Error::invalid_image(&what, format!("unreadable archive: {e}"));
        let mut ar = tar::Archive::new(super::layer::open_layer(io::BufReader::new(f), self.limits).map_err(bad)?);
        let mut map: HashMap<String, (ObjectId, Digest, u64)> = HashMap::new();
        let mut links: Vec<(String, String)> = Vec::new();
        let mut done = 0u64;
        for e in ar.entries().map_err(bad)? {
            let mut e = e.map_err(bad)?;
            let name = norm(&String::from_utf8_lossy(&e.path_bytes()));
            match e.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let out = oci::put_blob(txn, &mut e, Path::new(&name), &[Algorithm::Sha256])?;
                    done += out.size;
                    if let Some(p) = progress {
                        p(&Progress { phase: Phase::Read, item: name.clone(), done, total });
                    }
                    map.insert(name, (out.id, out.aliases[0].clone(), out.size));
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = String::from_utf8_lossy(&e.link_name_bytes().unwrap_or_default()).into_owned();
                    let is_sym = e.header().entry_type() == tar::EntryType::Symlink;
                    // docker save links duplicate layers as `../<id>/layer.tar`.
                    let resolved = if is_sym {
                        let dir = Path::new(&name).parent().unwrap_or(Path::new(""));
                        let mut parts: Vec<String> = Vec::new();
                        for c in dir.join(&target).components() {
                            match c {
                                std::path::Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
                                std::path::Component::ParentDir => {
                                    parts.pop();
                                }
                                _ => {}
                            }
                        }
                        parts.join("/")
                    } else {
                        norm(&target)
                    };
                    links.push((name, resolved));
                }
                _ => {}
            }
        }
        for (name, target) in links {
            if let Some(v) = map.get(&target).cloned() {
                map.insert(name, v);
            }
        }
        Ok(Source::Stored(map))
    }

    fn import_oci(
        &self,
        txn: Txn<'_>,
        src: &Source,
        name: &ImageName,
        source: String,
        progress: Option<&ProgressFn>,
    ) -> Result<ImageRecord> {
        let index_bytes = src.read_small(&txn, "index.json", JSON_LIMIT)?;
        let index: LayoutIndex = serde_json::from_slice(&index_bytes)
            .map_err(|e| Error::invalid_image("index.json", format!("not an OCI index: {e}")))?;
        let desc = pick_from_layout(&index.manifests, name)?;
        let (manifest_bytes, desc) = self.resolve_platform(&txn, src, desc)?;
        let manifest = Manifest::parse(&manifest_bytes)?;
        let config_desc = manifest.config.clone().ok_or_else(|| Error::invalid_image("manifest", "no config"))?;
        let config = src.read_small(&txn, &blob_path(&config_desc.digest)?, JSON_LIMIT)?;
        let mut layers = Vec::new();
        for l in &manifest.layers {
            let (object, _, _) = src.blob(&txn, &blob_path(&l.digest)?, Some(&l.digest))?;
            layers.push(LayerBlob { desc: l.clone(), object });
        }
        let _ = desc;
        self.commit_image(txn, name, source, Some((&manifest_bytes, &config)), &layers, progress)
    }

    /// Follow an index to the manifest for this host's platform.
    fn resolve_platform(&self, txn: &Txn<'_>, src: &Source, desc: Descriptor) -> Result<(Vec<u8>, Descriptor)> {
        let mut desc = desc;
        for _ in 0..4 {
            let bytes = src.read_small(txn, &blob_path(&desc.digest)?, JSON_LIMIT)?;
            let actual = oci::digest_of(oci::parse_digest(&desc.digest)?.algorithm, &bytes);
            if actual.to_string() != desc.digest {
                return Err(Error::invalid_image(&desc.digest, format!("content has digest {actual}")));
            }
            let m = Manifest::parse(&bytes)?;
            if !m.is_index() {
                return Ok((bytes, desc));
            }
            desc = pick_platform(&m.manifests)?;
        }
        Err(Error::invalid_image("index", "indexes nested too deeply"))
    }

    fn import_docker(
        &self,
        txn: Txn<'_>,
        src: &Source,
        name: &ImageName,
        source: String,
        progress: Option<&ProgressFn>,
    ) -> Result<ImageRecord> {
        let bytes = src.read_small(&txn, "manifest.json", JSON_LIMIT)?;
        let entries: Vec<DockerEntry> = serde_json::from_slice(&bytes)
            .map_err(|e| Error::invalid_image("manifest.json", format!("not a docker-archive manifest: {e}")))?;
        let entry = match entries.len() {
            0 => return Err(Error::invalid_image("manifest.json", "lists no image")),
            1 => &entries[0],
            _ => {
                let want = name.to_string();
                entries
                    .iter()
                    .find(|e| e.repo_tags.iter().flatten().any(|t| *t == want || t.ends_with(&format!("/{want}"))))
                    .ok_or_else(|| {
                        let tags: Vec<&String> = entries.iter().flat_map(|e| e.repo_tags.iter().flatten()).collect();
                        Error::InvalidArgument(format!(
                            "the archive holds {} images ({tags:?}); name one of them with --name",
                            entries.len()
                        ))
                    })?
            }
        };
        let config = src.read_small(&txn, &norm(&entry.config), JSON_LIMIT)?;
        let config_digest = oci::sha256_digest(&config);
        let mut layers = Vec::new();
        for l in &entry.layers {
            let lname = norm(l);
            if !src.has(&lname) {
                return Err(Error::invalid_image(&lname, "layer missing from the archive"));
            }
            let (object, sha, size) = src.blob(&txn, &lname, None)?;
            let media_type = Compression::sniff(&self.head(&txn, &object)?).layer_media_type().to_string();
            layers.push(LayerBlob { desc: Descriptor::new(media_type, sha.to_string(), size), object });
        }
        let manifest = synth_manifest(&config_digest, config.len(), &layers);
        self.commit_image(txn, name, source, Some((&manifest, &config)), &layers, progress)
    }

    fn head(&self, txn: &Txn<'_>, id: &ObjectId) -> Result<Vec<u8>> {
        let mut r = txn.open_object(id)?;
        let mut head = vec![0u8; 4];
        let got = volt_cas::read_full(&mut r, &mut head).map_err(|e| Error::io("read", "<object>", e))?;
        head.truncate(got);
        Ok(head)
    }

    fn import_rootfs_dir(
        &self,
        txn: Txn<'_>,
        dir: &Path,
        name: &ImageName,
        progress: Option<&ProgressFn>,
    ) -> Result<ImageRecord> {
        if let Some(p) = progress {
            p(&Progress { phase: Phase::Read, item: dir.display().to_string(), done: 0, total: None });
        }
        let built = self.cas.build(dir, None)?;
        let tree_id = built.root;
        txn.protect(&tree_id)?;
        let tree = self.cas.read_tree(&tree_id)?;
        // The directory becomes one uncompressed layer, streamed from the tree into the store.
        let (mut rd, wr) = io::pipe().map_err(|e| Error::io("pipe", dir, e))?;
        let cas = self.cas.clone();
        let writer = std::thread::spawn(move || super::tarball::write_tree_tar(&cas, &tree, wr));
        let put = txn.put_reader(&mut rd, dir, &[Algorithm::Sha256], None);
        drop(rd);
        writer.join().map_err(|_| Error::Task("layer writer panicked".into()))??;
        let out = put?;
        let sha = out.aliases[0].to_string();
        self.import_single_layer(txn, out.id, sha, out.size, name, format!("rootfs:{}", path_str(dir)), progress)
    }

    /// A root filesystem as a one-layer image with a minimal config for this host.
    #[allow(clippy::too_many_arguments)]
    fn import_single_layer(
        &self,
        txn: Txn<'_>,
        object: ObjectId,
        sha: String,
        size: u64,
        name: &ImageName,
        source: String,
        progress: Option<&ProgressFn>,
    ) -> Result<ImageRecord> {
        let media_type = Compression::sniff(&self.head(&txn, &object)?).layer_media_type().to_string();
        let desc = Descriptor::new(media_type, sha, size);
        self.commit_image(txn, name, source, None, &[LayerBlob { desc, object }], progress)
    }
}

/// The host architecture in OCI (GOARCH) spelling.
pub(crate) fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

pub(crate) fn synth_manifest(config_digest: &str, config_len: usize, layers: &[LayerBlob]) -> Vec<u8> {
    let m = Manifest {
        schema_version: 2,
        media_type: Some(oci::MEDIA_OCI_MANIFEST.into()),
        config: Some(Descriptor::new(oci::MEDIA_OCI_CONFIG, config_digest, config_len as u64)),
        layers: layers.iter().map(|l| l.desc.clone()).collect(),
        ..Default::default()
    };
    serde_json::to_vec(&m).expect("manifest serialises")
}

/// Pick the image from a layout's index: by `ref.name` annotation (the tag or the full name),
/// else the only one.
fn pick_from_layout(manifests: &[Descriptor], name: &ImageName) -> Result<Descriptor> {
    let named = |d: &&Descriptor| {
        d.annotations
            .get(ANNOTATION_REF_NAME)
            .is_some_and(|r| *r == name.tag || *r == name.to_string() || r.ends_with(&format!("/{name}")))
    };
    if let Some(d) = manifests.iter().find(named) {
        return Ok(d.clone());
    }
    match manifests {
        [] => Err(Error::invalid_image("index.json", "lists no image")),
        [one] => Ok(one.clone()),
        _ => {
            let names: Vec<&str> =
                manifests.iter().filter_map(|d| d.annotations.get(ANNOTATION_REF_NAME).map(String::as_str)).collect();
            Err(Error::InvalidArgument(format!(
                "the layout holds {} images (ref names {names:?}); pick one with --name NAME:REFNAME",
                manifests.len()
            )))
        }
    }
}

/// The index entry for this host (linux and the host architecture).
pub(crate) fn pick_platform(manifests: &[Descriptor]) -> Result<Descriptor> {
    manifests
        .iter()
        .find(|d| d.platform.as_ref().is_some_and(|p| p.os == "linux" && p.architecture == host_arch()))
        .or_else(|| if manifests.len() == 1 { manifests.first() } else { None })
        .cloned()
        .ok_or_else(|| Error::invalid_image("index", format!("no image for linux/{}", host_arch())))
}

/// Tell an OCI layout tar or a docker archive from a root filesystem tarball by its names.
fn sniff_tar(path: &Path, limits: super::LayerLimits) -> Result<ImportFormat> {
    let f = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let what = path.display().to_string();
    let bad = |e: io::Error| Error::invalid_image(&what, format!("not a tar archive: {e}"));
    let (mut oci_layout, mut docker) = (false, false);
    let mut check = |name: &str| {
        oci_layout |= name == "oci-layout";
        docker |= name == "manifest.json";
    };
    // Read through the same guarded, bounded reader as layers: a hostile archive cannot make
    // even this first look buffer an enormous header or expand without bound.
    let mut ar = tar::Archive::new(super::layer::open_layer(io::BufReader::new(f), limits).map_err(bad)?);
    for e in ar.entries().map_err(bad)? {
        check(&norm(&String::from_utf8_lossy(&e.map_err(bad)?.path_bytes())));
    }
    Ok(if oci_layout {
        ImportFormat::OciLayout
    } else if docker {
        ImportFormat::DockerArchive
    } else {
        ImportFormat::RootfsTar
    })
}
