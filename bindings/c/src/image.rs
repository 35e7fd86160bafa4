//! Images: `volt_image_*` on a store handle (import, list, inspect, tag, remove, export, pull,
//! push, container root filesystems) and the progress callback the long operations take.
//! Records and reports cross as JSON strings.

use std::ffi::{c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use volt_core::image::{Credentials, ImageName, Images, Phase, Progress, ProgressFn, RemoteOptions};

use crate::error::{volt_error_t, Result};
use crate::store::{put_out, store_and_name, store_arg, volt_store_t, write_json};
use crate::{arg_opt_str, arg_str, check_out};

/// Phases reported in `volt_progress_t.phase`. The values are fixed and never renumbered.
#[repr(C)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum volt_progress_phase_t {
    /// Reading the input (an archive or a directory) into the store.
    VOLT_PHASE_READ = 1,
    /// Downloading a blob (`done`/`total` in bytes).
    VOLT_PHASE_DOWNLOAD = 2,
    /// Uploading a blob (`done`/`total` in bytes).
    VOLT_PHASE_UPLOAD = 3,
    /// Applying layers into the image tree (`done`/`total` in layers).
    VOLT_PHASE_APPLY = 4,
    /// Writing an export (`done`/`total` in bytes).
    VOLT_PHASE_WRITE = 5,
    /// A blob that was already present: nothing transferred.
    VOLT_PHASE_SKIP = 6,
}

impl From<Phase> for volt_progress_phase_t {
    fn from(p: Phase) -> Self {
        use volt_progress_phase_t as C;
        match p {
            Phase::Read => C::VOLT_PHASE_READ,
            Phase::Download => C::VOLT_PHASE_DOWNLOAD,
            Phase::Upload => C::VOLT_PHASE_UPLOAD,
            Phase::Apply => C::VOLT_PHASE_APPLY,
            Phase::Write => C::VOLT_PHASE_WRITE,
            Phase::Skip => C::VOLT_PHASE_SKIP,
        }
    }
}

/// One progress report, passed to a `volt_progress_fn`. It and `item` are valid only during
/// the callback: copy what you want to keep.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct volt_progress_t {
    /// A `volt_progress_phase_t` value.
    pub phase: c_int,
    /// The blob digest or path concerned (UTF-8, NUL-terminated).
    pub item: *const c_char,
    /// Units done (bytes, or layers for `VOLT_PHASE_APPLY`).
    pub done: u64,
    /// Units in all; meaningful only when `has_total` is true (0 otherwise).
    pub total: u64,
    /// Whether `total` is known.
    pub has_total: bool,
}

/// A progress callback: `user_data` is the pointer given next to it, passed through as is.
/// It may be called from a thread other than the caller's, but never after the call that took
/// it has returned and never twice at the same time. Keep it cheap, and do not call libvolt
/// from it.
#[allow(non_camel_case_types)]
pub type volt_progress_fn = Option<unsafe extern "C" fn(progress: *const volt_progress_t, user_data: *mut c_void)>;

/// A C callback and its user data.
struct CCallback {
    f: unsafe extern "C" fn(*const volt_progress_t, *mut c_void),
    user_data: *mut c_void,
}

// SAFETY: `user_data` is never dereferenced by Rust, only handed back to `f`. The exported
// functions that take a callback document (volt.h, docs/c-api.md) that it may be called from
// another thread, so the caller vouches that `f` and `user_data` may be used from any thread for
// the duration of the call; `ProgressGate` serialises the calls and ends them before that call
// returns.
unsafe impl Send for CCallback {}
// SAFETY: as for `Send`: shared access only ever calls `f(…, user_data)`, under the gate's lock.
unsafe impl Sync for CCallback {}

/// Calls a C progress callback until closed. The SDK may keep its copy of the callback (an
/// `Arc<ProgressFn>`) alive, and a background task may report once more, after the operation
/// returned; closing the gate makes such late reports no-ops.
struct ProgressGate {
    callback: Mutex<Option<CCallback>>,
}

impl ProgressGate {
    fn report(&self, p: &Progress) {
        let guard = self.callback.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cb) = guard.as_ref() {
            let item = crate::c_string(p.item.clone());
            let report = volt_progress_t {
                phase: volt_progress_phase_t::from(p.phase) as c_int,
                item: item.as_ptr(),
                done: p.done,
                total: p.total.unwrap_or(0),
                has_total: p.total.is_some(),
            };
            // SAFETY: the caller of the exported function passed `f` and `user_data` together
            // and guarantees the call is sound from any thread until that function returns,
            // which `ProgressScope` ensures (the gate is closed before it returns). `report`
            // and `item` outlive the call.
            unsafe { (cb.f)(&report, cb.user_data) };
        }
    }

    fn close(&self) {
        *self.callback.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// The progress callback of one exported call; closes it when dropped, i.e. before the
/// exported function returns (on success, error or panic).
struct ProgressScope {
    gate: Option<Arc<ProgressGate>>,
}

impl ProgressScope {
    fn new(f: volt_progress_fn, user_data: *mut c_void) -> Self {
        ProgressScope {
            gate: f.map(|f| Arc::new(ProgressGate { callback: Mutex::new(Some(CCallback { f, user_data })) })),
        }
    }

    /// The callback as the SDK takes it (None without a C callback).
    fn callback(&self) -> Option<Arc<ProgressFn>> {
        self.gate.as_ref().map(|gate| {
            let gate = gate.clone();
            Arc::new(move |p: &Progress| gate.report(p)) as Arc<ProgressFn>
        })
    }
}

impl Drop for ProgressScope {
    fn drop(&mut self) {
        if let Some(gate) = &self.gate {
            gate.close();
        }
    }
}

fn images(store: &volt_store_t) -> Result<&Images> {
    store.volt().images().map_err(volt_error_t::from)
}

fn name_arg(s: &str) -> Result<ImageName> {
    s.parse::<ImageName>().map_err(volt_error_t::from)
}

/// Credentials from the C arguments: a bearer `token`, or `username` + `password`, or none.
fn remote_options(
    username: Option<&str>,
    password: Option<&str>,
    token: Option<&str>,
    insecure: bool,
) -> Result<RemoteOptions> {
    let credentials = match (username, password, token) {
        (None, None, None) => Credentials::Anonymous,
        (None, None, Some(t)) => Credentials::Bearer(t.to_string()),
        (Some(u), Some(p), None) => Credentials::Basic { username: u.to_string(), password: p.to_string() },
        (Some(_), None, None) => return Err(volt_error_t::usage("username given without a password")),
        (None, Some(_), None) => return Err(volt_error_t::usage("password given without a username")),
        (_, _, Some(_)) => return Err(volt_error_t::usage("give either a token or a username and password, not both")),
    };
    Ok(RemoteOptions::default().with_credentials(credentials).insecure(insecure))
}

fn path_string(p: PathBuf) -> Result<String> {
    p.into_os_string().into_string().map_err(|p| {
        volt_error_t::new(volt_core::ErrorKind::General, format!("path {} is not valid UTF-8", Path::new(&p).display()))
    })
}

/// Import the image at `path` under `name` (`NAME[:TAG]`, tag `latest` by default). The format
/// is recognised from the content: an OCI image layout (directory or tar), a `docker save`
/// archive, or a root filesystem (directory or tarball). `progress` (NULL for none) receives
/// `VOLT_PHASE_READ` and `VOLT_PHASE_APPLY` reports with `user_data`. On success `*json_out`
/// receives the image record (`tree` is the root filesystem's digest), to free with
/// `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `path` and `name` are NULL or NUL-terminated strings;
/// `progress` is NULL or a function that may be called with `user_data` from any thread until
/// this call returns; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_image_import(
    store: *const volt_store_t,
    path: *const c_char,
    name: *const c_char,
    progress: volt_progress_fn,
    user_data: *mut c_void,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (path, name) = unsafe { (arg_str(path, "path")?, arg_str(name, "name")?) };
        check_out(json_out, "json_out")?;
        let name = name_arg(name)?;
        let scope = ProgressScope::new(progress, user_data);
        let callback = scope.callback();
        let record = images(store)?.import(Path::new(path), &name, callback.as_deref())?;
        drop(scope);
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &record) }
    })
}

/// List local images, sorted by name. On success `*json_out` receives
/// `[{"name","id","size","layers","stored"},...]`, to free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_image_list(store: *const volt_store_t, json_out: *mut *mut c_char) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        check_out(json_out, "json_out")?;
        let list = images(store)?.list()?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &list) }
    })
}

/// Describe image `name`. On success `*json_out` receives its record (name, id, manifest and
/// config digests, config fields, layers, `tree`, `files`, `size`, `source`, `stored`), to free
/// with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_image_inspect(
    store: *const volt_store_t,
    name: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle and `name` NULL or a
        // NUL-terminated string.
        let (store, name) = unsafe { store_and_name(store, name) }?;
        check_out(json_out, "json_out")?;
        let record = images(store)?.inspect(&name_arg(name)?)?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &record) }
    })
}

/// Give image `source` the additional name `target` (moving `target` if it named another
/// image).
///
/// # Safety
/// `store` is NULL or a live handle; `source` and `target` are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn volt_image_tag(
    store: *const volt_store_t,
    source: *const c_char,
    target: *const c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (source, target) = unsafe { (arg_str(source, "source")?, arg_str(target, "target")?) };
        let (source, target) = (name_arg(source)?, name_arg(target)?);
        images(store)?.tag(&source, &target)?;
        Ok(())
    })
}

/// Remove the name `name`. The content is freed by the next `volt_store_gc` if nothing else
/// uses it. A container using the image makes this `VOLT_ERR_CONFLICT`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn volt_image_remove(store: *const volt_store_t, name: *const c_char) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle and `name` NULL or a
        // NUL-terminated string.
        let (store, name) = unsafe { store_and_name(store, name) }?;
        images(store)?.remove(&name_arg(name)?)?;
        Ok(())
    })
}

/// Write image `name` to `dest` as an OCI image layout: a tar file if `dest` ends in `.tar`,
/// otherwise a directory that must be absent or empty. `progress` (NULL for none) receives
/// `VOLT_PHASE_WRITE` reports with `user_data`. On success `*json_out` receives
/// `{"path","manifest_digest","blobs","bytes"}`, to free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` and `dest` are NULL or NUL-terminated strings;
/// `progress` is NULL or a function that may be called with `user_data` from any thread until
/// this call returns; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_image_export(
    store: *const volt_store_t,
    name: *const c_char,
    dest: *const c_char,
    progress: volt_progress_fn,
    user_data: *mut c_void,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (name, dest) = unsafe { (arg_str(name, "name")?, arg_str(dest, "dest")?) };
        check_out(json_out, "json_out")?;
        let name = name_arg(name)?;
        let scope = ProgressScope::new(progress, user_data);
        let callback = scope.callback();
        let report = images(store)?.export(&name, Path::new(dest), callback.as_deref())?;
        drop(scope);
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &report) }
    })
}

/// Pull `reference` (`[registry/]repository[:tag][@digest]`) into the store and name it `name`
/// (NULL: the reference without `docker.io/` and `library/`, with its tag). Blobs the store
/// already has are not downloaded.
///
/// Credentials: `token` (a bearer token), or `username` and `password` (the token flow's
/// login), or all three NULL for anonymous access. Plain HTTP is used for loopback registries,
/// or for any registry when `insecure` is true. `progress` (NULL for none) receives
/// `VOLT_PHASE_DOWNLOAD`, `VOLT_PHASE_SKIP` and `VOLT_PHASE_APPLY` reports with `user_data`,
/// from a worker thread. On success `*json_out` receives the image record, to free with
/// `volt_string_free`. Nothing is kept from a failed pull.
///
/// # Safety
/// `store` is NULL or a live handle; `reference`, `name`, `username`, `password` and `token`
/// are NULL or NUL-terminated strings; `progress` is NULL or a function that may be called with
/// `user_data` from any thread until this call returns; `json_out` is NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn volt_image_pull(
    store: *const volt_store_t,
    reference: *const c_char,
    name: *const c_char,
    username: *const c_char,
    password: *const c_char,
    token: *const c_char,
    insecure: bool,
    progress: volt_progress_fn,
    user_data: *mut c_void,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (reference, name) = unsafe { (arg_str(reference, "reference")?, arg_opt_str(name, "name")?) };
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (username, password, token) = unsafe {
            (arg_opt_str(username, "username")?, arg_opt_str(password, "password")?, arg_opt_str(token, "token")?)
        };
        check_out(json_out, "json_out")?;
        let name = name.map(name_arg).transpose()?;
        let opts = remote_options(username, password, token, insecure)?;
        let images = images(store)?;
        let scope = ProgressScope::new(progress, user_data);
        let record = store.run(images.pull(reference, name.as_ref(), &opts, scope.callback()))?;
        drop(scope);
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &record) }
    })
}

/// Push image `name` to `destination` (`registry/repository[:tag]`; NULL: the image's own
/// name). Blobs the registry already has are not uploaded. Credentials, `insecure` and
/// `progress` as for `volt_image_pull` (reports: `VOLT_PHASE_UPLOAD`, `VOLT_PHASE_SKIP`). On
/// success `*json_out` receives `{"reference","manifest_digest","uploaded","skipped","bytes"}`,
/// to free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `name`, `destination`, `username`, `password` and `token`
/// are NULL or NUL-terminated strings; `progress` is NULL or a function that may be called with
/// `user_data` from any thread until this call returns; `json_out` is NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn volt_image_push(
    store: *const volt_store_t,
    name: *const c_char,
    destination: *const c_char,
    username: *const c_char,
    password: *const c_char,
    token: *const c_char,
    insecure: bool,
    progress: volt_progress_fn,
    user_data: *mut c_void,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (name, destination) = unsafe { (arg_str(name, "name")?, arg_opt_str(destination, "destination")?) };
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (username, password, token) = unsafe {
            (arg_opt_str(username, "username")?, arg_opt_str(password, "password")?, arg_opt_str(token, "token")?)
        };
        check_out(json_out, "json_out")?;
        let name = name_arg(name)?;
        let opts = remote_options(username, password, token, insecure)?;
        let images = images(store)?;
        let scope = ProgressScope::new(progress, user_data);
        let report = store.run(images.push(&name, destination, &opts, scope.callback()))?;
        drop(scope);
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &report) }
    })
}

/// The shared read-only checkout of image `name`'s root filesystem, made on first use (images
/// with the same tree share one). On success `*path_out` receives its path, to free with
/// `volt_string_free`. Its files share inodes with the store: never modify them.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `path_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_image_shared_root(
    store: *const volt_store_t,
    name: *const c_char,
    path_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle and `name` NULL or a
        // NUL-terminated string.
        let (store, name) = unsafe { store_and_name(store, name) }?;
        check_out(path_out, "path_out")?;
        let path = path_string(images(store)?.shared_root(&name_arg(name)?)?)?;
        // SAFETY: `path_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { put_out(path_out, crate::c_string(path).into_raw()) };
        Ok(())
    })
}

/// Make the root filesystem of a container whose directory is `container_dir`:
/// `container_dir/rootfs` becomes an overlayfs over the image's shared checkout (with `upper/`
/// and `work/` beside it), or a private copy of the image when `copy` is true or overlayfs
/// cannot be mounted. On success `*json_out` receives `{"path","mode","lower","upper"}` (`mode`
/// is "overlay" or "copy"), to free with `volt_string_free`. Undo with
/// `volt_image_remove_rootfs`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` and `container_dir` are NULL or NUL-terminated
/// strings; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_image_create_rootfs(
    store: *const volt_store_t,
    name: *const c_char,
    container_dir: *const c_char,
    copy: bool,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (name, dir) = unsafe { (arg_str(name, "name")?, arg_str(container_dir, "container_dir")?) };
        check_out(json_out, "json_out")?;
        let mount = images(store)?.create_rootfs(&name_arg(name)?, Path::new(dir), copy)?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &mount) }
    })
}

/// Undo `volt_image_create_rootfs`: unmount and remove `rootfs/`, `upper/`, `work/` and the
/// state file in `container_dir`. Removing what is already gone succeeds.
///
/// # Safety
/// `store` is NULL or a live handle; `container_dir` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn volt_image_remove_rootfs(
    store: *const volt_store_t,
    container_dir: *const c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let dir = unsafe { arg_str(container_dir, "container_dir") }?;
        images(store)?.remove_rootfs(Path::new(dir))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn phases_keep_the_sdk_values() {
        for p in [Phase::Read, Phase::Download, Phase::Upload, Phase::Apply, Phase::Write, Phase::Skip] {
            assert_eq!(volt_progress_phase_t::from(p) as c_int, p as c_int);
        }
    }

    struct Seen {
        calls: AtomicUsize,
        last: Mutex<(c_int, String, u64, u64, bool)>,
    }

    unsafe extern "C" fn record(p: *const volt_progress_t, user_data: *mut c_void) {
        // SAFETY: `user_data` is the `Seen` the test passed; `p` and its `item` are valid
        // during the call.
        let (seen, p) = unsafe { (&*user_data.cast::<Seen>(), &*p) };
        // SAFETY: as above.
        let item = unsafe { CStr::from_ptr(p.item) }.to_str().unwrap().to_string();
        seen.calls.fetch_add(1, Ordering::SeqCst);
        *seen.last.lock().unwrap() = (p.phase, item, p.done, p.total, p.has_total);
    }

    #[test]
    fn progress_reaches_c_until_the_scope_ends() {
        let seen = Seen { calls: AtomicUsize::new(0), last: Mutex::new((0, String::new(), 0, 0, false)) };
        let scope = ProgressScope::new(Some(record), std::ptr::from_ref(&seen).cast_mut().cast());
        let cb = scope.callback().expect("a callback was given");
        cb(&Progress { phase: Phase::Upload, item: "sha256:ab".into(), done: 3, total: Some(9) });
        assert_eq!(*seen.last.lock().unwrap(), (3, "sha256:ab".to_string(), 3, 9, true));
        cb(&Progress { phase: Phase::Read, item: "/x".into(), done: 0, total: None });
        assert_eq!(*seen.last.lock().unwrap(), (1, "/x".to_string(), 0, 0, false));
        drop(scope);
        // A copy the SDK kept past the call reports nothing.
        cb(&Progress { phase: Phase::Skip, item: "late".into(), done: 1, total: None });
        assert_eq!(seen.calls.load(Ordering::SeqCst), 2);
        assert!(ProgressScope::new(None, std::ptr::null_mut()).callback().is_none());
    }

    #[test]
    fn credentials_from_arguments() {
        let o = remote_options(None, None, None, false).unwrap();
        assert_eq!(o.credentials, Credentials::Anonymous);
        assert!(!o.insecure);
        let o = remote_options(None, None, Some("t"), true).unwrap();
        assert_eq!(o.credentials, Credentials::Bearer("t".into()));
        assert!(o.insecure);
        let o = remote_options(Some("u"), Some(""), None, false).unwrap();
        assert_eq!(o.credentials, Credentials::Basic { username: "u".into(), password: String::new() });
        for (u, p, t) in [(Some("u"), None, None), (None, Some("p"), None), (Some("u"), Some("p"), Some("t"))] {
            assert!(remote_options(u, p, t, false).is_err());
        }
    }
}
