//! `volt ps`: every workload of every kind.

use volt_core::{Result, Volt};

use crate::output::{table, View};

/// The workloads of every kind (containers, VMs and any runtime registered with the facade),
/// from [`Volt::workloads`]: the CLI adds only the table.
pub fn ps(volt: &Volt) -> Result<View> {
    let rows = volt.workloads()?;
    let t = rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.kind.clone(),
                r.status.to_string(),
                if r.detail.is_empty() { "-".into() } else { r.detail.clone() },
                r.pid.map_or("-".into(), |p| p.to_string()),
            ]
        })
        .collect();
    Ok(View::new(&rows, table(&["NAME", "KIND", "STATUS", "IMAGE / VM", "PID"], t)))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use volt_core::{Config, Error, Runtime, Status, WorkloadInfo, WorkloadSpec};

    use super::*;

    /// A kind of workload that exists only in this test: a fixed list of "jobs".
    struct Jobs;

    #[async_trait::async_trait]
    impl Runtime for Jobs {
        fn kind(&self) -> &'static str {
            "job"
        }
        async fn create(&self, _: &WorkloadSpec) -> Result<WorkloadInfo> {
            Err(Error::Unsupported("jobs are fixed".into()))
        }
        async fn start(&self, _: &str) -> Result<()> {
            Ok(())
        }
        async fn stop(&self, _: &str, _: u64) -> Result<()> {
            Ok(())
        }
        async fn kill(&self, _: &str, _: i32) -> Result<()> {
            Ok(())
        }
        async fn delete(&self, _: &str) -> Result<()> {
            Ok(())
        }
        async fn status(&self, name: &str) -> Result<WorkloadInfo> {
            self.list()
                .await?
                .into_iter()
                .find(|w| w.name == name)
                .ok_or(Error::NotFound { what: "job", name: name.into() })
        }
        async fn list(&self) -> Result<Vec<WorkloadInfo>> {
            let job = |name: &str, status, pid| WorkloadInfo {
                name: name.into(),
                kind: "job".into(),
                status,
                pid,
                detail: "nightly backup".into(),
            };
            Ok(vec![job("zeta", Status::Stopped, None), job("alpha", Status::Running, Some(4242))])
        }
        async fn exec(&self, _: &str, _: &[String]) -> Result<i32> {
            Ok(0)
        }
        async fn logs(&self, _: &str, _: usize) -> Result<Vec<String>> {
            Ok(Vec::new())
        }
        async fn update(&self, _: &str, _: Option<u64>, _: Option<u32>) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_kind_registered_by_the_embedder_shows_in_ps() {
        let dir = tempfile::tempdir().unwrap();
        let volt = Volt::open(Config::default().relocate(dir.path())).unwrap();
        assert_eq!(volt.kinds(), ["container", "vm"]);
        volt.register_runtime(Arc::new(Jobs)).unwrap();
        assert_eq!(volt.kinds(), ["container", "vm", "job"]);
        // A kind is registered once, and the built-in ones cannot be replaced.
        assert_eq!(volt.register_runtime(Arc::new(Jobs)).unwrap_err().kind(), volt_core::ErrorKind::AlreadyExists);
        assert_eq!(volt.runtime("job").unwrap().kind(), "job");
        assert_eq!(volt.runtime("vm").unwrap().kind(), "vm");
        assert_eq!(volt.runtime("nope").err().map(|e| e.kind()), Some(volt_core::ErrorKind::NotFound));

        let v = ps(&volt).unwrap();
        let lines: Vec<&str> = v.human.lines().collect();
        assert_eq!(lines.len(), 3, "{}", v.human);
        assert!(lines[0].trim_start().starts_with("NAME"), "{}", v.human);
        let cells = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(cells(lines[1]), ["alpha", "job", "running", "nightly", "backup", "4242"]);
        assert_eq!(cells(lines[2]), ["zeta", "job", "stopped", "nightly", "backup", "-"]);
        assert_eq!(v.data[0]["kind"], "job");
        assert_eq!(v.data[0]["pid"], 4242);
        // A clone of the facade sees the same kinds.
        assert_eq!(volt.clone().workloads().unwrap().len(), 2);
    }
}
