//! Creating a VM: checks, the disk on a base from the store or a file, the record and the unit.

use super::*;

impl Vms {
    /// Create a stopped VM.
    ///
    /// # Errors
    /// Usage errors (name, sizes, a disk that is not qcow2), [`Error::NotFound`] (image, kernel
    /// name, disk file), dependency (a kernel profile not installed), resource (memory larger
    /// than the host's), already exists.
    pub fn create(&self, name: &str, opts: &VmCreateOptions) -> Result<VmInfo> {
        self.audit.audited("vm.create", name, || self.create_inner(name, opts))
    }

    pub(super) fn create_inner(&self, name: &str, opts: &VmCreateOptions) -> Result<VmInfo> {
        let name = vm_name(name)?;
        let machine: Machine =
            opts.machine.as_deref().unwrap_or(&self.settings.default_machine).parse().map_err(Error::from)?;
        let cpus = opts.cpus.unwrap_or(self.settings.default_cpus);
        if cpus == 0 || cpus > 255 {
            return Err(Error::InvalidArgument(format!("--cpus {cpus}: between 1 and 255")));
        }
        let memory_mib = parse_memory(opts.memory.as_deref().unwrap_or(&self.settings.default_memory))? >> 20;
        if memory_mib < 16 {
            return Err(Error::InvalidArgument("--memory: at least 16M".into()));
        }
        if let Some(host) = host_memory_mib() {
            if memory_mib > host {
                return Err(Error::Vm(volt_vm::Error::Resource(format!(
                    "--memory {memory_mib} MiB is more than the host has ({host} MiB)"
                ))));
            }
        }
        if opts.networks.is_empty() && !opts.ports.is_empty() {
            return Err(Error::InvalidArgument("port forwards need a network (--network)".into()));
        }
        if opts.image.is_some() && opts.disk.is_some() {
            return Err(Error::InvalidArgument("give --image or --disk, not both".into()));
        }
        for n in &opts.networks {
            crate::network::check_network_name(n)?;
        }
        let kernel = opts.kernel.clone().unwrap_or_else(|| self.settings.default_kernel.clone());
        self.kernels().resolve(&kernel)?;
        if let Some(i) = &opts.initrd {
            if !i.is_file() {
                return Err(Error::NotFound { what: "initramfs", name: i.display().to_string() });
            }
        }
        let disk_size = match &opts.disk_size {
            Some(s) => Some(volt_vm::disk::parse_size(s)?),
            None => None,
        };
        let hugepages = opts.hugepages.unwrap_or(self.settings.hugepages);

        let _l = self.lock(&name)?;
        let dir = self.dir(&name);
        if dir.exists() {
            return Err(Error::Vm(volt_vm::Error::AlreadyExists { what: "vm", name }));
        }
        // Everything is assembled in a hidden directory and renamed into place: a crash or a
        // refusal at any point leaves no half VM.
        let tmp = self.paths.vms_dir().join(format!(".{name}.creating-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(tmp.join(SNAPSHOTS)).map_err(|e| Error::io("create", &tmp, e))?;
        let mut imported: Option<String> = None;
        let r = (|| {
            let base = match (&opts.image, &opts.disk) {
                (Some(img), _) => Some(self.base_from_image(img)?),
                (_, Some(file)) => Some(self.base_from_file(file)?),
                _ => None,
            };
            imported = base.as_ref().map(|b| b.object.clone());
            let default_size = volt_vm::disk::parse_size(&self.settings.default_disk_size)?;
            let disk_path = tmp.join(DISK);
            let size = match &base {
                Some(b) => {
                    let base_file = self.materialise(&b.object)?;
                    let size = disk_size.unwrap_or(b.size.max(default_size));
                    volt_vm::disk::create_overlay(&base_file, &disk_path, Some(size))?;
                    size
                }
                None => {
                    let size = disk_size.unwrap_or(default_size);
                    volt_vm::disk::create_blank(&disk_path, size)?;
                    size
                }
            };
            let config = VmConfig {
                name: name.clone(),
                machine,
                cpus,
                memory_mib,
                kernel: kernel.clone(),
                initrd: opts.initrd.as_ref().map(|p| p.canonicalize().unwrap_or_else(|_| p.clone())),
                cmdline: opts.cmdline.clone().unwrap_or_default(),
                base: base.clone(),
                disk_size: size,
                networks: opts.networks.clone(),
                ports: opts.ports.clone(),
                hugepages,
                cpu_pin: Vec::new(),
                created: volt_vm::kernel::now(),
            };
            crate::fsutil::write_atomic(&tmp.join(CONFIG), &serde_json::to_vec_pretty(&config).expect("serialises"))?;
            if let Some(b) = &base {
                let id = ObjectId::from_hex(&b.object).map_err(|e| Error::InvalidArgument(e.to_string()))?;
                let txn = self.cas.begin()?;
                txn.protect(&id)?;
                txn.commit(Some((&self.base_ref(&name)?, &id)))?;
            }
            self.networks.reserve(&name, &opts.networks, &opts.ports)?;
            fs::rename(&tmp, &dir).map_err(|e| Error::io("rename", &dir, e))?;
            Ok(config)
        })();
        let config = match r {
            Ok(c) => c,
            Err(e) => {
                for n in &opts.networks {
                    let _ = self.networks.release(n, &name);
                }
                if let Ok(r) = self.base_ref(&name) {
                    let _ = self.cas.delete_ref(&r);
                }
                let _ = fs::remove_dir_all(&tmp);
                if let Some(o) = imported {
                    self.drop_base_if_unused(&o);
                }
                return Err(e);
            }
        };
        self.write_unit(&config)?;
        self.info(config)
    }

    pub(super) fn base_ref(&self, name: &str) -> Result<RefName> {
        format!("vm/{name}").parse().map_err(Error::from)
    }

    /// The base disk inside an image: the first `disk/*.qcow2` (or `*.img`) of its tree.
    pub(super) fn base_from_image(&self, image: &str) -> Result<BaseDisk> {
        let images = self
            .images
            .as_ref()
            .ok_or_else(|| Error::Unsupported("VM images need the local Stellarium store".into()))?;
        let name: ImageName = image.parse()?;
        let rec = images.inspect(&name)?;
        let tree = self.cas.read_tree(&rec.tree)?;
        let found = tree.entries.iter().find_map(|e| {
            let p = String::from_utf8_lossy(&e.path).into_owned();
            match &e.kind {
                volt_cas::EntryKind::File { id, .. }
                    if p.starts_with("disk/") && (p.ends_with(".qcow2") || p.ends_with(".img")) =>
                {
                    Some(*id)
                }
                _ => None,
            }
        });
        let Some(id) = found else {
            return Err(Error::InvalidArgument(format!(
                "image {image} has no disk: a VM image carries its qcow2 disk at /disk/NAME.qcow2 (import one with `volt vm create --disk FILE`)"
            )));
        };
        let file = self.materialise(&id.to_hex())?;
        let info = volt_vm::disk::check_base(&file)?;
        Ok(BaseDisk { object: id.to_hex(), source: format!("image {name}"), size: info.virtual_size })
    }

    /// Import a qcow2 file into the store as a base disk.
    pub(super) fn base_from_file(&self, file: &Path) -> Result<BaseDisk> {
        if !file.is_file() {
            return Err(Error::NotFound { what: "disk image", name: file.display().to_string() });
        }
        let info = volt_vm::disk::check_base(file)?;
        let txn = self.cas.begin()?;
        let out = txn.put_file(file, &[], None)?;
        txn.commit(None)?;
        // The materialised base is a copy of the file itself (same bytes as the object).
        let dest = self.base_path(&out.id.to_hex());
        if !dest.exists() {
            self.install_base(&dest, |tmp| fs::copy(file, tmp).map(drop).map_err(|e| Error::io("copy", file, e)))?;
        }
        let abs = file.canonicalize().unwrap_or_else(|_| file.to_path_buf());
        Ok(BaseDisk { object: out.id.to_hex(), source: format!("file {}", abs.display()), size: info.virtual_size })
    }

    pub(super) fn base_path(&self, object: &str) -> PathBuf {
        self.paths.images_dir().join("disks").join(format!("{object}.qcow2"))
    }

    pub(super) fn install_base(&self, dest: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
        let d = dest.parent().expect("has a parent");
        fs::create_dir_all(d).map_err(|e| Error::io("create", d, e))?;
        let tmp = d.join(format!(".{}.tmp-{}", dest.file_name().unwrap().to_string_lossy(), std::process::id()));
        let r = fill(&tmp).and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            let f = fs::File::open(&tmp).map_err(|e| Error::io("open", &tmp, e))?;
            f.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
            // Read-only: a base is shared by every VM made from it.
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o444)).map_err(|e| Error::io("chmod", &tmp, e))?;
            fs::rename(&tmp, dest).map_err(|e| Error::io("rename", dest, e))
        });
        if r.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        r
    }

    /// The shared read-only file of a base disk object, written from the store on first use.
    pub(super) fn materialise(&self, object: &str) -> Result<PathBuf> {
        let dest = self.base_path(object);
        if dest.exists() {
            return Ok(dest);
        }
        let id = ObjectId::from_hex(object).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        self.install_base(&dest, |tmp| {
            let mut r = self.cas.open_object(&id)?;
            let mut f = fs::File::create(tmp).map_err(|e| Error::io("create", tmp, e))?;
            std::io::copy(&mut r, &mut f).map_err(|e| Error::io("write", tmp, e))?;
            Ok(())
        })?;
        Ok(dest)
    }

    pub(super) fn write_unit(&self, c: &VmConfig) -> Result<()> {
        let units = self.paths.units_dir();
        fs::create_dir_all(&units).map_err(|e| Error::io("create", &units, e))?;
        let sup = crate::supervise::find_supervisor(&self.containers)
            .unwrap_or_else(|_| PathBuf::from("/usr/bin/volt-supervisor"));
        let argv =
            vec![sup.display().to_string(), "vm-run".into(), self.dir(&c.name).join(RUN_ARGS).display().to_string()];
        let unit = plan::unit_file(&c.name, &argv, self.settings.stop_timeout);
        crate::fsutil::write_atomic(&self.unit_path(&c.name), unit.as_bytes())
    }

    // ---- inspection ---------------------------------------------------------------------------
}
