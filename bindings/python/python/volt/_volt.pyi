"""Typing stub for the native module ``volt._volt`` (import it through ``volt``)."""

import builtins
from collections.abc import Sequence
from types import TracebackType
from typing import final

from volt.types import (
    AliasAlgorithm,
    Backend,
    BuildReport,
    CgroupStats,
    CheckoutMode,
    CheckoutReport,
    ContainerInfo,
    DedupReport,
    ExportReport,
    FirewallRule,
    GcReport,
    ImageRecord,
    ImageSummary,
    KernelInfo,
    MemoryArg,
    NetworkInfo,
    ObjectInfo,
    ProgressCallback,
    PushReport,
    PutOutcome,
    RefEntry,
    RestartPolicy,
    RootfsMount,
    SnapshotInfo,
    Status,
    StrPath,
    TopEntry,
    VerifyReport,
    VmInfo,
    VmMachine,
    Volume,
    WorkloadInfo,
)

__all__ = ["Store", "Images", "Containers", "Volumes", "Networks", "Vms", "RegistryServer", "__version__"]

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
    @property
    def images(self) -> Images:
        """The store's images."""
    @property
    def containers(self) -> Containers:
        """The containers and named volumes of this installation."""
    @property
    def networks(self) -> Networks:
        """The networks of this installation."""
    @property
    def vms(self) -> Vms:
        """The VMs and guest kernels of this installation."""
    def workloads(self) -> list[WorkloadInfo]:
        """Every workload of every kind (what ``volt ps`` shows), sorted by name."""
    def kinds(self) -> list[str]:
        """The workload kinds this store runs: ``container``, ``vm``, then registered ones."""
    def register_runtime(self, runtime: builtins.object) -> None:
        """Add a runtime of a new kind: an object with ``kind`` and at least ``list()``."""
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
    def serve_registry(
        self,
        bind: str = "127.0.0.1:5000",
        tls_cert: StrPath | None = None,
        tls_key: StrPath | None = None,
        token_ttl: str = "5m",
    ) -> RegistryServer:
        """Serve this store as an OCI registry in the background (port 0 picks a free port)."""
    def registry_token(
        self, repos: Sequence[str], actions: str = "pull", ttl: str = "1h", subject: str = "python"
    ) -> str:
        """A bearer token for this store's registry granting ``actions`` on ``repos`` for ``ttl``."""

@final
class Images:
    """The images of one store (:attr:`Store.images`).

    Every method releases the GIL while it works and raises a :class:`volt.VoltError` subclass on
    failure. ``progress`` is called with one :class:`volt.types.Progress` per report, from worker
    threads; if it raises, it is not called again, the operation still runs to its end, and the
    exception is raised when the call returns.
    """

    def import_path(self, path: StrPath, name: str, progress: ProgressCallback | None = None) -> ImageRecord:
        """Import an OCI layout, docker archive or root filesystem (directory or tarball) as ``name``."""
    def list(self) -> builtins.list[ImageSummary]:
        """All local images, sorted by name."""
    def inspect(self, name: str) -> ImageRecord:
        """The record of image ``name``."""
    def tag(self, source: str, target: str) -> None:
        """Give image ``source`` the additional name ``target``."""
    def remove(self, name: str) -> None:
        """Remove the name ``name``; the content goes at the next gc."""
    def export(self, name: str, dest: StrPath, progress: ProgressCallback | None = None) -> ExportReport:
        """Write image ``name`` as an OCI image layout: a tar file if ``dest`` ends in ``.tar``, else a directory."""
    def pull(
        self,
        reference: str,
        name: str | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        insecure: bool = False,
        ca_certs: Sequence[StrPath] = (),
        progress: ProgressCallback | None = None,
    ) -> ImageRecord:
        """Pull ``reference`` from a registry and name it ``name``."""
    def push(
        self,
        name: str,
        destination: str | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        insecure: bool = False,
        ca_certs: Sequence[StrPath] = (),
        progress: ProgressCallback | None = None,
    ) -> PushReport:
        """Push image ``name`` to ``destination`` (default: its own name)."""
    def shared_root(self, name: str) -> str:
        """The shared read-only checkout of the image's tree (do not modify its files)."""
    def create_rootfs(self, name: str, container_dir: StrPath, copy: bool = False) -> RootfsMount:
        """Make ``container_dir/rootfs`` from the image: an overlayfs, or a private copy."""
    def remove_rootfs(self, container_dir: StrPath) -> None:
        """Undo :meth:`create_rootfs` (idempotent)."""

@final
class Containers:
    """The containers of one installation (:attr:`Store.containers`).

    Containers run on systemd-nspawn, supervised by systemd where it is PID 1, otherwise by
    ``volt-supervisor`` processes (``VOLT_SUPERVISOR``, next to the program, or on ``PATH``);
    running them needs root. Every method releases the GIL while it works and raises a
    :class:`volt.VoltError` subclass on failure.
    """

    @property
    def backend(self) -> Backend:
        """The supervisor in use."""
    @property
    def volumes(self) -> Volumes:
        """The named volumes."""
    def create(
        self,
        name: str | None,
        image: str,
        *,
        command: Sequence[str] = (),
        env: Sequence[str] = (),
        volumes: Sequence[str] = (),
        workdir: str | None = None,
        user: str | None = None,
        hostname: str | None = None,
        memory: MemoryArg | None = None,
        cpu: int | None = None,
        pids: int | None = None,
        restart: RestartPolicy = "no",
        copy_rootfs: bool = False,
        networks: Sequence[str] = (),
        ports: Sequence[str] = (),
    ) -> ContainerInfo:
        """Create a stopped container (``name`` None: a generated name) from ``image``."""
    def run(
        self,
        name: str | None,
        image: str,
        *,
        command: Sequence[str] = (),
        env: Sequence[str] = (),
        volumes: Sequence[str] = (),
        workdir: str | None = None,
        user: str | None = None,
        hostname: str | None = None,
        memory: MemoryArg | None = None,
        cpu: int | None = None,
        pids: int | None = None,
        restart: RestartPolicy = "no",
        copy_rootfs: bool = False,
        networks: Sequence[str] = (),
        ports: Sequence[str] = (),
        rm: bool = False,
    ) -> tuple[ContainerInfo, builtins.list[str]]:
        """Create, start and wait for a container; returns its final record and output lines."""
    def start(self, name: str) -> ContainerInfo:
        """Start a stopped or failed container."""
    def stop(self, name: str, timeout: int | None = None) -> ContainerInfo:
        """SIGTERM, then SIGKILL after ``timeout`` seconds (default: the configured one)."""
    def restart(self, name: str, timeout: int | None = None) -> ContainerInfo:
        """Stop if running, then start."""
    def kill(self, name: str, signal: int = 9) -> None:
        """Send ``signal`` to the container's workload."""
    def delete(self, name: str, force: bool = False) -> None:
        """Delete a container (``force``: stop a running one first)."""
    def inspect(self, name: str) -> ContainerInfo:
        """The container's record with its live state."""
    def list(self) -> builtins.list[ContainerInfo]:
        """All containers, sorted by name."""
    def exec_output(self, name: str, argv: Sequence[str]) -> tuple[int, bytes, bytes]:
        """Run ``argv`` in the running container: ``(status, stdout, stderr)``."""
    def logs(self, name: str, tail: int | None = None, since: str | None = None) -> builtins.list[str]:
        """The container's log lines, the last ``tail`` or all kept, since ``since`` (RFC 3339 or ``"10m"``)."""
    def wait(self, name: str, timeout: float | None = None) -> ContainerInfo:
        """Wait until the container no longer runs (at most ``timeout`` seconds)."""
    def update(
        self, name: str, memory: MemoryArg | None = None, cpu: int | None = None, pids: int | None = None
    ) -> ContainerInfo:
        """Change limits; a running container's cgroup is updated at once."""
    def stats(self, name: str) -> CgroupStats:
        """Usage counters of a running container."""
    def top(self, interval: float = 1.0) -> builtins.list[TopEntry]:
        """Every running container's usage, CPU measured over ``interval`` seconds."""
    def connect(self, name: str, network: str) -> ContainerInfo:
        """Put the container on ``network`` as its next interface (at once if it runs)."""
    def disconnect(self, name: str, network: str) -> ContainerInfo:
        """Take the container off ``network`` (while it runs, only its last network)."""

@final
class Volumes:
    """The named volumes of one installation (:attr:`Containers.volumes`)."""

    def create(self, name: str) -> Volume:
        """Create a volume."""
    def list(self) -> builtins.list[Volume]:
        """All volumes, sorted by name."""
    def inspect(self, name: str) -> Volume:
        """A volume with the containers using it."""
    def remove(self, name: str) -> None:
        """Remove a volume and its data (not while a container uses it)."""

@final
class Networks:
    """The networks of one installation (:attr:`Store.networks`).

    Each network is a bridge with the gateway address, NAT (unless internal), rules in nftables
    table ``ip volt`` and a DNS server for its workloads' names (a ``volt-supervisor dns``
    process). Changing networks needs root and ``nft``. Every method releases the GIL while it
    works and raises a :class:`volt.VoltError` subclass on failure.
    """

    def create(
        self,
        name: str,
        *,
        subnet: str | None = None,
        gateway: str | None = None,
        internal: bool = False,
        mesh: bool = False,
        dns_upstreams: Sequence[str] | None = None,
    ) -> NetworkInfo:
        """Create a network: bridge, NAT, rules and DNS server."""
    def list(self) -> builtins.list[NetworkInfo]:
        """All networks, sorted by name."""
    def inspect(self, name: str) -> NetworkInfo:
        """A network with its workloads and DNS server."""
    def delete(self, name: str) -> None:
        """Delete a network (not while a container is on it)."""
    def firewall_allow(self, from_: str, to: str, port: str | None = None) -> FirewallRule:
        """Allow traffic from ``from_`` to ``to`` (networks or containers), to ``port`` only if given."""
    def firewall_deny(self, from_: str, to: str, port: str | None = None) -> None:
        """Remove an allowance."""
    def firewall_rules(self) -> builtins.list[FirewallRule]:
        """The allowances."""
    def sync_rules(self) -> None:
        """Re-apply nftables table ``ip volt`` from the stored state."""

@final
class Vms:
    """The VMs (Voltvisor) and guest kernels of one installation (:attr:`Store.vms`).

    A VM is a QEMU guest with a qcow2 overlay on a base disk kept in the store, a kernel booted
    directly and a ``volt-supervisor`` process (found like the container supervisor) that starts
    QEMU and records its state. Running VMs needs root, ``qemu-system-x86_64`` and ``qemu-img``.
    Every method releases the GIL while it works and raises a :class:`volt.VoltError` subclass on
    failure.
    """

    def create(
        self,
        name: str,
        *,
        image: str | None = None,
        disk: StrPath | None = None,
        kernel: str | None = None,
        initrd: StrPath | None = None,
        cmdline: str | None = None,
        cpus: int | None = None,
        memory: MemoryArg | None = None,
        disk_size: str | None = None,
        networks: Sequence[str] | None = None,
        ports: Sequence[str] | None = None,
        machine: VmMachine | None = None,
        hugepages: bool | None = None,
    ) -> VmInfo:
        """Create a stopped VM on ``image``'s or ``disk``'s qcow2 (a blank disk without either)."""
    def start(self, name: str) -> VmInfo:
        """Start a stopped or failed VM; returns once QEMU answers (the guest is still booting)."""
    def stop(self, name: str, timeout: int | None = None) -> VmInfo:
        """ACPI power button, up to ``timeout`` seconds for the guest to power off, then quit QEMU."""
    def kill(self, name: str, signal: int = 9) -> VmInfo:
        """Send ``signal`` to the VM's QEMU."""
    def pause(self, name: str) -> VmInfo:
        """Pause the vCPUs."""
    def resume(self, name: str) -> VmInfo:
        """Resume a paused VM."""
    def restart(self, name: str, timeout: int | None = None) -> VmInfo:
        """Stop if running, then start."""
    def delete(self, name: str, force: bool = False) -> None:
        """Delete a VM (``force``: kill a running one first)."""
    def list(self) -> builtins.list[VmInfo]:
        """All VMs, sorted by name."""
    def inspect(self, name: str) -> VmInfo:
        """The VM's record with its live state."""
    def logs(self, name: str, tail: int | None = None) -> str:
        """The serial console log, its last ``tail`` lines or all of it."""
    def query_status(self, name: str) -> str:
        """QEMU's own run state of a running VM (``"running"``, ``"paused"``, …)."""
    def console_exchange(self, name: str, input: str, until: str | None = None, timeout: float = 10.0) -> str:
        """Write ``input`` to the serial console and collect the output until ``until`` appears."""
    def snapshot_create(self, name: str, snapshot: str) -> SnapshotInfo:
        """Snapshot the VM's disk (a running VM is paused for the copy)."""
    def snapshot_list(self, name: str) -> builtins.list[SnapshotInfo]:
        """The VM's snapshots, oldest first."""
    def snapshot_restore(self, name: str, snapshot: str) -> None:
        """Put a stopped VM's disk back to ``snapshot``."""
    def snapshot_delete(self, name: str, snapshot: str) -> None:
        """Delete a snapshot."""
    def pin_cpus(self, name: str, cpus: str) -> VmInfo:
        """Pin the vCPUs to host CPUs ``cpus`` (``"0-1,3"``; ``"all"`` or ``""`` unpins)."""
    def kernels(self) -> builtins.list[KernelInfo]:
        """Installed guest kernels, sorted by name."""
    def kernel_import(
        self, file: StrPath, name: str, *, initrd: StrPath | None = None, cmdline: str | None = None
    ) -> KernelInfo:
        """Import a kernel image (bzImage) as ``name``."""
    def kernel_remove(self, name: str) -> None:
        """Remove a kernel no VM uses."""
    def kernel_build(self, profile: str) -> KernelInfo:
        """Install a profile's kernel (Debian's packages; ``minimal`` compiled from Debian's source)."""

@final
class RegistryServer:
    """A registry server running in the background (:meth:`Store.serve_registry`).

    Stop it with :meth:`stop` or use it as a context manager.
    """

    @property
    def url(self) -> str:
        """The base URL, ``http://HOST:PORT`` (``https://`` with TLS)."""
    @property
    def port(self) -> int:
        """The port it listens on."""
    @property
    def address(self) -> str:
        """``HOST:PORT``, the registry part of image references."""
    @property
    def running(self) -> bool:
        """Whether it has not been stopped yet."""
    def stop(self, grace: float = 30.0) -> None:
        """Stop, letting requests in flight finish within ``grace`` seconds; idempotent."""
    def __enter__(self) -> RegistryServer: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """:meth:`stop` with the default grace period."""
