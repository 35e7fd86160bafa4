//! The three backend traits. Backends are chosen at run time and shared as `Arc<dyn Trait>`.

use std::io::Write;
use std::path::Path;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::workload::{WorkloadInfo, WorkloadSpec};
use volt_cas::{
    Algorithm, BuildReport, CheckoutMode, CheckoutReport, DedupReport, GcReport, ObjectId, ObjectInfo, PutOutcome,
    RefEntry, RefName, Status, VerifyReport,
};

/// Options of a put.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PutOptions {
    /// SHA-2 digests to compute on the same pass and record as aliases.
    pub also: Vec<Algorithm>,
    /// Ref to point at the new object (otherwise gc may collect it).
    pub reference: Option<RefName>,
}

/// Content-addressed objects, trees and refs (implemented by Stellarium).
///
/// A *target* names an object: a digest (`blake3:…`, `sha256:…`, `sha512:…` or 64 bare hex
/// digits) or a ref name.
#[async_trait]
pub trait Store: Send + Sync {
    /// Map a target to the native object id.
    async fn resolve(&self, target: &str) -> Result<ObjectId>;
    /// Store a file (streamed; large files are chunked).
    async fn put_file(&self, path: &Path, opts: PutOptions) -> Result<PutOutcome>;
    /// Store bytes held in memory.
    async fn put_bytes(&self, data: Vec<u8>, opts: PutOptions) -> Result<PutOutcome>;
    /// Stream an object's bytes into `out`; returns the byte count.
    async fn get(&self, target: &str, out: Box<dyn Write + Send>) -> Result<u64>;
    /// Write an object's bytes to the file `dest`, atomically: a temporary file beside it is
    /// renamed over it only once complete, so a bad target or a failed read leaves `dest` as it
    /// was, and a hardlinked checkout at `dest` is never written through. Returns the byte count.
    async fn get_to_path(&self, target: &str, dest: &Path) -> Result<u64>;
    /// Read a whole object into memory.
    async fn read(&self, target: &str) -> Result<Vec<u8>>;
    /// Is the target stored?
    async fn has(&self, target: &str) -> Result<bool>;
    /// Describe an object.
    async fn stat(&self, target: &str) -> Result<ObjectInfo>;
    /// Store a directory as a tree, optionally naming it.
    async fn build(&self, dir: &Path, reference: Option<RefName>) -> Result<BuildReport>;
    /// Materialise a tree into `dest`.
    async fn checkout(&self, target: &str, dest: &Path, mode: CheckoutMode) -> Result<CheckoutReport>;
    /// Re-hash one target and what it reaches, or the whole store when `None`.
    async fn verify(&self, target: Option<&str>) -> Result<VerifyReport>;
    /// Remove what no ref or in-flight writer reaches.
    async fn gc(&self, dry_run: bool) -> Result<GcReport>;
    /// Totals.
    async fn status(&self) -> Result<Status>;
    /// Sharing analysis with the `top` most-shared objects.
    async fn dedup(&self, top: usize) -> Result<DedupReport>;
    /// Refs, optionally under a prefix.
    async fn refs(&self, prefix: Option<&str>) -> Result<Vec<RefEntry>>;
    /// Point a ref at a target.
    async fn set_ref(&self, name: &RefName, target: &str) -> Result<ObjectId>;
    /// Remove a ref.
    async fn delete_ref(&self, name: &RefName) -> Result<()>;
}

/// The lifecycle of one kind of workload (containers on systemd-nspawn, VMs on QEMU).
/// Implementations arrive with the container and VM engines; the contract is fixed here.
#[async_trait]
pub trait Runtime: Send + Sync {
    /// `container`, `vm`, …
    fn kind(&self) -> &'static str;
    /// Create a stopped workload.
    async fn create(&self, spec: &WorkloadSpec) -> Result<WorkloadInfo>;
    /// Start it.
    async fn start(&self, name: &str) -> Result<()>;
    /// Stop it gracefully, killing after `timeout_secs`.
    async fn stop(&self, name: &str, timeout_secs: u64) -> Result<()>;
    /// Send a signal to its main process.
    async fn kill(&self, name: &str, signal: i32) -> Result<()>;
    /// Remove a stopped workload.
    async fn delete(&self, name: &str) -> Result<()>;
    /// Current state.
    async fn status(&self, name: &str) -> Result<WorkloadInfo>;
    /// All workloads of this runtime.
    async fn list(&self) -> Result<Vec<WorkloadInfo>>;
    /// Run a command inside; returns its exit status.
    async fn exec(&self, name: &str, argv: &[String]) -> Result<i32>;
    /// The last `lines` lines of its log.
    async fn logs(&self, name: &str, lines: usize) -> Result<Vec<String>>;
    /// Change resource limits while running.
    async fn update(&self, name: &str, memory: Option<u64>, cpu_percent: Option<u32>) -> Result<()>;
    /// Stop it if it runs (as [`Runtime::stop`]), then start it. The default does exactly that;
    /// a kind with a cheaper restart overrides it.
    async fn restart(&self, name: &str, timeout_secs: u64) -> Result<()> {
        if self.status(name).await?.status.is_live() {
            self.stop(name, timeout_secs).await?;
        }
        self.start(name).await
    }
    /// Freeze a running workload (VMs: stop the vCPUs). The default: the kind cannot
    /// ([`crate::Error::Unsupported`], exit 10).
    async fn pause(&self, name: &str) -> Result<()> {
        let _ = name;
        Err(crate::Error::Unsupported(format!("{} workloads cannot be paused", self.kind())))
    }
    /// Thaw a paused workload. The default: the kind cannot pause, so nothing is paused.
    async fn resume(&self, name: &str) -> Result<()> {
        let _ = name;
        Err(crate::Error::Unsupported(format!("{} workloads cannot be paused or resumed", self.kind())))
    }
}

/// A network as the `Network` trait sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Name (`volt0` is the default bridge).
    pub name: String,
    /// IPv4 subnet in CIDR form.
    pub subnet: String,
}

/// Networks, endpoints (veth/TAP), addresses, forwards, firewall and names (volt-net).
/// The implementation arrives with the networking engine; the contract is fixed here.
#[async_trait]
pub trait Network: Send + Sync {
    /// Create a network (bridge, addresses, firewall table).
    async fn create(&self, spec: &NetworkSpec) -> Result<()>;
    /// Remove a network.
    async fn delete(&self, name: &str) -> Result<()>;
    /// All networks.
    async fn list(&self) -> Result<Vec<NetworkSpec>>;
    /// Attach a workload's endpoint; returns its address.
    async fn attach(&self, network: &str, workload: &str, netns_path: &Path) -> Result<String>;
    /// Detach a workload's endpoint.
    async fn detach(&self, network: &str, workload: &str) -> Result<()>;
}
