//! Reading VMs: the record with the supervisor's state, the list, the sweep of half-made ones, the accelerator.

use super::*;

impl Vms {
    pub(super) fn info(&self, config: VmConfig) -> Result<VmInfo> {
        let dir = self.dir(&config.name);
        let mut state = vsup::read_state(&dir).map_err(Error::from)?;
        if state.status.is_active() && !supervisor_alive(&dir) {
            // The supervisor died without recording an end (killed with SIGKILL, host crash).
            state.status = VmStatus::Failed;
            state.reason = Some("supervisor lost".into());
            state.qemu_pid = None;
            state.supervisor_pid = None;
            state.vcpus.clear();
        }
        let status = match state.status {
            VmStatus::Stopped => Status::Stopped,
            VmStatus::Running => Status::Running,
            VmStatus::Paused => Status::Paused,
            VmStatus::Failed => Status::Failed,
        };
        let endpoints = config
            .networks
            .iter()
            .enumerate()
            .map(|(i, n)| {
                Ok(VmEndpoint {
                    network: n.clone(),
                    address: self.networks.address(n, &config.name)?,
                    tap: host_ifname(n, &config.name),
                    mac: plan::mac_for(&config.name, i),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let vcpus = state
            .vcpus
            .iter()
            .map(|v| VcpuInfo { cpu: v.cpu, thread: v.thread, affinity: vsup::affinity(v.thread) })
            .collect();
        let files = RunFiles::in_dir(&dir);
        Ok(VmInfo {
            snapshots: self.snapshots_of(&config.name)?,
            unit: self.unit_path(&config.name),
            disk: dir.join(DISK),
            console: files.console,
            serial_log: files.serial_log,
            config,
            status,
            state,
            endpoints,
            vcpus,
            backend: self.backend,
        })
    }

    /// One VM.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn inspect(&self, name: &str) -> Result<VmInfo> {
        self.info(self.load(name)?)
    }

    /// All VMs, by name.
    ///
    /// # Errors
    /// I/O errors.
    pub fn list(&self) -> Result<Vec<VmInfo>> {
        self.sweep();
        let mut out = Vec::new();
        let Ok(rd) = fs::read_dir(self.paths.vms_dir()) else { return Ok(out) };
        let mut names: Vec<String> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        for n in names {
            match self.inspect(&n) {
                Ok(i) => out.push(i),
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Remove what an interrupted create or delete left (its process is gone): hidden
    /// directories, and base refs of VMs that do not exist. Addresses such a create reserved are
    /// reclaimed by the networks, which check that their owner exists.
    pub(super) fn sweep(&self) {
        let d = self.paths.vms_dir();
        let Ok(rd) = fs::read_dir(&d) else { return };
        let mut busy = false;
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = n.rsplit_once('-').and_then(|(head, pid)| {
                (head.contains(".creating") || head.contains(".deleting")).then(|| pid.parse::<i32>().ok()).flatten()
            }) else {
                continue;
            };
            // SAFETY: kill with signal 0 only checks that the pid exists.
            let alive = unsafe { libc::kill(pid, 0) } == 0;
            if alive {
                busy = true;
            } else {
                let _ = fs::remove_dir_all(e.path());
            }
        }
        if busy {
            return;
        }
        if let Ok(refs) = self.cas.list_refs(Some("vm/")) {
            for r in refs {
                let vm = r.name.as_str().trim_start_matches("vm/").to_string();
                if !d.join(&vm).exists() {
                    let _ = self.cas.delete_ref(&r.name);
                }
            }
        }
    }

    // ---- lifecycle ----------------------------------------------------------------------------

    /// The accelerator for this host: `vms.accel` when it is `kvm` or `tcg`; for `auto`, the
    /// probe's verdict, cached for this boot under the run directory.
    pub fn accel(&self, kernel: &Path) -> volt_vm::accel::AccelChoice {
        let boot = volt_vm::accel::boot_id();
        match self.settings.accel.as_str() {
            "kvm" => {
                return volt_vm::accel::AccelChoice {
                    accel: Accel::Kvm,
                    reason: "vms.accel is kvm".into(),
                    boot_id: boot,
                }
            }
            "tcg" => {
                return volt_vm::accel::AccelChoice {
                    accel: Accel::Tcg,
                    reason: "vms.accel is tcg".into(),
                    boot_id: boot,
                }
            }
            _ => {}
        }
        let cache = self.paths.run_dir().join("kvm-probe.json");
        if let Ok(c) = read_json::<volt_vm::accel::AccelChoice>(&cache) {
            if c.boot_id == boot {
                return c;
            }
        }
        let helper = crate::supervise::find_supervisor(&self.containers).unwrap_or_default();
        let choice = volt_vm::accel::probe(
            &helper,
            &["kvm-probe"],
            &self.settings.qemu_binary,
            kernel,
            Duration::from_millis(self.settings.kvm_probe_timeout_ms),
        );
        tracing::info!(accel = %choice.accel, reason = %choice.reason, "accelerator chosen");
        let _ = fs::create_dir_all(self.paths.run_dir());
        let _ = crate::fsutil::write_atomic(&cache, &serde_json::to_vec(&choice).expect("serialises"));
        choice
    }
}
