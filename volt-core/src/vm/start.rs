//! Starting a VM: kernel, accelerator, TAPs, hugepages, then its supervisor or unit.

use super::*;

impl Vms {
    /// Start a VM: kernel, accelerator, TAPs on its networks, then its supervisor, which starts
    /// QEMU and reports once QMP answers.
    ///
    /// # Errors
    /// [`Error::AlreadyRunning`] when it runs; kernel and network errors; the supervisor's message
    /// when QEMU does not come up.
    pub fn start(&self, name: &str) -> Result<VmInfo> {
        self.audit.audited("vm.start", name, || self.start_inner(name))
    }

    pub(super) fn start_inner(&self, name: &str) -> Result<VmInfo> {
        let c = self.load(name)?;
        let _l = self.lock(&c.name)?;
        let dir = self.dir(&c.name);
        let cur = self.info(c.clone())?;
        cur.status.check(Op::Start, &c.name)?;
        if cur.state.status.is_active() {
            // The record of a supervisor that is gone (what `info` reported as supervisor lost)
            // is written down, so that nothing mistakes it for the new run.
            vsup::write_state(&dir, &cur.state).map_err(Error::from)?;
        }
        let kernels = self.kernels();
        let k: KernelInfo = kernels.resolve(&c.kernel)?;
        let (kernel, kinitrd) = kernels.files(&k.name);
        let binary = crate::supervise::find_supervisor(&self.containers)?;
        let choice = self.accel(&kernel);
        let mut nics = Vec::new();
        let mut guest = None;
        for (i, n) in c.networks.iter().enumerate() {
            let (tap, addr, net) = self.networks.attach_tap(n, &c.name)?;
            nics.push(Nic { tap, mac: plan::mac_for(&c.name, i) });
            if i == 0 {
                guest = Some(GuestNet {
                    addr,
                    prefix: net.subnet.prefix(),
                    gateway: Some(net.gateway),
                    hostname: c.name.clone(),
                });
            }
        }
        let mut hugetlbfs = None;
        if c.hugepages {
            hugetlbfs = Some(self.hugetlbfs()?);
            let free = hugepages_free_mib();
            if free < c.memory_mib {
                return Err(Error::Vm(volt_vm::Error::Resource(format!(
                    "{} MiB of hugepages needed, {free} MiB free (raise /proc/sys/vm/nr_hugepages)",
                    c.memory_mib
                ))));
            }
        }
        let spec = VmSpec {
            name: c.name.clone(),
            machine: c.machine,
            cpus: c.cpus,
            memory_mib: c.memory_mib,
            kernel,
            initrd: c.initrd.clone().or(kinitrd),
            cmdline: [k.cmdline.as_str(), c.cmdline.as_str()].join(" ").trim().to_string(),
            disk: Some(dir.join(DISK)),
            nics,
            hugepages: hugetlbfs,
        };
        let cmdline = plan::kernel_cmdline(&spec, choice.accel, volt_vm::accel::tsc_khz(), guest.as_ref());
        let files = RunFiles::in_dir(&dir);
        let argv = plan::qemu_argv(&self.settings.qemu_binary, &spec, &files, choice.accel, &cmdline);
        let args = vsup::SupervisorArgs {
            dir: dir.clone(),
            argv,
            stop_timeout: self.settings.stop_timeout,
            pin: c.cpu_pin.clone(),
            accel: choice.accel,
            accel_reason: choice.reason.clone(),
            ready_fd: Some(3),
        };
        // The same arguments, for the unit (`volt-supervisor vm-run run.json` under systemd).
        let json = serde_json::to_string(&args).expect("serialises");
        crate::fsutil::write_atomic(&dir.join(RUN_ARGS), json.as_bytes())?;
        if self.backend == Backend::Systemd {
            self.start_unit(&c, &dir)?;
            return self.info(c);
        }
        let log = dir.join("supervisor.log");
        let lock = take_run_lock(&dir)?
            .ok_or_else(|| Error::AlreadyRunning { name: c.name.clone(), status: Status::Running })?;
        let msg = spawn_detached(&binary, &["vm".into(), json], &log, Some(&lock))?;
        drop(lock);
        if let Err(m) = msg {
            let why = m.unwrap_or_else(|| {
                let tail = fs::read_to_string(&log).unwrap_or_default();
                format!(
                    "the supervisor exited before QEMU started{}",
                    tail.lines().last().map(|l| format!(": {l}")).unwrap_or_default()
                )
            });
            return Err(Error::Workload { name: c.name.clone(), reason: why });
        }
        self.info(c)
    }

    /// A hugetlbfs mount for guest memory: the host's (e.g. /dev/hugepages), or one Volt
    /// mounts under its run directory.
    pub(super) fn hugetlbfs(&self) -> Result<PathBuf> {
        let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        if let Some(p) = mounts.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 3 && f[2] == "hugetlbfs" && !f[3].contains("pagesize=1G")).then(|| PathBuf::from(f[1]))
        }) {
            return Ok(p);
        }
        let p = self.paths.run_dir().join("hugepages");
        fs::create_dir_all(&p).map_err(|e| Error::io("create", &p, e))?;
        rustix::mount::mount("hugetlbfs", &p, "hugetlbfs", rustix::mount::MountFlags::empty(), None)
            .map_err(|e| Error::io("mount hugetlbfs", &p, e.into()))?;
        Ok(p)
    }

    /// Start `volt-vm@NAME.service` over D-Bus (its ExecStart runs the supervisor on the
    /// run.json just written) and wait until the supervisor records the VM running, or the unit
    /// ends.
    pub(super) fn start_unit(&self, c: &VmConfig, dir: &Path) -> Result<()> {
        self.write_unit(c)?;
        let sd = self.systemd()?;
        let unit = Self::unit_name(&c.name);
        sd.install(&self.unit_path(&c.name))?;
        sd.start(&unit, Duration::from_secs(30))?;
        let t = Instant::now();
        loop {
            let alive = supervisor_alive(dir);
            let st = vsup::read_state(dir).map_err(Error::from)?;
            if alive && st.status == VmStatus::Running {
                return Ok(());
            }
            let u = sd.status(&unit)?;
            if !alive
                && matches!(u.active_state.as_str(), "inactive" | "failed")
                && t.elapsed() > Duration::from_millis(200)
            {
                let why = st
                    .reason
                    .filter(|_| st.status == VmStatus::Failed)
                    .unwrap_or_else(|| format!("{unit} ended ({})", u.result));
                return Err(Error::Workload { name: c.name.clone(), reason: why });
            }
            if t.elapsed() > Duration::from_secs(60) {
                return Err(Error::Timeout(format!("{unit}: QEMU did not come up within 60 s")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
