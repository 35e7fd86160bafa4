//! `image export`: an image as an OCI image layout, a directory or a tar file.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use volt_cas::ObjectId;

use super::{ExportReport, ImageName, Images, Phase, Progress, ProgressFn};
use crate::error::{Error, Result};
use crate::oci::{self, Descriptor, LayoutIndex, ANNOTATION_REF_NAME};

const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

impl Images {
    /// Write image `name` to `dest` as an OCI image layout: a tar file if `dest` ends in
    /// `.tar`, else a directory (which must not exist or be empty). The index names the image
    /// by its tag (`org.opencontainers.image.ref.name`).
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::InvalidArgument`] for a non-empty destination, I/O errors
    /// (a failed export removes what it wrote).
    pub fn export(&self, name: &ImageName, dest: &Path, progress: Option<&ProgressFn>) -> Result<ExportReport> {
        self.audit.audited("image.export", &format!("{name} -> {}", dest.display()), || {
            self.export_inner(name, dest, progress)
        })
    }

    fn export_inner(&self, name: &ImageName, dest: &Path, progress: Option<&ProgressFn>) -> Result<ExportReport> {
        let rec = self.inspect(name)?;
        let mut blobs: Vec<(String, ObjectId, u64)> = Vec::new();
        let msize = self.cas.stat(&rec.manifest_object.digest())?.size;
        let csize = self.cas.stat(&rec.config_object.digest())?.size;
        blobs.push((rec.manifest_digest.clone(), rec.manifest_object, msize));
        blobs.push((rec.id.clone(), rec.config_object, csize));
        for l in &rec.layers {
            if !blobs.iter().any(|b| b.0 == l.digest) {
                blobs.push((l.digest.clone(), l.object, l.size));
            }
        }
        let mut ann = std::collections::BTreeMap::new();
        ann.insert(ANNOTATION_REF_NAME.to_string(), rec.name.tag.clone());
        let index = LayoutIndex {
            schema_version: 2,
            media_type: Some(oci::MEDIA_OCI_INDEX.into()),
            manifests: vec![Descriptor {
                annotations: ann,
                ..Descriptor::new(&rec.manifest_media_type, &rec.manifest_digest, msize)
            }],
        };
        let index_json = serde_json::to_vec(&index).expect("index serialises");
        let total: u64 = blobs.iter().map(|b| b.2).sum();
        let is_tar = dest.extension().is_some_and(|e| e == "tar");
        if is_tar {
            // Written beside the destination and renamed over it only when complete.
            self.export_tar(dest, &blobs, &index_json, total, progress)?;
        } else {
            let existed = match fs::read_dir(dest) {
                Ok(mut rd) => {
                    if rd.next().is_some() {
                        return Err(Error::InvalidArgument(format!("{}: directory is not empty", dest.display())));
                    }
                    true
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => false,
                Err(e) => return Err(Error::io("open", dest, e)),
            };
            if let Err(e) = self.export_dir(dest, &blobs, &index_json, total, progress) {
                // Only what this export wrote goes: the directory was empty or absent before.
                if existed {
                    for name in ["blobs", "oci-layout", "index.json"] {
                        let p = dest.join(name);
                        let _ = fs::remove_dir_all(&p).or_else(|_| fs::remove_file(&p));
                    }
                } else {
                    let _ = fs::remove_dir_all(dest);
                }
                return Err(e);
            }
        }
        Ok(ExportReport {
            path: dest.to_path_buf(),
            manifest_digest: rec.manifest_digest,
            blobs: blobs.len(),
            bytes: total,
        })
    }

    fn export_dir(
        &self,
        dest: &Path,
        blobs: &[(String, ObjectId, u64)],
        index_json: &[u8],
        total: u64,
        progress: Option<&ProgressFn>,
    ) -> Result<()> {
        let mut done = 0;
        for (digest, id, size) in blobs {
            let d = oci::parse_digest(digest)?;
            let dir = dest.join("blobs").join(d.algorithm.name());
            fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
            let p = dir.join(d.hex());
            let mut f = File::create(&p).map_err(|e| Error::io("create", &p, e))?;
            self.cas.get(&id.digest(), &mut f)?;
            f.sync_all().map_err(|e| Error::io("sync", &p, e))?;
            done += size;
            if let Some(cb) = progress {
                cb(&Progress { phase: Phase::Write, item: digest.clone(), done, total: Some(total) });
            }
        }
        for (name, data) in [("oci-layout", OCI_LAYOUT), ("index.json", index_json)] {
            crate::fsutil::write_atomic(&dest.join(name), data)?;
        }
        Ok(())
    }

    fn export_tar(
        &self,
        dest: &Path,
        blobs: &[(String, ObjectId, u64)],
        index_json: &[u8],
        total: u64,
        progress: Option<&ProgressFn>,
    ) -> Result<()> {
        let tmp = dest.with_extension(format!("tar.tmp-{}", std::process::id()));
        let io_err = |e: io::Error| Error::io("write", dest, e);
        let f = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        let mut b = tar::Builder::new(io::BufWriter::with_capacity(1 << 20, f));
        let header = |size: u64| {
            let mut h = tar::Header::new_ustar();
            h.set_mode(0o644);
            h.set_size(size);
            h.set_entry_type(tar::EntryType::Regular);
            h
        };
        let r = (|| -> Result<()> {
            b.append_data(&mut header(OCI_LAYOUT.len() as u64), "oci-layout", OCI_LAYOUT).map_err(io_err)?;
            b.append_data(&mut header(index_json.len() as u64), "index.json", index_json).map_err(io_err)?;
            let mut done = 0;
            for (digest, id, size) in blobs {
                let d = oci::parse_digest(digest)?;
                let r = self.cas.open_object(id)?;
                let name = format!("blobs/{}/{}", d.algorithm.name(), d.hex());
                b.append_data(&mut header(*size), name, io::BufReader::with_capacity(1 << 20, r)).map_err(io_err)?;
                done += size;
                if let Some(cb) = progress {
                    cb(&Progress { phase: Phase::Write, item: digest.clone(), done, total: Some(total) });
                }
            }
            let mut w = b.into_inner().map_err(io_err)?;
            w.flush().map_err(io_err)?;
            w.get_ref().sync_all().map_err(io_err)?;
            fs::rename(&tmp, dest).map_err(io_err)?;
            Ok(())
        })();
        if r.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        r
    }
}
