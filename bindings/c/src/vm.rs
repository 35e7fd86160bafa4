//! VMs (Voltvisor): `volt_vm_*` on a store handle — create, start, stop, kill, pause, resume,
//! restart, delete, list, inspect, logs, QEMU's run state, a scripted console exchange, disk
//! snapshots and vCPU pinning — and guest kernels, `volt_kernel_*`. Options and records cross as
//! JSON strings, as for containers.

use std::ffi::c_char;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use volt_core::network::PortMap;
use volt_core::vm::{parse_cpu_list, VmCreateOptions, Vms};

use crate::container::{opt_arg, write_json_opt};
use crate::error::{volt_error_t, Result};
use crate::store::{store_and_name, store_arg, volt_store_t, write_json};
use crate::{arg_opt_str, arg_str, check_out};

/// The options object of `volt_vm_create`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Options {
    image: Option<String>,
    disk: Option<PathBuf>,
    kernel: Option<String>,
    initrd: Option<PathBuf>,
    cmdline: Option<String>,
    cpus: Option<u32>,
    memory: Option<String>,
    disk_size: Option<String>,
    networks: Vec<String>,
    ports: Vec<String>,
    machine: Option<String>,
    hugepages: Option<bool>,
}

fn vm_options(json: Option<&str>) -> Result<VmCreateOptions> {
    let o: Options = match json.map(str::trim) {
        None | Some("") => Options::default(),
        Some(text) => serde_json::from_str(text).map_err(|e| volt_error_t::usage(format!("options: {e}")))?,
    };
    let ports = o.ports.iter().map(|p| p.parse::<PortMap>()).collect::<volt_core::Result<Vec<_>>>()?;
    Ok(VmCreateOptions {
        image: o.image,
        disk: o.disk,
        kernel: o.kernel,
        initrd: o.initrd,
        cmdline: o.cmdline,
        cpus: o.cpus,
        memory: o.memory,
        disk_size: o.disk_size,
        networks: o.networks,
        ports,
        machine: o.machine,
        hugepages: o.hugepages,
    })
}

/// The store handle, the VM name and the VM runtime of a call.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string.
unsafe fn vm_call<'a>(store: *const volt_store_t, name: *const c_char) -> Result<(&'a str, Vms)> {
    // SAFETY: the caller's guarantees, passed on.
    let (store, name) = unsafe { store_and_name(store, name) }?;
    Ok((name, store.volt().vms()?))
}

/// Create a stopped VM `name`. `options` is NULL or a JSON object with any of: `"image"` (a
/// Volt image carrying its qcow2 disk at `/disk/NAME.qcow2`), `"disk"` (a self-contained qcow2
/// file to import into the store as the base; not with `"image"`), `"kernel"` (a profile —
/// `server`, `desktop`, `rt`, `minimal`, `dev` — or an imported kernel's name; default
/// `vms.default_kernel`), `"initrd"` (path), `"cmdline"` (extra kernel arguments), `"cpus"`,
/// `"memory"` (`"512M"`), `"disk_size"` (`"10G"`), `"networks"` (array), `"ports"` (array of
/// `"HOST:GUEST[/tcp|udp]"`), `"machine"` (`"microvm"` or `"q35"`), `"hugepages"` (bool). A kernel
/// profile that is not installed is `VOLT_ERR_DEPENDENCY`; an unknown kernel name, image or disk
/// file `VOLT_ERR_NOT_FOUND`; memory larger than the host's `VOLT_ERR_RESOURCE`; a disk that is
/// not qcow2 `VOLT_ERR_USAGE`; a taken name `VOLT_ERR_ALREADY_EXISTS`. Nothing is left of a
/// refused create. On success `*json_out`, unless NULL, receives the VM's record.
///
/// # Safety
/// `store` is NULL or a live handle; `name` and `options` are NULL or NUL-terminated strings;
/// `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_vm_create(
    store: *const volt_store_t,
    name: *const c_char,
    options: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller's guarantees.
        let (name, vms) = unsafe { vm_call(store, name) }?;
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let options = unsafe { arg_opt_str(options, "options") }?;
        let info = vms.create(name, &vm_options(options)?)?;
        // SAFETY: `json_out` is NULL or writable by the caller's guarantee.
        unsafe { write_json_opt(json_out, &info) }
    })
}

/// Start VM `name`: the accelerator (KVM where a probe shows it runs guests, TCG otherwise), its
/// TAP devices, then its supervisor, which starts QEMU; returns once QMP answers. Starting a
/// running VM is `VOLT_ERR_CONFLICT`. On success `*json_out`, unless NULL, receives the record.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_vm_start(
    store: *const volt_store_t,
    name: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller's guarantees.
        let (name, vms) = unsafe { vm_call(store, name) }?;
        let info = vms.start(name)?;
        // SAFETY: `json_out` is NULL or writable by the caller's guarantee.
        unsafe { write_json_opt(json_out, &info) }
    })
}

/// Stop VM `name`: the ACPI power button, up to `timeout_secs` seconds (negative: the configured
/// `vms.stop_timeout`) for the guest to power off, then QMP `quit`. Stopping a stopped VM is
/// `VOLT_ERR_CONFLICT`. On success `*json_out`, unless NULL, receives the record.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_vm_stop(
    store: *const volt_store_t,
    name: *const c_char,
    timeout_secs: i64,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller's guarantees.
        let (name, vms) = unsafe { vm_call(store, name) }?;
        let info = vms.stop(name, opt_arg::<u64>(timeout_secs, "timeout_secs")?)?;
        // SAFETY: `json_out` is NULL or writable by the caller's guarantee.
        unsafe { write_json_opt(json_out, &info) }
    })
}

/// Stop VM `name` if it runs (`timeout_secs` as for `volt_vm_stop`), then start it.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_vm_restart(
    store: *const volt_store_t,
    name: *const c_char,
    timeout_secs: i64,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller's guarantees.
        let (name, vms) = unsafe { vm_call(store, name) }?;
        let info = vms.restart(name, opt_arg::<u64>(timeout_secs, "timeout_secs")?)?;
        // SAFETY: `json_out` is NULL or writable by the caller's guarantee.
        unsafe { write_json_opt(json_out, &info) }
    })
}

/// Send `signal` to VM `name`'s QEMU (its supervisor records the VM failed, e.g. `qemu killed by
/// SIGKILL`). A VM that is not running is `VOLT_ERR_CONFLICT`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_vm_kill(
    store: *const volt_store_t,
    name: *const c_char,
    signal: i32,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller's guarantees.
        let (name, vms) = unsafe { vm_call(store, name) }?;
        if signal <= 0 || signal > 64 {
            return Err(volt_error_t::usage(format!("signal {signal} is out of range")));
        }
        let info = vms.kill(name, signal)?;
        // SAFETY: `json_out` is NULL or writable by the caller's guarantee.
        unsafe { write_json_opt(json_out, &info) }
    })
}

/// Pause VM `name`'s vCPUs (QMP `stop`); its status becomes `"paused"` from QEMU's STOP event.
/// Pausing a VM that is not running is `VOLT_ERR_CONFLICT`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_vm_pause(
    store: *const volt_store_t,
    name: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller's guarantees.
        let (name, vms) = unsafe { vm_call(store, name) }?;
        let info = vms.pause(name)?;
        // SAFETY: `json_out` is NULL or writable by the caller's guarantee.
        unsafe { write_json_opt(json_out, &info) }
    })
}

/// Resume a paused VM (QMP `cont`). A VM that is not paused is `VOLT_ERR_CONFLICT`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_vm_resume(
    store: *const volt_store_t,
    name: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller's guarantees.
        let (name, vms) = unsafe { vm_call(store, name) }?;
        let info = vms.resume(name)?;
        // SAFETY: `json_out` is NULL or writable by the caller's guarantee.
        unsafe { write_json_opt(json_out, &info) }
    })
}

/// Delete VM `name`: its disk, snapshots, addresses, forwards and unit. A running VM needs
/// `force` non-zero (it is killed first), else `VOLT_ERR_CONFLICT`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn volt_vm_delete(
    store: *const volt_store_t,
    name: *const c_char,
    force: i32,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller's guarantees.
        let (name, vms) = unsafe { vm_call(store, name) }?;
        vms.delete(name, force != 0)?;
        Ok(())
    })
}

/// VM `name`'s record: `{"config", "status", "state", "endpoints", "vcpus", "disk", "snapshots",
/// "unit", "console", "serial_log"}` (see docs/vms.md), to free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_vm_inspect(
    store: *const volt_store_t,
    name: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller's guarantees.
        let (name, vms) = unsafe { vm_call(store, name) }?;
        check_out(json_out, "json_out")?;
        let info = vms.inspect(name)?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &info) }
    })
}

/// All VMs, sorted by name: an array of records, to free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_vm_list(store: *const volt_store_t, json_out: *mut *mut c_char) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        check_out(json_out, "json_out")?;
        let list = store.volt().vms()?.list()?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &list) }
    })
}

/// The serial console log of VM `name`: its last `tail` lines (negative: all), as one string in
/// `*text_out`, to free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `text_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_vm_logs(
    store: *const volt_store_t,
    name: *const c_char,
    tail: i64,
    text_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller's guarantees.
        let (name, vms) = unsafe { vm_call(store, name) }?;
        check_out(text_out, "text_out")?;
        let text = vms.logs(name, opt_arg::<usize>(tail, "tail")?)?;
        // SAFETY: `text_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { crate::store::put_out(text_out, crate::c_string(text).into_raw()) };
        Ok(())
    })
}

/// QEMU's own run state of VM `name` (QMP `query-status`: `"running"`, `"paused"`, …) in
/// `*text_out`, to free with `volt_string_free`. A VM that is not running is `VOLT_ERR_CONFLICT`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `text_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_vm_query_status(
    store: *const volt_store_t,
    name: *const c_char,
    text_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller's guarantees.
        let (name, vms) = unsafe { vm_call(store, name) }?;
        check_out(text_out, "text_out")?;
        let s = vms.query_status(name)?;
        // SAFETY: `text_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { crate::store::put_out(text_out, crate::c_string(s).into_raw()) };
        Ok(())
    })
}

/// Write `input` to VM `name`'s serial console and collect what the guest prints until `until`
/// (NULL: just for the whole time) appears or `timeout_ms` passes; `until` never appearing is
/// `VOLT_ERR_TIMEOUT`. The output goes to `*text_out`, to free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `name`, `input` and `until` are NULL or NUL-terminated
/// strings; `text_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_vm_console_exchange(
    store: *const volt_store_t,
    name: *const c_char,
    input: *const c_char,
    until: *const c_char,
    timeout_ms: i64,
    text_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller's guarantees.
        let (name, vms) = unsafe { vm_call(store, name) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (input, until) = unsafe { (arg_str(input, "input")?, arg_opt_str(until, "until")?) };
        check_out(text_out, "text_out")?;
        let ms = opt_arg::<u64>(timeout_ms, "timeout_ms")?.unwrap_or(10_000);
        let out = vms.console_exchange(name, input, until, Duration::from_millis(ms))?;
        // SAFETY: `text_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { crate::store::put_out(text_out, crate::c_string(out).into_raw()) };
        Ok(())
    })
}

/// Snapshot VM `name`'s disk as `snapshot` (a running VM is paused for the copy). A taken name is
/// `VOLT_ERR_ALREADY_EXISTS`. On success `*json_out`, unless NULL, receives the snapshot's record
/// (`{"name","created","size","live"}`).
///
/// # Safety
/// `store` is NULL or a live handle; `name` and `snapshot` are NULL or NUL-terminated strings;
/// `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_vm_snapshot_create(
    store: *const volt_store_t,
    name: *const c_char,
    snapshot: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller's guarantees.
        let (name, vms) = unsafe { vm_call(store, name) }?;
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let snapshot = unsafe { arg_str(snapshot, "snapshot") }?;
        let info = vms.snapshot_create(name, snapshot)?;
        // SAFETY: `json_out` is NULL or writable by the caller's guarantee.
        unsafe { write_json_opt(json_out, &info) }
    })
}

/// VM `name`'s snapshots, oldest first: an array of snapshot records, to free with
/// `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_vm_snapshot_list(
    store: *const volt_store_t,
    name: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller's guarantees.
        let (name, vms) = unsafe { vm_call(store, name) }?;
        check_out(json_out, "json_out")?;
        let list = vms.snapshot_list(name)?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &list) }
    })
}

/// Put stopped VM `name`'s disk back to `snapshot`. A running VM is `VOLT_ERR_CONFLICT`; an
/// unknown snapshot `VOLT_ERR_NOT_FOUND`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` and `snapshot` are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn volt_vm_snapshot_restore(
    store: *const volt_store_t,
    name: *const c_char,
    snapshot: *const c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller's guarantees.
        let (name, vms) = unsafe { vm_call(store, name) }?;
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let snapshot = unsafe { arg_str(snapshot, "snapshot") }?;
        vms.snapshot_restore(name, snapshot)?;
        Ok(())
    })
}

/// Delete snapshot `snapshot` of VM `name`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` and `snapshot` are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn volt_vm_snapshot_delete(
    store: *const volt_store_t,
    name: *const c_char,
    snapshot: *const c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller's guarantees.
        let (name, vms) = unsafe { vm_call(store, name) }?;
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let snapshot = unsafe { arg_str(snapshot, "snapshot") }?;
        vms.snapshot_delete(name, snapshot)?;
        Ok(())
    })
}

/// Pin VM `name`'s vCPU threads to the host CPUs in `cpus` (`"0-1,3"`; `"all"` or `""` unpins),
/// now if it runs and at every start. A CPU the host lacks is `VOLT_ERR_USAGE`. On success
/// `*json_out`, unless NULL, receives the record (`vcpus[].affinity` shows the pinning).
///
/// # Safety
/// `store` is NULL or a live handle; `name` and `cpus` are NULL or NUL-terminated strings;
/// `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_vm_pin_cpus(
    store: *const volt_store_t,
    name: *const c_char,
    cpus: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller's guarantees.
        let (name, vms) = unsafe { vm_call(store, name) }?;
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let cpus = unsafe { arg_str(cpus, "cpus") }?;
        let list = if cpus.is_empty() || cpus == "all" { Vec::new() } else { parse_cpu_list(cpus)? };
        let info = vms.pin_cpus(name, &list)?;
        // SAFETY: `json_out` is NULL or writable by the caller's guarantee.
        unsafe { write_json_opt(json_out, &info) }
    })
}

/// Installed guest kernels, by name: an array of `{"name","profile","version","source","size",
/// "initrd","added","cmdline"}`, to free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_kernel_list(store: *const volt_store_t, json_out: *mut *mut c_char) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        check_out(json_out, "json_out")?;
        let list = store.volt().vms()?.kernels().list().map_err(volt_core::Error::from)?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &list) }
    })
}

/// Import kernel image `file` (a bzImage) as `name`, with initramfs `initrd` (NULL: none) and
/// extra kernel arguments `cmdline` (NULL: none). A file that is not a Linux boot image is
/// `VOLT_ERR_USAGE`; a taken name `VOLT_ERR_ALREADY_EXISTS`. On success `*json_out`, unless NULL,
/// receives the kernel's record.
///
/// # Safety
/// `store` is NULL or a live handle; the strings are NULL or NUL-terminated; `json_out` is NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_kernel_import(
    store: *const volt_store_t,
    file: *const c_char,
    name: *const c_char,
    initrd: *const c_char,
    cmdline: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller's guarantees.
        let (name, vms) = unsafe { vm_call(store, name) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (file, initrd, cmdline) =
            unsafe { (arg_str(file, "file")?, arg_opt_str(initrd, "initrd")?, arg_opt_str(cmdline, "cmdline")?) };
        let info = vms.kernel_import(file.as_ref(), name, initrd.map(std::path::Path::new), cmdline.unwrap_or(""))?;
        // SAFETY: `json_out` is NULL or writable by the caller's guarantee.
        unsafe { write_json_opt(json_out, &info) }
    })
}

/// Remove kernel `name`; one a VM uses is `VOLT_ERR_CONFLICT`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn volt_kernel_remove(store: *const volt_store_t, name: *const c_char) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller's guarantees.
        let (name, vms) = unsafe { vm_call(store, name) }?;
        vms.kernel_remove(name)?;
        Ok(())
    })
}

/// Install profile `profile`'s kernel: `server`, `dev`, `desktop`, `rt` from Debian's kernel
/// packages; `minimal` compiled from Debian's kernel source (minutes; needs make, gcc, flex,
/// bison, bc and libelf-dev). Downloads with apt-get. On success `*json_out`, unless NULL,
/// receives the kernel's record.
///
/// # Safety
/// `store` is NULL or a live handle; `profile` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_kernel_build(
    store: *const volt_store_t,
    profile: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller's guarantees.
        let (profile, vms) = unsafe { vm_call(store, profile) }?;
        let info = vms.kernel_build(profile)?;
        // SAFETY: `json_out` is NULL or writable by the caller's guarantee.
        unsafe { write_json_opt(json_out, &info) }
    })
}
