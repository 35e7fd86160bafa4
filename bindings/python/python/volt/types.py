"""Shapes of the values :class:`volt.Store`, :class:`volt.Images`, :class:`volt.Containers`,
:class:`volt.Volumes`, :class:`volt.Networks` and :class:`volt.Vms` return, for type checkers.

Every report is a plain ``dict`` whose keys are the field names of the Rust struct it comes from
(``volt_cas::BuildReport``, ``volt_core::image::ImageRecord`` and so on). Object ids are
``"blake3:<64 hex digits>"`` strings; SHA-2 aliases and OCI digests are ``"sha256:<hex>"`` /
``"sha512:<hex>"``; image names are ``"repository:tag"`` strings.
"""

import os
from typing import Callable, Dict, List, Literal, Optional, TypedDict, Union

__all__ = [
    "StrPath",
    "AliasAlgorithm",
    "CheckoutMode",
    "ObjectKind",
    "PutOutcome",
    "ObjectInfo",
    "BuildReport",
    "CheckoutReport",
    "BadObject",
    "BrokenRef",
    "VerifyReport",
    "GcReport",
    "Status",
    "SharedObject",
    "DedupReport",
    "RefEntry",
    "ProgressPhase",
    "Progress",
    "ProgressCallback",
    "ImageConfig",
    "LayerRecord",
    "ImageRecord",
    "ImageSummary",
    "ExportReport",
    "PushReport",
    "RootfsMode",
    "RootfsMount",
    "ContainerStatus",
    "WorkloadStatus",
    "WorkloadInfo",
    "RestartPolicy",
    "Backend",
    "MemoryArg",
    "Mount",
    "Limits",
    "PortProtocol",
    "PortMap",
    "ContainerConfig",
    "ProcRef",
    "Cgroup",
    "ContainerState",
    "ContainerEndpoint",
    "ContainerInfo",
    "CgroupStats",
    "TopEntry",
    "Volume",
    "NetworkEndpoint",
    "NetworkInfo",
    "FirewallRule",
    "VmStatus",
    "VmMachine",
    "VmAccel",
    "BaseDisk",
    "VmConfig",
    "VcpuThread",
    "VmState",
    "VmEndpoint",
    "VcpuInfo",
    "SnapshotInfo",
    "VmInfo",
    "KernelInfo",
]

#: A filesystem path argument.
StrPath = Union[str, "os.PathLike[str]"]
# The Literal aliases below are spelled as unions of one-value Literals. To a type checker that is
# the same type as Literal["a", "b"]; at run time it is a typing.Union, which is what
# mypy.stubtest expects to find for a union alias (it reports Literal["a", "b"] as "not a Union").

#: SHA-2 digests a put can record as aliases (BLAKE3, the native address, is always computed).
AliasAlgorithm = Union[Literal["sha256"], Literal["sha512"]]
#: How a checkout materialises files.
CheckoutMode = Union[Literal["hardlink"], Literal["reflink"], Literal["copy"]]
#: How an object is stored.
ObjectKind = Union[Literal["blob"], Literal["chunked"]]
#: What a progress report is about: reading the input, transferring a blob, applying a layer,
#: writing an export, or a blob that was already there.
ProgressPhase = Union[
    Literal["read"], Literal["download"], Literal["upload"], Literal["apply"], Literal["write"], Literal["skip"]
]
#: How a container root filesystem was made.
RootfsMode = Union[Literal["overlay"], Literal["copy"]]
#: Where a container is in its life.
ContainerStatus = Union[Literal["stopped"], Literal["running"], Literal["failed"], Literal["deleted"]]
#: Where any workload is in its life (the states of every kind together).
WorkloadStatus = Union[
    Literal["stopped"], Literal["running"], Literal["paused"], Literal["failed"], Literal["deleted"]
]
#: What to do when a container's workload exits.
RestartPolicy = Union[Literal["no"], Literal["on-failure"], Literal["always"]]
#: Transport protocol of a port forward.
PortProtocol = Union[Literal["tcp"], Literal["udp"]]
#: The supervisor running containers: systemd units, or Volt's own ``volt-supervisor``.
Backend = Union[Literal["systemd"], Literal["direct"]]
#: A memory limit argument: bytes, or a size such as ``"512M"`` or ``"1G"`` (at least 1 MiB).
MemoryArg = Union[int, str]
#: Where a VM is in its life (``"paused"``: QEMU runs, its vCPUs are stopped).
VmStatus = Union[Literal["stopped"], Literal["running"], Literal["paused"], Literal["failed"]]
#: QEMU machine type of a VM.
VmMachine = Union[Literal["microvm"], Literal["q35"]]
#: The accelerator a VM runs under: KVM, or QEMU's emulation (TCG).
VmAccel = Union[Literal["kvm"], Literal["tcg"]]


class PutOutcome(TypedDict):
    """What a put stored (``volt_cas::PutOutcome``)."""

    id: str
    size: int
    chunks: int
    existed: bool
    aliases: List[str]


class ObjectInfo(TypedDict):
    """What ``stat`` says of an object (``volt_cas::ObjectInfo``)."""

    id: str
    kind: ObjectKind
    size: int
    chunks: int
    tree: bool
    aliases: List[str]


class BuildReport(TypedDict):
    """What a build did (``volt_cas::BuildReport``)."""

    root: str
    reference: Optional[str]
    entries: int
    files: int
    bytes: int
    new_objects: int
    cached: int
    skipped: List[str]


class CheckoutReport(TypedDict):
    """What a checkout did (``volt_cas::CheckoutReport``)."""

    root: str
    dest: str
    mode: CheckoutMode
    entries: int
    linked: int
    copied: int
    variants_created: int
    notice: Optional[str]


class BadObject(TypedDict):
    """One damaged object (``volt_cas::BadObject``)."""

    id: str
    path: str
    reason: str


class BrokenRef(TypedDict):
    """A ref that reaches damaged or missing objects (``volt_cas::BrokenRef``)."""

    name: str
    objects: List[str]


class VerifyReport(TypedDict):
    """Result of a verification (``volt_cas::VerifyReport``); clean when the three lists are empty."""

    checked: int
    bytes: int
    corrupt: List[BadObject]
    missing: List[str]
    broken_refs: List[BrokenRef]


class GcReport(TypedDict):
    """What gc removed or would remove (``volt_cas::GcReport``)."""

    dry_run: bool
    live_objects: int
    removed_files: int
    removed_bytes: int
    removed_aliases: int
    stale_transactions: int
    live_transactions: int


class Status(TypedDict):
    """Store totals (``volt_cas::Status``)."""

    root: str
    objects: int
    blobs: int
    chunked: int
    chunks: int
    variants: int
    stored_bytes: int
    refs: int
    logical_bytes: int
    dedup_ratio: float


class SharedObject(TypedDict):
    """One object shared by several files (``volt_cas::SharedObject``)."""

    id: str
    size: int
    uses: int
    saved: int


class DedupReport(TypedDict):
    """Sharing analysis (``volt_cas::DedupReport``)."""

    logical_bytes: int
    stored_bytes: int
    ratio: float
    files: int
    unique_objects: int
    shared_chunks: int
    top: List[SharedObject]


class RefEntry(TypedDict):
    """One ref and its target (``volt_cas::RefEntry``)."""

    name: str
    target: str


# --- images --------------------------------------------------------------------------------------


class Progress(TypedDict):
    """One progress report (``volt_core::image::Progress``): ``done`` of ``total`` units, bytes
    for transfers and exports, layers for ``"apply"``; ``total`` is ``None`` when unknown."""

    phase: ProgressPhase
    item: str
    done: int
    total: Optional[int]


#: A progress callback: called with one :class:`Progress` per report, from worker threads.
#: Its return value is ignored.
ProgressCallback = Callable[[Progress], object]


class ImageConfig(TypedDict):
    """The parts of an image config Volt keeps (``volt_core::image::ImageConfig``); absent
    fields are empty strings, lists and dicts."""

    entrypoint: List[str]
    cmd: List[str]
    env: List[str]
    workdir: str
    user: str
    exposed_ports: List[str]
    volumes: List[str]
    labels: Dict[str, str]
    stop_signal: str
    architecture: str
    os: str
    created: str


class LayerRecord(TypedDict):
    """One layer of an image, bottom first (``volt_core::image::LayerRecord``)."""

    digest: str
    media_type: str
    size: int
    diff_id: str
    object: str


class ImageRecord(TypedDict):
    """Everything Volt records about a local image (``volt_core::image::ImageRecord``)."""

    name: str
    id: str
    manifest_digest: str
    manifest_media_type: str
    manifest_object: str
    config_object: str
    config: ImageConfig
    layers: List[LayerRecord]
    tree: str
    files: int
    size: int
    source: str
    stored: str


class ImageSummary(TypedDict):
    """One image in :meth:`volt.Images.list` (``volt_core::image::ImageSummary``)."""

    name: str
    id: str
    size: int
    layers: int
    stored: str


class ExportReport(TypedDict):
    """What an export wrote (``volt_core::image::ExportReport``)."""

    path: str
    manifest_digest: str
    blobs: int
    bytes: int


class PushReport(TypedDict):
    """What a push did (``volt_core::image::PushReport``)."""

    reference: str
    manifest_digest: str
    uploaded: int
    skipped: int
    bytes: int


class RootfsMount(TypedDict):
    """A container root filesystem (``volt_core::image::RootfsMount``); ``lower`` and ``upper``
    are set in overlay mode only."""

    path: str
    mode: RootfsMode
    lower: Optional[str]
    upper: Optional[str]
    #: Mounted with overlayfs's ``volatile`` option (ephemeral ``run --rm`` containers).
    volatile: bool


# --- containers ----------------------------------------------------------------------------------


class Mount(TypedDict):
    """A mount into a container (``volt_core::container::Mount``); a named volume appears as its
    directory."""

    source: str
    target: str
    read_only: bool


class Limits(TypedDict):
    """Resource limits (``volt_core::container::Limits``): memory in bytes, CPU in percent of one
    CPU, most tasks; ``None`` is unlimited."""

    memory: Optional[int]
    cpu: Optional[int]
    pids: Optional[int]


class PortMap(TypedDict):
    """A port forward (``volt_core::network::PortMap``), given as ``"HOSTPORT:PORT[/tcp|udp]"``."""

    host_port: int
    port: int
    proto: PortProtocol


class ContainerConfig(TypedDict):
    """A container's configuration (``volt_core::container::ContainerConfig``)."""

    name: str
    image: str
    command: List[str]
    env: List[str]
    workdir: Optional[str]
    user: Optional[str]
    hostname: Optional[str]
    mounts: List[Mount]
    limits: Limits
    restart: RestartPolicy
    labels: Dict[str, str]
    #: Deleted when it ends (``run(..., rm=True)``).
    ephemeral: bool
    #: Networks it is on (``eth0``, ``eth1``, … in this order); empty: the host's network.
    networks: List[str]
    #: Port forwards to its address on the first network.
    ports: List[PortMap]


class ProcRef(TypedDict):
    """A recorded process: pid and start time (``volt_core::container::ProcRef``)."""

    pid: int
    start_time: int


class Cgroup(TypedDict):
    """A container's cgroup (``volt_core::supervise::cgroup::Cgroup``): ``dirs`` is
    ``[controller, directory]`` pairs (one pair with an empty controller on cgroup v2)."""

    v2: bool
    dirs: List[List[str]]
    #: v1 controllers mounted with an earlier one: ``[controller, holder]`` pairs.
    shared: List[List[str]]


class ContainerState(TypedDict):
    """A container's runtime state (``volt_core::container::ContainerState``); times are RFC 3339."""

    status: ContainerStatus
    created: str
    pid: Optional[int]
    started: Optional[str]
    finished: Optional[str]
    exit_code: Optional[int]
    reason: Optional[str]
    backend: Optional[Backend]
    supervisor: Optional[ProcRef]
    cgroup: Optional[Cgroup]
    restarts: int


class ContainerEndpoint(TypedDict):
    """A container's place on one network (``volt_core::container::ContainerEndpoint``)."""

    network: str
    #: Its address there (``None``: none reserved, e.g. after the network was made again).
    address: Optional[str]
    #: The interface inside the container (``eth0``, …).
    interface: str
    #: The host end of its veth pair.
    host_interface: str


class ContainerInfo(TypedDict):
    """A container (``volt_core::container::ContainerInfo``)."""

    config: ContainerConfig
    state: ContainerState
    rootfs: RootfsMount
    #: Its addresses, one per network in ``config["networks"]``.
    endpoints: List[ContainerEndpoint]


class CgroupStats(TypedDict):
    """Usage counters of a running container (``volt_core::supervise::cgroup::CgroupStats``)."""

    cpu_ns: int
    memory: int
    memory_limit: Optional[int]
    io_read: int
    io_write: int
    pids: int
    throttled_periods: int
    oom_kills: int


class TopEntry(CgroupStats):
    """One running container in :meth:`volt.Containers.top` (``volt_core::container::TopEntry``)."""

    name: str
    cpu_percent: float


class Volume(TypedDict):
    """A named volume (``volt_core::container::Volume``)."""

    name: str
    created: str
    path: str
    used_by: List[str]


# --- networks --------------------------------------------------------------------------------------


class NetworkEndpoint(TypedDict):
    """A workload holding an address on a network (``volt_core::network::NetworkEndpoint``)."""

    workload: str
    address: str


class NetworkInfo(TypedDict):
    """A network (``volt_core::network::NetworkInfo``): its configuration, workloads and DNS
    server."""

    name: str
    #: The bridge interface (named after the network).
    bridge: str
    #: ``"10.88.0.0/24"``.
    subnet: str
    #: The bridge's address: the workloads' default route and DNS server.
    gateway: str
    #: No way out: workloads reach each other and their DNS server only.
    internal: bool
    mesh: bool
    #: Where names that are not workloads are resolved (empty: refused).
    dns_upstreams: List[str]
    #: RFC 3339.
    created: str
    endpoints: List[NetworkEndpoint]
    #: PID of its DNS server (``None`` when none runs).
    dns_pid: Optional[int]


#: An allowance between networks or workloads (``volt_core::network::FirewallRule``): ``from``
#: and ``to`` are each a network or a workload; ``port`` is ``"80/tcp"``, or ``None`` for every
#: port. Spelled as a call because ``from`` is a Python keyword: read it as ``rule["from"]``.
FirewallRule = TypedDict("FirewallRule", {"from": str, "to": str, "port": Optional[str]})


# --- VMs -----------------------------------------------------------------------------------------


class BaseDisk(TypedDict):
    """Where a VM's base disk came from (``volt_core::vm::BaseDisk``)."""

    #: The store object holding the qcow2 base: its BLAKE3 id as 64 bare hex digits (no
    #: ``blake3:`` prefix, unlike the ids of store reports).
    object: str
    #: ``"image NAME"`` or ``"file PATH"``.
    source: str
    #: Virtual size of the base in bytes.
    size: int


class VmConfig(TypedDict):
    """A VM's configuration, ``config.json`` (``volt_core::vm::VmConfig``)."""

    name: str
    machine: VmMachine
    cpus: int
    memory_mib: int
    #: Kernel (profile or name).
    kernel: str
    #: An initramfs overriding the kernel's own.
    initrd: Optional[str]
    #: Extra kernel arguments ("" for none).
    cmdline: str
    #: The base disk, if the VM's disk is an overlay on one.
    base: Optional[BaseDisk]
    #: Size of the VM's disk in bytes.
    disk_size: int
    networks: List[str]
    #: Port forwards to its address on the first network.
    ports: List[PortMap]
    hugepages: bool
    #: Host CPUs its vCPUs are pinned to at every start (empty: not pinned).
    cpu_pin: List[int]
    #: RFC 3339.
    created: str


class VcpuThread(TypedDict):
    """A vCPU of the current run: QEMU's index and the host thread (``volt_vm::qmp::VcpuThread``)."""

    cpu: int
    thread: int


class VmState(TypedDict):
    """The supervisor's record, ``state.json`` (``volt_vm::supervisor::VmState``); times are
    RFC 3339."""

    status: VmStatus
    supervisor_pid: Optional[int]
    qemu_pid: Optional[int]
    started: Optional[str]
    finished: Optional[str]
    #: How it ended, in words (``"the guest powered off"``, ``"qemu killed by SIGKILL"``).
    reason: Optional[str]
    #: Exit code in the shell's convention (128+N for signal N).
    exit_code: Optional[int]
    #: The accelerator of the current or last run, and why.
    accel: Optional[VmAccel]
    accel_reason: Optional[str]
    vcpus: List[VcpuThread]
    #: Host CPUs the vCPUs are pinned to in this run.
    pinned: List[int]
    qemu_version: Optional[str]


class VmEndpoint(TypedDict):
    """A VM's place on one network (``volt_core::vm::VmEndpoint``)."""

    network: str
    #: The guest's address (``None``: none reserved).
    address: Optional[str]
    #: The TAP device on the host.
    tap: str
    mac: str


class VcpuInfo(TypedDict):
    """A vCPU thread of a running VM and the host CPUs it may run on now
    (``volt_core::vm::VcpuInfo``)."""

    cpu: int
    thread: int
    affinity: List[int]


class SnapshotInfo(TypedDict):
    """A snapshot of a VM's disk (``volt_core::vm::SnapshotInfo``)."""

    name: str
    #: RFC 3339.
    created: str
    #: Bytes on the host.
    size: int
    #: Whether the VM was running (paused for the copy) when it was taken.
    live: bool


class VmInfo(TypedDict):
    """A VM (``volt_core::vm::VmInfo``)."""

    config: VmConfig
    #: Its status, the same as ``state["status"]`` once a lost supervisor is accounted for.
    status: VmStatus
    state: VmState
    #: One per network in ``config["networks"]``.
    endpoints: List[VmEndpoint]
    #: vCPU threads and their affinity (running VMs).
    vcpus: List[VcpuInfo]
    #: The VM's disk file (a qcow2 overlay).
    disk: str
    snapshots: List[SnapshotInfo]
    #: The generated systemd unit file.
    unit: str
    #: The serial console socket.
    console: str
    #: The serial log (what :meth:`volt.Vms.logs` reads).
    serial_log: str
    #: The supervisor VMs run under here.
    backend: Backend


class KernelInfo(TypedDict):
    """A guest kernel (``volt_vm::kernel::KernelInfo``)."""

    #: Its name (a profile's name for profile kernels).
    name: str
    #: The profile it serves, if it is a profile kernel.
    profile: Optional[str]
    version: Optional[str]
    #: Where it came from (a Debian package, an imported file).
    source: str
    #: Size of the kernel image in bytes.
    size: int
    #: Whether it has an initramfs.
    initrd: bool
    #: RFC 3339.
    added: str
    #: Extra kernel arguments it wants ("" for none).
    cmdline: str


class WorkloadInfo(TypedDict):
    """A workload of any kind, as ``Store.workloads()`` and ``volt ps`` list it."""

    name: str
    #: ``"container"``, ``"vm"`` or a registered runtime's kind.
    kind: str
    status: WorkloadStatus
    pid: Optional[int]
    #: What it runs in a few words (a container's image, a VM's machine and size).
    detail: str
