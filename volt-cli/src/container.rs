//! `volt container …`, `volt ps`, `volt volume …` and `volt top`: each arm calls the SDK's
//! [`Containers`] API and makes a view. These commands need no async runtime.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use volt_core::container::{
    parse_memory, print_line, ContainerInfo, Containers, CreateOptions, Limits, LogQuery, TopEntry,
};
use volt_core::supervise::parse_signal;
use volt_core::{Error, Result, Volt};

use crate::cli::{ContainerCommand, Format, SpecArgs, VolumeCommand};
use crate::output::{bytes, fields, table, View};

fn options(c: &Containers, s: &SpecArgs) -> Result<CreateOptions> {
    let mut o = CreateOptions::default();
    o.command = s.command.clone();
    o.env = s.env.clone();
    o.workdir = s.workdir.clone();
    o.user = s.user.clone();
    o.hostname = s.hostname.clone();
    o.limits = Limits { memory: s.memory.as_deref().map(parse_memory).transpose()?, cpu: s.cpu, pids: s.pids };
    o.limits.validate()?;
    o.restart = s.restart.parse()?;
    for e in &o.env {
        volt_core::container::check_env(e)?;
    }
    for v in &s.volume {
        o.mounts.push(c.mount_from_arg(v)?);
    }
    o.networks = s.network.clone();
    o.ports = s.publish.iter().map(|p| p.parse()).collect::<Result<_>>()?;
    Ok(o)
}

fn limits_text(l: &Limits) -> String {
    let mut parts = Vec::new();
    if let Some(m) = l.memory {
        parts.push(format!("mem {}", bytes(m)));
    }
    if let Some(c) = l.cpu {
        parts.push(format!("cpu {c}%"));
    }
    if let Some(p) = l.pids {
        parts.push(format!("pids {p}"));
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

fn status_text(i: &ContainerInfo) -> String {
    let s = &i.state;
    match (&s.reason, s.status) {
        (Some(r), volt_core::Status::Running) if s.restarts > 0 => {
            format!("running ({} restarts; last: {r})", s.restarts)
        }
        (_, volt_core::Status::Running) => "running".into(),
        (Some(r), st) if r != st.as_str() => format!("{st} ({r})"),
        (_, st) => st.to_string(),
    }
}

fn list_view(list: &[ContainerInfo]) -> View {
    let rows = list
        .iter()
        .map(|i| {
            vec![
                i.config.name.to_string(),
                status_text(i),
                i.config.image.clone(),
                i.config.command.join(" "),
                limits_text(&i.config.limits),
                i.state.pid.map_or("-".into(), |p| p.to_string()),
            ]
        })
        .collect();
    View::new(&list, table(&["NAME", "STATUS", "IMAGE", "COMMAND", "LIMITS", "PID"], rows))
}

fn info_view(i: &ContainerInfo) -> View {
    let c = &i.config;
    let s = &i.state;
    let mounts: Vec<String> = c
        .mounts
        .iter()
        .map(|m| format!("{}:{}{}", m.source.display(), m.target, if m.read_only { ":ro" } else { "" }))
        .collect();
    let human = fields(&[
        ("Name", c.name.to_string()),
        ("Status", status_text(i)),
        ("Image", c.image.clone()),
        ("Command", c.command.join(" ")),
        ("Env", c.env.join(" ")),
        ("Workdir", c.workdir.clone().unwrap_or_else(|| "/".into())),
        ("User", c.user.clone().unwrap_or_else(|| "root".into())),
        ("Hostname", c.hostname.clone().unwrap_or_else(|| c.name.to_string())),
        ("Mounts", if mounts.is_empty() { "-".into() } else { mounts.join(" ") }),
        ("Limits", limits_text(&c.limits)),
        ("Networks", networks_text(i)),
        (
            "Ports",
            if c.ports.is_empty() {
                "-".into()
            } else {
                c.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(" ")
            },
        ),
        ("Restart", format!("{:?}", c.restart).to_lowercase()),
        ("Supervisor", s.backend.clone().unwrap_or_else(|| "-".into())),
        ("Pid", s.pid.map_or("-".into(), |p| p.to_string())),
        ("Created", s.created.clone()),
        ("Started", s.started.clone().unwrap_or_else(|| "-".into())),
        ("Finished", s.finished.clone().unwrap_or_else(|| "-".into())),
        ("Exit code", s.exit_code.map_or("-".into(), |c| c.to_string())),
        ("Rootfs", format!("{} ({:?})", i.rootfs.path.display(), i.rootfs.mode).to_lowercase()),
    ]);
    View::new(i, human).id(c.name.to_string())
}

fn networks_text(i: &ContainerInfo) -> String {
    if i.endpoints.is_empty() {
        return "host".into();
    }
    i.endpoints
        .iter()
        .map(|e| {
            let a = e.address.map_or("-".into(), |a| a.to_string());
            format!("{} {a} ({})", e.network, e.interface)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

static PROXIED: AtomicI32 = AtomicI32::new(0);

extern "C" fn remember(sig: libc::c_int) {
    PROXIED.store(sig, Ordering::Relaxed);
}

/// Each name in turn; the first error ends the command (names already done stay done).
fn each(names: &[String], mut f: impl FnMut(&str) -> Result<()>) -> Result<View> {
    for n in names {
        f(n)?;
    }
    Ok(View::new(&names, names.join("\n") + "\n"))
}

pub fn run(volt: &Volt, cmd: ContainerCommand, format: Format, quiet: bool) -> Result<View> {
    let c = volt.containers()?;
    match cmd {
        ContainerCommand::Create { name, spec } => {
            let o = options(&c, &spec)?;
            let i = c.create(Some(&name), &spec.image, &o)?;
            Ok(View::new(&i, format!("{}\n", i.config.name)).id(i.config.name.to_string()))
        }
        ContainerCommand::Run { name, rm, detach, spec } => {
            let o = options(&c, &spec)?;
            if detach {
                let i = c.run(name.as_deref(), &spec.image, &o, true, rm, &mut |_| {})?;
                return Ok(View::new(&i, format!("{}\n", i.config.name)).id(i.config.name.to_string()));
            }
            attached_run(&c, name.as_deref(), &spec.image, &o, rm, format, quiet)
        }
        ContainerCommand::Start { names } => each(&names, |n| c.start(n).map(|_| ())),
        ContainerCommand::Stop { names, time } => each(&names, |n| c.stop(n, time).map(|_| ())),
        ContainerCommand::Restart { names, time } => each(&names, |n| c.restart(n, time).map(|_| ())),
        ContainerCommand::Kill { name, signal } => {
            c.kill(&name, parse_signal(&signal)?)?;
            Ok(View::new(&name, format!("{name}\n")))
        }
        ContainerCommand::Delete { names, force } => each(&names, |n| c.delete(n, force)),
        ContainerCommand::List => Ok(list_view(&c.list()?)),
        ContainerCommand::Inspect { name } => Ok(info_view(&c.inspect(&name)?)),
        ContainerCommand::Exec { name, interactive, tty, command } => {
            if tty && !std::io::stdin().is_terminal() {
                return Err(Error::InvalidArgument("exec -t: standard input is not a terminal".into()));
            }
            let code = if interactive || tty {
                c.exec(&name, &command, tty)?
            } else {
                // Not interactive: the command reads nothing.
                let (code, out, err) = c.exec_output(&name, &command)?;
                std::io::stdout().write_all(&out).ok();
                std::io::stderr().write_all(&err).ok();
                code
            };
            Ok(View::empty().exit(code))
        }
        ContainerCommand::Logs { name, follow, tail, since: s, timestamps } => {
            let q = LogQuery::parse(tail, s.as_deref())?;
            let out = std::io::stdout();
            let mut out = out.lock();
            if !follow {
                let lines = c.logs(&name, &q)?;
                if format != Format::Table {
                    return Ok(View::new(&lines, String::new()));
                }
                for l in &lines {
                    if print_line(&mut out, l, timestamps).is_err() {
                        break;
                    }
                }
                return Ok(View::empty());
            }
            let mut f = c.follow(&name, &q)?;
            while let Some(batch) = f.next_batch(Duration::from_millis(500))? {
                for l in &batch {
                    if print_line(&mut out, l, timestamps).is_err() {
                        return Ok(View::empty());
                    }
                }
                let _ = out.flush();
            }
            Ok(View::empty())
        }
        ContainerCommand::Update { name, memory, cpu, pids } => {
            let memory = memory.as_deref().map(parse_memory).transpose()?;
            if memory.is_none() && cpu.is_none() && pids.is_none() {
                return Err(Error::InvalidArgument("update: give --memory, --cpu or --pids".into()));
            }
            Ok(info_view(&c.update(&name, memory, cpu, pids)?))
        }
    }
}

fn attached_run(
    c: &Containers,
    name: Option<&str>,
    image: &str,
    o: &CreateOptions,
    rm: bool,
    format: Format,
    quiet: bool,
) -> Result<View> {
    let mut o = o.clone();
    o.ephemeral |= rm;
    let info = c.create(name, image, &o)?;
    let n = info.config.name.to_string();
    if name.is_none() && !quiet && format == Format::Table {
        eprintln!("volt: running container {n}");
    }
    // SIGINT/SIGTERM go to the workload (as podman's --sig-proxy); we follow until it ends.
    for s in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler stores into an atomic, which is async-signal-safe.
        unsafe { libc::signal(s, remember as *const () as libc::sighandler_t) };
    }
    if let Err(e) = c.start(&n) {
        if rm {
            let _ = c.delete(&n, true);
        }
        return Err(e);
    }
    let mut f = c.follow(&n, &LogQuery::default())?;
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    while let Some(batch) = f.next_batch(Duration::from_millis(200))? {
        for l in &batch {
            let w: &mut dyn Write = if l.stream == "stderr" { &mut err } else { &mut out };
            let _ = print_line(w, l, false);
        }
        let _ = out.flush();
        let sig = PROXIED.swap(0, Ordering::Relaxed);
        if sig != 0 {
            let _ = c.kill(&n, sig);
        }
    }
    drop(f);
    let info = c.wait(&n, None)?;
    if rm {
        c.delete(&n, true)?;
    }
    let code = info.state.exit_code.unwrap_or(0);
    if format == Format::Table {
        Ok(View::empty().exit(code))
    } else {
        Ok(View::new(&info, String::new()).exit(code))
    }
}

pub fn volume(volt: &Volt, cmd: VolumeCommand) -> Result<View> {
    let c = volt.containers()?;
    let v = c.volumes();
    let one = |x: volt_core::container::Volume| {
        let human = fields(&[
            ("Name", x.name.clone()),
            ("Path", x.path.display().to_string()),
            ("Created", x.created.clone()),
            ("Used by", if x.used_by.is_empty() { "-".into() } else { x.used_by.join(", ") }),
        ]);
        View::new(&x, human).id(x.name.clone())
    };
    match cmd {
        VolumeCommand::Create { name } => Ok(one(v.create(&name)?)),
        VolumeCommand::Inspect { name } => Ok(one(v.inspect(&name)?)),
        VolumeCommand::List => {
            let list = v.list()?;
            let rows = list
                .iter()
                .map(|x| {
                    vec![
                        x.name.clone(),
                        x.created.clone(),
                        if x.used_by.is_empty() { "-".into() } else { x.used_by.join(", ") },
                    ]
                })
                .collect();
            Ok(View::new(&list, table(&["NAME", "CREATED", "USED BY"], rows)))
        }
        VolumeCommand::Remove { names } => each(&names, |n| v.remove(n)),
    }
}

fn top_table(rows: &[TopEntry]) -> String {
    let rows = rows
        .iter()
        .map(|t| {
            let s = &t.stats;
            vec![
                t.name.clone(),
                format!("{:.1}%", t.cpu_percent),
                match s.memory_limit {
                    Some(l) => format!("{} / {}", bytes(s.memory), bytes(l)),
                    None => bytes(s.memory),
                },
                format!("{} / {}", bytes(s.io_read), bytes(s.io_write)),
                s.pids.to_string(),
            ]
        })
        .collect();
    table(&["NAME", "CPU", "MEMORY", "IO READ / WRITE", "PIDS"], rows)
}

pub fn top(volt: &Volt, interval: f64, iterations: Option<u64>, format: Format) -> Result<View> {
    if !(interval > 0.0 && interval <= 3600.0) {
        return Err(Error::InvalidArgument("--interval: between 0 and 3600 seconds".into()));
    }
    let c = volt.containers()?;
    let d = Duration::from_secs_f64(interval);
    if format != Format::Table {
        let rows = c.top(d)?;
        return Ok(View::new(&rows, top_table(&rows)));
    }
    let tty = std::io::stdout().is_terminal();
    let mut n = 0;
    loop {
        let rows = c.top(d)?;
        let mut out = std::io::stdout().lock();
        if tty {
            // Clear the screen and home the cursor.
            let _ = write!(out, "\x1b[2J\x1b[H");
        }
        let text = if rows.is_empty() { "no running containers\n".to_string() } else { top_table(&rows) };
        if write!(out, "{text}").and_then(|_| out.flush()).is_err() {
            return Ok(View::empty());
        }
        n += 1;
        if iterations.is_some_and(|max| n >= max) {
            return Ok(View::empty());
        }
        if !tty {
            let _ = writeln!(out);
        }
    }
}
