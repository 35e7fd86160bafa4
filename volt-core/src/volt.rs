//! The [`Volt`] facade: one value that holds the configuration, the paths and the backends.

use std::sync::Arc;

use volt_cas::Cas;

use crate::audit::AuditLog;
use crate::config::Config;
use crate::error::Result;
use crate::image::Images;
use crate::paths::Paths;
use crate::registry::RegistryStore;
use crate::store::LocalStore;
use crate::traits::Store;

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
        Ok(Volt { config, paths, audit, store, images: Some(images), registry: Some(registry) })
    }

    /// Open with a store backend of the caller's choosing.
    pub fn with_store(config: Config, store: Arc<dyn Store>) -> Self {
        let paths = config.paths();
        let audit = if config.audit { AuditLog::new(paths.audit_log()) } else { AuditLog::disabled() };
        Volt { config, paths, audit, store, images: None, registry: None }
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
