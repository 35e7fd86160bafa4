//! volt-vm's error type. Each variant maps onto one of Volt's exit-code categories, which
//! volt-core translates into its own taxonomy.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the VM engine can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument or setting is invalid (bad size, unknown machine type, a disk that is not
    /// qcow2).
    #[error("{0}")]
    Invalid(String),
    /// A named thing (kernel, snapshot, disk) does not exist.
    #[error("{what} {name:?} not found")]
    NotFound {
        /// Kind of thing.
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// The thing exists already (a snapshot or kernel name).
    #[error("{what} {name:?} already exists")]
    AlreadyExists {
        /// Kind of thing.
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// The request conflicts with the VM's state.
    #[error("{0}")]
    Conflict(String),
    /// A program or kernel Volt needs is not installed.
    #[error("{0}")]
    Dependency(String),
    /// The host cannot give what is asked (memory, hugepages).
    #[error("{0}")]
    Resource(String),
    /// QEMU or the guest did not answer in time.
    #[error("{0}")]
    Timeout(String),
    /// QEMU refused a QMP command or the monitor connection failed.
    #[error("QMP {command}: {reason}")]
    Qmp {
        /// The command.
        command: String,
        /// What QEMU said (or the transport error).
        reason: String,
    },
    /// A helper program (qemu-img, dpkg-deb, make) failed.
    #[error("{program}: {reason}")]
    Tool {
        /// The program.
        program: String,
        /// Its message.
        reason: String,
    },
    /// An I/O operation on a host path failed.
    #[error("{}: {op}: {source}", .path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// Where.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// An I/O error at `path`.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { op, path: path.into(), source }
    }

    /// A QMP failure of `command`.
    pub fn qmp(command: &str, reason: impl std::fmt::Display) -> Self {
        Error::Qmp { command: command.to_string(), reason: reason.to_string() }
    }
}

/// [`Error::Dependency`] naming the Debian package to install unless `program` is on `PATH`.
/// `why` says what needs it ("building the minimal kernel"). Every program Volt checks for this
/// way is named, with the same package, in the tools table of `scripts/setup.sh`.
///
/// # Errors
/// [`Error::Dependency`] when no executable `program` is found on `PATH`.
pub fn require_tool(program: &str, package: &str, why: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let found = std::env::split_paths(&path)
        .map(|d| d.join(program))
        .any(|p| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0));
    if found {
        Ok(())
    } else {
        Err(Error::Dependency(format!("{program} not found: {why} needs it (install {package})")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn require_tool_names_the_package() {
        assert!(require_tool("sh", "dash", "a test").is_ok());
        // Names made at run time, so the tools-table check does not take them for real ones.
        let (prog, pkg) = (format!("volt-no-such-{}", "program"), format!("volt-no-such-{}", "package"));
        let e = require_tool(&prog, &pkg, "a test").unwrap_err();
        assert!(matches!(e, Error::Dependency(_)));
        assert_eq!(e.to_string(), format!("{prog} not found: a test needs it (install {pkg})"));
    }
}
