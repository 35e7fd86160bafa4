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

use super::cgroup::Cgroup;
use super::logs::{LogWriter, LOG_FILE};
use super::store::{read_json, save_state_with};
use super::{nspawn_argv, ContainerConfig, ContainerState, NspawnOptions, ProcRef, RestartPolicy};
use crate::error::{Error, Result};
use crate::workload::Status;

/// Request file a client writes before SIGTERM: the stop timeout in seconds.
pub const STOP_REQUEST: &str = "stop.request";
/// Request file a client writes before signalling the workload: the signal number.
pub const KILL_REQUEST: &str = "kill.request";

/// close_range(2) flag: mark close-on-exec instead of closing.
pub(crate) const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;

/// The descriptor on which the supervisor holds `run.lock` (flock) for as long as it lives.
pub const RUN_LOCK_FD: RawFd = 4;
/// The lock file whose flock a live supervisor holds.
pub const RUN_LOCK: &str = "run.lock";

/// Is a supervisor alive for the container in `dir`? (Its `run.lock` is held; this cannot
/// mistake a reused pid for it.)
pub fn supervisor_alive(dir: &Path) -> bool {
    let Ok(f) = File::open(dir.join(RUN_LOCK)) else { return false };
    match rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockShared) {
        Ok(()) => false,
        Err(e) => e == rustix::io::Errno::WOULDBLOCK,
    }
}

/// Take `run.lock` of the container in `dir` for a new supervisor. None: one is alive.
///
/// # Errors
/// I/O errors.
pub(crate) fn take_run_lock(dir: &Path) -> Result<Option<File>> {
    let p = dir.join(RUN_LOCK);
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|e| Error::io("open", &p, e))?;
    match rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Some(f)),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(None),
        Err(e) => Err(Error::io("lock", &p, e.into())),
    }
}

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

/// Human signal names for reasons.
pub fn signal_name(sig: i32) -> String {
    let n = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => return format!("signal {sig}"),
    };
    n.to_string()
}

/// Parse a signal given as a name (`TERM`, `SIGTERM`) or a number.
///
/// # Errors
/// [`Error::InvalidArgument`].
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") { up } else { format!("SIG{up}") };
    (1..32)
        .find(|&n| signal_name(n) == name)
        .ok_or_else(|| Error::InvalidArgument(format!("signal {s:?}: expected a name like TERM or KILL, or a number")))
}

/// Is `p` the same live process that was recorded (pid and start time)?
pub fn alive(p: &ProcRef) -> bool {
    start_time(p.pid) == Some(p.start_time)
}

/// A process's start time in clock ticks since boot (field 22 of `/proc/PID/stat`); None once it
/// is gone or a zombie.
pub fn start_time(pid: u32) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    if f.first() == Some(&"Z") || f.first() == Some(&"X") {
        return None;
    }
    f.get(19)?.parse().ok()
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

fn pipe_nonblocking() -> std::io::Result<(File, File)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors are fresh and owned by nobody else.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}

/// A pidfd for `pid`.
///
/// # Errors
/// The process is gone (or pidfds are unsupported).
pub(crate) fn pidfd(pid: u32) -> std::io::Result<File> {
    // SAFETY: pidfd_open returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::c_int, 0) } as RawFd;
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Wait up to `timeout` for `f` to become readable (a pidfd: its process ended); true if it
/// did. A signal (a Python handler, SIGCHLD) does not end the wait.
pub(crate) fn wait_readable(f: &File, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let mut p = libc::pollfd { fd: f.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if n > 0 {
            return true;
        }
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted && !left.is_zero() {
            continue;
        }
        return false;
    }
}

fn set_nonblocking(fd: RawFd) {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
}

/// Entry point of the `volt-supervisor` binary. Returns the process exit code.
pub fn supervisor_main() -> i32 {
    if matches!(std::env::args().nth(1).as_deref(), Some("vm" | "vm-run" | "kvm-probe")) {
        let args: Vec<String> = std::env::args().skip(1).collect();
        return crate::vm::supervisor_main(&args);
    }
    if std::env::args().nth(1).as_deref() == Some("dns") {
        return match std::env::args().nth(2) {
            Some(a) => crate::network::dns_main(&a),
            None => {
                eprintln!(
                    "volt-supervisor dns: started by Volt to serve a network's names; not meant to be run by hand"
                );
                2
            }
        };
    }
    let Some(arg) = std::env::args().nth(1) else {
        eprintln!("volt-supervisor: started by Volt to supervise one container; not meant to be run by hand");
        return 2;
    };
    let args: SupervisorArgs = match serde_json::from_str(&arg) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("volt-supervisor: bad arguments: {e}");
            return 2;
        }
    };
    // Detach: the process that started us exits now (its parent reaps it); we go on in a new
    // session, reparented to init, so no terminal or client exit reaches us.
    // SAFETY: single-threaded at this point; the child only continues this program.
    match unsafe { libc::fork() } {
        -1 => return 1,
        0 => {}
        _ => return 0,
    }
    // SAFETY: plain syscalls without memory-safety preconditions.
    unsafe {
        libc::setsid();
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    // Children (nspawn) must not inherit the report pipe (or the client never sees end of
    // file) nor the run lock (which says this supervisor lives).
    for fd in [args.ready_fd, Some(RUN_LOCK_FD)].into_iter().flatten() {
        // SAFETY: fcntl on descriptors handed to us.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
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
                    st.finished = Some(super::logs::timestamp());
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
            st.started = Some(super::logs::timestamp());
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
            st.finished = Some(super::logs::timestamp());
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

/// Run a detaching helper (`volt-supervisor …`) and wait for its one-line report on fd 3:
/// `ok TEXT` (→ `Ok(Ok(TEXT))`) or `error: MESSAGE` (→ `Ok(Err(Some(MESSAGE)))`); a helper
/// that exits without a report gives `Ok(Err(None))`. Its stderr is appended to `errlog`;
/// `lock`, when given, becomes its fd 4. Nothing else of the caller's is inherited.
///
/// # Errors
/// I/O errors starting it.
pub(crate) fn spawn_detached(
    binary: &Path,
    argv: &[String],
    errlog: &Path,
    lock: Option<&File>,
) -> Result<std::result::Result<String, Option<String>>> {
    let (r, w) = pipe_nonblocking().map_err(|e| Error::io("pipe", binary, e))?;
    let mut r = r;
    // The read end blocks: we wait for the report.
    // SAFETY: fcntl on our descriptor.
    unsafe {
        let fl = libc::fcntl(r.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(r.as_raw_fd(), libc::F_SETFL, fl & !libc::O_NONBLOCK);
    }
    let wfd = w.as_raw_fd();
    let lfd = lock.map(|l| l.as_raw_fd());
    let mut cmd = Command::new(binary);
    cmd.args(argv).stdin(Stdio::null()).stdout(Stdio::null());
    let log =
        fs::OpenOptions::new().create(true).append(true).open(errlog).map_err(|e| Error::io("open", errlog, e))?;
    cmd.stderr(log);
    // The report pipe becomes fd 3 and the lock fd 4 (copied high first, so neither can
    // clobber the other); nothing else of the caller's is inherited, and the helper does not
    // pin the caller's working directory.
    // SAFETY: only async-signal-safe syscalls (fcntl, dup2, close_range, chdir).
    unsafe {
        cmd.pre_exec(move || {
            // Both are copied high before either is put in place: the lock may sit at fd 3 (or
            // the pipe at fd 4) in this process, and a dup2 onto it would lose it.
            let w = libc::fcntl(wfd, libc::F_DUPFD_CLOEXEC, 10);
            let l = match lfd {
                Some(lfd) => libc::fcntl(lfd, libc::F_DUPFD_CLOEXEC, 10),
                None => 0,
            };
            if w < 0 || l < 0 || libc::dup2(w, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if lfd.is_some() && libc::dup2(l, RUN_LOCK_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // CLOSE_RANGE_CLOEXEC: closed at exec (std's own exec-error pipe keeps working).
            let first = if lfd.is_some() { RUN_LOCK_FD as u32 + 1 } else { 4 };
            libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC);
            libc::chdir(c"/".as_ptr());
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| Error::io("run", binary, e))?;
    drop(w);
    let _ = child.wait();
    let mut msg = String::new();
    let _ = r.read_to_string(&mut msg);
    let msg = msg.trim();
    if let Some(t) = msg.strip_prefix("ok ") {
        return Ok(Ok(t.to_string()));
    }
    Ok(Err(msg.strip_prefix("error: ").map(str::to_string)))
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

    #[test]
    fn signals_parse() {
        assert_eq!(parse_signal("TERM").unwrap(), libc::SIGTERM);
        assert_eq!(parse_signal("sigkill").unwrap(), libc::SIGKILL);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("0").is_err());
        assert_eq!(signal_name(libc::SIGUSR1), "SIGUSR1");
    }

    #[test]
    fn own_start_time_is_stable() {
        let me = std::process::id();
        let t = start_time(me).unwrap();
        assert!(alive(&ProcRef { pid: me, start_time: t }));
        assert!(!alive(&ProcRef { pid: me, start_time: t + 1 }));
    }
}
