//! `volt vm …`, `volt kernel …` and `volt tune …`: each arm calls the SDK's
//! [`Vms`](volt_core::vm::Vms) and makes a view.

use std::io::{IsTerminal, Read, Write};
use std::time::{Duration, Instant};

use volt_core::vm::{parse_cpu_list, VmCreateOptions, VmInfo};
use volt_core::{Error, Result, Status, Volt};

use crate::cli::{KernelCommand, SnapshotCommand, TuneCommand, TuneCpuCommand, VmCommand};
use crate::output::{bytes, fields, table, View};

fn status_text(i: &VmInfo) -> String {
    match (&i.state.reason, i.status) {
        (Some(r), Status::Stopped | Status::Failed) => format!("{} ({r})", i.status),
        (_, s) => s.to_string(),
    }
}

fn list_rows(list: &[VmInfo]) -> Vec<Vec<String>> {
    list.iter()
        .map(|i| {
            let c = &i.config;
            vec![
                c.name.clone(),
                status_text(i),
                c.machine.to_string(),
                c.cpus.to_string(),
                format!("{}M", c.memory_mib),
                c.kernel.clone(),
                i.endpoints.iter().filter_map(|e| e.address.map(|a| a.to_string())).collect::<Vec<_>>().join(","),
            ]
        })
        .collect()
}

fn list_view(list: &[VmInfo]) -> View {
    View::new(&list, table(&["NAME", "STATUS", "MACHINE", "CPUS", "MEMORY", "KERNEL", "ADDRESS"], list_rows(list)))
}

fn info_view(i: &VmInfo) -> View {
    let c = &i.config;
    let s = &i.state;
    let eps: Vec<String> = i
        .endpoints
        .iter()
        .map(|e| {
            format!("{} {} (tap {}, mac {})", e.network, e.address.map_or("-".into(), |a| a.to_string()), e.tap, e.mac)
        })
        .collect();
    let vcpus: Vec<String> =
        i.vcpus.iter().map(|v| format!("vCPU {} thread {} on CPUs {:?}", v.cpu, v.thread, v.affinity)).collect();
    let human = fields(&[
        ("Name", c.name.clone()),
        ("Status", status_text(i)),
        (
            "Accelerator",
            s.accel.map_or("-".into(), |a| format!("{a} ({})", s.accel_reason.clone().unwrap_or_default())),
        ),
        ("Machine", c.machine.to_string()),
        ("CPUs", c.cpus.to_string()),
        ("Memory", format!("{} MiB{}", c.memory_mib, if c.hugepages { " (hugepages)" } else { "" })),
        ("Kernel", c.kernel.clone()),
        ("Cmdline", if c.cmdline.is_empty() { "-".into() } else { c.cmdline.clone() }),
        ("Disk", format!("{} ({})", i.disk.display(), bytes(c.disk_size))),
        ("Base", c.base.as_ref().map_or("-".into(), |b| format!("{} ({})", b.source, &b.object[..16]))),
        ("Networks", if eps.is_empty() { "-".into() } else { eps.join("; ") }),
        ("Ports", c.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")),
        ("CPU pinning", if c.cpu_pin.is_empty() { "-".into() } else { format!("{:?}", c.cpu_pin) }),
        ("vCPUs", if vcpus.is_empty() { "-".into() } else { vcpus.join("; ") }),
        ("QEMU pid", s.qemu_pid.map_or("-".into(), |p| p.to_string())),
        ("Started", s.started.clone().unwrap_or_else(|| "-".into())),
        ("Finished", s.finished.clone().unwrap_or_else(|| "-".into())),
        ("Snapshots", i.snapshots.iter().map(|x| x.name.clone()).collect::<Vec<_>>().join(", ")),
        ("Console", i.console.display().to_string()),
        ("Unit", i.unit.display().to_string()),
        ("Supervisor", i.backend.as_str().to_string()),
    ]);
    View::new(i, human).id(c.name.clone())
}

/// Run one `volt vm` command.
pub fn run(volt: &Volt, cmd: VmCommand) -> Result<View> {
    let v = volt.vms()?;
    match cmd {
        VmCommand::Create(a) => {
            let ports = a.publish.iter().map(|p| p.parse()).collect::<Result<Vec<_>>>()?;
            let o = VmCreateOptions {
                image: a.image,
                disk: a.disk,
                kernel: a.kernel,
                initrd: a.initrd,
                cmdline: a.cmdline,
                cpus: a.cpus,
                memory: a.memory,
                disk_size: a.disk_size,
                networks: a.network,
                ports,
                machine: a.machine,
                hugepages: a.hugepages.then_some(true),
            };
            Ok(info_view(&v.create(&a.name, &o)?))
        }
        VmCommand::Start { names } => {
            let mut out = Vec::new();
            for n in &names {
                out.push(v.start(n)?);
            }
            let human = out.iter().map(|i| format!("{}\n", i.config.name)).collect();
            Ok(View::new(&out, human))
        }
        VmCommand::Stop { names, time } => {
            let mut out = Vec::new();
            for n in &names {
                out.push(v.stop(n, time)?);
            }
            let human = out.iter().map(|i| format!("{} {}\n", i.config.name, status_text(i))).collect();
            Ok(View::new(&out, human))
        }
        VmCommand::Kill { name, signal } => {
            let sig = volt_core::supervise::parse_signal(&signal)?;
            let i = v.kill(&name, sig)?;
            Ok(View::new(&i, format!("{name} {}\n", status_text(&i))).id(name))
        }
        VmCommand::Pause { name } => {
            let i = v.pause(&name)?;
            Ok(View::new(&i, format!("{name} paused\n")).id(name))
        }
        VmCommand::Resume { name } => {
            let i = v.resume(&name)?;
            Ok(View::new(&i, format!("{name} running\n")).id(name))
        }
        VmCommand::Restart { name, time } => Ok(info_view(&v.restart(&name, time)?)),
        VmCommand::Delete { names, force } => {
            for n in &names {
                v.delete(n, force)?;
            }
            Ok(View::new(&names, names.join("\n") + "\n"))
        }
        VmCommand::List => Ok(list_view(&v.list()?)),
        VmCommand::Inspect { name } => Ok(info_view(&v.inspect(&name)?)),
        VmCommand::Logs { name, tail } => {
            let text = v.logs(&name, tail)?;
            Ok(View::new(&text, text.clone()))
        }
        VmCommand::Console { name } => console(&v, &name),
        VmCommand::Snapshot(s) => match s {
            SnapshotCommand::Create { vm, name } => {
                let i = v.snapshot_create(&vm, &name)?;
                Ok(View::new(&i, format!("{vm}@{name} ({})\n", bytes(i.size))).id(name))
            }
            SnapshotCommand::List { vm } => {
                let list = v.snapshot_list(&vm)?;
                let rows = list
                    .iter()
                    .map(|s| {
                        vec![s.name.clone(), s.created.clone(), bytes(s.size), if s.live { "yes" } else { "no" }.into()]
                    })
                    .collect();
                Ok(View::new(&list, table(&["NAME", "CREATED", "SIZE", "LIVE"], rows)))
            }
            SnapshotCommand::Restore { vm, name } => {
                v.snapshot_restore(&vm, &name)?;
                Ok(View::new(&name, format!("{vm} restored to {name}\n")).id(name))
            }
            SnapshotCommand::Delete { vm, name } => {
                v.snapshot_delete(&vm, &name)?;
                Ok(View::new(&name, format!("{vm}@{name} deleted\n")).id(name))
            }
        },
    }
}

/// Copy between the terminal (raw) or stdin and the console socket.
fn console(v: &volt_core::vm::Vms, name: &str) -> Result<View> {
    let mut sock = v.console(name)?;
    let mut rd = sock.try_clone().map_err(|e| Error::Io { op: "console", path: name.into(), source: e })?;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("Connected to {name}'s console; Ctrl-] detaches.");
        let saved = raw_mode();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut out = std::io::stdout();
            while let Ok(n) = rd.read(&mut buf) {
                if n == 0 || out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err() {
                    break;
                }
            }
        });
        let mut buf = [0u8; 1];
        let mut input = stdin.lock();
        while let Ok(1) = input.read(&mut buf) {
            if buf[0] == 0x1d {
                break;
            }
            if sock.write_all(&buf).is_err() {
                break;
            }
        }
        restore_mode(saved);
        let _ = sock.shutdown(std::net::Shutdown::Both);
        let _ = reader.join();
        eprintln!("\nDetached from {name}.");
        return Ok(View::empty());
    }
    // Scripted: send stdin, then print what comes back until it goes quiet (1 s) or 30 s pass.
    let mut input = Vec::new();
    let _ = stdin.lock().read_to_end(&mut input);
    sock.write_all(&input).map_err(|e| Error::Io { op: "console", path: name.into(), source: e })?;
    let mut out = std::io::stdout();
    let mut buf = [0u8; 4096];
    let start = Instant::now();
    let mut last = Instant::now();
    rd.set_read_timeout(Some(Duration::from_millis(100))).ok();
    while last.elapsed() < Duration::from_secs(1) && start.elapsed() < Duration::from_secs(30) {
        match rd.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let _ = out.write_all(&buf[..n]);
                last = Instant::now();
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = out.flush();
    Ok(View::empty())
}

fn raw_mode() -> Option<libc::termios> {
    // SAFETY: tcgetattr/tcsetattr on stdin with a zeroed, then filled, termios.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(0, &mut t) != 0 {
            return None;
        }
        let saved = t;
        libc::cfmakeraw(&mut t);
        libc::tcsetattr(0, libc::TCSANOW, &t);
        Some(saved)
    }
}

fn restore_mode(saved: Option<libc::termios>) {
    if let Some(t) = saved {
        // SAFETY: restoring the attributes read by raw_mode.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) };
    }
}

/// Run one `volt kernel` command.
pub fn kernel(volt: &Volt, cmd: KernelCommand) -> Result<View> {
    let v = volt.vms()?;
    let k = v.kernels();
    let one = |i: volt_core::vm::KernelInfo| {
        let human = fields(&[
            ("Name", i.name.clone()),
            ("Profile", i.profile.clone().unwrap_or_else(|| "-".into())),
            ("Version", i.version.clone().unwrap_or_else(|| "-".into())),
            ("Source", i.source.clone()),
            ("Size", bytes(i.size)),
            ("Initramfs", if i.initrd { "yes" } else { "no" }.into()),
            ("Cmdline", if i.cmdline.is_empty() { "-".into() } else { i.cmdline.clone() }),
        ]);
        View::new(&i, human).id(i.name.clone())
    };
    match cmd {
        KernelCommand::List => {
            let list = k.list()?;
            let mut rows: Vec<Vec<String>> = list
                .iter()
                .map(|i| {
                    vec![
                        i.name.clone(),
                        i.profile.clone().unwrap_or_else(|| "-".into()),
                        i.version.clone().unwrap_or_else(|| "-".into()),
                        bytes(i.size),
                        i.source.clone(),
                    ]
                })
                .collect();
            for (p, what) in volt_core::vm::PROFILES {
                if !list.iter().any(|i| i.name == p) {
                    rows.push(vec![p.to_string(), p.to_string(), "not installed".into(), "-".into(), what.to_string()]);
                }
            }
            Ok(View::new(&list, table(&["NAME", "PROFILE", "VERSION", "SIZE", "SOURCE"], rows)))
        }
        KernelCommand::Build { profile } => Ok(one(v.kernel_build(&profile)?)),
        KernelCommand::Import { file, name, initrd, cmdline } => {
            Ok(one(v.kernel_import(&file, &name, initrd.as_deref(), cmdline.as_deref().unwrap_or(""))?))
        }
        KernelCommand::Rm { name } => {
            v.kernel_remove(&name)?;
            Ok(View::new(&name, format!("{name}\n")).id(name))
        }
    }
}

/// Run one `volt tune` command.
pub fn tune(volt: &Volt, cmd: TuneCommand) -> Result<View> {
    let v = volt.vms()?;
    match cmd {
        TuneCommand::Cpu(TuneCpuCommand::Pin { vm, cpus }) => {
            let list = if cpus == "all" { Vec::new() } else { parse_cpu_list(&cpus)? };
            let i = v.pin_cpus(&vm, &list)?;
            let human = if list.is_empty() {
                format!("{vm}: vCPUs unpinned\n")
            } else {
                format!("{vm}: vCPUs pinned to CPUs {cpus}\n")
            };
            Ok(View::new(&i, human).id(vm))
        }
    }
}
