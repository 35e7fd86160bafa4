//! Creating a container: its name, mounts, the record, addresses on its networks and the unit file.

use super::*;

impl Containers {
    /// Turn a `-v SOURCE:/path[:ro]` argument into a mount: a SOURCE starting with `/` or `.`
    /// is a host directory that must exist, anything else a named volume (created if missing).
    ///
    /// # Errors
    /// Usage errors, a missing host directory ([`Error::NotFound`]).
    pub fn mount_from_arg(&self, spec: &str) -> Result<Mount> {
        let (src, target, read_only) = parse_mount(spec)?;
        let source = if src.starts_with('/') || src.starts_with('.') {
            let p = fs::canonicalize(&src).map_err(|_| Error::NotFound { what: "bind source", name: src.clone() })?;
            if !p.is_dir() && !p.is_file() {
                return Err(Error::InvalidArgument(format!("volume {spec:?}: {src} is not a file or directory")));
            }
            p
        } else {
            self.volumes.ensure(&src)?.path
        };
        Ok(Mount { source, target, read_only })
    }

    /// Create a stopped container from `image`; a name is generated when `name` is None.
    ///
    /// # Errors
    /// Usage errors (bad name or options), [`Error::NotFound`] for the image, already exists.
    pub fn create(&self, name: Option<&str>, image: &str, opts: &CreateOptions) -> Result<ContainerInfo> {
        let r = self.create_inner(name, image, opts);
        let what = match &r {
            Ok(i) => i.config.name.to_string(),
            Err(_) => name.unwrap_or("-").to_string(),
        };
        self.audit.outcome("container.create", &format!("{what} from {image}"), r)
    }

    pub(super) fn create_inner(&self, name: Option<&str>, image: &str, opts: &CreateOptions) -> Result<ContainerInfo> {
        let image: ImageName = image.parse()?;
        let name = match name {
            Some(n) => Self::name(n)?,
            None => self.free_name(),
        };
        for n in &opts.networks {
            crate::network::check_network_name(n)?;
        }
        let info = self.store.create(&name, &image, opts)?;
        let r = (|| {
            self.networks.reserve(name.as_str(), &opts.networks, &opts.ports)?;
            self.write_unit(&info)
        })();
        if let Err(e) = r {
            // Nothing of a refused create is kept: not the record, not an address or a rule.
            let _lock = self.store.lock(&name)?;
            for n in &opts.networks {
                let _ = self.networks.release(n, name.as_str());
            }
            self.store.delete_locked(&name)?;
            return Err(e);
        }
        self.with_endpoints(info)
    }

    pub(super) fn free_name(&self) -> ContainerName {
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        for i in 0..64 {
            let n = generate_name(seed.wrapping_add(i));
            if !self.store.dir(&n).exists() {
                return n;
            }
        }
        // 256 combinations are taken: add a number.
        format!("{}_{}", generate_name(seed), seed % 100_000).parse().expect("valid")
    }

    /// `units/volt-container@NAME.service`, regenerated from the configuration.
    pub(super) fn write_unit(&self, info: &ContainerInfo) -> Result<PathBuf> {
        let dir = self.store.dir(&info.config.name);
        let argv = nspawn_argv(&info.config, &info.rootfs.path, &NspawnOptions::for_container(&info.config, &dir));
        let mut unit = unit_file(&info.config, &argv);
        if info.rootfs.mode == RootfsMode::Overlay {
            if let (Some(l), Some(u)) = (&info.rootfs.lower, &info.rootfs.upper) {
                let work = self.store.dir(&info.config.name).join("work");
                let opts = format!("lowerdir={},upperdir={},workdir={}", l.display(), u.display(), work.display());
                let pre = [
                    "/bin/sh".to_string(),
                    "-c".into(),
                    "mountpoint -q \"$0\" || exec mount -t overlay overlay -o \"$1\" \"$0\"".into(),
                    info.rootfs.path.display().to_string(),
                    opts,
                ];
                unit = crate::container::plan::with_exec_start_pre(&unit, &pre);
            }
        }
        let dir = self.paths.units_dir();
        fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
        let p = dir.join(unit_name(&info.config.name));
        // Derived from config.json and rewritten at every start: no fsync needed.
        crate::fsutil::write_replace(&p, unit.as_bytes(), false)?;
        Ok(p)
    }
}
