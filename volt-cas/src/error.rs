//! Errors of the content-addressed store.

use std::io;
use std::path::PathBuf;

/// Result alias for store operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the store. Each variant names the object, ref or path involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A digest string could not be parsed.
    #[error("invalid digest {digest:?}: {reason}")]
    InvalidDigest {
        /// The text that was given.
        digest: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A ref name is not acceptable (empty, absolute, `..`, bad characters).
    #[error("invalid ref name {name:?}: {reason}")]
    InvalidRef {
        /// The name that was given.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// No object has this digest (or no alias maps it to one).
    #[error("object {0} not found")]
    ObjectNotFound(String),
    /// No ref has this name.
    #[error("ref {0:?} not found")]
    RefNotFound(String),
    /// The object exists but is not a tree.
    #[error("object {0} is not a tree")]
    NotATree(String),
    /// A stored object does not hash to its name.
    #[error("object {digest} is corrupt (content hashes to {actual})")]
    Corrupt {
        /// The object's name.
        digest: String,
        /// What its bytes hash to now.
        actual: String,
    },
    /// A stored object, ref or alias could not be decoded.
    #[error("{digest} is malformed: {reason}")]
    Malformed {
        /// What it is (`object blake3:…`, `ref NAME`, `alias sha256:…`).
        digest: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The source of a build or put does not exist.
    #[error("{}: no such file or directory", .0.display())]
    SourceNotFound(PathBuf),
    /// The source of a build is not a directory.
    #[error("{}: not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// A checkout destination exists and is not empty.
    #[error("{}: destination exists and is not empty", .0.display())]
    DestinationNotEmpty(PathBuf),
    /// Permission denied on a path.
    #[error("{}: cannot access", .path.display())]
    PermissionDenied {
        /// The path that could not be accessed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Any other I/O failure, with the path it happened on.
    #[error("{}: {op}", .path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// Where.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A configuration value is out of range.
    #[error("invalid store option: {0}")]
    InvalidOption(String),
    /// Writing to the caller's output failed (e.g. a closed pipe).
    #[error("write output")]
    Output(#[source] io::Error),
}

impl Error {
    /// Wrap an I/O error with the operation and path, classifying permission errors.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        let path = path.into();
        match source.kind() {
            io::ErrorKind::PermissionDenied => Error::PermissionDenied { path, source },
            _ => Error::Io { op, path, source },
        }
    }

    /// True if this error means "the thing asked for does not exist".
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::ObjectNotFound(_) | Error::RefNotFound(_) | Error::SourceNotFound(_))
    }
}

/// Attach a path and operation to an `io::Result`.
pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(op, path, e))
    }
}

impl<T> IoContext<T> for rustix::io::Result<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(op, path, io::Error::from(e)))
    }
}
