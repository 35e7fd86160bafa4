//! Guest kernels under `kernels/NAME/` (`vmlinuz`, optional `initrd.img`, `kernel.json`),
//! chosen by profile (`server`, `desktop`, `rt`, `minimal`, `dev`: a kernel installed under the
//! profile's name) or by the name given at import.
//!
//! `build` makes a profile's kernel from Debian's packages without installing anything into
//! /boot: the package is fetched with `apt-get download` and unpacked with `dpkg-deb -x`; the
//! virtio modules and a small busybox init go into an initramfs (see [`INIT`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::disk::write_atomic;
use crate::error::{require_tool, Error, Result};

/// The kernel profiles, with what each is for.
pub const PROFILES: [(&str, &str); 5] = [
    ("server", "default; Debian's cloud kernel (virtio, no desktop drivers)"),
    ("desktop", "Debian's generic kernel: graphics and input drivers for VDI"),
    ("rt", "Debian's PREEMPT_RT kernel for latency-sensitive guests"),
    ("minimal", "a small kernel built from Debian's linux-source for microvm (PVH, virtio-mmio, all built in)"),
    ("dev", "Debian's cloud kernel with tracing and debugging enabled on its command line"),
];

/// The Debian package (metapackage) each profile's kernel comes from.
pub fn debian_package(profile: &str) -> Option<&'static str> {
    match profile {
        "server" | "dev" => Some("linux-image-cloud-amd64"),
        "desktop" => Some("linux-image-amd64"),
        "rt" => Some("linux-image-rt-amd64"),
        _ => None,
    }
}

/// Extra kernel arguments a profile adds.
pub fn profile_cmdline(profile: &str) -> &'static str {
    match profile {
        "dev" => "ignore_loglevel ftrace_dump_on_oops",
        "server" | "rt" | "minimal" => "quiet",
        _ => "",
    }
}

/// The init of the initramfs `build` makes: loads the virtio modules, configures `eth0` from
/// `ip=`, then boots the guest's own system from `root=` (default `/dev/vda` when it has
/// `/sbin/init`) or, without one, powers off on the ACPI power button and gives a shell on the
/// serial console.
pub const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m 2>/dev/null; done
root=/dev/vda
for arg in $(cat /proc/cmdline); do
    case $arg in
    root=*) root=${arg#root=} ;;
    ip=*)
        IFS=: read -r addr _ gw mask host dev _ dns <<EOT
${arg#ip=}
EOT
        ip link set lo up; ip link set "${dev:-eth0}" up
        ip addr add "$addr/$mask" dev "${dev:-eth0}"
        [ -n "$gw" ] && ip route add default via "$gw"
        [ -n "$dns" ] && echo "nameserver $dns" >/etc/resolv.conf
        [ -n "$host" ] && hostname "$host"
        ;;
    esac
done
if [ -b "$root" ] && mount "$root" /newroot 2>/dev/null && [ -x /newroot/sbin/init ]; then
    mount --move /dev /newroot/dev; umount /proc /sys
    exec switch_root /newroot /sbin/init
fi
# The ACPI power button (volt vm stop) powers the guest off.
for d in /sys/class/input/event*; do
    grep -q "Power Button" "$d/device/name" 2>/dev/null || continue
    (head -c 1 "/dev/input/${d##*/}" >/dev/null; sync; poweroff -f) &
done
# The message comes once the console is open for the shell (input sent on seeing it is kept).
msg="volt-init: no system on $root; shell on the console"
while true; do
    setsid sh -c "exec </dev/ttyS0 >/dev/ttyS0 2>&1; echo '$msg'; exec sh"
    msg=
done
"#;

/// Modules the initramfs loads, in order (dependencies first).
pub const MODULES: [&str; 12] = [
    "virtio_ring",
    "virtio",
    "virtio_mmio",
    "virtio_pci_legacy_dev",
    "virtio_pci_modern_dev",
    "virtio_pci",
    "virtio_blk",
    "failover",
    "net_failover",
    "virtio_net",
    "evdev",
    "button",
];

/// An installed kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelInfo {
    /// Its name (a profile's name for profile kernels).
    pub name: String,
    /// The profile it serves, if it is a profile kernel.
    pub profile: Option<String>,
    /// Kernel version, when known.
    pub version: Option<String>,
    /// Where it came from (a Debian package, an imported file).
    pub source: String,
    /// Size of the kernel image in bytes.
    pub size: u64,
    /// Whether it has an initramfs.
    pub initrd: bool,
    /// When it was added (RFC 3339).
    pub added: String,
    /// Extra kernel arguments it wants.
    #[serde(default)]
    pub cmdline: String,
}

/// The kernel directory.
#[derive(Debug, Clone)]
pub struct Kernels {
    dir: PathBuf,
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!("invalid kernel name {name:?} (letters, digits, - _ . ; at most 64)")))
    }
}

/// Does `path` hold a kernel QEMU can boot directly: an x86 bzImage ("HdrS" at 0x202) or an ELF
/// `vmlinux` (booted through its PVH entry)?
pub fn is_kernel_image(path: &Path) -> bool {
    let mut b = [0u8; 0x206];
    let Ok(mut f) = fs::File::open(path) else { return false };
    use std::io::Read;
    let n = f.read(&mut b).unwrap_or(0);
    (n >= 4 && &b[..4] == b"\x7fELF") || (n == b.len() && &b[0x202..0x206] == b"HdrS")
}

/// The configuration fragment of the `minimal` profile, merged onto `make tinyconfig`.
pub const MINIMAL_CONFIG: &str = include_str!("../kernel/minimal.config");

/// Options the `minimal` kernel must end up with (checked after `make olddefconfig`).
const MINIMAL_REQUIRED: [&str; 12] = [
    "CONFIG_64BIT",
    "CONFIG_PVH",
    "CONFIG_SERIAL_8250_CONSOLE",
    "CONFIG_BLK_DEV_INITRD",
    "CONFIG_DEVTMPFS",
    "CONFIG_VIRTIO_MMIO",
    "CONFIG_VIRTIO_PCI",
    "CONFIG_VIRTIO_BLK",
    "CONFIG_VIRTIO_NET",
    "CONFIG_EXT4_FS",
    "CONFIG_ACPI_BUTTON",
    "CONFIG_INET",
];

impl Kernels {
    /// Kernels under `dir` (created on first import).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Kernels { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Installed kernels, by name.
    ///
    /// # Errors
    /// I/O errors.
    pub fn list(&self) -> Result<Vec<KernelInfo>> {
        let mut out = Vec::new();
        let Ok(rd) = fs::read_dir(&self.dir) else { return Ok(out) };
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with('.') {
                continue;
            }
            if let Ok(k) = self.get(&n) {
                out.push(k);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// One kernel's record.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn get(&self, name: &str) -> Result<KernelInfo> {
        check_name(name)?;
        let p = self.dir.join(name).join("kernel.json");
        let data = fs::read(&p).map_err(|_| Error::NotFound { what: "kernel", name: name.into() })?;
        serde_json::from_slice(&data).map_err(|e| Error::Invalid(format!("{}: {e}", p.display())))
    }

    /// The kernel image and initramfs of a kernel.
    pub fn files(&self, name: &str) -> (PathBuf, Option<PathBuf>) {
        let d = self.dir.join(name);
        let i = d.join("initrd.img");
        (d.join("vmlinuz"), i.exists().then_some(i))
    }

    /// Resolve `--kernel`: an installed kernel by name (profiles are installed under their own
    /// name).
    ///
    /// # Errors
    /// [`Error::Dependency`] for a profile that is not installed (with the command that installs
    /// it); [`Error::NotFound`] for a name that is neither installed nor a profile.
    pub fn resolve(&self, spec: &str) -> Result<KernelInfo> {
        check_name(spec)?;
        match self.get(spec) {
            Ok(k) => Ok(k),
            Err(Error::NotFound { .. }) if PROFILES.iter().any(|(p, _)| *p == spec) => Err(Error::Dependency(format!(
                "kernel profile {spec:?} is not installed; run `volt kernel build {spec}` (or `volt kernel import FILE --name {spec}`)"
            ))),
            Err(Error::NotFound { .. }) => Err(Error::NotFound { what: "kernel", name: spec.into() }),
            Err(e) => Err(e),
        }
    }

    /// Import a kernel image (and initramfs) under `name`.
    ///
    /// # Errors
    /// [`Error::AlreadyExists`]; [`Error::Invalid`] when `file` is not a Linux boot image; I/O.
    pub fn import(&self, file: &Path, name: &str, initrd: Option<&Path>, cmdline: &str) -> Result<KernelInfo> {
        check_name(name)?;
        if !file.is_file() {
            return Err(Error::NotFound { what: "kernel file", name: file.display().to_string() });
        }
        if !is_kernel_image(file) {
            return Err(Error::Invalid(format!(
                "{} is not a Linux x86 boot image (a bzImage, or an ELF vmlinux with a PVH entry)",
                file.display()
            )));
        }
        if let Some(i) = initrd {
            if !i.is_file() {
                return Err(Error::NotFound { what: "initramfs", name: i.display().to_string() });
            }
        }
        let size = fs::metadata(file).map_err(|e| Error::io("stat", file, e))?.len();
        let info = KernelInfo {
            name: name.into(),
            profile: PROFILES.iter().any(|(p, _)| *p == name).then(|| name.to_string()),
            version: None,
            source: format!("imported from {}", file.display()),
            size,
            initrd: initrd.is_some(),
            added: now(),
            cmdline: cmdline.to_string(),
        };
        self.install(name, &info, |tmp| {
            fs::copy(file, tmp.join("vmlinuz")).map_err(|e| Error::io("copy", file, e))?;
            if let Some(i) = initrd {
                fs::copy(i, tmp.join("initrd.img")).map_err(|e| Error::io("copy", i, e))?;
            }
            Ok(())
        })
    }

    /// Fill a temporary directory with `fill`, write the record, and rename it into place: a
    /// crash leaves either no kernel or a whole one.
    fn install(&self, name: &str, info: &KernelInfo, fill: impl FnOnce(&Path) -> Result<()>) -> Result<KernelInfo> {
        let dest = self.dir.join(name);
        if dest.exists() {
            return Err(Error::AlreadyExists { what: "kernel", name: name.into() });
        }
        fs::create_dir_all(&self.dir).map_err(|e| Error::io("create", &self.dir, e))?;
        let tmp = self.dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        let r = fill(&tmp).and_then(|()| {
            write_atomic(&tmp.join("kernel.json"), &serde_json::to_vec_pretty(info).expect("serialises"))
        });
        if let Err(e) = r {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        fs::rename(&tmp, &dest).map_err(|e| {
            let _ = fs::remove_dir_all(&tmp);
            if e.kind() == std::io::ErrorKind::AlreadyExists || e.raw_os_error() == Some(libc::ENOTEMPTY) {
                Error::AlreadyExists { what: "kernel", name: name.into() }
            } else {
                Error::io("rename", &dest, e)
            }
        })?;
        Ok(info.clone())
    }

    /// Remove a kernel. (Whether a VM uses it is the caller's check.)
    ///
    /// # Errors
    /// [`Error::NotFound`]; I/O errors.
    pub fn remove(&self, name: &str) -> Result<()> {
        self.get(name)?;
        let d = self.dir.join(name);
        let gone = self.dir.join(format!(".{name}.removing-{}", std::process::id()));
        fs::rename(&d, &gone).map_err(|e| Error::io("rename", &d, e))?;
        fs::remove_dir_all(&gone).map_err(|e| Error::io("remove", &gone, e))
    }

    /// Build a profile's kernel from Debian's packages (server, dev, desktop, rt), into
    /// `kernels/PROFILE`. `work` holds downloads (kept as a cache).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a profile without a Debian package; [`Error::Dependency`] when
    /// apt-get, dpkg-deb, busybox or cpio is missing; [`Error::Tool`] when one fails.
    pub fn build_debian(&self, profile: &str, work: &Path) -> Result<KernelInfo> {
        let Some(meta) = debian_package(profile) else {
            return Err(Error::Invalid(format!(
                "profile {profile:?} has no Debian kernel package (profiles from Debian: server, dev, desktop, rt)"
            )));
        };
        check_name(profile)?;
        if self.dir.join(profile).exists() {
            return Err(Error::AlreadyExists { what: "kernel", name: profile.into() });
        }
        fs::create_dir_all(work).map_err(|e| Error::io("create", work, e))?;
        let pkg = depended_package(work, meta, "linux-image-")?;
        let deb = download(work, &pkg)?;
        let x = work.join(format!("x-{}", std::process::id()));
        let _ = fs::remove_dir_all(&x);
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&x), "dpkg-deb")?;
        let result = (|| {
            let boot = x.join("boot");
            let vmlinuz = fs::read_dir(&boot)
                .map_err(|e| Error::io("read", &boot, e))?
                .flatten()
                .map(|e| e.path())
                .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-")))
                .ok_or_else(|| Error::Tool { program: "dpkg-deb".into(), reason: format!("{pkg} has no vmlinuz") })?;
            let version = vmlinuz.file_name().unwrap().to_string_lossy().trim_start_matches("vmlinuz-").to_string();
            let modules = x.join("lib/modules").join(&version);
            let info = KernelInfo {
                name: profile.into(),
                profile: Some(profile.into()),
                version: Some(version.clone()),
                source: format!("Debian package {pkg}"),
                size: fs::metadata(&vmlinuz).map(|m| m.len()).unwrap_or(0),
                initrd: true,
                added: now(),
                cmdline: profile_cmdline(profile).into(),
            };
            self.install(profile, &info, |tmp| {
                fs::copy(&vmlinuz, tmp.join("vmlinuz")).map_err(|e| Error::io("copy", &vmlinuz, e))?;
                make_initramfs(&modules, &tmp.join("initrd.img"))
            })
        })();
        let _ = fs::remove_dir_all(&x);
        result
    }
}

impl Kernels {
    /// Build the `minimal` profile's kernel from Debian's kernel source (`linux-source`, fetched
    /// with `apt-get download` and unpacked with `dpkg-deb -x`, nothing installed): `make
    /// tinyconfig`, [`MINIMAL_CONFIG`] merged on top, `make vmlinux`, stripped. The result is an
    /// ELF `vmlinux` that QEMU boots through its PVH entry (no decompression, no firmware boot
    /// loader), everything built in, with a busybox initramfs. `work` keeps the source tree, so a
    /// second build is incremental. `jobs`: parallel make jobs.
    ///
    /// # Errors
    /// [`Error::AlreadyExists`]; [`Error::Dependency`] without make, gcc, flex, bison, bc or
    /// libelf headers; [`Error::Tool`] when a step fails (the log is `work/build.log`).
    pub fn build_minimal(&self, work: &Path, jobs: usize) -> Result<KernelInfo> {
        if self.dir.join("minimal").exists() {
            return Err(Error::AlreadyExists { what: "kernel", name: "minimal".into() });
        }
        let why = "building the minimal kernel";
        require_tool("make", "make", why)?;
        require_tool("gcc", "gcc", why)?;
        require_tool("flex", "flex", why)?;
        require_tool("bison", "bison", why)?;
        require_tool("bc", "bc", why)?;
        if !Path::new("/usr/include/gelf.h").exists() {
            return Err(Error::Dependency(format!("libelf headers not found: {why} needs them (install libelf-dev)")));
        }
        fs::create_dir_all(work).map_err(|e| Error::io("create", work, e))?;
        let pkg = depended_package(work, "linux-source", "linux-source-")?;
        let tree = work.join(&pkg);
        if !tree.join("Makefile").exists() {
            let deb = download(work, &pkg)?;
            let x = work.join(format!("x-{}", std::process::id()));
            let _ = fs::remove_dir_all(&x);
            run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&x), "dpkg-deb")?;
            let tarball = x.join("usr/src").join(format!("{pkg}.tar.xz"));
            let tmp = work.join(format!(".{pkg}.tmp-{}", std::process::id()));
            let _ = fs::remove_dir_all(&tmp);
            fs::create_dir_all(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
            let r = run(Command::new("tar").arg("-xf").arg(&tarball).arg("-C").arg(&tmp), "tar");
            let _ = fs::remove_dir_all(&x);
            r?;
            let _ = fs::remove_dir_all(&tree);
            fs::rename(tmp.join(&pkg), &tree).map_err(|e| Error::io("rename", &tree, e))?;
            let _ = fs::remove_dir_all(&tmp);
        }
        let fragment = work.join("minimal.config");
        fs::write(&fragment, MINIMAL_CONFIG).map_err(|e| Error::io("write", &fragment, e))?;
        let log = work.join("build.log");
        let sh = |script: &str| -> Result<()> {
            let full = format!("cd '{}' && {{ {script} ; }} >>'{}' 2>&1", tree.display(), log.display());
            run(Command::new("sh").args(["-c", &full]), "make").map(drop).map_err(|_| Error::Tool {
                program: "make".into(),
                reason: format!("building the minimal kernel failed; see {}", log.display()),
            })
        };
        let _ = fs::remove_file(&log);
        sh("make tinyconfig")?;
        sh(&format!("scripts/kconfig/merge_config.sh -m .config '{}'", fragment.display()))?;
        sh("make olddefconfig")?;
        let config =
            fs::read_to_string(tree.join(".config")).map_err(|e| Error::io("read", tree.join(".config"), e))?;
        let missing: Vec<&str> =
            MINIMAL_REQUIRED.iter().copied().filter(|o| !config.lines().any(|l| l == format!("{o}=y"))).collect();
        if !missing.is_empty() {
            return Err(Error::Tool {
                program: "make".into(),
                reason: format!("the configuration lacks {}", missing.join(", ")),
            });
        }
        sh(&format!("make -j{} vmlinux", jobs.max(1)))?;
        let version =
            run(Command::new("make").args(["-s", "kernelrelease"]).current_dir(&tree), "make")?.trim().to_string();
        let vmlinux = tree.join("vmlinux");
        let info = KernelInfo {
            name: "minimal".into(),
            profile: Some("minimal".into()),
            version: Some(version),
            source: format!("built from Debian's {pkg} (tinyconfig + volt-vm/kernel/minimal.config)"),
            size: 0,
            initrd: true,
            added: now(),
            cmdline: profile_cmdline("minimal").into(),
        };
        let mut installed = self.install("minimal", &info, |tmp| {
            let out = tmp.join("vmlinuz");
            run(Command::new("strip").arg("--strip-all").arg("-o").arg(&out).arg(&vmlinux), "strip")?;
            make_initramfs(&tmp.join("no-modules"), &tmp.join("initrd.img"))
        })?;
        installed.size = fs::metadata(self.dir.join("minimal/vmlinuz")).map(|m| m.len()).unwrap_or(0);
        let _ = write_atomic(
            &self.dir.join("minimal/kernel.json"),
            &serde_json::to_vec_pretty(&installed).expect("serialises"),
        );
        Ok(installed)
    }
}

/// Build an initramfs at `dest`: busybox, [`MODULES`] from `modules` (a `/lib/modules/VERSION`
/// tree; modules built into the kernel are simply absent), and [`INIT`].
///
/// # Errors
/// [`Error::Dependency`] without busybox, cpio or gzip; I/O and tool errors.
pub fn make_initramfs(modules: &Path, dest: &Path) -> Result<()> {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
        .ok_or_else(|| Error::Dependency("busybox not found (install busybox-static)".into()))?;
    let why = "making an initramfs";
    require_tool("cpio", "cpio", why)?;
    require_tool("gzip", "gzip", why)?;
    let root = dest.with_extension("root");
    let _ = fs::remove_dir_all(&root);
    for d in ["bin", "proc", "sys", "dev", "etc", "tmp", "newroot", "lib/modules"] {
        fs::create_dir_all(root.join(d)).map_err(|e| Error::io("create", &root, e))?;
    }
    fs::copy(busybox, root.join("bin/busybox")).map_err(|e| Error::io("copy", busybox, e))?;
    let mut order = String::new();
    for m in MODULES {
        if let Some(f) = find_module(modules, m) {
            let n = f.file_name().unwrap().to_string_lossy().into_owned();
            fs::copy(&f, root.join("lib/modules").join(&n)).map_err(|e| Error::io("copy", &f, e))?;
            order.push_str(&n);
            order.push('\n');
        }
    }
    fs::write(root.join("lib/modules/order"), order).map_err(|e| Error::io("write", &root, e))?;
    let init = root.join("init");
    fs::write(&init, INIT).map_err(|e| Error::io("write", &init, e))?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&init, fs::Permissions::from_mode(0o755)).map_err(|e| Error::io("chmod", &init, e))?;
    let script =
        format!("cd '{}' && find . | cpio -o -H newc --quiet | gzip -1 > '{}'", root.display(), dest.display());
    let r = run(Command::new("sh").args(["-c", &script]), "cpio");
    let _ = fs::remove_dir_all(&root);
    r.map(drop)
}

fn find_module(dir: &Path, name: &str) -> Option<PathBuf> {
    let rd = fs::read_dir(dir).ok()?;
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find_module(&p, name) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| {
            let n = n.to_string_lossy();
            n == format!("{name}.ko") || n.starts_with(&format!("{name}.ko."))
        }) {
            return Some(p);
        }
    }
    None
}

/// `apt-get download` `pkg` into `work`; the newest `.deb` of it there.
fn download(work: &Path, pkg: &str) -> Result<PathBuf> {
    run(Command::new("apt-get").args(["download", "-q", pkg]).current_dir(work), "apt-get")?;
    newest(work, &format!("{pkg}_"))
}

/// The package a Debian metapackage (`linux-image-cloud-amd64`, `linux-source`) stands for: the
/// first of its dependencies named `prefix…`.
fn depended_package(work: &Path, meta: &str, prefix: &str) -> Result<String> {
    let deb = download(work, meta)?;
    let deps = run(Command::new("dpkg-deb").arg("-f").arg(&deb).arg("Depends"), "dpkg-deb")?;
    deps.split([',', ' '])
        .find(|w| w.starts_with(prefix) && *w != meta)
        .map(str::to_string)
        .ok_or_else(|| Error::Tool { program: "dpkg-deb".into(), reason: format!("{meta} names no {prefix}* package") })
}

fn newest(dir: &Path, prefix: &str) -> Result<PathBuf> {
    fs::read_dir(dir)
        .map_err(|e| Error::io("read", dir, e))?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
        .ok_or_else(|| Error::Tool { program: "apt-get".into(), reason: format!("no {prefix}*.deb downloaded") })
}

fn run(cmd: &mut Command, program: &str) -> Result<String> {
    let out = cmd.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Dependency(format!("{program} not found"))
        } else {
            Error::Tool { program: program.into(), reason: e.to_string() }
        }
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Tool {
            program: program.into(),
            reason: err.lines().last().unwrap_or("failed").to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The current time in RFC 3339 (UTC, seconds).
pub fn now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    rfc3339(secs)
}

/// Seconds since the epoch as RFC 3339 UTC (whole seconds).
pub fn rfc3339(secs: u64) -> String {
    let t = i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bzimage(p: &Path) {
        let mut b = vec![0u8; 0x400];
        b[0x202..0x206].copy_from_slice(b"HdrS");
        fs::write(p, b).unwrap();
    }

    #[test]
    fn import_resolve_remove() {
        let d = tempfile::tempdir().unwrap();
        let k = Kernels::new(d.path().join("kernels"));
        assert!(k.list().unwrap().is_empty());
        let img = d.path().join("vmlinuz");
        fake_bzimage(&img);
        // A profile that is not installed is a missing dependency; an unknown name is not found.
        assert!(matches!(k.resolve("server"), Err(Error::Dependency(m)) if m.contains("volt kernel build server")));
        assert!(matches!(k.resolve("nope"), Err(Error::NotFound { .. })));
        assert!(matches!(k.resolve("../x"), Err(Error::Invalid(_))));
        let info = k.import(&img, "server", None, "").unwrap();
        assert_eq!(info.profile.as_deref(), Some("server"));
        assert_eq!(k.resolve("server").unwrap().size, 0x400);
        assert!(matches!(k.import(&img, "server", None, ""), Err(Error::AlreadyExists { .. })));
        let txt = d.path().join("notakernel");
        fs::write(&txt, "hello").unwrap();
        assert!(matches!(k.import(&txt, "x", None, ""), Err(Error::Invalid(_))));
        assert_eq!(k.list().unwrap().len(), 1);
        k.remove("server").unwrap();
        assert!(k.list().unwrap().is_empty());
        assert!(fs::read_dir(k.dir()).unwrap().next().is_none(), "nothing left behind");
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_794_184), "2026-11-27T15:43:04Z");
    }
}
