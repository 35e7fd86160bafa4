//! Limits of a container, changed live, and its usage: stats and top.

use super::*;

impl Containers {
    /// Change limits; a running container's cgroup (or unit) is updated at once.
    ///
    /// # Errors
    /// Usage errors; I/O or bus errors writing the limits.
    pub fn update(
        &self,
        name: &str,
        memory: Option<u64>,
        cpu: Option<u32>,
        pids: Option<u32>,
    ) -> Result<ContainerInfo> {
        let n = Self::name(name)?;
        self.audit.audited("container.update", name, || {
            let _lock = self.store.lock(&n)?;
            let info = self.inspect_n(&n, true)?;
            let mut config = info.config.clone();
            let limits = Limits {
                memory: memory.or(config.limits.memory),
                cpu: cpu.or(config.limits.cpu),
                pids: pids.or(config.limits.pids),
            };
            limits.validate()?;
            if is_running(&info.state) {
                match info.state.backend.as_deref() {
                    Some("systemd") => self.systemd()?.set_limits(&unit_name(&n), &limits)?,
                    _ => {
                        if let Some(cg) = &info.state.cgroup {
                            cg.apply(&limits)?;
                        }
                    }
                }
            }
            config.limits = limits;
            let dir = self.store.dir(&n);
            crate::fsutil::write_atomic(&dir.join("config.json"), &serde_json::to_vec_pretty(&config).expect("ok"))?;
            let info = self.inspect_n(&n, true)?;
            self.write_unit(&info)?;
            Ok(info)
        })
    }

    /// Usage counters of a running container.
    ///
    /// # Errors
    /// [`Error::NotRunning`] if it is not running.
    pub fn stats(&self, name: &str) -> Result<CgroupStats> {
        let info = self.inspect(name)?;
        Ok(self.running_cgroup(&info)?.stats())
    }

    /// CPU, memory, I/O and tasks of every running container, CPU measured over `interval`.
    ///
    /// # Errors
    /// I/O errors listing containers.
    pub fn top(&self, interval: Duration) -> Result<Vec<TopEntry>> {
        let running: Vec<(String, Cgroup)> = self
            .list()?
            .into_iter()
            .filter_map(|i| self.running_cgroup(&i).ok().map(|c| (i.config.name.to_string(), c)))
            .collect();
        let before: Vec<u64> = running.iter().map(|(_, c)| c.stats().cpu_ns).collect();
        let t0 = Instant::now();
        std::thread::sleep(interval);
        let dt = t0.elapsed().as_nanos().max(1) as f64;
        Ok(running
            .into_iter()
            .zip(before)
            .map(|((name, cg), b)| {
                let stats = cg.stats();
                let cpu_percent = (stats.cpu_ns.saturating_sub(b)) as f64 / dt * 100.0;
                TopEntry { name, cpu_percent: (cpu_percent * 10.0).round() / 10.0, stats }
            })
            .collect())
    }
}
