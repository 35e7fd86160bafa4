//! Starting a container under the chosen supervisor.

use super::*;

impl Containers {
    /// Start a stopped (or failed) container; returns once it runs.
    ///
    /// # Errors
    /// [`Error::AlreadyRunning`] if it runs already (exit 9); supervisor and I/O errors.
    pub fn start(&self, name: &str) -> Result<ContainerInfo> {
        let n = Self::name(name)?;
        self.audit.audited("container.start", name, || {
            let _lock = self.store.lock(&n)?;
            self.start_locked(&n)
        })
    }

    pub(super) fn start_locked(&self, n: &ContainerName) -> Result<ContainerInfo> {
        let info = self.inspect_n(n, true)?;
        info.state.status.check(Op::Start, n.as_str())?;
        let dir = self.store.dir(n);
        for m in &info.config.mounts {
            if !m.source.exists() {
                return Err(Error::NotFound { what: "mount source", name: m.source.display().to_string() });
            }
        }
        let _ = fs::remove_file(dir.join(STOP_REQUEST));
        self.plug(&info)?;
        match self.backend {
            Backend::Direct => {
                let rootfs = self.images.ensure_rootfs(&dir)?;
                // systemd-nspawn only accepts a directory with /usr as an OS tree.
                let usr = rootfs.path.join("usr");
                if !usr.exists() {
                    fs::create_dir(&usr).map_err(|e| Error::io("create", &usr, e))?;
                }
                let cgroup = Cgroup::at(&self.settings.cgroup_root, &self.cgroup_parent(), n.as_str())?;
                let args = SupervisorArgs {
                    dir: dir.clone(),
                    cgroup,
                    log_max_size: self.settings.log_max_size,
                    log_files: self.settings.log_files,
                    stop_timeout: self.settings.stop_timeout,
                    ready_fd: None,
                };
                // The run lock: held by the supervisor for its whole life, so a second start
                // (after a client was killed mid-start, say) can never run a second one.
                self.supervisor_gone(n);
                let Some(lock) = take_run_lock(&dir)? else {
                    return Err(Error::Conflict(format!("container {n} is being started by another supervisor")));
                };
                spawn_supervisor(&self.supervisor_binary()?, &args, n.as_str(), &lock)?;
            }
            Backend::Systemd => {
                let unit = self.write_unit(&info)?;
                let sd = self.systemd()?;
                sd.install(&unit)?;
                let mut st = info.state.clone();
                st.backend = Some("systemd".into());
                st.status = Status::Running;
                st.started = Some(crate::supervise::logs::timestamp());
                st.exit_code = None;
                st.reason = None;
                st.supervisor = None;
                st.cgroup = None;
                save_state(&dir, &st)?;
                let s = sd.start(&unit_name(n), Duration::from_secs(30))?;
                apply_unit_status(&mut st, &s);
                save_state(&dir, &st)?;
            }
        }
        self.inspect_n(n, true)
    }
}
