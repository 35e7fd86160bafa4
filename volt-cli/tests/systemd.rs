//! The systemd supervisor against real systemd: a Debian root (tests/systemd/debian-root.sh)
//! booted with `systemd-nspawn -b` in namespaces of its own, its system bus reached from here at
//! /proc/PID/root/run/dbus/system_bus_socket. A directory bind-mounted at the same path on both
//! sides holds the Volt installation, so the unit files and roots Volt writes are valid inside.
//! Volt installs `volt-container@NAME.service`, starts, inspects, limits and stops it over D-Bus
//! and reads its output from that system's journal.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{in_private_netns, links};
use volt_core::container::{CreateOptions, Limits, LogQuery};
use volt_core::supervise::systemd::Systemd;
use volt_core::{Config, Status, SupervisorMode, Volt};

fn debian_root() -> Option<PathBuf> {
    let why = if !rustix::process::geteuid().is_root() {
        "booting systemd in a namespace needs root".to_string()
    } else {
        let cache = std::env::var("VOLT_TEST_CACHE").unwrap_or_else(|_| "/var/cache/volt-tests".into());
        let root = Path::new(&cache).join("bookworm-systemd");
        if root.join(".volt-complete").exists() {
            return Some(root);
        }
        format!("{} is missing (bash tests/systemd/debian-root.sh builds it)", root.display())
    };
    assert!(std::env::var_os("CI").is_none(), "CI must run the systemd supervisor test: {why}");
    eprintln!("SKIP: {why}");
    None
}

struct Booted {
    child: Child,
    pid: u32,
}

impl Booted {
    /// Boot `root` (read-only underneath: changes go to a tmpfs overlay) with `shared` bound.
    fn boot(root: &Path, shared: &Path, name: &str) -> Booted {
        let child = Command::new("systemd-nspawn")
            .args(["-b", "--register=no", "--keep-unit", "--volatile=overlay", "--console=pipe", "-q"])
            .arg(format!("--machine={name}"))
            .arg(format!("--directory={}", root.display()))
            .arg(format!("--bind={}", shared.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let npid = child.id();
        let mut b = Booted { child, pid: 0 };
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < end, "systemd did not come up in 60 s");
            if let Ok(s) = fs::read_to_string(format!("/proc/{npid}/task/{npid}/children")) {
                if let Some(p) = s.split_whitespace().next().and_then(|p| p.parse().ok()) {
                    b.pid = p;
                    if b.bus_path().exists() {
                        if let Ok(sd) = Systemd::connect(Some(&b.address())) {
                            if sd.system_state().is_ok_and(|s| s == "running" || s == "degraded") {
                                return b;
                            }
                        }
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    fn bus_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root/run/dbus/system_bus_socket", self.pid))
    }
    fn address(&self) -> String {
        format!("unix:path={}", self.bus_path().display())
    }
}

impl Drop for Booted {
    fn drop(&mut self) {
        // SIGTERM makes nspawn ask systemd for an orderly shutdown; kill if it takes too long.
        // SAFETY: kill(2).
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn busybox_root(dir: &Path) -> PathBuf {
    let r = dir.join("busybox-root");
    for d in ["bin", "usr", "etc", "tmp", "proc", "sys", "dev"] {
        fs::create_dir_all(r.join(d)).unwrap();
    }
    fs::copy("/bin/busybox", r.join("bin/busybox")).unwrap();
    for a in ["sh", "echo", "sleep", "cat", "true", "wget", "nslookup", "httpd", "ip"] {
        std::os::unix::fs::symlink("busybox", r.join("bin").join(a)).unwrap();
    }
    r
}

fn sh(script: &str) -> CreateOptions {
    let mut o = CreateOptions::default();
    o.command = vec!["/bin/sh".into(), "-c".into(), script.into()];
    o
}

#[test]
fn systemd_supervisor_lifecycle_over_dbus() {
    let Some(root) = debian_root() else { return };
    // A path that is the same inside and outside: bound into the booted system.
    let shared = tempfile::Builder::new().prefix("volt-sd-").tempdir_in("/var/tmp").unwrap();
    let booted = Booted::boot(&root, shared.path(), &format!("volt-sd-{}", std::process::id()));

    let mut config = Config::default().relocate(shared.path().join("root"));
    config.containers.supervisor = SupervisorMode::Systemd;
    config.containers.systemd_bus = Some(booted.address());
    config.containers.journal_root = Some(PathBuf::from(format!("/proc/{}/root", booted.pid)));
    // That system's cgroups, as it mounted them (pids read through it are ours).
    config.containers.cgroup_root = PathBuf::from(format!("/proc/{}/root/sys/fs/cgroup", booted.pid));
    let volt = Volt::open(config).unwrap();
    volt.images().unwrap().import(&busybox_root(shared.path()), &"busybox:1".parse().unwrap(), None).unwrap();
    let c = volt.containers().unwrap();
    assert_eq!(c.backend(), volt_core::container::Backend::Systemd);
    // On a failed assertion, still unmount what Volt mounted on this side.
    struct Cleanup(volt_core::container::Containers);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            for i in self.0.list().unwrap_or_default() {
                let _ = self.0.delete(i.config.name.as_str(), true);
            }
        }
    }
    let _cleanup = Cleanup(c.clone());
    let sd = Systemd::connect(Some(&booted.address())).unwrap();

    // A long-running container with limits as unit properties.
    let mut o = sh("trap 'echo got USR1' USR1; echo hello from systemd; while true; do sleep 0.2; done");
    o.limits = Limits { memory: Some(64 << 20), cpu: Some(50), pids: Some(32) };
    c.create(Some("sdweb"), "busybox:1", &o).unwrap();
    let unit = "volt-container@sdweb.service";
    let unit_file = volt.paths().units_dir().join(unit);
    let text = fs::read_to_string(&unit_file).unwrap();
    assert!(text.contains("MemoryMax=67108864") && text.contains("CPUQuota=50%") && text.contains("TasksMax=32"));
    let info = c.start("sdweb").unwrap();
    assert_eq!(info.state.status, Status::Running, "{:?}", info.state);
    assert_eq!(info.state.backend.as_deref(), Some("systemd"));
    assert!(info.state.pid.is_some_and(|p| p > 0), "MainPID recorded");
    assert_eq!(sd.status(unit).unwrap().active_state, "active");
    assert_eq!(sd.service_u64(unit, "MemoryMax").unwrap(), 64 << 20);
    assert_eq!(sd.service_u64(unit, "TasksMax").unwrap(), 32);
    assert_eq!(sd.service_u64(unit, "CPUQuotaPerSecUSec").unwrap(), 500_000);
    assert_eq!(c.start("sdweb").unwrap_err().kind(), volt_core::ErrorKind::Conflict);

    // Its output is in that system's journal under _SYSTEMD_UNIT.
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let lines = c.logs("sdweb", &LogQuery::default()).unwrap();
        if lines.iter().any(|l| l.text == "hello from systemd") {
            break;
        }
        assert!(Instant::now() < end, "no journal line: {lines:?}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // exec enters the container found through the unit's cgroup; kill reaches the workload
    // (not nspawn, which would end the container); stats read the unit's cgroup.
    let (st, out, _) = c.exec_output("sdweb", &["/bin/sh".into(), "-c".into(), "echo inside; exit 5".into()]).unwrap();
    assert_eq!((st, String::from_utf8_lossy(&out).into_owned()), (5, "inside\n".to_string()));
    c.kill("sdweb", libc::SIGUSR1).unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    while !c.logs("sdweb", &LogQuery::default()).unwrap().iter().any(|l| l.text == "got USR1") {
        assert!(Instant::now() < end, "the workload did not get SIGUSR1");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(c.inspect("sdweb").unwrap().state.status, Status::Running);
    let stats = c.stats("sdweb").unwrap();
    // That system has no memory controller of its own here; tasks and CPU time are counted.
    assert!(stats.pids >= 2 && stats.cpu_ns > 0, "{stats:?}");

    // update sets the properties live.
    c.update("sdweb", Some(128 << 20), Some(150), None).unwrap();
    assert_eq!(sd.service_u64(unit, "MemoryMax").unwrap(), 128 << 20);
    assert_eq!(sd.service_u64(unit, "CPUQuotaPerSecUSec").unwrap(), 1_500_000);

    // stop goes through systemd; state recorded.
    let t = Instant::now();
    let info = c.stop("sdweb", Some(5)).unwrap();
    assert_eq!(info.state.status, Status::Stopped, "{:?}", info.state);
    assert!(t.elapsed() < Duration::from_secs(4), "the stop was not graceful (SIGKILL after the timeout)");
    let lines = c.logs("sdweb", &LogQuery::default()).unwrap();
    assert!(lines.iter().any(|l| l.text.starts_with("volt: SIGTERM to the workload")), "{lines:?}");
    assert_ne!(sd.status(unit).unwrap().active_state, "active");

    // A failing workload: failed, with its exit code from ExecMainStatus.
    c.create(Some("sdfail"), "busybox:1", &sh("echo failing; exit 3")).unwrap();
    c.start("sdfail").unwrap();
    let info = c.wait("sdfail", Some(Duration::from_secs(20))).unwrap();
    assert_eq!(info.state.status, Status::Failed, "{:?}", info.state);
    assert_eq!(info.state.exit_code, Some(3));
    assert_eq!(info.state.reason.as_deref(), Some("exit 3"));

    // delete unlinks the unit.
    c.delete("sdweb", false).unwrap();
    c.delete("sdfail", false).unwrap();
    assert!(!unit_file.exists());
    assert_eq!(sd.status(unit).unwrap().active_state, "inactive");

    // A new container of the same name shows only its own output (the journal keeps the old).
    std::thread::sleep(Duration::from_millis(1100));
    c.create(Some("sdweb"), "busybox:1", &sh("echo second life")).unwrap();
    c.start("sdweb").unwrap();
    c.wait("sdweb", Some(Duration::from_secs(20))).unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    let lines = loop {
        let lines: Vec<String> = c.logs("sdweb", &LogQuery::default()).unwrap().into_iter().map(|l| l.text).collect();
        if lines.iter().any(|l| l == "second life") || Instant::now() > end {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(lines.contains(&"second life".to_string()), "{lines:?}");
    assert!(!lines.contains(&"hello from systemd".to_string()), "an earlier container's output: {lines:?}");
    c.delete("sdweb", false).unwrap();
    assert!(c.list().unwrap().is_empty());
    drop(booted);
}

/// systemd units on a network: the unit's nspawn joins the namespace Volt plugged, names
/// resolve through the network's DNS server, and a port forward reaches httpd in a unit.
#[test]
fn systemd_units_join_networks() {
    let Some(root) = debian_root() else { return };
    if !in_private_netns("systemd_units_join_networks") {
        return;
    }
    let shared = tempfile::Builder::new().prefix("volt-sdnet-").tempdir_in("/var/tmp").unwrap();
    // On a real host Volt and systemd share one mount namespace; here the booted system has its
    // own, so the shared directory is made a shared mount for the namespace files Volt mounts
    // under it (each container's netns) to appear on both sides.
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = rustix::mount::unmount(&self.0, rustix::mount::UnmountFlags::DETACH);
        }
    }
    rustix::mount::mount_bind(shared.path(), shared.path()).unwrap();
    let _unmount = Unmount(shared.path().to_path_buf());
    rustix::mount::mount_change(shared.path(), rustix::mount::MountPropagationFlags::SHARED).unwrap();
    let booted = Booted::boot(&root, shared.path(), &format!("volt-sdnet-{}", std::process::id()));
    let mut config = Config::default().relocate(shared.path().join("root"));
    config.containers.supervisor = SupervisorMode::Systemd;
    config.containers.systemd_bus = Some(booted.address());
    config.containers.journal_root = Some(PathBuf::from(format!("/proc/{}/root", booted.pid)));
    config.containers.cgroup_root = PathBuf::from(format!("/proc/{}/root/sys/fs/cgroup", booted.pid));
    // The DNS servers are started from here.
    config.containers.supervisor_binary = Some(common::SUPERVISOR.into());
    let volt = Volt::open(config).unwrap();
    volt.images().unwrap().import(&busybox_root(shared.path()), &"busybox:1".parse().unwrap(), None).unwrap();
    let c = volt.containers().unwrap();
    let n = volt.networks();
    struct Cleanup(volt_core::container::Containers, volt_core::network::Networks);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            for i in self.0.list().unwrap_or_default() {
                let _ = self.0.delete(i.config.name.as_str(), true);
            }
            for i in self.1.list().unwrap_or_default() {
                let _ = self.1.delete(&i.config.name);
            }
        }
    }
    let _cleanup = Cleanup(c.clone(), n.clone());
    let mut o = volt_core::network::NetworkOptions::default();
    o.subnet = Some("10.77.0.0/24".into());
    n.create("sdnet", &o).unwrap();

    let mut web = sh("echo unit-served > /tmp/index.html; exec httpd -f -p 80 -h /tmp");
    web.networks = vec!["sdnet".into()];
    web.ports = vec!["8088:80".parse().unwrap()];
    c.create(Some("sdhttp"), "busybox:1", &web).unwrap();
    let mut cli = sh("while true; do sleep 0.2; done");
    cli.networks = vec!["sdnet".into()];
    c.create(Some("sdcli"), "busybox:1", &cli).unwrap();
    for name in ["sdhttp", "sdcli"] {
        let info = c.start(name).unwrap();
        assert_eq!(info.state.backend.as_deref(), Some("systemd"));
        let logs: Vec<String> =
            c.logs(name, &LogQuery::default()).unwrap_or_default().into_iter().map(|l| l.text).collect();
        assert_eq!(info.state.status, Status::Running, "{:?} {logs:?}", info.state);
    }
    let unit = fs::read_to_string(volt.paths().units_dir().join("volt-container@sdcli.service")).unwrap();
    assert!(unit.contains("--network-namespace-path="), "{unit}");

    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let (st, out, err) = c
            .exec_output("sdcli", &["wget".into(), "-q".into(), "-O".into(), "-".into(), "http://sdhttp/".into()])
            .unwrap();
        if st == 0 && String::from_utf8_lossy(&out).contains("unit-served") {
            break;
        }
        assert!(Instant::now() < end, "sdcli cannot fetch http://sdhttp/: {st} {}", String::from_utf8_lossy(&err));
        std::thread::sleep(Duration::from_millis(200));
    }
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect("127.0.0.1:8088").unwrap();
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).unwrap();
    assert!(got.contains("unit-served"), "{got}");

    for name in ["sdhttp", "sdcli"] {
        c.delete(name, true).unwrap();
    }
    n.delete("sdnet").unwrap();
    assert_eq!(links(), ["lo"], "links left behind");
    drop(booted);
}

/// VMs as systemd units: `volt-vm@NAME.service` is linked and started over D-Bus; its ExecStart
/// is the VM supervisor (`volt-supervisor vm-run run.json`), which runs QEMU inside the booted
/// system (the root has QEMU from bookworm-backports; no /dev/kvm there, so TCG). The guest's
/// marker appears, QMP pause/resume work from here, a stop through systemd powers the guest off,
/// a kill reaches QEMU through the supervisor (recorded with the signal), delete unlinks the unit.
#[test]
fn systemd_runs_vms_as_units() {
    let Some(root) = debian_root() else { return };
    let Some(guest) = common::guest() else { return };
    assert!(root.join(".volt-qemu").exists(), "the Debian root lacks QEMU: run tests/systemd/debian-root.sh");
    let shared = tempfile::Builder::new().prefix("volt-sdvm-").tempdir_in("/var/tmp").unwrap();
    // The supervisor binary and the guest's files at paths that are the same on both sides.
    let bin = shared.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    fs::copy(common::SUPERVISOR, bin.join("volt-supervisor")).unwrap();
    let g = shared.path().join("guest");
    fs::create_dir_all(&g).unwrap();
    for f in ["vmlinuz", "initrd.img", "disk.qcow2"] {
        fs::copy(guest.join(f), g.join(f)).unwrap();
    }
    let booted = Booted::boot(&root, shared.path(), &format!("volt-sdvm-{}", std::process::id()));
    let mut config = Config::default().relocate(shared.path().join("root"));
    config.containers.supervisor = SupervisorMode::Systemd;
    config.containers.systemd_bus = Some(booted.address());
    config.containers.supervisor_binary = Some(bin.join("volt-supervisor"));
    config.vms.kvm_probe_timeout_ms = 3000;
    let volt = Volt::open(config).unwrap();
    let v = volt.vms().unwrap();
    assert_eq!(v.backend(), volt_core::container::Backend::Systemd);
    struct Cleanup(volt_core::vm::Vms);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            for i in self.0.list().unwrap_or_default() {
                let _ = self.0.delete(&i.config.name, true);
            }
        }
    }
    let _cleanup = Cleanup(v.clone());
    let sd = Systemd::connect(Some(&booted.address())).unwrap();
    v.kernel_import(&g.join("vmlinuz"), "testk", Some(&g.join("initrd.img")), "").unwrap();
    let o = volt_core::vm::VmCreateOptions {
        kernel: Some("testk".into()),
        disk: Some(g.join("disk.qcow2")),
        memory: Some("256M".into()),
        ..Default::default()
    };
    v.create("sdvm", &o).unwrap();
    let unit = "volt-vm@sdvm.service";
    let info = v.start("sdvm").unwrap();
    assert_eq!(info.status, Status::Running, "{:?}", info.state);
    assert_eq!(info.backend, volt_core::container::Backend::Systemd, "inspect shows the supervisor chosen");
    let u = sd.status(unit).unwrap();
    assert_eq!(u.active_state, "active");
    assert!(u.main_pid > 0);
    assert!(fs::read_to_string(&info.unit).unwrap().contains("vm-run"));
    let end = Instant::now() + Duration::from_secs(90);
    while !v.logs("sdvm", None).unwrap().contains("VOLT-GUEST-READY") {
        assert!(Instant::now() < end, "no marker: {}", v.logs("sdvm", Some(20)).unwrap());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(v.start("sdvm").unwrap_err().kind(), volt_core::ErrorKind::Conflict);
    v.pause("sdvm").unwrap();
    assert_eq!(v.query_status("sdvm").unwrap(), "paused");
    v.resume("sdvm").unwrap();
    assert_eq!(v.query_status("sdvm").unwrap(), "running");
    // Stop through systemd: SIGTERM to the supervisor, which presses the power button.
    let info = v.stop("sdvm", Some(20)).unwrap();
    assert_eq!(info.status, Status::Stopped, "{:?}", info.state);
    assert_eq!(info.state.reason.as_deref(), Some("the guest powered off"));
    assert_ne!(sd.status(unit).unwrap().active_state, "active");
    // A kill goes to QEMU through the supervisor (SIGUSR1 to the unit's main process).
    v.start("sdvm").unwrap();
    let info = v.kill("sdvm", libc::SIGKILL).unwrap();
    assert_eq!(info.status, Status::Failed, "{:?}", info.state);
    assert_eq!(info.state.reason.as_deref(), Some("qemu killed by SIGKILL"));
    // delete unlinks the unit.
    v.delete("sdvm", false).unwrap();
    assert!(!info.unit.exists());
    assert_eq!(sd.status(unit).unwrap().active_state, "inactive");
    drop(booted);
}
