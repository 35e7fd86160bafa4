//! Stopping, killing, pausing, resuming and restarting a VM, and QEMU's own status.

use super::*;

impl Vms {
    pub(super) fn signal_supervisor(&self, st: &VmState, sig: i32) -> Result<()> {
        let Some(pid) = st.supervisor_pid else { return Ok(()) };
        // SAFETY: kill(2) on a pid read from our state; a stale pid is guarded by the run lock
        // check the callers make first.
        if unsafe { libc::kill(pid as i32, sig) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(Error::io("signal", format!("supervisor {pid}"), e));
            }
        }
        Ok(())
    }

    pub(super) fn wait_ended(&self, name: &str, timeout: Duration) -> Result<VmInfo> {
        let dir = self.dir(name);
        let t = Instant::now();
        while supervisor_alive(&dir) {
            if t.elapsed() > timeout {
                return Err(Error::Timeout(format!("{name} did not stop within {:.1} s", timeout.as_secs_f64())));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.inspect(name)
    }

    /// Stop: the ACPI power button, up to `timeout` seconds (default `vms.stop_timeout`) for the
    /// guest to power off, then `quit`. A timeout of 0 quits QEMU at once.
    ///
    /// # Errors
    /// [`Error::NotRunning`] when it is not running or paused.
    pub fn stop(&self, name: &str, timeout: Option<u64>) -> Result<VmInfo> {
        self.audit.audited("vm.stop", name, || {
            let c = self.load(name)?;
            let _l = self.lock(&c.name)?;
            let info = self.info(c.clone())?;
            info.status.check(Op::Stop, &c.name)?;
            let secs = timeout.unwrap_or(self.settings.stop_timeout);
            let dir = self.dir(&c.name);
            fs::write(dir.join(vsup::STOP_REQUEST), secs.to_string())
                .map_err(|e| Error::io("write", dir.join(vsup::STOP_REQUEST), e))?;
            if self.backend == Backend::Systemd {
                self.systemd()?.stop(&Self::unit_name(&c.name), Duration::from_secs(secs + 15))?;
            } else {
                self.signal_supervisor(&info.state, libc::SIGTERM)?;
            }
            self.wait_ended(&c.name, Duration::from_secs(secs + 15))
        })
    }

    /// Send `signal` to QEMU (SIGKILL by default at the CLI). The supervisor records the end.
    ///
    /// # Errors
    /// [`Error::NotRunning`] when it is not running.
    pub fn kill(&self, name: &str, signal: i32) -> Result<VmInfo> {
        self.audit.audited("vm.kill", name, || {
            let c = self.load(name)?;
            let _l = self.lock(&c.name)?;
            let info = self.info(c.clone())?;
            if !(1..=64).contains(&signal) {
                return Err(Error::InvalidArgument(format!("signal {signal} is out of range (1-64)")));
            }
            info.status.check(Op::Kill, &c.name)?;
            // The supervisor signals its own child: it knows QEMU's pid in its namespace and
            // reaps it, so the end is recorded with the signal.
            let dir = self.dir(&c.name);
            crate::fsutil::write_atomic(&dir.join(vsup::KILL_REQUEST), signal.to_string().as_bytes())?;
            if self.backend == Backend::Systemd {
                self.systemd()?.kill(&Self::unit_name(&c.name), libc::SIGUSR1)?;
            } else {
                self.signal_supervisor(&info.state, libc::SIGUSR1)?;
            }
            if signal == libc::SIGKILL || signal == libc::SIGTERM {
                return self.wait_ended(&c.name, Duration::from_secs(15));
            }
            self.inspect(&c.name)
        })
    }

    pub(super) fn ctl(&self, name: &str) -> Result<QmpClient> {
        let files = RunFiles::in_dir(&self.dir(name));
        QmpClient::connect(&files.qmp_ctl, Duration::from_secs(5)).map_err(Error::from)
    }

    pub(super) fn wait_status(&self, name: &str, want: Status) -> Result<VmInfo> {
        let t = Instant::now();
        loop {
            let i = self.inspect(name)?;
            if i.status == want {
                return Ok(i);
            }
            if t.elapsed() > Duration::from_secs(10) {
                return Err(Error::Timeout(format!("{name} did not become {want} within 10 s (it is {})", i.status)));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Pause the vCPUs (QMP `stop`). The supervisor records `paused` from QEMU's STOP event.
    ///
    /// # Errors
    /// [`Error::NotRunning`] or [`Error::InvalidState`] unless running.
    pub fn pause(&self, name: &str) -> Result<VmInfo> {
        self.audit.audited("vm.pause", name, || {
            let c = self.load(name)?;
            let _l = self.lock(&c.name)?;
            self.info(c.clone())?.status.check(Op::Pause, &c.name)?;
            self.ctl(&c.name)?.stop()?;
            self.wait_status(&c.name, Status::Paused)
        })
    }

    /// Resume the vCPUs (QMP `cont`).
    ///
    /// # Errors
    /// [`Error::InvalidState`] unless paused.
    pub fn resume(&self, name: &str) -> Result<VmInfo> {
        self.audit.audited("vm.resume", name, || {
            let c = self.load(name)?;
            let _l = self.lock(&c.name)?;
            self.info(c.clone())?.status.check(Op::Resume, &c.name)?;
            self.ctl(&c.name)?.cont()?;
            self.wait_status(&c.name, Status::Running)
        })
    }

    /// QEMU's own run state (`query-status`) of a running VM.
    ///
    /// # Errors
    /// [`Error::NotRunning`] when QEMU is not running; QMP errors.
    pub fn query_status(&self, name: &str) -> Result<String> {
        let i = self.inspect(name)?;
        i.status.check(Op::Attach, &i.config.name)?;
        Ok(self.ctl(&i.config.name)?.status()?.1)
    }

    /// Stop (if running) and start.
    ///
    /// # Errors
    /// As [`Vms::stop`] and [`Vms::start`].
    pub fn restart(&self, name: &str, timeout: Option<u64>) -> Result<VmInfo> {
        let i = self.inspect(name)?;
        if i.status.is_live() {
            self.stop(name, timeout)?;
        }
        self.start(name)
    }
}
