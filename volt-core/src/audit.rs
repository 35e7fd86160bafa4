//! The audit trail: one JSON object per line for every state-changing operation, appended to
//! `/var/log/volt/audit.log` (under the paths' root).

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// RFC 3339 UTC time with milliseconds.
    pub timestamp: String,
    /// User name of the effective uid (or the uid as text if it has no name).
    pub user: String,
    /// Effective uid.
    pub uid: u32,
    /// What was done, `area.verb` (e.g. `cas.build`).
    pub action: String,
    /// What it was done to.
    pub resource: String,
    /// `success` or `failure`.
    pub result: String,
    /// The error message, on failure.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

/// Appends records to the audit log. Disabled logs accept and drop records.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: Option<PathBuf>,
}

impl AuditLog {
    /// A log writing to `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        AuditLog { path: Some(path.into()) }
    }

    /// A log that records nothing.
    pub fn disabled() -> Self {
        AuditLog { path: None }
    }

    /// Where records go.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Run `f` and record how it ended: the one wrapper every state-changing operation of the
    /// SDK goes through.
    pub fn audited<T, E: std::fmt::Display>(
        &self,
        action: &str,
        resource: &str,
        f: impl FnOnce() -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        self.outcome(action, resource, f())
    }

    /// Record the outcome `r` of an operation (an `async` one, or one whose resource is only
    /// known from its result) and hand it back.
    pub fn outcome<T, E: std::fmt::Display>(
        &self,
        action: &str,
        resource: &str,
        r: std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        match &r {
            Ok(_) => self.record(action, resource, Ok(())),
            Err(e) => self.record(action, resource, Err(e)),
        }
        r
    }

    /// Record an outcome. Failing to write the audit log is reported through `tracing` and does
    /// not fail the operation that was audited.
    pub fn record(&self, action: &str, resource: &str, outcome: Result<(), &dyn std::fmt::Display>) {
        let Some(path) = &self.path else { return };
        let uid = rustix::process::geteuid().as_raw();
        let rec = AuditRecord {
            timestamp: now_rfc3339(),
            user: user_name(uid),
            uid,
            action: action.to_string(),
            resource: resource.to_string(),
            result: if outcome.is_ok() { "success" } else { "failure" }.to_string(),
            error: outcome.err().map(|e| e.to_string()),
        };
        let mut line = serde_json::to_vec(&rec).expect("audit record serialises");
        line.push(b'\n');
        let res = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| OpenOptions::new().create(true).append(true).mode(0o640).open(path))
            .and_then(|mut f| f.write_all(&line));
        if let Err(e) = res {
            tracing::warn!(path = %path.display(), error = %e, "cannot write audit log");
        }
    }
}

fn now_rfc3339() -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    time::OffsetDateTime::now_utc().format(&fmt).unwrap_or_default()
}

/// Look the uid up in `/etc/passwd` (no NSS: Volt runs as root on hosts where that suffices).
fn user_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                let id: u32 = f.nth(1)?.parse().ok()?;
                (id == uid).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_json_lines() {
        let d = tempfile::tempdir().unwrap();
        let log = AuditLog::new(d.path().join("log/audit.log"));
        log.record("cas.build", "images/x", Ok(()));
        log.record("cas.gc", "store", Err(&"boom"));
        let text = std::fs::read_to_string(d.path().join("log/audit.log")).unwrap();
        let recs: Vec<AuditRecord> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].action, "cas.build");
        assert_eq!(recs[0].result, "success");
        assert_eq!(recs[1].result, "failure");
        assert_eq!(recs[1].error.as_deref(), Some("boom"));
        assert!(recs[0].timestamp.ends_with('Z') && recs[0].timestamp.len() == 24);
    }
}
