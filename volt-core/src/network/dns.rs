//! The DNS server of each network: started detached, stopped with the network, and its `volt-supervisor dns` mode.

use super::*;

impl Networks {
    pub(super) fn dns_pid(&self, name: &str) -> Option<u32> {
        let d = self.net_dir(name);
        let f = File::open(d.join("dns.lock")).ok()?;
        match rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockShared) {
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                fs::read_to_string(d.join("dns.pid")).ok()?.trim().parse().ok()
            }
            _ => None,
        }
    }

    pub(super) fn ensure_dns(&self, c: &NetworkConfig) -> Result<()> {
        if self.dns_pid(&c.name).is_some() {
            return Ok(());
        }
        let bin = crate::supervise::find_supervisor(&self.containers)?;
        let args = DnsArgs {
            networks_dir: self.dir(),
            network: c.name.clone(),
            listen: vec![format!("{}:53", c.gateway)],
            upstreams: c.dns_upstreams.clone(),
        };
        let log = self.net_dir(&c.name).join("dns.log");
        let json = serde_json::to_string(&args).expect("serialises");
        match crate::supervise::spawn_detached(&bin, &["dns".into(), json], &log, None)? {
            Ok(_) => Ok(()),
            Err(m) => Err(Error::Workload {
                name: format!("DNS server of network {}", c.name),
                reason: m.unwrap_or_else(|| format!("it exited without a word; see {}", log.display())),
            }),
        }
    }

    pub(super) fn stop_dns(&self, name: &str) {
        if let Some(pid) = self.dns_pid(name) {
            let _ = rustix::process::kill_process(
                rustix::process::Pid::from_raw(pid as i32).expect("positive"),
                rustix::process::Signal::TERM,
            );
            let end = Instant::now() + Duration::from_secs(3);
            while self.dns_pid(name).is_some() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// What the DNS server is told (`volt-supervisor dns JSON`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DnsArgs {
    /// The `networks/` directory.
    pub networks_dir: PathBuf,
    /// Its network.
    pub network: String,
    /// `IP:PORT` to listen on.
    pub listen: Vec<String>,
    /// Upstreams.
    pub upstreams: Vec<String>,
}

/// `volt-supervisor dns JSON`: detach, hold `dns.lock`, bind, report on fd 3, serve until the
/// network's record disappears or SIGTERM.
pub fn dns_main(json: &str) -> i32 {
    let Some(args) = crate::supervise::mode_args::<DnsArgs>("volt-supervisor dns", json) else { return 2 };
    match crate::supervise::detach(&[3]) {
        Err(_) => return 1,
        Ok(false) => return 0,
        Ok(true) => {}
    }
    use std::io::Write;
    use std::os::fd::FromRawFd;
    // SAFETY: fd 3 is the report pipe handed to us.
    let mut ready = Some(unsafe { File::from_raw_fd(3) });
    let dir = args.networks_dir.join(&args.network);
    let report = &mut ready;
    let r = (|| -> std::result::Result<(), String> {
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("dns.lock"))
            .map_err(|e| format!("dns.lock: {e}"))?;
        match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                if let Some(mut f) = report.take() {
                    let _ = writeln!(f, "ok running");
                }
                return Ok(());
            }
            Err(e) => return Err(format!("dns.lock: {e}")),
        }
        let listen = args
            .listen
            .iter()
            .map(|a| a.parse())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| format!("{e}"))?;
        let upstreams = args
            .upstreams
            .iter()
            .map(|u| volt_net::dns::parse_upstream(u))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let opts = volt_net::dns::DnsOptions {
            networks_dir: args.networks_dir.clone(),
            network: args.network.clone(),
            listen,
            upstreams,
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            let server = volt_net::dns::DnsServer::bind(&opts).await.map_err(|e| e.to_string())?;
            fs::write(dir.join("dns.pid"), std::process::id().to_string()).map_err(|e| e.to_string())?;
            if let Some(mut f) = report.take() {
                let _ = writeln!(f, "ok {}", std::process::id());
            }
            let record = dir.join("network.json");
            let watch = async move {
                while record.exists() {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            };
            tokio::select! {
                r = server.serve() => r.map_err(|e| e.to_string()),
                () = watch => Ok(()),
            }
        })?;
        drop(lock);
        Ok(())
    })();
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("volt-supervisor dns: {e}");
            // Serving may fail after the report was sent: then only the log has it.
            if let Some(mut f) = ready.take() {
                let _ = writeln!(f, "error: {e}");
            }
            1
        }
    }
}
