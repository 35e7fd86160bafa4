"""`Store.workloads()`, `Store.kinds()` and `Store.register_runtime()`: every workload of every
kind in one list, and a runtime of a new kind written here, in Python, seen beside a real
container (created from a busybox image, as root, as in test_containers.py).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Dict, List

import pytest

import volt


class Backups:
    """A workload kind that exists only in this test: two backup jobs, one running."""

    kind = "backup"

    def __init__(self) -> None:
        self.started: List[str] = []

    def list(self) -> List[Dict[str, Any]]:
        return [
            {"name": "nightly", "status": "running", "pid": 4242, "detail": "rsync /srv"},
            {"name": "weekly", "status": "stopped", "pid": None, "detail": "tar /home"},
        ]

    def start(self, name: str) -> None:
        self.started.append(name)


class Broken:
    kind = "broken"

    def list(self) -> List[Dict[str, Any]]:
        raise RuntimeError("the job database is gone")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> volt.Store:
    for var in ("VOLT_ROOT", "VOLT_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    return volt.Store(tmp_path / "root")


def test_a_python_runtime_is_listed_beside_the_built_in_kinds(store: volt.Store) -> None:
    assert store.kinds() == ["container", "vm"]
    assert store.workloads() == []
    store.register_runtime(Backups())
    assert store.kinds() == ["container", "vm", "backup"]
    got = store.workloads()
    assert [(w["name"], w["kind"], w["status"], w["pid"], w["detail"]) for w in got] == [
        ("nightly", "backup", "running", 4242, "rsync /srv"),
        ("weekly", "backup", "stopped", None, "tar /home"),
    ]


def test_registration_refuses_bad_and_taken_kinds(store: volt.Store) -> None:
    store.register_runtime(Backups())
    with pytest.raises(volt.AlreadyExistsError, match="backup"):
        store.register_runtime(Backups())

    class Container(Backups):
        kind = "container"

    with pytest.raises(volt.AlreadyExistsError, match="container"):
        store.register_runtime(Container())

    class Shouting(Backups):
        kind = "BACKUP"

    with pytest.raises(volt.UsageError, match="BACKUP"):
        store.register_runtime(Shouting())
    with pytest.raises(volt.UsageError, match="kind"):
        store.register_runtime(object())
    assert store.kinds() == ["container", "vm", "backup"]


def test_a_failing_runtime_fails_the_list_with_its_message(store: volt.Store) -> None:
    store.register_runtime(Broken())
    with pytest.raises(volt.GeneralError, match="broken runtime: list: RuntimeError: the job database is gone"):
        store.workloads()


def test_a_container_and_a_python_workload_share_one_list(store: volt.Store, tmp_path: Path) -> None:
    if os.geteuid() != 0 or not os.access("/bin/busybox", os.X_OK):
        why = "not root" if os.geteuid() != 0 else "no /bin/busybox"
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot create a container (CI=true): {why}")
        pytest.skip(why)
    root = tmp_path / "busybox"
    (root / "bin").mkdir(parents=True)
    (root / "usr").mkdir()
    shutil.copy2("/bin/busybox", root / "bin" / "busybox")
    os.symlink("busybox", root / "bin" / "sh")
    store.images.import_path(root, "test/busybox:1")
    store.containers.create("mid", "test/busybox:1", command=["/bin/sh", "-c", "true"])
    try:
        store.register_runtime(Backups())
        got = [(w["name"], w["kind"], w["status"], w["detail"]) for w in store.workloads()]
        assert got == [
            ("mid", "container", "stopped", "test/busybox:1"),
            ("nightly", "backup", "running", "rsync /srv"),
            ("weekly", "backup", "stopped", "tar /home"),
        ]
    finally:
        store.containers.delete("mid", force=True)
    assert [w["kind"] for w in store.workloads()] == ["backup", "backup"]
