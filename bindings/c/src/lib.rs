//! C ABI for Volt: `libvolt.so`, `libvolt.a` and the cbindgen-generated `include/volt.h`.
//!
//! Conventions (see `docs/c-api.md`):
//! - Opaque handles only ([`volt_store_t`], [`volt_registry_t`], [`volt_error_t`]); results
//!   that would need unstable structs cross as UTF-8 JSON strings. The one struct is
//!   [`volt_progress_t`], which the library passes to a C progress callback.
//! - Every fallible call returns `volt_error_t*`: NULL on success, otherwise an error the caller
//!   frees with [`volt_error_free`]. `*_out` parameters are written only on success.
//! - NULL arguments are reported as `VOLT_ERR_USAGE` errors, never dereferenced.
//! - Every exported body runs inside [`ffi_panic_boundary!`]: a Rust panic becomes a
//!   `VOLT_ERR_GENERAL` error instead of unwinding into C.
//!
//! One module per header section: `error.rs` (errors), `store.rs` (the store), `image.rs`
//! (images and progress callbacks), `registry.rs` (the registry server and its tokens),
//! `container.rs` (containers and named volumes), `network.rs` (networks, the firewall, and
//! connecting containers), `vm.rs` (VMs, their snapshots, and guest kernels); the memory
//! functions shared by all sections live here.
#![deny(missing_docs)]

use std::ffi::{c_char, CStr, CString};

/// Runs an exported function's body inside a panic boundary.
///
/// - `ffi_panic_boundary!(fallible { ... })`: the body evaluates to `Result<(), volt_error_t>`;
///   the function returns `volt_error_t*` (NULL for `Ok`, the error for `Err`, a
///   `VOLT_ERR_GENERAL` error for a panic).
/// - `ffi_panic_boundary!({ ... })`: the body evaluates to a value returned as is; a panic
///   returns that type's [`Boundary::panicked`] value (nothing, `VOLT_ERR_GENERAL`, `""`, NULL,
///   0).
macro_rules! ffi_panic_boundary {
    (fallible $body:block) => {
        $crate::boundary::<::std::result::Result<(), $crate::error::volt_error_t>>(|| $body)
    };
    ($body:block) => {
        $crate::boundary(|| $body)
    };
}

mod container;
mod error;
mod image;
mod network;
mod registry;
mod store;
mod vm;
mod workload;

pub use container::{
    volt_container_create, volt_container_delete, volt_container_exec_output, volt_container_inspect,
    volt_container_kill, volt_container_list, volt_container_logs, volt_container_restart, volt_container_run,
    volt_container_start, volt_container_stats, volt_container_stop, volt_container_top, volt_container_update,
    volt_container_wait, volt_volume_create, volt_volume_inspect, volt_volume_list, volt_volume_remove,
};
pub use error::{
    volt_error_free, volt_error_kind, volt_error_kind_name, volt_error_kind_t, volt_error_message, volt_error_t,
};
pub use image::{
    volt_image_create_rootfs, volt_image_export, volt_image_import, volt_image_inspect, volt_image_list,
    volt_image_pull, volt_image_push, volt_image_remove, volt_image_remove_rootfs, volt_image_shared_root,
    volt_image_tag, volt_progress_fn, volt_progress_phase_t, volt_progress_t,
};
pub use network::{
    volt_container_connect, volt_container_disconnect, volt_network_create, volt_network_delete,
    volt_network_firewall_allow, volt_network_firewall_deny, volt_network_firewall_list, volt_network_inspect,
    volt_network_list, volt_network_sync_rules,
};
pub use registry::{
    volt_registry_free, volt_registry_port, volt_registry_start, volt_registry_stop, volt_registry_t,
    volt_registry_token_create, volt_registry_url,
};
pub use store::{
    volt_store_build, volt_store_checkout, volt_store_dedup, volt_store_free, volt_store_gc, volt_store_get,
    volt_store_has, volt_store_open, volt_store_put_bytes, volt_store_put_file, volt_store_read, volt_store_ref_delete,
    volt_store_ref_set, volt_store_refs, volt_store_stat, volt_store_status, volt_store_t, volt_store_verify,
};
pub use vm::{
    volt_kernel_build, volt_kernel_import, volt_kernel_list, volt_kernel_remove, volt_vm_console_exchange,
    volt_vm_create, volt_vm_delete, volt_vm_inspect, volt_vm_kill, volt_vm_list, volt_vm_logs, volt_vm_pause,
    volt_vm_pin_cpus, volt_vm_query_status, volt_vm_restart, volt_vm_resume, volt_vm_snapshot_create,
    volt_vm_snapshot_delete, volt_vm_snapshot_list, volt_vm_snapshot_restore, volt_vm_start, volt_vm_stop,
};
pub use workload::volt_workload_list;

use error::Result;

/// What an exported function returns, and what it returns instead when its body panicked.
pub(crate) trait Boundary {
    /// The C return type.
    type Output;
    /// The normal return value.
    fn finish(self) -> Self::Output;
    /// The return value after a panic with this message.
    fn panicked(message: String) -> Self::Output;
}

impl Boundary for Result<()> {
    type Output = *mut error::volt_error_t;
    fn finish(self) -> Self::Output {
        match self {
            Ok(()) => std::ptr::null_mut(),
            Err(e) => e.into_raw(),
        }
    }
    fn panicked(message: String) -> Self::Output {
        error::volt_error_t::new(volt_core::ErrorKind::General, format!("internal error (panic in libvolt): {message}"))
            .into_raw()
    }
}

impl Boundary for () {
    type Output = ();
    fn finish(self) {}
    fn panicked(_: String) {}
}

impl Boundary for std::ffi::c_int {
    type Output = std::ffi::c_int;
    fn finish(self) -> Self::Output {
        self
    }
    fn panicked(_: String) -> Self::Output {
        volt_core::ErrorKind::General.exit_code()
    }
}

impl Boundary for *const c_char {
    type Output = *const c_char;
    fn finish(self) -> Self::Output {
        self
    }
    fn panicked(_: String) -> Self::Output {
        c"".as_ptr()
    }
}

impl Boundary for *mut c_char {
    type Output = *mut c_char;
    fn finish(self) -> Self::Output {
        self
    }
    fn panicked(_: String) -> Self::Output {
        std::ptr::null_mut()
    }
}

impl Boundary for u16 {
    type Output = u16;
    fn finish(self) -> Self::Output {
        self
    }
    fn panicked(_: String) -> Self::Output {
        0
    }
}

/// Run `f`, converting its result (or its panic) to the C return value. Used by
/// [`ffi_panic_boundary!`].
pub(crate) fn boundary<R: Boundary>(f: impl FnOnce() -> R) -> R::Output {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.finish(),
        Err(payload) => {
            let message = if let Some(s) = payload.downcast_ref::<&str>() {
                (*s).to_string()
            } else if let Some(s) = payload.downcast_ref::<String>() {
                s.clone()
            } else {
                "unknown panic payload".to_string()
            };
            // Dropping a payload can itself panic; leak it rather than unwind into C.
            std::mem::forget(payload);
            R::panicked(message)
        }
    }
}

/// The runtime a store handle drives its asynchronous SDK calls on. `current_thread` is enough:
/// every call blocks the calling C thread in `block_on`, and Stellarium's work runs on the
/// runtime's blocking pool (`spawn_blocking`), which this runtime provides. Several C threads
/// may call `block_on` on it at once.
pub(crate) fn new_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("volt-c")
        .build()
        .map_err(|e| error::volt_error_t::new(volt_core::ErrorKind::General, format!("cannot start the runtime: {e}")))
}

/// Borrow a required string argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid and unchanged for `'a`.
pub(crate) unsafe fn arg_str<'a>(p: *const c_char, name: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(error::volt_error_t::null_argument(name));
    }
    // SAFETY: non-NULL (checked above); the caller guarantees NUL termination and lifetime.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map_err(|e| error::volt_error_t::usage(format!("{name} is not valid UTF-8: {e}")))
}

/// Borrow an optional string argument (NULL means absent).
///
/// # Safety
/// As [`arg_str`].
pub(crate) unsafe fn arg_opt_str<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller's guarantee is passed on unchanged.
    unsafe { arg_str(p, name) }.map(Some)
}

/// Refuse a NULL output pointer before any work is done.
pub(crate) fn check_out<T>(p: *mut T, name: &str) -> Result<()> {
    if p.is_null() {
        Err(error::volt_error_t::null_argument(name))
    } else {
        Ok(())
    }
}

/// Hand a string to C (freed by [`volt_string_free`]).
pub(crate) fn c_string(s: String) -> CString {
    CString::new(s).unwrap_or_else(|e| {
        // Never happens for JSON or digests; keep the text rather than fail.
        let bytes: Vec<u8> = e.into_vec().into_iter().filter(|&b| b != 0).collect();
        CString::new(bytes).expect("NUL bytes removed")
    })
}

// ---------------------------------------------------------------------------------------------
// Memory: strings and byte buffers returned through `*_out` parameters.
// ---------------------------------------------------------------------------------------------

/// Free a string returned by a `volt_*` function (digests, JSON). NULL is accepted.
///
/// # Safety
/// `s` is NULL or a string returned through a `char **` out parameter of this library that has
/// not been freed yet.
#[no_mangle]
pub unsafe extern "C" fn volt_string_free(s: *mut c_char) {
    ffi_panic_boundary!({
        if !s.is_null() {
            // SAFETY: the caller guarantees `s` came from `CString::into_raw` in this library and
            // is freed once.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}

/// Free a buffer returned by `volt_store_read` or `volt_container_exec_output`, passing the
/// length it returned. NULL is accepted.
///
/// # Safety
/// `data` is NULL or a buffer returned by `volt_store_read` or `volt_container_exec_output`
/// together with `len`, not freed yet.
#[no_mangle]
pub unsafe extern "C" fn volt_bytes_free(data: *mut u8, len: usize) {
    ffi_panic_boundary!({
        if !data.is_null() {
            let slice = std::ptr::slice_from_raw_parts_mut(data, len);
            // SAFETY: the caller guarantees `data`/`len` are exactly what `volt_store_read` or
            // `volt_container_exec_output` produced from `Box::<[u8]>::into_raw`, and that it is
            // freed once.
            drop(unsafe { Box::from_raw(slice) });
        }
    })
}
