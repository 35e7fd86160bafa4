//! Real VMs: the test guest (tests/vm/guest.sh — Debian's cloud kernel, a busybox initramfs that
//! prints VOLT-GUEST-READY, an ext4 data disk) booted by QEMU under the accelerator the probe
//! picks (TCG on the build machines, whose nested KVM hangs guests), through the `volt` binary
//! and the SDK: the marker appears; pause/resume change QEMU's `query-status`; a snapshot,
//! a change on the disk, a restore, and the change is gone; stop powers the guest off through
//! ACPI; a VM and a container on one network reach each other by name; QEMU killed from outside
//! is recorded failed with the reason; a CLI killed mid-create leaves no half VM; bad input gets
//! the reference's exit codes; vCPU pinning and hugepages show in `inspect`.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use volt_core::vm::VmCreateOptions;
use volt_core::{ErrorKind, Status};

const READY: &str = "VOLT-GUEST-READY";

fn json(o: &std::process::Output) -> serde_json::Value {
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn ok(o: &std::process::Output) {
    assert!(o.status.success(), "exit {}: {}{}", code(o), text(&o.stdout), text(&o.stderr));
}

/// An Env with the guest kernel imported as `testk`.
fn setup() -> Option<(Env, std::path::PathBuf)> {
    let g = guest()?;
    let e = Env::new();
    let k = e.volt.vms().unwrap().kernels();
    k.import(&g.join("vmlinuz"), "testk", Some(&g.join("initrd.img")), "").unwrap();
    Some((e, g))
}

fn opts(g: &Path) -> VmCreateOptions {
    VmCreateOptions {
        kernel: Some("testk".into()),
        disk: Some(g.join("disk.qcow2")),
        memory: Some("256M".into()),
        disk_size: Some("1G".into()),
        ..Default::default()
    }
}

/// Wait until the serial log holds `marker` `times` times (it is appended across boots).
fn wait_for(e: &Env, vm: &str, marker: &str, times: usize) {
    let v = e.volt.vms().unwrap();
    eventually(&format!("{marker} x{times} on {vm}'s console"), 90, || {
        v.logs(vm, None).unwrap().matches(marker).count() >= times
    });
}

#[test]
fn lifecycle_pause_snapshot_restore_stop() {
    let Some((e, g)) = setup() else { return };
    let v = e.volt.vms().unwrap();
    let disk = g.join("disk.qcow2");
    ok(&e.cli(&[
        "vm",
        "create",
        "web",
        "--kernel",
        "testk",
        "--disk",
        disk.to_str().unwrap(),
        "--memory",
        "256M",
        "--disk-size",
        "1G",
    ]));
    // The disk is an overlay on the base kept in the store.
    let i = v.inspect("web").unwrap();
    let base = i.config.base.clone().expect("a base disk");
    let di = volt_core::vmm::disk::info(&i.disk).unwrap();
    assert_eq!((di.format.as_str(), di.virtual_size), ("qcow2", 1 << 30));
    assert!(di.backing.unwrap().ends_with(&format!("{}.qcow2", base.object)));
    let refs = e.volt.images().unwrap().cas().list_refs(Some("vm/")).unwrap();
    assert_eq!(refs.len(), 1);
    assert!(i.unit.exists() && fs::read_to_string(&i.unit).unwrap().contains("vm-run"));

    ok(&e.cli(&["vm", "start", "web"]));
    wait_for(&e, "web", READY, 1);
    let j = json(&e.cli(&["-o", "json", "vm", "inspect", "web"]));
    assert_eq!(j["status"], "running");
    assert!(matches!(j["state"]["accel"].as_str(), Some("kvm" | "tcg")), "{j}");
    assert!(j["state"]["accel_reason"].as_str().unwrap().contains("probe"), "{j}");
    // The supervisor chosen is shown, as a container's is.
    assert_eq!(j["backend"], "direct", "{j}");
    assert_eq!(j["vcpus"].as_array().unwrap().len(), 1);
    assert_eq!(v.query_status("web").unwrap(), "running");
    // A second start is a conflict, in the words a container's gets.
    let again = e.cli(&["vm", "start", "web"]);
    assert_eq!(code(&again), 9);
    assert!(text(&again.stderr).contains("web is running already"), "{}", text(&again.stderr));

    // Pause and resume: QEMU's own status follows, and so does the record (from QMP events).
    ok(&e.cli(&["vm", "pause", "web"]));
    assert_eq!(v.query_status("web").unwrap(), "paused");
    assert_eq!(v.inspect("web").unwrap().status, Status::Paused);
    assert_eq!(code(&e.cli(&["vm", "pause", "web"])), 9);
    ok(&e.cli(&["vm", "resume", "web"]));
    assert_eq!(v.query_status("web").unwrap(), "running");
    assert_eq!(v.inspect("web").unwrap().status, Status::Running);

    // The console answers.
    let out = v.console_exchange("web", "echo VOLT-$((6*7))\n", Some("VOLT-42"), Duration::from_secs(30)).unwrap();
    assert!(out.contains("VOLT-42"));

    // Snapshot (live), change a file on the disk, stop, restore: the change is gone.
    ok(&e.cli(&["vm", "snapshot", "create", "web", "before"]));
    let again = e.cli(&["vm", "snapshot", "create", "web", "before"]);
    assert_eq!(code(&again), 4, "{}", text(&again.stderr));
    assert!(text(&again.stderr).contains("already exists"));
    v.console_exchange(
        "web",
        "echo changed > /data/www/index.html; sync; echo CHANGED-$((1+1))\n",
        Some("CHANGED-2"),
        Duration::from_secs(30),
    )
    .unwrap();
    let r = e.cli(&["vm", "snapshot", "restore", "web", "before"]);
    assert_eq!(code(&r), 9, "restore while running: {}", text(&r.stderr));
    assert!(text(&r.stderr).contains("web is running; it cannot be restored (stop it first)"), "{}", text(&r.stderr));
    ok(&e.cli(&["vm", "stop", "web"]));
    let i = v.inspect("web").unwrap();
    assert_eq!(i.status, Status::Stopped);
    assert_eq!(i.state.reason.as_deref(), Some("the guest powered off"), "stop is an ACPI power-off");
    assert!(v.logs("web", None).unwrap().contains("VOLT-GUEST-POWERDOWN"));
    assert!(!i.console.exists(), "sockets removed");
    let again = e.cli(&["vm", "stop", "web"]);
    assert_eq!(code(&again), 9);
    assert!(text(&again.stderr).contains("web is stopped, not running"), "{}", text(&again.stderr));
    ok(&e.cli(&["vm", "snapshot", "restore", "web", "before"]));
    ok(&e.cli(&["vm", "start", "web"]));
    wait_for(&e, "web", READY, 2);
    let out = v
        .console_exchange(
            "web",
            "cat /data/www/index.html; echo END-$((2+2))\n",
            Some("END-4"),
            Duration::from_secs(30),
        )
        .unwrap();
    assert!(out.contains("served from the disk") && !out.contains("changed\r\n"), "{out}");
    let list = json(&e.cli(&["-o", "json", "vm", "snapshot", "list", "web"]));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["live"], true);

    // volt ps shows the VM beside containers.
    let ps = text(&e.cli(&["ps"]).stdout);
    assert!(ps.lines().any(|l| l.trim_start().starts_with("web") && l.contains("vm") && l.contains("running")), "{ps}");

    ok(&e.cli(&["vm", "snapshot", "delete", "web", "before"]));
    assert_eq!(code(&e.cli(&["vm", "delete", "web"])), 9, "running VMs need --force");
    ok(&e.cli(&["vm", "delete", "web", "--force"]));
    assert!(!e.dir.path().join("root/var/lib/volt/vms/web").exists());
    assert!(e.volt.images().unwrap().cas().list_refs(Some("vm/")).unwrap().is_empty());
    assert!(!i.unit.exists());
}

#[test]
fn killed_qemu_and_supervisor_and_cli_mid_create() {
    let Some((e, g)) = setup() else { return };
    let v = e.volt.vms().unwrap();
    v.create("k1", &opts(&g)).unwrap();
    let i = v.start("k1").unwrap();
    let qemu = i.state.qemu_pid.unwrap();
    // SAFETY: kill(2) on the QEMU we started.
    unsafe { libc::kill(qemu as i32, libc::SIGKILL) };
    eventually("k1 failed", 20, || v.inspect("k1").unwrap().status == Status::Failed);
    let i = v.inspect("k1").unwrap();
    assert_eq!(i.state.reason.as_deref(), Some("qemu killed by SIGKILL"));
    assert_eq!(i.state.exit_code, Some(137));

    // The supervisor killed: QEMU goes with it (PR_SET_PDEATHSIG); the VM reads `supervisor lost`.
    let i = v.start("k1").unwrap();
    let (sup, qemu) = (i.state.supervisor_pid.unwrap(), i.state.qemu_pid.unwrap());
    // SAFETY: kill(2) on the supervisor we started.
    unsafe { libc::kill(sup as i32, libc::SIGKILL) };
    eventually("QEMU gone with its supervisor", 20, || {
        !Path::new(&format!("/proc/{qemu}")).exists() || {
            let st = fs::read_to_string(format!("/proc/{qemu}/stat")).unwrap_or_default();
            st.contains(") Z")
        }
    });
    let i = v.inspect("k1").unwrap();
    assert_eq!((i.status, i.state.reason.as_deref()), (Status::Failed, Some("supervisor lost")));
    // And it starts again from there.
    v.start("k1").unwrap();
    v.kill("k1", libc::SIGKILL).unwrap();

    // `volt vm create` killed at points through its work: afterwards each VM exists whole or
    // not at all, nothing hidden is left, and the store's base refs match the VMs.
    let disk = g.join("disk.qcow2");
    for (n, ms) in [0u64, 2, 5, 10, 20, 40, 80].iter().enumerate() {
        let name = format!("x{n}");
        let mut child = e
            .cmd()
            .args(["vm", "create", &name, "--kernel", "testk", "--disk", disk.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(*ms));
        let _ = child.kill();
        let _ = child.wait();
    }
    let listed: Vec<String> = v.list().unwrap().into_iter().map(|i| i.config.name).collect();
    for name in &listed {
        let i = v.inspect(name).unwrap();
        assert!(i.disk.exists(), "{name} has its disk");
        assert!(volt_core::vmm::disk::info(&i.disk).is_ok());
    }
    let vms_dir = e.dir.path().join("root/var/lib/volt/vms");
    let hidden: Vec<_> = fs::read_dir(&vms_dir)
        .unwrap()
        .flatten()
        .map(|d| d.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && !n.ends_with(".lock"))
        .collect();
    assert!(hidden.is_empty(), "left behind: {hidden:?}");
    let mut refs: Vec<String> = e
        .volt
        .images()
        .unwrap()
        .cas()
        .list_refs(Some("vm/"))
        .unwrap()
        .into_iter()
        .map(|r| r.name.as_str().trim_start_matches("vm/").to_string())
        .collect();
    refs.sort();
    let mut want = listed.clone();
    want.sort();
    assert_eq!(refs, want, "base refs follow the VMs");
}

#[test]
fn bad_input_gets_clear_errors_and_leaves_nothing() {
    let Some((e, g)) = setup() else { return };
    let disk = g.join("disk.qcow2");
    let d = disk.to_str().unwrap();
    let not_qcow2 = e.dir.path().join("raw.img");
    fs::write(&not_qcow2, vec![0u8; 1 << 20]).unwrap();
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["vm", "create", "a", "--kernel", "server", "--disk", d], 10, "volt kernel build server"),
        (vec!["vm", "create", "a", "--kernel", "nope", "--disk", d], 3, "kernel \"nope\" not found"),
        (vec!["vm", "create", "a", "--kernel", "testk", "--memory", "100T"], 11, "more than the host has"),
        (vec!["vm", "create", "a", "--kernel", "testk", "--disk", not_qcow2.to_str().unwrap()], 2, "not a qcow2 image"),
        (vec!["vm", "create", "a", "--kernel", "testk", "--disk", "/nonexistent.qcow2"], 3, "not found"),
        (vec!["vm", "create", "../x", "--kernel", "testk"], 2, "VM name"),
        (vec!["vm", "create", "a", "--kernel", "testk", "--cpus", "0"], 2, "--cpus"),
        (vec!["vm", "create", "a", "--kernel", "testk", "--memory", "12Q"], 2, "12Q"),
        (vec!["vm", "create", "a", "--kernel", "testk", "--disk", d, "--disk-size", "1M"], 2, "smaller"),
        (vec!["vm", "create", "a", "--kernel", "testk", "--machine", "pc"], 2, "microvm"),
        (vec!["vm", "inspect", "nope"], 3, "not found"),
        (vec!["vm", "start", "nope"], 3, "not found"),
        (vec!["kernel", "import", "/etc/hostname", "--name", "k2"], 2, "not a Linux"),
    ];
    for (args, want, msg) in &cases {
        let o = e.cli(args);
        assert_eq!(code(&o), *want, "{args:?}: {}", text(&o.stderr));
        assert!(text(&o.stderr).contains(msg), "{args:?}: {}", text(&o.stderr));
    }
    let vms = e.dir.path().join("root/var/lib/volt/vms");
    let left: Vec<_> = fs::read_dir(&vms)
        .map(|rd| rd.flatten().map(|d| d.file_name()).filter(|n| !n.to_string_lossy().ends_with(".lock")).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "refused creates left {left:?}");

    // Snapshots of a stopped VM: duplicates, missing ones, bad names.
    ok(&e.cli(&["vm", "create", "b", "--kernel", "testk", "--disk", d]));
    ok(&e.cli(&["vm", "snapshot", "create", "b", "s1"]));
    assert_eq!(code(&e.cli(&["vm", "snapshot", "create", "b", "s1"])), 4);
    assert_eq!(code(&e.cli(&["vm", "snapshot", "restore", "b", "nope"])), 3);
    assert_eq!(code(&e.cli(&["vm", "snapshot", "create", "b", "../x"])), 2);
    assert_eq!(code(&e.cli(&["vm", "create", "b", "--kernel", "testk"])), 4);
    // A kernel in use stays; pinning to CPUs the host lacks is refused.
    let o = e.cli(&["kernel", "rm", "testk"]);
    assert_eq!(code(&o), 9, "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("kernel testk is in use by b"), "{}", text(&o.stderr));
    assert_eq!(code(&e.cli(&["tune", "cpu", "pin", "b", "--cpus", "4096"])), 2);
    assert_eq!(code(&e.cli(&["tune", "cpu", "pin", "b", "--cpus", "x"])), 2);
    let ks = json(&e.cli(&["-o", "json", "kernel", "list"]));
    assert_eq!(ks.as_array().unwrap().len(), 1);
    assert_eq!(v_err_kind(&e), ErrorKind::NotFound);
}

fn v_err_kind(e: &Env) -> ErrorKind {
    e.volt.vms().unwrap().inspect("missing").unwrap_err().kind()
}

#[test]
fn pinning_and_hugepages_show_in_inspect() {
    let Some((e, g)) = setup() else { return };
    let v = e.volt.vms().unwrap();
    let mut o = opts(&g);
    o.memory = Some("128M".into());
    v.create("p1", &o).unwrap();
    v.start("p1").unwrap();
    ok(&e.cli(&["tune", "cpu", "pin", "p1", "--cpus", "0"]));
    let i = v.inspect("p1").unwrap();
    assert_eq!(i.config.cpu_pin, [0]);
    assert_eq!(i.vcpus.len(), 1);
    assert_eq!(i.vcpus[0].affinity, [0], "the vCPU thread runs on CPU 0 only");
    // Kept across restarts: the supervisor pins at start.
    v.kill("p1", libc::SIGKILL).unwrap();
    let i = v.start("p1").unwrap();
    assert_eq!(i.state.pinned, [0]);
    assert_eq!(v.inspect("p1").unwrap().vcpus[0].affinity, [0]);
    ok(&e.cli(&["tune", "cpu", "pin", "p1", "--cpus", "all"]));
    let online = std::thread::available_parallelism().unwrap().get();
    assert_eq!(v.inspect("p1").unwrap().vcpus[0].affinity, (0..online).collect::<Vec<_>>(), "unpinned");
    v.kill("p1", libc::SIGKILL).unwrap();

    // Hugepages: 128 MiB of 2 MiB pages for the guest, taken from the pool while it runs.
    let nr = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";
    let before: u64 = fs::read_to_string(nr).unwrap().trim().parse().unwrap();
    fs::write(nr, (before + 70).to_string()).unwrap();
    let mut o = opts(&g);
    o.memory = Some("128M".into());
    o.hugepages = Some(true);
    v.create("h1", &o).unwrap();
    let r = v.start("h1");
    let free_during = fs::read_to_string("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages").unwrap();
    let i = v.inspect("h1").unwrap();
    let cmdline =
        i.state.qemu_pid.map(|p| fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default()).unwrap_or_default();
    let _ = v.kill("h1", libc::SIGKILL);
    let _ = v.delete("h1", true);
    let _ = Command::new("umount").arg(e.dir.path().join("root/run/volt/hugepages")).status();
    fs::write(nr, before.to_string()).unwrap();
    r.unwrap();
    assert!(i.config.hugepages);
    assert!(String::from_utf8_lossy(&cmdline).contains("memory-backend-file"), "QEMU runs with a hugetlbfs backend");
    let free: u64 = free_during.trim().parse().unwrap();
    assert!(free <= before + 70 - 64, "the guest's 64 pages are in use ({free} free)");
    let text = text(&e.cli(&["vm", "inspect", "p1"]).stdout);
    assert!(text.contains("CPU pinning"), "{text}");
}

#[test]
fn runtime_trait_and_images_share_a_base() {
    let Some((e, g)) = setup() else { return };
    // A VM image: a Volt image carrying its disk at /disk/guest.qcow2.
    let src = e.dir.path().join("vmimage");
    fs::create_dir_all(src.join("disk")).unwrap();
    fs::copy(g.join("disk.qcow2"), src.join("disk/guest.qcow2")).unwrap();
    e.volt.images().unwrap().import(&src, &"vmdisk:1".parse().unwrap(), None).unwrap();
    let v = e.volt.vms().unwrap();
    // The facade hands the same runtime out by kind.
    let rt = e.volt.runtime("vm").unwrap();
    let rtm = tokio::runtime::Runtime::new().unwrap();
    rtm.block_on(async {
        assert_eq!(rt.kind(), "vm");
        let mut spec: volt_core::WorkloadSpec =
            serde_json::from_value(serde_json::json!({"name": "r1", "image": "vmdisk:1", "memory": 268435456u64}))
                .unwrap();
        let w = rt.create(&spec).await.unwrap();
        assert_eq!((w.kind.as_str(), w.status), ("vm", Status::Stopped));
        spec.name = "r2".into();
        rt.create(&spec).await.unwrap();
        spec.name = "r3".into();
        spec.command = vec!["/bin/sh".into()];
        assert_eq!(rt.create(&spec).await.unwrap_err().kind(), ErrorKind::Usage);
        assert_eq!(rt.list().await.unwrap().len(), 2);
        assert_eq!(rt.exec("r1", &["true".into()]).await.unwrap_err().kind(), ErrorKind::Dependency);
    });
    // Both overlays sit on one shared, read-only base.
    let (a, b) = (v.inspect("r1").unwrap(), v.inspect("r2").unwrap());
    assert_eq!(a.config.base, b.config.base);
    assert!(a.config.base.as_ref().unwrap().source.contains("vmdisk:1"));
    let ba = volt_core::vmm::disk::info(&a.disk).unwrap().backing.unwrap();
    assert_eq!(Some(ba.clone()), volt_core::vmm::disk::info(&b.disk).unwrap().backing);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(fs::metadata(&ba).unwrap().permissions().mode() & 0o222, 0, "the base is read-only");
    // An image without a disk is refused clearly.
    let o = e.cli(&["vm", "create", "r4", "--image", "busybox:1", "--kernel", "testk"]);
    assert_eq!(code(&o), 2);
    assert!(text(&o.stderr).contains("has no disk"), "{}", text(&o.stderr));
    rtm.block_on(async {
        rt.start("r1").await.unwrap();
        assert_eq!(rt.status("r1").await.unwrap().status, Status::Running);
        rt.pause("r1").await.unwrap();
        assert_eq!(rt.status("r1").await.unwrap().status, Status::Paused);
        rt.resume("r1").await.unwrap();
        assert_eq!(rt.status("r1").await.unwrap().status, Status::Running);
        rt.restart("r1", 0).await.unwrap();
        assert_eq!(rt.status("r1").await.unwrap().status, Status::Running);
        rt.stop("r1", 0).await.unwrap();
        assert_eq!(rt.status("r1").await.unwrap().status, Status::Stopped);
        rt.delete("r1").await.unwrap();
        rt.delete("r2").await.unwrap();
        assert!(rt.list().await.unwrap().is_empty());
    });
}

#[test]
fn vm_and_container_reach_each_other_by_name() {
    if !in_private_netns("vm_and_container_reach_each_other_by_name") {
        return;
    }
    let Some((e, g)) = setup() else { return };
    e.volt.networks().create("n1", &Default::default()).unwrap();
    let c = e.c();
    let mut co = sh("mkdir -p /www && echo from-container > /www/index.html && exec httpd -f -p 80 -h /www");
    co.networks = vec!["n1".into()];
    c.create(Some("c1"), "busybox:1", &co).unwrap();
    c.start("c1").unwrap();
    let v = e.volt.vms().unwrap();
    let mut o = opts(&g);
    o.networks = vec!["n1".into()];
    o.ports = vec!["18080:80".parse().unwrap()];
    v.create("v1", &o).unwrap();
    let i = v.start("v1").unwrap();
    let tap = i.endpoints[0].tap.clone();
    assert!(links().contains(&tap), "the VM's TAP is on the host");
    wait_for(&e, "v1", READY, 1);
    // Container → VM by name (the network's DNS serves the VM's lease).
    eventually("c1 reaches v1 by name", 30, || {
        let (st, out, _) =
            c.exec_output("c1", &["wget".into(), "-q".into(), "-O-".into(), "http://v1/".into()]).unwrap();
        st == 0 && text(&out).contains("served from the disk")
    });
    // VM → container by name.
    let out = v
        .console_exchange(
            "v1",
            "wget -q -O- http://c1/; echo WGET-DONE-$((3+4))\n",
            Some("WGET-DONE-7"),
            Duration::from_secs(30),
        )
        .unwrap();
    assert!(out.contains("from-container"), "{out}");
    // The port forward reaches the VM like a container's.
    let mut got = String::new();
    eventually("the forward answers", 20, || {
        use std::io::{Read, Write};
        let Ok(mut s) =
            std::net::TcpStream::connect_timeout(&"127.0.0.1:18080".parse().unwrap(), Duration::from_secs(3))
        else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
        let _ = write!(s, "GET / HTTP/1.0\r\n\r\n");
        got.clear();
        let _ = s.read_to_string(&mut got);
        got.contains("served from the disk")
    });
    v.delete("v1", true).unwrap();
    assert!(!links().contains(&tap), "the TAP goes with the VM");
}

#[test]
fn minimal_kernel_builds_and_boots_on_microvm() {
    let Some(g) = guest() else { return };
    // `volt kernel build minimal` under a root whose cache keeps the kernel tree between runs
    // (the first build compiles for minutes, later ones are incremental).
    let root = Path::new("/var/cache/volt-tests/minimal-root");
    let _ = fs::remove_dir_all(root.join("var/lib/volt/kernels/minimal"));
    let e = Env::new();
    let out = e.cmd().env("VOLT_ROOT", root).args(["-o", "json", "kernel", "build", "minimal"]).output().unwrap();
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let k: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(k["profile"], "minimal");
    let built = root.join("var/lib/volt/kernels/minimal/vmlinuz");
    let size = fs::metadata(&built).unwrap().len();
    assert!(size < 24 << 20, "a small kernel ({size} bytes)");
    assert_eq!(&fs::read(&built).unwrap()[..4], b"\x7fELF", "a PVH vmlinux");
    // Booted on microvm with the test initramfs: the marker, the console, an ACPI power-off.
    e.volt.vms().unwrap().kernel_import(&built, "minimal", None, "").unwrap();
    let v = e.volt.vms().unwrap();
    let o = VmCreateOptions {
        kernel: Some("minimal".into()),
        initrd: Some(g.join("initrd.img")),
        disk: Some(g.join("disk.qcow2")),
        machine: Some("microvm".into()),
        memory: Some("128M".into()),
        ..Default::default()
    };
    v.create("tiny", &o).unwrap();
    v.start("tiny").unwrap();
    wait_for(&e, "tiny", READY, 1);
    let out = v
        .console_exchange("tiny", "cat /data/www/index.html; echo M-$((5+5))\n", Some("M-10"), Duration::from_secs(30))
        .unwrap();
    assert!(out.contains("served from the disk"), "virtio-blk over MMIO works: {out}");
    let i = v.stop("tiny", Some(20)).unwrap();
    assert_eq!(i.state.reason.as_deref(), Some("the guest powered off"));
}

#[test]
fn server_kernel_from_debian_boots_with_volts_initramfs() {
    if guest().is_none() {
        return;
    }
    // `volt kernel build server`: Debian's cloud kernel fetched with apt-get download, unpacked
    // with dpkg-deb -x (nothing in /boot), and an initramfs of its virtio modules and Volt's init.
    let e = Env::new();
    let out = e.cli(&["-o", "json", "kernel", "build", "server"]);
    let k = json(&out);
    assert!(k["source"].as_str().unwrap().contains("linux-image-"), "{k}");
    assert_eq!(k["initrd"], true);
    assert_eq!(code(&e.cli(&["kernel", "build", "server"])), 4, "built already");
    let v = e.volt.vms().unwrap();
    let o = VmCreateOptions { kernel: Some("server".into()), memory: Some("256M".into()), ..Default::default() };
    v.create("srv", &o).unwrap();
    v.start("srv").unwrap();
    wait_for(&e, "srv", "shell on the console", 1);
    let out =
        v.console_exchange("srv", "ls /lib/modules; echo S-$((1+1))\n", Some("S-2"), Duration::from_secs(30)).unwrap();
    assert!(out.contains("virtio_blk.ko"), "the virtio modules are in the initramfs: {out}");
    let i = v.stop("srv", Some(20)).unwrap();
    assert_eq!(i.state.reason.as_deref(), Some("the guest powered off"));
}
