//! The [`Volt`] facade: one value that holds the configuration, the paths and the backends.

use std::sync::{Arc, RwLock};

use volt_cas::Cas;

use crate::audit::AuditLog;
use crate::config::Config;
use crate::error::Result;
use crate::image::Images;
use crate::paths::Paths;
use crate::registry::RegistryStore;
use crate::store::LocalStore;
use crate::traits::{Runtime, Store};
use crate::workload::WorkloadInfo;

/// The workload kinds every local facade runs.
pub const BUILTIN_KINDS: [&str; 2] = ["container", "vm"];

/// Entry point of the SDK.
///
/// ```no_run
/// # async fn demo() -> volt_core::Result<()> {
/// let volt = volt_core::Volt::open(volt_core::Config::load()?)?;
/// let report = volt.store().build("/srv/rootfs".as_ref(), Some("images/demo".parse()?)).await?;
/// println!("{} entries in {}", report.entries, report.root);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Volt {
    config: Config,
    paths: Paths,
    audit: AuditLog,
    store: Arc<dyn Store>,
    images: Option<Images>,
    registry: Option<RegistryStore>,
    /// Runtimes of further kinds, registered by the embedding program (shared by clones).
    extra: Arc<RwLock<Vec<Arc<dyn Runtime>>>>,
}

impl std::fmt::Debug for Volt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Volt").field("paths", &self.paths).finish_non_exhaustive()
    }
}

impl Volt {
    /// Open Volt with the default backends: the store under `paths().cas_dir()` (created if
    /// missing) and the audit log under `paths().audit_log()`.
    ///
    /// # Errors
    /// Store options out of range, or the store directories cannot be created.
    pub fn open(config: Config) -> Result<Self> {
        let paths = config.paths();
        let audit = if config.audit { AuditLog::new(paths.audit_log()) } else { AuditLog::disabled() };
        let cas = Arc::new(Cas::open(paths.cas_dir(), config.cas_options())?);
        tracing::debug!(store = %paths.cas_dir().display(), "opened Stellarium store");
        let grace = std::time::Duration::from_secs(config.registry.blob_grace);
        let store: Arc<dyn Store> =
            Arc::new(LocalStore::from_shared(cas.clone(), audit.clone()).with_registry_grace(grace));
        let registry = RegistryStore::new(cas.clone(), config.registry.clone(), audit.clone());
        let images = Images::new(cas, paths.clone(), audit.clone(), crate::image::limits_from(&config.images));
        Ok(Volt { config, paths, audit, store, images: Some(images), registry: Some(registry), extra: Arc::default() })
    }

    /// Open with a store backend of the caller's choosing.
    pub fn with_store(config: Config, store: Arc<dyn Store>) -> Self {
        let paths = config.paths();
        let audit = if config.audit { AuditLog::new(paths.audit_log()) } else { AuditLog::disabled() };
        Volt { config, paths, audit, store, images: None, registry: None, extra: Arc::default() }
    }

    /// Local images (import, pull, push, export, container roots). Only available when the
    /// store is the local Stellarium store ([`Volt::open`]).
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] for a [`Volt::with_store`] facade.
    pub fn images(&self) -> Result<&Images> {
        self.images.as_ref().ok_or_else(|| {
            crate::Error::Unsupported(
                "images need the local Stellarium store (this Volt was built with another store)".into(),
            )
        })
    }

    /// Containers (Voltainer): lifecycle, logs, exec, limits, volumes, top.
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] for a [`Volt::with_store`] facade.
    pub fn containers(&self) -> Result<crate::container::Containers> {
        Ok(crate::container::Containers::new(
            self.paths.clone(),
            self.images()?.clone(),
            self.config.containers.clone(),
            self.audit.clone(),
        )
        .with_networks(self.networks()))
    }

    /// The VM runtime (Voltvisor) on the same store and networks.
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] without the local store.
    pub fn vms(&self) -> Result<crate::vm::Vms> {
        let images = self.images()?.clone();
        Ok(crate::vm::Vms::new(
            self.paths.clone(),
            self.config.vms.clone(),
            self.config.containers.clone(),
            self.networks(),
            Some(images.clone()),
            images.cas().clone(),
            self.audit.clone(),
        ))
    }

    /// Networks: bridges, addresses, port forwards, firewall, internal DNS.
    pub fn networks(&self) -> crate::network::Networks {
        crate::network::Networks::new(
            self.paths.clone(),
            self.config.networks.clone(),
            self.config.containers.clone(),
            self.audit.clone(),
        )
    }

    /// The runtime of one workload kind, behind the [`Runtime`] trait: `container` and `vm` are
    /// built in (local facades only), any other kind is one [`Volt::register_runtime`] added.
    ///
    /// # Errors
    /// [`crate::Error::NotFound`] for a kind nobody runs; [`crate::Error::Unsupported`] for a
    /// built-in kind on a [`Volt::with_store`] facade.
    pub fn runtime(&self, kind: &str) -> Result<Arc<dyn Runtime>> {
        match kind {
            "container" => Ok(Arc::new(self.containers()?)),
            "vm" => Ok(Arc::new(self.vms()?)),
            _ => self
                .extra
                .read()
                .expect("runtime registry poisoned")
                .iter()
                .find(|r| r.kind() == kind)
                .cloned()
                .ok_or_else(|| crate::Error::NotFound { what: "workload kind", name: kind.into() }),
        }
    }

    /// Add a runtime of a new kind: its workloads then show in [`Volt::workloads`] (and so in
    /// `volt ps` and the bindings' workload lists) beside containers and VMs. Clones of this
    /// facade share the registration.
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] for an empty kind or one with characters other than
    /// `a-z`, `0-9` and `-`; already exists (exit 4) when the kind is taken.
    pub fn register_runtime(&self, runtime: Arc<dyn Runtime>) -> Result<()> {
        let kind = runtime.kind();
        if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(crate::Error::InvalidArgument(format!(
                "runtime kind {kind:?}: lower-case letters, digits and '-' only"
            )));
        }
        let mut extra = self.extra.write().expect("runtime registry poisoned");
        if BUILTIN_KINDS.contains(&kind) || extra.iter().any(|r| r.kind() == kind) {
            return Err(crate::Error::io(
                "register runtime",
                kind,
                std::io::Error::new(std::io::ErrorKind::AlreadyExists, format!("a runtime of kind {kind} exists")),
            ));
        }
        extra.push(runtime);
        Ok(())
    }

    /// Every kind this facade runs: the built-in ones (local facades), then the registered ones.
    pub fn kinds(&self) -> Vec<String> {
        let builtin = if self.images.is_some() { BUILTIN_KINDS.to_vec() } else { Vec::new() };
        let extra = self.extra.read().expect("runtime registry poisoned");
        builtin.into_iter().map(str::to_string).chain(extra.iter().map(|r| r.kind().to_string())).collect()
    }

    /// Every workload of every kind, sorted by name, then kind. Containers and VMs are read
    /// directly; registered runtimes are asked through [`Runtime::list`] on a thread of their
    /// own, so this may be called from async code too.
    ///
    /// # Errors
    /// The first runtime that fails to list.
    pub fn workloads(&self) -> Result<Vec<WorkloadInfo>> {
        let mut out = Vec::new();
        if self.images.is_some() {
            out.extend(self.containers()?.list()?.iter().map(crate::container::workload_info));
            out.extend(self.vms()?.list()?.iter().map(crate::vm::workload_info));
        }
        let extra: Vec<Arc<dyn Runtime>> = self.extra.read().expect("runtime registry poisoned").clone();
        if !extra.is_empty() {
            let lists = std::thread::scope(|s| {
                s.spawn(|| {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| crate::Error::io("start runtime", "tokio", e))?;
                    rt.block_on(async {
                        let mut all = Vec::new();
                        for r in &extra {
                            all.extend(r.list().await?);
                        }
                        Ok::<_, crate::Error>(all)
                    })
                })
                .join()
                .map_err(|_| crate::Error::Task("a runtime's list panicked".into()))?
            })?;
            out.extend(lists);
        }
        out.sort_by(|a, b| (&a.name, &a.kind).cmp(&(&b.name, &b.kind)));
        Ok(out)
    }

    /// The registry's storage (what `volt registry serve` serves).
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] for a [`Volt::with_store`] facade.
    pub fn registry(&self) -> Result<&RegistryStore> {
        self.registry
            .as_ref()
            .ok_or_else(|| crate::Error::Unsupported("the registry needs the local Stellarium store".into()))
    }

    /// The store backend.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Host paths.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The audit log.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }
}
