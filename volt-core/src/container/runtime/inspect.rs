//! Reading containers: inspect (the record with what is live), list, wait for the end.

use super::*;

impl Containers {
    /// A container with its live state (a direct supervisor that died is noticed and recorded
    /// here; systemd is asked for the unit's state).
    ///
    /// # Errors
    /// [`Error::NotFound`], usage errors for a bad name.
    pub fn inspect(&self, name: &str) -> Result<ContainerInfo> {
        let n = Self::name(name)?;
        self.inspect_n(&n, false)
    }

    pub(super) fn inspect_n(&self, n: &ContainerName, locked: bool) -> Result<ContainerInfo> {
        self.with_endpoints(self.live(self.store.inspect(n)?, locked)?)
    }

    /// Bring a stored record up to date with its supervisor (see [`Containers::inspect`]).
    pub(super) fn live(&self, mut info: ContainerInfo, locked: bool) -> Result<ContainerInfo> {
        let n = &info.config.name.clone();
        match info.state.backend.as_deref() {
            Some("systemd") if is_running(&info.state) => {
                let s = self.systemd()?.status(&unit_name(n))?;
                let mut st = info.state.clone();
                apply_unit_status(&mut st, &s);
                if st.status != info.state.status {
                    // The unit ended on its own: record it, under the lock.
                    let _lock = if locked { None } else { Some(self.store.lock(n)?) };
                    st.finished = Some(crate::supervise::logs::timestamp());
                    save_state(&self.store.dir(n), &st)?;
                }
                info.state = st;
            }
            Some("direct") if is_running(&info.state) && !supervisor_alive(&self.store.dir(n)) => {
                // The supervisor was killed (or the host rebooted): record it once, under the lock.
                let _lock = if locked { None } else { Some(self.store.lock(n)?) };
                let mut st: ContainerState = read_json(&self.store.dir(n), "state.json")?;
                if is_running(&st) && !supervisor_alive(&self.store.dir(n)) {
                    if let Some(cg) = &st.cgroup {
                        let _ = cg.remove();
                    }
                    st.status = Status::Failed;
                    st.pid = None;
                    st.supervisor = None;
                    st.reason = Some("supervisor lost: its process is gone, so the container was ended".into());
                    st.finished = Some(crate::supervise::logs::timestamp());
                    save_state(&self.store.dir(n), &st)?;
                }
                info.state = st;
            }
            _ => {}
        }
        Ok(info)
    }

    /// All containers, by name, with live state.
    ///
    /// # Errors
    /// I/O errors.
    pub fn list(&self) -> Result<Vec<ContainerInfo>> {
        let mut out = Vec::new();
        for i in self.store.list()? {
            let fallback = i.clone();
            let i = self.live(i, false).unwrap_or(fallback);
            let fallback = i.clone();
            out.push(self.with_endpoints(i).unwrap_or(fallback));
        }
        Ok(out)
    }

    /// Wait until the container is no longer running (its supervisor has exited) or `timeout`
    /// passes; returns its state.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Timeout`].
    pub fn wait(&self, name: &str, timeout: Option<Duration>) -> Result<ContainerInfo> {
        let end = timeout.map(|t| Instant::now() + t);
        loop {
            let info = self.inspect(name)?;
            if !is_running(&info.state) {
                // Let a supervisor that just recorded the end exit, so what the caller does
                // next (delete, start) finds it gone.
                self.supervisor_gone(&info.config.name);
                return Ok(info);
            }
            let slice = end.map_or(Duration::from_millis(500), |e| {
                e.saturating_duration_since(Instant::now()).min(Duration::from_millis(500))
            });
            if slice.is_zero() {
                return Err(Error::Timeout(format!("container {name} still runs")));
            }
            match info.state.supervisor.as_ref().and_then(|s| pidfd(s.pid)) {
                Some(fd) => {
                    wait_fd(&fd, slice);
                }
                None => std::thread::sleep(slice.min(Duration::from_millis(50))),
            }
        }
    }
}
