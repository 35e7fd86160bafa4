//! The SDK's error type and the one taxonomy ([`ErrorKind`]) that gives CLI exit codes, C status
//! values and Python exception classes.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Result alias for the SDK.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Error categories. The numbers are Volt's exit codes and are never renumbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum ErrorKind {
    /// Unspecified error (1).
    General = 1,
    /// Invalid arguments (2).
    Usage = 2,
    /// Resource not found (3).
    NotFound = 3,
    /// Resource already exists (4).
    AlreadyExists = 4,
    /// Permission denied (5).
    Permission = 5,
    /// Daemon unreachable (6).
    Daemon = 6,
    /// Operation timed out (7).
    Timeout = 7,
    /// Network error (8).
    Network = 8,
    /// Conflicting state (9).
    Conflict = 9,
    /// Missing dependency (10).
    Dependency = 10,
    /// Insufficient resources (11).
    Resource = 11,
    /// Invalid configuration (12).
    InvalidConfig = 12,
    /// Interrupted by a signal (13).
    Interrupted = 13,
}

impl ErrorKind {
    /// All kinds, in exit-code order.
    pub const ALL: [ErrorKind; 13] = [
        ErrorKind::General,
        ErrorKind::Usage,
        ErrorKind::NotFound,
        ErrorKind::AlreadyExists,
        ErrorKind::Permission,
        ErrorKind::Daemon,
        ErrorKind::Timeout,
        ErrorKind::Network,
        ErrorKind::Conflict,
        ErrorKind::Dependency,
        ErrorKind::Resource,
        ErrorKind::InvalidConfig,
        ErrorKind::Interrupted,
    ];

    /// The process exit code for this kind (0 is success and has no kind).
    pub fn exit_code(self) -> i32 {
        self as i32
    }

    /// The symbolic name, e.g. `ERR_NOT_FOUND`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::General => "ERR_GENERAL",
            ErrorKind::Usage => "ERR_USAGE",
            ErrorKind::NotFound => "ERR_NOT_FOUND",
            ErrorKind::AlreadyExists => "ERR_ALREADY_EXISTS",
            ErrorKind::Permission => "ERR_PERMISSION",
            ErrorKind::Daemon => "ERR_DAEMON",
            ErrorKind::Timeout => "ERR_TIMEOUT",
            ErrorKind::Network => "ERR_NETWORK",
            ErrorKind::Conflict => "ERR_CONFLICT",
            ErrorKind::Dependency => "ERR_DEPENDENCY",
            ErrorKind::Resource => "ERR_RESOURCE",
            ErrorKind::InvalidConfig => "ERR_INVALID_CONFIG",
            ErrorKind::Interrupted => "ERR_INTERRUPTED",
        }
    }

    /// The kind for an exit code, if it is one.
    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.exit_code() == code)
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything the SDK can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A store (Stellarium) operation failed.
    #[error(transparent)]
    Store(#[from] volt_cas::Error),
    /// A networking operation failed (volt-net).
    #[error(transparent)]
    Network(#[from] volt_net::Error),
    /// A VM engine operation failed (volt-vm).
    #[error(transparent)]
    Vm(#[from] volt_vm::Error),
    /// The configuration file could not be read or parsed.
    #[error("configuration {}: {reason}", .path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An environment variable has a value Volt does not accept.
    #[error("environment variable {name}={value:?}: {reason}")]
    Env {
        /// Variable name.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is accepted.
        reason: &'static str,
    },
    /// An argument is invalid (bad name, bad combination).
    #[error("{0}")]
    InvalidArgument(String),
    /// The named thing does not exist.
    #[error("{what} {name:?} not found")]
    NotFound {
        /// Kind of thing ("ref", "image", ...).
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// An I/O operation on a host path failed.
    #[error("{}: {op}", .path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// Where.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The feature is not available in this build or on this host.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A program Volt runs is not installed (the message names the package).
    #[error("{0}")]
    Dependency(String),
    /// An operation that needs a live workload, asked of one that is not.
    #[error("{name} is {status}, not running")]
    NotRunning {
        /// Workload name.
        name: String,
        /// Its state.
        status: crate::workload::Status,
    },
    /// Start asked of a workload that is live already.
    #[error("{name} is {status} already")]
    AlreadyRunning {
        /// Workload name.
        name: String,
        /// Its state.
        status: crate::workload::Status,
    },
    /// Any other operation the lifecycle does not allow from the current state.
    #[error("{name} is {status}; it cannot be {}{}", .op.past(), .op.hint())]
    InvalidState {
        /// Workload name.
        name: String,
        /// Its state.
        status: crate::workload::Status,
        /// What was asked.
        op: crate::workload::Op,
    },
    /// Something cannot be removed because others use it.
    #[error("{what} {name} is in use by {}{hint}", .users.join(", "))]
    InUse {
        /// Kind of thing ("image", "kernel", "network").
        what: &'static str,
        /// Its name.
        name: String,
        /// Who uses it ("container web", or workload names).
        users: Vec<String>,
        /// What to do about it ("; delete or disconnect them first"), or "".
        hint: &'static str,
    },
    /// A background task failed to complete.
    #[error("internal task failed: {0}")]
    Task(String),
    /// Image content Volt refuses: malformed, unsafe or too large. Nothing of it is kept.
    #[error("{what}: {reason}")]
    InvalidImage {
        /// What was being read (a layer digest, "manifest", a path).
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// The operation conflicts with the state of something else (an image in use, say).
    #[error("{0}")]
    Conflict(String),
    /// A workload could not be started, stopped or reached (the supervisor's message).
    #[error("{name}: {reason}")]
    Workload {
        /// Workload name.
        name: String,
        /// What happened.
        reason: String,
    },
    /// An operation did not finish in time.
    #[error("{0}")]
    Timeout(String),
    /// A remote registry refused or failed a request.
    #[error("{registry}: {reason}")]
    Remote {
        /// Registry host (and repository).
        registry: String,
        /// What happened.
        reason: String,
        /// Category, from the HTTP status or transport failure.
        kind: ErrorKind,
    },
}

impl Error {
    /// This error with its causes, as every frontend shows it ([`error_chain`]).
    pub fn chain(&self) -> String {
        error_chain(self)
    }

    /// The category of this error (exit code, C status, Python exception class).
    pub fn kind(&self) -> ErrorKind {
        use volt_cas::Error as C;
        match self {
            Error::Store(e) => match e {
                C::InvalidDigest { .. } | C::InvalidRef { .. } | C::InvalidOption(_) => ErrorKind::Usage,
                C::ObjectNotFound(_) | C::RefNotFound(_) | C::SourceNotFound(_) => ErrorKind::NotFound,
                C::NotADirectory(_) | C::NotATree(_) => ErrorKind::Usage,
                C::DestinationNotEmpty(_) => ErrorKind::AlreadyExists,
                C::PermissionDenied { .. } => ErrorKind::Permission,
                C::Output(source) => io_kind(source),
                C::Io { source, .. } => io_kind(source),
                C::Corrupt { .. } | C::Malformed { .. } => ErrorKind::General,
                _ => ErrorKind::General,
            },
            Error::Network(e) => {
                use volt_net::Error as N;
                match e {
                    N::InvalidCidr { .. } | N::InvalidName(_) => ErrorKind::Usage,
                    N::Conflict(_) => ErrorKind::Conflict,
                    N::Exhausted { .. } => ErrorKind::Resource,
                    N::Io { source, .. } => io_kind(source),
                    N::Netlink(_) | N::Nft(_) => ErrorKind::Network,
                    _ => ErrorKind::General,
                }
            }
            Error::Vm(e) => {
                use volt_vm::Error as V;
                match e {
                    V::Invalid(_) => ErrorKind::Usage,
                    V::NotFound { .. } => ErrorKind::NotFound,
                    V::AlreadyExists { .. } => ErrorKind::AlreadyExists,
                    V::Conflict(_) => ErrorKind::Conflict,
                    V::Dependency(_) => ErrorKind::Dependency,
                    V::Resource(_) => ErrorKind::Resource,
                    V::Timeout(_) => ErrorKind::Timeout,
                    V::Io { source, .. } => io_kind(source),
                    _ => ErrorKind::General,
                }
            }
            Error::Config { .. } | Error::Env { .. } => ErrorKind::InvalidConfig,
            Error::InvalidArgument(_) => ErrorKind::Usage,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Io { source, .. } => io_kind(source),
            Error::Unsupported(_) | Error::Dependency(_) => ErrorKind::Dependency,
            Error::Task(_) => ErrorKind::General,
            Error::NotRunning { .. }
            | Error::AlreadyRunning { .. }
            | Error::InvalidState { .. }
            | Error::InUse { .. }
            | Error::Conflict(_) => ErrorKind::Conflict,
            Error::InvalidImage { .. } => ErrorKind::Usage,
            Error::Remote { kind, .. } => *kind,
            Error::Workload { .. } => ErrorKind::General,
            Error::Timeout(_) => ErrorKind::Timeout,
        }
    }

    pub(crate) fn invalid_image(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidImage { what: what.into(), reason: reason.into() }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { op, path: path.into(), source }
    }
}

/// An error and its causes as one line, `outer: inner: …`: the one rendering that the CLI, the C
/// library, the Python module and the supervisors show. A cause whose words already appear in the
/// line (case-insensitively) is left out, since wrapping errors often repeat their source.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !t.is_empty() && !line.to_lowercase().contains(&t.to_lowercase()) {
            line.push_str(": ");
            line.push_str(&t);
        }
        src = s.source();
    }
    line
}

fn io_kind(e: &std::io::Error) -> ErrorKind {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound => ErrorKind::NotFound,
        K::PermissionDenied => ErrorKind::Permission,
        K::AlreadyExists => ErrorKind::AlreadyExists,
        K::TimedOut => ErrorKind::Timeout,
        K::Interrupted => ErrorKind::Interrupted,
        K::StorageFull | K::OutOfMemory | K::QuotaExceeded => ErrorKind::Resource,
        _ => ErrorKind::General,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_reference_table() {
        let codes: Vec<(i32, &str)> = ErrorKind::ALL.iter().map(|k| (k.exit_code(), k.name())).collect();
        assert_eq!(codes[0], (1, "ERR_GENERAL"));
        assert_eq!(codes[2], (3, "ERR_NOT_FOUND"));
        assert_eq!(codes[8], (9, "ERR_CONFLICT"));
        assert_eq!(codes[12], (13, "ERR_INTERRUPTED"));
        for (i, (c, _)) in codes.iter().enumerate() {
            assert_eq!(*c, i as i32 + 1);
            assert_eq!(ErrorKind::from_code(*c), Some(ErrorKind::ALL[i]));
        }
    }

    #[test]
    fn the_chain_joins_causes_and_drops_repeats() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e = Error::Io { op: "open", path: "/x".into(), source: io() };
        assert_eq!(e.chain(), "/x: open: gone");
        // A cause whose words the line already has is not said twice (case aside).
        #[derive(Debug, thiserror::Error)]
        #[error("Fetch failed: GONE")]
        struct Outer(#[source] std::io::Error);
        assert_eq!(error_chain(&Outer(io())), "Fetch failed: GONE");
        #[derive(Debug, thiserror::Error)]
        #[error("fetch failed")]
        struct Plain(#[source] std::io::Error);
        assert_eq!(error_chain(&Plain(io())), "fetch failed: gone");
    }

    #[test]
    fn store_errors_map_to_kinds() {
        let e = Error::from(volt_cas::Error::RefNotFound("x".into()));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let e = Error::from("a/../b".parse::<volt_cas::RefName>().unwrap_err());
        assert_eq!(e.kind(), ErrorKind::Usage);
    }
}
