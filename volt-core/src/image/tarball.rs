//! Writing a Stellarium tree as an uncompressed layer tar (PAX xattrs, hardlinks, devices).

use std::io::{self, Write};

use volt_cas::{Cas, EntryKind, Tree};

use crate::error::{Error, Result};

/// Write `tree` as a tar stream to `out`. File contents are read from `cas`. Paths are relative
/// (`usr/bin/x`), mtimes whole seconds, so applying the result gives back the same tree except
/// for sub-second mtimes.
pub(crate) fn write_tree_tar(cas: &Cas, tree: &Tree, out: impl Write) -> Result<()> {
    let mut b = tar::Builder::new(out);
    b.mode(tar::HeaderMode::Complete);
    let io_err = |e: io::Error| Error::io("write layer tar", "<stream>", e);
    for e in tree.entries.iter().skip(1) {
        let path = String::from_utf8_lossy(&e.path).into_owned();
        if path.as_bytes() != e.path.as_slice() {
            return Err(Error::invalid_image(path, "path is not UTF-8; it cannot be written to a layer tar"));
        }
        if !e.meta.xattrs.is_empty() {
            let pax: Vec<(String, &[u8])> = e
                .meta
                .xattrs
                .iter()
                .map(|x| (format!("SCHILY.xattr.{}", String::from_utf8_lossy(&x.name)), x.value.as_slice()))
                .collect();
            b.append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), *v))).map_err(io_err)?;
        }
        let mut h = tar::Header::new_ustar();
        h.set_mode(e.meta.mode & 0o7777);
        h.set_uid(u64::from(e.meta.uid));
        h.set_gid(u64::from(e.meta.gid));
        h.set_mtime(e.meta.mtime.max(0) as u64);
        h.set_size(0);
        match &e.kind {
            EntryKind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                b.append_data(&mut h, format!("{path}/"), io::empty()).map_err(io_err)?;
            }
            EntryKind::File { size, id } => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(*size);
                let r = cas.open_object(id)?;
                b.append_data(&mut h, &path, io::BufReader::with_capacity(1 << 20, r)).map_err(io_err)?;
            }
            EntryKind::Symlink { target } => {
                h.set_entry_type(tar::EntryType::Symlink);
                b.append_link(&mut h, &path, String::from_utf8_lossy(target).as_ref()).map_err(io_err)?;
            }
            EntryKind::Hardlink { target } => {
                h.set_entry_type(tar::EntryType::Link);
                b.append_link(&mut h, &path, String::from_utf8_lossy(target).as_ref()).map_err(io_err)?;
            }
            EntryKind::CharDevice { rdev } | EntryKind::BlockDevice { rdev } => {
                let ty = if matches!(e.kind, EntryKind::CharDevice { .. }) {
                    tar::EntryType::Char
                } else {
                    tar::EntryType::Block
                };
                h.set_entry_type(ty);
                h.set_device_major(rustix::fs::major(*rdev)).map_err(io_err)?;
                h.set_device_minor(rustix::fs::minor(*rdev)).map_err(io_err)?;
                b.append_data(&mut h, &path, io::empty()).map_err(io_err)?;
            }
            EntryKind::Fifo => {
                h.set_entry_type(tar::EntryType::Fifo);
                b.append_data(&mut h, &path, io::empty()).map_err(io_err)?;
            }
        }
    }
    b.into_inner().map_err(io_err)?.flush().map_err(io_err)?;
    Ok(())
}
