//! Shared by the live container and network tests: the skip rule, a busybox image, a Volt
//! under a temporary root with the direct supervisor, and small helpers.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use volt_core::container::{Containers, CreateOptions};
use volt_core::{Config, Volt};

pub const SUPERVISOR: &str = env!("CARGO_BIN_EXE_volt-supervisor");

pub fn usable() -> bool {
    let why = if !rustix::process::geteuid().is_root() {
        Some("containers need root")
    } else if Command::new("systemd-nspawn").arg("--version").output().is_err() {
        Some("systemd-nspawn is not installed (apt-get install systemd-container)")
    } else {
        None
    };
    match why {
        None => true,
        Some(w) => {
            assert!(std::env::var_os("CI").is_none(), "CI must run the container tests: {w}");
            eprintln!("SKIP: {w}");
            false
        }
    }
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub volt: Volt,
}

/// A busybox root with every applet linked, and /usr for nspawn.
pub fn busybox_root(dir: &Path) -> PathBuf {
    let r = dir.join("busybox-root");
    for d in ["bin", "usr", "etc", "tmp", "proc", "sys", "dev"] {
        fs::create_dir_all(r.join(d)).unwrap();
    }
    fs::copy("/bin/busybox", r.join("bin/busybox")).unwrap();
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for a in String::from_utf8(list.stdout).unwrap().lines() {
        if a != "busybox" {
            std::os::unix::fs::symlink("busybox", r.join("bin").join(a)).unwrap();
        }
    }
    fs::write(r.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    r
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default().relocate(dir.path().join("root"));
        config.containers.supervisor_binary = Some(SUPERVISOR.into());
        config.containers.supervisor = volt_core::SupervisorMode::Direct;
        config.containers.stop_timeout = 3;
        // A working KVM boots the probe kernel to its panic in well under a second.
        config.vms.kvm_probe_timeout_ms = 3000;
        config.vms.stop_timeout = 10;
        // The test guest's kernel (tests/vm/guest.sh), imported under this name by the VM tests.
        config.vms.default_kernel = "testk".into();
        let volt = Volt::open(config).unwrap();
        let src = busybox_root(dir.path());
        volt.images().unwrap().import(&src, &"busybox:1".parse().unwrap(), None).unwrap();
        Env { dir, volt }
    }
    pub fn c(&self) -> Containers {
        self.volt.containers().unwrap()
    }
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_volt"));
        c.env("VOLT_ROOT", self.dir.path().join("root"))
            .env("VOLT_SUPERVISOR", SUPERVISOR)
            .env_remove("VOLT_CONFIG")
            .env_remove("VOLT_OUTPUT")
            .env("VOLT_COLOR", "never");
        c
    }
}

impl Env {
    /// Delete every VM, container and network (stopping their DNS servers).
    pub fn cleanup(&self) {
        if let Ok(v) = self.volt.vms() {
            for i in v.list().unwrap_or_default() {
                let _ = v.delete(&i.config.name, true);
            }
        }
        if let Ok(c) = self.volt.containers() {
            for i in c.list().unwrap_or_default() {
                let _ = c.delete(i.config.name.as_str(), true);
            }
        }
        let n = self.volt.networks();
        for i in n.list().unwrap_or_default() {
            let _ = n.delete(&i.config.name);
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// The interfaces of this network namespace (from /proc/net/dev, which follows the reader's
/// namespace; /sys does not).
pub fn links() -> Vec<String> {
    let dev = fs::read_to_string("/proc/net/dev").unwrap();
    dev.lines().skip(2).filter_map(|l| l.split(':').next()).map(|s| s.trim().to_string()).collect()
}

/// Run test `name` again inside a new network namespace (`unshare --net`: only `lo`, no route
/// out), where it builds its bridges, rules, DNS servers and containers. True in that child
/// (with `lo` up), false in the parent once the child passed.
pub fn in_private_netns(name: &str) -> bool {
    if std::env::var_os("VOLT_NETNS_CHILD").is_some() {
        assert_eq!(links(), ["lo"], "not in a fresh network namespace");
        assert!(Command::new("/bin/busybox").args(["ip", "link", "set", "lo", "up"]).status().unwrap().success());
        return true;
    }
    let out = Command::new("unshare")
        .args(["--net", "--"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("VOLT_NETNS_CHILD", "1")
        .output()
        .unwrap();
    let t = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success() && t.contains("1 passed"), "in the private namespace:\n{t}");
    false
}

pub fn sh(script: &str) -> CreateOptions {
    let mut o = CreateOptions::default();
    o.command = vec!["/bin/sh".into(), "-c".into(), script.into()];
    o
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn eventually(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// The test guest (tests/vm/guest.sh: Debian's cloud kernel, a busybox initramfs, an ext4 data
/// disk), built once into /var/cache/volt-tests/guest-N. None (with the reason printed) where QEMU
/// cannot run here; in CI that is a failure.
pub fn guest() -> Option<PathBuf> {
    let why = if !rustix::process::geteuid().is_root() {
        Some("VMs need root (TAP devices, the store)".to_string())
    } else if Command::new("qemu-system-x86_64").arg("--version").output().is_err() {
        Some("qemu-system-x86_64 is not installed (scripts/setup.sh installs it)".to_string())
    } else {
        None
    };
    if let Some(w) = why {
        assert!(std::env::var_os("CI").is_none(), "CI must run the VM tests: {w}");
        eprintln!("SKIP: {w}");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vm/guest.sh");
    let out = Command::new("bash").arg(&script).output().unwrap();
    assert!(out.status.success(), "guest.sh: {}", text(&out.stderr));
    Some(PathBuf::from(text(&out.stdout).trim()))
}
