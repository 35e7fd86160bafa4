//! Workload lifecycle shared by every runtime: one [`Status`] enum and one transition check.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where a workload is in its life. Shown to users in these words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created, not running.
    Stopped,
    /// Running.
    Running,
    /// Running, but its CPUs are stopped (VMs: `pause`).
    Paused,
    /// Exited unexpectedly or failed to start.
    Failed,
    /// Removed.
    Deleted,
}

impl Status {
    /// Natural-language name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Stopped => "stopped",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Failed => "failed",
            Status::Deleted => "deleted",
        }
    }

    /// Is the workload alive (its main process exists)?
    pub fn is_live(self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }

    /// The one lifecycle check: may `op` begin on a workload in this state? Every operation of
    /// every runtime calls it first, so the same request gets the same answer for every kind.
    ///
    /// # Errors
    /// [`Error::AlreadyRunning`], [`Error::NotRunning`] or [`Error::InvalidState`] (all exit 9),
    /// naming the workload and its state.
    pub fn check(self, op: Op, name: &str) -> Result<()> {
        if op.allowed_from(self) {
            return Ok(());
        }
        let name = name.to_string();
        Err(match op {
            Op::Start if self.is_live() => Error::AlreadyRunning { name, status: self },
            Op::Stop | Op::Kill | Op::Pause | Op::Attach if !self.is_live() => Error::NotRunning { name, status: self },
            _ => Error::InvalidState { name, status: self, op },
        })
    }
}

/// What a caller asks of a workload. [`Op::allowed_from`] is the lifecycle table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Start (a stopped or failed workload).
    Start,
    /// Stop (SIGTERM, then SIGKILL after the timeout).
    Stop,
    /// Send a signal to the main process.
    Kill,
    /// Freeze it (VMs: stop the vCPUs).
    Pause,
    /// Thaw it.
    Resume,
    /// Reach inside a live workload: exec, console, stats, QMP queries.
    Attach,
    /// Remove it (a live one only with `force`, which stops it first).
    Delete,
    /// Replace its disk or root with a snapshot.
    Restore,
}

impl Op {
    /// Every operation, for tables and tests.
    pub const ALL: [Op; 8] =
        [Op::Start, Op::Stop, Op::Kill, Op::Pause, Op::Resume, Op::Attach, Op::Delete, Op::Restore];

    /// May this operation begin in state `s`? (`create → stopped → running ⇄ paused`, `running →
    /// stopped | failed`; `failed` is left by start, stop or delete; only a workload that is not
    /// live may be deleted or restored.)
    pub fn allowed_from(self, s: Status) -> bool {
        use Status::*;
        match self {
            Op::Start => matches!(s, Stopped | Failed),
            Op::Stop | Op::Kill | Op::Attach => matches!(s, Running | Paused),
            Op::Pause => s == Running,
            Op::Resume => s == Paused,
            Op::Delete | Op::Restore => matches!(s, Stopped | Failed),
        }
    }

    /// The past participle users read in an error ("it cannot be deleted").
    pub fn past(self) -> &'static str {
        match self {
            Op::Start => "started",
            Op::Stop => "stopped",
            Op::Kill => "signalled",
            Op::Pause => "paused",
            Op::Resume => "resumed",
            Op::Attach => "attached to",
            Op::Delete => "deleted",
            Op::Restore => "restored",
        }
    }

    /// What the user can do about a refusal, if anything.
    pub fn hint(self) -> &'static str {
        match self {
            Op::Delete => " (stop it first, or delete with --force)",
            Op::Restore => " (stop it first)",
            _ => "",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Run a blocking SDK operation on tokio's blocking pool: how every trait implementation (store,
/// runtimes, networks) keeps its synchronous engine off the async executor.
///
/// # Errors
/// `f`'s error; [`Error::Task`] if it panicked.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::Task(e.to_string()))?
}

/// Check a workload name: 1-63 characters of lower-case letters, digits, `-` and `_`, starting
/// with a letter or digit, for every kind alike (a name is a directory name, a machine name and
/// part of a unit name, so nothing else is allowed). `kind` words the error ("container", "VM").
///
/// # Errors
/// [`Error::InvalidArgument`] saying what is wrong.
pub(crate) fn check_name(kind: &str, s: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::InvalidArgument(format!("{kind} name {s:?}: {why}")));
    if s.is_empty() {
        return bad("empty");
    }
    if s.len() > 63 {
        return bad("longer than 63 characters");
    }
    let b = s.as_bytes();
    if !(b[0].is_ascii_lowercase() || b[0].is_ascii_digit()) {
        return bad("must start with a lower-case letter or a digit");
    }
    if !b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_') {
        return bad("only lower-case letters, digits, '-' and '_' are allowed");
    }
    Ok(())
}

/// Parse a memory size: a number of bytes with an optional `K`, `M`, `G` or `T` suffix (binary
/// multiples; `KiB`-style and lower-case suffixes accepted).
///
/// # Errors
/// [`Error::InvalidArgument`] naming the value.
pub fn parse_memory(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || Error::InvalidArgument(format!("memory {s:?}: expected a size like 512M, 1G or 1073741824"));
    let n: u64 = num.parse().map_err(|_| bad())?;
    let shift = match unit.to_ascii_lowercase().trim_end_matches("ib").trim_end_matches('b') {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err(bad()),
    };
    let v = n.checked_mul(1u64 << shift).ok_or_else(bad)?;
    if v < 1 << 20 {
        return Err(Error::InvalidArgument(format!("memory {s:?}: below the 1 MiB minimum")));
    }
    Ok(v)
}

/// What to run. Runtimes extend this through `extra` until their own spec types land.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct WorkloadSpec {
    /// Human name (unique per runtime).
    pub name: String,
    /// Image reference or store ref providing the root filesystem.
    pub image: String,
    /// Command and arguments (empty: the image's default).
    #[serde(default)]
    pub command: Vec<String>,
    /// Memory limit in bytes.
    #[serde(default)]
    pub memory: Option<u64>,
    /// CPU quota in percent of one CPU (200 = two CPUs).
    #[serde(default)]
    pub cpu_percent: Option<u32>,
    /// Networks to join (empty: the host's network).
    #[serde(default)]
    pub networks: Vec<String>,
}

/// A workload as a runtime reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadInfo {
    /// Name.
    pub name: String,
    /// Runtime kind (`container`, `vm`, or a registered one).
    #[serde(default)]
    pub kind: String,
    /// Lifecycle state.
    pub status: Status,
    /// Main process id while running.
    pub pid: Option<u32>,
    /// What it runs, in a few words (a container's image, a VM's machine and size).
    #[serde(default)]
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::Op::{self, *};
    use super::Status::{self, *};
    use crate::Error;

    /// Every (operation, state) pair, spelled out: `.` allowed, `N` not running, `A` already
    /// running, `S` any other state refusal.
    #[test]
    fn the_lifecycle_table() {
        const STATES: [Status; 5] = [Stopped, Running, Paused, Failed, Deleted];
        let table: [(Op, &str); 8] = [
            //            Stopped Running Paused Failed Deleted
            (Start, /*  */ ". A A . S"),
            (Stop, /*   */ "N . . N N"),
            (Kill, /*   */ "N . . N N"),
            (Pause, /*  */ "N . S N N"),
            (Resume, /* */ "S S . S S"),
            (Attach, /* */ "N . . N N"),
            (Delete, /* */ ". S S . S"),
            (Restore, /**/ ". S S . S"),
        ];
        assert_eq!(table.map(|(o, _)| o), Op::ALL, "the table covers every operation");
        for (op, row) in table {
            let row: Vec<&str> = row.split(' ').collect();
            assert_eq!(row.len(), STATES.len());
            for (st, want) in STATES.into_iter().zip(row) {
                let got = match st.check(op, "web") {
                    Ok(()) => ".",
                    Err(Error::NotRunning { .. }) => "N",
                    Err(Error::AlreadyRunning { .. }) => "A",
                    Err(Error::InvalidState { .. }) => "S",
                    Err(e) => panic!("{op:?} from {st}: {e}"),
                };
                assert_eq!(got, want, "{op:?} from {st}");
                assert_eq!(got == ".", op.allowed_from(st));
                if let Err(e) = st.check(op, "web") {
                    assert_eq!(e.kind(), crate::ErrorKind::Conflict);
                    assert!(e.to_string().starts_with(&format!("web is {st}")), "{e}");
                }
            }
        }
        assert_eq!(
            Running.check(Delete, "web").unwrap_err().to_string(),
            "web is running; it cannot be deleted (stop it first, or delete with --force)"
        );
        assert_eq!(Stopped.check(Stop, "web").unwrap_err().to_string(), "web is stopped, not running");
        assert_eq!(Paused.check(Start, "web").unwrap_err().to_string(), "web is paused already");
    }
}
