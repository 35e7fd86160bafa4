//! Images: layer application (whiteouts, opaque directories, links, devices, xattrs, setuid),
//! every import format, containment of malicious layers, export round trips, container roots.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::Digest as _;
use volt_core::cas::{EntryKind, Tree};
use volt_core::image::{ImageName, ImageRecord, Images, LayerLimits};
use volt_core::{Config, ErrorKind, Volt};

fn sha(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    volt: Volt,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let volt = Volt::open(Config::default().relocate(&root)).unwrap();
    Env { _dir: dir, root, volt }
}

impl Env {
    fn images(&self) -> &Images {
        self.volt.images().unwrap()
    }

    fn tree(&self, rec: &ImageRecord) -> Tree {
        self.images().cas().read_tree(&rec.tree).unwrap()
    }

    fn objects(&self) -> usize {
        tokio::runtime::Runtime::new().unwrap().block_on(self.volt.store().status()).unwrap().objects
    }
}

fn name(s: &str) -> ImageName {
    s.parse().unwrap()
}

/// A tar entry description for crafted layers.
enum E<'a> {
    Dir(&'a str, u32),
    File(&'a str, &'a [u8], u32),
    Link(&'a str, &'a str),
    Sym(&'a str, &'a str),
    Char(&'a str, u32, u32),
    XattrFile(&'a str, &'a [u8], &'a str, &'a [u8]),
    /// A raw header name, bypassing the tar crate's path checks (for malicious input).
    RawFile(&'a [u8], &'a [u8]),
    RawLink(&'a str, &'a [u8], tar::EntryType),
}

fn tar_of(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        match e {
            E::Dir(p, mode) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*mode);
                h.set_size(0);
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            E::File(p, data, mode) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
            E::XattrFile(p, data, k, v) => {
                b.append_pax_extensions([(format!("SCHILY.xattr.{k}").as_str(), *v)]).unwrap();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
            E::Link(p, t) | E::Sym(p, t) => {
                let ty = if matches!(e, E::Link(..)) { tar::EntryType::Link } else { tar::EntryType::Symlink };
                h.set_entry_type(ty);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, p, t).unwrap();
            }
            E::Char(p, maj, min) => {
                h.set_entry_type(tar::EntryType::Char);
                h.set_mode(0o666);
                h.set_size(0);
                h.set_device_major(*maj).unwrap();
                h.set_device_minor(*min).unwrap();
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            E::RawFile(raw, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                h.as_old_mut().name[..raw.len()].copy_from_slice(raw);
                h.set_cksum();
                b.append(&h, *data).unwrap();
            }
            E::RawLink(p, target, ty) => {
                h.set_entry_type(*ty);
                h.set_mode(0o777);
                h.set_size(0);
                h.set_path(p).unwrap();
                h.as_old_mut().linkname[..target.len()].copy_from_slice(target);
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Write an OCI image layout with these (uncompressed tar, stored form) layers.
fn oci_layout(dir: &Path, layers: &[(Vec<u8>, Vec<u8>, &str)], tag: &str) {
    fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let put = |data: &[u8]| {
        let d = sha(data);
        fs::write(dir.join("blobs/sha256").join(&d[7..]), data).unwrap();
        d
    };
    let diff_ids: Vec<String> = layers.iter().map(|(tar, _, _)| sha(tar)).collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": ["/bin/sh"], "Cmd": ["-c", "echo hi"], "Env": ["PATH=/bin", "A=b"],
                   "WorkingDir": "/srv", "User": "1000:1000", "ExposedPorts": {"80/tcp": {}},
                   "Volumes": {"/data": {}}, "Labels": {"org.example": "yes"}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let cd = put(&config);
    let descs: Vec<serde_json::Value> = layers
        .iter()
        .map(|(_, stored, mt)| serde_json::json!({"mediaType": mt, "digest": put(stored), "size": stored.len()}))
        .collect();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": descs,
    }))
    .unwrap();
    let md = put(&manifest);
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": tag}}]});
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

fn entry<'t>(t: &'t Tree, p: &str) -> Option<&'t volt_core::cas::Entry> {
    t.entries.iter().find(|e| e.path == p.as_bytes())
}

#[test]
fn layers_apply_in_order_with_whiteouts_links_and_metadata() {
    let env = env();
    let l1 = tar_of(&[
        E::Dir("a", 0o755),
        E::File("a/f1", b"one", 0o644),
        E::File("a/f2", b"two", 0o644),
        E::Dir("b", 0o700),
        E::File("b/x", b"x", 0o600),
        E::Link("hard", "a/f1"),
        E::Sym("sym", "a/f1"),
        E::File("bin/su", b"setuid", 0o4755),
        E::XattrFile("cap", b"caps", "security.capability", b"\x01\x00\x00\x02"),
        E::Char("dev/null", 1, 3),
        E::Sym("abs", "/bin/su"),
    ]);
    // Layer 2: a file kept although written before the opaque marker in the same layer,
    // `b` whited out, `a` made opaque, a new file.
    let l2 = tar_of(&[
        E::File("a/new", b"new", 0o644),
        E::File("a/.wh..wh..opq", b"", 0o644),
        E::File(".wh.b", b"", 0o644),
        E::File("c", b"c", 0o644),
    ]);
    // Layer 3: replace a directory with a file and a file with a directory.
    let l3 = tar_of(&[E::File("a", b"now a file", 0o644), E::Dir("c", 0o755), E::File("c/inside", b"i", 0o644)]);
    let zstd3 = zstd::encode_all(&l3[..], 3).unwrap();
    let layout = env.root.join("layout");
    oci_layout(
        &layout,
        &[
            (l1.clone(), gzip(&l1), "application/vnd.oci.image.layer.v1.tar+gzip"),
            (l2.clone(), l2.clone(), "application/vnd.oci.image.layer.v1.tar"),
            (l3, zstd3, "application/vnd.oci.image.layer.v1.tar+zstd"),
        ],
        "v1",
    );
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = events.clone();
    let cb = move |p: &volt_core::image::Progress| seen.lock().unwrap().push(p.phase);
    let rec = env.images().import(&layout, &name("test/app:v1"), Some(&cb)).unwrap();
    assert!(events.lock().unwrap().contains(&volt_core::image::Phase::Apply));
    assert_eq!(rec.layers.len(), 3);
    assert_eq!(rec.config.entrypoint, ["/bin/sh"]);
    assert_eq!(rec.config.cmd, ["-c", "echo hi"]);
    assert_eq!(rec.config.workdir, "/srv");
    assert_eq!(rec.config.user, "1000:1000");
    assert_eq!(rec.config.exposed_ports, ["80/tcp"]);
    assert_eq!(rec.config.volumes, ["/data"]);
    assert_eq!(rec.config.labels["org.example"], "yes");
    let t = env.tree(&rec);
    let paths: Vec<String> = t.entries.iter().map(|e| String::from_utf8_lossy(&e.path).into_owned()).collect();
    assert!(!paths.iter().any(|p| p == "b" || p.starts_with("b/")), "whiteout ignored: {paths:?}");
    assert!(!paths.iter().any(|p| p.starts_with("a/")), "a/ should be a file now: {paths:?}");
    assert!(matches!(entry(&t, "a").unwrap().kind, EntryKind::File { .. }));
    assert!(matches!(entry(&t, "c").unwrap().kind, EntryKind::Dir));
    assert!(entry(&t, "c/inside").is_some());
    // `hard` was a hardlink to a/f1, which a later layer hid: the content stays, as a file.
    match &entry(&t, "hard").unwrap().kind {
        EntryKind::File { size, .. } => assert_eq!(*size, 3),
        k => panic!("hard is {k:?}"),
    }
    assert!(matches!(&entry(&t, "sym").unwrap().kind, EntryKind::Symlink { target } if target == b"a/f1"));
    assert_eq!(entry(&t, "bin/su").unwrap().meta.mode, 0o4755);
    let cap = entry(&t, "cap").unwrap();
    assert_eq!(cap.meta.xattrs[0].name, b"security.capability");
    assert!(
        matches!(entry(&t, "dev/null").unwrap().kind, EntryKind::CharDevice { rdev } if rdev == rustix::fs::makedev(1, 3))
    );
    assert_eq!(env.images().list().unwrap().len(), 1);
}

#[test]
fn hardlinks_stay_linked_and_same_layer_entries_survive_opaque() {
    let env = env();
    let l1 = tar_of(&[E::File("z/target", b"data", 0o755), E::Link("a/link", "z/target")]);
    let l2 = tar_of(&[
        E::File("d/keep", b"k", 0o644),
        E::File("d/.wh..wh..opq", b"", 0o644),
        // Implicit parents written by this layer survive its own whiteouts too.
        E::File("p/q/r", b"r", 0o644),
        E::File("p/.wh..wh..opq", b"", 0o644),
    ]);
    let layout = env.root.join("layout");
    oci_layout(
        &layout,
        &[
            (l1.clone(), l1, "application/vnd.oci.image.layer.v1.tar"),
            (l2.clone(), l2, "application/vnd.oci.image.layer.v1.tar"),
        ],
        "x",
    );
    let rec = env.images().import(&layout, &name("links"), None).unwrap();
    let t = env.tree(&rec);
    // The first name in path order is the file, the other links to it.
    assert!(matches!(entry(&t, "a/link").unwrap().kind, EntryKind::File { .. }));
    assert!(matches!(&entry(&t, "z/target").unwrap().kind, EntryKind::Hardlink { target } if target == b"a/link"));
    assert!(entry(&t, "d/keep").is_some());
    assert!(matches!(entry(&t, "p/q").unwrap().kind, EntryKind::Dir));
    assert!(entry(&t, "p/q/r").is_some());
}

fn expect_refused(env: &Env, data: &[u8], what: &str) -> String {
    let p = env.root.join("bad.tar");
    fs::write(&p, data).unwrap();
    let before = env.objects();
    let err = env.images().import(&p, &name("evil"), None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Usage, "{what}: {err}");
    assert!(env.images().list().unwrap().is_empty(), "{what}: a partial image was kept");
    assert_eq!(env.objects(), before, "{what}: objects were kept");
    err.to_string()
}

#[test]
fn malicious_layers_are_refused_and_leave_nothing() {
    let env = env();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("absolute path", tar_of(&[E::RawFile(b"/etc/passwd", b"x")]), "absolute path"),
        ("dot-dot", tar_of(&[E::RawFile(b"a/../../escape", b"x")]), "'..'"),
        ("symlink escaping", tar_of(&[E::Dir("a", 0o755), E::Sym("a/up", "../../etc")]), "points outside the root"),
        ("hardlink escaping", tar_of(&[E::RawLink("h", b"../../etc/shadow", tar::EntryType::Link)]), "hardlink target"),
        ("hardlink to nothing", tar_of(&[E::Link("h", "missing")]), "not a regular file inside the root"),
        (
            "write through symlink",
            tar_of(&[E::Sym("etc", "/etc"), E::File("etc/passwd", b"root::0:0::/:/bin/sh", 0o644)]),
            "writes through the symlink",
        ),
        (
            "write through a relative symlink dir",
            tar_of(&[E::Dir("d", 0o755), E::Sym("d/l", "."), E::File("d/l/x", b"x", 0o644)]),
            "writes through the symlink",
        ),
        (
            "not a tar",
            b"this is not a tar archive at all, just text that is long enough".repeat(20),
            "not a tar archive",
        ),
    ];
    for (what, data, needle) in cases {
        let msg = expect_refused(&env, &data, what);
        assert!(msg.contains(needle), "{what}: {msg}");
    }
}

#[test]
fn decompression_bombs_are_refused() {
    let env = env();
    // 300 MiB of zeros in a zstd layer: over the default 200x ratio once past 256 MiB.
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    {
        let mut b = tar::Builder::new(&mut enc);
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(300 << 20);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        b.append_data(&mut h, "zeros", std::io::repeat(0).take_bytes(300 << 20)).unwrap();
        b.finish().unwrap();
    }
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 1 << 20);
    let msg = expect_refused(&env, &bomb, "bomb");
    assert!(msg.contains("decompression bomb"), "{msg}");
    // An absolute cap, with explicit limits.
    let small = Images::new(
        env.images().cas().clone(),
        env.volt.paths().clone(),
        volt_core::AuditLog::disabled(),
        LayerLimits { max_uncompressed: 1 << 20, ..LayerLimits::default() },
    );
    let big = tar_of(&[E::File("f", &vec![7u8; 2 << 20], 0o644)]);
    let p = env.root.join("big.tar");
    fs::write(&p, &big).unwrap();
    let err = small.import(&p, &name("big"), None).unwrap_err();
    assert!(err.to_string().contains("beyond the limit"), "{err}");
}

trait TakeBytes: std::io::Read + Sized {
    fn take_bytes(self, n: u64) -> std::io::Take<Self> {
        self.take(n)
    }
}
impl<R: std::io::Read> TakeBytes for R {}

fn rootfs(dir: &Path) {
    fs::create_dir_all(dir.join("bin")).unwrap();
    fs::create_dir_all(dir.join("etc/empty")).unwrap();
    fs::write(dir.join("bin/tool"), b"#!/bin/sh\necho tool\n").unwrap();
    fs::write(dir.join("etc/conf"), b"key=value\n").unwrap();
    std::os::unix::fs::symlink("tool", dir.join("bin/alias")).unwrap();
    fs::hard_link(dir.join("bin/tool"), dir.join("bin/tool2")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir.join("bin/tool"), fs::Permissions::from_mode(0o4755)).unwrap();
}

#[test]
fn every_import_format_gives_the_same_tree_and_export_round_trips() {
    let env = env();
    let src = env.root.join("src");
    rootfs(&src);
    let a = env.images().import(&src, &name("fmt/dir"), None).unwrap();
    assert_eq!(a.layers.len(), 1);
    assert!(a.source.starts_with("rootfs:"));
    // Export as a layout dir and as a tar; import both back.
    let out = env.root.join("out");
    let rep = env.images().export(&name("fmt/dir"), &out, None).unwrap();
    assert_eq!(rep.blobs, 3);
    assert!(out.join("oci-layout").is_file() && out.join("index.json").is_file());
    let b = env.images().import(&out, &name("fmt/layout"), None).unwrap();
    // A non-empty destination is refused and left exactly as it was.
    let busy = env.root.join("busy");
    fs::create_dir_all(&busy).unwrap();
    fs::write(busy.join("mine"), b"keep me").unwrap();
    let err = env.images().export(&name("fmt/dir"), &busy, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Usage);
    assert_eq!(fs::read(busy.join("mine")).unwrap(), b"keep me");
    env.images().export(&name("fmt/dir"), &env.root.join("out.tar"), None).unwrap();
    let c = env.images().import(&env.root.join("out.tar"), &name("fmt/layout-tar"), None).unwrap();
    // A gzip rootfs tarball made by GNU tar.
    let tgz = env.root.join("rootfs.tar.gz");
    let st = std::process::Command::new("tar").arg("-czf").arg(&tgz).arg("-C").arg(&src).arg(".").status().unwrap();
    assert!(st.success());
    let d = env.images().import(&tgz, &name("fmt/tgz"), None).unwrap();
    assert_eq!(d.layers[0].media_type, "application/vnd.oci.image.layer.v1.tar+gzip");
    // A docker-archive (docker save layout) written by hand from the exported blobs.
    let da = env.root.join("da");
    fs::create_dir_all(da.join("layer1")).unwrap();
    let layer = fs::read(out.join("blobs/sha256").join(&a.layers[0].digest[7..])).unwrap();
    fs::write(da.join("layer1/layer.tar"), &layer).unwrap();
    let config = fs::read(out.join("blobs/sha256").join(&a.id[7..])).unwrap();
    fs::write(da.join(format!("{}.json", &a.id[7..])), &config).unwrap();
    fs::write(
        da.join("manifest.json"),
        serde_json::to_vec(&serde_json::json!([{"Config": format!("{}.json", &a.id[7..]),
            "RepoTags": ["fmt/docker:latest"], "Layers": ["layer1/layer.tar"]}]))
        .unwrap(),
    )
    .unwrap();
    let datar = env.root.join("da.tar");
    let st = std::process::Command::new("tar").arg("-cf").arg(&datar).arg("-C").arg(&da).arg(".").status().unwrap();
    assert!(st.success());
    let e = env.images().import(&datar, &name("fmt/docker"), None).unwrap();
    assert!(e.source.starts_with("docker-archive:"));
    for r in [&b, &c, &e] {
        assert_eq!(r.tree, a.tree, "{}", r.source);
        assert_eq!(r.id, a.id);
    }
    // GNU tar writes "./" entries and directory mtimes of its own; the content is the same.
    let (ta, td) = (env.tree(&a), env.tree(&d));
    let files = |t: &Tree| -> Vec<(Vec<u8>, String)> {
        t.entries.iter().map(|e| (e.path.clone(), format!("{:?}", std::mem::discriminant(&e.kind)))).collect()
    };
    assert_eq!(files(&ta), files(&td));
    assert_eq!(entry(&ta, "bin/alias").unwrap().kind, EntryKind::Symlink { target: b"tool".to_vec() });
    assert!(matches!(&entry(&ta, "bin/tool2").unwrap().kind, EntryKind::Hardlink { target } if target == b"bin/tool"));
    assert_eq!(entry(&ta, "bin/tool").unwrap().meta.mode, 0o4755);
    assert!(entry(&ta, "etc/empty").is_some());
    // Everything shares storage: six images, one set of file objects and one layer blob per form.
    let names: Vec<String> = env.images().list().unwrap().iter().map(|i| i.name.to_string()).collect();
    assert_eq!(names.len(), 5, "{names:?}");
}

#[test]
fn tag_remove_conflict_and_gc() {
    let env = env();
    let src = env.root.join("src");
    rootfs(&src);
    env.images().import(&src, &name("base:1"), None).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // The directory's own `cas build` tree is an intermediate nothing refers to.
    rt.block_on(env.volt.store().gc(false)).unwrap();
    env.images().tag(&name("base:1"), &name("base:stable")).unwrap();
    assert_eq!(env.images().inspect(&name("base:stable")).unwrap().name.to_string(), "base:stable");
    let err = env.images().tag(&name("nope"), &name("x")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    // A container that uses the image blocks its removal (exit 9).
    let c = env.volt.paths().containers_dir().join("web");
    fs::create_dir_all(&c).unwrap();
    fs::write(c.join("config.json"), br#"{"name":"web","image":"base:1"}"#).unwrap();
    let err = env.images().remove(&name("base:1")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.kind().exit_code(), 9);
    fs::remove_dir_all(&c).unwrap();
    env.images().remove(&name("base:1")).unwrap();
    assert_eq!(env.images().remove(&name("base:1")).unwrap_err().kind(), ErrorKind::NotFound);
    let before = env.objects();
    rt.block_on(env.volt.store().gc(false)).unwrap();
    assert_eq!(env.objects(), before, "base:stable still holds the content");
    env.images().remove(&name("base:stable")).unwrap();
    rt.block_on(env.volt.store().gc(false)).unwrap();
    assert_eq!(env.objects(), 0);
}

#[test]
fn container_roots_overlay_and_copy() {
    if !rustix::process::geteuid().is_root() {
        assert!(std::env::var_os("CI").is_none(), "CI must run this test as root");
        eprintln!("SKIP container_roots_overlay_and_copy: mounting overlayfs needs root");
        return;
    }
    let env = env();
    let src = env.root.join("src");
    rootfs(&src);
    env.images().import(&src, &name("base"), None).unwrap();
    let c1 = env.root.join("containers/one");
    let m = env.images().create_rootfs(&name("base"), &c1, false).unwrap();
    assert_eq!(m.mode, volt_core::image::RootfsMode::Overlay);
    assert_eq!(fs::read(m.path.join("etc/conf")).unwrap(), b"key=value\n");
    fs::write(m.path.join("etc/conf"), b"changed\n").unwrap();
    fs::write(m.path.join("new"), b"n").unwrap();
    let lower = m.lower.clone().unwrap();
    assert_eq!(fs::read(lower.join("etc/conf")).unwrap(), b"key=value\n", "the shared root was written");
    assert_eq!(fs::read(m.upper.as_ref().unwrap().join("etc/conf")).unwrap(), b"changed\n");
    // A second container shares the same lower directory and sees the original.
    let c2 = env.root.join("containers/two");
    let m2 = env.images().create_rootfs(&name("base"), &c2, false).unwrap();
    assert_eq!(m2.lower, m.lower);
    assert_eq!(fs::read(m2.path.join("etc/conf")).unwrap(), b"key=value\n");
    assert!(env.images().create_rootfs(&name("base"), &c2, false).is_err(), "a second rootfs over a live one");
    env.images().remove_rootfs(&c1).unwrap();
    env.images().remove_rootfs(&c2).unwrap();
    assert!(!c1.join("rootfs").exists() && !c1.join("upper").exists());
    env.images().remove_rootfs(&c1).unwrap();
    // Copy mode: a private tree.
    let c3 = env.root.join("containers/three");
    let m3 = env.images().create_rootfs(&name("base"), &c3, true).unwrap();
    assert_eq!(m3.mode, volt_core::image::RootfsMode::Copy);
    assert_eq!(fs::read(m3.path.join("bin/tool")).unwrap(), b"#!/bin/sh\necho tool\n");
    env.images().remove_rootfs(&c3).unwrap();
    // The shared checkout lives while an image has its tree, and goes with the last one.
    env.images().tag(&name("base"), &name("base:other")).unwrap();
    env.images().remove(&name("base")).unwrap();
    assert!(lower.is_dir(), "removed while base:other still has the tree");
    env.images().remove(&name("base:other")).unwrap();
    assert!(!lower.exists(), "the shared checkout outlived its last image");
}

#[test]
fn names_are_validated() {
    for bad in ["UPPER", "a/../b", "a:", "a@sha256:00"] {
        let e = bad.parse::<ImageName>().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage, "{bad}");
    }
    let env = env();
    let e = env.images().inspect(&name("missing:1")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = env.images().import(Path::new("/nonexistent/volt/path"), &name("x"), None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[test]
fn docker_archive_directories_cannot_name_files_outside_themselves() {
    let env = env();
    fs::write(env.root.join("secret.json"), br#"{"architecture":"amd64","os":"linux","config":{}}"#).unwrap();
    let da = env.root.join("da");
    fs::create_dir_all(&da).unwrap();
    fs::write(da.join("layer.tar"), tar_of(&[E::File("f", b"x", 0o644)])).unwrap();
    for config in ["../secret.json", "/etc/hostname", "link.json"] {
        let _ = fs::remove_file(da.join("link.json"));
        std::os::unix::fs::symlink(env.root.join("secret.json"), da.join("link.json")).unwrap();
        let manifest = serde_json::json!([{"Config": config, "RepoTags": ["x:1"], "Layers": ["layer.tar"]}]);
        fs::write(da.join("manifest.json"), serde_json::to_vec(&manifest).unwrap()).unwrap();
        let err = env.images().import(&da, &name("x:1"), None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage, "{config}: {err}");
        assert!(err.to_string().contains("outside the image directory"), "{config}: {err}");
    }
    assert!(env.images().list().unwrap().is_empty());
}
