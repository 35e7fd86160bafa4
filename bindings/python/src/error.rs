//! Volt errors as Python exceptions.
//!
//! The exception hierarchy lives in `volt/_errors.py` (pure Python, because several classes
//! derive from two bases — `NotFoundError(VoltError, FileNotFoundError)` — which a native
//! exception type cannot). This side only picks the class for an [`ErrorKind`] and raises it with
//! `(message, kind, code)`.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use volt_core::ErrorKind;

/// The class in `volt._errors` for each kind. Exhaustive on purpose: a new kind must get a
/// class here and in `_errors.py`.
pub(crate) fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::General => "GeneralError",
        ErrorKind::Usage => "UsageError",
        ErrorKind::NotFound => "NotFoundError",
        ErrorKind::AlreadyExists => "AlreadyExistsError",
        ErrorKind::Permission => "VoltPermissionError",
        ErrorKind::Daemon => "DaemonError",
        ErrorKind::Timeout => "VoltTimeoutError",
        ErrorKind::Network => "NetworkError",
        ErrorKind::Conflict => "ConflictError",
        ErrorKind::Dependency => "DependencyError",
        ErrorKind::Resource => "ResourceError",
        ErrorKind::InvalidConfig => "InvalidConfigError",
        ErrorKind::Interrupted => "VoltInterruptedError",
    }
}

/// An error of `kind` with `message`, as the matching `volt` exception.
pub(crate) fn new_err(kind: ErrorKind, message: String) -> PyErr {
    Python::attach(|py| {
        let made = py
            .import("volt._errors")
            .and_then(|m| m.getattr(class_name(kind)))
            .and_then(|cls| cls.call1((message.as_str(), kind.name(), kind.exit_code())));
        match made {
            Ok(exc) => PyErr::from_value(exc),
            // Only if the package is broken (native module imported without its package).
            Err(e) => {
                let err = PyRuntimeError::new_err(format!("{}: {message}", kind.name()));
                err.set_cause(py, Some(e));
                err
            }
        }
    })
}

/// A Volt error, with its cause chain in the message (the core keeps each level's text short
/// and leaves the chain to frontends).
pub(crate) fn to_py(e: volt_core::Error) -> PyErr {
    new_err(e.kind(), e.chain())
}

/// Invalid arguments given from Python (`UsageError`).
pub(crate) fn usage(message: impl Into<String>) -> PyErr {
    new_err(ErrorKind::Usage, message.into())
}

/// Failures of the binding itself (`GeneralError`).
pub(crate) fn general(message: impl Into<String>) -> PyErr {
    new_err(ErrorKind::General, message.into())
}

/// `result.py_err()`: an SDK result with its error raised as the matching `volt` exception.
pub(crate) trait IntoPyResult<T> {
    fn py_err(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for volt_core::Result<T> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}
