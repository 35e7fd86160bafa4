//! Persistent network namespaces: made on a short-lived thread and kept alive by a bind mount
//! of that thread's nsfs file onto a path (what `ip netns add` does), so the namespace outlives
//! every process in it and can be handed to systemd-nspawn (`--network-namespace-path`) or
//! joined with `setns`. Removing it unmounts the file; the kernel frees the namespace, and the
//! veth ends inside it, once nothing uses it any more.

use std::fs::{self, OpenOptions};
use std::path::Path;

use crate::Error;

/// `NSFS_MAGIC` from `<linux/magic.h>`: the file system type of namespace files.
const NSFS_MAGIC: i64 = 0x6e73_6673;

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |e| Error::Io { op, path: path.to_path_buf(), source: e }
}

/// Is `path` a live namespace (an nsfs file bind-mounted there)?
pub fn is_live(path: &Path) -> bool {
    // f_type's width differs between architectures.
    #[allow(clippy::useless_conversion)]
    rustix::fs::statfs(path).is_ok_and(|s| i64::from(s.f_type) == NSFS_MAGIC)
}

/// Make a new, empty network namespace (only `lo`, down) kept at `path`. Nothing happens if
/// one is there already; a stale file (left by a reboot) is reused. True when a namespace was
/// made (interfaces that were in an earlier one at this path are gone, or going: the kernel
/// frees a namespace asynchronously).
///
/// # Errors
/// [`Error::Io`] when the namespace or the mount cannot be made; nothing is left then.
pub fn create(path: &Path) -> Result<bool, Error> {
    if is_live(path) {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io("create", dir))?;
    }
    OpenOptions::new().create(true).truncate(false).write(true).open(path).map_err(io("create", path))?;
    let target = path.to_path_buf();
    // unshare(CLONE_NEWNET) affects only the calling thread, so a throwaway thread makes the
    // namespace and pins it with the mount before it exits.
    let r = std::thread::spawn(move || -> std::io::Result<()> {
        // SAFETY: NEWNET only; no file descriptor table is unshared.
        unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET)? };
        rustix::mount::mount_bind("/proc/thread-self/ns/net", &target)?;
        Ok(())
    })
    .join()
    .unwrap_or_else(|_| Err(std::io::Error::other("namespace thread panicked")));
    if let Err(e) = r {
        let _ = fs::remove_file(path);
        return Err(Error::Io { op: "make a network namespace at", path: path.to_path_buf(), source: e });
    }
    Ok(true)
}

/// Unmount and remove the namespace kept at `path`. Nothing happens if there is none.
///
/// # Errors
/// [`Error::Io`] when the mount cannot be removed.
pub fn remove(path: &Path) -> Result<(), Error> {
    if is_live(path) {
        rustix::mount::unmount(path, rustix::mount::UnmountFlags::DETACH).map_err(|e| Error::Io {
            op: "unmount",
            path: path.to_path_buf(),
            source: e.into(),
        })?;
    }
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::Io { op: "remove", path: path.to_path_buf(), source: e })
        }
        _ => Ok(()),
    }
}
