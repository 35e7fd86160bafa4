//! Errors: `volt_error_t` and the kinds (Volt's exit codes) C code compares against.

use std::ffi::{c_char, c_int, CStr, CString};

use volt_core::ErrorKind;

/// An error returned by a fallible `volt_*` call. Opaque: read it with `volt_error_kind`,
/// `volt_error_kind_name` and `volt_error_message`; free it with `volt_error_free`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct volt_error_t {
    kind: ErrorKind,
    message: CString,
}

/// Error kinds as returned by `volt_error_kind`. The values are Volt's exit codes and are never
/// renumbered. `VOLT_OK` (0) is what `volt_error_kind(NULL)` returns.
#[repr(C)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum volt_error_kind_t {
    /// No error (a NULL `volt_error_t*`).
    VOLT_OK = 0,
    /// Unspecified error.
    VOLT_ERR_GENERAL = 1,
    /// Invalid arguments: NULL, invalid UTF-8, bad digest, bad ref name, bad option.
    VOLT_ERR_USAGE = 2,
    /// Object, ref or path not found.
    VOLT_ERR_NOT_FOUND = 3,
    /// Already exists (e.g. a checkout destination that is not empty).
    VOLT_ERR_ALREADY_EXISTS = 4,
    /// Permission denied.
    VOLT_ERR_PERMISSION = 5,
    /// Daemon unreachable.
    VOLT_ERR_DAEMON = 6,
    /// Operation timed out.
    VOLT_ERR_TIMEOUT = 7,
    /// Network error.
    VOLT_ERR_NETWORK = 8,
    /// Conflicting state.
    VOLT_ERR_CONFLICT = 9,
    /// Missing dependency or unsupported feature.
    VOLT_ERR_DEPENDENCY = 10,
    /// Insufficient resources (disk full, out of memory).
    VOLT_ERR_RESOURCE = 11,
    /// Invalid configuration (config file or `VOLT_*` variables).
    VOLT_ERR_INVALID_CONFIG = 12,
    /// Interrupted by a signal.
    VOLT_ERR_INTERRUPTED = 13,
}

impl From<ErrorKind> for volt_error_kind_t {
    fn from(k: ErrorKind) -> Self {
        use volt_error_kind_t as C;
        match k {
            ErrorKind::General => C::VOLT_ERR_GENERAL,
            ErrorKind::Usage => C::VOLT_ERR_USAGE,
            ErrorKind::NotFound => C::VOLT_ERR_NOT_FOUND,
            ErrorKind::AlreadyExists => C::VOLT_ERR_ALREADY_EXISTS,
            ErrorKind::Permission => C::VOLT_ERR_PERMISSION,
            ErrorKind::Daemon => C::VOLT_ERR_DAEMON,
            ErrorKind::Timeout => C::VOLT_ERR_TIMEOUT,
            ErrorKind::Network => C::VOLT_ERR_NETWORK,
            ErrorKind::Conflict => C::VOLT_ERR_CONFLICT,
            ErrorKind::Dependency => C::VOLT_ERR_DEPENDENCY,
            ErrorKind::Resource => C::VOLT_ERR_RESOURCE,
            ErrorKind::InvalidConfig => C::VOLT_ERR_INVALID_CONFIG,
            ErrorKind::Interrupted => C::VOLT_ERR_INTERRUPTED,
        }
    }
}

/// Result alias of this crate.
pub(crate) type Result<T, E = volt_error_t> = std::result::Result<T, E>;

impl volt_error_t {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        volt_error_t { kind, message: crate::c_string(message.into()) }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    pub(crate) fn null_argument(name: &str) -> Self {
        Self::usage(format!("{name} is NULL"))
    }

    pub(crate) fn into_raw(self) -> *mut volt_error_t {
        Box::into_raw(Box::new(self))
    }
}

impl From<volt_core::Error> for volt_error_t {
    fn from(e: volt_core::Error) -> Self {
        volt_error_t::new(e.kind(), e.chain())
    }
}

/// The C string constant naming a kind (`ERR_NOT_FOUND`, …), as `ErrorKind::name` spells it.
fn kind_name(kind: ErrorKind) -> &'static CStr {
    match kind {
        ErrorKind::General => c"ERR_GENERAL",
        ErrorKind::Usage => c"ERR_USAGE",
        ErrorKind::NotFound => c"ERR_NOT_FOUND",
        ErrorKind::AlreadyExists => c"ERR_ALREADY_EXISTS",
        ErrorKind::Permission => c"ERR_PERMISSION",
        ErrorKind::Daemon => c"ERR_DAEMON",
        ErrorKind::Timeout => c"ERR_TIMEOUT",
        ErrorKind::Network => c"ERR_NETWORK",
        ErrorKind::Conflict => c"ERR_CONFLICT",
        ErrorKind::Dependency => c"ERR_DEPENDENCY",
        ErrorKind::Resource => c"ERR_RESOURCE",
        ErrorKind::InvalidConfig => c"ERR_INVALID_CONFIG",
        ErrorKind::Interrupted => c"ERR_INTERRUPTED",
    }
}

/// The error's kind: Volt's exit code, 1 to 13 (compare with `volt_error_kind_t`). Returns 0
/// (`VOLT_OK`) for NULL.
///
/// # Safety
/// `error` is NULL or an error returned by this library and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn volt_error_kind(error: *const volt_error_t) -> c_int {
    ffi_panic_boundary!({
        // SAFETY: the caller guarantees `error` is NULL or a live error from `into_raw`.
        match unsafe { error.as_ref() } {
            Some(e) => volt_error_kind_t::from(e.kind) as c_int,
            None => volt_error_kind_t::VOLT_OK as c_int,
        }
    })
}

/// The kind's symbolic name, e.g. "ERR_NOT_FOUND" ("OK" for NULL). The string is static: do not
/// free it.
///
/// # Safety
/// `error` is NULL or an error returned by this library and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn volt_error_kind_name(error: *const volt_error_t) -> *const c_char {
    ffi_panic_boundary!({
        // SAFETY: the caller guarantees `error` is NULL or a live error from `into_raw`.
        match unsafe { error.as_ref() } {
            Some(e) => kind_name(e.kind).as_ptr(),
            None => c"OK".as_ptr(),
        }
    })
}

/// The error's message with its whole cause chain joined by ": " ("" for NULL). The string is
/// owned by the error: valid until `volt_error_free`, do not free it yourself.
///
/// # Safety
/// `error` is NULL or an error returned by this library and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn volt_error_message(error: *const volt_error_t) -> *const c_char {
    ffi_panic_boundary!({
        // SAFETY: the caller guarantees `error` is NULL or a live error from `into_raw`.
        match unsafe { error.as_ref() } {
            Some(e) => e.message.as_ptr(),
            None => c"".as_ptr(),
        }
    })
}

/// Free an error. NULL is accepted.
///
/// # Safety
/// `error` is NULL or an error returned by this library and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn volt_error_free(error: *mut volt_error_t) {
    ffi_panic_boundary!({
        if !error.is_null() {
            // SAFETY: the caller guarantees `error` came from `into_raw` (a `Box`) and is freed
            // once.
            drop(unsafe { Box::from_raw(error) });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_match_the_sdk() {
        for k in ErrorKind::ALL {
            let e = volt_error_t::new(k, "x").into_raw();
            // SAFETY: `e` is a live error created just above and freed once at the end.
            unsafe {
                assert_eq!(volt_error_kind(e), k.exit_code());
                assert_eq!(CStr::from_ptr(volt_error_kind_name(e)).to_str().unwrap(), k.name());
                volt_error_free(e);
            }
        }
        // SAFETY: NULL is accepted by all four.
        unsafe {
            assert_eq!(volt_error_kind(std::ptr::null()), 0);
            assert_eq!(CStr::from_ptr(volt_error_message(std::ptr::null())).to_bytes(), b"");
            volt_error_free(std::ptr::null_mut());
        }
    }

    #[test]
    fn message_has_the_cause_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e = volt_error_t::from(volt_core::Error::Io { op: "open", path: "/x".into(), source: io });
        assert_eq!(e.message.to_str().unwrap(), "/x: open: gone");
        assert_eq!(e.kind, ErrorKind::NotFound);
    }

    #[test]
    fn panics_become_general_errors() {
        let e = crate::boundary::<Result<()>>(|| panic!("boom"));
        // SAFETY: `e` is the live error the boundary returned; freed once.
        unsafe {
            assert_eq!(volt_error_kind(e), 1);
            assert!(CStr::from_ptr(volt_error_message(e)).to_str().unwrap().contains("boom"));
            volt_error_free(e);
        }
    }
}
