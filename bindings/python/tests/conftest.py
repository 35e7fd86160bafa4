"""Tests marked ``@pytest.mark.netns`` run in a network namespace of their own.

Such a test makes networks: bridges, veth pairs, nftables table ``ip volt``, sysctls and DNS
server processes, none of which may ever touch the host's network namespace. So the pytest
process does not run it: it runs it again, alone, in a child process started as
``unshare --net -- python -m pytest FILE::TEST`` (``VOLT_NETNS_CHILD=1`` marks the child), and
the test passes if it passed there. The child refuses to run it unless its namespace is fresh
(only ``lo``); the parent then checks that its own links are what they were. The namespace dies
with the child, but the test itself must still delete what it made (a DNS server it leaves
running would keep the namespace alive).

Where network namespaces cannot be made (not root, no ``unshare`` or ``nft``) the test is
skipped, saying why; with ``CI=true`` it fails instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

CHILD_ENV = "VOLT_NETNS_CHILD"


def in_netns_child() -> bool:
    """Is this the pytest process ``unshare --net`` started for one ``netns`` test?"""
    return os.environ.get(CHILD_ENV) == "1"


def links() -> List[str]:
    """The links of this process's network namespace, sorted (``/proc/net/dev`` shows the
    reader's namespace; ``/sys/class/net`` would show the one sysfs was mounted in)."""
    lines = Path("/proc/net/dev").read_text().splitlines()[2:]
    return sorted(line.split(":", 1)[0].strip() for line in lines)


def _why_no_netns() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("unshare") is None:
        return "no unshare on PATH"
    if shutil.which("nft") is None:
        return "no nft on PATH (apt-get install nftables)"
    return None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "netns: run the test in a network namespace of its own (unshare --net); see conftest.py"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if pyfuncitem.get_closest_marker("netns") is None:
        return None
    if in_netns_child():
        here = links()
        assert here == ["lo"], f"refusing to run outside a fresh network namespace (links: {here})"
        return None  # pytest calls the test here, in the namespace
    why = _why_no_netns()
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"network namespace tests cannot run (CI=true): {why}")
        pytest.skip(why)
    before = links()
    argv = ["unshare", "--net", "--", sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    proc = subprocess.run(
        [*argv, f"{pyfuncitem.path}::{pyfuncitem.name}"],
        cwd=pyfuncitem.config.rootpath,
        env={**os.environ, CHILD_ENV: "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0 and "1 passed" in proc.stdout, f"in its network namespace:\n{proc.stdout}"
    assert links() == before, "the host's links changed"
    return True
