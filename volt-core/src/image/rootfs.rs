//! Container root filesystems from images: one shared, read-only hardlink checkout per image
//! tree, and per container an overlayfs on top of it (or a private copy where overlayfs cannot
//! be mounted).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use volt_cas::CheckoutMode;

use super::{ImageName, Images};
use crate::error::{Error, Result};

/// How a container root was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RootfsMode {
    /// overlayfs: the shared image checkout below, `upper/` and `work/` of the container above.
    Overlay,
    /// A private copy of the image (no overlayfs here).
    Copy,
}

/// A container root made by [`Images::create_rootfs`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootfsMount {
    /// The root the container sees (`<container dir>/rootfs`).
    pub path: PathBuf,
    /// How it was made.
    pub mode: RootfsMode,
    /// The shared read-only image checkout (overlay mode).
    pub lower: Option<PathBuf>,
    /// The container's writable layer (overlay mode).
    pub upper: Option<PathBuf>,
    /// Mounted with overlayfs's `volatile` option: no syncs to the writable layer (for
    /// containers deleted when they end; after a host crash the layer may miss writes).
    #[serde(default)]
    pub volatile: bool,
}

const STATE_FILE: &str = "rootfs.json";

impl Images {
    /// The shared read-only checkout of an image's tree, made on first use. Every image with
    /// the same tree shares one checkout.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown image; store and I/O errors.
    pub fn shared_root(&self, name: &ImageName) -> Result<PathBuf> {
        let rec = self.inspect(name)?;
        let roots = self.paths.images_dir().join("roots");
        let dest = roots.join(rec.tree.to_hex());
        if dest.is_dir() {
            return Ok(dest);
        }
        fs::create_dir_all(&roots).map_err(|e| Error::io("create", &roots, e))?;
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = roots.join(format!(".tmp-{}-{}-{seq}", rec.tree.to_hex(), std::process::id()));
        self.cas.checkout(&rec.tree, &tmp, CheckoutMode::Hardlink)?;
        match fs::rename(&tmp, &dest) {
            Ok(()) => {}
            // Someone else finished the same checkout first: theirs is identical.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTEMPTY) | Some(libc::EEXIST)) => {
                let _ = fs::remove_dir_all(&tmp);
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                return Err(Error::io("publish shared root", &dest, e));
            }
        }
        Ok(dest)
    }

    /// Make the root filesystem of a container whose directory is `container_dir`:
    /// `rootfs/` there becomes an overlayfs over the image's shared checkout, with `upper/` and
    /// `work/` beside it. Where overlayfs cannot be mounted (or `copy` is set) the image is
    /// copied instead. Costs no time proportional to the image size once the shared checkout
    /// exists (overlay mode).
    ///
    /// # Errors
    /// [`Error::AlreadyExists`]-kind I/O error if `rootfs/` is in use; store and I/O errors.
    pub fn create_rootfs(&self, name: &ImageName, container_dir: &Path, copy: bool) -> Result<RootfsMount> {
        self.create_rootfs_with(name, container_dir, copy, false)
    }

    /// [`Images::create_rootfs`], optionally `volatile` (overlayfs skips every sync of the
    /// writable layer, and `rootfs.json` is written without fsync): for containers that are
    /// deleted when they end.
    ///
    /// # Errors
    /// As [`Images::create_rootfs`].
    pub fn create_rootfs_with(
        &self,
        name: &ImageName,
        container_dir: &Path,
        copy: bool,
        volatile: bool,
    ) -> Result<RootfsMount> {
        self.audit.audited("image.rootfs", &format!("{name} -> {}", container_dir.display()), || {
            self.create_rootfs_inner(name, container_dir, copy, volatile)
        })
    }

    fn create_rootfs_inner(&self, name: &ImageName, dir: &Path, copy: bool, volatile: bool) -> Result<RootfsMount> {
        let path = dir.join("rootfs");
        fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        if dir.join(STATE_FILE).exists() {
            return Err(Error::io(
                "create rootfs",
                &path,
                io::Error::new(io::ErrorKind::AlreadyExists, "the container already has a root filesystem"),
            ));
        }
        let mount = if copy {
            None
        } else {
            let lower = self.shared_root(name)?;
            let upper = dir.join("upper");
            let work = dir.join("work");
            for d in [&upper, &work, &path] {
                fs::create_dir_all(d).map_err(|e| Error::io("create", d, e))?;
            }
            match mount_overlay(&lower, &upper, &work, &path, volatile) {
                Ok(v) => Some(RootfsMount {
                    path: path.clone(),
                    mode: RootfsMode::Overlay,
                    lower: Some(lower),
                    upper: Some(upper),
                    volatile: v,
                }),
                Err(e) => {
                    tracing::warn!(error = %e, "overlayfs unavailable; copying the image instead");
                    let _ = fs::remove_dir(&upper);
                    let _ = fs::remove_dir(&work);
                    None
                }
            }
        };
        let m = match mount {
            Some(m) => m,
            None => {
                let rec = self.inspect(name)?;
                let _ = fs::remove_dir(&path);
                self.cas.checkout(&rec.tree, &path, CheckoutMode::Copy)?;
                RootfsMount { path, mode: RootfsMode::Copy, lower: None, upper: None, volatile: false }
            }
        };
        crate::fsutil::write_replace(
            &dir.join(STATE_FILE),
            &serde_json::to_vec_pretty(&m).expect("serialises"),
            !volatile,
        )?;
        Ok(m)
    }

    /// Undo [`Images::create_rootfs`]: unmount and remove `rootfs/`, `upper/`, `work/` and the
    /// state file. Idempotent.
    ///
    /// # Errors
    /// I/O errors (a busy mount among them).
    pub fn remove_rootfs(&self, container_dir: &Path) -> Result<()> {
        let path = container_dir.join("rootfs");
        if is_mountpoint(&path) {
            rustix::mount::unmount(&path, rustix::mount::UnmountFlags::empty())
                .map_err(|e| Error::io("unmount", &path, e.into()))?;
        }
        for d in ["rootfs", "upper", "work"] {
            let p = container_dir.join(d);
            match fs::remove_dir_all(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove", &p, e)),
            }
        }
        let _ = fs::remove_file(container_dir.join(STATE_FILE));
        Ok(())
    }
}

impl Images {
    /// Make sure a container's root filesystem is in place: an overlay root that is not mounted
    /// (the host rebooted, say) is mounted again; the shared checkout is remade if it went away.
    ///
    /// # Errors
    /// [`Error::NotFound`]-kind I/O error when the container has no root filesystem; mount errors.
    pub fn ensure_rootfs(&self, container_dir: &Path) -> Result<RootfsMount> {
        let sp = container_dir.join(STATE_FILE);
        let text = fs::read(&sp).map_err(|e| Error::io("read", &sp, e))?;
        let m: RootfsMount =
            serde_json::from_slice(&text).map_err(|e| Error::Config { path: sp.clone(), reason: e.to_string() })?;
        if m.mode == RootfsMode::Overlay && !is_mountpoint(&m.path) {
            let (Some(lower), Some(upper)) = (&m.lower, &m.upper) else {
                return Err(Error::Config { path: sp, reason: "overlay root without lower/upper".into() });
            };
            if !lower.is_dir() {
                return Err(Error::NotFound { what: "image checkout", name: lower.display().to_string() });
            }
            let work = container_dir.join("work");
            fs::create_dir_all(&work).map_err(|e| Error::io("create", &work, e))?;
            // overlayfs refuses to mount over a volatile layer that was not unmounted cleanly
            // until this marker goes: the layer may miss writes, which volatile accepted.
            let _ = fs::remove_dir_all(work.join("work/incompat/volatile"));
            mount_overlay(lower, upper, &work, &m.path, m.volatile)
                .map_err(|e| Error::io("mount overlay", &m.path, e))?;
        }
        Ok(m)
    }

    /// Remove the shared checkout of `tree` when no image has that tree any more and no
    /// container root sits on it (checked through the containers' `rootfs.json`).
    pub(crate) fn drop_shared_root_if_unused(&self, tree: &volt_cas::ObjectId) -> Result<()> {
        let dest = self.paths.images_dir().join("roots").join(tree.to_hex());
        if !dest.exists() {
            return Ok(());
        }
        for r in self.cas.list_refs(Some(super::name::IMAGE_REFS))? {
            if self.read_record(&r.target).is_ok_and(|rec| rec.tree == *tree) {
                return Ok(());
            }
        }
        let containers = self.paths.containers_dir();
        for ent in fs::read_dir(&containers).into_iter().flatten().flatten() {
            let Ok(text) = fs::read(ent.path().join(STATE_FILE)) else { continue };
            if serde_json::from_slice::<RootfsMount>(&text).is_ok_and(|m| m.lower.as_deref() == Some(dest.as_path())) {
                return Ok(());
            }
        }
        // Renamed aside first so a concurrent `shared_root` never sees a half-removed tree.
        let doomed = dest.with_file_name(format!(".rm-{}-{}", tree.to_hex(), std::process::id()));
        fs::rename(&dest, &doomed).map_err(|e| Error::io("remove shared root", &dest, e))?;
        fs::remove_dir_all(&doomed).map_err(|e| Error::io("remove shared root", &doomed, e))
    }
}

/// Mount an overlay; returns whether `volatile` could be used (kernels before 5.10 lack it).
fn mount_overlay(lower: &Path, upper: &Path, work: &Path, target: &Path, volatile: bool) -> io::Result<bool> {
    for p in [lower, upper, work] {
        let s = p.to_string_lossy();
        if s.contains(',') || s.contains(':') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{s}: ',' and ':' cannot be passed to overlayfs"),
            ));
        }
    }
    let base = format!("lowerdir={},upperdir={},workdir={}", lower.display(), upper.display(), work.display());
    let mount = |o: String| -> io::Result<()> {
        let o = std::ffi::CString::new(o).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        rustix::mount::mount("overlay", target, "overlay", rustix::mount::MountFlags::empty(), Some(o.as_c_str()))
            .map_err(io::Error::from)
    };
    if volatile && mount(format!("{base},volatile")).is_ok() {
        return Ok(true);
    }
    mount(base).map(|()| false)
}

fn is_mountpoint(p: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::symlink_metadata(p), p.parent().map(fs::symlink_metadata)) {
        (Ok(a), Some(Ok(b))) => a.dev() != b.dev(),
        _ => false,
    }
}
