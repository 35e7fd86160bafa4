"""Volt's Python SDK.

Open a store and work with it::

    import volt

    store = volt.Store("/tmp/volt-demo")          # every path under /tmp/volt-demo
    report = store.build("/srv/rootfs", ref="images/demo")
    store.checkout("images/demo", "/tmp/demo-checkout")
    assert not store.verify()["corrupt"]

Images live in the same store (:attr:`Store.images`) and can be served as an OCI registry::

    store.images.import_path("/srv/rootfs", "demo:v1")
    with store.serve_registry(bind="127.0.0.1:0") as registry:
        token = store.registry_token(["demo"], actions="pull,push")
        store.images.push("demo:v1", f"{registry.address}/demo:v1", token=token)
        other = volt.Store("/tmp/volt-other")
        other.images.pull(f"{registry.address}/demo:v1", "demo:v1", token=token)

Containers run from those images (:attr:`Store.containers`, as root)::

    info, lines = store.containers.run(None, "demo:v1", command=["sh", "-c", "echo hi"], rm=True)
    assert info["state"]["exit_code"] == 0 and "hi" in lines

and on networks of their own (:attr:`Store.networks`, as root)::

    store.networks.create("front", subnet="10.89.0.0/24")
    info = store.containers.create("web", "demo:v1", networks=["front"], ports=["8080:80"])
    print(info["endpoints"][0]["address"])          # 10.89.0.2

VMs boot a kernel on a qcow2 disk kept in the store (:attr:`Store.vms`, as root, with QEMU)::

    store.vms.kernel_import("/srv/vmlinuz", "k1", initrd="/srv/initrd.img")
    store.vms.create("vm1", disk="/srv/debian.qcow2", kernel="k1", memory="1G")
    store.vms.start("vm1")
    print(store.vms.console_exchange("vm1", "uname -r\\n", timeout=2.0))   # its output in 2 s
    store.vms.stop("vm1")

Errors are :class:`VoltError` subclasses, one per Volt error kind, which also derive from the
matching builtin (:class:`NotFoundError` is a :class:`FileNotFoundError`). Result shapes are
described in :mod:`volt.types`.
"""

from . import types
from ._errors import (
    ERRORS_BY_KIND,
    AlreadyExistsError,
    ConflictError,
    DaemonError,
    DependencyError,
    GeneralError,
    InvalidConfigError,
    NetworkError,
    NotFoundError,
    ResourceError,
    UsageError,
    VoltError,
    VoltInterruptedError,
    VoltPermissionError,
    VoltTimeoutError,
)
from ._volt import Containers, Images, Networks, RegistryServer, Store, Vms, Volumes, __version__

# Listed out (not built from _errors.__all__) because type checkers and mypy.stubtest only read
# a literal __all__.
__all__ = [
    "__version__",
    "Store",
    "Images",
    "Containers",
    "Volumes",
    "Networks",
    "Vms",
    "RegistryServer",
    "types",
    "VoltError",
    "GeneralError",
    "UsageError",
    "NotFoundError",
    "AlreadyExistsError",
    "VoltPermissionError",
    "DaemonError",
    "VoltTimeoutError",
    "NetworkError",
    "ConflictError",
    "DependencyError",
    "ResourceError",
    "InvalidConfigError",
    "VoltInterruptedError",
    "ERRORS_BY_KIND",
]
