//! The cgroup of a workload supervised by Volt itself: created, limited, joined, measured,
//! emptied and removed through one API on both cgroup v2 and hybrid hosts (v1 controllers).
//!
//! | limit   | v2                          | v1                                             |
//! |---------|-----------------------------|------------------------------------------------|
//! | memory  | `memory.max`, `memory.swap.max = 0` | `memory.limit_in_bytes`, `memory.memsw.limit_in_bytes` |
//! | cpu     | `cpu.max` (`quota period`)  | `cpu.cfs_quota_us`, `cpu.cfs_period_us`        |
//! | pids    | `pids.max`                  | `pids.max`                                     |

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Limits;
use crate::error::{Error, Result};

/// The CFS period Volt uses (100 ms); `--cpu 50` is a quota of 50 ms per period.
pub const CPU_PERIOD_US: u64 = 100_000;

/// v1 controllers a container's cgroup lives in (each a hierarchy of its own, or shared).
const V1_CONTROLLERS: [&str; 5] = ["memory", "cpu", "cpuacct", "pids", "blkio"];

/// One container's cgroup: a directory in the unified hierarchy (v2) or one per v1 controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cgroup {
    /// cgroup v2 (unified) or v1.
    pub v2: bool,
    /// `(controller, directory)`; v2 has a single entry with an empty controller name.
    pub dirs: Vec<(String, PathBuf)>,
    /// v1 controllers mounted together with an earlier one (`cpuacct` in `cpu,cpuacct`):
    /// `(controller, the controller in dirs that holds it)`.
    #[serde(default)]
    pub shared: Vec<(String, String)>,
}

/// Usage figures read from a cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupStats {
    /// CPU time used, nanoseconds.
    pub cpu_ns: u64,
    /// Memory in use, bytes.
    pub memory: u64,
    /// Memory limit, bytes (None: unlimited).
    pub memory_limit: Option<u64>,
    /// Bytes read from block devices.
    pub io_read: u64,
    /// Bytes written to block devices.
    pub io_write: u64,
    /// Tasks in the cgroup.
    pub pids: u64,
    /// Periods in which the CPU quota throttled the group.
    pub throttled_periods: u64,
    /// OOM kills inside the group.
    pub oom_kills: u64,
}

fn io_err<'a>(op: &'static str, p: &'a Path) -> impl FnOnce(io::Error) -> Error + 'a {
    move |e| Error::io(op, p, e)
}

fn read_trim(p: &Path) -> Option<String> {
    fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

/// `key value` lines (`memory.events`, `cpu.stat`, `memory.oom_control`).
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some(key)).then(|| it.next().and_then(|v| v.parse().ok())).flatten()
    })
}

impl Cgroup {
    /// The cgroup `PARENT/NAME` under the cgroup filesystem at `root` (normally
    /// `/sys/fs/cgroup`): unified if `root/cgroup.controllers` exists, v1 controllers otherwise.
    /// Nothing is created.
    ///
    /// # Errors
    /// [`Error::Dependency`]-kind error when no usable cgroup hierarchy is mounted.
    pub fn at(root: &Path, parent: &str, name: &str) -> Result<Cgroup> {
        if root.join("cgroup.controllers").exists() {
            return Ok(Cgroup {
                v2: true,
                dirs: vec![(String::new(), root.join(parent).join(name))],
                shared: Vec::new(),
            });
        }
        let mut dirs: Vec<(String, PathBuf)> = Vec::new();
        let mut shared = Vec::new();
        let mut seen: Vec<(PathBuf, &str)> = Vec::new();
        for c in V1_CONTROLLERS {
            let base = root.join(c);
            let Ok(real) = fs::canonicalize(&base) else { continue };
            if !real.join("cgroup.procs").exists() {
                continue;
            }
            if let Some((_, first)) = seen.iter().find(|(r, _)| *r == real) {
                shared.push((c.to_string(), first.to_string()));
                continue;
            }
            seen.push((real, c));
            dirs.push((c.to_string(), base.join(parent).join(name)));
        }
        if !dirs.iter().any(|(c, _)| c == "memory") {
            return Err(Error::Unsupported(format!(
                "no cgroup hierarchy with the memory controller under {} (neither v2 nor v1)",
                root.display()
            )));
        }
        Ok(Cgroup { v2: false, dirs, shared })
    }

    /// An existing cgroup made by someone else (a systemd unit's `ControlGroup`): every
    /// hierarchy under `root` that has `path`, the named `systemd` and `unified` ones included
    /// (a system in a container may have only those).
    ///
    /// # Errors
    /// [`Error::NotFound`] when no hierarchy has it.
    pub fn existing(root: &Path, path: &str) -> Result<Cgroup> {
        if root.join("cgroup.controllers").exists() {
            return Ok(Cgroup { v2: true, dirs: vec![(String::new(), root.join(path))], shared: Vec::new() });
        }
        let mut dirs: Vec<(String, PathBuf)> = Vec::new();
        for c in V1_CONTROLLERS.iter().chain(["unified", "systemd"].iter()) {
            let d = root.join(c).join(path);
            if d.join("cgroup.procs").exists() {
                dirs.push((c.to_string(), d));
            }
        }
        if dirs.is_empty() {
            return Err(Error::NotFound { what: "cgroup", name: root.join(path).display().to_string() });
        }
        Ok(Cgroup { v2: false, dirs, shared: Vec::new() })
    }

    fn dir(&self, controller: &str) -> Option<&Path> {
        if self.v2 {
            return self.dirs.first().map(|(_, d)| d.as_path());
        }
        let holder = self.shared.iter().find(|(c, _)| c == controller).map_or(controller, |(_, h)| h.as_str());
        self.dirs.iter().find(|(c, _)| c == holder).map(|(_, d)| d.as_path())
    }

    /// Does the cgroup exist?
    pub fn exists(&self) -> bool {
        self.dirs.iter().any(|(_, d)| d.is_dir())
    }

    /// Create the directories (and, on v2, delegate the controllers down to them).
    ///
    /// # Errors
    /// I/O errors.
    pub fn create(&self) -> Result<()> {
        for (_, d) in &self.dirs {
            fs::create_dir_all(d).map_err(io_err("create cgroup", d))?;
        }
        if self.v2 {
            let d = &self.dirs[0].1;
            // Enable the controllers on every ancestor below the root, top down.
            let mut chain: Vec<&Path> = d.ancestors().skip(1).take_while(|p| p.join("cgroup.procs").exists()).collect();
            chain.reverse();
            for p in chain {
                let avail = read_trim(&p.join("cgroup.controllers")).unwrap_or_default();
                for c in ["memory", "cpu", "pids", "io"] {
                    if avail.split_whitespace().any(|a| a == c) {
                        let _ = fs::write(p.join("cgroup.subtree_control"), format!("+{c}"));
                    }
                }
            }
        }
        Ok(())
    }

    fn write(&self, controller: &str, file: &str, value: &str) -> Result<()> {
        let Some(d) = self.dir(controller) else { return Ok(()) };
        let p = d.join(file);
        fs::write(&p, value).map_err(|e| Error::io("write cgroup limit", p, e))
    }

    /// Write the limits (an unset limit is written as unlimited, so `update` can lift one).
    ///
    /// # Errors
    /// I/O errors (a memory limit below current usage the kernel cannot reclaim among them).
    pub fn apply(&self, limits: &Limits) -> Result<()> {
        if self.v2 {
            let mem = limits.memory.map_or("max".to_string(), |m| m.to_string());
            self.write("memory", "memory.max", &mem)?;
            if self.dirs[0].1.join("memory.swap.max").exists() {
                self.write("memory", "memory.swap.max", if limits.memory.is_some() { "0" } else { "max" })?;
            }
            let cpu = limits.cpu.map_or("max".to_string(), |c| (u64::from(c) * CPU_PERIOD_US / 100).to_string());
            self.write("cpu", "cpu.max", &format!("{cpu} {CPU_PERIOD_US}"))?;
            self.write("pids", "pids.max", &limits.pids.map_or("max".to_string(), |p| p.to_string()))?;
            return Ok(());
        }
        // v1: the memory+swap limit must stay >= the memory limit, so order the two writes by
        // direction.
        let mem = limits.memory.map_or("-1".to_string(), |m| m.to_string());
        let memsw = self.dir("memory").map(|d| d.join("memory.memsw.limit_in_bytes")).filter(|p| p.exists());
        match &memsw {
            Some(_) if self.write("memory", "memory.limit_in_bytes", &mem).is_err() => {
                self.write("memory", "memory.memsw.limit_in_bytes", &mem)?;
                self.write("memory", "memory.limit_in_bytes", &mem)?;
            }
            Some(_) => self.write("memory", "memory.memsw.limit_in_bytes", &mem)?,
            None => self.write("memory", "memory.limit_in_bytes", &mem)?,
        }
        self.write("cpu", "cpu.cfs_period_us", &CPU_PERIOD_US.to_string())?;
        let quota = limits.cpu.map_or("-1".to_string(), |c| (u64::from(c) * CPU_PERIOD_US / 100).to_string());
        self.write("cpu", "cpu.cfs_quota_us", &quota)?;
        self.write("pids", "pids.max", &limits.pids.map_or("max".to_string(), |p| p.to_string()))
    }

    /// Open every `cgroup.procs` for writing, so a child can join with `write("0")` between fork
    /// and exec without allocating.
    ///
    /// # Errors
    /// I/O errors.
    pub fn open_procs(&self) -> Result<Vec<File>> {
        self.dirs
            .iter()
            .map(|(_, d)| {
                let p = d.join("cgroup.procs");
                OpenOptions::new().write(true).open(&p).map_err(|e| Error::io("open", p, e))
            })
            .collect()
    }

    /// Process ids in the cgroup (all hierarchies).
    pub fn procs(&self) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        for (_, d) in &self.dirs {
            for l in fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default().lines() {
                if let Ok(p) = l.trim().parse() {
                    if !out.contains(&p) {
                        out.push(p);
                    }
                }
            }
        }
        out
    }

    /// Send `signal` to every process in the cgroup.
    pub fn signal_all(&self, signal: i32) {
        for p in self.procs() {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(p as libc::pid_t, signal) };
        }
    }

    /// Kill everything in the cgroup and wait (up to 5 s) until it is empty.
    pub fn kill_all(&self) {
        if self.v2 {
            let _ = fs::write(self.dirs[0].1.join("cgroup.kill"), "1");
        }
        for _ in 0..500 {
            if self.procs().is_empty() {
                return;
            }
            self.signal_all(libc::SIGKILL);
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Remove the (empty) cgroup; processes still inside are killed first. Idempotent.
    ///
    /// # Errors
    /// I/O errors other than the cgroup being gone already.
    pub fn remove(&self) -> Result<()> {
        if !self.exists() {
            return Ok(());
        }
        self.kill_all();
        for (_, d) in &self.dirs {
            let mut tries = 0;
            loop {
                match fs::remove_dir(d) {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    // A just-killed task can keep the group busy for a moment.
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 200 => {
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => return Err(Error::io("remove cgroup", d, e)),
                }
            }
            // The parent goes with its last child (fails harmlessly while others remain).
            if let Some(parent) = d.parent() {
                let _ = fs::remove_dir(parent);
            }
        }
        Ok(())
    }

    /// OOM kills inside the cgroup so far.
    pub fn oom_kills(&self) -> u64 {
        let Some(d) = self.dir("memory") else { return 0 };
        let f = if self.v2 { "memory.events" } else { "memory.oom_control" };
        read_trim(&d.join(f)).and_then(|t| keyed(&t, "oom_kill")).unwrap_or(0)
    }

    /// Current usage.
    pub fn stats(&self) -> CgroupStats {
        let mut s = CgroupStats { oom_kills: self.oom_kills(), ..Default::default() };
        let num =
            |c: &str, f: &str| self.dir(c).and_then(|d| read_trim(&d.join(f))).and_then(|v| v.parse::<u64>().ok());
        if self.v2 {
            let d = &self.dirs[0].1;
            let cpu = read_trim(&d.join("cpu.stat")).unwrap_or_default();
            s.cpu_ns = keyed(&cpu, "usage_usec").unwrap_or(0) * 1000;
            s.throttled_periods = keyed(&cpu, "nr_throttled").unwrap_or(0);
            s.memory = num("memory", "memory.current").unwrap_or(0);
            s.memory_limit = num("memory", "memory.max");
            for l in read_trim(&d.join("io.stat")).unwrap_or_default().lines() {
                for kv in l.split_whitespace().skip(1) {
                    match kv.split_once('=') {
                        Some(("rbytes", v)) => s.io_read += v.parse().unwrap_or(0),
                        Some(("wbytes", v)) => s.io_write += v.parse().unwrap_or(0),
                        _ => {}
                    }
                }
            }
            s.pids = num("pids", "pids.current").unwrap_or(0);
        } else {
            s.cpu_ns = num("cpuacct", "cpuacct.usage").unwrap_or(0);
            let cpu = self.dir("cpu").and_then(|d| read_trim(&d.join("cpu.stat"))).unwrap_or_default();
            s.throttled_periods = keyed(&cpu, "nr_throttled").unwrap_or(0);
            s.memory = num("memory", "memory.usage_in_bytes").unwrap_or(0);
            // v1 reports "no limit" as a huge page-rounded number.
            s.memory_limit = num("memory", "memory.limit_in_bytes").filter(|&l| l < (1 << 62));
            let io = self.dir("blkio").and_then(|d| read_trim(&d.join("blkio.throttle.io_service_bytes")));
            for l in io.unwrap_or_default().lines() {
                let f: Vec<&str> = l.split_whitespace().collect();
                if let [_, op, v] = f.as_slice() {
                    match *op {
                        "Read" => s.io_read += v.parse().unwrap_or(0),
                        "Write" => s.io_write += v.parse().unwrap_or(0),
                        _ => {}
                    }
                }
            }
            s.pids = num("pids", "pids.current").unwrap_or(0);
            // Without v1 accounting for this group (a unit of a system whose controllers are
            // not delegated), the unified hierarchy still counts CPU time, and tasks can be
            // counted.
            if let Some(u) = self.dirs.iter().find(|(c, _)| c == "unified").map(|(_, d)| d) {
                if s.cpu_ns == 0 {
                    let cpu = read_trim(&u.join("cpu.stat")).unwrap_or_default();
                    s.cpu_ns = keyed(&cpu, "usage_usec").unwrap_or(0) * 1000;
                }
            }
            if s.pids == 0 {
                s.pids = self.procs().len() as u64;
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_detected_from_the_filesystem() {
        let t = tempfile::tempdir().unwrap();
        // v1 with a shared cpu,cpuacct hierarchy reached through two symlinks.
        for c in ["memory", "pids", "cpu,cpuacct"] {
            fs::create_dir_all(t.path().join(c)).unwrap();
            fs::write(t.path().join(c).join("cgroup.procs"), "").unwrap();
        }
        std::os::unix::fs::symlink("cpu,cpuacct", t.path().join("cpu")).unwrap();
        std::os::unix::fs::symlink("cpu,cpuacct", t.path().join("cpuacct")).unwrap();
        let g = Cgroup::at(t.path(), "volt", "web").unwrap();
        assert!(!g.v2);
        let ctls: Vec<&str> = g.dirs.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(ctls, ["memory", "cpu", "pids"]);
        // cpuacct's files are found in the shared hierarchy.
        assert_eq!(g.dir("cpuacct"), g.dir("cpu"));
        assert_eq!(g.dirs[0].1, t.path().join("memory/volt/web"));

        // Apply writes v1 files; an unset limit is written as unlimited.
        g.create().unwrap();
        fs::write(g.dirs[0].1.join("memory.memsw.limit_in_bytes"), "").unwrap();
        g.apply(&Limits { memory: Some(32 << 20), cpu: Some(50), pids: Some(5) }).unwrap();
        let rd = |c: &str, f: &str| fs::read_to_string(g.dir(c).unwrap().join(f)).unwrap();
        assert_eq!(rd("memory", "memory.limit_in_bytes"), "33554432");
        assert_eq!(rd("memory", "memory.memsw.limit_in_bytes"), "33554432");
        assert_eq!(rd("cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(rd("cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(rd("pids", "pids.max"), "5");
        g.apply(&Limits::default()).unwrap();
        assert_eq!(rd("memory", "memory.limit_in_bytes"), "-1");
        assert_eq!(rd("cpu", "cpu.cfs_quota_us"), "-1");
        assert_eq!(rd("pids", "pids.max"), "max");

        // v2.
        let u = tempfile::tempdir().unwrap();
        fs::write(u.path().join("cgroup.controllers"), "cpu memory pids").unwrap();
        let g = Cgroup::at(u.path(), "volt", "web").unwrap();
        assert!(g.v2);
        g.create().unwrap();
        g.apply(&Limits { memory: Some(1 << 30), cpu: Some(200), pids: None }).unwrap();
        let rd = |f: &str| fs::read_to_string(g.dirs[0].1.join(f)).unwrap();
        assert_eq!(rd("memory.max"), "1073741824");
        assert_eq!(rd("cpu.max"), "200000 100000");
        assert_eq!(rd("pids.max"), "max");

        // Nothing mounted at all.
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(Cgroup::at(empty.path(), "volt", "x").unwrap_err().kind(), crate::ErrorKind::Dependency);
    }

    #[test]
    fn stats_parse_both_formats() {
        assert_eq!(keyed("oom 1\noom_kill 3\n", "oom_kill"), Some(3));
        assert_eq!(keyed("under_oom 0\n", "oom_kill"), None);
        let u = tempfile::tempdir().unwrap();
        fs::write(u.path().join("cgroup.controllers"), "").unwrap();
        let g = Cgroup::at(u.path(), "p", "c").unwrap();
        g.create().unwrap();
        let d = &g.dirs[0].1;
        fs::write(d.join("cpu.stat"), "usage_usec 1500\nnr_throttled 7\n").unwrap();
        fs::write(d.join("memory.current"), "4096\n").unwrap();
        fs::write(d.join("memory.max"), "max\n").unwrap();
        fs::write(d.join("memory.events"), "oom 2\noom_kill 1\n").unwrap();
        fs::write(d.join("io.stat"), "8:0 rbytes=10 wbytes=20 rios=1\n8:16 rbytes=5 wbytes=0\n").unwrap();
        fs::write(d.join("pids.current"), "3\n").unwrap();
        let s = g.stats();
        assert_eq!(
            s,
            CgroupStats {
                cpu_ns: 1_500_000,
                memory: 4096,
                memory_limit: None,
                io_read: 15,
                io_write: 20,
                pids: 3,
                throttled_periods: 7,
                oom_kills: 1
            }
        );
    }
}
