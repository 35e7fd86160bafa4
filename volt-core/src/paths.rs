//! Every host path Volt uses, derived from one value. `VOLT_ROOT=<dir>` (or `root:` in the
//! config file) puts all of them under one prefix, so tests and trial runs never touch the
//! host's `/etc`, `/var` or `/run`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Host paths. Build with [`Paths::system`] or [`Paths::under`]; everything else is derived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paths {
    /// Prefix all paths hang from (`/` on a real host).
    pub root: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Self::system()
    }
}

impl Paths {
    /// The host's standard locations.
    pub fn system() -> Self {
        Paths { root: PathBuf::from("/") }
    }

    /// All locations relocated under `root`.
    pub fn under(root: impl Into<PathBuf>) -> Self {
        Paths { root: root.into() }
    }

    /// `VOLT_ROOT` if set and non-empty, else the system locations.
    pub fn from_env() -> Self {
        match std::env::var_os("VOLT_ROOT") {
            Some(r) if !r.is_empty() => Self::under(r),
            _ => Self::system(),
        }
    }

    fn at(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// `/etc/volt`.
    pub fn etc_dir(&self) -> PathBuf {
        self.at("etc/volt")
    }
    /// `/etc/volt/config.yaml`.
    pub fn config_file(&self) -> PathBuf {
        self.etc_dir().join("config.yaml")
    }
    /// `/var/lib/volt`.
    pub fn lib_dir(&self) -> PathBuf {
        self.at("var/lib/volt")
    }
    /// `/var/lib/volt/cas` (Stellarium).
    pub fn cas_dir(&self) -> PathBuf {
        self.lib_dir().join("cas")
    }
    /// `/var/lib/volt/containers`.
    pub fn containers_dir(&self) -> PathBuf {
        self.lib_dir().join("containers")
    }
    /// `/var/lib/volt/kernels`: guest kernels by profile or name.
    pub fn kernels_dir(&self) -> PathBuf {
        self.lib_dir().join("kernels")
    }

    /// `/var/lib/volt/vms`.
    pub fn vms_dir(&self) -> PathBuf {
        self.lib_dir().join("vms")
    }
    /// `/var/lib/volt/images`.
    pub fn images_dir(&self) -> PathBuf {
        self.lib_dir().join("images")
    }
    /// `/var/lib/volt/units`.
    pub fn units_dir(&self) -> PathBuf {
        self.lib_dir().join("units")
    }
    /// `/run/volt` (the reference's `/var/run/volt`, which links to it on modern systems).
    pub fn run_dir(&self) -> PathBuf {
        self.at("run/volt")
    }
    /// `/run/volt/volt.sock`.
    pub fn socket(&self) -> PathBuf {
        self.run_dir().join("volt.sock")
    }
    /// `/run/volt/locks`.
    pub fn locks_dir(&self) -> PathBuf {
        self.run_dir().join("locks")
    }
    /// `/var/cache/volt` (safe to delete).
    pub fn cache_dir(&self) -> PathBuf {
        self.at("var/cache/volt")
    }
    /// `/var/cache/volt/cas`: the build stat cache.
    pub fn cas_cache_dir(&self) -> PathBuf {
        self.cache_dir().join("cas")
    }
    /// `/var/log/volt`.
    pub fn log_dir(&self) -> PathBuf {
        self.at("var/log/volt")
    }
    /// `/var/log/volt/audit.log`.
    pub fn audit_log(&self) -> PathBuf {
        self.log_dir().join("audit.log")
    }

    /// True when these are the host's own locations.
    pub fn is_system(&self) -> bool {
        self.root == Path::new("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relocates_everything() {
        let p = Paths::under("/tmp/x");
        for path in [p.config_file(), p.cas_dir(), p.run_dir(), p.cache_dir(), p.audit_log(), p.units_dir()] {
            assert!(path.starts_with("/tmp/x"), "{}", path.display());
        }
        let s = Paths::system();
        assert_eq!(s.cas_dir(), PathBuf::from("/var/lib/volt/cas"));
        assert_eq!(s.config_file(), PathBuf::from("/etc/volt/config.yaml"));
        assert_eq!(s.audit_log(), PathBuf::from("/var/log/volt/audit.log"));
    }
}
