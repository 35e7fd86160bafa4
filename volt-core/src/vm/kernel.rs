//! Kernels for VMs: build, import, list, remove (refused while a VM uses one).

use super::*;

impl Vms {
    /// Install a profile's kernel: `server`, `dev`, `desktop`, `rt` from Debian's kernel packages;
    /// `minimal` compiled from Debian's kernel source (a few minutes; the tree stays in the cache
    /// directory, so rebuilding is quick).
    ///
    /// # Errors
    /// Already exists; dependency and tool errors.
    pub fn kernel_build(&self, profile: &str) -> Result<KernelInfo> {
        let work = self.paths.cache_dir().join("kernels");
        self.audit.audited("kernel.build", profile, || {
            if profile == "minimal" {
                let jobs = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
                self.kernels().build_minimal(&work, jobs).map_err(Error::from)
            } else {
                self.kernels().build_debian(profile, &work).map_err(Error::from)
            }
        })
    }

    /// Import a kernel image (and initramfs) under `name` (audited).
    ///
    /// # Errors
    /// As [`Kernels::import`].
    pub fn kernel_import(&self, file: &Path, name: &str, initrd: Option<&Path>, cmdline: &str) -> Result<KernelInfo> {
        self.audit
            .audited("kernel.import", name, || self.kernels().import(file, name, initrd, cmdline).map_err(Error::from))
    }

    /// Installed kernels, by name.
    ///
    /// # Errors
    /// I/O errors.
    pub fn kernel_list(&self) -> Result<Vec<KernelInfo>> {
        self.kernels().list().map_err(Error::from)
    }

    /// Remove a kernel no VM uses.
    ///
    /// # Errors
    /// [`Error::InUse`] naming the VMs that use it.
    pub fn kernel_remove(&self, kernel: &str) -> Result<()> {
        let users: Vec<String> =
            self.list()?.into_iter().filter(|v| v.config.kernel == kernel).map(|v| v.config.name).collect();
        if !users.is_empty() {
            return Err(Error::InUse { what: "kernel", name: kernel.into(), users, hint: "" });
        }
        self.audit.audited("kernel.rm", kernel, || self.kernels().remove(kernel).map_err(Error::from))
    }
}
