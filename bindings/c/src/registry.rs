//! The registry: `volt_registry_t` (Volt's OCI Distribution server, running in the background on
//! its own runtime) and bearer tokens for it.

use std::ffi::c_char;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use volt_core::ErrorKind;
use volt_registry::{Action, RunningRegistry, ServeOptions};

use crate::error::{volt_error_t, Result};
use crate::store::{put_out, store_arg, volt_store_t};
use crate::{arg_opt_str, arg_str, check_out};

/// How long `volt_registry_free` waits for the runtime's threads to finish.
const FREE_TIMEOUT: Duration = Duration::from_secs(5);

/// The subject recorded in tokens made by `volt_registry_token_create`.
const TOKEN_SUBJECT: &str = "libvolt";

/// A registry server running in the background. Opaque: create with `volt_registry_start`,
/// stop with `volt_registry_stop`, free with `volt_registry_free`. It has its own threads and
/// does not need the store handle it was started from after `volt_registry_start` returns.
#[allow(non_camel_case_types)]
pub struct volt_registry_t {
    running: Mutex<Option<RunningRegistry>>,
    addr: SocketAddr,
    url: String,
    /// The runtime serving requests; `None` only while being dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl volt_registry_t {
    /// Stop accepting connections, give requests in flight `grace`, and wait until the server
    /// has stopped. Does nothing once stopped.
    fn stop(&self, grace: Duration) -> Result<()> {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner).take();
        let (Some(running), Some(runtime)) = (running, self.runtime.as_ref()) else { return Ok(()) };
        running.shutdown(grace);
        runtime.block_on(running.wait()).map_err(volt_error_t::from)
    }
}

impl Drop for volt_registry_t {
    fn drop(&mut self) {
        // An error from a server that already failed is of no use to anyone here.
        let _ = self.stop(Duration::ZERO);
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(FREE_TIMEOUT);
        }
    }
}

/// Borrow the registry handle argument.
///
/// # Safety
/// `p` is NULL or a handle from `volt_registry_start` that is not freed while the borrow lives.
unsafe fn registry_arg<'a>(p: *const volt_registry_t) -> Result<&'a volt_registry_t> {
    // SAFETY: the caller guarantees `p` is NULL or a live handle.
    unsafe { p.as_ref() }.ok_or_else(|| volt_error_t::null_argument("registry"))
}

fn new_server_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("volt-registry")
        .build()
        .map_err(|e| volt_error_t::new(ErrorKind::General, format!("cannot start the registry runtime: {e}")))
}

/// Start Volt's OCI registry serving the store of `store` (its images' blobs and manifests are
/// shared with it). `bind` is an `IP:PORT` address (`"127.0.0.1:0"` picks a free port; NULL
/// means `127.0.0.1:5000`). `tls_cert` and `tls_key` are PEM files to serve HTTPS; give both or
/// neither (NULL: plain HTTP). On success `*out` receives a running registry, to stop with
/// `volt_registry_stop` and free with `volt_registry_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `bind`, `tls_cert` and `tls_key` are NULL or NUL-terminated
/// strings; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_registry_start(
    store: *const volt_store_t,
    bind: *const c_char,
    tls_cert: *const c_char,
    tls_key: *const c_char,
    out: *mut *mut volt_registry_t,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (bind, cert, key) = unsafe {
            (arg_opt_str(bind, "bind")?, arg_opt_str(tls_cert, "tls_cert")?, arg_opt_str(tls_key, "tls_key")?)
        };
        check_out(out, "out")?;
        let mut opts = ServeOptions::default();
        if let Some(b) = bind {
            let addr = b
                .parse::<SocketAddr>()
                .map_err(|e| volt_error_t::usage(format!("bind {b:?}: expected IP:PORT such as 127.0.0.1:5000 ({e})")))?;
            opts = opts.bind(addr);
        }
        match (cert, key) {
            (None, None) => {}
            (Some(c), Some(k)) => opts = opts.tls(PathBuf::from(c), PathBuf::from(k)),
            _ => return Err(volt_error_t::usage("give both tls_cert and tls_key, or neither")),
        }
        let runtime = new_server_runtime()?;
        let running = runtime.block_on(volt_registry::start(store.volt(), opts))?;
        let handle = volt_registry_t {
            addr: running.addr(),
            url: running.url(),
            running: Mutex::new(Some(running)),
            runtime: Some(runtime),
        };
        // SAFETY: `out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { put_out(out, Box::into_raw(Box::new(handle))) };
        Ok(())
    })
}

/// The registry's base URL, e.g. "http://127.0.0.1:5000" (still answered after a stop). The
/// string is yours: free it with `volt_string_free`. NULL for a NULL handle.
///
/// # Safety
/// `registry` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn volt_registry_url(registry: *const volt_registry_t) -> *mut c_char {
    ffi_panic_boundary!({
        // SAFETY: the caller guarantees `registry` is NULL or a live handle.
        match unsafe { registry.as_ref() } {
            Some(r) => crate::c_string(r.url.clone()).into_raw(),
            None => std::ptr::null_mut(),
        }
    })
}

/// The TCP port the registry listens on (the one picked when started on port 0). 0 for a NULL
/// handle.
///
/// # Safety
/// `registry` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn volt_registry_port(registry: *const volt_registry_t) -> u16 {
    ffi_panic_boundary!({
        // SAFETY: the caller guarantees `registry` is NULL or a live handle.
        unsafe { registry.as_ref() }.map_or(0, |r| r.addr.port())
    })
}

/// Stop the registry: stop accepting connections, let requests in flight finish within
/// `grace_ms` milliseconds (then close them), and wait until the server has stopped. Stopping
/// a stopped registry succeeds and does nothing. The handle still needs `volt_registry_free`.
///
/// # Safety
/// `registry` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn volt_registry_stop(registry: *mut volt_registry_t, grace_ms: u64) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `registry` is NULL or a live handle.
        let registry = unsafe { registry_arg(registry) }?;
        registry.stop(Duration::from_millis(grace_ms))
    })
}

/// Free a registry handle, stopping the server first if it still runs (without a grace
/// period). NULL is accepted.
///
/// # Safety
/// `registry` is NULL or a handle from `volt_registry_start`, not used again afterwards and not
/// in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn volt_registry_free(registry: *mut volt_registry_t) {
    ffi_panic_boundary!({
        if !registry.is_null() {
            // SAFETY: the caller guarantees `registry` came from `Box::into_raw` in
            // `volt_registry_start` and is freed once.
            drop(unsafe { Box::from_raw(registry) });
        }
    })
}

/// Make a bearer token for registries started on this store, granting `actions` (comma
/// separated: "pull", "push", "delete", or "*" for all; NULL means "pull") on each of the
/// `n_repos` repositories in `repos` (a repository name; `NAME/` followed by `*` for everything
/// under `NAME/`; or `*` for all) for `ttl` ("90s", "15m", "1h", "7d"; NULL means "1h"). On
/// success `*token_out` receives the token, to free with `volt_string_free`. The token is a
/// secret: do not log it.
///
/// # Safety
/// `store` is NULL or a live handle; `repos` is NULL or points to `n_repos` NULL-or-NUL-
/// terminated strings; `actions` and `ttl` are NULL or NUL-terminated strings; `token_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_registry_token_create(
    store: *const volt_store_t,
    repos: *const *const c_char,
    n_repos: usize,
    actions: *const c_char,
    ttl: *const c_char,
    token_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (actions, ttl) = unsafe { (arg_opt_str(actions, "actions")?, arg_opt_str(ttl, "ttl")?) };
        check_out(token_out, "token_out")?;
        let repos: &[*const c_char] = if n_repos == 0 {
            &[]
        } else if repos.is_null() {
            return Err(volt_error_t::null_argument("repos"));
        } else {
            // SAFETY: non-NULL (checked); the caller guarantees `n_repos` readable pointers.
            unsafe { std::slice::from_raw_parts(repos, n_repos) }
        };
        let repos = repos
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                // SAFETY: the caller guarantees each entry is NULL or a NUL-terminated string.
                unsafe { arg_str(p, &format!("repos[{i}]")) }.map(str::to_string)
            })
            .collect::<Result<Vec<String>>>()?;
        let actions = Action::parse_list(actions.unwrap_or("pull"))
            .map_err(|e| volt_error_t::usage(format!("actions: {e}")))?;
        let ttl = volt_registry::auth::parse_ttl(ttl.unwrap_or("1h"))
            .map_err(|e| volt_error_t::usage(format!("ttl: {e}")))?;
        let token = volt_registry::create_token(store.volt(), &repos, &actions, ttl, TOKEN_SUBJECT)?;
        // SAFETY: `token_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { put_out(token_out, crate::c_string(token).into_raw()) };
        Ok(())
    })
}
