//! The [`Volt`] facade: one value that holds the configuration, the paths and the backends.

use std::sync::Arc;

use volt_cas::Cas;

use crate::audit::AuditLog;
use crate::config::Config;
use crate::error::Result;
use crate::paths::Paths;
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
        let cas = Cas::open(paths.cas_dir(), config.cas_options())?;
        tracing::debug!(store = %paths.cas_dir().display(), "opened Stellarium store");
        let store: Arc<dyn Store> = Arc::new(LocalStore::new(cas, audit.clone()));
        Ok(Volt { config, paths, audit, store })
    }

    /// Open with a store backend of the caller's choosing.
    pub fn with_store(config: Config, store: Arc<dyn Store>) -> Self {
        let paths = config.paths();
        let audit = if config.audit { AuditLog::new(paths.audit_log()) } else { AuditLog::disabled() };
        Volt { config, paths, audit, store }
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
