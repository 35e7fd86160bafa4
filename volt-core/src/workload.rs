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

    /// Is moving from `self` to `to` allowed? (`create → stopped → running → stopped → deleted`,
    /// with `failed` reachable from running and leaving only by start or delete.)
    pub fn can_become(self, to: Status) -> bool {
        use Status::*;
        matches!(
            (self, to),
            (Stopped, Running)
                | (Running, Paused)
                | (Paused, Running)
                | (Paused, Stopped)
                | (Paused, Failed)
                | (Running, Stopped)
                | (Running, Failed)
                | (Failed, Running)
                | (Failed, Stopped)
                | (Stopped, Deleted)
                | (Failed, Deleted)
        )
    }

    /// The transition check every runtime uses.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`]-kind conflict naming both states.
    pub fn transition(self, to: Status, name: &str) -> Result<Status> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(Error::InvalidState { name: name.to_string(), from: self, to })
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// Runtime kind (`container`, `vm`).
    pub kind: String,
    /// Lifecycle state.
    pub status: Status,
    /// Main process id while running.
    pub pid: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::Status::*;

    #[test]
    fn transitions() {
        assert!(Stopped.can_become(Running));
        assert!(Running.can_become(Stopped));
        assert!(!Running.can_become(Deleted));
        assert!(!Deleted.can_become(Running));
        let e = Running.transition(Deleted, "web").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Conflict);
    }
}
