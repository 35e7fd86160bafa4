//! qcow2 disks with `qemu-img`: inspection, overlays on a shared read-only base, blank disks,
//! and snapshots as copies of a VM's overlay (`snapshots/NAME.qcow2`). The base is never written:
//! every VM's writes go to its own overlay, so a snapshot is as small as what the VM changed.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What `qemu-img info` says about an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskInfo {
    /// `qcow2`, `raw`, ...
    pub format: String,
    /// Size the guest sees, in bytes.
    pub virtual_size: u64,
    /// Bytes used on the host.
    pub actual_size: u64,
    /// The backing file, if any.
    pub backing: Option<String>,
}

fn qemu_img(args: &[&str]) -> Result<String> {
    let out = Command::new("qemu-img").args(args).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Dependency("qemu-img not found (install qemu-utils)".into())
        } else {
            Error::Tool { program: "qemu-img".into(), reason: e.to_string() }
        }
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Tool {
            program: "qemu-img".into(),
            reason: err.trim().trim_start_matches("qemu-img: ").to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Inspect an image (shared lock: works on the disk of a running VM).
///
/// # Errors
/// [`Error::NotFound`] for a missing file; [`Error::Tool`] when qemu-img fails.
pub fn info(path: &Path) -> Result<DiskInfo> {
    if !path.exists() {
        return Err(Error::NotFound { what: "disk image", name: path.display().to_string() });
    }
    let p = path.display().to_string();
    let json = qemu_img(&["info", "-U", "--output=json", &p])?;
    let v: serde_json::Value =
        serde_json::from_str(&json).map_err(|e| Error::Tool { program: "qemu-img".into(), reason: e.to_string() })?;
    Ok(DiskInfo {
        format: v["format"].as_str().unwrap_or_default().to_string(),
        virtual_size: v["virtual-size"].as_u64().unwrap_or(0),
        actual_size: v["actual-size"].as_u64().unwrap_or(0),
        backing: v["backing-filename"].as_str().map(str::to_string),
    })
}

/// Check that `path` is a self-contained qcow2 image (no backing file of its own).
///
/// # Errors
/// [`Error::Invalid`] naming what it is instead.
pub fn check_base(path: &Path) -> Result<DiskInfo> {
    let i = info(path)?;
    if i.format != "qcow2" {
        return Err(Error::Invalid(format!(
            "{} is not a qcow2 image (qemu-img reads it as {}); convert it with `qemu-img convert -O qcow2`",
            path.display(),
            i.format
        )));
    }
    if let Some(b) = &i.backing {
        return Err(Error::Invalid(format!(
            "{} has a backing file ({b}); give a self-contained image (`qemu-img convert -O qcow2`)",
            path.display()
        )));
    }
    Ok(i)
}

/// Create `dest` as a qcow2 overlay on the read-only `base`, `size` bytes large (at least the
/// base's size; `None`: the base's size). Written to a temporary name and renamed, so a crash
/// never leaves a half disk at `dest`.
///
/// # Errors
/// [`Error::Invalid`] for a size below the base's; qemu-img errors.
pub fn create_overlay(base: &Path, dest: &Path, size: Option<u64>) -> Result<()> {
    let bi = info(base)?;
    if let Some(s) = size {
        if s < bi.virtual_size {
            return Err(Error::Invalid(format!(
                "disk size {} is smaller than the image's {}",
                human(s),
                human(bi.virtual_size)
            )));
        }
    }
    let tmp = tmp_name(dest);
    let b = base.display().to_string();
    let t = tmp.display().to_string();
    let mut args = vec!["create", "-q", "-f", "qcow2", "-F", &bi.format, "-b", &b, &t];
    let s;
    if let Some(v) = size {
        s = v.to_string();
        args.push(&s);
    }
    qemu_img(&args)?;
    finish(&tmp, dest)
}

/// Create an empty qcow2 disk of `size` bytes at `dest`.
///
/// # Errors
/// qemu-img and I/O errors.
pub fn create_blank(dest: &Path, size: u64) -> Result<()> {
    let tmp = tmp_name(dest);
    qemu_img(&["create", "-q", "-f", "qcow2", &tmp.display().to_string(), &size.to_string()])?;
    finish(&tmp, dest)
}

/// Copy `src` to `dest` durably (temporary name, fsync, rename, fsync of the directory). Used
/// to take and restore snapshots of a VM's overlay.
///
/// # Errors
/// I/O errors; nothing is left at `dest` on failure.
pub fn copy_durable(src: &Path, dest: &Path) -> Result<()> {
    let tmp = tmp_name(dest);
    fs::copy(src, &tmp).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io("copy", src, e)
    })?;
    finish(&tmp, dest)
}

fn tmp_name(dest: &Path) -> PathBuf {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dest.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

fn finish(tmp: &Path, dest: &Path) -> Result<()> {
    let f = fs::OpenOptions::new().write(true).open(tmp).map_err(|e| Error::io("open", tmp, e))?;
    f.sync_all().map_err(|e| Error::io("fsync", tmp, e))?;
    drop(f);
    fs::rename(tmp, dest).map_err(|e| {
        let _ = fs::remove_file(tmp);
        Error::io("rename", dest, e)
    })?;
    if let Some(d) = dest.parent() {
        if let Ok(dir) = fs::File::open(d) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

/// Write `data` to `path` atomically and durably.
///
/// # Errors
/// I/O errors.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = tmp_name(path);
    let mut f = fs::File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
    f.write_all(data).map_err(|e| Error::io("write", &tmp, e))?;
    drop(f);
    finish(&tmp, path)
}

/// Parse a size like `10G`, `512M`, `1T`, `4096` (binary units; bytes without one).
///
/// # Errors
/// [`Error::Invalid`] for anything else.
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let bad = || Error::Invalid(format!("invalid size {s:?} (use a number with K, M, G or T, e.g. 10G)"));
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(bad()),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let v = n.checked_mul(mult).ok_or_else(bad)?;
    if v == 0 {
        return Err(bad());
    }
    Ok(v)
}

/// `10.0 GiB`-style rendering.
pub fn human(bytes: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10G").unwrap(), 10 << 30);
        assert_eq!(parse_size("512m").unwrap(), 512 << 20);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        for bad in ["", "G", "10Q", "-1G", "0", "99999999999T"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(human(10 << 30), "10.0 GiB");
    }

    fn have_qemu_img() -> bool {
        Command::new("qemu-img").arg("--version").output().is_ok()
    }

    #[test]
    fn overlays_share_a_base_and_raw_is_refused() {
        if !have_qemu_img() {
            eprintln!("skip: qemu-img not installed");
            assert!(std::env::var("CI").is_err(), "qemu-img is required in CI");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("base.qcow2");
        create_blank(&base, 64 << 20).unwrap();
        let i = check_base(&base).unwrap();
        assert_eq!((i.format.as_str(), i.virtual_size), ("qcow2", 64 << 20));
        let ov = d.path().join("disk.qcow2");
        create_overlay(&base, &ov, Some(1 << 30)).unwrap();
        let oi = info(&ov).unwrap();
        assert_eq!(oi.virtual_size, 1 << 30);
        assert_eq!(oi.backing.as_deref(), Some(base.to_str().unwrap()));
        // An overlay is not a base, and smaller than the base is refused.
        assert!(check_base(&ov).unwrap_err().to_string().contains("backing file"));
        let e = create_overlay(&base, &d.path().join("small.qcow2"), Some(1 << 20)).unwrap_err();
        assert!(e.to_string().contains("smaller"), "{e}");
        assert!(!d.path().join("small.qcow2").exists());
        let raw = d.path().join("x.img");
        fs::write(&raw, vec![0u8; 65536]).unwrap();
        let e = check_base(&raw).unwrap_err();
        assert!(matches!(e, Error::Invalid(_)) && e.to_string().contains("not a qcow2"), "{e}");
        // No temporary files left behind.
        let left: Vec<_> = fs::read_dir(d.path()).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
        assert!(left.iter().all(|n| !n.to_string_lossy().contains(".tmp-")), "{left:?}");
    }
}
