//! Stellarium end to end on real directories: build, checkout, verify, gc, dedup, refs,
//! aliases, crash leftovers and a gc racing builds.

mod common;

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use common::*;
use volt_cas::{Algorithm, CheckoutMode, Digest, Error, ObjectId, RefName};

fn rn(s: &str) -> RefName {
    s.parse().unwrap()
}

#[test]
fn put_get_small_and_chunked_and_aliases() {
    let d = tempfile::tempdir().unwrap();
    let cas = small_chunk_store(d.path());
    let txn = cas.begin().unwrap();
    let small = txn.put_bytes(b"hello", None).unwrap();
    assert_eq!(small.id, ObjectId::of(b"hello"));
    assert_eq!(small.chunks, 0);
    let data = noise(7, 3 << 20);
    let big = txn.put_reader(&mut &data[..], Path::new("mem"), &[Algorithm::Sha256, Algorithm::Sha512], None).unwrap();
    assert_eq!(big.id, ObjectId::of(&data), "native id is BLAKE3 of the whole content");
    assert!(big.chunks > 10, "3 MiB with 16 KiB average chunks: {}", big.chunks);
    txn.commit(Some((&rn("t/big"), &big.id))).unwrap();

    let mut out = Vec::new();
    cas.get(&big.id.digest(), &mut out).unwrap();
    assert_eq!(out, data);
    use sha2::Digest as _;
    let sha = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&data)));
    let d256: Digest = sha.parse().unwrap();
    assert_eq!(cas.resolve(&d256).unwrap(), big.id);
    assert_eq!(big.aliases[0], d256);
    let info = cas.stat(&d256).unwrap();
    assert_eq!(info.size, data.len() as u64);
    assert!(info.aliases.contains(&d256));
    // An unknown alias is "not found", a malformed one "invalid".
    let unknown: Digest = format!("sha256:{}", "0".repeat(64)).parse().unwrap();
    assert!(matches!(cas.resolve(&unknown), Err(Error::ObjectNotFound(_))));
    assert!("sha256:xyz".parse::<Digest>().is_err());
}

#[test]
fn streamed_put_of_a_large_object_reads_back_identically() {
    let d = tempfile::tempdir().unwrap();
    let cas = store(d.path());
    // 96 MiB produced on the fly: the store never needs it in memory.
    struct Gen(u64, u64);
    impl Read for Gen {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.0 as usize);
            for (i, b) in buf[..n].iter_mut().enumerate() {
                *b = (((self.1 + i as u64) * 2654435761) >> 13) as u8;
            }
            self.0 -= n as u64;
            self.1 += n as u64;
            Ok(n)
        }
    }
    let txn = cas.begin().unwrap();
    let out = txn.put_reader(&mut Gen(96 << 20, 0), Path::new("gen"), &[], None).unwrap();
    txn.commit(Some((&rn("big"), &out.id))).unwrap();
    assert_eq!(out.size, 96 << 20);
    let mut h = blake3::Hasher::new();
    let mut r = cas.open_object(&out.id).unwrap();
    std::io::copy(&mut r, &mut h).unwrap();
    assert_eq!(ObjectId::from(h.finalize()), out.id);
    let mut again = blake3::Hasher::new();
    std::io::copy(&mut Gen(96 << 20, 0), &mut again).unwrap();
    assert_eq!(ObjectId::from(again.finalize()), out.id);
}

#[test]
fn build_then_checkout_restores_the_tree_exactly_in_every_mode() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fixture(&src);
    let cas = store(d.path());
    let rep = cas.build(&src, Some(&rn("trees/fixture"))).unwrap();
    assert!(rep.entries > 15);
    assert_eq!(cas.get_ref(&rn("trees/fixture")).unwrap(), rep.root);
    for mode in [CheckoutMode::Hardlink, CheckoutMode::Copy, CheckoutMode::Reflink] {
        let dest = d.path().join(format!("out-{mode:?}"));
        let co = cas.checkout(&rep.root, &dest, mode).unwrap();
        let diffs = diff(&src, &dest);
        assert!(diffs.is_empty(), "{mode:?}: {diffs:#?}");
        if mode == CheckoutMode::Reflink {
            // ext4 (and tmpfs) cannot clone: the fallback must be announced.
            let fs_clones = co.notice.is_none();
            assert!(fs_clones || co.copied > 0);
        }
    }
    assert!(cas.verify_all().unwrap().is_clean());
}

#[test]
fn hardlink_checkout_never_shares_an_inode_between_different_metadata() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fixture(&src);
    let cas = store(d.path());
    let rep = cas.build(&src, Some(&rn("t"))).unwrap();
    let dest = d.path().join("co");
    cas.checkout(&rep.root, &dest, CheckoutMode::Hardlink).unwrap();
    let a = fs::metadata(dest.join("etc/conf.d/same-a")).unwrap();
    let b = fs::metadata(dest.join("etc/conf.d/same-b")).unwrap();
    assert_eq!(fs::read(dest.join("etc/conf.d/same-a")).unwrap(), fs::read(dest.join("etc/conf.d/same-b")).unwrap());
    assert_ne!(a.ino(), b.ino(), "same bytes, different mode/owner/mtime must not share an inode");
    // The source's hardlink pair is one inode in the checkout too.
    let t = fs::metadata(dest.join("usr/bin/tool")).unwrap();
    let tl = fs::metadata(dest.join("usr/bin/tool-link")).unwrap();
    assert_eq!(t.ino(), tl.ino());
    assert_eq!(t.mode() & 0o7777, 0o4755);
    // A second checkout reuses the same store inodes (O(files), no copying).
    let dest2 = d.path().join("co2");
    let co2 = cas.checkout(&rep.root, &dest2, CheckoutMode::Hardlink).unwrap();
    assert_eq!(co2.variants_created, 0);
    assert_eq!(fs::metadata(dest2.join("usr/bin/tool")).unwrap().ino(), t.ino());
}

#[test]
fn unchanged_rebuild_reads_no_file_and_gives_the_same_tree() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fixture(&src);
    // Entries changed in the last second are not trusted by the cache.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let cas = store(d.path());
    let first = cas.build(&src, Some(&rn("t"))).unwrap();
    let second = cas.build(&src, Some(&rn("t"))).unwrap();
    assert_eq!(first.root, second.root);
    assert_eq!(second.cached, second.files, "every file came from the stat cache");
    assert_eq!(second.new_objects, 0);
    // A changed file is noticed (size and mtime change).
    std::thread::sleep(std::time::Duration::from_millis(20));
    fs::write(src.join("etc/hostname"), "changed\n").unwrap();
    let third = cas.build(&src, Some(&rn("t"))).unwrap();
    assert_ne!(third.root, first.root);
    assert_eq!(third.cached, third.files - 1);
    // Removing the cache only costs speed.
    fs::remove_dir_all(d.path().join("cache")).unwrap();
    let fourth = cas.build(&src, None).unwrap();
    assert_eq!(fourth.root, third.root);
    assert_eq!(fourth.cached, 0);
}

#[test]
fn rebuild_after_gc_removed_cached_objects_stores_them_again() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fixture(&src);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let cas = store(d.path());
    cas.build(&src, None).unwrap();
    let gc = cas.gc(false).unwrap();
    assert!(gc.removed_files > 0);
    let again = cas.build(&src, Some(&rn("t"))).unwrap();
    assert!(again.new_objects > 0);
    assert!(cas.verify_all().unwrap().is_clean());
    let dest = d.path().join("co");
    cas.checkout(&again.root, &dest, CheckoutMode::Copy).unwrap();
    assert!(diff(&src, &dest).is_empty());
}

#[test]
fn verify_names_corrupt_objects_and_the_refs_they_break() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fixture(&src);
    let cas = store(d.path());
    let rep = cas.build(&src, Some(&rn("good/tree"))).unwrap();
    let txn = cas.begin().unwrap();
    let other = txn.put_bytes(b"unrelated", None).unwrap();
    txn.commit(Some((&rn("other"), &other.id))).unwrap();
    assert!(cas.verify_all().unwrap().is_clean());

    // Flip one byte of the hostname file's object.
    let id = ObjectId::of(b"volt\n");
    let p = object_file(&cas, &id);
    let mut bytes = fs::read(&p).unwrap();
    bytes[0] ^= 0x20;
    overwrite(&p, &bytes);

    let v = cas.verify_all().unwrap();
    assert!(!v.is_clean());
    assert_eq!(v.corrupt.len(), 1);
    assert_eq!(v.corrupt[0].id, id);
    assert_eq!(v.broken_refs.len(), 1);
    assert_eq!(v.broken_refs[0].name, "good/tree");
    assert_eq!(v.broken_refs[0].objects, vec![id]);
    // Verifying only the tree finds it too; the unrelated ref is fine.
    assert_eq!(cas.verify_object(&rep.root.digest()).unwrap().corrupt.len(), 1);
    assert!(cas.verify_object(&other.id.digest()).unwrap().is_clean());

    // A deleted object is reported missing, with its ref.
    fs::remove_file(&p).unwrap();
    let v = cas.verify_all().unwrap();
    assert_eq!(v.missing, vec![id]);
    assert_eq!(v.broken_refs[0].name, "good/tree");
}

#[test]
fn gc_keeps_what_refs_reach_and_removes_the_rest() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fixture(&src);
    let cas = small_chunk_store(d.path());
    let rep = cas.build(&src, Some(&rn("keep"))).unwrap();
    let txn = cas.begin().unwrap();
    let loose = txn.put_bytes(b"nobody refers to me", None).unwrap();
    let big = txn.put_reader(&mut &noise(9, 1 << 20)[..], Path::new("m"), &[Algorithm::Sha256], None).unwrap();
    txn.commit(None).unwrap();

    let dry = cas.gc(true).unwrap();
    assert!(dry.removed_files >= 2);
    assert!(cas.has(&loose.id), "dry run deletes nothing");
    let real = cas.gc(false).unwrap();
    assert_eq!(real.removed_files, dry.removed_files);
    assert_eq!(real.removed_aliases, 1);
    assert!(!cas.has(&loose.id));
    assert!(!cas.has(&big.id));
    assert!(cas.resolve(&big.aliases[0]).is_err());
    assert!(cas.verify_all().unwrap().is_clean());
    let dest = d.path().join("co");
    cas.checkout(&rep.root, &dest, CheckoutMode::Hardlink).unwrap();
    assert!(diff(&src, &dest).is_empty());
    // Deleting the ref makes everything collectable.
    cas.delete_ref(&rn("keep")).unwrap();
    cas.gc(false).unwrap();
    assert_eq!(cas.status().unwrap().objects, 0);
}

#[test]
fn gc_racing_builds_never_removes_what_a_build_references() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fixture(&src);
    // Some extra shared content so builds and gc touch the same objects.
    for i in 0..200 {
        fs::write(src.join(format!("tmp/file-{i}")), format!("content {}", i % 50)).unwrap();
    }
    let cas = store(d.path());
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let gc = s.spawn(|| {
            let mut runs = 0;
            while !stop.load(Ordering::Relaxed) {
                cas.gc(false).unwrap();
                runs += 1;
            }
            runs
        });
        for round in 0..12 {
            // Unreferenced builds feed gc garbage; referenced ones must survive intact.
            cas.build(&src, None).unwrap();
            let name = rn(&format!("race/{}", round % 3));
            let rep = cas.build(&src, Some(&name)).unwrap();
            let v = cas.verify_object(&rep.root.digest()).unwrap();
            assert!(v.is_clean(), "round {round}: {v:?}");
        }
        stop.store(true, Ordering::Relaxed);
        assert!(gc.join().unwrap() > 0);
    });
    cas.gc(false).unwrap();
    let v = cas.verify_all().unwrap();
    assert!(v.is_clean(), "{v:?}");
    for r in cas.list_refs(Some("race/")).unwrap() {
        let dest = d.path().join(format!("co-{}", r.name.as_str().replace('/', "-")));
        cas.checkout(&r.target, &dest, CheckoutMode::Copy).unwrap();
        assert!(diff(&src, &dest).is_empty());
    }
}

#[test]
fn abandoned_transactions_leave_nothing_visible_and_gc_cleans_them() {
    let d = tempfile::tempdir().unwrap();
    let cas = store(d.path());
    // Simulate a writer killed before commit: staged files and a lease whose owner is gone.
    let txn = cas.begin().unwrap();
    let out = txn.put_bytes(b"never committed", None).unwrap();
    let stage_dir = cas.root().join("objects").join(&out.id.to_hex()[..2]);
    let staged: Vec<_> = fs::read_dir(&stage_dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(staged.len(), 1);
    assert!(staged[0].file_name().unwrap().to_string_lossy().starts_with(".stage-"));
    assert!(!cas.has(&out.id), "staged objects are not visible");
    // Keep the files but release the lock the way a dead process would.
    let tmp = cas.root().join("tmp");
    let keep = d.path().join("keep");
    fs::create_dir(&keep).unwrap();
    for e in fs::read_dir(&tmp).unwrap() {
        let p = e.unwrap().path();
        fs::copy(&p, keep.join(p.file_name().unwrap())).unwrap();
    }
    fs::copy(&staged[0], keep.join("staged")).unwrap();
    drop(txn);
    for e in fs::read_dir(&keep).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap() == "staged" {
            fs::copy(&p, &staged[0]).unwrap();
        } else {
            fs::copy(&p, tmp.join(p.file_name().unwrap())).unwrap();
        }
    }
    // A writer killed inside begin(), after creating its lease and before renaming it to
    // `.lease`, leaves `txn-PID-….new`; one of a live process (this one) must stay.
    let dead = tmp.join("txn-2147483646-0-0.new");
    let alive = tmp.join(format!("txn-{}-0-0.new", std::process::id()));
    fs::write(&dead, b"").unwrap();
    fs::write(&alive, b"").unwrap();
    assert!(cas.verify_all().unwrap().is_clean());
    let rep = cas.gc(false).unwrap();
    assert_eq!(rep.stale_transactions, 1);
    assert!(!staged[0].exists());
    assert!(!dead.exists(), "a dead writer's half-made lease is removed");
    assert!(alive.exists(), "a live writer's lease being made is kept");
    fs::remove_file(&alive).unwrap();
    assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
}

#[test]
fn similar_large_files_share_most_chunks() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fs::create_dir(&src).unwrap();
    let a = noise(11, 24 << 20);
    let mut b = a.clone();
    // Change 1 MiB in the middle and insert 3 bytes near the start (shifts all offsets).
    for x in &mut b[10 << 20..11 << 20] {
        *x = x.wrapping_add(1);
    }
    b.splice(100_000..100_000, [1u8, 2, 3]);
    fs::write(src.join("disk-a.img"), &a).unwrap();
    fs::write(src.join("disk-b.img"), &b).unwrap();
    let cas = store(d.path());
    cas.build(&src, Some(&rn("disks"))).unwrap();
    let dd = cas.dedup(5).unwrap();
    assert_eq!(dd.logical_bytes, (a.len() + b.len()) as u64);
    assert!(
        dd.stored_bytes < (a.len() as u64) * 13 / 10,
        "two 24 MiB files differing in ~1 MiB store {} bytes",
        dd.stored_bytes
    );
    assert!(dd.ratio > 1.5, "ratio {}", dd.ratio);
    assert!(dd.shared_chunks > 100);
    let st = cas.status().unwrap();
    assert_eq!(st.chunked, 2);
    assert!(st.stored_bytes < (a.len() as u64) * 13 / 10);
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let cas = store(d.path());
    assert!(matches!(cas.build(&d.path().join("missing"), None), Err(Error::SourceNotFound(_))));
    let f = d.path().join("file");
    fs::write(&f, "x").unwrap();
    assert!(matches!(cas.build(&f, None), Err(Error::NotADirectory(_))));
    for bad in ["../escape", "a/../b", "/abs", "", "a//b", ".hidden"] {
        assert!(matches!(bad.parse::<RefName>(), Err(Error::InvalidRef { .. })), "{bad}");
    }
    assert!(matches!(cas.get_ref(&rn("nope")), Err(Error::RefNotFound(_))));
    assert!(matches!(cas.delete_ref(&rn("nope")), Err(Error::RefNotFound(_))));
    let missing = ObjectId::of(b"not stored");
    assert!(matches!(cas.set_ref(&rn("x"), &missing), Err(Error::ObjectNotFound(_))));
    // Checkout of a blob, or into a non-empty directory, is refused before writing anything.
    let txn = cas.begin().unwrap();
    let blob = txn.put_bytes(b"just bytes", None).unwrap();
    txn.commit(Some((&rn("blob"), &blob.id))).unwrap();
    assert!(matches!(cas.checkout(&blob.id, &d.path().join("co"), CheckoutMode::Copy), Err(Error::NotATree(_))));
    let src = d.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("a"), "a").unwrap();
    let t = cas.build(&src, Some(&rn("t"))).unwrap();
    let busy = d.path().join("busy");
    fs::create_dir(&busy).unwrap();
    fs::write(busy.join("keep-me"), "precious").unwrap();
    assert!(matches!(cas.checkout(&t.root, &busy, CheckoutMode::Copy), Err(Error::DestinationNotEmpty(_))));
    assert_eq!(fs::read_to_string(busy.join("keep-me")).unwrap(), "precious");
    assert!(cas.verify_all().unwrap().is_clean());
    assert_eq!(cas.list_refs(None).unwrap().len(), 2);
}

#[test]
fn refs_are_listed_by_prefix_and_survive_reopen() {
    let d = tempfile::tempdir().unwrap();
    let cas = store(d.path());
    let txn = cas.begin().unwrap();
    let o = txn.put_bytes(b"r", None).unwrap();
    txn.commit(None).unwrap();
    for n in ["images/a", "images/b:1", "registry/lib/x/latest", "z"] {
        cas.set_ref(&rn(n), &o.id).unwrap();
    }
    let imgs: Vec<String> = cas.list_refs(Some("images/")).unwrap().into_iter().map(|r| r.name.to_string()).collect();
    assert_eq!(imgs, ["images/a", "images/b:1"]);
    drop(cas);
    let cas = store(d.path());
    assert_eq!(cas.list_refs(None).unwrap().len(), 4);
    cas.delete_ref(&rn("registry/lib/x/latest")).unwrap();
    assert!(!cas.root().join("refs/registry").exists(), "empty namespaces are pruned");
}

#[test]
fn privileged_entries_round_trip_as_root() {
    if !require_root("device nodes, foreign owners and file capabilities") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fixture(&src);
    let cas = store(d.path());
    let rep = cas.build(&src, Some(&rn("t"))).unwrap();
    let dest = d.path().join("co");
    cas.checkout(&rep.root, &dest, CheckoutMode::Hardlink).unwrap();
    assert!(diff(&src, &dest).is_empty());
    let ping = describe(&dest.join("usr/bin/ping"));
    assert!(ping.xattrs.contains_key(b"security.capability".as_slice()));
    let m = fs::symlink_metadata(dest.join("etc/conf.d/same-a")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1234, 5678));
    assert_eq!(fs::symlink_metadata(dest.join("tmp/null")).unwrap().rdev(), rustix::fs::makedev(1, 3));
}

#[test]
fn gc_refuses_to_collect_when_a_tree_cannot_be_read() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fixture(&src);
    let cas = store(d.path());
    let rep = cas.build(&src, Some(&rn("t"))).unwrap();
    let before = cas.status().unwrap().objects;
    // Keep the tree magic but cut the body: what the tree reaches is now unknown.
    let p = object_file(&cas, &rep.root);
    let bytes = fs::read(&p).unwrap();
    overwrite(&p, &bytes[..20]);
    let err = cas.gc(false).unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("gc refuses"), "{err}");
    assert_eq!(cas.status().unwrap().objects, before, "nothing was swept");
    let v = cas.verify_object(&rep.root.digest()).unwrap();
    assert!(v.corrupt.iter().any(|b| b.id == rep.root));
}

#[test]
fn a_stream_that_fails_midway_stores_nothing_visible() {
    let d = tempfile::tempdir().unwrap();
    let cas = small_chunk_store(d.path());
    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("device went away"));
            }
            let n = buf.len().min(self.0);
            buf[..n].iter_mut().enumerate().for_each(|(i, b)| *b = (i * 7 + self.0) as u8);
            self.0 -= n;
            Ok(n)
        }
    }
    let txn = cas.begin().unwrap();
    let err = txn.put_reader(&mut Failing(3 << 20), Path::new("disk.img"), &[], None).unwrap_err();
    assert!(err.to_string().contains("disk.img"), "{err}");
    drop(txn);
    let st = cas.status().unwrap();
    assert_eq!(st.objects, 0, "no chunk of the failed stream is visible");
    let leftovers: Vec<_> = fs::read_dir(cas.root().join("objects"))
        .unwrap()
        .flat_map(|fan| fs::read_dir(fan.unwrap().path()).unwrap())
        .collect();
    assert!(leftovers.is_empty(), "staged chunks were discarded: {leftovers:?}");
}

#[test]
fn every_kind_of_change_is_seen_by_a_cached_rebuild() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fixture(&src);
    let cas = store(d.path());
    let settle = || std::thread::sleep(std::time::Duration::from_millis(1100));
    settle();
    let mut last = cas.build(&src, Some(&rn("t"))).unwrap().root;
    type Change = Box<dyn Fn(&Path)>;
    let changes: Vec<(&str, Change)> = vec![
        (
            "chmod",
            Box::new(|s: &Path| {
                fs::set_permissions(s.join("etc/hostname"), fs::Permissions::from_mode(0o640)).unwrap()
            }),
        ),
        (
            "xattr",
            Box::new(|s: &Path| {
                rustix::fs::setxattr(s.join("etc/hostname"), "user.new", b"1", rustix::fs::XattrFlags::empty()).unwrap()
            }),
        ),
        ("new empty file", Box::new(|s: &Path| fs::write(s.join("empty/new"), "").unwrap())),
        ("delete", Box::new(|s: &Path| fs::remove_file(s.join("etc/empty-file")).unwrap())),
        ("rename", Box::new(|s: &Path| fs::rename(s.join("etc/conf.d/same-b"), s.join("etc/conf.d/same-c")).unwrap())),
        (
            "retarget symlink",
            Box::new(|s: &Path| {
                fs::remove_file(s.join("usr/hostname-link")).unwrap();
                std::os::unix::fs::symlink("/elsewhere", s.join("usr/hostname-link")).unwrap();
            }),
        ),
        ("same-size rewrite", Box::new(|s: &Path| fs::write(s.join("etc/hostname"), "VOLT\n").unwrap())),
    ];
    for (what, change) in changes {
        change(&src);
        settle();
        let rep = cas.build(&src, Some(&rn("t"))).unwrap();
        assert_ne!(rep.root, last, "{what} was not noticed");
        last = rep.root;
        // And unchanged again: the same tree, straight from the cache.
        let again = cas.build(&src, Some(&rn("t"))).unwrap();
        assert_eq!(again.root, last, "after {what}");
        assert_eq!(again.cached, again.files);
        let dest = d.path().join(format!("co-{}", what.replace(' ', "-")));
        cas.checkout(&again.root, &dest, CheckoutMode::Copy).unwrap();
        let diffs = diff(&src, &dest);
        assert!(diffs.is_empty(), "{what}: {diffs:#?}");
    }
}

#[test]
fn refs_in_one_namespace_survive_concurrent_set_and_delete() {
    let d = tempfile::tempdir().unwrap();
    let cas = store(d.path());
    let txn = cas.begin().unwrap();
    let o = txn.put_bytes(b"target", None).unwrap();
    txn.commit(Some((&rn("keep"), &o.id))).unwrap();
    std::thread::scope(|s| {
        for name in ["ns/sub/x", "ns/sub/y", "ns/z"] {
            let (cas, id) = (&cas, o.id);
            s.spawn(move || {
                for _ in 0..300 {
                    cas.set_ref(&rn(name), &id).unwrap();
                    cas.delete_ref(&rn(name)).unwrap();
                }
            });
        }
    });
    let names: Vec<String> = cas.list_refs(None).unwrap().into_iter().map(|r| r.name.to_string()).collect();
    assert_eq!(names, ["keep"]);
}
