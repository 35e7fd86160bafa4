//! Deleting a container (a running one only with force).

use super::*;

impl Containers {
    /// Delete a container (root filesystem, directory, unit). A running one is refused with
    /// exit 9 unless `force`, which stops it first.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::InvalidState`].
    pub fn delete(&self, name: &str, force: bool) -> Result<()> {
        let n = Self::name(name)?;
        self.audit.audited("container.delete", name, || {
            let _lock = self.store.lock(&n)?;
            let info = self.inspect_n(&n, true)?;
            if !is_running(&info.state) && !self.supervisor_gone(&n) {
                return Err(Error::Conflict(format!("container {n} is starting; try again")));
            }
            if is_running(&info.state) {
                if !force {
                    info.state.status.check(Op::Delete, n.as_str())?;
                }
                self.stop_locked(&n, Some(0))?;
            }
            if info.state.backend.as_deref() == Some("systemd") {
                let _ = self.systemd()?.uninstall(&unit_name(&n));
            }
            if let Some(cg) = &info.state.cgroup {
                cg.remove()?;
            }
            let _ = fs::remove_file(self.paths.units_dir().join(unit_name(&n)));
            self.unplug_all(&info.config)?;
            self.store.delete_locked(&n)
        })
    }
}
