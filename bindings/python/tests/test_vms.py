"""Tests of `volt.Vms`: VMs (Voltvisor) and guest kernels.

Argument errors are checked anywhere: none of them gets as far as QEMU. Then the small test guest
(tests/vm/guest.sh: Debian's cloud kernel, a busybox initramfs and an ext4 data disk as qcow2;
VOLT_TEST_GUEST names an already built one) is imported and booted once, for real, under the
accelerator Volt's probe picks: the guest's marker appears in the serial log, QEMU's query-status
follows pause and resume, the console answers, a live snapshot is taken (a second of the same
name is refused), vCPUs are pinned while it runs, the guest is powered off through ACPI, the
snapshot restored, a kernel in use refused removal, and everything deleted, with no QEMU or
supervisor process left. No network is used, so nothing of the host's networking is touched.

The VM test needs root, qemu-system-x86_64, qemu-img and a volt-supervisor binary
(VOLT_SUPERVISOR, default <workspace>/target/debug/volt-supervisor, which test.sh builds). It is
skipped otherwise, saying why, and fails instead with CI=true.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator, List, Set

import pytest

import volt

WORKSPACE = Path(__file__).resolve().parents[3]
VM = "pyvm"
KERNEL = "testk"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("VOLT_ROOT", "VOLT_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    if "VOLT_SUPERVISOR" not in os.environ:
        monkeypatch.setenv("VOLT_SUPERVISOR", str(WORKSPACE / "target" / "debug" / "volt-supervisor"))


def _skip_or_fail(why: str | None) -> None:
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"VM tests cannot run (CI=true): {why}")
        pytest.skip(why)


def _why_not_runnable() -> str | None:
    if os.geteuid() != 0:
        return "not root"
    for prog in ("qemu-system-x86_64", "qemu-img"):
        if shutil.which(prog) is None:
            return f"{prog} is not installed"
    supervisor = os.environ["VOLT_SUPERVISOR"]
    if not os.access(supervisor, os.X_OK):
        return f"no volt-supervisor at {supervisor} (cargo build -p volt-cli)"
    return None


@functools.lru_cache(maxsize=None)
def _build_guest() -> tuple[Path | None, str | None]:
    """The test guest's directory (built once per session, cached across sessions by
    guest.sh), or why there is none."""
    given = os.environ.get("VOLT_TEST_GUEST")
    if given:
        return Path(given), None
    proc = subprocess.run(
        ["bash", str(WORKSPACE / "tests" / "vm" / "guest.sh")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        return None, f"tests/vm/guest.sh failed: {tail[0]}"
    return Path(proc.stdout.strip().splitlines()[-1]), None


@pytest.fixture
def guest() -> Path:
    """The test guest (vmlinuz, initrd.img, disk.qcow2); skip (or fail) where VMs cannot run."""
    _skip_or_fail(_why_not_runnable())
    path, why = _build_guest()
    _skip_or_fail(why)
    assert path is not None
    for f in ("vmlinuz", "initrd.img", "disk.qcow2"):
        assert (path / f).is_file(), f"{path / f} is missing"
    return path


@pytest.fixture
def store(tmp_path: Path) -> volt.Store:
    return volt.Store(tmp_path / "root")


def alive(pid: int | None) -> bool:
    """Is process `pid` there? A zombie (ended, not reaped yet by whoever adopted it) is not."""
    if pid is None:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def eventually(cond: Any, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def pids() -> List[int]:
    """QEMU and supervisor pids a test saw; `clean` checks that none is left."""
    return []


@pytest.fixture
def clean(store: volt.Store, pids: List[int]) -> Iterator[None]:
    """Afterwards, whatever happened: delete the store's VMs (killing running ones) and check
    that no QEMU or supervisor process the test saw is left."""
    yield
    for vm in store.vms.list():
        for p in (vm["state"]["qemu_pid"], vm["state"]["supervisor_pid"]):
            if p is not None:
                pids.append(p)
        store.vms.delete(vm["config"]["name"], force=True)
    assert store.vms.list() == []
    assert eventually(lambda: not any(alive(p) for p in pids)), f"processes left: {pids}"


def keys(typed_dict: Any) -> Set[str]:
    """The keys a TypedDict of volt.types declares."""
    return set(typed_dict.__annotations__)


def wait_log(vms: volt.Vms, name: str, marker: str, seconds: float) -> str:
    """Poll the VM's serial log until `marker` appears; returns the log."""
    deadline = time.monotonic() + seconds
    while True:
        text = vms.logs(name)
        if marker in text:
            return text
        if time.monotonic() > deadline:
            pytest.fail(f"{marker} did not appear within {seconds} s; serial log:\n{text[-3000:]}")
        time.sleep(0.1)


# --- without QEMU ----------------------------------------------------------------------------------


def test_vms_are_an_attribute_of_the_store(store: volt.Store) -> None:
    v = store.vms
    assert isinstance(v, volt.Vms)
    assert store.vms is v
    assert repr(v).startswith("Vms(root=")
    assert v.list() == []
    assert v.kernels() == []


def test_vm_argument_errors(store: volt.Store, tmp_path: Path) -> None:
    # Every one of these is refused before a disk is made or QEMU is started.
    v = store.vms
    with pytest.raises(volt.DependencyError) as dep:
        v.create("pyvm", kernel="server")
    assert dep.value.code == 10 and "volt kernel build server" in str(dep.value)
    with pytest.raises(volt.DependencyError):
        v.create("pyvm")  # the default kernel is the server profile, not installed here
    with pytest.raises(volt.NotFoundError) as nf:
        v.create("pyvm", kernel="nope")
    assert nf.value.code == 3 and isinstance(nf.value, FileNotFoundError)
    with pytest.raises(volt.UsageError) as usage:
        v.create("pyvm", kernel="nope", memory="12Q")
    assert usage.value.code == 2 and isinstance(usage.value, ValueError)
    with pytest.raises(volt.ResourceError) as res:
        v.create("pyvm", kernel="nope", memory="100T")
    assert res.value.code == 11
    bad: List[dict[str, Any]] = [
        {"memory": "8M"},
        {"memory": 1 << 20},
        {"cpus": 0},
        {"cpus": 256},
        {"machine": "pc"},
        {"image": "x:1", "disk": "/x.qcow2"},
        {"networks": ["Bad Net"]},
        {"ports": ["1:2:3"]},
        {"ports": ["80:99999"]},
        {"kernel": "../k"},
    ]
    for kwargs in bad:
        with pytest.raises(volt.UsageError):
            v.create("pyvm", **{"kernel": "nope", **kwargs})
    for name in ("Bad Name", "a/b", "", "-x"):
        with pytest.raises(volt.UsageError):
            v.create(name, kernel="nope")
    with pytest.raises(TypeError):
        v.create("pyvm", "nope")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        v.create("pyvm", networks="front")  # a str is a Sequence[str] to mypy, not to the binding
    with pytest.raises(OverflowError):
        v.create("pyvm", cpus=-1)

    with pytest.raises(volt.NotFoundError):
        v.inspect("nope")
    with pytest.raises(volt.UsageError):
        v.inspect("a/b")
    for call in (v.start, v.pause, v.resume, v.query_status, v.logs, v.snapshot_list, v.stop, v.restart):
        with pytest.raises(volt.NotFoundError):
            call("nope")
    with pytest.raises(volt.NotFoundError):
        v.delete("nope", force=True)
    with pytest.raises(volt.NotFoundError):
        v.kill("nope")
    for sig in (0, 65, -9):
        with pytest.raises(volt.UsageError):
            v.kill("nope", sig)
    with pytest.raises(volt.UsageError):
        v.console_exchange("nope", "", timeout=-1)
    with pytest.raises(volt.UsageError):
        v.console_exchange("nope", "", timeout=float("nan"))
    with pytest.raises(volt.NotFoundError):
        v.console_exchange("nope", "\n", timeout=0.1)
    with pytest.raises(volt.NotFoundError):
        v.snapshot_create("nope", "s1")
    for snap in ("../x", "", ".hidden"):
        with pytest.raises(volt.UsageError):
            v.snapshot_create("nope", snap)
    with pytest.raises(volt.NotFoundError):
        v.snapshot_restore("nope", "s1")
    with pytest.raises(volt.NotFoundError):
        v.snapshot_delete("nope", "s1")
    for cpus in ("x", "2-1", "0-9999", "1,,2"):
        with pytest.raises(volt.UsageError):
            v.pin_cpus("nope", cpus)
    with pytest.raises(volt.UsageError):
        v.pin_cpus("nope", "1023")  # a CPU the host lacks
    with pytest.raises(volt.NotFoundError):
        v.pin_cpus("nope", "0")
    with pytest.raises(volt.NotFoundError):
        v.pin_cpus("nope", "all")

    (tmp_path / "not-a-kernel").write_text("hello\n")
    with pytest.raises(volt.UsageError):
        v.kernel_import(tmp_path / "not-a-kernel", "k")
    with pytest.raises(volt.NotFoundError):
        v.kernel_import(tmp_path / "absent", "k")
    with pytest.raises(volt.UsageError):
        v.kernel_import(tmp_path / "not-a-kernel", "bad name")
    with pytest.raises(TypeError):
        v.kernel_import(tmp_path / "not-a-kernel", "k", "initrd.img")  # type: ignore[call-arg]
    with pytest.raises(volt.NotFoundError):
        v.kernel_remove("nope")
    with pytest.raises(volt.UsageError):  # not a profile: refused before anything is downloaded
        v.kernel_build("nope")
    assert v.list() == [] and v.kernels() == [], "refused calls leave nothing"


# --- with QEMU -------------------------------------------------------------------------------------


def test_vm_lifecycle(store: volt.Store, guest: Path, tmp_path: Path, pids: List[int], clean: None) -> None:
    v = store.vms
    k = v.kernel_import(guest / "vmlinuz", KERNEL, initrd=guest / "initrd.img", cmdline="volt_py_test=1")
    assert set(k) == keys(volt.types.KernelInfo)
    assert k["name"] == KERNEL and k["initrd"] is True and k["cmdline"] == "volt_py_test=1"
    assert k["profile"] is None and k["size"] == (guest / "vmlinuz").stat().st_size
    assert v.kernels() == [k]
    with pytest.raises(volt.AlreadyExistsError):
        v.kernel_import(guest / "vmlinuz", KERNEL)

    # A disk that does not exist or is not qcow2, or forwards without a network: refused, with
    # nothing left.
    with pytest.raises(volt.NotFoundError):
        v.create(VM, kernel=KERNEL, disk=tmp_path / "absent.qcow2")
    (tmp_path / "raw.img").write_bytes(b"\0" * 65536)
    with pytest.raises(volt.UsageError):
        v.create(VM, kernel=KERNEL, disk=tmp_path / "raw.img")
    with pytest.raises(volt.UsageError):
        v.create(VM, kernel=KERNEL, ports=["8080:80"])
    with pytest.raises(volt.UsageError):
        v.create(VM, kernel=KERNEL, disk_size="lots")
    with pytest.raises(volt.UsageError):
        v.create(VM, kernel=KERNEL, disk=guest / "disk.qcow2", disk_size="1M")  # below the base's size
    assert v.list() == []

    info = v.create(VM, disk=guest / "disk.qcow2", kernel=KERNEL, memory="256M", disk_size="1G")
    assert set(info) == keys(volt.types.VmInfo)
    assert set(info["config"]) == keys(volt.types.VmConfig)
    assert set(info["state"]) == keys(volt.types.VmState)
    c = info["config"]
    assert c["name"] == VM and c["kernel"] == KERNEL and c["memory_mib"] == 256 and c["cpus"] == 1
    assert c["machine"] == "microvm" and c["disk_size"] == 1 << 30 and c["cpu_pin"] == []
    assert c["networks"] == [] and c["ports"] == [] and c["initrd"] is None
    base = c["base"]
    assert base is not None and set(base) == keys(volt.types.BaseDisk)
    assert base["source"] == f"file {(guest / 'disk.qcow2').resolve()}" and base["size"] == 64 << 20
    assert len(base["object"]) == 64
    assert info["status"] == "stopped" and info["state"]["status"] == "stopped"
    assert info["endpoints"] == [] and info["vcpus"] == [] and info["snapshots"] == []
    assert Path(info["disk"]).is_file() and Path(info["unit"]).is_file()
    assert v.inspect(VM) == info
    assert v.list() == [info]
    assert v.logs(VM) == ""
    with pytest.raises(volt.AlreadyExistsError) as exists:
        v.create(VM, disk=guest / "disk.qcow2", kernel=KERNEL)
    assert exists.value.code == 4
    for call in (v.stop, v.pause, v.resume, v.query_status, v.kill):
        with pytest.raises(volt.ConflictError):
            call(VM)  # not running
    with pytest.raises(volt.ConflictError):
        v.console_exchange(VM, "\n", timeout=0.1)

    # Boot.
    info = v.start(VM)
    assert info["status"] == "running", info["state"]
    st = info["state"]
    assert st["qemu_pid"] is not None and st["supervisor_pid"] is not None
    pids.extend([st["qemu_pid"], st["supervisor_pid"]])
    assert alive(st["qemu_pid"]) and alive(st["supervisor_pid"])
    assert st["accel"] in ("kvm", "tcg") and st["accel_reason"]
    assert st["started"] is not None and st["finished"] is None
    log = wait_log(v, VM, "VOLT-GUEST-READY", 90)
    assert "volt_py_test=1" in log, "the kernel's own arguments are on its command line"
    assert len(v.logs(VM, tail=2).splitlines()) == 2
    assert v.logs(VM, tail=0) == ""
    assert v.query_status(VM) == "running"
    with pytest.raises(volt.ConflictError):
        v.start(VM)
    with pytest.raises(volt.ConflictError):
        v.delete(VM)  # running, without force
    with pytest.raises(volt.ConflictError):
        v.kernel_remove(KERNEL)

    info = v.inspect(VM)
    assert len(info["vcpus"]) == 1 and set(info["vcpus"][0]) == keys(volt.types.VcpuInfo)
    assert [x["cpu"] for x in info["state"]["vcpus"]] == [0]

    # Pause and resume: QEMU's run state and the record follow.
    info = v.pause(VM)
    assert info["status"] == "paused" and info["state"]["status"] == "paused"
    assert v.query_status(VM) == "paused"
    assert v.inspect(VM)["status"] == "paused"
    with pytest.raises(volt.ConflictError):
        v.pause(VM)
    info = v.resume(VM)
    assert info["status"] == "running"
    assert v.query_status(VM) == "running"
    with pytest.raises(volt.ConflictError):
        v.resume(VM)

    # The console: a shell on ttyS0.
    out = v.console_exchange(VM, "echo PY-$((40+2))\n", until="PY-42", timeout=30)
    assert "PY-42" in out, out
    with pytest.raises(volt.VoltTimeoutError) as to:
        v.console_exchange(VM, "\n", until="NEVER-PRINTED", timeout=0.5)
    assert to.value.code == 7 and isinstance(to.value, TimeoutError)

    # vCPU pinning takes effect at once on a running VM.
    info = v.pin_cpus(VM, "0")
    assert info["config"]["cpu_pin"] == [0]
    assert [x["affinity"] for x in info["vcpus"]] == [[0]], info["vcpus"]

    # A live snapshot (the VM is paused for the copy and runs again after).
    snap = v.snapshot_create(VM, "s1")
    assert set(snap) == keys(volt.types.SnapshotInfo)
    assert snap["name"] == "s1" and snap["live"] is True and snap["size"] > 0
    assert v.query_status(VM) == "running"
    with pytest.raises(volt.AlreadyExistsError) as dup:
        v.snapshot_create(VM, "s1")
    assert dup.value.code == 4 and isinstance(dup.value, FileExistsError)
    with pytest.raises(volt.ConflictError):
        v.snapshot_restore(VM, "s1")  # while it runs
    assert v.snapshot_list(VM) == [snap]
    assert v.inspect(VM)["snapshots"] == [snap]

    # Stop: the ACPI power button, and the guest powers itself off.
    info = v.stop(VM, timeout=20)
    assert info["status"] == "stopped", info["state"]
    assert info["state"]["reason"] == "the guest powered off", info["state"]
    assert info["state"]["qemu_pid"] is None and info["state"]["finished"] is not None
    assert info["vcpus"] == []
    assert "VOLT-GUEST-POWERDOWN" in v.logs(VM)
    assert eventually(lambda: not any(alive(p) for p in pids)), "QEMU and its supervisor are gone"
    with pytest.raises(volt.ConflictError):
        v.stop(VM)
    with pytest.raises(volt.ConflictError):
        v.kill(VM)
    with pytest.raises(volt.ConflictError):
        v.query_status(VM)

    # Snapshots of a stopped VM.
    v.snapshot_restore(VM, "s1")
    with pytest.raises(volt.NotFoundError):
        v.snapshot_restore(VM, "nope")
    with pytest.raises(volt.NotFoundError):
        v.snapshot_delete(VM, "nope")
    s2 = v.snapshot_create(VM, "s2")
    assert s2["live"] is False
    assert [s["name"] for s in v.snapshot_list(VM)] == ["s1", "s2"]
    v.snapshot_delete(VM, "s2")
    assert v.snapshot_list(VM) == [snap]

    # Pinning a stopped VM is recorded for its next start; "all" unpins.
    assert v.pin_cpus(VM, "0")["config"]["cpu_pin"] == [0]
    assert v.inspect(VM)["config"]["cpu_pin"] == [0]
    assert v.pin_cpus(VM, "all")["config"]["cpu_pin"] == []
    assert v.pin_cpus(VM, "0")["config"]["cpu_pin"] == [0]

    # A kernel in use stays; the VM goes, then the kernel.
    with pytest.raises(volt.ConflictError) as conflict:
        v.kernel_remove(KERNEL)
    assert conflict.value.code == 9 and VM in str(conflict.value)
    v.snapshot_delete(VM, "s1")
    v.delete(VM)
    assert v.list() == []
    with pytest.raises(volt.NotFoundError):
        v.inspect(VM)
    assert not Path(info["disk"]).exists() and not Path(info["unit"]).exists()
    v.kernel_remove(KERNEL)
    assert v.kernels() == []
