//! A VM as data: its spec, the QEMU command line and kernel command line made from it, and the
//! systemd unit that runs it. Nothing here touches the host, so all of it is unit-tested.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// QEMU machine type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Machine {
    /// The fast path ("Stardust"): QEMU's microvm with a minimal device set, virtio-mmio devices
    /// and direct kernel boot. No PCI, no firmware option ROMs, no legacy timers.
    #[default]
    Microvm,
    /// A general PC (Q35 chipset, PCI express, virtio-pci devices).
    Q35,
}

impl Machine {
    /// The name users write (`microvm`, `q35`).
    pub fn as_str(self) -> &'static str {
        match self {
            Machine::Microvm => "microvm",
            Machine::Q35 => "q35",
        }
    }

    fn virtio(self, device: &str) -> String {
        match self {
            Machine::Microvm => format!("virtio-{device}-device"),
            Machine::Q35 => format!("virtio-{device}-pci"),
        }
    }
}

impl FromStr for Machine {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "microvm" => Ok(Machine::Microvm),
            "q35" => Ok(Machine::Q35),
            _ => Err(Error::Invalid(format!("unknown machine type {s:?} (use microvm or q35)"))),
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The accelerator QEMU runs the guest with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// Hardware virtualisation through /dev/kvm.
    Kvm,
    /// QEMU's software emulation (the Tiny Code Generator).
    Tcg,
}

impl Accel {
    /// The name QEMU and users use.
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

impl fmt::Display for Accel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One network interface of a VM: a TAP device on the host and the guest's MAC address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nic {
    /// The TAP device (already created, on its bridge).
    pub tap: String,
    /// The guest's MAC address.
    pub mac: String,
}

/// The guest's address on its first network, told to the guest on the kernel command line in
/// the `ip=` form the kernel and initramfs tools understand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestNet {
    /// The guest's IPv4 address.
    pub addr: std::net::Ipv4Addr,
    /// Prefix length.
    pub prefix: u8,
    /// Default gateway (and DNS server: the network's gateway answers names).
    pub gateway: Option<std::net::Ipv4Addr>,
    /// The guest's host name.
    pub hostname: String,
}

impl GuestNet {
    /// `ip=ADDR::GW:MASK:HOSTNAME:eth0:off:DNS`.
    pub fn kernel_arg(&self) -> String {
        let mask = if self.prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(self.prefix)) };
        let mask = std::net::Ipv4Addr::from(mask);
        let gw = self.gateway.map(|g| g.to_string()).unwrap_or_default();
        format!("ip={}::{gw}:{mask}:{}:eth0:off:{gw}", self.addr, self.hostname)
    }
}

/// Everything QEMU is started with, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmSpec {
    /// VM name (QEMU's `-name`, the guest's host name).
    pub name: String,
    /// Machine type.
    pub machine: Machine,
    /// Number of vCPUs.
    pub cpus: u32,
    /// Guest memory in MiB.
    pub memory_mib: u64,
    /// The kernel image (direct kernel boot).
    pub kernel: PathBuf,
    /// The initramfs, if any.
    pub initrd: Option<PathBuf>,
    /// The kernel command line the user or kernel profile asks for (Volt adds its own arguments
    /// to it: console, and under TCG `tsc_early_khz` and `panic=-1`).
    pub cmdline: String,
    /// The VM's disk (qcow2), if any.
    pub disk: Option<PathBuf>,
    /// Network interfaces.
    pub nics: Vec<Nic>,
    /// Back guest memory with hugepages from this hugetlbfs mount.
    pub hugepages: Option<PathBuf>,
}

/// The files a running VM uses, all in its directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFiles {
    /// The supervisor's QMP monitor (events; one client).
    pub qmp: PathBuf,
    /// The QMP monitor for clients (pause, resume, snapshots, tuning).
    pub qmp_ctl: PathBuf,
    /// The serial console socket (`volt vm console`).
    pub console: PathBuf,
    /// Everything the guest writes to its serial console (`volt vm logs`).
    pub serial_log: PathBuf,
    /// QEMU's pid file.
    pub pidfile: PathBuf,
}

impl RunFiles {
    /// The files of the VM whose directory is `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        RunFiles {
            qmp: dir.join("qmp.sock"),
            qmp_ctl: dir.join("qmp-ctl.sock"),
            console: dir.join("console.sock"),
            serial_log: dir.join("serial.log"),
            pidfile: dir.join("qemu.pid"),
        }
    }
}

/// The kernel command line: the serial console first, the guest's address, the user's (or
/// profile's) arguments, and under TCG `tsc_early_khz` (without it a guest on a loaded host hangs
/// in TSC calibration about half the time) and `panic=-1`.
pub fn kernel_cmdline(spec: &VmSpec, accel: Accel, tsc_khz: Option<u64>, net: Option<&GuestNet>) -> String {
    let mut args: Vec<String> = vec!["console=ttyS0".into()];
    if let Some(n) = net {
        args.push(n.kernel_arg());
    }
    args.extend(spec.cmdline.split_whitespace().map(str::to_string));
    if accel == Accel::Tcg {
        if let Some(khz) = tsc_khz {
            if !args.iter().any(|a| a.starts_with("tsc_early_khz=")) {
                args.push(format!("tsc_early_khz={khz}"));
            }
        }
        if !args.iter().any(|a| a.starts_with("panic=")) {
            args.push("panic=-1".into());
        }
    }
    args.join(" ")
}

/// The QEMU command line for `spec`.
pub fn qemu_argv(binary: &Path, spec: &VmSpec, files: &RunFiles, accel: Accel, cmdline: &str) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut push = |s: &[&str]| a.extend(s.iter().map(|x| x.to_string()));
    push(&[&binary.display().to_string()]);
    push(&["-name", &format!("{},debug-threads=on", spec.name)]);
    push(&["-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"]);
    let machine = match spec.machine {
        // acpi=on keeps system_powerdown working (a GED power button); the rest is off.
        Machine::Microvm => format!("microvm,accel={accel},pit=off,pic=off,rtc=off,isa-serial=on,acpi=on"),
        Machine::Q35 => format!("q35,accel={accel}"),
    };
    let machine = if spec.hugepages.is_some() { format!("{machine},memory-backend=mem0") } else { machine };
    push(&["-machine", &machine]);
    push(&["-cpu", if accel == Accel::Kvm { "host" } else { "max" }]);
    push(&["-smp", &spec.cpus.to_string()]);
    push(&["-m", &format!("{}M", spec.memory_mib)]);
    if let Some(path) = &spec.hugepages {
        push(&[
            "-object",
            &format!(
                "memory-backend-file,id=mem0,size={}M,mem-path={},share=on,prealloc=on",
                spec.memory_mib,
                path.display()
            ),
        ]);
    }
    push(&["-kernel", &spec.kernel.display().to_string()]);
    if let Some(i) = &spec.initrd {
        push(&["-initrd", &i.display().to_string()]);
    }
    push(&["-append", cmdline]);
    // Serial console: a socket for `volt vm console`, everything also logged to serial.log.
    push(&[
        "-chardev",
        &format!(
            "socket,id=con0,path={},server=on,wait=off,logfile={},logappend=on",
            files.console.display(),
            files.serial_log.display()
        ),
    ]);
    push(&["-serial", "chardev:con0"]);
    for (id, path) in [("qmp0", &files.qmp), ("qmp1", &files.qmp_ctl)] {
        push(&["-chardev", &format!("socket,id={id},path={},server=on,wait=off", path.display())]);
        push(&["-mon", &format!("chardev={id},mode=control")]);
    }
    if let Some(d) = &spec.disk {
        push(&["-blockdev", &format!("driver=file,filename={},node-name=disk0-file,cache.direct=off", d.display())]);
        push(&["-blockdev", "driver=qcow2,file=disk0-file,node-name=disk0"]);
        push(&["-device", &format!("{},drive=disk0,id=vda", spec.machine.virtio("blk"))]);
    }
    for (i, n) in spec.nics.iter().enumerate() {
        push(&["-netdev", &format!("tap,id=net{i},ifname={},script=no,downscript=no", n.tap)]);
        push(&["-device", &format!("{},netdev=net{i},mac={}", spec.machine.virtio("net"), n.mac)]);
    }
    // Guests with the pvpanic driver report a panic (QEMU's GUEST_PANICKED, then SHUTDOWN
    // guest-panic), which the supervisor records as a failure.
    push(&["-device", "pvpanic"]);
    push(&["-pidfile", &files.pidfile.display().to_string()]);
    a
}

/// A MAC address for the VM's `index`th interface: locally administered, stable for a name.
pub fn mac_for(name: &str, index: usize) -> String {
    // FNV-1a: small, stable across releases (unlike std's hasher).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes().chain(std::iter::once(index as u8)) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let b = h.to_be_bytes();
    format!("52:54:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3])
}

/// The systemd unit `volt-vm@NAME.service` for a VM: QEMU started by the supervisor binary, which
/// follows its QMP events and records its state, like the container units.
pub fn unit_file(name: &str, supervisor_argv: &[String], stop_timeout_secs: u64) -> String {
    let quote = |s: &String| {
        if s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@".contains(c)) {
            s.clone()
        } else {
            format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace('%', "%%"))
        }
    };
    let exec: Vec<String> = supervisor_argv.iter().map(quote).collect();
    format!(
        "# Generated by Volt; edits are overwritten.\n\
         [Unit]\n\
         Description=Volt VM {name}\n\
         After=network.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={}\n\
         KillMode=mixed\n\
         KillSignal=SIGTERM\n\
         TimeoutStopSec={}\n\
         Restart=no\n\
         Slice=volt.slice\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        exec.join(" "),
        stop_timeout_secs + 5
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> VmSpec {
        VmSpec {
            name: "web".into(),
            machine: Machine::Microvm,
            cpus: 2,
            memory_mib: 256,
            kernel: "/k/vmlinuz".into(),
            initrd: Some("/k/initrd.img".into()),
            cmdline: "quiet".into(),
            disk: Some("/vms/web/disk.qcow2".into()),
            nics: vec![Nic { tap: "vt0123456789".into(), mac: mac_for("web", 0) }],
            hugepages: None,
        }
    }

    fn pairs(argv: &[String], flag: &str) -> Vec<String> {
        argv.windows(2).filter(|w| w[0] == flag).map(|w| w[1].clone()).collect()
    }

    #[test]
    fn microvm_argv_is_minimal_and_complete() {
        let files = RunFiles::in_dir(Path::new("/vms/web"));
        let argv = qemu_argv(Path::new("/usr/bin/qemu-system-x86_64"), &spec(), &files, Accel::Tcg, "console=ttyS0");
        assert_eq!(argv[0], "/usr/bin/qemu-system-x86_64");
        assert!(argv.contains(&"-nodefaults".to_string()) && argv.contains(&"-no-reboot".to_string()));
        let m = &pairs(&argv, "-machine")[0];
        assert!(m.starts_with("microvm,accel=tcg,") && m.contains("pit=off"), "{m}");
        assert_eq!(pairs(&argv, "-cpu"), ["max"]);
        assert_eq!(pairs(&argv, "-smp"), ["2"]);
        assert_eq!(pairs(&argv, "-m"), ["256M"]);
        assert_eq!(pairs(&argv, "-kernel"), ["/k/vmlinuz"]);
        assert_eq!(pairs(&argv, "-initrd"), ["/k/initrd.img"]);
        assert_eq!(pairs(&argv, "-append"), ["console=ttyS0"]);
        let devices = pairs(&argv, "-device");
        assert!(devices[0].starts_with("virtio-blk-device,drive=disk0"), "{devices:?}");
        assert!(devices[1].starts_with("virtio-net-device,netdev=net0,mac=52:54:"), "{devices:?}");
        assert_eq!(devices[2], "pvpanic");
        assert_eq!(pairs(&argv, "-netdev"), ["tap,id=net0,ifname=vt0123456789,script=no,downscript=no"]);
        // Two monitors (supervisor and clients) and the console socket with its log.
        let chardevs = pairs(&argv, "-chardev");
        assert_eq!(chardevs.len(), 3);
        assert!(
            chardevs[0].contains("path=/vms/web/console.sock") && chardevs[0].contains("logfile=/vms/web/serial.log")
        );
        assert_eq!(pairs(&argv, "-mon"), ["chardev=qmp0,mode=control", "chardev=qmp1,mode=control"]);
        assert!(!argv.iter().any(|a| a.contains("memory-backend")));
    }

    #[test]
    fn q35_kvm_and_hugepages() {
        let mut s = spec();
        s.machine = Machine::Q35;
        s.hugepages = Some("/dev/hugepages".into());
        let files = RunFiles::in_dir(Path::new("/v"));
        let argv = qemu_argv(Path::new("qemu"), &s, &files, Accel::Kvm, "x");
        assert_eq!(pairs(&argv, "-machine"), ["q35,accel=kvm,memory-backend=mem0"]);
        assert_eq!(pairs(&argv, "-cpu"), ["host"]);
        assert!(pairs(&argv, "-object")[0].starts_with("memory-backend-file,id=mem0,size=256M,mem-path=/dev/hugepages"));
        assert!(pairs(&argv, "-device").iter().filter(|d| d.starts_with("virtio")).all(|d| d.contains("-pci,")));
    }

    #[test]
    fn cmdline_under_tcg_and_kvm() {
        let net = GuestNet {
            addr: "10.88.0.5".parse().unwrap(),
            prefix: 24,
            gateway: Some("10.88.0.1".parse().unwrap()),
            hostname: "web".into(),
        };
        let c = kernel_cmdline(&spec(), Accel::Tcg, Some(2_100_000), Some(&net));
        assert_eq!(
            c,
            "console=ttyS0 ip=10.88.0.5::10.88.0.1:255.255.255.0:web:eth0:off:10.88.0.1 quiet tsc_early_khz=2100000 panic=-1"
        );
        let c = kernel_cmdline(&spec(), Accel::Kvm, Some(2_100_000), None);
        assert_eq!(c, "console=ttyS0 quiet");
        // The user's own choices win.
        let mut s = spec();
        s.cmdline = "panic=5 tsc_early_khz=1000".into();
        assert_eq!(kernel_cmdline(&s, Accel::Tcg, Some(2), None), "console=ttyS0 panic=5 tsc_early_khz=1000");
    }

    #[test]
    fn macs_are_stable_and_local() {
        assert_eq!(mac_for("web", 0), mac_for("web", 0));
        assert_ne!(mac_for("web", 0), mac_for("web", 1));
        assert_ne!(mac_for("web", 0), mac_for("db", 0));
        assert!(mac_for("x", 0).starts_with("52:54:"));
        assert_eq!(mac_for("x", 0).len(), 17);
    }

    #[test]
    fn machine_names() {
        assert_eq!("q35".parse::<Machine>().unwrap(), Machine::Q35);
        assert!("pc".parse::<Machine>().unwrap_err().to_string().contains("microvm or q35"));
    }

    #[test]
    fn unit_file_runs_the_supervisor() {
        let u = unit_file("web", &["/usr/bin/volt-supervisor".into(), "vm".into(), "{\"a\": 1}".into()], 30);
        assert!(u.contains("Description=Volt VM web"));
        assert!(u.contains("ExecStart=/usr/bin/volt-supervisor vm \"{\\\"a\\\": 1}\""), "{u}");
        assert!(u.contains("TimeoutStopSec=35"));
    }
}
