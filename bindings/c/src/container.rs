//! Containers (Voltainer): `volt_container_*` on a store handle (create, start, stop, restart,
//! kill, delete, inspect, list, exec, logs, wait, update, stats, top, run; connect and
//! disconnect are in `network.rs`) and named volumes (`volt_volume_*`). Records cross as JSON strings; captured output as byte buffers.

use std::ffi::{c_char, c_int};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use volt_core::container::{parse_memory, ContainerInfo, Containers, CreateOptions, Limits, LogQuery};
use volt_core::network::{check_network_name, PortMap};

use crate::error::{volt_error_t, Result};
use crate::store::{put_out, store_and_name, store_arg, volt_store_t, write_json};
use crate::{arg_opt_str, arg_str, check_out};

/// A memory limit in the options JSON: bytes, or a size string such as `"512M"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Memory {
    Bytes(u64),
    Text(String),
}

impl Memory {
    fn bytes(&self) -> Result<u64> {
        let r = match self {
            Memory::Bytes(n) => parse_memory(&n.to_string()),
            Memory::Text(s) => parse_memory(s),
        };
        r.map_err(volt_error_t::from)
    }
}

/// The options object of `volt_container_create` and `volt_container_run`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Options {
    command: Vec<String>,
    env: Vec<String>,
    volumes: Vec<String>,
    workdir: Option<String>,
    user: Option<String>,
    hostname: Option<String>,
    memory: Option<Memory>,
    cpu: Option<u32>,
    pids: Option<u32>,
    restart: Option<String>,
    copy_rootfs: bool,
    networks: Vec<String>,
    ports: Vec<String>,
}

/// Parse the options JSON (NULL or `""`: no options) into the SDK's create options; volume
/// arguments are resolved (named volumes created) here.
fn create_options(c: &Containers, json: Option<&str>) -> Result<CreateOptions> {
    let o: Options = match json.map(str::trim) {
        None | Some("") => Options::default(),
        Some(text) => serde_json::from_str(text).map_err(|e| volt_error_t::usage(format!("options: {e}")))?,
    };
    let mut opts = CreateOptions::default();
    opts.limits = Limits { memory: o.memory.as_ref().map(Memory::bytes).transpose()?, cpu: o.cpu, pids: o.pids };
    opts.limits.validate()?;
    if let Some(r) = &o.restart {
        opts.restart = r.parse()?;
    }
    for e in &o.env {
        volt_core::container::check_env(e)?;
    }
    for n in &o.networks {
        check_network_name(n)?;
    }
    opts.ports = o.ports.iter().map(|p| p.parse::<PortMap>()).collect::<volt_core::Result<_>>()?;
    opts.command = o.command;
    opts.env = o.env;
    opts.workdir = o.workdir;
    opts.user = o.user;
    opts.hostname = o.hostname;
    opts.copy_rootfs = o.copy_rootfs;
    opts.networks = o.networks;
    for v in &o.volumes {
        opts.mounts.push(c.mount_from_arg(v)?);
    }
    Ok(opts)
}

/// Write `value` as JSON to `out` unless `out` is NULL (lifecycle calls whose record is optional).
///
/// # Safety
/// `out` is NULL or aligned and writable.
pub(crate) unsafe fn write_json_opt(out: *mut *mut c_char, value: &impl Serialize) -> Result<()> {
    if out.is_null() {
        return Ok(());
    }
    // SAFETY: non-NULL (checked); writable by the caller's guarantee.
    unsafe { write_json(out, value) }
}

/// Hand a byte buffer to C (freed by `volt_bytes_free(data, len)`).
///
/// # Safety
/// `data_out` and `len_out` are non-NULL, aligned and writable.
unsafe fn put_bytes(data_out: *mut *mut u8, len_out: *mut usize, bytes: Vec<u8>) {
    let bytes = bytes.into_boxed_slice();
    let len = bytes.len();
    let data = Box::into_raw(bytes).cast::<u8>();
    // SAFETY: guaranteed by the caller.
    unsafe {
        put_out(data_out, data);
        put_out(len_out, len);
    }
}

/// An `int64_t` argument that means "absent" when negative, as `T` (too large: a usage error).
pub(crate) fn opt_arg<T: TryFrom<i64>>(v: i64, name: &str) -> Result<Option<T>> {
    if v < 0 {
        return Ok(None);
    }
    T::try_from(v).map(Some).map_err(|_| volt_error_t::usage(format!("{name} {v} is out of range")))
}

/// What `volt_container_run` reports.
#[derive(Serialize)]
struct RunReport<'a> {
    info: &'a ContainerInfo,
    lines: Vec<String>,
}

/// Create a stopped container named `name` (NULL: a generated `adjective_noun` name) from image
/// `image`. `options` is NULL or a JSON object with any of: `"command"` (array of strings; the
/// image's entrypoint and cmd when absent), `"env"` (array of `"KEY=value"`), `"volumes"` (array
/// of `"SOURCE:/path[:ro]"`, SOURCE a host path starting with `/` or `.`, or a named volume,
/// created if missing), `"workdir"`, `"user"`, `"hostname"` (strings), `"memory"` (bytes, or a
/// size such as `"512M"`), `"cpu"` (percent of one CPU), `"pids"`, `"restart"` (`"no"`,
/// `"on-failure"` or `"always"`), `"copy_rootfs"` (bool), `"networks"` (array of network names:
/// `eth0`, `eth1`, … in this order, an address on each reserved now; none: the host's network)
/// and `"ports"` (array of `"HOSTPORT:PORT[/tcp|udp]"` forwarded to its address on the first
/// network). An unknown key, a bad name or bad option is `VOLT_ERR_USAGE`; an unknown image or
/// network `VOLT_ERR_NOT_FOUND`; a taken name `VOLT_ERR_ALREADY_EXISTS`; a host port forwarded
/// already `VOLT_ERR_CONFLICT`. On success `*json_out` receives the container record
/// (`{"config","state","rootfs","endpoints"}`), to free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `name`, `image` and `options` are NULL or NUL-terminated
/// strings; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_container_create(
    store: *const volt_store_t,
    name: *const c_char,
    image: *const c_char,
    options: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (name, image, options) =
            unsafe { (arg_opt_str(name, "name")?, arg_str(image, "image")?, arg_opt_str(options, "options")?) };
        check_out(json_out, "json_out")?;
        let c = store.containers()?;
        let opts = create_options(c, options)?;
        let info = c.create(name, image, &opts)?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &info) }
    })
}

/// Start container `name` (stopped or failed); returns once it runs. Starting a running
/// container is `VOLT_ERR_CONFLICT`. On success `*json_out`, unless NULL, receives the record.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_container_start(
    store: *const volt_store_t,
    name: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle and `name` NULL or a
        // NUL-terminated string.
        let (store, name) = unsafe { store_and_name(store, name) }?;
        let info = store.containers()?.start(name)?;
        // SAFETY: `json_out` is NULL or writable by the caller's guarantee.
        unsafe { write_json_opt(json_out, &info) }
    })
}

/// Stop running container `name`: SIGTERM to the workload, SIGKILL after `timeout_secs` seconds
/// (negative: the configured `containers.stop_timeout`). Stopping a stopped container is
/// `VOLT_ERR_CONFLICT`. On success `*json_out`, unless NULL, receives the record.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_container_stop(
    store: *const volt_store_t,
    name: *const c_char,
    timeout_secs: i64,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle and `name` NULL or a
        // NUL-terminated string.
        let (store, name) = unsafe { store_and_name(store, name) }?;
        let timeout = opt_arg::<u64>(timeout_secs, "timeout_secs")?;
        let info = store.containers()?.stop(name, timeout)?;
        // SAFETY: `json_out` is NULL or writable by the caller's guarantee.
        unsafe { write_json_opt(json_out, &info) }
    })
}

/// Stop container `name` if it runs (`timeout_secs` as for `volt_container_stop`), then start
/// it. On success `*json_out`, unless NULL, receives the record.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_container_restart(
    store: *const volt_store_t,
    name: *const c_char,
    timeout_secs: i64,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle and `name` NULL or a
        // NUL-terminated string.
        let (store, name) = unsafe { store_and_name(store, name) }?;
        let timeout = opt_arg::<u64>(timeout_secs, "timeout_secs")?;
        let info = store.containers()?.restart(name, timeout)?;
        // SAFETY: `json_out` is NULL or writable by the caller's guarantee.
        unsafe { write_json_opt(json_out, &info) }
    })
}

/// Send signal `signal` (1 to 64, e.g. 9 for SIGKILL) to the workload of running container
/// `name`. A container that is not running is `VOLT_ERR_CONFLICT`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn volt_container_kill(
    store: *const volt_store_t,
    name: *const c_char,
    signal: c_int,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle and `name` NULL or a
        // NUL-terminated string.
        let (store, name) = unsafe { store_and_name(store, name) }?;
        if !(1..=64).contains(&signal) {
            return Err(volt_error_t::usage(format!("signal {signal}: expected 1 to 64")));
        }
        store.containers()?.kill(name, signal)?;
        Ok(())
    })
}

/// Delete container `name` (its root filesystem and directory; named volumes stay). A running
/// container is `VOLT_ERR_CONFLICT` unless `force`, which stops it first (without grace).
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn volt_container_delete(
    store: *const volt_store_t,
    name: *const c_char,
    force: bool,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle and `name` NULL or a
        // NUL-terminated string.
        let (store, name) = unsafe { store_and_name(store, name) }?;
        store.containers()?.delete(name, force)?;
        Ok(())
    })
}

/// Describe container `name` with its live state. On success `*json_out` receives
/// `{"config","state","rootfs","endpoints"}` (`endpoints`: one `{"network","address",
/// "interface","host_interface"}` per network it is on), to free with `volt_string_free`. An
/// unknown container is `VOLT_ERR_NOT_FOUND`, a malformed name `VOLT_ERR_USAGE`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_container_inspect(
    store: *const volt_store_t,
    name: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle and `name` NULL or a
        // NUL-terminated string.
        let (store, name) = unsafe { store_and_name(store, name) }?;
        check_out(json_out, "json_out")?;
        let info = store.containers()?.inspect(name)?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &info) }
    })
}

/// List all containers, sorted by name. On success `*json_out` receives an array of container
/// records, to free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_container_list(
    store: *const volt_store_t,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        check_out(json_out, "json_out")?;
        let list = store.containers()?.list()?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &list) }
    })
}

/// Run the `argc` arguments of `argv` inside running container `name` (its namespaces, cgroup,
/// environment and working directory) with no input, and capture its output. On success
/// `*status_out` receives the exit status (128+N after signal N) and the two buffers the
/// command's standard output and error, each to free with `volt_bytes_free(data, len)` (an
/// empty output is a non-NULL pointer with length 0). A container that is not running is
/// `VOLT_ERR_CONFLICT`; a command that cannot be found gives status 127, not an error.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `argv` is NULL
/// or points to `argc` NULL-or-NUL-terminated strings; the out pointers are NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn volt_container_exec_output(
    store: *const volt_store_t,
    name: *const c_char,
    argv: *const *const c_char,
    argc: usize,
    status_out: *mut c_int,
    stdout_out: *mut *mut u8,
    stdout_len_out: *mut usize,
    stderr_out: *mut *mut u8,
    stderr_len_out: *mut usize,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle and `name` NULL or a
        // NUL-terminated string.
        let (store, name) = unsafe { store_and_name(store, name) }?;
        check_out(status_out, "status_out")?;
        check_out(stdout_out, "stdout_out")?;
        check_out(stdout_len_out, "stdout_len_out")?;
        check_out(stderr_out, "stderr_out")?;
        check_out(stderr_len_out, "stderr_len_out")?;
        if argc == 0 {
            return Err(volt_error_t::usage("argv is empty: give a command"));
        }
        if argv.is_null() {
            return Err(volt_error_t::null_argument("argv"));
        }
        // SAFETY: non-NULL (checked); the caller guarantees `argc` readable pointers.
        let argv = unsafe { std::slice::from_raw_parts(argv, argc) };
        let argv = argv
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                // SAFETY: the caller guarantees each entry is NULL or a NUL-terminated string.
                unsafe { arg_str(p, &format!("argv[{i}]")) }.map(str::to_string)
            })
            .collect::<Result<Vec<String>>>()?;
        let (status, out, err) = store.containers()?.exec_output(name, &argv)?;
        // SAFETY: all out pointers are non-NULL (checked) and writable by the caller's guarantee.
        unsafe {
            put_out(status_out, status);
            put_bytes(stdout_out, stdout_len_out, out);
            put_bytes(stderr_out, stderr_len_out, err);
        }
        Ok(())
    })
}

/// The log of container `name`: its last `tail` lines (negative: all that are kept) of those
/// written since `since` (NULL: all; else RFC 3339 or an age such as `"10m"`, `"2h"`, `"1d"`;
/// anything else is `VOLT_ERR_USAGE`). On success `*json_out` receives an array of the lines'
/// text (`["hello", ...]`, oldest first), to free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` and `since` are NULL or NUL-terminated strings;
/// `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_container_logs(
    store: *const volt_store_t,
    name: *const c_char,
    tail: i64,
    since: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle and `name` NULL or a
        // NUL-terminated string.
        let (store, name) = unsafe { store_and_name(store, name) }?;
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let since = unsafe { arg_opt_str(since, "since") }?;
        check_out(json_out, "json_out")?;
        let query = LogQuery::parse(opt_arg::<usize>(tail, "tail")?, since)?;
        let lines: Vec<String> = store.containers()?.logs(name, &query)?.into_iter().map(|l| l.text).collect();
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &lines) }
    })
}

/// Wait until container `name` no longer runs, at most `timeout_ms` milliseconds (negative: no
/// limit; 0: just look). Still running at the end is `VOLT_ERR_TIMEOUT`. On success `*json_out`,
/// unless NULL, receives the record (`state.exit_code` is the workload's exit status).
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_container_wait(
    store: *const volt_store_t,
    name: *const c_char,
    timeout_ms: i64,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle and `name` NULL or a
        // NUL-terminated string.
        let (store, name) = unsafe { store_and_name(store, name) }?;
        let timeout = opt_arg::<u64>(timeout_ms, "timeout_ms")?.map(Duration::from_millis);
        let info = store.containers()?.wait(name, timeout)?;
        // SAFETY: `json_out` is NULL or writable by the caller's guarantee.
        unsafe { write_json_opt(json_out, &info) }
    })
}

/// Change the limits of container `name`; a running container's cgroup is updated at once.
/// `memory` is NULL (unchanged) or bytes or a size such as `"512M"`; `cpu` (percent of one CPU)
/// and `pids` are negative to keep the current value. On success `*json_out`, unless NULL,
/// receives the record.
///
/// # Safety
/// `store` is NULL or a live handle; `name` and `memory` are NULL or NUL-terminated strings;
/// `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_container_update(
    store: *const volt_store_t,
    name: *const c_char,
    memory: *const c_char,
    cpu: i64,
    pids: i64,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (name, memory) = unsafe { (arg_str(name, "name")?, arg_opt_str(memory, "memory")?) };
        let memory = memory.map(parse_memory).transpose()?;
        let (cpu, pids) = (opt_arg::<u32>(cpu, "cpu")?, opt_arg::<u32>(pids, "pids")?);
        let info = store.containers()?.update(name, memory, cpu, pids)?;
        // SAFETY: `json_out` is NULL or writable by the caller's guarantee.
        unsafe { write_json_opt(json_out, &info) }
    })
}

/// Usage counters of running container `name`. On success `*json_out` receives
/// `{"cpu_ns","memory","memory_limit","io_read","io_write","pids","throttled_periods",
/// "oom_kills"}`, to free with `volt_string_free`. A container that is not running is
/// `VOLT_ERR_CONFLICT`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_container_stats(
    store: *const volt_store_t,
    name: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle and `name` NULL or a
        // NUL-terminated string.
        let (store, name) = unsafe { store_and_name(store, name) }?;
        check_out(json_out, "json_out")?;
        let stats = store.containers()?.stats(name)?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &stats) }
    })
}

/// CPU, memory, I/O and tasks of every running container, CPU use measured over `interval_ms`
/// milliseconds (the call takes that long). On success `*json_out` receives an array of
/// `{"name","cpu_percent",...}` with the counters of `volt_container_stats`, to free with
/// `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_container_top(
    store: *const volt_store_t,
    interval_ms: u64,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        check_out(json_out, "json_out")?;
        let rows = store.containers()?.top(Duration::from_millis(interval_ms))?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &rows) }
    })
}

/// Create a container (`name`, `image` and `options` as for `volt_container_create`), start it
/// and wait until it ends, collecting its output lines; with `rm` it is deleted afterwards (also
/// when it fails to start). On success `*json_out` receives `{"info":RECORD,"lines":[...]}`,
/// `info.state.exit_code` being the workload's exit status, to free with `volt_string_free`.
/// The calling thread blocks until the container ends.
///
/// # Safety
/// `store` is NULL or a live handle; `name`, `image` and `options` are NULL or NUL-terminated
/// strings; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_container_run(
    store: *const volt_store_t,
    name: *const c_char,
    image: *const c_char,
    options: *const c_char,
    rm: bool,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (name, image, options) =
            unsafe { (arg_opt_str(name, "name")?, arg_str(image, "image")?, arg_opt_str(options, "options")?) };
        check_out(json_out, "json_out")?;
        let c = store.containers()?;
        let opts = create_options(c, options)?;
        let mut lines = Vec::new();
        let info = c.run(name, image, &opts, false, rm, &mut |l| lines.push(l.text.clone()))?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &RunReport { info: &info, lines }) }
    })
}

/// Create the named volume `name` (same rules as container names). An existing one is
/// `VOLT_ERR_ALREADY_EXISTS`. On success `*json_out` receives `{"name","created","path",
/// "used_by"}`, to free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_volume_create(
    store: *const volt_store_t,
    name: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle and `name` NULL or a
        // NUL-terminated string.
        let (store, name) = unsafe { store_and_name(store, name) }?;
        check_out(json_out, "json_out")?;
        let volume = store.containers()?.volumes().create(name)?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &volume) }
    })
}

/// List named volumes, sorted by name. On success `*json_out` receives an array of volume
/// records, to free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_volume_list(store: *const volt_store_t, json_out: *mut *mut c_char) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        check_out(json_out, "json_out")?;
        let list = store.containers()?.volumes().list()?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &list) }
    })
}

/// Describe volume `name`, with the containers whose configuration mounts it (`used_by`). On
/// success `*json_out` receives the volume record, to free with `volt_string_free`. An unknown
/// volume is `VOLT_ERR_NOT_FOUND`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_volume_inspect(
    store: *const volt_store_t,
    name: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle and `name` NULL or a
        // NUL-terminated string.
        let (store, name) = unsafe { store_and_name(store, name) }?;
        check_out(json_out, "json_out")?;
        let volume = store.containers()?.volumes().inspect(name)?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &volume) }
    })
}

/// Remove volume `name` and its data. `VOLT_ERR_CONFLICT` while a container's configuration
/// mounts it; `VOLT_ERR_NOT_FOUND` if there is no such volume.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn volt_volume_remove(store: *const volt_store_t, name: *const c_char) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle and `name` NULL or a
        // NUL-terminated string.
        let (store, name) = unsafe { store_and_name(store, name) }?;
        store.containers()?.volumes().remove(name)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_refuse_unknown_keys() {
        let o: Options = serde_json::from_str(
            r#"{"command":["sh","-c","true"],"env":["A=1"],"memory":"64M","cpu":50,"pids":10,"restart":"always"}"#,
        )
        .unwrap();
        assert_eq!(o.command, ["sh", "-c", "true"]);
        assert_eq!(o.memory.as_ref().unwrap().bytes().unwrap(), 64 << 20);
        let o: Options = serde_json::from_str(r#"{"memory":1073741824}"#).unwrap();
        assert_eq!(o.memory.unwrap().bytes().unwrap(), 1 << 30);
        let o: Options = serde_json::from_str(r#"{"memory":100}"#).unwrap();
        assert!(o.memory.unwrap().bytes().is_err(), "below the 1 MiB minimum");
        assert!(serde_json::from_str::<Options>(r#"{"comand":["x"]}"#).is_err());
        assert!(serde_json::from_str::<Options>(r#"{"cpu":-1}"#).is_err());
        let o: Options = serde_json::from_str(r#"{"networks":["front","back"],"ports":["8080:80","53/udp"]}"#).unwrap();
        assert_eq!(o.networks, ["front", "back"]);
        assert_eq!(o.ports, ["8080:80", "53/udp"]);
    }

    #[test]
    fn negative_means_absent() {
        assert_eq!(opt_arg::<u64>(-1, "t").unwrap(), None);
        assert_eq!(opt_arg::<u32>(7, "t").unwrap(), Some(7));
        assert!(opt_arg::<u32>(i64::from(u32::MAX) + 1, "t").is_err());
    }
}
