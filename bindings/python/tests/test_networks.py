"""Tests of `volt.Networks` and of containers on networks (`networks=`, `ports=`, `connect`,
`disconnect`).

Argument errors are checked anywhere: none of them gets as far as a kernel object. The tests that
make networks are marked ``netns``, so each runs in a network namespace of its own, never in the
host's (see conftest.py). Each deletes its networks and containers at the end (the `clean`
fixture does, whatever happened) and checks that nothing is left in its namespace: no link but
lo, no nft table ``volt``, no process (a DNS server, a supervisor). They need root, unshare and
nft and a volt-supervisor binary (networks run their DNS server with it; VOLT_SUPERVISOR, default
<workspace>/target/debug/volt-supervisor, which test.sh builds); the container test also
/bin/busybox and systemd-nspawn. They are skipped otherwise, saying why, and fail with CI=true.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest

import volt
from conftest import in_netns_child, links

IMAGE = "test/busybox-net:1"
WORKSPACE = Path(__file__).resolve().parents[3]
_counter = itertools.count()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("VOLT_ROOT", "VOLT_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    if "VOLT_SUPERVISOR" not in os.environ:
        monkeypatch.setenv("VOLT_SUPERVISOR", str(WORKSPACE / "target" / "debug" / "volt-supervisor"))


def _skip_or_fail(what: str, why: str | None) -> None:
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} cannot run (CI=true): {why}")
        pytest.skip(why)


@pytest.fixture
def store(tmp_path: Path) -> volt.Store:
    return volt.Store(tmp_path / "root")


@pytest.fixture
def supervisor() -> None:
    """Networks run their DNS server as `volt-supervisor dns`: skip (or fail) without one."""
    path = os.environ["VOLT_SUPERVISOR"]
    why = None if os.access(path, os.X_OK) else f"no volt-supervisor at {path} (cargo build -p volt-cli)"
    _skip_or_fail("network tests", why)


@pytest.fixture
def image(store: volt.Store, tmp_path: Path, supervisor: None) -> str:
    """A busybox image with sh, sleep, cat, ip, ping and nslookup."""
    why = None
    if not os.access("/bin/busybox", os.X_OK):
        why = "no /bin/busybox"
    elif shutil.which("systemd-nspawn") is None:
        why = "no systemd-nspawn on PATH"
    _skip_or_fail("container network tests", why)
    root = tmp_path / "busybox"
    (root / "bin").mkdir(parents=True)
    (root / "usr").mkdir()
    shutil.copy2("/bin/busybox", root / "bin" / "busybox")
    for applet in ("sh", "sleep", "cat", "ip", "ping", "nslookup"):
        os.symlink("busybox", root / "bin" / applet)
    store.images.import_path(root, IMAGE)
    return IMAGE


@pytest.fixture
def names() -> Callable[[str], str]:
    """Unique container names (the host sees them as machine names)."""
    return lambda prefix: f"py-{prefix}-{os.getpid()}-{next(_counter)}"


def nft_table() -> str:
    """The namespace's ruleset: only Volt's table (``volt_<hash>`` for a relocated root) lives in
    the test's private namespace ("" when there is none)."""
    r = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 and "table ip volt" in r.stdout else ""


def alive(pid: int | None) -> bool:
    """Is process `pid` there? A zombie (ended, not reaped yet by whoever adopted it) is not."""
    if pid is None:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def processes_here() -> List[str]:
    """Processes in this network namespace other than this one (pid and command line)."""
    mine = os.readlink("/proc/self/ns/net")
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            if os.readlink(d / "ns" / "net") == mine:
                cmdline = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                found.append(f"{d.name}: {cmdline}")
        except OSError:
            pass  # gone, or a zombie (no namespaces any more)
    return found


def eventually(cond: Callable[[], bool], seconds: float = 3.0) -> bool:
    """`cond()` becomes true within `seconds` (a process that released its lock may still be
    exiting)."""
    deadline = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def clean(store: volt.Store) -> Iterator[None]:
    """Afterwards, whatever happened: delete the store's containers and networks; then (in the
    test's own namespace) check that nothing of them is left."""
    yield
    for c in store.containers.list():
        store.containers.delete(c["config"]["name"], force=True)
    dns = []
    for n in store.networks.list():
        dns.append(n["dns_pid"])
        store.networks.delete(n["name"])
    if in_netns_child():
        assert eventually(lambda: not any(alive(p) for p in dns)), f"DNS servers left: {dns}"
        assert eventually(lambda: processes_here() == []), f"processes left: {processes_here()}"
        assert links() == ["lo"], f"links left: {links()}"
        assert nft_table() == "", "nft table volt left"


def exec_ready(c: volt.Containers, name: str) -> None:
    """A started container's init may not exist yet when `start` returns: wait up to 10 s."""
    deadline = time.monotonic() + 10
    while True:
        try:
            assert c.exec_output(name, ["sh", "-c", "true"])[0] == 0
            return
        except volt.GeneralError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def run_in(c: volt.Containers, name: str, *argv: str) -> tuple[int, str]:
    status, out, _ = c.exec_output(name, list(argv))
    return status, out.decode()


# --- without networks ------------------------------------------------------------------------------


def test_networks_are_an_attribute_of_the_store(store: volt.Store) -> None:
    n = store.networks
    assert isinstance(n, volt.Networks)
    assert store.networks is n
    assert repr(n).startswith("Networks(root=")
    assert n.list() == []
    assert n.firewall_rules() == []


def test_network_argument_errors(store: volt.Store) -> None:
    # Every one of these is refused before a kernel object or the nft table is looked at.
    n = store.networks
    with pytest.raises(volt.UsageError) as e:
        n.create("Bad Net")
    assert e.value.code == 2
    for name in ("", "abcdefghijklmnop", "volt", "-x"):
        with pytest.raises(volt.UsageError):
            n.create(name)
    for kwargs in (
        {"subnet": "10.93.0.1/24"},
        {"subnet": "nonsense"},
        {"gateway": "10.93.0.1"},
        {"subnet": "10.93.0.0/24", "gateway": "ten"},
        {"dns_upstreams": ["dns.example"]},
    ):
        with pytest.raises(volt.UsageError):
            n.create("pynet", **kwargs)
    with pytest.raises(TypeError):
        n.create("pynet", "10.93.0.0/24")  # type: ignore[call-arg]
    with pytest.raises(volt.NotFoundError) as nf:
        n.inspect("py-none")
    assert nf.value.code == 3 and isinstance(nf.value, FileNotFoundError)
    with pytest.raises(volt.UsageError):
        n.inspect("a/b")
    with pytest.raises(volt.NotFoundError):
        n.delete("py-none")
    with pytest.raises(volt.NotFoundError):
        n.firewall_allow("py-a", "py-b")
    with pytest.raises(volt.NotFoundError):
        n.firewall_deny("py-a", "py-b", port="80")
    assert n.list() == [] and n.firewall_rules() == []


def test_container_network_argument_errors(store: volt.Store) -> None:
    c = store.containers
    bad: List[Dict[str, Any]] = [
        {"ports": ["80:99999"]},
        {"ports": ["8080:80/sctp"]},
        {"ports": ["1:2:3"]},
        {"networks": ["Bad Net"]},
    ]
    for kwargs in bad:
        with pytest.raises(volt.UsageError):
            c.create("web", IMAGE, **kwargs)
    with pytest.raises(TypeError):
        c.create("web", IMAGE, networks="front")
    with pytest.raises(volt.NotFoundError):
        c.connect("py-none", "front")
    with pytest.raises(volt.NotFoundError):
        c.disconnect("py-none", "front")
    with pytest.raises(volt.UsageError):
        c.connect("a/b", "front")
    assert c.list() == []


# --- in a network namespace of their own -----------------------------------------------------------


@pytest.mark.netns
def test_networks_firewall_and_dns_servers(store: volt.Store, supervisor: None, clean: None) -> None:
    n = store.networks
    front = n.create("pyfront", subnet="10.93.0.0/24", dns_upstreams=["192.0.2.53"])
    assert front["name"] == "pyfront" and front["bridge"] == "pyfront"
    assert front["subnet"] == "10.93.0.0/24" and front["gateway"] == "10.93.0.1"
    assert front["internal"] is False and front["mesh"] is False
    assert front["dns_upstreams"] == ["192.0.2.53"]
    assert front["endpoints"] == []
    assert alive(front["dns_pid"]), "its DNS server runs"
    assert "pyfront" in links(), "its bridge exists"
    assert '"pyfront"' in nft_table(), "nft table volt has its rules"
    assert n.inspect("pyfront") == front

    with pytest.raises(volt.AlreadyExistsError) as exists:
        n.create("pyfront")
    assert exists.value.code == 4
    with pytest.raises(volt.ConflictError) as overlap:
        n.create("pyover", subnet="10.93.0.0/16")
    assert overlap.value.code == 9
    with pytest.raises(volt.NotFoundError):
        n.inspect("pyover")
    assert "pyover" not in links(), "a refused create leaves nothing"

    back = n.create("pyback", internal=True, mesh=True)
    assert back["internal"] is True and back["mesh"] is True
    assert back["subnet"] not in ("10.93.0.0/24", "") and back["subnet"].endswith("/24")
    assert alive(back["dns_pid"]) and back["dns_pid"] != front["dns_pid"]
    assert [x["name"] for x in n.list()] == ["pyback", "pyfront"]

    rule = n.firewall_allow("pyfront", "pyback", port="5432")
    assert rule == {"from": "pyfront", "to": "pyback", "port": "5432/tcp"}
    assert n.firewall_allow("pyfront", "pyback", "5432/tcp") == rule, "idempotent"
    assert n.firewall_rules() == [rule]
    assert "tcp dport 5432 accept" in nft_table()
    with pytest.raises(volt.UsageError):
        n.firewall_allow("pyfront", "pyback", port="postgres")
    with pytest.raises(volt.NotFoundError):
        n.firewall_allow("pyfront", "py-none")

    # The table is derived state: sync_rules makes it again from the stored networks and rules.
    subprocess.run(["nft", "flush", "ruleset"], check=True)
    assert nft_table() == ""
    n.sync_rules()
    assert "tcp dport 5432 accept" in nft_table()

    n.firewall_deny("pyfront", "pyback", port="5432/tcp")
    assert n.firewall_rules() == []
    assert "dport 5432" not in nft_table()
    with pytest.raises(volt.NotFoundError):
        n.firewall_deny("pyfront", "pyback", port="5432")

    # Deleting a network stops its DNS server and drops the allowances naming it.
    n.firewall_allow("pyback", "pyfront")
    n.delete("pyback")
    assert n.firewall_rules() == []
    assert eventually(lambda: not alive(back["dns_pid"]))
    assert "pyback" not in links()
    with pytest.raises(volt.NotFoundError):
        n.delete("pyback")
    n.delete("pyfront")
    assert n.list() == []
    assert eventually(lambda: not alive(front["dns_pid"]))


@pytest.mark.netns
def test_container_on_networks(
    store: volt.Store, image: str, names: Callable[[str], str], clean: None
) -> None:
    n, c = store.networks, store.containers
    n.create("pyweb", subnet="10.94.0.0/24")
    n.create("pydb", subnet="10.95.0.0/24")
    name = names("net")

    # Created on a network: an address is reserved at once, with the forwards.
    info = c.create(name, image, command=["sleep", "1000"], networks=["pyweb"], ports=["8080:80", "5353:53/udp"])
    assert info["config"]["networks"] == ["pyweb"]
    assert info["config"]["ports"] == [
        {"host_port": 8080, "port": 80, "proto": "tcp"},
        {"host_port": 5353, "port": 53, "proto": "udp"},
    ]
    [ep] = info["endpoints"]
    assert ep["network"] == "pyweb" and ep["interface"] == "eth0" and ep["host_interface"].startswith("vt")
    addr = ep["address"]
    assert addr is not None and addr.startswith("10.94.0."), info["endpoints"]
    assert n.inspect("pyweb")["endpoints"] == [{"workload": name, "address": addr}]
    assert c.inspect(name)["endpoints"] == info["endpoints"]
    assert [x["endpoints"] for x in c.list()] == [info["endpoints"]]
    rules = nft_table()
    assert f"tcp dport 8080 dnat to {addr}:80" in rules and f"udp dport 5353 dnat to {addr}:53" in rules

    # A host port forwarded already, or an unknown network: refused, nothing kept.
    other = names("other")
    with pytest.raises(volt.ConflictError):
        c.create(other, image, command=["sh"], networks=["pyweb"], ports=["8080:81"])
    with pytest.raises(volt.NotFoundError):
        c.create(other, image, command=["sh"], networks=["py-none"])
    with pytest.raises(volt.UsageError):
        c.create(other, image, command=["sh"], ports=["8081:80"])
    assert [x["config"]["name"] for x in c.list()] == [name]

    # Started: the address is on eth0, the gateway answers, and names resolve through the
    # network's DNS server.
    c.start(name)
    exec_ready(c, name)
    status, out = run_in(c, name, "ip", "-4", "addr", "show", "dev", "eth0")
    assert status == 0 and f"inet {addr}/24" in out, out
    assert run_in(c, name, "ping", "-c", "1", "-W", "3", "10.94.0.1")[0] == 0
    assert "nameserver 10.94.0.1" in run_in(c, name, "cat", "/etc/resolv.conf")[1]
    status, out = run_in(c, name, "nslookup", f"{name}.pyweb.volt")
    assert status == 0 and addr in out, out

    # Connected while it runs: eth1 on the second network, at once.
    info = c.connect(name, "pydb")
    assert info["config"]["networks"] == ["pyweb", "pydb"]
    eps = {e["network"]: e for e in info["endpoints"]}
    assert eps["pydb"]["interface"] == "eth1"
    addr2 = eps["pydb"]["address"]
    assert addr2 is not None and addr2.startswith("10.95.0."), info["endpoints"]
    status, out = run_in(c, name, "ip", "-4", "addr", "show", "dev", "eth1")
    assert status == 0 and f"inet {addr2}/24" in out, out
    assert run_in(c, name, "ping", "-c", "1", "-W", "3", "10.95.0.1")[0] == 0
    with pytest.raises(volt.ConflictError):
        c.connect(name, "pydb")
    with pytest.raises(volt.NotFoundError):
        c.connect(name, "py-none")
    with pytest.raises(volt.ConflictError):
        n.delete("pydb")
    with pytest.raises(volt.ConflictError):
        c.disconnect(name, "pyweb")  # running: only the last network (eth1) can go

    info = c.disconnect(name, "pydb")
    assert info["config"]["networks"] == ["pyweb"]
    assert [e["network"] for e in info["endpoints"]] == ["pyweb"]
    assert run_in(c, name, "ip", "link", "show", "dev", "eth1")[0] != 0, "eth1 is gone"
    assert n.inspect("pydb")["endpoints"] == []
    with pytest.raises(volt.ConflictError):
        c.disconnect(name, "pydb")

    # Stopped, any network can go: the first takes the forwards with it, and the others are
    # renumbered at the next start.
    c.stop(name, timeout=1)
    c.connect(name, "pydb")
    info = c.disconnect(name, "pyweb")
    assert info["config"]["networks"] == ["pydb"] and info["config"]["ports"] == []
    assert "dnat" not in nft_table()
    c.start(name)
    exec_ready(c, name)
    status, out = run_in(c, name, "ip", "-4", "addr", "show", "dev", "eth0")
    assert status == 0 and "inet 10.95.0." in out, out

    # run() takes the same options.
    info, lines = c.run(names("run"), image, command=["ip", "-4", "-o", "addr", "show", "dev", "eth0"],
                        networks=["pydb"], rm=True)
    assert info["state"]["exit_code"] == 0 and any("inet 10.95.0." in line for line in lines), lines

    # Deleting the container gives its address and forwards back.
    c.delete(name, force=True)
    assert n.inspect("pyweb")["endpoints"] == [] and n.inspect("pydb")["endpoints"] == []
    assert "dnat" not in nft_table()
    n.delete("pyweb")
    n.delete("pydb")
