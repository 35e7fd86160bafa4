//! The store: `volt_store_t` and Stellarium's operations (put, get, build, checkout, verify, gc,
//! refs). Reports cross as JSON strings.

use std::ffi::c_char;
use std::future::Future;
use std::path::Path;
use std::sync::OnceLock;

use volt_core::cas::{CheckoutMode, RefName};
use volt_core::container::Containers;
use volt_core::{Config, PutOptions, Store, Volt};

use crate::error::{volt_error_t, Result};
use crate::{arg_opt_str, arg_str, check_out};

/// An open store. Opaque: create with `volt_store_open`, free with `volt_store_free`. One handle
/// may be used from several threads at once; each call blocks its calling thread until done.
#[allow(non_camel_case_types)]
pub struct volt_store_t {
    volt: Volt,
    runtime: tokio::runtime::Runtime,
    /// The containers API, made on first use (it keeps its systemd connection between calls).
    containers: OnceLock<Containers>,
}

impl volt_store_t {
    fn store(&self) -> &dyn Store {
        self.volt.store().as_ref()
    }

    /// The SDK this handle opened (images and the registry live in the same store).
    pub(crate) fn volt(&self) -> &Volt {
        &self.volt
    }

    /// The containers of this installation (`Volt::containers`), made on first use.
    pub(crate) fn containers(&self) -> Result<&Containers> {
        if let Some(c) = self.containers.get() {
            return Ok(c);
        }
        let c = self.volt.containers()?;
        Ok(self.containers.get_or_init(|| c))
    }

    /// Drive one SDK call to completion on this handle's runtime.
    pub(crate) fn run<T>(&self, fut: impl Future<Output = volt_core::Result<T>>) -> Result<T> {
        self.runtime.block_on(fut).map_err(volt_error_t::from)
    }
}

/// Borrow the store handle argument.
///
/// # Safety
/// `p` is NULL or a handle from `volt_store_open` that is not freed while the borrow lives.
pub(crate) unsafe fn store_arg<'a>(p: *const volt_store_t) -> Result<&'a volt_store_t> {
    // SAFETY: the caller guarantees `p` is NULL or a live handle.
    unsafe { p.as_ref() }.ok_or_else(|| volt_error_t::null_argument("store"))
}

/// The two arguments most calls begin with: the store handle and the name of the thing they act
/// on (a container, image, network or VM), both required.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; both outlive the
/// borrow.
pub(crate) unsafe fn store_and_name<'a>(
    store: *const volt_store_t,
    name: *const c_char,
) -> Result<(&'a volt_store_t, &'a str)> {
    // SAFETY: the caller's guarantees, passed on.
    let store = unsafe { store_arg(store) }?;
    // SAFETY: the caller's guarantees, passed on.
    let name = unsafe { crate::arg_str(name, "name") }?;
    Ok((store, name))
}

fn ref_arg(name: Option<&str>) -> Result<Option<RefName>> {
    name.map(|n| n.parse::<RefName>().map_err(|e| volt_error_t::from(volt_core::Error::from(e)))).transpose()
}

/// Hand a report to C as a JSON string in `*out`.
///
/// # Safety
/// `out` is non-NULL, aligned and writable.
pub(crate) unsafe fn write_json(out: *mut *mut c_char, value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string(value)
        .map_err(|e| volt_error_t::new(volt_core::ErrorKind::General, format!("cannot encode JSON: {e}")))?;
    // SAFETY: guaranteed by the caller.
    unsafe { put_out(out, crate::c_string(text).into_raw()) };
    Ok(())
}

/// Write a result to an out parameter.
///
/// # Safety
/// `out` is non-NULL, aligned and writable.
pub(crate) unsafe fn put_out<T>(out: *mut T, value: T) {
    // SAFETY: guaranteed by the caller.
    unsafe { out.write(value) }
}

/// Open the SDK: the CLI's configuration, or with every path under `root` (which then wins
/// over `VOLT_ROOT`).
fn open_volt(root: Option<&Path>) -> volt_core::Result<Volt> {
    Volt::open(match root {
        Some(r) => Config::load_under(r)?,
        None => Config::load()?,
    })
}

/// Open the store, creating its directories if needed.
///
/// `root` NULL: configuration as the `volt` CLI loads it (`VOLT_CONFIG`, `VOLT_ROOT`, `VOLT_*`).
/// `root` non-NULL: every path is relocated under `root` (as `VOLT_ROOT=root` would, but this
/// argument wins over `VOLT_ROOT`); the store is `root/var/lib/volt/cas`.
/// On success `*out` receives a handle to free with `volt_store_free`.
///
/// # Safety
/// `root` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_store_open(root: *const c_char, out: *mut *mut volt_store_t) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `root` is NULL or a NUL-terminated string.
        let root = unsafe { arg_opt_str(root, "root") }?;
        check_out(out, "out")?;
        if root == Some("") {
            return Err(volt_error_t::usage("root is empty (pass NULL for the default paths)"));
        }
        let runtime = crate::new_runtime()?;
        let volt = open_volt(root.map(Path::new))?;
        let handle = Box::into_raw(Box::new(volt_store_t { volt, runtime, containers: OnceLock::new() }));
        // SAFETY: `out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { put_out(out, handle) };
        Ok(())
    })
}

/// Close a store handle. NULL is accepted.
///
/// # Safety
/// `store` is NULL or a handle from `volt_store_open`, not used again afterwards and not in use
/// by another thread.
#[no_mangle]
pub unsafe extern "C" fn volt_store_free(store: *mut volt_store_t) {
    ffi_panic_boundary!({
        if !store.is_null() {
            // SAFETY: the caller guarantees `store` came from `Box::into_raw` in
            // `volt_store_open` and is freed once.
            drop(unsafe { Box::from_raw(store) });
        }
    })
}

/// Store a file; `ref` (NULL for none) is pointed at it. On success `*digest_out` receives the
/// object's digest (`blake3:<hex>`), to free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `path` and `ref` are NULL or NUL-terminated strings;
/// `digest_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_store_put_file(
    store: *const volt_store_t,
    path: *const c_char,
    r#ref: *const c_char,
    digest_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (path, reference) = unsafe { (arg_str(path, "path")?, arg_opt_str(r#ref, "ref")?) };
        check_out(digest_out, "digest_out")?;
        let opts = PutOptions { reference: ref_arg(reference)?, ..PutOptions::default() };
        let outcome = store.run(store.store().put_file(Path::new(path), opts))?;
        // SAFETY: `digest_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { put_out(digest_out, crate::c_string(outcome.id.to_string()).into_raw()) };
        Ok(())
    })
}

/// Store `len` bytes from `data` (`data` may be NULL when `len` is 0); `ref` (NULL for none) is
/// pointed at them. On success `*digest_out` receives the digest, to free with
/// `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `data` is NULL or readable for `len` bytes; `ref` is NULL or
/// a NUL-terminated string; `digest_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_store_put_bytes(
    store: *const volt_store_t,
    data: *const u8,
    len: usize,
    r#ref: *const c_char,
    digest_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let reference = unsafe { arg_opt_str(r#ref, "ref") }?;
        check_out(digest_out, "digest_out")?;
        let bytes = if len == 0 {
            Vec::new()
        } else if data.is_null() {
            return Err(volt_error_t::null_argument("data"));
        } else {
            // SAFETY: non-NULL (checked); the caller guarantees `len` readable bytes.
            unsafe { std::slice::from_raw_parts(data, len) }.to_vec()
        };
        let opts = PutOptions { reference: ref_arg(reference)?, ..PutOptions::default() };
        let outcome = store.run(store.store().put_bytes(bytes, opts))?;
        // SAFETY: `digest_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { put_out(digest_out, crate::c_string(outcome.id.to_string()).into_raw()) };
        Ok(())
    })
}

/// Write the object named by `target` (digest or ref) to the file `dest_path`, replacing it
/// atomically (a temporary file in the same directory is renamed over it, so a hardlinked
/// checkout at `dest_path` is never written through).
///
/// # Safety
/// `store` is NULL or a live handle; `target` and `dest_path` are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn volt_store_get(
    store: *const volt_store_t,
    target: *const c_char,
    dest_path: *const c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (target, dest) = unsafe { (arg_str(target, "target")?, arg_str(dest_path, "dest_path")?) };
        store.run(store.store().get_to_path(target, Path::new(dest))).map(|_| ())
    })
}

/// Read the object named by `target` into memory. On success `*data_out`/`*len_out` receive the
/// buffer and its length, to free with `volt_bytes_free(data, len)`. An empty object gives a
/// non-NULL pointer and length 0.
///
/// # Safety
/// `store` is NULL or a live handle; `target` is NULL or a NUL-terminated string; `data_out` and
/// `len_out` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_store_read(
    store: *const volt_store_t,
    target: *const c_char,
    data_out: *mut *mut u8,
    len_out: *mut usize,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let target = unsafe { arg_str(target, "target") }?;
        check_out(data_out, "data_out")?;
        check_out(len_out, "len_out")?;
        let bytes = store.run(store.store().read(target))?.into_boxed_slice();
        let len = bytes.len();
        let data = Box::into_raw(bytes).cast::<u8>();
        // SAFETY: both out pointers are non-NULL (checked) and writable by the caller's guarantee.
        unsafe {
            put_out(data_out, data);
            put_out(len_out, len);
        }
        Ok(())
    })
}

/// Is the object named by `target` (a digest, an alias or a ref name) stored? On success
/// `*has_out` receives the answer; a malformed target is an error, an absent one is `false`.
///
/// # Safety
/// `store` is NULL or a live handle; `target` is NULL or a NUL-terminated string; `has_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_store_has(
    store: *const volt_store_t,
    target: *const c_char,
    has_out: *mut bool,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let target = unsafe { arg_str(target, "target") }?;
        check_out(has_out, "has_out")?;
        let has = store.run(store.store().has(target))?;
        // SAFETY: `has_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { put_out(has_out, has) };
        Ok(())
    })
}

/// Describe the object named by `target`. On success `*json_out` receives
/// `{"id","kind","size","chunks","tree","aliases"}`, to free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `target` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_store_stat(
    store: *const volt_store_t,
    target: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let target = unsafe { arg_str(target, "target") }?;
        check_out(json_out, "json_out")?;
        let info = store.run(store.store().stat(target))?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &info) }
    })
}

/// Store the directory `dir` as a tree; `ref` (NULL for none) is pointed at it. On success
/// `*json_out` receives the build report (`root` is the tree's digest), to free with
/// `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `dir` and `ref` are NULL or NUL-terminated strings;
/// `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_store_build(
    store: *const volt_store_t,
    dir: *const c_char,
    r#ref: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (dir, reference) = unsafe { (arg_str(dir, "dir")?, arg_opt_str(r#ref, "ref")?) };
        check_out(json_out, "json_out")?;
        let reference = ref_arg(reference)?;
        let report = store.run(store.store().build(Path::new(dir), reference))?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &report) }
    })
}

/// Materialise the tree named by `target` into `dest` (absent or empty). `mode` is "hardlink"
/// (NULL means hardlink; the files share the store's inodes and must be treated as read-only),
/// "copy" or "reflink". On success `*json_out` receives the checkout report, to free with
/// `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `target`, `dest` and `mode` are NULL or NUL-terminated
/// strings; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_store_checkout(
    store: *const volt_store_t,
    target: *const c_char,
    dest: *const c_char,
    mode: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (target, dest, mode) =
            unsafe { (arg_str(target, "target")?, arg_str(dest, "dest")?, arg_opt_str(mode, "mode")?) };
        check_out(json_out, "json_out")?;
        let mode = match mode {
            None => CheckoutMode::Hardlink,
            Some(m) => m.parse::<CheckoutMode>().map_err(|e| volt_error_t::from(volt_core::Error::from(e)))?,
        };
        let report = store.run(store.store().checkout(target, Path::new(dest), mode))?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &report) }
    })
}

/// Re-hash `target` and everything it reaches, or the whole store when `target` is NULL. On
/// success `*json_out` receives the report; it is clean when `corrupt`, `missing` and
/// `broken_refs` are all empty. A damaged store is a successful call with a non-clean report.
///
/// # Safety
/// `store` is NULL or a live handle; `target` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_store_verify(
    store: *const volt_store_t,
    target: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let target = unsafe { arg_opt_str(target, "target") }?;
        check_out(json_out, "json_out")?;
        let report = store.run(store.store().verify(target))?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &report) }
    })
}

/// Remove what no ref (or running writer) reaches; with `dry_run` only count it. On success
/// `*json_out` receives the gc report, to free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_store_gc(
    store: *const volt_store_t,
    dry_run: bool,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        check_out(json_out, "json_out")?;
        let report = store.run(store.store().gc(dry_run))?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &report) }
    })
}

/// Store totals (objects, bytes, refs, dedup ratio). On success `*json_out` receives them, to
/// free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_store_status(
    store: *const volt_store_t,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        check_out(json_out, "json_out")?;
        let status = store.run(store.store().status())?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &status) }
    })
}

/// Sharing analysis with the `top` most-shared objects. On success `*json_out` receives the
/// report, to free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_store_dedup(
    store: *const volt_store_t,
    top: usize,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        check_out(json_out, "json_out")?;
        let report = store.run(store.store().dedup(top))?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &report) }
    })
}

/// Point the ref `name` at `target` (a digest or another ref's name).
///
/// # Safety
/// `store` is NULL or a live handle; `name` and `target` are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn volt_store_ref_set(
    store: *const volt_store_t,
    name: *const c_char,
    target: *const c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (name, target) = unsafe { (arg_str(name, "name")?, arg_str(target, "target")?) };
        let name = ref_arg(Some(name))?.expect("a name was given");
        store.run(store.store().set_ref(&name, target))?;
        Ok(())
    })
}

/// Remove the ref `name` (the objects stay until gc).
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn volt_store_ref_delete(store: *const volt_store_t, name: *const c_char) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle and `name` NULL or a
        // NUL-terminated string.
        let (store, name) = unsafe { store_and_name(store, name) }?;
        let name = ref_arg(Some(name))?.expect("a name was given");
        store.run(store.store().delete_ref(&name))?;
        Ok(())
    })
}

/// List refs, all or those under `prefix` (NULL for all). On success `*json_out` receives
/// `[{"name","target"},...]`, to free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `prefix` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_store_refs(
    store: *const volt_store_t,
    prefix: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let prefix = unsafe { arg_opt_str(prefix, "prefix") }?;
        check_out(json_out, "json_out")?;
        let refs = store.run(store.store().refs(prefix))?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &refs) }
    })
}
