"""Volt's exception hierarchy: :class:`VoltError` and one subclass per error kind.

Each class also derives from the matching builtin where there is one, so ``except
FileNotFoundError`` catches :class:`NotFoundError`. ``kind`` is the symbolic name shared with the
CLI and the C library (``"ERR_NOT_FOUND"``) and ``code`` the CLI's exit code for it (never
renumbered). The native module raises these classes with ``(message, kind, code)``.
"""

from typing import Dict, Optional, Type

__all__ = [
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


class VoltError(Exception):
    """Root of every error Volt raises."""

    #: Symbolic name of the error kind, e.g. ``"ERR_NOT_FOUND"``.
    kind: str = "ERR_GENERAL"
    #: The CLI's exit code for this kind (1-13).
    code: int = 1

    def __init__(self, message: str = "", kind: Optional[str] = None, code: Optional[int] = None) -> None:
        # One positional argument only: OSError subclasses would read (errno, strerror, filename)
        # from more. Defining __init__ (not __new__) makes OSError leave the parsing to it.
        super().__init__(message)
        self.message = message
        if kind is not None:
            self.kind = kind
        if code is not None:
            self.code = code


class GeneralError(VoltError):
    """Unspecified error (exit code 1)."""

    kind = "ERR_GENERAL"
    code = 1


class UsageError(VoltError, ValueError):
    """Invalid arguments: a malformed digest or ref name, an unknown mode (exit code 2)."""

    kind = "ERR_USAGE"
    code = 2


class NotFoundError(VoltError, FileNotFoundError):
    """An object, ref or source path does not exist (exit code 3)."""

    kind = "ERR_NOT_FOUND"
    code = 3


class AlreadyExistsError(VoltError, FileExistsError):
    """The destination already exists, e.g. checkout into a non-empty directory (exit code 4)."""

    kind = "ERR_ALREADY_EXISTS"
    code = 4


class VoltPermissionError(VoltError, PermissionError):
    """Permission denied (exit code 5)."""

    kind = "ERR_PERMISSION"
    code = 5


class DaemonError(VoltError):
    """The daemon is unreachable (exit code 6)."""

    kind = "ERR_DAEMON"
    code = 6


class VoltTimeoutError(VoltError, TimeoutError):
    """The operation timed out (exit code 7)."""

    kind = "ERR_TIMEOUT"
    code = 7


class NetworkError(VoltError, ConnectionError):
    """Network error (exit code 8)."""

    kind = "ERR_NETWORK"
    code = 8


class ConflictError(VoltError):
    """Conflicting state (exit code 9)."""

    kind = "ERR_CONFLICT"
    code = 9


class DependencyError(VoltError):
    """A missing dependency or a feature unsupported on this host (exit code 10)."""

    kind = "ERR_DEPENDENCY"
    code = 10


class ResourceError(VoltError):
    """Insufficient resources, e.g. the disk is full (exit code 11)."""

    kind = "ERR_RESOURCE"
    code = 11


class InvalidConfigError(VoltError):
    """Invalid configuration file or ``VOLT_*`` environment variable (exit code 12)."""

    kind = "ERR_INVALID_CONFIG"
    code = 12


class VoltInterruptedError(VoltError, InterruptedError):
    """Interrupted (exit code 13)."""

    kind = "ERR_INTERRUPTED"
    code = 13


#: The exception class for each ``kind`` name.
ERRORS_BY_KIND: Dict[str, Type[VoltError]] = {
    cls.kind: cls
    for cls in (
        GeneralError,
        UsageError,
        NotFoundError,
        AlreadyExistsError,
        VoltPermissionError,
        DaemonError,
        VoltTimeoutError,
        NetworkError,
        ConflictError,
        DependencyError,
        ResourceError,
        InvalidConfigError,
        VoltInterruptedError,
    )
}
