"""Volt's Python SDK.

Open a store and work with it::

    import volt

    store = volt.Store("/tmp/volt-demo")          # every path under /tmp/volt-demo
    report = store.build("/srv/rootfs", ref="images/demo")
    store.checkout("images/demo", "/tmp/demo-checkout")
    assert not store.verify()["corrupt"]

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
from ._volt import Store, __version__

# Listed out (not built from _errors.__all__) because type checkers and mypy.stubtest only read
# a literal __all__.
__all__ = [
    "__version__",
    "Store",
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
