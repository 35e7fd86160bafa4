//! Supervision, shared by every workload kind: which backend runs workloads (systemd units over
//! D-Bus when systemd is PID 1, Volt's own `volt-supervisor` process otherwise), the protocol
//! between clients and a supervisor process (its run lock, stop and kill request files, the
//! one-line start report), cgroup placement and limits, log files and the journal. Containers,
//! VMs and the networks' DNS servers build on it; nothing here knows a workload kind.

pub mod cgroup;
pub mod logs;
pub mod systemd;

use std::fs::{self, File};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::{ContainerSettings, SupervisorMode};
use crate::error::{Error, Result};

/// The supervisor in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// systemd units over D-Bus.
    Systemd,
    /// Volt's own supervisor process.
    Direct,
}

impl Backend {
    /// `systemd` or `direct`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Systemd => "systemd",
            Backend::Direct => "direct",
        }
    }
}

/// The supervisor for `settings`: as configured, or in `auto` mode systemd when it is PID 1.
pub(crate) fn choose_backend(settings: &ContainerSettings) -> Backend {
    match settings.supervisor {
        SupervisorMode::Systemd => Backend::Systemd,
        SupervisorMode::Direct => Backend::Direct,
        SupervisorMode::Auto if Path::new("/run/systemd/system").is_dir() => Backend::Systemd,
        SupervisorMode::Auto => Backend::Direct,
    }
}

/// The `volt-supervisor` binary: `containers.supervisor_binary`, `VOLT_SUPERVISOR`, beside the
/// running program, then `PATH`.
pub(crate) fn find_supervisor(settings: &ContainerSettings) -> Result<PathBuf> {
    if let Some(p) = &settings.supervisor_binary {
        return Ok(p.clone());
    }
    if let Some(p) = std::env::var_os("VOLT_SUPERVISOR") {
        return Ok(PathBuf::from(p));
    }
    if let Some(p) = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join("volt-supervisor"))) {
        if p.is_file() {
            return Ok(p);
        }
    }
    for d in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let p = d.join("volt-supervisor");
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(Error::Unsupported(
        "volt-supervisor not found (set VOLT_SUPERVISOR, containers.supervisor_binary, or put it on PATH)".into(),
    ))
}

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

pub(crate) fn pipe_nonblocking() -> std::io::Result<(File, File)> {
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

/// The JSON argument of a `volt-supervisor` mode; a bad one is reported on stderr (`mode` names
/// it) and None returned, for the mode to exit with 2.
pub fn mode_args<T: serde::de::DeserializeOwned>(mode: &str, json: &str) -> Option<T> {
    match serde_json::from_str(json) {
        Ok(a) => Some(a),
        Err(e) => {
            eprintln!("{mode}: bad arguments: {e}");
            None
        }
    }
}

/// Detach a supervisor mode from whoever started it: fork, and in the child go on in a new
/// session, reparented to init, so that no terminal or exiting client reaches it; `keep` (the
/// report pipe, a lock) are marked close-on-exec so that its own children do not inherit them.
/// `Ok(false)` in the parent, which exits at once (the client's wait ends); `Ok(true)` in the
/// child.
///
/// # Errors
/// fork failed (the mode exits 1).
pub fn detach(keep: &[RawFd]) -> std::io::Result<bool> {
    // SAFETY: supervisor modes call this while single-threaded; the child only continues them.
    match unsafe { libc::fork() } {
        -1 => return Err(std::io::Error::last_os_error()),
        0 => {}
        _ => return Ok(false),
    }
    // SAFETY: plain syscalls on descriptors handed to this process.
    unsafe {
        libc::setsid();
        for &fd in keep {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
    Ok(true)
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

/// A process recorded in state files: pid plus start time, so a reused pid is never mistaken
/// for the recorded process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcRef {
    /// Process id.
    pub pid: u32,
    /// Start time in clock ticks since boot (`/proc/PID/stat` field 22).
    pub start_time: u64,
}

/// Resource limits of a supervised workload (a container's cgroup, a unit's properties).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Memory limit in bytes (`memory.max`).
    pub memory: Option<u64>,
    /// CPU quota in percent of one CPU (`200` = two CPUs; `cpu.max`).
    pub cpu: Option<u32>,
    /// Most tasks (`pids.max`).
    pub pids: Option<u32>,
}

impl Limits {
    /// Check the values are usable.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`].
    pub fn validate(&self) -> Result<()> {
        if self.cpu == Some(0) {
            return Err(Error::InvalidArgument("cpu: the quota must be at least 1 (percent of one CPU)".into()));
        }
        if self.pids == Some(0) {
            return Err(Error::InvalidArgument("pids: at least 1".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
