//! Named volumes: `volumes/NAME/{volume.json,data/}`. A volume outlives the containers that
//! mount it; it can only be removed while no container's configuration names it.

use std::fs;
use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::store::read_json;
use super::{ContainerConfig, ContainerName};
use crate::audit::AuditLog;
use crate::error::{Error, Result};
use crate::paths::Paths;

/// A named volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    /// Name (same rules as container names).
    pub name: String,
    /// When it was created (RFC 3339).
    pub created: String,
    /// The directory mounted into containers.
    pub path: PathBuf,
    /// Containers whose configuration mounts it.
    #[serde(default)]
    pub used_by: Vec<String>,
}

/// The named volumes of one installation.
#[derive(Debug, Clone)]
pub struct Volumes {
    paths: Paths,
    audit: AuditLog,
}

impl Volumes {
    /// Volumes under `paths`; creation and removal are recorded in `audit`.
    pub fn new(paths: Paths, audit: AuditLog) -> Self {
        Volumes { paths, audit }
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.paths.lib_dir().join("volumes").join(name)
    }

    fn check(name: &str) -> Result<()> {
        name.parse::<ContainerName>()
            .map(|_| ())
            .map_err(|_| Error::InvalidArgument(format!("volume name {name:?}: 1-63 of a-z, 0-9, '-', '_'")))
    }

    /// Create a volume. An existing name is [`crate::ErrorKind::AlreadyExists`].
    ///
    /// # Errors
    /// Usage, already exists, I/O errors.
    pub fn create(&self, name: &str) -> Result<Volume> {
        self.audit.audited("volume.create", name, || self.create_inner(name))
    }

    fn create_inner(&self, name: &str) -> Result<Volume> {
        Self::check(name)?;
        let root = self.paths.lib_dir().join("volumes");
        fs::create_dir_all(&root).map_err(|e| Error::io("create", &root, e))?;
        // Built aside and renamed into place: a volume exists whole or not at all.
        let tmp = root.join(format!(".tmp-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(tmp.join("data")).map_err(|e| Error::io("create", &tmp, e))?;
        let v = Volume {
            name: name.to_string(),
            created: crate::image::now_rfc3339(),
            path: self.dir(name).join("data"),
            used_by: Vec::new(),
        };
        crate::fsutil::write_atomic(&tmp.join("volume.json"), &serde_json::to_vec_pretty(&v).expect("serialises"))?;
        match fs::rename(&tmp, self.dir(name)) {
            Ok(()) => Ok(v),
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                if matches!(e.raw_os_error(), Some(libc::ENOTEMPTY) | Some(libc::EEXIST)) {
                    Err(Error::io(
                        "create volume",
                        self.dir(name),
                        io::Error::new(io::ErrorKind::AlreadyExists, format!("a volume named {name} exists")),
                    ))
                } else {
                    Err(Error::io("create volume", self.dir(name), e))
                }
            }
        }
    }

    /// A volume with the containers using it.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn inspect(&self, name: &str) -> Result<Volume> {
        Self::check(name)?;
        let dir = self.dir(name);
        if !dir.join("volume.json").exists() {
            return Err(Error::NotFound { what: "volume", name: name.to_string() });
        }
        let mut v: Volume = read_json(&dir, "volume.json")?;
        v.used_by = self.users(&v.path);
        Ok(v)
    }

    /// Create the volume unless it exists; return it.
    ///
    /// # Errors
    /// As [`Volumes::create`].
    pub fn ensure(&self, name: &str) -> Result<Volume> {
        match self.inspect(name) {
            Ok(v) => Ok(v),
            Err(Error::NotFound { .. }) => match self.create(name) {
                Err(e) if e.kind() == crate::ErrorKind::AlreadyExists => self.inspect(name),
                r => r,
            },
            Err(e) => Err(e),
        }
    }

    /// All volumes, by name.
    ///
    /// # Errors
    /// I/O errors.
    pub fn list(&self) -> Result<Vec<Volume>> {
        let root = self.paths.lib_dir().join("volumes");
        let mut out = Vec::new();
        for ent in fs::read_dir(&root).into_iter().flatten().flatten() {
            let n = ent.file_name().to_string_lossy().into_owned();
            if n.starts_with('.') {
                continue;
            }
            if let Ok(v) = self.inspect(&n) {
                out.push(v);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Remove a volume and its data; refused ([`Error::InUse`], exit 9) while a container
    /// mounts it.
    ///
    /// # Errors
    /// Not found, conflict, I/O errors.
    pub fn remove(&self, name: &str) -> Result<()> {
        self.audit.audited("volume.rm", name, || self.remove_inner(name))
    }

    fn remove_inner(&self, name: &str) -> Result<()> {
        let v = self.inspect(name)?;
        if !v.used_by.is_empty() {
            return Err(Error::InUse {
                what: "volume",
                name: name.into(),
                users: v.used_by.iter().map(|c| format!("container {c}")).collect(),
                hint: "; delete them first",
            });
        }
        let dir = self.dir(name);
        let doomed = dir.with_file_name(format!(".rm-{name}-{}", std::process::id()));
        fs::rename(&dir, &doomed).map_err(|e| Error::io("remove volume", &dir, e))?;
        fs::remove_dir_all(&doomed).map_err(|e| Error::io("remove volume", &doomed, e))
    }

    fn users(&self, path: &std::path::Path) -> Vec<String> {
        let mut out = Vec::new();
        for ent in fs::read_dir(self.paths.containers_dir()).into_iter().flatten().flatten() {
            let Ok(c) = read_json::<ContainerConfig>(&ent.path(), "config.json") else { continue };
            if c.mounts.iter().any(|m| m.source == path) {
                out.push(c.name.to_string());
            }
        }
        out.sort();
        out
    }
}
