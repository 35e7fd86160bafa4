//! Deleting a VM and the base disk no other VM uses.

use super::*;

impl Vms {
    /// Delete a VM: its directory, TAPs, addresses, forwards, base ref and unit. A running VM
    /// needs `force` (it is killed first).
    ///
    /// # Errors
    /// [`Error::InvalidState`] for a running VM without `force`.
    pub fn delete(&self, name: &str, force: bool) -> Result<()> {
        self.audit.audited("vm.delete", name, || {
            let c = self.load(name)?;
            let info = self.info(c.clone())?;
            if info.status.is_live() {
                if !force {
                    info.status.check(Op::Delete, &c.name)?;
                }
                let _ = self.kill(&c.name, libc::SIGKILL);
            }
            let _l = self.lock(&c.name)?;
            let dir = self.dir(&c.name);
            let gone = self.paths.vms_dir().join(format!(".{}.deleting-{}", c.name, std::process::id()));
            fs::rename(&dir, &gone).map_err(|e| Error::io("rename", &dir, e))?;
            for n in &c.networks {
                self.networks.release(n, &c.name)?;
            }
            self.networks.forget(&c.name)?;
            match self.cas.delete_ref(&self.base_ref(&c.name)?) {
                Ok(()) | Err(volt_cas::Error::RefNotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
            if self.backend == Backend::Systemd {
                if let Ok(sd) = self.systemd() {
                    let _ = sd.uninstall(&Self::unit_name(&c.name));
                }
            }
            let _ = fs::remove_file(self.unit_path(&c.name));
            fs::remove_dir_all(&gone).map_err(|e| Error::io("remove", &gone, e))?;
            if let Some(b) = &c.base {
                self.drop_base_if_unused(&b.object);
            }
            Ok(())
        })
    }

    /// Remove a materialised base file no VM uses any more (the store object stays as long as an
    /// image or ref holds it; a later VM writes the file again).
    pub(super) fn drop_base_if_unused(&self, object: &str) {
        let used = self
            .list()
            .map(|l| l.iter().any(|v| v.config.base.as_ref().is_some_and(|b| b.object == object)))
            .unwrap_or(true);
        // A create in progress (hidden directory) may be about to use it.
        let creating = fs::read_dir(self.paths.vms_dir())
            .map(|rd| rd.flatten().any(|e| e.file_name().to_string_lossy().contains(".creating-")))
            .unwrap_or(true);
        if !used && !creating {
            let _ = fs::remove_file(self.base_path(object));
        }
    }
}
