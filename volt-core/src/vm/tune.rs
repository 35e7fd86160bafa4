//! Tuning a VM: vCPU pinning.

use super::*;

impl Vms {
    /// Pin the VM's vCPU threads to `cpus` (vCPU i on `cpus[i % len]`), now if it runs and at
    /// every start. An empty list unpins.
    ///
    /// # Errors
    /// Usage errors for CPUs the host lacks; QMP errors.
    pub fn pin_cpus(&self, name: &str, cpus: &[usize]) -> Result<VmInfo> {
        self.audit.audited("vm.tune.cpu-pin", name, || {
            let online = vsup::host_cpus();
            if let Some(c) = cpus.iter().find(|c| **c >= online) {
                return Err(Error::InvalidArgument(format!(
                    "host CPU {c} does not exist (the host has CPUs 0-{})",
                    online - 1
                )));
            }
            let mut c = self.load(name)?;
            let _l = self.lock(&c.name)?;
            let info = self.info(c.clone())?;
            if info.status.is_live() {
                let threads: Vec<VcpuThread> = self.ctl(&c.name)?.vcpu_threads()?;
                if cpus.is_empty() {
                    let all: Vec<usize> = (0..online).collect();
                    for t in &threads {
                        vsup::set_affinity(t.thread, &all)
                            .map_err(|e| Error::io("unpin", format!("thread {}", t.thread), e))?;
                    }
                } else {
                    vsup::pin_threads(&threads, cpus)?;
                }
            }
            c.cpu_pin = cpus.to_vec();
            self.save(&c)?;
            self.info(c)
        })
    }

    // ---- kernels ------------------------------------------------------------------------------
}
