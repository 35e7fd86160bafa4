//! Disk snapshots: create (paused for the copy), list, restore, delete.

use super::*;

impl Vms {
    pub(super) fn snapshots_of(&self, name: &str) -> Result<Vec<SnapshotInfo>> {
        let d = self.dir(name).join(SNAPSHOTS);
        let mut out = Vec::new();
        let Ok(rd) = fs::read_dir(&d) else { return Ok(out) };
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if let Some(s) = n.strip_suffix(".json").filter(|_| !n.starts_with('.')) {
                if d.join(format!("{s}.qcow2")).exists() {
                    out.push(read_json(&e.path())?);
                }
            }
        }
        out.sort_by(|a: &SnapshotInfo, b| a.created.cmp(&b.created).then(a.name.cmp(&b.name)));
        Ok(out)
    }

    /// Take a snapshot of the VM's disk. A running VM is paused for the copy (QEMU flushes its
    /// disks when it stops the vCPUs) and resumed after.
    ///
    /// # Errors
    /// Already exists (exit 4); usage errors for a bad name.
    pub fn snapshot_create(&self, name: &str, snap: &str) -> Result<SnapshotInfo> {
        self.audit.audited("vm.snapshot.create", &format!("{name}@{snap}"), || {
            snapshot_name(snap)?;
            let c = self.load(name)?;
            let _l = self.lock(&c.name)?;
            let dir = self.dir(&c.name);
            let sd = dir.join(SNAPSHOTS);
            fs::create_dir_all(&sd).map_err(|e| Error::io("create", &sd, e))?;
            let file = sd.join(format!("{snap}.qcow2"));
            if file.exists() {
                return Err(Error::Vm(volt_vm::Error::AlreadyExists { what: "snapshot", name: snap.into() }));
            }
            let status = self.info(c.clone())?.status;
            let live = status.is_live();
            // A running VM is paused for the copy: QEMU writes its disks back when it stops the
            // vCPUs (a paused one did so when it was paused) and resumes after.
            let mut ctl = if status == Status::Running { Some(self.ctl(&c.name)?) } else { None };
            if let Some(q) = ctl.as_mut() {
                q.stop()?;
            }
            let copy = volt_vm::disk::copy_durable(&dir.join(DISK), &file);
            if let Some(q) = ctl.as_mut() {
                q.cont()?;
            }
            copy?;
            let info = SnapshotInfo {
                name: snap.into(),
                created: volt_vm::kernel::now(),
                size: fs::metadata(&file).map(|m| m.len()).unwrap_or(0),
                live,
            };
            crate::fsutil::write_atomic(
                &sd.join(format!("{snap}.json")),
                &serde_json::to_vec_pretty(&info).expect("serialises"),
            )?;
            Ok(info)
        })
    }

    /// Snapshots of a VM, oldest first.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn snapshot_list(&self, name: &str) -> Result<Vec<SnapshotInfo>> {
        let c = self.load(name)?;
        self.snapshots_of(&c.name)
    }

    /// Put the VM's disk back to a snapshot. The VM must be stopped.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::InvalidState`] while it runs.
    pub fn snapshot_restore(&self, name: &str, snap: &str) -> Result<()> {
        self.audit.audited("vm.snapshot.restore", &format!("{name}@{snap}"), || {
            snapshot_name(snap)?;
            let c = self.load(name)?;
            let _l = self.lock(&c.name)?;
            let dir = self.dir(&c.name);
            let file = dir.join(SNAPSHOTS).join(format!("{snap}.qcow2"));
            if !file.exists() {
                return Err(Error::NotFound { what: "snapshot", name: snap.into() });
            }
            self.info(c.clone())?.status.check(Op::Restore, &c.name)?;
            volt_vm::disk::copy_durable(&file, &dir.join(DISK)).map_err(Error::from)
        })
    }

    /// Delete a snapshot.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn snapshot_delete(&self, name: &str, snap: &str) -> Result<()> {
        self.audit.audited("vm.snapshot.delete", &format!("{name}@{snap}"), || {
            snapshot_name(snap)?;
            let c = self.load(name)?;
            let _l = self.lock(&c.name)?;
            let sd = self.dir(&c.name).join(SNAPSHOTS);
            let file = sd.join(format!("{snap}.qcow2"));
            if !file.exists() {
                return Err(Error::NotFound { what: "snapshot", name: snap.into() });
            }
            let _ = fs::remove_file(sd.join(format!("{snap}.json")));
            fs::remove_file(&file).map_err(|e| Error::io("remove", &file, e))
        })
    }

    // ---- tuning -------------------------------------------------------------------------------
}
