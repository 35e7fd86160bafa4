//! VMs behind the generic `Runtime` trait.

use super::*;

/// A VM as every runtime's workloads are listed (`volt ps`).
pub fn workload_info(i: &VmInfo) -> crate::workload::WorkloadInfo {
    let c = &i.config;
    crate::workload::WorkloadInfo {
        name: c.name.clone(),
        kind: "vm".into(),
        status: i.status,
        pid: i.state.qemu_pid,
        detail: format!("{} {}x{}M {}", c.machine, c.cpus, c.memory_mib, c.kernel),
    }
}

impl Vms {
    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(Vms) -> Result<T> + Send + 'static) -> Result<T> {
        let v = self.clone();
        crate::workload::blocking(move || f(v)).await
    }
}

/// VMs behind the generic [`crate::Runtime`] trait, beside containers: `spec.image` is a VM
/// image (a disk at `/disk/*.qcow2`), `memory` the guest's memory, `cpu_percent` rounds up to
/// vCPUs. A command is refused (a VM runs its image's own system); so is `exec`, which would
/// need an agent in the guest.
#[async_trait::async_trait]
impl crate::traits::Runtime for Vms {
    fn kind(&self) -> &'static str {
        "vm"
    }
    async fn create(&self, spec: &crate::workload::WorkloadSpec) -> Result<crate::workload::WorkloadInfo> {
        if !spec.command.is_empty() {
            return Err(Error::InvalidArgument("a VM runs its image's own system: no command".into()));
        }
        let spec = spec.clone();
        self.blocking(move |v| {
            let o = VmCreateOptions {
                image: (!spec.image.is_empty()).then(|| spec.image.clone()),
                memory: spec.memory.map(|m| format!("{}M", m >> 20)),
                cpus: spec.cpu_percent.map(|p| p.div_ceil(100).max(1)),
                networks: spec.networks.clone(),
                ..Default::default()
            };
            Ok(workload_info(&v.create(&spec.name, &o)?))
        })
        .await
    }
    async fn start(&self, name: &str) -> Result<()> {
        let n = name.to_string();
        self.blocking(move |v| v.start(&n).map(drop)).await
    }
    async fn stop(&self, name: &str, timeout_secs: u64) -> Result<()> {
        let n = name.to_string();
        self.blocking(move |v| v.stop(&n, Some(timeout_secs)).map(drop)).await
    }
    async fn kill(&self, name: &str, signal: i32) -> Result<()> {
        let n = name.to_string();
        self.blocking(move |v| v.kill(&n, signal).map(drop)).await
    }
    async fn delete(&self, name: &str) -> Result<()> {
        let n = name.to_string();
        self.blocking(move |v| v.delete(&n, false)).await
    }
    async fn status(&self, name: &str) -> Result<crate::workload::WorkloadInfo> {
        let n = name.to_string();
        self.blocking(move |v| Ok(workload_info(&v.inspect(&n)?))).await
    }
    async fn list(&self) -> Result<Vec<crate::workload::WorkloadInfo>> {
        self.blocking(|v| Ok(v.list()?.iter().map(workload_info).collect())).await
    }
    async fn exec(&self, _name: &str, _argv: &[String]) -> Result<i32> {
        Err(Error::Unsupported("exec in a VM needs a guest agent; use `volt vm console`".into()))
    }
    async fn logs(&self, name: &str, lines: usize) -> Result<Vec<String>> {
        let n = name.to_string();
        self.blocking(move |v| Ok(v.logs(&n, Some(lines))?.lines().map(str::to_string).collect())).await
    }
    async fn update(&self, _name: &str, _memory: Option<u64>, _cpu_percent: Option<u32>) -> Result<()> {
        Err(Error::Unsupported(
            "a VM's memory and vCPUs change with `volt vm create` options; live resize is not supported".into(),
        ))
    }
    async fn restart(&self, name: &str, timeout_secs: u64) -> Result<()> {
        let n = name.to_string();
        self.blocking(move |v| v.restart(&n, Some(timeout_secs)).map(drop)).await
    }
    async fn pause(&self, name: &str) -> Result<()> {
        let n = name.to_string();
        self.blocking(move |v| v.pause(&n).map(drop)).await
    }
    async fn resume(&self, name: &str) -> Result<()> {
        let n = name.to_string();
        self.blocking(move |v| v.resume(&n).map(drop)).await
    }
}
