//! The direct supervisor: a small process per running container, used where systemd is not
//! PID 1. It detaches from whoever started it (so the CLI can exit or be killed), puts
//! `systemd-nspawn` into a cgroup it creates and limits, writes the container's output to a
//! rotated log file, records the exit status and its reason in `state.json`, applies the restart
//! policy and removes the cgroup when it is done.
//!
//! Signals: SIGTERM and SIGINT stop the container gracefully (SIGTERM to the workload, SIGKILL to
//! everything left after the stop timeout), record `stopped` and exit; SIGUSR2 rotates the log;
//! SIGHUP is ignored (nothing to reload), so a closing terminal never stops a container.
//!
//! The supervisor is the only writer of `state.json` while it lives; clients take the container
//! lock among themselves and ask the supervisor to act through signals and small request files.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::store::{read_json, save_state_with};
use super::{nspawn_argv, ContainerConfig, ContainerState, NspawnOptions, RestartPolicy};
use crate::error::{Error, Result};
use crate::supervise::cgroup::Cgroup;
use crate::supervise::logs::{LogWriter, LOG_FILE};
use crate::supervise::{
    detach, mode_args, pidfd, pipe_nonblocking, signal_name, spawn_detached, start_time, wait_readable, ProcRef,
    KILL_REQUEST, RUN_LOCK_FD, STOP_REQUEST,
};
use crate::workload::Status;

/// What the supervisor is told on its command line (one JSON argument).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SupervisorArgs {
    /// The container directory.
    pub dir: PathBuf,
    /// The container's cgroup.
    pub cgroup: Cgroup,
    /// Rotate the log past this size.
    pub log_max_size: u64,
    /// Log files kept, the current one included.
    pub log_files: u32,
    /// Default stop timeout (seconds) when no request file says otherwise.
    pub stop_timeout: u64,
    /// Descriptor on which to report `ok PID` or `error: …` once the container runs.
    pub ready_fd: Option<RawFd>,
}

fn first_child(pid: u32) -> Option<u32> {
    let s = fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// The pid `pid` has inside its own (non-initial) pid namespace, if it is in one.
fn inner_pid(pid: u32) -> Option<u32> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let ids: Vec<&str> = s.lines().find_map(|l| l.strip_prefix("NSpid:"))?.split_whitespace().collect();
    if ids.len() < 2 {
        return None;
    }
    ids.last()?.parse().ok()
}

fn is_ns_pid(pid: u32, n: u32) -> bool {
    inner_pid(pid) == Some(n)
}

/// The container's init (pid 1 inside: nspawn's stub init) and workload (its child, usually
/// pid 2 inside), found from the nspawn process down, so no other process can be mistaken for
/// them. While nspawn is still setting up, its helper processes are not taken for either.
pub fn container_procs(nspawn: u32) -> (Option<u32>, Option<u32>) {
    let init = first_child(nspawn).filter(|&p| is_ns_pid(p, 1));
    (init, init.and_then(workload_of))
}

/// The workload under a container's init (its child inside the container's pid namespace).
pub fn workload_of(init: u32) -> Option<u32> {
    first_child(init).filter(|&p| inner_pid(p).is_some_and(|n| n > 1))
}

/// The workload's host pid, waiting up to `wait` for nspawn to have started it.
pub fn workload_pid(nspawn: u32, wait: Duration) -> Option<u32> {
    let end = Instant::now() + wait;
    loop {
        if let Some(p) = container_procs(nspawn).1 {
            return Some(p);
        }
        if Instant::now() >= end || start_time(nspawn).is_none() {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The host pid of the process that is pid `n` inside the container's pid namespace.
pub fn ns_pid(cgroup: &Cgroup, n: u32) -> Option<u32> {
    cgroup.procs().into_iter().find(|&p| is_ns_pid(p, n))
}

static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is a local byte.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

fn set_nonblocking(fd: RawFd) {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
}

/// `volt-supervisor JSON`: supervise one container as `arg` (a [`SupervisorArgs`] object) says.
/// Returns the process exit code.
pub fn supervisor_main(arg: &str) -> i32 {
    let Some(args) = mode_args::<SupervisorArgs>("volt-supervisor", arg) else { return 2 };
    // Children (nspawn) must not inherit the report pipe (or the client never sees end of
    // file) nor the run lock (which says this supervisor lives).
    let keep: Vec<RawFd> = [args.ready_fd, Some(RUN_LOCK_FD)].into_iter().flatten().collect();
    match detach(&keep) {
        Err(_) => return 1,
        Ok(false) => return 0,
        Ok(true) => {}
    }
    // SAFETY: plain syscall without memory-safety preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    // SAFETY: the descriptor was handed to us for this purpose and nobody else uses it.
    let mut ready = args.ready_fd.map(|fd| unsafe { File::from_raw_fd(fd) });
    let mut sup = Supervisor { args, ready: ready.take() };
    match sup.run() {
        Ok(()) => 0,
        Err(e) => {
            sup.report(&format!("error: {}", crate::error_chain(&e)));
            1
        }
    }
}

struct Supervisor {
    args: SupervisorArgs,
    ready: Option<File>,
}

/// How one run of the container ended.
struct Ended {
    status: libc::c_int,
    stop_requested: bool,
    killed_after_timeout: Option<u64>,
}

impl Supervisor {
    fn report(&mut self, msg: &str) {
        if let Some(mut f) = self.ready.take() {
            let _ = writeln!(f, "{msg}");
        }
    }

    fn state(&self) -> Result<ContainerState> {
        read_json(&self.args.dir, "state.json")
    }

    fn run(&mut self) -> Result<()> {
        let dir = self.args.dir.clone();
        let config: ContainerConfig = read_json(&dir, "config.json")?;
        let durable = !config.ephemeral;
        let (sig_r, sig_w) = pipe_nonblocking().map_err(|e| Error::io("pipe", &dir, e))?;
        SIGNAL_PIPE.store(sig_w.as_raw_fd(), Ordering::Relaxed);
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGUSR2, libc::SIGHUP] {
            // SAFETY: the handler only calls write(2) on a descriptor that lives as long as we do.
            unsafe { libc::signal(s, on_signal as *const () as libc::sighandler_t) };
        }
        let cg = self.args.cgroup.clone();
        let cg = &cg;
        cg.create()?;
        if let Err(e) = cg.apply(&config.limits) {
            let _ = cg.remove();
            return Err(e);
        }
        let mut log = LogWriter::open(&dir.join(LOG_FILE), self.args.log_max_size, self.args.log_files)?;
        let me = ProcRef { pid: std::process::id(), start_time: start_time(std::process::id()).unwrap_or(0) };
        let argv = nspawn_argv(&config, &dir.join("rootfs"), &NspawnOptions::for_container(&config, &dir));
        let mut restarts = 0u32;
        let mut backoff = Duration::from_millis(100);
        let mut sig_r = sig_r;
        let r = loop {
            let oom_before = cg.oom_kills();
            let _ = fs::remove_file(dir.join(KILL_REQUEST));
            let started = Instant::now();
            let child = match self.spawn(&argv) {
                Ok(c) => c,
                Err(e) => {
                    let _ = cg.remove();
                    let mut st = self.state()?;
                    st.status = Status::Failed;
                    st.pid = None;
                    st.supervisor = None;
                    st.reason = Some(format!("cannot start systemd-nspawn: {}", crate::error_chain(&e)));
                    st.finished = Some(crate::supervise::logs::timestamp());
                    save_state_with(&dir, &st, durable)?;
                    break Err(e);
                }
            };
            let mut st = self.state()?;
            st.status = Status::Running;
            st.pid = Some(child.pid);
            st.supervisor = Some(me.clone());
            st.backend = Some("direct".into());
            st.cgroup = Some(cg.clone());
            st.started = Some(crate::supervise::logs::timestamp());
            st.restarts = restarts;
            if restarts == 0 {
                st.exit_code = None;
                st.reason = None;
                st.finished = None;
            }
            save_state_with(&dir, &st, durable)?;
            if self.ready.is_some() {
                // Report once the container's init runs (or nspawn has already ended), so that
                // exec and kill work as soon as start returns.
                let end = Instant::now() + Duration::from_secs(10);
                while container_procs(child.pid).0.is_none()
                    && !wait_readable(&child.pidfd, Duration::from_millis(1))
                    && Instant::now() < end
                {}
            }
            self.report(&format!("ok {}", child.pid));

            let ended = self.watch(child, &mut sig_r, &mut log)?;
            let oom = cg.oom_kills() > oom_before;
            let kill_sig: Option<i32> =
                fs::read_to_string(dir.join(KILL_REQUEST)).ok().and_then(|s| s.trim().parse().ok());
            let _ = fs::remove_file(dir.join(KILL_REQUEST));
            let (status, code, reason) = classify(&ended, oom, kill_sig);
            let mut st = self.state()?;
            st.exit_code = Some(code);
            st.finished = Some(crate::supervise::logs::timestamp());
            st.pid = None;
            let restart = !ended.stop_requested
                && match config.restart {
                    RestartPolicy::No => false,
                    RestartPolicy::OnFailure => status == Status::Failed,
                    RestartPolicy::Always => true,
                };
            if !restart {
                st.status = status;
                st.reason = Some(reason);
                st.supervisor = None;
                // The cgroup goes before the final state, so a client that sees `stopped` finds
                // nothing left behind.
                let removed = cg.remove();
                save_state_with(&dir, &st, durable)?;
                break removed;
            }
            if started.elapsed() > Duration::from_secs(10) {
                backoff = Duration::from_millis(100);
            }
            st.reason = Some(format!("{reason}; restarting in {} ms", backoff.as_millis()));
            save_state_with(&dir, &st, durable)?;
            // Wait out the backoff, but a stop request ends the container here.
            if self.wait_signal(&mut sig_r, backoff, &mut log) {
                st.status = Status::Stopped;
                st.reason = Some("stopped".into());
                st.supervisor = None;
                let removed = cg.remove();
                save_state_with(&dir, &st, durable)?;
                break removed;
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
            restarts += 1;
        };
        SIGNAL_PIPE.store(-1, Ordering::Relaxed);
        drop(sig_w);
        r
    }

    /// Start nspawn inside the cgroup, its output on two pipes.
    fn spawn(&self, argv: &[String]) -> Result<Child> {
        let procs = self.args.cgroup.open_procs()?;
        let fds: Vec<RawFd> = procs.iter().map(|f| f.as_raw_fd()).collect();
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // The caller's environment (NOTIFY_SOCKET, say) is not nspawn's business.
        cmd.env_clear().env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        // SAFETY: only async-signal-safe syscalls on descriptors opened before the fork.
        unsafe {
            cmd.pre_exec(move || {
                for &fd in &fds {
                    if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                // The container dies with its supervisor, so no workload runs unrecorded.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut c = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound if argv[0] == "systemd-nspawn" => {
                Error::Dependency("systemd-nspawn not found (install systemd-container)".into())
            }
            _ => Error::io("run", PathBuf::from(&argv[0]), e),
        })?;
        drop(procs);
        let pid = c.id();
        let pidfd = match pidfd(pid) {
            Ok(f) => f,
            Err(e) => {
                let _ = c.kill();
                let _ = c.wait();
                return Err(Error::io("pidfd_open", PathBuf::from(&argv[0]), e));
            }
        };
        let out = c.stdout.take().expect("piped");
        let err = c.stderr.take().expect("piped");
        set_nonblocking(out.as_raw_fd());
        set_nonblocking(err.as_raw_fd());
        // The Child handle is dropped; we reap with waitpid ourselves.
        drop(c);
        Ok(Child {
            pid,
            pidfd,
            out: Some(File::from(std::os::fd::OwnedFd::from(out))),
            err: Some(File::from(std::os::fd::OwnedFd::from(err))),
        })
    }

    /// Wait up to `d` for a stop request, handling other signals; true if stop was requested.
    fn wait_signal(&mut self, sig_r: &mut File, d: Duration, log: &mut LogWriter) -> bool {
        let end = Instant::now() + d;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let mut pfd = [libc::pollfd { fd: sig_r.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(pfd.as_mut_ptr(), 1, left.as_millis().min(i32::MAX as u128) as i32) };
            let mut b = [0u8; 16];
            let n = sig_r.read(&mut b).unwrap_or(0);
            for &s in &b[..n] {
                match i32::from(s) {
                    libc::SIGTERM | libc::SIGINT => return true,
                    libc::SIGUSR2 => {
                        let _ = log.rotate();
                    }
                    _ => {}
                }
            }
        }
    }

    /// Pump output into the log until nspawn exits; act on signals.
    fn watch(&mut self, child: Child, sig_r: &mut File, log: &mut LogWriter) -> Result<Ended> {
        let Child { pid, pidfd, mut out, mut err } = child;
        let mut bufs: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        let mut deadline: Option<(Instant, u64)> = None;
        let mut stop_requested = false;
        let mut killed_after = None;
        let mut exited = false;
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let mut pfds = vec![
                libc::pollfd { fd: sig_r.as_raw_fd(), events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: pidfd.as_raw_fd(), events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: out.as_ref().map_or(-1, |f| f.as_raw_fd()), events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: err.as_ref().map_or(-1, |f| f.as_raw_fd()), events: libc::POLLIN, revents: 0 },
            ];
            if exited {
                pfds[1].fd = -1;
            }
            let timeout = match deadline {
                Some((d, _)) => d.saturating_duration_since(Instant::now()).as_millis().min(60_000) as i32,
                None => -1,
            };
            // SAFETY: valid pollfd array.
            let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::io("poll", &self.args.dir, e));
            }
            if pfds[0].revents != 0 {
                let mut b = [0u8; 16];
                let n = sig_r.read(&mut b).unwrap_or(0);
                for &s in &b[..n] {
                    match i32::from(s) {
                        libc::SIGTERM | libc::SIGINT if !stop_requested => {
                            stop_requested = true;
                            let secs = fs::read_to_string(self.args.dir.join(STOP_REQUEST))
                                .ok()
                                .and_then(|s| s.trim().parse().ok())
                                .unwrap_or(self.args.stop_timeout);
                            let _ = fs::remove_file(self.args.dir.join(STOP_REQUEST));
                            // Graceful: SIGTERM to the workload (pid 2 under nspawn's stub init);
                            // before it exists, nspawn itself ends the container.
                            // A stop right after start may come before the workload exists.
                            let target = workload_pid(pid, Duration::from_secs(1)).unwrap_or(pid);
                            // SAFETY: kill(2).
                            unsafe { libc::kill(target as libc::pid_t, libc::SIGTERM) };
                            deadline = Some((Instant::now() + Duration::from_secs(secs), secs));
                        }
                        libc::SIGUSR2 => {
                            let _ = log.rotate();
                        }
                        _ => {}
                    }
                }
            }
            for (i, slot) in [&mut out, &mut err].into_iter().enumerate() {
                if pfds[2 + i].revents == 0 {
                    continue;
                }
                if !pump(slot, &mut bufs[i], &mut chunk, log, if i == 0 { "stdout" } else { "stderr" }) {
                    *slot = None;
                }
            }
            if pfds[1].revents != 0 {
                exited = true;
            }
            if let Some((d, secs)) = deadline {
                if Instant::now() >= d && killed_after.is_none() {
                    killed_after = Some(secs);
                    // SAFETY: kill(2).
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                    self.args.cgroup.kill_all();
                }
            }
            if exited {
                // Everything in the container is gone with nspawn; drain what is left.
                for (i, slot) in [&mut out, &mut err].into_iter().enumerate() {
                    while slot.is_some() {
                        if !pump(slot, &mut bufs[i], &mut chunk, log, if i == 0 { "stdout" } else { "stderr" }) {
                            *slot = None;
                        } else {
                            break;
                        }
                    }
                }
                let mut status = 0;
                // SAFETY: reaping our own child.
                unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
                for (i, b) in bufs.iter_mut().enumerate() {
                    if !b.is_empty() {
                        let _ = log.write(if i == 0 { "stdout" } else { "stderr" }, false, b);
                        b.clear();
                    }
                }
                return Ok(Ended { status, stop_requested, killed_after_timeout: killed_after });
            }
        }
    }
}

struct Child {
    pid: u32,
    pidfd: File,
    out: Option<File>,
    err: Option<File>,
}

/// Read what is available from one pipe into the log. Returns false at end of file.
fn pump(slot: &mut Option<File>, buf: &mut Vec<u8>, chunk: &mut [u8], log: &mut LogWriter, stream: &str) -> bool {
    const MAX_LINE: usize = 16 * 1024;
    let Some(f) = slot.as_mut() else { return false };
    loop {
        match f.read(chunk) {
            Ok(0) => return false,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                // Whole lines out, then one drain for all of them.
                let mut start = 0;
                while let Some(i) = buf[start..].iter().position(|&b| b == b'\n') {
                    let line = &buf[start..start + i];
                    if !is_nspawn_noise(line) {
                        let _ = log.write(stream, false, line);
                    }
                    start += i + 1;
                }
                buf.drain(..start);
                while buf.len() >= MAX_LINE {
                    let _ = log.write(stream, true, &buf[..MAX_LINE]);
                    buf.drain(..MAX_LINE);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// systemd-nspawn's complaint at exit on hosts whose /run is not a tmpfs (it refuses to clean
/// its propagation directory there). It is about the host, not the workload, so it is not logged.
fn is_nspawn_noise(line: &[u8]) -> bool {
    line.starts_with(b"Attempted to remove disk file system under \"/run/systemd/nspawn/propagate/")
        && line.ends_with(b"and we can't allow that.")
}

/// Status, exit code and reason of one ended run.
fn classify(e: &Ended, oom: bool, kill_sig: Option<i32>) -> (Status, i32, String) {
    let st = e.status;
    if e.stop_requested {
        let reason = match e.killed_after_timeout {
            Some(s) => format!("stopped (killed after the {s} s stop timeout)"),
            None => "stopped".to_string(),
        };
        let code = if libc::WIFEXITED(st) { libc::WEXITSTATUS(st) } else { 128 + libc::WTERMSIG(st) };
        return (Status::Stopped, code, reason);
    }
    // An OOM kill inside the group counts when the workload died of it (nspawn reports a killed
    // workload as 255), not when it survived a killed child.
    let killed = libc::WIFSIGNALED(st) || libc::WEXITSTATUS(st) == 255;
    if oom && killed {
        return (Status::Failed, 128 + libc::SIGKILL, "oom: killed by the kernel's OOM killer (memory limit)".into());
    }
    if libc::WIFSIGNALED(st) {
        let s = libc::WTERMSIG(st);
        return (Status::Failed, 128 + s, format!("signal {} (to systemd-nspawn)", signal_name(s)));
    }
    let code = libc::WEXITSTATUS(st);
    match (code, kill_sig) {
        (0, _) => (Status::Stopped, 0, "exit 0".into()),
        // nspawn reports a workload killed by a signal as 255; a signal Volt sent names itself.
        (255, Some(s)) => (Status::Failed, 128 + s, format!("signal {}", signal_name(s))),
        (c, _) => (Status::Failed, c, format!("exit {c}")),
    }
}

/// Spawn the supervisor binary for the container in `args.dir` and wait until it reports the
/// container running (or why not).
///
/// # Errors
/// [`Error::Workload`] with the supervisor's message; I/O errors.
pub(crate) fn spawn_supervisor(binary: &Path, args: &SupervisorArgs, name: &str, run_lock: &File) -> Result<u32> {
    let mut a = args.clone();
    a.ready_fd = Some(3);
    let json = serde_json::to_string(&a).expect("serialises");
    let log = args.dir.join("supervisor.log");
    let fail = |reason: String| Error::Workload { name: name.into(), reason };
    let msg = spawn_detached(binary, &[json], &log, Some(run_lock))?.map_err(|m| {
        fail(m.unwrap_or_else(|| {
            let tail = fs::read_to_string(&log).unwrap_or_default();
            format!(
                "the supervisor exited before the container started{}",
                tail.lines().last().map(|l| format!(": {l}")).unwrap_or_default()
            )
        }))
    })?;
    msg.parse().map_err(|_| fail(format!("supervisor said {msg:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(status: i32, stop: bool, after: Option<u64>) -> Ended {
        Ended { status, stop_requested: stop, killed_after_timeout: after }
    }

    #[test]
    fn reasons() {
        // waitpid encodings: exit code in the second byte, signal in the low bits.
        let exit = |c: i32| c << 8;
        assert_eq!(classify(&ended(exit(0), false, None), false, None), (Status::Stopped, 0, "exit 0".into()));
        assert_eq!(classify(&ended(exit(3), false, None), false, None), (Status::Failed, 3, "exit 3".into()));
        // An OOM kill of some child does not make a clean exit an OOM.
        assert_eq!(classify(&ended(exit(3), false, None), true, None).2, "exit 3");
        let (s, c, r) = classify(&ended(exit(255), false, None), true, None);
        assert_eq!((s, c), (Status::Failed, 137));
        assert!(r.starts_with("oom"));
        assert_eq!(
            classify(&ended(exit(255), false, None), false, Some(libc::SIGKILL)),
            (Status::Failed, 137, "signal SIGKILL".into())
        );
        assert_eq!(classify(&ended(exit(0), true, None), false, None).0, Status::Stopped);
        assert!(classify(&ended(exit(255), true, Some(10)), false, None).2.contains("10 s"));
        assert_eq!(classify(&ended(libc::SIGSEGV, false, None), false, None).1, 128 + libc::SIGSEGV);
    }
}
