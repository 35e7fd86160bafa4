//! Progress reports for long image operations, as a plain callback so that C and Python can
//! pass one in.

use serde::{Deserialize, Serialize};

/// What is being done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(C)]
pub enum Phase {
    /// Reading the input (an archive or directory) into the store.
    Read = 1,
    /// Downloading a blob.
    Download = 2,
    /// Uploading a blob.
    Upload = 3,
    /// Applying a layer into the image tree.
    Apply = 4,
    /// Writing an export.
    Write = 5,
    /// A blob that was already present (nothing transferred).
    Skip = 6,
}

impl Phase {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Read => "read",
            Phase::Download => "download",
            Phase::Upload => "upload",
            Phase::Apply => "apply",
            Phase::Write => "write",
            Phase::Skip => "skip",
        }
    }
}

/// One progress report: `done` of `total` units (bytes for transfers, layers for apply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Phase.
    pub phase: Phase,
    /// The blob digest or path concerned.
    pub item: String,
    /// Units done.
    pub done: u64,
    /// Units in all, when known.
    pub total: Option<u64>,
}

/// A progress callback. Called from whichever thread does the work; keep it cheap.
pub type ProgressFn = dyn Fn(&Progress) + Send + Sync;
