"""End-to-end tests of `volt.Images` and `volt.RegistryServer`: real stores under tmp_path and a
real registry on a free loopback port."""

from __future__ import annotations

import io
import os
import shutil
import ssl
import stat
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

import pytest

import volt
from volt.types import Progress

FILE_MTIME = 1_600_000_000_000_000_000  # whole seconds: layer tars keep no sub-second mtimes


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A caller's VOLT_ROOT / VOLT_CONFIG must not steer the stores away from tmp_path, and a proxy
    # must not be asked to reach the loopback registry.
    for var in ("VOLT_ROOT", "VOLT_CONFIG", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.upper(), raising=False)


@pytest.fixture
def store(tmp_path: Path) -> volt.Store:
    return volt.Store(tmp_path / "root")


@pytest.fixture
def other(tmp_path: Path) -> volt.Store:
    """A second store with its own root: the far side of a push and pull."""
    return volt.Store(tmp_path / "other-root")


def make_rootfs(base: Path) -> Path:
    """A small root filesystem: nested directories, modes, a symlink, an empty and a larger file."""
    src = base / "rootfs"
    (src / "etc").mkdir(parents=True)
    (src / "usr" / "bin").mkdir(parents=True)
    (src / "var" / "empty").mkdir(parents=True)
    (src / "etc" / "hostname").write_bytes(b"volt-test\n")
    (src / "etc" / "shadow").write_bytes(b"root:*:19000::::::\n")
    os.chmod(src / "etc" / "shadow", 0o600)
    (src / "usr" / "bin" / "tool").write_bytes(b"#!/bin/sh\necho tool\n")
    os.chmod(src / "usr" / "bin" / "tool", 0o755)
    (src / "usr" / "lib.bin").write_bytes(os.urandom(200_000))
    (src / "empty").write_bytes(b"")
    os.symlink("usr/bin/tool", src / "tool")
    for p in src.rglob("*"):
        if not p.is_symlink():
            os.utime(p, ns=(FILE_MTIME, FILE_MTIME))
    return src


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    return make_rootfs(tmp_path)


Snapshot = Dict[str, Tuple[object, ...]]


def snapshot(top: Path) -> Snapshot:
    """Type, permission bits and content (or link target) of everything under `top`."""
    out: Snapshot = {}
    for p in sorted(top.rglob("*")):
        st = os.lstat(p)
        rel = str(p.relative_to(top))
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", os.readlink(p))
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", stat.S_IMODE(st.st_mode))
        else:
            out[rel] = ("file", stat.S_IMODE(st.st_mode), p.read_bytes())
    return out


def import_demo(store: volt.Store, rootfs: Path, name: str = "demo:v1") -> volt.types.ImageRecord:
    return store.images.import_path(rootfs, name)


# --- import, list, inspect, tag, remove ------------------------------------------------------------


def test_images_is_an_attribute_of_the_store(store: volt.Store) -> None:
    assert isinstance(store.images, volt.Images)
    assert store.root in repr(store.images)
    assert store.images.list() == []


def test_import_list_inspect(store: volt.Store, rootfs: Path, tmp_path: Path) -> None:
    events: List[Progress] = []
    rec = store.images.import_path(rootfs, "demo:v1", progress=events.append)

    phases = [e["phase"] for e in events]
    assert "apply" in phases
    assert set(phases) <= {"read", "download", "upload", "apply", "write", "skip"}
    applied = [e for e in events if e["phase"] == "apply"]
    assert applied[-1]["done"] == applied[-1]["total"] == 1  # one layer, all applied
    assert all(isinstance(e["item"], str) and isinstance(e["done"], int) for e in events)

    assert rec["name"] == "demo:v1"
    assert rec["source"] == f"rootfs:{rootfs}"
    assert rec["id"].startswith("sha256:") and rec["manifest_digest"].startswith("sha256:")
    assert rec["manifest_media_type"] == "application/vnd.oci.image.manifest.v1+json"
    assert rec["tree"].startswith("blake3:") and len(rec["tree"]) == 7 + 64
    assert rec["files"] == len(snapshot(rootfs)) + 1  # every entry and the root directory
    assert rec["size"] == sum(p.stat().st_size for p in rootfs.rglob("*") if p.is_file() and not p.is_symlink())
    cfg = rec["config"]
    assert cfg["os"] == "linux" and cfg["architecture"]
    assert cfg["entrypoint"] == [] and cfg["cmd"] == [] and cfg["labels"] == {}
    [layer] = rec["layers"]
    assert layer["digest"].startswith("sha256:") and layer["diff_id"].startswith("sha256:")
    assert layer["media_type"] == "application/vnd.oci.image.layer.v1.tar"
    assert layer["object"].startswith("blake3:") and layer["size"] > 200_000

    assert store.images.inspect("demo:v1") == rec
    assert store.images.list() == [
        {"name": "demo:v1", "id": rec["id"], "size": rec["size"], "layers": 1, "stored": rec["stored"]}
    ]

    # The image lives in the same store as everything else: its tree is a store tree, its layer
    # blob is aliased by its sha256, and a ref names it.
    assert store.stat(rec["tree"])["tree"] is True
    assert store.stat(layer["digest"])["id"] == layer["object"]
    assert [r["name"] for r in store.refs(prefix="images/")] == ["images/demo/@v1"]
    dest = tmp_path / "checkout"
    store.checkout(rec["tree"], dest, mode="copy")
    assert snapshot(dest) == snapshot(rootfs)


def test_tag_and_remove(store: volt.Store, rootfs: Path) -> None:
    rec = import_demo(store, rootfs)
    store.images.tag("demo:v1", "demo")  # tag defaults to latest
    store.images.tag("demo:v1", "team/demo:stable")
    assert [i["name"] for i in store.images.list()] == ["demo:latest", "demo:v1", "team/demo:stable"]
    assert store.images.inspect("demo:latest")["id"] == rec["id"]
    assert store.images.inspect("team/demo:stable")["tree"] == rec["tree"]

    store.images.remove("demo:v1")
    assert [i["name"] for i in store.images.list()] == ["demo:latest", "team/demo:stable"]
    with pytest.raises(volt.NotFoundError) as ei:
        store.images.inspect("demo:v1")
    assert ei.value.kind == "ERR_NOT_FOUND" and "demo:v1" in str(ei.value)
    with pytest.raises(volt.NotFoundError):
        store.images.remove("demo:v1")
    with pytest.raises(volt.NotFoundError):
        store.images.tag("demo:v1", "demo:v2")


def test_reimport_writes_no_new_content(store: volt.Store, rootfs: Path) -> None:
    first = import_demo(store, rootfs)
    before = store.status()["objects"]
    again = store.images.import_path(rootfs, "demo:v2")
    assert again["tree"] == first["tree"]
    assert [l["digest"] for l in again["layers"]] == [l["digest"] for l in first["layers"]]
    # Only the new config (its creation time differs), manifest and record are new.
    assert store.status()["objects"] - before <= 3


# --- export ----------------------------------------------------------------------------------------


def test_export_layout_and_reimport(store: volt.Store, rootfs: Path, tmp_path: Path) -> None:
    rec = import_demo(store, rootfs)
    events: List[Progress] = []
    layout = tmp_path / "layout"
    report = store.images.export("demo:v1", layout, progress=events.append)
    assert report["path"] == str(layout)
    assert report["manifest_digest"] == rec["manifest_digest"]
    assert report["blobs"] == 3  # manifest, config, one layer
    assert (layout / "oci-layout").is_file() and (layout / "index.json").is_file()
    blobs = sorted(p.name for p in (layout / "blobs" / "sha256").iterdir())
    assert blobs == sorted(d.split(":", 1)[1] for d in (rec["manifest_digest"], rec["id"], rec["layers"][0]["digest"]))
    assert report["bytes"] == sum(p.stat().st_size for p in (layout / "blobs" / "sha256").iterdir())
    assert events and {e["phase"] for e in events} == {"write"}
    assert events[-1]["done"] == events[-1]["total"] == report["bytes"]

    back = store.images.import_path(layout, "reimported:v1")
    assert back["tree"] == rec["tree"]
    assert back["id"] == rec["id"] and back["manifest_digest"] == rec["manifest_digest"]
    assert back["source"] == f"oci-layout:{layout}"

    # A .tar destination gives an OCI archive, which imports the same way (into another store).
    tar = tmp_path / "demo.tar"
    assert store.images.export("demo:v1", tar)["path"] == str(tar)
    assert tarfile.is_tarfile(tar)
    elsewhere = volt.Store(tmp_path / "third-root")
    assert elsewhere.images.import_path(tar, "from-tar")["tree"] == rec["tree"]


def test_export_errors(store: volt.Store, rootfs: Path, tmp_path: Path) -> None:
    import_demo(store, rootfs)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep").write_text("mine")
    with pytest.raises(volt.UsageError, match="not empty"):
        store.images.export("demo:v1", busy)
    with pytest.raises(volt.NotFoundError):
        store.images.export("nope:v1", tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_export_into_non_empty_dir_keeps_its_files(store: volt.Store, rootfs: Path, tmp_path: Path) -> None:
    import_demo(store, rootfs)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep").write_text("mine")
    with pytest.raises(volt.UsageError):
        store.images.export("demo:v1", busy)
    assert os.listdir(busy) == ["keep"]


# --- registry: push and pull -----------------------------------------------------------------------


@pytest.fixture
def registry(store: volt.Store) -> Iterator[volt.RegistryServer]:
    with store.serve_registry(bind="127.0.0.1:0") as srv:
        yield srv
    assert not srv.running


def test_registry_server_properties(store: volt.Store) -> None:
    with store.serve_registry(bind="127.0.0.1:0") as srv:
        assert isinstance(srv, volt.RegistryServer)
        assert srv.running
        assert srv.port > 0
        assert srv.address == f"127.0.0.1:{srv.port}"
        assert srv.url == f"http://127.0.0.1:{srv.port}"
        assert "running" in repr(srv)
        # Anonymous clients are challenged towards the token endpoint of the Docker token flow.
        with pytest.raises(urllib.error.HTTPError) as ei:
            urllib.request.urlopen(srv.url + "/v2/", timeout=10)
        assert ei.value.code == 401
        assert f'realm="{srv.url}/token"' in ei.value.headers["www-authenticate"]
        token = store.registry_token(["demo"])
        req = urllib.request.Request(srv.url + "/v2/", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200
    assert not srv.running and "stopped" in repr(srv)
    srv.stop()  # idempotent
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(srv.url + "/v2/", timeout=10)


def test_push_and_pull_between_stores(
    store: volt.Store, other: volt.Store, rootfs: Path, registry: volt.RegistryServer
) -> None:
    rec = import_demo(store, rootfs)
    token = store.registry_token(["demo"], actions="pull,push", ttl="10m", subject="pytest")
    assert token.startswith("volt1.")

    pushed: List[Progress] = []
    report = store.images.push("demo:v1", f"{registry.address}/demo:v1", token=token, progress=pushed.append)
    assert report["reference"] == f"{registry.address}/demo:v1"
    assert report["manifest_digest"] == rec["manifest_digest"]
    assert report["uploaded"] == 2 and report["skipped"] == 0  # config and layer
    assert report["bytes"] == rec["layers"][0]["size"] + store.stat(rec["config_object"])["size"]
    assert {e["phase"] for e in pushed} == {"upload"}

    # Pushing again sends nothing: the registry has every blob.
    again = store.images.push("demo:v1", f"{registry.address}/demo:v1", token=token)
    assert again["uploaded"] == 0 and again["skipped"] == 2 and again["bytes"] == 0

    pulled: List[Progress] = []
    threads: set[int] = set()

    def on_pull(p: Progress) -> None:
        pulled.append(p)
        threads.add(threading.get_ident())

    got = other.images.pull(f"{registry.address}/demo:v1", "demo:v1", token=token, progress=on_pull)
    assert got["tree"] == rec["tree"]
    assert got["manifest_digest"] == rec["manifest_digest"] and got["id"] == rec["id"]
    assert got["name"] == "demo:v1" and got["source"] == f"registry:{registry.address}/demo:v1"
    assert [i["name"] for i in other.images.list()] == ["demo:v1"]
    phases = [e["phase"] for e in pulled]
    assert "download" in phases and "apply" in phases
    assert threading.get_ident() not in threads  # reported from the SDK's worker threads

    # Default local name: the reference itself. The layer is already there: skipped, not fetched.
    repulled: List[Progress] = []
    again_rec = other.images.pull(f"{registry.address}/demo:v1", progress=repulled.append)
    assert again_rec["name"] == f"{registry.address}/demo:v1"
    assert "download" not in [e["phase"] for e in repulled] and "skip" in [e["phase"] for e in repulled]

    # The far store has the content: its checkout matches the source tree.
    dest = other.images.create_rootfs("demo:v1", other.root + "-ctr", copy=True)["path"]
    assert snapshot(Path(dest)) == snapshot(rootfs)


def test_pull_of_missing_tag_is_not_found(
    store: volt.Store, other: volt.Store, rootfs: Path, registry: volt.RegistryServer
) -> None:
    import_demo(store, rootfs)
    token = store.registry_token(["demo"], actions="pull,push")
    store.images.push("demo:v1", f"{registry.address}/demo:v1", token=token)
    with pytest.raises(volt.NotFoundError) as ei:
        other.images.pull(f"{registry.address}/demo:no-such-tag", token=token)
    assert isinstance(ei.value, FileNotFoundError) and ei.value.kind == "ERR_NOT_FOUND"
    with pytest.raises(volt.NotFoundError):
        other.images.pull(f"{registry.address}/never-pushed:v1")
    assert other.images.list() == []


def test_push_without_permission(store: volt.Store, rootfs: Path, registry: volt.RegistryServer) -> None:
    import_demo(store, rootfs)
    with pytest.raises(volt.VoltPermissionError) as ei:
        store.images.push("demo:v1", f"{registry.address}/demo:v1")
    assert isinstance(ei.value, PermissionError) and ei.value.kind == "ERR_PERMISSION" and ei.value.code == 5
    pull_only = store.registry_token(["demo"], actions="pull")
    with pytest.raises(volt.VoltPermissionError):
        store.images.push("demo:v1", f"{registry.address}/demo:v1", token=pull_only)
    other_repo = store.registry_token(["elsewhere"], actions="pull,push")
    with pytest.raises(volt.VoltPermissionError):
        store.images.push("demo:v1", f"{registry.address}/demo:v1", token=other_repo)
    # Nothing reached the registry: a pull finds no such image.
    with pytest.raises(volt.NotFoundError):
        store.images.pull(f"{registry.address}/demo:v1", "check:v1")


def test_push_with_a_forged_token_is_refused(store: volt.Store, rootfs: Path, registry: volt.RegistryServer) -> None:
    import_demo(store, rootfs)
    with pytest.raises(volt.VoltPermissionError):
        store.images.push("demo:v1", f"{registry.address}/demo:v1", token="volt1.forged.token")


def test_push_with_a_token_from_another_store_is_refused(
    store: volt.Store, other: volt.Store, rootfs: Path, registry: volt.RegistryServer
) -> None:
    # Each store signs with its own key (<root>/etc/volt/registry.key).
    import_demo(store, rootfs)
    foreign = other.registry_token(["*"], actions="*")
    with pytest.raises(volt.VoltPermissionError):
        store.images.push("demo:v1", f"{registry.address}/demo:v1", token=foreign)


def test_push_to_a_closed_port_is_a_network_error(store: volt.Store, rootfs: Path) -> None:
    import_demo(store, rootfs)
    with store.serve_registry(bind="127.0.0.1:0") as srv:
        address = srv.address
    with pytest.raises(volt.NetworkError) as ei:
        store.images.push("demo:v1", f"{address}/demo:v1", token=store.registry_token(["demo"], "push"))
    assert isinstance(ei.value, ConnectionError)


def test_registry_over_tls(store: volt.Store, tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    ctx = ssl.create_default_context(cafile=str(cert))
    with store.serve_registry(bind="127.0.0.1:0", tls_cert=cert, tls_key=key) as srv:
        assert srv.url == f"https://127.0.0.1:{srv.port}"
        with pytest.raises(urllib.error.HTTPError) as ei:
            urllib.request.urlopen(srv.url + "/v2/", context=ctx, timeout=10)
        assert ei.value.code == 401


def test_registry_argument_errors(store: volt.Store, tmp_path: Path) -> None:
    for bad in ("nonsense", "127.0.0.1", "127.0.0.1:99999"):
        with pytest.raises(volt.UsageError):
            store.serve_registry(bind=bad)
    with pytest.raises(volt.UsageError):
        store.serve_registry(bind="127.0.0.1:0", tls_cert=tmp_path / "cert.pem")
    with pytest.raises(volt.UsageError):
        store.serve_registry(bind="127.0.0.1:0", token_ttl="forever")
    with pytest.raises(volt.NotFoundError):
        store.serve_registry(bind="127.0.0.1:0", tls_cert=tmp_path / "no.pem", tls_key=tmp_path / "no.key")
    with store.serve_registry(bind="127.0.0.1:0") as srv:
        with pytest.raises(volt.UsageError):
            srv.stop(grace=-1.0)
        assert srv.running
        # The port is taken: a second server cannot bind it.
        with pytest.raises(volt.VoltError):
            store.serve_registry(bind=srv.address)
    with pytest.raises(volt.UsageError):
        store.registry_token(["demo"], actions="pull,fly")
    with pytest.raises(volt.UsageError):
        store.registry_token(["demo"], ttl="0s")
    with pytest.raises(volt.UsageError):
        store.registry_token([])
    with pytest.raises(volt.UsageError):
        store.registry_token(["Not/Valid"])
    with pytest.raises(TypeError):
        store.registry_token("demo")  # a str is a Sequence[str] to mypy, but not accepted


def test_credential_arguments(store: volt.Store, rootfs: Path, tmp_path: Path) -> None:
    import_demo(store, rootfs)
    with pytest.raises(volt.UsageError):
        store.images.push("demo:v1", "127.0.0.1:1/demo:v1", username="u")
    with pytest.raises(volt.UsageError):
        store.images.push("demo:v1", "127.0.0.1:1/demo:v1", username="u", password="p", token="t")
    with pytest.raises(volt.NotFoundError):
        store.images.pull("127.0.0.1:1/demo:v1", ca_certs=[tmp_path / "missing-ca.pem"])


# --- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["UPPER", "a/../b", "demo@sha256:00", "", "demo:", "demo:-x", "/abs"])
@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda s, n, p: s.images.inspect(n), id="inspect"),
        pytest.param(lambda s, n, p: s.images.import_path(p, n), id="import"),
        pytest.param(lambda s, n, p: s.images.tag("demo:v1", n), id="tag-target"),
        pytest.param(lambda s, n, p: s.images.remove(n), id="remove"),
        pytest.param(lambda s, n, p: s.images.export(n, p.parent / "out"), id="export"),
        pytest.param(lambda s, n, p: s.images.pull("127.0.0.1:1/demo:v1", n), id="pull-name"),
        pytest.param(lambda s, n, p: s.images.push(n, "127.0.0.1:1/demo:v1"), id="push"),
        pytest.param(lambda s, n, p: s.images.create_rootfs(n, p.parent / "ctr", copy=True), id="rootfs"),
    ],
)
def test_invalid_image_name_is_usage_error(
    store: volt.Store, rootfs: Path, bad: str, call: Callable[[volt.Store, str, Path], object]
) -> None:
    with pytest.raises(volt.UsageError) as ei:
        call(store, bad, rootfs)
    assert isinstance(ei.value, ValueError) and ei.value.kind == "ERR_USAGE" and ei.value.code == 2
    assert store.images.list() == []


def escape_tar(path: Path) -> Path:
    """A root filesystem tarball with an entry that climbs out of the root."""
    with tarfile.open(path, "w") as tar:
        ok = tarfile.TarInfo("etc/ok")
        ok.size = 3
        tar.addfile(ok, io.BytesIO(b"ok\n"))
        evil = tarfile.TarInfo("../escape")
        evil.size = 5
        tar.addfile(evil, io.BytesIO(b"evil\n"))
    return path


def test_import_of_escaping_tar_is_refused(store: volt.Store, rootfs: Path, tmp_path: Path) -> None:
    import_demo(store, rootfs)
    before = store.images.list()
    refs_before = store.refs()
    with pytest.raises(volt.UsageError) as ei:
        store.images.import_path(escape_tar(tmp_path / "evil.tar"), "evil:v1")
    assert ei.value.kind == "ERR_USAGE"
    assert "../escape" in str(ei.value)
    assert store.images.list() == before
    assert store.refs() == refs_before
    assert not (tmp_path / "escape").exists() and not (tmp_path.parent / "escape").exists()


def test_import_of_missing_path_is_not_found(store: volt.Store, tmp_path: Path) -> None:
    with pytest.raises(volt.NotFoundError):
        store.images.import_path(tmp_path / "absent", "demo:v1")


# --- progress callbacks ----------------------------------------------------------------------------


def test_progress_callback_exception_is_raised_after_the_call(store: volt.Store, rootfs: Path) -> None:
    calls: List[Progress] = []

    class Stop(Exception):
        pass

    def fail(p: Progress) -> None:
        calls.append(p)
        raise Stop("from the callback")

    with pytest.raises(Stop, match="from the callback"):
        store.images.import_path(rootfs, "demo:v1", progress=fail)
    # Called once, never again after raising; the import itself ran to its end.
    assert len(calls) == 1
    assert [i["name"] for i in store.images.list()] == ["demo:v1"]


def test_progress_callback_exception_keeps_the_operation_error(store: volt.Store, tmp_path: Path) -> None:
    def fail(p: Progress) -> None:
        raise KeyError("callback")

    with pytest.raises(KeyError) as ei:
        store.images.import_path(escape_tar(tmp_path / "evil.tar"), "evil:v1", progress=fail)
    assert isinstance(ei.value.__context__, volt.UsageError)
    assert store.images.list() == []


def test_progress_callback_may_call_volt(
    store: volt.Store, other: volt.Store, rootfs: Path, registry: volt.RegistryServer
) -> None:
    # Some reports come from threads that are driving the SDK's own async code; calls made from
    # the callback there must still work (and not deadlock on the GIL).
    import_demo(store, rootfs)
    token = store.registry_token(["demo"], actions="pull,push")
    store.images.push("demo:v1", f"{registry.address}/demo:v1", token=token)
    seen: List[Tuple[str, int]] = []

    def push_cb(p: Progress) -> None:
        seen.append((p["phase"], store.status()["objects"]))

    store.images.push("demo:v1", f"{registry.address}/demo:v1", token=token, progress=push_cb)
    assert [phase for phase, _ in seen] == ["skip", "skip"] and all(n > 0 for _, n in seen)

    seen.clear()

    def pull_cb(p: Progress) -> None:
        seen.append((p["phase"], len(other.images.list()) + len(other.refs())))

    other.images.pull(f"{registry.address}/demo:v1", "demo:v1", progress=pull_cb)
    assert "download" in [phase for phase, _ in seen]
    assert [i["name"] for i in other.images.list()] == ["demo:v1"]


def test_progress_must_be_callable(store: volt.Store, rootfs: Path) -> None:
    with pytest.raises(TypeError, match="callable"):
        store.images.import_path(rootfs, "demo:v1", progress=42)  # type: ignore[arg-type]
    assert store.images.list() == []
    store.images.import_path(rootfs, "demo:v1", progress=None)
    assert len(store.images.list()) == 1


# --- container root filesystems --------------------------------------------------------------------


def test_create_rootfs_copy_and_remove(store: volt.Store, rootfs: Path, tmp_path: Path) -> None:
    import_demo(store, rootfs)
    ctr = tmp_path / "containers" / "c1"
    mount = store.images.create_rootfs("demo:v1", ctr, copy=True)
    assert mount == {
        "path": str(ctr / "rootfs"),
        "mode": "copy",
        "lower": None,
        "upper": None,
        "volatile": False,
    }
    assert snapshot(ctr / "rootfs") == snapshot(rootfs)
    # A private copy: writing to it leaves the source and the store alone.
    (ctr / "rootfs" / "etc" / "hostname").write_bytes(b"changed\n")
    assert (rootfs / "etc" / "hostname").read_bytes() == b"volt-test\n"
    assert store.verify()["corrupt"] == []

    with pytest.raises(volt.AlreadyExistsError):
        store.images.create_rootfs("demo:v1", ctr, copy=True)

    store.images.remove_rootfs(ctr)
    assert not (ctr / "rootfs").exists() and not (ctr / "rootfs.json").exists()
    store.images.remove_rootfs(ctr)  # idempotent
    with pytest.raises(volt.NotFoundError):
        store.images.create_rootfs("nope:v1", tmp_path / "containers" / "c2", copy=True)


def test_remove_of_image_in_use_is_conflict(store: volt.Store, rootfs: Path) -> None:
    import_demo(store, rootfs)
    # Containers live in <root>/var/lib/volt/containers/<name>; one whose config names the
    # image keeps it from being removed.
    ctr = Path(store.root).parent / "containers" / "web"
    ctr.mkdir(parents=True)
    (ctr / "config.json").write_text('{"image": "demo:v1"}')
    with pytest.raises(volt.ConflictError, match="web"):
        store.images.remove("demo:v1")
    (ctr / "config.json").unlink()
    store.images.remove("demo:v1")
    assert store.images.list() == []


def test_shared_root(store: volt.Store, rootfs: Path) -> None:
    rec = import_demo(store, rootfs)
    shared = Path(store.images.shared_root("demo:v1"))
    assert shared.name == rec["tree"].split(":", 1)[1]
    assert snapshot(shared) == snapshot(rootfs)
    assert store.images.shared_root("demo:v1") == str(shared)  # made once, then reused
    # Files are hardlinks to store objects, not copies.
    assert os.lstat(shared / "usr" / "lib.bin").st_nlink >= 2


# --- threads and the GIL ---------------------------------------------------------------------------


def test_import_releases_the_gil(store: volt.Store, tmp_path: Path) -> None:
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
            seen["record"] = store.images.import_path(src, "many:v1")
            seen["advanced"] = counter[0] - before
        except BaseException as e:  # surfaced by the asserts below
            seen["error"] = e
        finally:
            done.set()

    # As in test_cas.py: with a huge switch interval the main thread only runs while the worker
    # has given up the GIL itself, so the counter moves only if the import released it.
    old = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        t = threading.Thread(target=work)
        t.start()
        while not done.is_set():
            counter[0] += 1
            time.sleep(0.001)
        t.join()
    finally:
        sys.setswitchinterval(old)
    assert "error" not in seen, seen.get("error")
    record = seen["record"]
    assert isinstance(record, dict) and record["files"] == 2000 + 20 + 1
    advanced = seen["advanced"]
    assert isinstance(advanced, int) and advanced > 0


def test_registry_serves_while_python_threads_work(
    store: volt.Store, other: volt.Store, rootfs: Path, registry: volt.RegistryServer
) -> None:
    # Pushes from several threads at once, against one server in the same process.
    import_demo(store, rootfs)
    token = store.registry_token(["team/*"], actions="pull,push")
    errors: List[BaseException] = []

    def push(n: int) -> None:
        try:
            store.images.push("demo:v1", f"{registry.address}/team/app{n}:v1", token=token)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=push, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for n in range(4):
        assert other.images.pull(f"{registry.address}/team/app{n}:v1", f"app{n}")["name"] == f"app{n}:latest"
