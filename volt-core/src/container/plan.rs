//! The `systemd-nspawn` command line and the `volt-container@NAME.service` unit of a container.

use std::path::Path;

use super::{ContainerConfig, RestartPolicy};

/// Unit name pattern; `%s` is the container name.
pub const UNIT_TEMPLATE: &str = "volt-container@%s.service";

/// How nspawn is asked to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NspawnOptions {
    /// Register with systemd-machined (`--register`); off where systemd is not PID 1.
    pub register: bool,
    /// Stay in the caller's unit/scope (`--keep-unit`) instead of creating one.
    pub keep_unit: bool,
    /// Attach a terminal (`--console=interactive`); otherwise output goes through pipes.
    pub tty: bool,
    /// Run the command as PID 2 under a minimal stub init (`--as-pid2`): plain commands then get
    /// signals and zombie reaping as they expect.
    pub as_pid2: bool,
    /// Join this network namespace (`--network-namespace-path`); otherwise the host's network.
    pub netns: Option<std::path::PathBuf>,
    /// Bind this file read-only at `/etc/resolv.conf`.
    pub resolv_conf: Option<std::path::PathBuf>,
}

impl NspawnOptions {
    /// The options for `config` stored in container directory `dir`: on its networks (if any),
    /// the namespace `dir/netns` and `dir/resolv.conf`.
    pub fn for_container(config: &ContainerConfig, dir: &Path) -> Self {
        let on_net = !config.networks.is_empty();
        NspawnOptions {
            netns: on_net.then(|| dir.join("netns")),
            resolv_conf: on_net.then(|| dir.join("resolv.conf")),
            ..Default::default()
        }
    }
}

impl Default for NspawnOptions {
    fn default() -> Self {
        NspawnOptions { register: false, keep_unit: true, tty: false, as_pid2: true, netns: None, resolv_conf: None }
    }
}

/// nspawn takes `SRC:DST` for binds, so a ':' or '\' in a path is escaped with '\'.
fn bind_escape(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for c in p.chars() {
        if c == ':' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The full argv (program first) that starts `config` from the root filesystem at `rootfs`.
pub fn nspawn_argv(config: &ContainerConfig, rootfs: &Path, opts: &NspawnOptions) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "systemd-nspawn".into(),
        "--quiet".into(),
        format!("--register={}", if opts.register { "yes" } else { "no" }),
    ];
    if opts.keep_unit {
        a.push("--keep-unit".into());
    }
    a.push(format!("--directory={}", rootfs.display()));
    // Machine names and hostnames follow hostname rules, which have no '_'.
    let host = config.name.as_str().replace('_', "-");
    a.push(format!("--machine={host}"));
    a.push(format!("--hostname={}", config.hostname.as_deref().unwrap_or(&host)));
    a.push("--link-journal=no".into());
    a.push("--resolv-conf=off".into());
    a.push("--timezone=off".into());
    a.push(format!("--console={}", if opts.tty { "interactive" } else { "pipe" }));
    if opts.as_pid2 {
        a.push("--as-pid2".into());
    }
    if let Some(ns) = &opts.netns {
        a.push(format!("--network-namespace-path={}", ns.display()));
    }
    if let Some(r) = &opts.resolv_conf {
        a.push(format!("--bind-ro={}:/etc/resolv.conf", bind_escape(&r.to_string_lossy())));
    }
    for e in &config.env {
        a.push(format!("--setenv={e}"));
    }
    if let Some(w) = &config.workdir {
        a.push(format!("--chdir={w}"));
    }
    if let Some(u) = &config.user {
        a.push(format!("--user={u}"));
    }
    for m in &config.mounts {
        let flag = if m.read_only { "--bind-ro" } else { "--bind" };
        a.push(format!("{flag}={}:{}", bind_escape(&m.source.to_string_lossy()), bind_escape(&m.target)));
    }
    a.push("--".into());
    a.extend(config.command.iter().cloned());
    a
}

fn config_stop_timeout(_c: &ContainerConfig) -> u64 {
    STOP_TIMEOUT_DEFAULT
}

/// systemd's stop timeout for container units (a `volt container stop --time` beyond it is cut
/// short by systemd; a shorter one is enforced by Volt).
pub const STOP_TIMEOUT_DEFAULT: u64 = 30;

/// Quote one word for a unit file's `ExecStart=`: always in double quotes, with `\` and `"`
/// escaped, `%` doubled (specifiers) and `$` doubled (variable expansion).
fn unit_quote(w: &str) -> String {
    let mut out = String::from("\"");
    for c in w.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The systemd unit that runs `config` (for the systemd supervisor): nspawn as the main process,
/// limits as unit properties, the restart policy as `Restart=`.
pub fn unit_file(config: &ContainerConfig, argv: &[String]) -> String {
    let mut u = String::new();
    u.push_str("# Generated by Volt; changes are overwritten.\n[Unit]\n");
    u.push_str(&format!("Description=Volt container {}\n", config.name));
    u.push_str("After=network.target\n\n[Service]\nType=exec\n");
    let exec: Vec<String> = argv.iter().map(|w| unit_quote(w)).collect();
    u.push_str(&format!("ExecStart={}\n", exec.join(" ")));
    let stop: Vec<String> = exec_stop_argv().iter().map(|w| unit_quote(w)).collect();
    u.push_str(&format!("ExecStop={}\n", stop.join(" ")));
    u.push_str(&format!("TimeoutStopSec={}\n", config_stop_timeout(config)));
    u.push_str("KillMode=mixed\nKillSignal=SIGTERM\nDelegate=yes\n");
    if let Some(m) = config.limits.memory {
        u.push_str(&format!("MemoryMax={m}\n"));
    }
    if let Some(c) = config.limits.cpu {
        u.push_str(&format!("CPUQuota={c}%\n"));
    }
    if let Some(p) = config.limits.pids {
        u.push_str(&format!("TasksMax={p}\n"));
    }
    let restart = match config.restart {
        RestartPolicy::No => "no",
        RestartPolicy::OnFailure => "on-failure",
        RestartPolicy::Always => "always",
    };
    u.push_str(&format!("Restart={restart}\nRestartSec=1\n"));
    u.push_str(&format!("SyslogIdentifier=volt-container-{}\n", config.name));
    u
}

/// The `ExecStop=` of a container unit: SIGTERM to the workload (the child of nspawn's stub
/// init, itself the child of nspawn, `$MAINPID`), then wait for nspawn to end. systemd's own
/// SIGTERM to nspawn would end the container at once, so this is what makes a stop graceful.
pub fn exec_stop_argv() -> Vec<String> {
    // /proc/PID/task/PID/children has no newline: read's status is not the test.
    let script = "c() { read -r a _ < /proc/$1/task/$1/children; echo \"$a\"; }; \
                  i=$(c \"$MAINPID\"); w=$(c \"${i:-0}\"); \
                  if [ -n \"$w\" ]; then echo \"volt: SIGTERM to the workload ($w)\" >&2; kill -TERM \"$w\"; fi; \
                  while kill -0 \"$MAINPID\" 2>/dev/null; do sleep 0.1; done";
    vec!["/bin/sh".into(), "-c".into(), script.into()]
}

/// Add an `ExecStartPre=` line (after `Type=`) running `argv`.
pub fn with_exec_start_pre(unit: &str, argv: &[String]) -> String {
    let line = format!("ExecStartPre={}\n", argv.iter().map(|w| unit_quote(w)).collect::<Vec<_>>().join(" "));
    match unit.find("ExecStart=") {
        Some(i) => format!("{}{line}{}", &unit[..i], &unit[i..]),
        None => format!("{unit}{line}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ContainerConfig, Limits, Mount, RestartPolicy};
    use super::*;

    fn config() -> ContainerConfig {
        ContainerConfig {
            name: "web".parse().unwrap(),
            image: "busybox:1".into(),
            command: vec!["/bin/sh".into(), "-c".into(), "echo \"$HOME\" 100%".into()],
            env: vec!["PATH=/bin".into(), "A=b c".into()],
            workdir: Some("/srv".into()),
            user: Some("1000:1000".into()),
            hostname: None,
            mounts: vec![
                Mount { source: "/var/lib/volt/volumes/data".into(), target: "/data".into(), read_only: false },
                Mount { source: "/etc/a:b".into(), target: "/cfg".into(), read_only: true },
            ],
            limits: Limits { memory: Some(32 << 20), cpu: Some(50), pids: Some(5) },
            restart: RestartPolicy::OnFailure,
            labels: Default::default(),
            ephemeral: false,
            networks: Vec::new(),
            ports: Vec::new(),
        }
    }

    #[test]
    fn a_container_on_networks_joins_its_namespace_and_gets_its_resolv_conf() {
        let mut c = config();
        let dir = Path::new("/var/lib/volt/containers/web");
        let host = nspawn_argv(&c, &dir.join("rootfs"), &NspawnOptions::for_container(&c, dir));
        assert!(!host.iter().any(|a| a.starts_with("--network") || a.contains("resolv.conf:")), "{host:?}");
        c.networks = vec!["front".into(), "back".into()];
        let a = nspawn_argv(&c, &dir.join("rootfs"), &NspawnOptions::for_container(&c, dir));
        let sep = a.iter().position(|x| x == "--").unwrap();
        let opts = &a[..sep];
        assert!(opts.contains(&"--network-namespace-path=/var/lib/volt/containers/web/netns".to_string()), "{a:?}");
        assert!(
            opts.contains(&"--bind-ro=/var/lib/volt/containers/web/resolv.conf:/etc/resolv.conf".to_string()),
            "{a:?}"
        );
        assert!(opts.contains(&"--resolv-conf=off".to_string()), "nspawn must not write its own");
        // And the unit file carries the same command line.
        let unit = unit_file(&c, &a);
        assert!(unit.contains("\"--network-namespace-path=/var/lib/volt/containers/web/netns\""), "{unit}");
    }

    #[test]
    fn nspawn_argv_is_exact() {
        let a = nspawn_argv(&config(), Path::new("/var/lib/volt/containers/web/rootfs"), &NspawnOptions::default());
        assert_eq!(
            a,
            [
                "systemd-nspawn",
                "--quiet",
                "--register=no",
                "--keep-unit",
                "--directory=/var/lib/volt/containers/web/rootfs",
                "--machine=web",
                "--hostname=web",
                "--link-journal=no",
                "--resolv-conf=off",
                "--timezone=off",
                "--console=pipe",
                "--as-pid2",
                "--setenv=PATH=/bin",
                "--setenv=A=b c",
                "--chdir=/srv",
                "--user=1000:1000",
                "--bind=/var/lib/volt/volumes/data:/data",
                "--bind-ro=/etc/a\\:b:/cfg",
                "--",
                "/bin/sh",
                "-c",
                "echo \"$HOME\" 100%",
            ]
        );
        let tty = nspawn_argv(
            &config(),
            Path::new("/r"),
            &NspawnOptions { tty: true, register: true, keep_unit: false, as_pid2: false, ..Default::default() },
        );
        assert!(tty.contains(&"--console=interactive".to_string()) && tty.contains(&"--register=yes".to_string()));
        assert!(!tty.contains(&"--keep-unit".to_string()) && !tty.contains(&"--as-pid2".to_string()));
    }

    #[test]
    fn unit_file_carries_limits_restart_and_quoting() {
        let c = config();
        let argv = nspawn_argv(&c, Path::new("/r"), &NspawnOptions::default());
        let u = unit_file(&c, &argv);
        assert!(u.contains("Description=Volt container web\n"));
        assert!(u.contains("MemoryMax=33554432\n") && u.contains("CPUQuota=50%\n") && u.contains("TasksMax=5\n"));
        assert!(u.contains("Restart=on-failure\n") && u.contains("Delegate=yes\n"));
        let exec = u.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
        assert!(exec.starts_with("ExecStart=\"systemd-nspawn\" \"--quiet\""), "{exec}");
        assert!(exec.ends_with(r#""echo \"$$HOME\" 100%%""#), "{exec}");
        assert!(exec.contains(r#""--bind-ro=/etc/a\\:b:/cfg""#), "{exec}");
        let bare = ContainerConfig { limits: Limits::default(), restart: RestartPolicy::No, ..config() };
        let u = unit_file(&bare, &argv);
        assert!(!u.contains("MemoryMax") && !u.contains("CPUQuota") && !u.contains("TasksMax"));
        assert!(u.contains("Restart=no\n"));
        let pre = with_exec_start_pre(&u, &["/bin/sh".into(), "-c".into(), "mountpoint -q \"$0\"".into()]);
        let i = pre.find("ExecStartPre=\"/bin/sh\" \"-c\" \"mountpoint -q \\\"$$0\\\"\"\n").unwrap();
        assert!(i < pre.find("ExecStart=\"systemd-nspawn").unwrap());
    }
}
