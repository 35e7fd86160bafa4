"""Typing stub for the native module ``volt._volt`` (import it through ``volt``)."""

from collections.abc import Sequence
from typing import final

from volt.types import (
    AliasAlgorithm,
    BuildReport,
    CheckoutMode,
    CheckoutReport,
    DedupReport,
    GcReport,
    ObjectInfo,
    PutOutcome,
    RefEntry,
    Status,
    StrPath,
    VerifyReport,
)

__all__ = ["Store", "__version__"]

__version__: str

@final
class Store:
    """A Volt store.

    ``Store()`` uses the configuration the CLI uses (``VOLT_CONFIG``, ``VOLT_ROOT``, system
    paths); ``Store(root)`` keeps every path under ``root``, whatever ``VOLT_ROOT`` says, and reads
    ``root/etc/volt/config.yaml`` unless ``VOLT_CONFIG`` is set. A *target* is a digest
    (``blake3:…``, ``sha256:…``, ``sha512:…`` or 64 bare hex digits) or a ref name. Every method
    releases the GIL while it works and raises a :class:`volt.VoltError` subclass on failure.
    """

    def __new__(cls, root: StrPath | None = None) -> Store: ...
    @property
    def root(self) -> str:
        """The store directory (``<root>/var/lib/volt/cas``)."""
    def put_file(self, path: StrPath, ref: str | None = None, also: Sequence[AliasAlgorithm] = ()) -> PutOutcome:
        """Store a file; ``ref`` names it, ``also`` records SHA-2 aliases."""
    def put_bytes(
        self, data: bytes | bytearray, ref: str | None = None, also: Sequence[AliasAlgorithm] = ()
    ) -> PutOutcome:
        """Store bytes held in memory."""
    def get(self, target: str, dest_path: StrPath) -> int:
        """Write an object's bytes to ``dest_path`` (replaced atomically); returns the byte count."""
    def read(self, target: str) -> bytes:
        """An object's bytes."""
    def has(self, target: str) -> bool:
        """Is the target stored?"""
    def stat(self, target: str) -> ObjectInfo:
        """Describe an object."""
    def build(self, dir: StrPath, ref: str | None = None) -> BuildReport:
        """Store a directory as a tree."""
    def checkout(self, target: str, dest: StrPath, mode: CheckoutMode = "hardlink") -> CheckoutReport:
        """Materialise a tree into ``dest`` (absent or empty)."""
    def verify(self, target: str | None = None) -> VerifyReport:
        """Re-hash ``target`` and what it reaches, or the whole store."""
    def gc(self, dry_run: bool = False) -> GcReport:
        """Remove what no ref or in-flight writer reaches."""
    def status(self) -> Status:
        """Store totals."""
    def dedup(self, top: int = 10) -> DedupReport:
        """Sharing analysis with the ``top`` most-shared objects."""
    def refs(self, prefix: str | None = None) -> list[RefEntry]:
        """Refs, optionally under ``prefix``."""
    def set_ref(self, name: str, target: str) -> str:
        """Point ref ``name`` at ``target``; returns the object's digest."""
    def delete_ref(self, name: str) -> None:
        """Remove ref ``name``."""
