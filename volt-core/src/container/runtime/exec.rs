//! Running a command inside a live container.

use super::*;

impl Containers {
    pub(super) fn running_cgroup(&self, info: &ContainerInfo) -> Result<Cgroup> {
        info.state.status.check(Op::Attach, info.config.name.as_str())?;
        if let Some(cg) = &info.state.cgroup {
            return Ok(cg.clone());
        }
        // systemd: the unit's ControlGroup under the cgroup root; nspawn may have moved the
        // container into a `payload` child of it.
        let path = self.systemd()?.control_group(&unit_name(&info.config.name))?;
        let path = path.trim_start_matches('/');
        let cg = Cgroup::existing(&self.settings.cgroup_root, path)?;
        match Cgroup::existing(&self.settings.cgroup_root, &format!("{path}/payload")) {
            Ok(p) if !p.procs().is_empty() => Ok(p),
            _ => Ok(cg),
        }
    }

    /// The container's init and workload processes (host pids).
    pub(super) fn container_pids(
        &self,
        info: &ContainerInfo,
        cg: &Cgroup,
        wait: Duration,
    ) -> (Option<u32>, Option<u32>) {
        let end = Instant::now() + wait;
        loop {
            let found = match info.state.backend.as_deref() {
                // MainPID is systemd's pid, which need not be ours (systemd in a namespace):
                // go by the unit's cgroup.
                Some("systemd") => {
                    let init = ns_pid(cg, 1);
                    (init, init.and_then(crate::container::supervisor::workload_of))
                }
                _ => info.state.pid.map_or((None, None), container_procs),
            };
            if found.1.is_some() || Instant::now() >= end {
                return found;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub(super) fn exec_command(&self, name: &str, argv: &[String], tty: bool) -> Result<(Command, Vec<File>)> {
        if argv.is_empty() {
            return Err(Error::InvalidArgument("exec: give a command after --".into()));
        }
        let info = self.inspect(name)?;
        let cg = self.running_cgroup(&info)?;
        // Right after start nspawn may still be setting up: give it a moment.
        let (init, _) = self.container_pids(&info, &cg, Duration::from_secs(3));
        let init = init.ok_or_else(|| Error::Workload {
            name: name.into(),
            reason: "the container has no init process yet (starting or restarting)".into(),
        })?;
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t").arg(init.to_string()).args(["-m", "-u", "-i", "-n", "-p", "-C", "-r"]);
        // --wdns resolves the directory inside the container's root (--wd=DIR would be the
        // host's DIR).
        cmd.arg(format!("--wdns={}", info.config.workdir.as_deref().unwrap_or("/")));
        if let Some(u) = &info.config.user {
            let (uid, gid) = u.split_once(':').unwrap_or((u, u));
            if uid.parse::<u32>().is_ok() && gid.parse::<u32>().is_ok() {
                cmd.arg(format!("--setuid={uid}")).arg(format!("--setgid={gid}"));
            }
        }
        cmd.arg("--").args(argv).env_clear();
        for e in &info.config.env {
            if let Some((k, v)) = e.split_once('=') {
                cmd.env(k, v);
            }
        }
        if tty {
            if let Some(t) = std::env::var_os("TERM") {
                cmd.env("TERM", t);
            }
        }
        let procs = cg.open_procs()?;
        let fds: Vec<RawFd> = procs.iter().map(|f| f.as_raw_fd()).collect();
        // SAFETY: only write(2) and close_range(2) on descriptors opened before the fork.
        unsafe {
            cmd.pre_exec(move || {
                for &fd in &fds {
                    libc::write(fd, b"0".as_ptr().cast(), 1);
                }
                // No descriptor of the caller's reaches into the container.
                libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, crate::supervise::CLOSE_RANGE_CLOEXEC);
                Ok(())
            });
        }
        Ok((cmd, procs))
    }

    /// Run `argv` inside a running container with this process's standard input and output
    /// (a terminal stays a terminal); returns its exit status (128+N for signal N).
    ///
    /// # Errors
    /// [`Error::NotRunning`] for a container that is not running (exit 9).
    pub fn exec(&self, name: &str, argv: &[String], tty: bool) -> Result<i32> {
        let (mut cmd, _procs) = self.exec_command(name, argv, tty)?;
        let st = cmd.status().map_err(|e| Error::io("run", "nsenter", e))?;
        self.audit.record("container.exec", name, Ok(()));
        Ok(exit_of(st))
    }

    /// Run `argv` inside a running container and capture its output: `(status, stdout, stderr)`.
    ///
    /// # Errors
    /// As [`Containers::exec`].
    pub fn exec_output(&self, name: &str, argv: &[String]) -> Result<(i32, Vec<u8>, Vec<u8>)> {
        let (mut cmd, _procs) = self.exec_command(name, argv, false)?;
        let out = cmd.stdin(Stdio::null()).output().map_err(|e| Error::io("run", "nsenter", e))?;
        self.audit.record("container.exec", name, Ok(()));
        Ok((exit_of(out.status), out.stdout, out.stderr))
    }
}
