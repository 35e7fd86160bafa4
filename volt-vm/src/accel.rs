//! Which accelerator can run a guest here. `/dev/kvm` opening (and even `KVM_CREATE_VM`
//! succeeding) is not proof: under some nested hypervisors guests hang. So the probe runs a
//! vCPU for real: a few real-mode instructions that write a byte to the serial port and halt.
//! The probe runs in a child process with a deadline (a hung `KVM_RUN` cannot be interrupted
//! from the same thread), see [`probe`]; the child calls [`probe_kvm_in_process`].

use std::io::Read;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kvm_ioctls::{Kvm, VcpuExit};
use serde::{Deserialize, Serialize};

use crate::plan::Accel;

/// The probe's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccelChoice {
    /// The accelerator to use.
    pub accel: Accel,
    /// Why (the probe's result, or the setting that forced it).
    pub reason: String,
    /// The boot the probe ran in (a probe is valid until the host reboots).
    #[serde(default)]
    pub boot_id: String,
}

/// Run a guest vCPU through KVM in this process: `Ok(())` when it executed the probe code
/// (an `out` to port 0x3f8 with the expected byte, then `hlt`). May hang on a broken host: call it
/// in a child process (see [`probe`]).
///
/// # Errors
/// What failed, in words.
pub fn probe_kvm_in_process() -> Result<(), String> {
    const ADDR: u64 = 0x1000;
    const SIZE: usize = 0x1000;
    // mov dx, 0x3f8; mov al, 'V'; out dx, al; hlt
    let code: [u8; 7] = [0xba, 0xf8, 0x03, 0xb0, b'V', 0xee, 0xf4];
    let kvm = Kvm::new().map_err(|e| format!("/dev/kvm: {e}"))?;
    let vm = kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
    // SAFETY: an anonymous private mapping of our own; checked for failure below.
    let mem = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if mem == libc::MAP_FAILED {
        return Err("mmap failed".into());
    }
    // SAFETY: `mem` is a fresh writable mapping of SIZE bytes and code is shorter.
    unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), mem.cast::<u8>(), code.len()) };
    let region = kvm_bindings::kvm_userspace_memory_region {
        slot: 0,
        guest_phys_addr: ADDR,
        memory_size: SIZE as u64,
        userspace_addr: mem as u64,
        flags: 0,
    };
    // SAFETY: the region maps memory we own for the life of the VM (this function; the process
    // ends right after).
    unsafe { vm.set_user_memory_region(region) }.map_err(|e| format!("KVM_SET_USER_MEMORY_REGION: {e}"))?;
    let mut vcpu = vm.create_vcpu(0).map_err(|e| format!("KVM_CREATE_VCPU: {e}"))?;
    let mut sregs = vcpu.get_sregs().map_err(|e| format!("KVM_GET_SREGS: {e}"))?;
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    vcpu.set_sregs(&sregs).map_err(|e| format!("KVM_SET_SREGS: {e}"))?;
    let mut regs = vcpu.get_regs().map_err(|e| format!("KVM_GET_REGS: {e}"))?;
    regs.rip = ADDR;
    regs.rflags = 2;
    vcpu.set_regs(&regs).map_err(|e| format!("KVM_SET_REGS: {e}"))?;
    let mut wrote = false;
    for _ in 0..16 {
        match vcpu.run().map_err(|e| format!("KVM_RUN: {e}"))? {
            VcpuExit::IoOut(0x3f8, data) if data == b"V" => wrote = true,
            VcpuExit::Hlt if wrote => return Ok(()),
            other => return Err(format!("the probe guest exited unexpectedly: {other:?}")),
        }
    }
    Err("the probe guest did not halt".into())
}

/// Probe in two stages, each in a child process with a deadline, falling back to TCG with the
/// reason on any failure:
/// 1. `helper` (a program that calls [`probe_kvm_in_process`] and prints `ok` or `error: …`): can
///    a vCPU run at all?
/// 2. `qemu` boots `kernel` under KVM with no root file system: it must reach its "cannot mount
///    root" panic (and QEMU exit, `-no-reboot`) before the deadline. Some nested hosts pass the
///    first stage and still hang every real kernel, as the build machines do.
pub fn probe(helper: &Path, helper_args: &[&str], qemu: &Path, kernel: &Path, timeout: Duration) -> AccelChoice {
    let tcg = |reason: String| AccelChoice { accel: Accel::Tcg, reason, boot_id: boot_id() };
    if !Path::new("/dev/kvm").exists() {
        return tcg("no /dev/kvm".into());
    }
    let mut cmd = Command::new(helper);
    cmd.args(helper_args);
    match run_bounded(cmd, timeout) {
        Err(e) => return tcg(format!("KVM probe: {e}")),
        Ok(out) if out.trim() != "ok" => {
            return tcg(format!("KVM probe: {}", out.trim().strip_prefix("error: ").unwrap_or(out.trim())))
        }
        Ok(_) => {}
    }
    let mut cmd = Command::new(qemu);
    cmd.args(["-machine", "microvm,accel=kvm", "-cpu", "host", "-m", "128", "-nodefaults", "-no-user-config"]);
    cmd.args(["-display", "none", "-serial", "stdio", "-no-reboot", "-kernel"]);
    cmd.arg(kernel);
    cmd.args(["-append", "console=ttyS0 panic=-1 root=/dev/volt-kvm-probe"]);
    match run_bounded(cmd, timeout) {
        Ok(out) if out.contains("Kernel panic") => AccelChoice {
            accel: Accel::Kvm,
            reason: format!("KVM probe: {} ran to its root-mount panic under KVM", kernel.display()),
            boot_id: boot_id(),
        },
        Ok(out) => tcg(format!(
            "KVM probe: QEMU exited before the kernel finished booting under KVM: {}",
            out.lines().last().unwrap_or("")
        )),
        Err(e) => tcg(format!("KVM probe: booting {} under KVM: {e}", kernel.display())),
    }
}

/// Run `cmd` with stdout captured, killing it after `timeout`.
fn run_bounded(mut cmd: Command, timeout: Duration) -> Result<String, String> {
    let out = tempfile_path();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&out)
        .map_err(|e| format!("{}: {e}", out.display()))?;
    let _ = std::fs::remove_file(&out);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(f.try_clone().map_err(|e| e.to_string())?)
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not run {:?}: {e}", cmd.get_program()))?;
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("the guest hung for {} ms (nested virtualisation?)", timeout.as_millis()));
            }
        }
    }
    let mut text = String::new();
    let mut f = f;
    use std::io::Seek;
    let _ = f.seek(std::io::SeekFrom::Start(0));
    let mut bytes = Vec::new();
    let _ = f.read_to_end(&mut bytes);
    text.push_str(&String::from_utf8_lossy(&bytes));
    Ok(text)
}

fn tempfile_path() -> std::path::PathBuf {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!(".volt-kvm-probe-{}-{n}", std::process::id()))
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`).
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// The host's TSC rate in kHz, which a TCG guest's TSC runs at: from the kernel's
/// `tsc_known_freq` calibration in /proc/cpuinfo ("cpu MHz" on hosts with a constant TSC).
pub fn tsc_khz() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let flags = info.lines().find(|l| l.starts_with("flags"))?;
    if !flags.split_whitespace().any(|f| f == "constant_tsc") {
        return None;
    }
    let mhz: f64 = info.lines().find(|l| l.starts_with("cpu MHz"))?.split(':').nth(1)?.trim().parse().ok()?;
    Some((mhz * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsc_rate_is_plausible_when_known() {
        if let Some(k) = tsc_khz() {
            assert!((100_000..10_000_000).contains(&k), "{k}");
        }
        assert_eq!(boot_id().len(), 36);
    }

    #[test]
    fn a_missing_helper_falls_back_to_tcg() {
        let c =
            probe(Path::new("/nonexistent/helper"), &[], Path::new("qemu"), Path::new("k"), Duration::from_millis(100));
        assert_eq!(c.accel, Accel::Tcg);
        assert!(!c.reason.is_empty());
    }
}
