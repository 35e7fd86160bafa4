//! The parts of the OCI image and distribution formats that Volt reads and writes.
//!
//! Manifests are kept byte for byte (their digest is their identity); these types are only a
//! tolerant view used to find what a manifest references. Unknown fields are ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use volt_cas::{Algorithm, Digest};

use crate::error::{Error, Result};

/// OCI image manifest.
pub const MEDIA_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const MEDIA_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config.
pub const MEDIA_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Uncompressed OCI layer.
pub const MEDIA_OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
/// Gzip-compressed OCI layer.
pub const MEDIA_OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Zstd-compressed OCI layer.
pub const MEDIA_OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// OCI layers that may not be redistributed (Windows base layers, licensed content), in the three
/// compressions: a registry may be pushed a manifest naming one without the blob, which clients
/// then fetch from the descriptor's `urls`.
pub const MEDIA_OCI_LAYER_NONDISTRIBUTABLE: [&str; 3] = [
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
];
/// Docker's foreign (non-distributable) layer.
pub const MEDIA_DOCKER_FOREIGN_LAYER: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
/// Docker schema 2 manifest.
pub const MEDIA_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const MEDIA_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image config.
pub const MEDIA_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// The empty descriptor's media type (artifacts without a config).
pub const MEDIA_EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// Media types a client accepts when it asks for a manifest.
pub const MANIFEST_MEDIA_TYPES: [&str; 4] =
    [MEDIA_OCI_MANIFEST, MEDIA_OCI_INDEX, MEDIA_DOCKER_MANIFEST, MEDIA_DOCKER_LIST];

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// `algo:hex` digest.
    pub digest: String,
    /// Size in bytes.
    pub size: i64,
    /// Artifact type (for artifact manifests listed by the referrers API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Platform (index entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Where else the content can be fetched from (non-distributable layers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
}

impl Descriptor {
    /// A descriptor with no artifact type, annotations or platform.
    pub fn new(media_type: impl Into<String>, digest: impl Into<String>, size: u64) -> Self {
        Descriptor {
            media_type: media_type.into(),
            digest: digest.into(),
            size: size as i64,
            artifact_type: None,
            annotations: BTreeMap::new(),
            platform: None,
            urls: Vec::new(),
        }
    }

    /// A non-distributable layer (either media type) that says where it can be fetched from: a
    /// registry accepts a manifest naming it without having its blob.
    pub fn is_foreign_with_urls(&self) -> bool {
        let t = self.media_type.as_str();
        (MEDIA_OCI_LAYER_NONDISTRIBUTABLE.contains(&t) || t == MEDIA_DOCKER_FOREIGN_LAYER) && !self.urls.is_empty()
    }
}

/// A platform in an index entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture (GOARCH spelling).
    pub architecture: String,
    /// Operating system.
    pub os: String,
    /// Variant (arm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An image manifest, an index or an artifact manifest, read tolerantly.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    #[serde(default)]
    pub schema_version: i64,
    /// Media type, when the manifest states it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Config blob (image manifests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Descriptor>,
    /// Layers (image manifests).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<Descriptor>,
    /// Child manifests (indexes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<Descriptor>,
    /// The manifest this one refers to (referrers API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Manifest {
    /// Parse manifest bytes.
    ///
    /// # Errors
    /// [`Error::InvalidImage`] when the bytes are not a JSON manifest.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let m: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| Error::invalid_image("manifest", format!("not valid JSON: {e}")))?;
        if m.schema_version != 2 {
            return Err(Error::invalid_image("manifest", format!("schemaVersion {} (expected 2)", m.schema_version)));
        }
        Ok(m)
    }

    /// Is this an index (a list of manifests)?
    pub fn is_index(&self) -> bool {
        matches!(self.media_type.as_deref(), Some(MEDIA_OCI_INDEX | MEDIA_DOCKER_LIST))
            || (self.config.is_none() && !self.manifests.is_empty())
    }

    /// The media type to serve this manifest with: its own, else inferred from its shape.
    pub fn effective_media_type(&self) -> &str {
        match self.media_type.as_deref() {
            Some(t) => t,
            None if self.is_index() => MEDIA_OCI_INDEX,
            None => MEDIA_OCI_MANIFEST,
        }
    }

    /// The artifact type as the referrers API reports it: `artifactType`, else the config's
    /// media type.
    pub fn effective_artifact_type(&self) -> Option<&str> {
        self.artifact_type.as_deref().or(self.config.as_ref().map(|c| c.media_type.as_str()))
    }
}

/// The OCI image layout's `index.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayoutIndex {
    /// Always 2.
    pub schema_version: i64,
    /// Media type of the index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The images.
    pub manifests: Vec<Descriptor>,
}

/// The annotation naming an image in an OCI layout.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// Parse an `algo:hex` OCI digest (sha256, sha512 or blake3).
///
/// # Errors
/// [`Error::InvalidArgument`] naming the digest.
pub fn parse_digest(s: &str) -> Result<Digest> {
    if !s.contains(':') {
        return Err(Error::InvalidArgument(format!("digest {s:?}: expected algorithm:hex")));
    }
    s.parse::<Digest>().map_err(|e| Error::InvalidArgument(e.to_string()))
}

/// The digest of `bytes` in `algorithm`.
pub fn digest_of(algorithm: Algorithm, bytes: &[u8]) -> Digest {
    let raw = match algorithm {
        Algorithm::Blake3 => blake3::hash(bytes).as_bytes().to_vec(),
        Algorithm::Sha256 => sha2::Sha256::digest(bytes).to_vec(),
        Algorithm::Sha512 => sha2::Sha512::digest(bytes).to_vec(),
    };
    Digest { algorithm, bytes: raw }
}

/// Layer compression, recognised by magic bytes rather than trusted from a media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

impl Compression {
    /// Recognise the compression of a stream from its first bytes.
    pub fn sniff(head: &[u8]) -> Self {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// The OCI layer media type for this compression.
    pub fn layer_media_type(self) -> &'static str {
        match self {
            Compression::None => MEDIA_OCI_LAYER,
            Compression::Gzip => MEDIA_OCI_LAYER_GZIP,
            Compression::Zstd => MEDIA_OCI_LAYER_ZSTD,
        }
    }
}

/// Store a blob from a stream. Compressed blobs (gzip, zstd) are stored whole: content-defined
/// chunks of a compressed stream almost never repeat elsewhere, and one file is far cheaper
/// than thousands. Anything else goes through the store's usual size-based chunking.
///
/// # Errors
/// Store and read errors.
pub fn put_blob(
    txn: &volt_cas::Txn<'_>,
    r: &mut dyn std::io::Read,
    what: &std::path::Path,
    also: &[Algorithm],
) -> std::result::Result<volt_cas::PutOutcome, volt_cas::Error> {
    let mut head = [0u8; 4];
    let got = volt_cas::read_full(r, &mut head).map_err(|e| volt_cas::Error::Io {
        op: "read",
        path: what.to_path_buf(),
        source: e,
    })?;
    let mut chained = std::io::Read::chain(&head[..got], r);
    match Compression::sniff(&head[..got]) {
        Compression::None => txn.put_reader(&mut chained, what, also, None),
        _ => txn.put_stream_whole(&mut chained, what, also),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_parse_tolerantly_and_report_their_type() {
        let m = Manifest::parse(
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","extra":1,
            "config":{"mediaType":"application/vnd.example+json","digest":"sha256:aa","size":2},
            "layers":[],"subject":{"mediaType":"x","digest":"sha256:bb","size":1}}"#,
        )
        .unwrap();
        assert!(!m.is_index());
        assert_eq!(m.effective_artifact_type(), Some("application/vnd.example+json"));
        assert_eq!(m.subject.unwrap().digest, "sha256:bb");
        let i =
            Manifest::parse(br#"{"schemaVersion":2,"manifests":[{"mediaType":"a","digest":"sha256:cc","size":3}]}"#)
                .unwrap();
        assert!(i.is_index());
        assert_eq!(i.effective_media_type(), MEDIA_OCI_INDEX);
        assert!(Manifest::parse(b"{\"schemaVersion\":1}").is_err());
        assert!(Manifest::parse(b"not json").is_err());
    }

    #[test]
    fn digests_and_compression() {
        assert_eq!(sha256_digest(b""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(digest_of(Algorithm::Sha256, b"").to_string(), sha256_digest(b""));
        assert!(parse_digest("sha256:zz").is_err());
        assert!(parse_digest(&"a".repeat(64)).is_err());
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd]), Compression::Zstd);
        assert_eq!(Compression::sniff(b"usr/"), Compression::None);
    }
}
