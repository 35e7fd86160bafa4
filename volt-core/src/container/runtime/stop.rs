//! Stopping, restarting and signalling a container.

use super::*;

impl Containers {
    /// Stop a running container: SIGTERM to the workload, SIGKILL after `timeout` seconds
    /// (default: `containers.stop_timeout`).
    ///
    /// # Errors
    /// [`Error::NotRunning`] if it is not running (exit 9).
    pub fn stop(&self, name: &str, timeout: Option<u64>) -> Result<ContainerInfo> {
        let n = Self::name(name)?;
        self.audit.audited("container.stop", name, || {
            let _lock = self.store.lock(&n)?;
            self.stop_locked(&n, timeout)
        })
    }

    pub(super) fn stop_locked(&self, n: &ContainerName, timeout: Option<u64>) -> Result<ContainerInfo> {
        let info = self.inspect_n(n, true)?;
        if info.state.status != Status::Failed {
            info.state.status.check(Op::Stop, n.as_str())?;
        }
        if !is_running(&info.state) {
            // A failed container is "stopped" by recording it so.
            let mut st = info.state;
            st.status = Status::Stopped;
            save_state(&self.store.dir(n), &st)?;
            return self.inspect_n(n, true);
        }
        let secs = timeout.unwrap_or(self.settings.stop_timeout);
        let dir = self.store.dir(n);
        match info.state.backend.as_deref() {
            Some("systemd") => {
                let s = self.systemd()?.stop(&unit_name(n), Duration::from_secs(secs))?;
                let mut st = info.state.clone();
                apply_unit_status(&mut st, &s);
                // Asked to stop: stopped, whatever status the workload died with.
                st.status = Status::Stopped;
                st.reason = Some("stopped".into());
                st.finished = Some(crate::supervise::logs::timestamp());
                save_state(&dir, &st)?;
            }
            _ => {
                let Some(sup) = info.state.supervisor.clone() else {
                    return Err(Error::Workload { name: n.to_string(), reason: "no supervisor recorded".into() });
                };
                crate::fsutil::write_replace(&dir.join(STOP_REQUEST), secs.to_string().as_bytes(), false)?;
                let fd = pidfd(sup.pid);
                // SAFETY: kill(2).
                unsafe { libc::kill(sup.pid as libc::pid_t, libc::SIGTERM) };
                let done = fd.as_ref().is_none_or(|f| wait_fd(f, Duration::from_secs(secs + 15)));
                if !done {
                    // The supervisor is stuck: end everything and record it.
                    if let Some(cg) = &info.state.cgroup {
                        cg.kill_all();
                    }
                    // SAFETY: kill(2).
                    unsafe { libc::kill(sup.pid as libc::pid_t, libc::SIGKILL) };
                    if let Some(f) = &fd {
                        wait_fd(f, Duration::from_secs(5));
                    }
                }
            }
        }
        self.inspect_n(n, true)
    }

    /// Stop (if running) and start again.
    ///
    /// # Errors
    /// As [`Containers::stop`] and [`Containers::start`].
    pub fn restart(&self, name: &str, timeout: Option<u64>) -> Result<ContainerInfo> {
        let n = Self::name(name)?;
        self.audit.audited("container.restart", name, || {
            let _lock = self.store.lock(&n)?;
            if is_running(&self.inspect_n(&n, true)?.state) {
                self.stop_locked(&n, timeout)?;
            }
            self.start_locked(&n)
        })
    }

    /// Send `signal` to the container's main process (the workload).
    ///
    /// # Errors
    /// [`Error::NotRunning`] if it is not running.
    pub fn kill(&self, name: &str, signal: i32) -> Result<()> {
        let n = Self::name(name)?;
        self.audit.audited("container.kill", &format!("{name} signal {signal}"), || {
            let _lock = self.store.lock(&n)?;
            let info = self.inspect_n(&n, true)?;
            info.state.status.check(Op::Kill, n.as_str())?;
            // The workload, never nspawn (which ends the whole container on most signals).
            let cg = self.running_cgroup(&info)?;
            let target = self.container_pids(&info, &cg, Duration::from_secs(1)).1;
            let target = target.ok_or_else(|| Error::Workload {
                name: n.to_string(),
                reason: "no workload process (restarting?)".into(),
            })?;
            crate::fsutil::write_replace(&self.store.dir(&n).join(KILL_REQUEST), signal.to_string().as_bytes(), false)?;
            // SAFETY: kill(2).
            if unsafe { libc::kill(target as libc::pid_t, signal) } != 0 {
                return Err(Error::io("signal", format!("pid {target}"), std::io::Error::last_os_error()));
            }
            Ok(())
        })
    }
}
