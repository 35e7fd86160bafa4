//! Workloads of every kind in one list (what `volt ps` shows).

use std::ffi::c_char;

use crate::check_out;
use crate::error::volt_error_t;
use crate::store::{store_arg, volt_store_t, write_json};

/// List every workload of every kind (containers and VMs), sorted by name. On success
/// `*json_out` receives an array of `{"name", "kind", "status", "pid", "detail"}` objects
/// (`kind` `"container"` or `"vm"`, `pid` null when not running, `detail` the container's image
/// or the VM's machine and size), to free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_workload_list(
    store: *const volt_store_t,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        check_out(json_out, "json_out")?;
        let all = store.volt().workloads()?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &all) }
    })
}
