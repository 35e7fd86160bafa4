"""End-to-end tests of the `volt` package against a real store in a temporary root."""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import pytest

import volt

# Fixed timestamps (ns) so that mtime comparisons are exact and do not depend on the clock.
FILE_MTIME = 1_600_000_000_123_456_789
DIR_MTIME = 1_500_000_000_987_654_321
LINK_MTIME = 1_400_000_000_111_111_111


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Store(root) ignores VOLT_ROOT, but Store() and the config file lookup do not: a caller's
    # environment must not steer the tests away from their tmp_path.
    monkeypatch.delenv("VOLT_ROOT", raising=False)
    monkeypatch.delenv("VOLT_CONFIG", raising=False)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def store(root: Path) -> volt.Store:
    return volt.Store(root)


def objects_dir(root: Path) -> Path:
    return root / "var" / "lib" / "volt" / "cas" / "objects"


def object_path(root: Path, digest: str) -> Path:
    hexd = digest.split(":", 1)[1]
    return objects_dir(root) / hexd[:2] / hexd


def blake3_hex(data: bytes) -> Optional[str]:
    """BLAKE3 of `data` computed outside Volt: the `blake3` module or `b3sum`, if available."""
    try:
        import blake3  # type: ignore[import-not-found]

        return str(blake3.blake3(data).hexdigest())
    except ImportError:
        pass
    b3sum = shutil.which("b3sum")
    if b3sum:
        out = subprocess.run([b3sum, "--no-names"], input=data, capture_output=True, check=True)
        return out.stdout.decode().strip()
    return None


# --- objects -------------------------------------------------------------------------------------


def test_store_root_is_under_the_given_root(root: Path) -> None:
    s = volt.Store(str(root))
    assert s.root == str(root / "var" / "lib" / "volt" / "cas")
    assert os.path.isdir(s.root)
    assert str(root) in repr(s)


def test_default_store_follows_volt_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOLT_ROOT", str(tmp_path / "env-root"))
    s = volt.Store()
    assert s.root == str(tmp_path / "env-root" / "var" / "lib" / "volt" / "cas")
    s.put_bytes(b"x", ref="test/x")
    assert volt.Store(tmp_path / "env-root").read("test/x") == b"x"


def test_explicit_root_wins_over_volt_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOLT_ROOT", str(tmp_path / "env-root"))
    s = volt.Store(tmp_path / "mine")
    assert s.root == str(tmp_path / "mine" / "var" / "lib" / "volt" / "cas")
    s.put_bytes(b"x", ref="test/x")
    assert not (tmp_path / "env-root").exists()


def test_root_config_file_and_audit_log_live_under_root(root: Path, tmp_path: Path) -> None:
    (root / "etc" / "volt").mkdir(parents=True)
    # The smallest threshold FastCDC allows (chunk_max, 256 KiB): a 300 kB put must be chunked.
    (root / "etc" / "volt" / "config.yaml").write_text("cas:\n  chunk_threshold: 262144\n")
    s = volt.Store(root)
    out = s.put_bytes(os.urandom(300_000), ref="test/chunky")
    assert out["chunks"] > 1
    audit = root / "var" / "log" / "volt" / "audit.log"
    assert '"cas.put"' in audit.read_text()


def test_bad_configuration_is_invalid_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOLT_ROOT", str(tmp_path / "env-root"))
    monkeypatch.setenv("VOLT_CONFIG", str(tmp_path / "missing.yaml"))
    with pytest.raises(volt.InvalidConfigError) as ei:
        volt.Store()
    assert ei.value.code == 12 and "missing.yaml" in str(ei.value)
    bad = tmp_path / "bad.yaml"
    bad.write_text("cas:\n  chunk_min: 1\n")
    monkeypatch.setenv("VOLT_CONFIG", str(bad))
    with pytest.raises(volt.InvalidConfigError):
        volt.Store()


def test_put_bytes_read_round_trip(store: volt.Store, tmp_path: Path) -> None:
    data = b"hello, stellarium\n" * 1000 + bytes(range(256))
    out = store.put_bytes(data, ref="test/blob")
    assert out["size"] == len(data)
    assert out["existed"] is False
    assert out["aliases"] == []
    assert out["id"].startswith("blake3:") and len(out["id"]) == 7 + 64

    expected = blake3_hex(data)
    if expected is None:  # neither the blake3 module nor b3sum: compare with put_file instead
        f = tmp_path / "same"
        f.write_bytes(data)
        assert store.put_file(f)["id"] == out["id"]
    else:
        assert out["id"] == "blake3:" + expected

    assert store.read(out["id"]) == data
    assert store.read("test/blob") == data
    assert store.read(out["id"].split(":", 1)[1]) == data  # bare hex is BLAKE3
    assert store.has(out["id"]) and store.has("test/blob")
    assert not store.has("blake3:" + "0" * 64)
    info = store.stat("test/blob")
    assert info["id"] == out["id"] and info["size"] == len(data)
    assert info["kind"] == "blob" and info["tree"] is False

    again = store.put_bytes(bytearray(data))
    assert again["id"] == out["id"] and again["existed"] is True


def test_sha2_aliases(store: volt.Store) -> None:
    data = b"an OCI layer, pretend"
    out = store.put_bytes(data, ref="test/aliased", also=("sha256", "sha512"))
    sha256 = "sha256:" + hashlib.sha256(data).hexdigest()
    sha512 = "sha512:" + hashlib.sha512(data).hexdigest()
    assert sha256 in out["aliases"] and sha512 in out["aliases"]
    assert store.read(sha256) == data
    assert store.read(sha512) == data
    assert sha256 in store.stat(out["id"])["aliases"]
    assert store.stat(sha256)["id"] == out["id"]


def test_put_file_and_get(store: volt.Store, tmp_path: Path) -> None:
    src = tmp_path / "payload.bin"
    data = os.urandom(300_000)
    src.write_bytes(data)
    out = store.put_file(src, ref="test/file", also=["sha256"])
    assert out["size"] == len(data)
    assert "sha256:" + hashlib.sha256(data).hexdigest() in out["aliases"]

    dest = tmp_path / "out.bin"
    assert store.get("test/file", dest) == len(data)
    assert dest.read_bytes() == data

    missing = tmp_path / "never-written"
    with pytest.raises(volt.NotFoundError):
        store.get("test/nothing-here", missing)
    assert not missing.exists()

    # An existing file is replaced whole, and left alone when the get fails.
    dest.write_bytes(b"old contents")
    assert store.get(out["id"], str(dest)) == len(data)
    assert dest.read_bytes() == data
    with pytest.raises(volt.NotFoundError):
        store.get("blake3:" + "0" * 64, dest)
    assert dest.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin", "payload.bin", "root"]
    with pytest.raises(volt.UsageError):
        store.get(out["id"], "/")


def test_large_put_is_chunked_and_readable(store: volt.Store, tmp_path: Path) -> None:
    data = os.urandom(5 << 20)  # above the 4 MiB default chunk threshold
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    out = store.put_file(src, ref="test/big")
    assert out["chunks"] > 1
    assert store.stat("test/big")["kind"] == "chunked"
    assert store.read("test/big") == data
    assert store.verify("test/big")["corrupt"] == []


# --- trees ---------------------------------------------------------------------------------------


def make_tree(base: Path) -> Path:
    """A tree with every kind of entry the store keeps, with fixed modes and times."""
    src = base / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "empty").mkdir()
    (src / "a.txt").write_bytes(b"alpha\n")
    (src / "sub" / "b.txt").write_bytes(b"bravo\n" * 100)
    (src / "sub" / "deeper" / "c.bin").write_bytes(os.urandom(10_000))
    (src / "zero").write_bytes(b"")
    (src / "setuid").write_bytes(b"#!/bin/sh\necho pretend\n")
    os.chmod(src / "setuid", 0o4755)
    (src / "private").write_bytes(b"secret\n")
    os.chmod(src / "private", 0o600)
    (src / "hard_a").write_bytes(b"linked twice\n")
    os.link(src / "hard_a", src / "sub" / "hard_b")
    os.symlink("sub/b.txt", src / "link_rel")
    os.symlink("/nonexistent/target", src / "link_dangling")
    os.mkfifo(src / "fifo", 0o640)
    for p in src.rglob("*"):
        if p.is_symlink():
            os.utime(p, ns=(LINK_MTIME, LINK_MTIME), follow_symlinks=False)
        elif not p.is_dir():
            os.utime(p, ns=(FILE_MTIME, FILE_MTIME))
    # Directories last and deepest first, so later changes do not bump their mtimes.
    os.chmod(src / "empty", 0o750)
    for d in sorted((p for p in src.rglob("*") if p.is_dir() and not p.is_symlink()), key=lambda p: -len(p.parts)):
        os.utime(d, ns=(DIR_MTIME, DIR_MTIME))
    os.utime(src, ns=(DIR_MTIME, DIR_MTIME))
    return src


Snapshot = Dict[str, Tuple[object, ...]]


def snapshot(top: Path) -> Snapshot:
    """Everything the store promises to preserve, per relative path ("." is the root)."""
    out: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in [".", *dirnames, *filenames] if dirpath == str(top) else [*dirnames, *filenames]:
            p = Path(dirpath) / name if name != "." else top
            st = os.lstat(p)
            rel = "." if name == "." else os.path.relpath(p, top)
            fmt = stat.S_IFMT(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                content: object = os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                content = p.read_bytes()
            else:
                content = None
            mode = None if stat.S_ISLNK(st.st_mode) else stat.S_IMODE(st.st_mode)
            out[rel] = (fmt, mode, st.st_uid, st.st_gid, st.st_mtime_ns, content)
    return out


@pytest.mark.parametrize("mode", ["hardlink", "copy", "reflink"])
def test_build_and_checkout_preserve_everything(
    store: volt.Store, tmp_path: Path, root: Path, mode: volt.types.CheckoutMode
) -> None:
    src = make_tree(tmp_path)
    want = snapshot(src)
    report = store.build(src, ref="test/tree")
    assert report["reference"] == "test/tree"
    assert report["entries"] == len(want)
    assert report["skipped"] == []
    assert store.stat("test/tree")["tree"] is True

    dest = tmp_path / f"checkout-{mode}"
    co = store.checkout("test/tree", dest, mode=mode)
    assert co["mode"] == mode and co["root"] == report["root"] and co["dest"] == str(dest)
    got = snapshot(dest)
    assert got.keys() == want.keys()
    for rel in want:
        assert got[rel] == want[rel], rel
    # The two names of one inode are still one inode.
    assert os.lstat(dest / "hard_a").st_ino == os.lstat(dest / "sub" / "hard_b").st_ino
    assert stat.S_ISFIFO(os.lstat(dest / "fifo").st_mode)
    assert stat.S_IMODE(os.lstat(dest / "setuid").st_mode) == 0o4755

    store_inodes = {os.lstat(p).st_ino for p in objects_dir(root).rglob("*") if p.is_file()}
    a_ino = os.lstat(dest / "a.txt").st_ino
    if mode == "hardlink":
        assert co["linked"] > 0 and a_ino in store_inodes
    else:
        assert co["copied"] > 0 and co["linked"] == 0 and a_ino not in store_inodes


def test_rebuild_of_unchanged_tree_writes_nothing(store: volt.Store, tmp_path: Path) -> None:
    src = make_tree(tmp_path)
    first = store.build(src, ref="test/tree")
    assert first["new_objects"] > 0
    second = store.build(src, ref="test/tree")
    assert second["root"] == first["root"] and second["new_objects"] == 0


def test_chunked_files_check_out_in_every_mode(store: volt.Store, tmp_path: Path) -> None:
    src = tmp_path / "big"
    src.mkdir()
    data = os.urandom(6 << 20)
    (src / "disk.img").write_bytes(data)
    os.chmod(src / "disk.img", 0o640)
    store.build(src, ref="test/big")
    modes: tuple[volt.types.CheckoutMode, ...] = ("hardlink", "copy", "reflink")
    for mode in modes:
        dest = tmp_path / f"out-{mode}"
        store.checkout("test/big", dest, mode=mode)
        assert (dest / "disk.img").read_bytes() == data
        assert stat.S_IMODE(os.lstat(dest / "disk.img").st_mode) == 0o640


def test_build_skips_sockets(store: volt.Store, tmp_path: Path) -> None:
    src = tmp_path / "with-socket"
    src.mkdir()
    (src / "f").write_text("x")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(src / "sock"))
        report = store.build(src)
    finally:
        sock.close()
    assert report["skipped"] == ["sock"]
    assert report["files"] == 1


def test_hardlink_checkout_never_shares_inodes_across_metadata(store: volt.Store, tmp_path: Path) -> None:
    src = tmp_path / "modes"
    src.mkdir()
    for name, mode in [("plain", 0o644), ("exec", 0o755), ("plain2", 0o644)]:
        (src / name).write_bytes(b"same bytes\n")
        os.chmod(src / name, mode)
        os.utime(src / name, ns=(FILE_MTIME, FILE_MTIME))
    store.build(src, ref="test/modes")
    dest = tmp_path / "out"
    store.checkout("test/modes", dest)
    plain, exe, plain2 = (os.lstat(dest / n) for n in ("plain", "exec", "plain2"))
    assert plain.st_ino != exe.st_ino
    assert stat.S_IMODE(plain.st_mode) == 0o644 and stat.S_IMODE(exe.st_mode) == 0o755
    # Same bytes and same metadata do share the store inode: that is the point of hardlink mode.
    assert plain.st_ino == plain2.st_ino


def test_checkout_into_non_empty_dir_is_already_exists(store: volt.Store, tmp_path: Path) -> None:
    src = make_tree(tmp_path)
    store.build(src, ref="test/tree")
    dest = tmp_path / "busy"
    dest.mkdir()
    (dest / "keep").write_text("mine")
    with pytest.raises(volt.AlreadyExistsError) as ei:
        store.checkout("test/tree", dest)
    assert ei.value.code == 4 and ei.value.kind == "ERR_ALREADY_EXISTS"
    assert isinstance(ei.value, FileExistsError) and isinstance(ei.value, volt.VoltError)
    assert sorted(os.listdir(dest)) == ["keep"]


# --- verify, gc, refs, dedup ----------------------------------------------------------------------


def test_verify_reports_corruption_and_broken_ref(store: volt.Store, tmp_path: Path, root: Path) -> None:
    src = tmp_path / "v"
    src.mkdir()
    content = b"precious bytes\n" * 50
    (src / "precious").write_bytes(content)
    (src / "other").write_bytes(b"unrelated\n")
    store.build(src, ref="test/verified")
    store.put_bytes(b"bystander", ref="test/bystander")

    clean = store.verify()
    assert clean["corrupt"] == [] and clean["missing"] == [] and clean["broken_refs"] == []
    assert clean["checked"] >= 4

    digest = "blake3:" + (blake3_hex(content) or store.put_bytes(content)["id"].split(":", 1)[1])
    obj = object_path(root, digest)
    assert obj.is_file()
    with open(obj, "r+b") as f:
        first = f.read(1)
        f.seek(0)
        f.write(bytes([first[0] ^ 0xFF]))

    report = store.verify()
    assert [b["id"] for b in report["corrupt"]] == [digest]
    assert report["corrupt"][0]["path"] == str(obj)
    assert [r["name"] for r in report["broken_refs"]] == ["test/verified"]
    assert report["broken_refs"][0]["objects"] == [digest]

    one = store.verify("test/verified")
    assert [b["id"] for b in one["corrupt"]] == [digest]
    assert store.verify("test/bystander")["corrupt"] == []


def test_gc_removes_only_unreferenced(store: volt.Store) -> None:
    kept = store.put_bytes(b"kept", ref="test/kept")["id"]
    garbage = store.put_bytes(b"garbage nobody names")["id"]

    dry = store.gc(dry_run=True)
    assert dry["dry_run"] is True and dry["removed_files"] == 1
    assert store.has(garbage)

    real = store.gc()
    assert real["dry_run"] is False and real["removed_files"] == 1
    assert real["removed_bytes"] == len(b"garbage nobody names")
    assert not store.has(garbage)
    assert store.read(kept) == b"kept"
    assert store.gc()["removed_files"] == 0


def test_refs_set_list_delete(store: volt.Store) -> None:
    a = store.put_bytes(b"a")["id"]
    b = store.put_bytes(b"b", ref="other/b")["id"]
    assert store.set_ref("images/a", a) == a
    assert store.set_ref("images/a-too", "images/a") == a  # a ref can target a ref
    assert store.refs() == [
        {"name": "images/a", "target": a},
        {"name": "images/a-too", "target": a},
        {"name": "other/b", "target": b},
    ]
    assert [r["name"] for r in store.refs(prefix="images")] == ["images/a", "images/a-too"]
    store.delete_ref("images/a")
    assert [r["name"] for r in store.refs()] == ["images/a-too", "other/b"]
    with pytest.raises(volt.NotFoundError):
        store.delete_ref("images/a")
    with pytest.raises(volt.NotFoundError):
        store.set_ref("images/c", "blake3:" + "1" * 64)


def test_dedup_ratio_counts_duplicates(store: volt.Store, tmp_path: Path) -> None:
    src = tmp_path / "dups"
    src.mkdir()
    shared = os.urandom(20_000)
    for i in range(5):
        (src / f"copy{i}").write_bytes(shared)
    (src / "unique").write_bytes(os.urandom(1000))
    store.build(src, ref="test/dups")
    d = store.dedup()
    assert d["files"] == 6 and d["unique_objects"] == 2
    assert d["logical_bytes"] == 5 * 20_000 + 1000
    assert d["stored_bytes"] == 20_000 + 1000
    assert d["ratio"] > 1
    assert d["top"][0]["uses"] == 5 and d["top"][0]["saved"] == 4 * 20_000
    assert store.dedup(top=0)["top"] == []
    st = store.status()
    assert st["dedup_ratio"] > 1 and st["refs"] == 1 and st["root"] == store.root


# --- errors --------------------------------------------------------------------------------------


def test_missing_ref_is_not_found(store: volt.Store) -> None:
    with pytest.raises(volt.NotFoundError) as ei:
        store.read("no/such/ref")
    e = ei.value
    assert isinstance(e, FileNotFoundError) and isinstance(e, OSError) and isinstance(e, volt.VoltError)
    assert e.code == 3 and e.kind == "ERR_NOT_FOUND"
    assert "no/such/ref" in str(e)
    with pytest.raises(FileNotFoundError):
        store.checkout("no/such/ref", "/nonexistent-volt-dest")


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda s: s.set_ref("a/../b", "blake3:" + "0" * 64), id="ref-dotdot"),
        pytest.param(lambda s: s.put_bytes(b"x", ref="a/../b"), id="put-ref-dotdot"),
        pytest.param(lambda s: s.read("sha256:zz"), id="bad-digest"),
        pytest.param(lambda s: s.read("blake3:" + "0" * 63), id="short-digest"),
        pytest.param(lambda s: s.checkout("x", "/tmp/x", mode="symlink"), id="bad-mode"),
        pytest.param(lambda s: s.put_bytes(b"x", also=("md5",)), id="bad-also"),
        pytest.param(lambda s: s.put_bytes(b"x", also=("blake3",)), id="also-blake3"),
    ],
)
def test_usage_errors(store: volt.Store, call: Callable[[volt.Store], object]) -> None:
    with pytest.raises(volt.UsageError) as ei:
        call(store)
    assert isinstance(ei.value, ValueError)
    assert ei.value.code == 2 and ei.value.kind == "ERR_USAGE"


def test_checkout_of_a_blob_is_a_usage_error(store: volt.Store, tmp_path: Path) -> None:
    store.put_bytes(b"not a tree", ref="test/blob")
    with pytest.raises(volt.UsageError):
        store.checkout("test/blob", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_wrong_python_types_are_type_errors(store: volt.Store) -> None:
    with pytest.raises(TypeError):
        store.put_bytes(b"x", also="sha256")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.put_bytes("text")  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        store.dedup(top=-1)


def test_build_of_missing_dir_is_not_found(store: volt.Store, tmp_path: Path) -> None:
    with pytest.raises(volt.NotFoundError):
        store.build(tmp_path / "absent")
    with pytest.raises(volt.UsageError):
        (tmp_path / "file").write_text("x")
        store.build(tmp_path / "file")


EXPECTED_ERRORS = [
    (volt.GeneralError, None, "ERR_GENERAL", 1),
    (volt.UsageError, ValueError, "ERR_USAGE", 2),
    (volt.NotFoundError, FileNotFoundError, "ERR_NOT_FOUND", 3),
    (volt.AlreadyExistsError, FileExistsError, "ERR_ALREADY_EXISTS", 4),
    (volt.VoltPermissionError, PermissionError, "ERR_PERMISSION", 5),
    (volt.DaemonError, None, "ERR_DAEMON", 6),
    (volt.VoltTimeoutError, TimeoutError, "ERR_TIMEOUT", 7),
    (volt.NetworkError, ConnectionError, "ERR_NETWORK", 8),
    (volt.ConflictError, None, "ERR_CONFLICT", 9),
    (volt.DependencyError, None, "ERR_DEPENDENCY", 10),
    (volt.ResourceError, None, "ERR_RESOURCE", 11),
    (volt.InvalidConfigError, None, "ERR_INVALID_CONFIG", 12),
    (volt.VoltInterruptedError, InterruptedError, "ERR_INTERRUPTED", 13),
]


@pytest.mark.parametrize("cls,builtin,kind,code", EXPECTED_ERRORS, ids=[c[2] for c in EXPECTED_ERRORS])
def test_exception_classes(cls: type, builtin: Optional[type], kind: str, code: int) -> None:
    assert issubclass(cls, volt.VoltError)
    if builtin is not None:
        assert issubclass(cls, builtin)
    assert cls.__name__ in volt.__all__
    assert volt.ERRORS_BY_KIND[kind] is cls
    e = cls("something broke", kind, code)
    assert str(e) == "something broke" and e.args == ("something broke",)
    assert (e.kind, e.code) == (kind, code)
    d = cls("defaults")
    assert (d.kind, d.code) == (kind, code)
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is cls and str(back) == "something broke" and back.code == code
    if isinstance(e, OSError):
        assert e.errno is None and e.filename is None


def test_all_kinds_have_a_class() -> None:
    assert sorted(c.code for c in volt.ERRORS_BY_KIND.values()) == list(range(1, 14))


# --- threads and the GIL --------------------------------------------------------------------------


def test_build_releases_the_gil(store: volt.Store, tmp_path: Path) -> None:
    src = tmp_path / "many"
    for i in range(2000):
        d = src / f"d{i % 20:02}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}").write_bytes(b"file %d\n" % i)

    counter = [0]
    seen: Dict[str, object] = {}
    done = threading.Event()

    def work() -> None:
        try:
            before = counter[0]
            seen["report"] = store.build(src, ref="test/many")
            seen["advanced"] = counter[0] - before
        except BaseException as e:  # surfaced by the asserts below
            seen["error"] = e
        finally:
            done.set()

    # With a huge switch interval the interpreter never preempts a thread: the main thread can
    # only run while the worker has *given up* the GIL itself. Between reading `before` and
    # `after` the worker does nothing but call store.build, so the counter moves only if build
    # released the GIL.
    old = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        t = threading.Thread(target=work)
        t.start()
        while not done.is_set():
            counter[0] += 1
            time.sleep(0.001)  # gives the GIL back so the worker can finish its Python code
        t.join()
    finally:
        sys.setswitchinterval(old)
    assert "error" not in seen, seen.get("error")
    report = seen["report"]
    assert isinstance(report, dict) and report["files"] == 2000
    advanced = seen["advanced"]
    assert isinstance(advanced, int) and advanced > 0


def test_concurrent_writers(store: volt.Store) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(50):
                store.put_bytes(b"writer %d item %d" % (n, i), ref=f"w{n}/{i}")
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    gc_report = store.gc()  # racing the writers must not collect what they are about to name
    for t in threads:
        t.join()
    assert not errors
    assert len(store.refs()) == 200
    assert store.read("w3/49") == b"writer 3 item 49"
    assert gc_report["dry_run"] is False
    v = store.verify()
    assert v["corrupt"] == [] and v["missing"] == [] and v["broken_refs"] == []
    assert store.gc()["removed_files"] == 0




# Concurrent ref writers in one process (temp names and namespace pruning must not collide).


def test_threads_setting_the_same_ref(store: volt.Store) -> None:
    a = store.put_bytes(b"a", ref="test/a")["id"]
    b = store.put_bytes(b"b", ref="test/b")["id"]
    errors: list[BaseException] = []

    def setter(target: str) -> None:
        for _ in range(300):
            try:
                store.set_ref("test/same", target)
            except BaseException as e:
                errors.append(e)

    threads = [threading.Thread(target=setter, args=(t,)) for t in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.refs(prefix="test/same")[0]["target"] in (a, b)


def test_refs_in_one_namespace_from_two_threads(store: volt.Store) -> None:
    a = store.put_bytes(b"a", ref="keep")["id"]
    errors: list[BaseException] = []

    def churn(name: str) -> None:
        for _ in range(300):
            try:
                store.set_ref(name, a)
                store.delete_ref(name)
            except BaseException as e:
                errors.append(e)

    threads = [threading.Thread(target=churn, args=(n,)) for n in ("ns/sub/x", "ns/sub/y")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [r["name"] for r in store.refs()] == ["keep"]
