//! The VM supervisor: one small process per running VM. It starts QEMU, follows its QMP events
//! (STOP, RESUME, SHUTDOWN) into `state.json`, pins vCPU threads, carries out stop requests
//! (ACPI power button, a bounded wait, then `quit`, then SIGKILL) and records how QEMU ended.
//!
//! It is the only writer of `state.json` while it lives. QEMU gets `PR_SET_PDEATHSIG`, so a
//! supervisor that dies takes its VM with it (clients then see `supervisor lost`).

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::disk::write_atomic;
use crate::error::{Error, Result};
use crate::kernel::now;
use crate::plan::{Accel, RunFiles};
use crate::qmp::{QmpClient, VcpuThread, VmEvent};

/// `state.json` of a VM.
pub const STATE_FILE: &str = "state.json";
/// Request file a client writes before SIGTERM to the supervisor: the stop timeout in seconds.
pub const STOP_REQUEST: &str = "stop.request";
/// QEMU's own output (errors at start).
pub const QEMU_LOG: &str = "qemu.log";
/// Request file a client writes before SIGUSR1 to the supervisor: a signal number for QEMU.
/// (The supervisor signals its child, so no client needs QEMU's pid, which under a containerised
/// systemd is not even in the client's pid namespace.)
pub const KILL_REQUEST: &str = "kill.request";

/// Where a VM is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum VmStatus {
    /// Not running.
    #[default]
    Stopped,
    /// QEMU runs and so do the vCPUs.
    Running,
    /// QEMU runs, the vCPUs are stopped.
    Paused,
    /// QEMU ended unexpectedly or could not start.
    Failed,
}

impl VmStatus {
    /// The word users see.
    pub fn as_str(self) -> &'static str {
        match self {
            VmStatus::Stopped => "stopped",
            VmStatus::Running => "running",
            VmStatus::Paused => "paused",
            VmStatus::Failed => "failed",
        }
    }

    /// Running or paused: QEMU is there.
    pub fn is_active(self) -> bool {
        matches!(self, VmStatus::Running | VmStatus::Paused)
    }
}

/// `state.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct VmState {
    /// Status.
    pub status: VmStatus,
    /// The supervisor's pid while it runs.
    #[serde(default)]
    pub supervisor_pid: Option<u32>,
    /// QEMU's pid while it runs.
    #[serde(default)]
    pub qemu_pid: Option<u32>,
    /// When QEMU was started.
    #[serde(default)]
    pub started: Option<String>,
    /// When it ended.
    #[serde(default)]
    pub finished: Option<String>,
    /// How it ended, in words (`the guest powered off`, `qemu killed by SIGKILL`).
    #[serde(default)]
    pub reason: Option<String>,
    /// Exit code in the shell's convention (128+N for signal N).
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// The accelerator of the current or last run.
    #[serde(default)]
    pub accel: Option<Accel>,
    /// Why that accelerator.
    #[serde(default)]
    pub accel_reason: Option<String>,
    /// vCPU threads of the current run.
    #[serde(default)]
    pub vcpus: Vec<VcpuThread>,
    /// Host CPUs the vCPUs are pinned to in this run (vCPU i on `pinned[i % len]`).
    #[serde(default)]
    pub pinned: Vec<usize>,
    /// QEMU's version.
    #[serde(default)]
    pub qemu_version: Option<String>,
}

/// Read a VM's state (a missing file is a stopped VM that never ran).
///
/// # Errors
/// [`Error::Invalid`] for an unreadable file.
pub fn read_state(dir: &Path) -> Result<VmState> {
    let p = dir.join(STATE_FILE);
    match fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::Invalid(format!("{}: {e}", p.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(VmState::default()),
        Err(e) => Err(Error::io("read", p, e)),
    }
}

/// Write a VM's state atomically.
///
/// # Errors
/// I/O errors.
pub fn write_state(dir: &Path, s: &VmState) -> Result<()> {
    write_atomic(&dir.join(STATE_FILE), &serde_json::to_vec_pretty(s).expect("serialises"))
}

/// What the supervisor is told (one JSON argument).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SupervisorArgs {
    /// The VM's directory.
    pub dir: PathBuf,
    /// QEMU's full command line.
    pub argv: Vec<String>,
    /// Default stop timeout (seconds) when a stop request names none.
    pub stop_timeout: u64,
    /// Host CPUs to pin vCPUs to, if any.
    #[serde(default)]
    pub pin: Vec<usize>,
    /// The accelerator in the command line, and why.
    pub accel: Accel,
    /// Why that accelerator.
    pub accel_reason: String,
    /// Descriptor to report `ok PID` / `error: …` on once QEMU answers (or fails).
    #[serde(default)]
    pub ready_fd: Option<i32>,
}

static TERM: AtomicBool = AtomicBool::new(false);
static KILL: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    TERM.store(true, Ordering::SeqCst);
}

extern "C" fn on_kill_request(_: libc::c_int) {
    KILL.store(true, Ordering::SeqCst);
}

fn report(fd: Option<i32>, msg: &str) {
    if let Some(fd) = fd {
        let line = format!("{msg}\n");
        // SAFETY: writing a buffer we own to a descriptor we were given, then closing it.
        unsafe {
            libc::write(fd, line.as_ptr().cast(), line.len());
            libc::close(fd);
        }
    }
}

/// Pin each vCPU thread to one host CPU (vCPU i to `cpus[i % len]`).
///
/// # Errors
/// [`Error::Invalid`] for a CPU the host does not have; the OS error otherwise.
pub fn pin_threads(vcpus: &[VcpuThread], cpus: &[usize]) -> Result<()> {
    if cpus.is_empty() {
        return Ok(());
    }
    let n = host_cpus();
    if let Some(c) = cpus.iter().find(|c| **c >= n) {
        return Err(Error::Invalid(format!("host CPU {c} does not exist (the host has CPUs 0-{})", n - 1)));
    }
    for (i, v) in vcpus.iter().enumerate() {
        let cpu = cpus[i % cpus.len()];
        set_affinity(v.thread, &[cpu])
            .map_err(|e| Error::Invalid(format!("pinning vCPU {} (thread {}) to CPU {cpu}: {e}", v.cpu, v.thread)))?;
    }
    Ok(())
}

/// Let a thread run on `cpus` (all of them: unpinned).
///
/// # Errors
/// The OS error.
pub fn set_affinity(thread: i64, cpus: &[usize]) -> std::io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET is only given CPUs < 1024.
    let r = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for c in cpus.iter().filter(|c| **c < 1024) {
            libc::CPU_SET(*c, &mut set);
        }
        libc::sched_setaffinity(thread as libc::pid_t, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// How many CPUs the host has (configured, not just the ones this process may use).
pub fn host_cpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) };
    usize::try_from(n).unwrap_or(1).clamp(1, 1024)
}

/// The host CPUs a thread may run on.
pub fn affinity(thread: i64) -> Vec<usize> {
    // SAFETY: zeroed cpu_set_t is valid; sched_getaffinity fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(thread as libc::pid_t, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize).filter(|c| libc::CPU_ISSET(*c, &set)).collect()
    }
}

fn last_line(p: &Path) -> String {
    fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().trim_start_matches("qemu-system-x86_64: ").to_string())
        .unwrap_or_default()
}

fn signal_name(s: i32) -> String {
    match s {
        libc::SIGKILL => "SIGKILL".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGINT => "SIGINT".into(),
        libc::SIGSEGV => "SIGSEGV".into(),
        libc::SIGABRT => "SIGABRT".into(),
        n => format!("signal {n}"),
    }
}

/// Run the VM described by `args` until QEMU ends. Returns the process exit code. The caller
/// has detached (new session) and holds the VM's run lock.
pub fn run(args: SupervisorArgs) -> i32 {
    // SAFETY: installing plain handlers that only store to an atomic.
    unsafe {
        libc::signal(libc::SIGTERM, on_term as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_term as *const () as libc::sighandler_t);
        libc::signal(libc::SIGUSR1, on_kill_request as *const () as libc::sighandler_t);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let dir = &args.dir;
    let files = RunFiles::in_dir(dir);
    for p in [&files.qmp, &files.qmp_ctl, &files.console, &files.pidfile] {
        let _ = fs::remove_file(p);
    }
    let log_path = dir.join(QEMU_LOG);
    let mut state = read_state(dir).unwrap_or_default();
    let fail = |state: &mut VmState, reason: String| {
        state.status = VmStatus::Failed;
        state.reason = Some(reason.clone());
        state.finished = Some(now());
        state.qemu_pid = None;
        state.supervisor_pid = None;
        let _ = write_state(dir, state);
        report(args.ready_fd, &format!("error: {reason}"));
        1
    };
    let log = match fs::File::create(&log_path) {
        Ok(f) => f,
        Err(e) => return fail(&mut state, format!("{}: {e}", log_path.display())),
    };
    let Some((prog, rest)) = args.argv.split_first() else {
        return fail(&mut state, "empty QEMU command line".into());
    };
    let mut cmd = Command::new(prog);
    cmd.args(rest).stdin(Stdio::null()).stdout(log.try_clone().expect("dup")).stderr(log);
    // SAFETY: prctl is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let started = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return fail(&mut state, format!("{prog} not found (install qemu-system-x86)"))
        }
        Err(e) => return fail(&mut state, format!("{prog}: {e}")),
    };
    let qemu_pid = child.id();
    // The monitor appears once QEMU has parsed its command line; bounded.
    let mut qmp = loop {
        if let Ok(Some(st)) = child.try_wait() {
            let why = last_line(&log_path);
            return fail(&mut state, format!("qemu exited at start ({st}): {why}"));
        }
        if files.qmp.exists() {
            match QmpClient::connect(&files.qmp, Duration::from_secs(5)) {
                Ok(q) => break q,
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return fail(&mut state, format!("QMP: {e}"));
                }
            }
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            return fail(&mut state, "QEMU's monitor did not appear within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let vcpus = qmp.vcpu_threads().unwrap_or_default();
    let mut pinned = Vec::new();
    if !args.pin.is_empty() {
        if let Err(e) = pin_threads(&vcpus, &args.pin) {
            let _ = qmp.quit();
            let _ = child.wait();
            return fail(&mut state, e.to_string());
        }
        pinned = args.pin.clone();
    }
    state = VmState {
        status: VmStatus::Running,
        supervisor_pid: Some(std::process::id()),
        qemu_pid: Some(qemu_pid),
        started: Some(now()),
        finished: None,
        reason: None,
        exit_code: None,
        accel: Some(args.accel),
        accel_reason: Some(args.accel_reason.clone()),
        vcpus,
        pinned,
        qemu_version: Some(qmp.version.clone()),
    };
    if let Err(e) = write_state(dir, &state) {
        let _ = qmp.quit();
        let _ = child.wait();
        return fail(&mut state, e.to_string());
    }
    report(args.ready_fd, &format!("ok {qemu_pid}"));

    let mut shutdown: Option<(bool, String)> = None;
    let mut panicked = false;
    let mut stop: Option<String> = None;
    let mut monitor_open = true;
    let exit = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break st;
        }
        if KILL.swap(false, Ordering::SeqCst) {
            let sig = fs::read_to_string(dir.join(KILL_REQUEST)).ok().and_then(|s| s.trim().parse::<i32>().ok());
            let _ = fs::remove_file(dir.join(KILL_REQUEST));
            if let Some(sig) = sig.filter(|s| (1..=64).contains(s)) {
                // SAFETY: kill(2) on our own child, which we have not reaped yet.
                unsafe { libc::kill(qemu_pid as i32, sig) };
            }
        }
        if TERM.swap(false, Ordering::SeqCst) && stop.is_none() {
            let secs = fs::read_to_string(dir.join(STOP_REQUEST))
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(args.stop_timeout);
            let _ = fs::remove_file(dir.join(STOP_REQUEST));
            stop = Some(stop_vm(&mut qmp, &mut child, secs));
            continue;
        }
        if !monitor_open {
            // QEMU closed its monitor: it is on its way out; bounded.
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(5) {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
            }
            continue;
        }
        match qmp.next_event(Duration::from_millis(100)) {
            Ok(Some(VmEvent::Stop)) if state.status == VmStatus::Running && shutdown.is_none() => {
                state.status = VmStatus::Paused;
                let _ = write_state(dir, &state);
            }
            Ok(Some(VmEvent::Resume)) if state.status == VmStatus::Paused => {
                state.status = VmStatus::Running;
                let _ = write_state(dir, &state);
            }
            Ok(Some(VmEvent::Shutdown { guest, reason })) => shutdown = Some((guest, reason)),
            Ok(Some(VmEvent::GuestPanicked)) => panicked = true,
            Ok(_) => {}
            Err(_) => monitor_open = false,
        }
    };
    let (status, code, reason) = classify(exit, stop.as_deref(), shutdown.as_ref(), panicked, &last_line(&log_path));
    state.status = status;
    state.exit_code = Some(code);
    state.reason = Some(reason);
    state.finished = Some(now());
    state.qemu_pid = None;
    state.supervisor_pid = None;
    state.vcpus.clear();
    let _ = write_state(dir, &state);
    for p in [&files.qmp, &files.qmp_ctl, &files.console, &files.pidfile] {
        let _ = fs::remove_file(p);
    }
    0
}

/// Stop: the ACPI power button, up to `secs` for the guest to power off, then `quit`, then
/// SIGKILL. Returns how it went, in words.
fn stop_vm(qmp: &mut QmpClient, child: &mut std::process::Child, secs: u64) -> String {
    let wait = |child: &mut std::process::Child, d: Duration| {
        let t = Instant::now();
        while t.elapsed() < d {
            if let Ok(Some(_)) = child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    };
    // A paused guest cannot see the button: let it run first.
    if matches!(qmp.status(), Ok((false, s)) if s == "paused") {
        let _ = qmp.cont();
    }
    if secs > 0 && qmp.powerdown().is_ok() && wait(child, Duration::from_secs(secs)) {
        return "the guest powered off".into();
    }
    if qmp.quit().is_ok() && wait(child, Duration::from_secs(3)) {
        return if secs > 0 {
            format!("quit after the guest ignored the power button for {secs} s")
        } else {
            "quit".into()
        };
    }
    let _ = child.kill();
    let _ = wait(child, Duration::from_secs(3));
    "killed: QEMU did not quit".into()
}

/// How QEMU's end reads: status, exit code, reason.
pub fn classify(
    exit: std::process::ExitStatus,
    stop: Option<&str>,
    shutdown: Option<&(bool, String)>,
    panicked: bool,
    last_log_line: &str,
) -> (VmStatus, i32, String) {
    use std::os::unix::process::ExitStatusExt;
    if let Some(s) = stop {
        return (VmStatus::Stopped, 0, s.to_string());
    }
    if panicked || matches!(shutdown, Some((_, r)) if r == "guest-panic") {
        return (VmStatus::Failed, 1, "guest panic".into());
    }
    if let Some(sig) = exit.signal() {
        return (VmStatus::Failed, 128 + sig, format!("qemu killed by {}", signal_name(sig)));
    }
    let code = exit.code().unwrap_or(1);
    if code != 0 {
        let why = if last_log_line.is_empty() { String::new() } else { format!(": {last_log_line}") };
        return (VmStatus::Failed, code, format!("qemu exited with status {code}{why}"));
    }
    match shutdown {
        Some((true, r)) if r == "guest-shutdown" => (VmStatus::Stopped, 0, "powered off by the guest".into()),
        Some((true, r)) if r == "guest-reset" => (
            VmStatus::Stopped,
            0,
            "the guest reset itself: a reboot, or a panic under panic=-1 (VMs run with -no-reboot)".into(),
        ),
        Some((_, r)) => (VmStatus::Stopped, 0, format!("shut down ({r})")),
        None => (VmStatus::Stopped, 0, "qemu exited".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn endings_read_right() {
        let ok = std::process::ExitStatus::from_raw(0);
        let killed = std::process::ExitStatus::from_raw(libc::SIGKILL);
        let exit1 = std::process::ExitStatus::from_raw(1 << 8);
        assert_eq!(classify(killed, None, None, false, ""), (VmStatus::Failed, 137, "qemu killed by SIGKILL".into()));
        assert_eq!(classify(killed, Some("quit"), None, false, "").0, VmStatus::Stopped);
        let g = (true, "guest-shutdown".to_string());
        assert_eq!(classify(ok, None, Some(&g), false, "").2, "powered off by the guest");
        let (s, c, r) = classify(exit1, None, None, false, "qemu-system-x86_64: -m 99T: cannot allocate");
        assert_eq!((s, c), (VmStatus::Failed, 1));
        assert!(r.contains("status 1") && r.contains("cannot allocate"), "{r}");
        assert_eq!(classify(ok, None, None, true, "").2, "guest panic");
    }

    #[test]
    fn state_round_trips_and_defaults() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read_state(d.path()).unwrap().status, VmStatus::Stopped);
        let s = VmState { status: VmStatus::Paused, accel: Some(Accel::Tcg), ..Default::default() };
        write_state(d.path(), &s).unwrap();
        assert_eq!(read_state(d.path()).unwrap(), s);
    }

    #[test]
    fn own_thread_affinity_is_readable() {
        let me = std::process::id() as i64;
        assert!(!affinity(me).is_empty());
        assert!(pin_threads(&[VcpuThread { cpu: 0, thread: me }], &[100_000]).is_err());
    }
}
