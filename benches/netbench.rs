//! `volt-netbench`: the Rust side of `benches/compare/network.sh`, which runs it as root inside
//! the network namespace it makes (nothing here creates a namespace of its own except the
//! workload ones it is told to, and nothing sends traffic anywhere but the address it is given).
//!
//! - `attach`: rounds of attach + release through Volt's SDK (in this process, one process per
//!   call, and step by step for the breakdown) against `netavark setup` / `teardown` of the same
//!   kind of endpoint, the sides rotated within each round; prints the medians.
//! - `attach-one` / `release-one`: one SDK call in a process of its own.
//! - `leases`: give COUNT workload names an address on a network (what its DNS server answers).
//! - `dns-serve`: Volt's DNS server with a chosen number of runtime threads (a diagnostic).
//! - `dns-load`: closed-loop UDP load against a DNS server: C sockets, each with one A query in
//!   flight for a random name out of COUNT; prints one JSON line (qps, latency percentiles).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use volt_core::network::{host_ifname, Networks};
use volt_core::{Config, Volt};
use volt_net::ipam::Ipam;
use volt_net::link::Netlink;

#[derive(Parser)]
#[command(about = "Network benchmarks for benches/compare/network.sh (root, inside its namespace)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Attach/release rounds: Volt (VOLT_ROOT) against netavark, the sides rotated per round.
    Attach {
        /// Volt network (created beforehand, with a keeper workload on it).
        #[arg(long)]
        network: String,
        /// Where the per-round namespace files are made.
        #[arg(long)]
        ns_dir: PathBuf,
        #[arg(long, default_value_t = 30)]
        rounds: usize,
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// netavark binary.
        #[arg(long)]
        netavark: PathBuf,
        /// aardvark-dns binary (handed to netavark).
        #[arg(long)]
        aardvark: PathBuf,
        /// netavark's --config directory (podman uses a tmpfs).
        #[arg(long)]
        nv_config: PathBuf,
        /// netavark's network: name (also its bridge), subnet, DNS on or off.
        #[arg(long)]
        nv_network: String,
        #[arg(long)]
        nv_subnet: String,
        #[arg(long)]
        nv_dns: bool,
        /// The address netavark's endpoint gets (podman's IPAM would pick it).
        #[arg(long)]
        nv_ip: Ipv4Addr,
    },
    /// netavark setup (or teardown with --teardown) of one endpoint, as the attach rounds do.
    Netavark {
        #[arg(long)]
        netavark: PathBuf,
        #[arg(long)]
        aardvark: PathBuf,
        #[arg(long)]
        nv_config: PathBuf,
        #[arg(long)]
        nv_network: String,
        #[arg(long)]
        nv_subnet: String,
        #[arg(long)]
        nv_dns: bool,
        #[arg(long)]
        ip: Ipv4Addr,
        #[arg(long)]
        name: String,
        #[arg(long)]
        netns: PathBuf,
        #[arg(long)]
        teardown: bool,
    },
    /// Kernel cost of the two ways to make a workload's veth (rounds, alternated): a pair made
    /// on the host and its peer then moved into the namespace against the peer created inside
    /// the namespace in the same request (what volt-net and netavark do).
    VethProbe {
        #[arg(long)]
        ns_dir: PathBuf,
        #[arg(long, default_value_t = 30)]
        rounds: usize,
    },
    /// One `Networks::attach` (NETNS is made first if missing); prints the address.
    AttachOne {
        #[arg(long)]
        network: String,
        #[arg(long)]
        workload: String,
        #[arg(long)]
        netns: PathBuf,
    },
    /// One `Networks::release`.
    ReleaseOne {
        #[arg(long)]
        network: String,
        #[arg(long)]
        workload: String,
    },
    /// Addresses (so DNS names) for PREFIX0 .. PREFIX{COUNT-1} on NETWORK.
    Leases {
        #[arg(long)]
        network: String,
        #[arg(long)]
        count: usize,
        #[arg(long, default_value = "n")]
        prefix: String,
    },
    /// Volt's DNS server (volt_net::dns::DnsServer) on a runtime with WORKERS threads, for
    /// SECONDS: what `volt-supervisor dns` runs, with a thread count of the caller's choosing.
    DnsServe {
        #[arg(long)]
        network: String,
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long, default_value_t = 1)]
        workers: usize,
        #[arg(long)]
        seconds: f64,
    },
    /// Closed-loop DNS load; one JSON line on stdout.
    DnsLoad {
        #[arg(long)]
        server: SocketAddr,
        #[arg(long, default_value = "n")]
        prefix: String,
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Untimed queries first (each name once, then this long under load).
        #[arg(long, default_value_t = 1.0)]
        warmup_seconds: f64,
    },
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Attach {
            network,
            ns_dir,
            rounds,
            warmup,
            netavark,
            aardvark,
            nv_config,
            nv_network,
            nv_subnet,
            nv_dns,
            nv_ip,
        } => {
            let nv = Netavark {
                bin: netavark,
                aardvark,
                config: nv_config,
                network: nv_network,
                subnet: nv_subnet,
                dns: nv_dns,
            };
            attach_rounds(&network, &ns_dir, rounds, warmup, &nv, nv_ip)
        }
        Cmd::Netavark { netavark, aardvark, nv_config, nv_network, nv_subnet, nv_dns, ip, name, netns, teardown } => {
            let nv = Netavark {
                bin: netavark,
                aardvark,
                config: nv_config,
                network: nv_network,
                subnet: nv_subnet,
                dns: nv_dns,
            };
            if !teardown {
                volt_net::netns::create(&netns)?;
            }
            nv.run(if teardown { "teardown" } else { "setup" }, &netns, &name, ip)
        }
        Cmd::VethProbe { ns_dir, rounds } => veth_probe(&ns_dir, rounds),
        Cmd::AttachOne { network, workload, netns } => {
            volt_net::netns::create(&netns)?;
            let a = networks()?.attach(&network, &workload, &netns, "eth0", true)?;
            println!("{a}");
            Ok(())
        }
        Cmd::ReleaseOne { network, workload } => Ok(networks()?.release(&network, &workload)?),
        Cmd::Leases { network, count, prefix } => {
            let ipam = Ipam::new(networks()?.dir().join(&network));
            for i in 0..count {
                ipam.allocate(&format!("{prefix}{i}"))?;
            }
            Ok(())
        }
        Cmd::DnsServe { network, listen, workers, seconds } => {
            let opts = volt_net::dns::DnsOptions {
                networks_dir: networks()?.dir(),
                network,
                listen: vec![listen],
                upstreams: Vec::new(),
            };
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build()?;
            rt.block_on(async {
                let server = volt_net::dns::DnsServer::bind(&opts).await?;
                println!("listening");
                tokio::select! {
                    r = server.serve() => r?,
                    () = tokio::time::sleep(Duration::from_secs_f64(seconds)) => {}
                }
                Ok(())
            })
        }
        Cmd::DnsLoad { server, prefix, count, concurrency, seconds, warmup_seconds } => {
            dns_load(server, &prefix, count, concurrency, seconds, warmup_seconds)
        }
    }
}

/// The SDK as the CLI opens it (VOLT_ROOT, VOLT_CONFIG).
fn networks() -> Result<Networks> {
    Ok(Volt::open(Config::load()?)?.networks())
}

// ---- attach -------------------------------------------------------------------------------

struct Netavark {
    bin: PathBuf,
    aardvark: PathBuf,
    config: PathBuf,
    network: String,
    subnet: String,
    dns: bool,
}

impl Netavark {
    /// The network options podman hands netavark for one container on one bridge network
    /// (address chosen by the caller, as podman's IPAM does before it calls netavark).
    fn options(&self, name: &str, ip: Ipv4Addr) -> String {
        let id = format!("{:0>64}", blake3::hash(name.as_bytes()).to_hex().as_str());
        let net_id = format!("{:0>64}", blake3::hash(self.network.as_bytes()).to_hex().as_str());
        let gw = {
            let base: Ipv4Addr =
                self.subnet.split('/').next().unwrap_or_default().parse().unwrap_or(Ipv4Addr::UNSPECIFIED);
            Ipv4Addr::from(u32::from(base) + 1)
        };
        serde_json::json!({
            "container_id": id,
            "container_name": name,
            "port_mappings": null,
            "networks": { &self.network: { "static_ips": [ip.to_string()], "aliases": [], "interface_name": "eth0" } },
            "network_info": { &self.network: {
                "name": self.network, "id": net_id, "driver": "bridge", "network_interface": self.network,
                "subnets": [ { "subnet": self.subnet, "gateway": gw.to_string() } ],
                "ipv6_enabled": false, "internal": false, "dns_enabled": self.dns,
                "ipam_options": { "driver": "host-local" }
            } }
        })
        .to_string()
    }

    /// `netavark --config DIR --rootless false --aardvark-binary BIN setup|teardown NETNS < options`.
    fn run(&self, cmd: &str, netns: &Path, name: &str, ip: Ipv4Addr) -> Result<()> {
        use std::io::Write;
        let mut child = Command::new(&self.bin)
            .arg("--config")
            .arg(&self.config)
            .args(["--rootless", "false"])
            .arg("--aardvark-binary")
            .arg(&self.aardvark)
            .arg(cmd)
            .arg(netns)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("run {}", self.bin.display()))?;
        child.stdin.take().expect("piped").write_all(self.options(name, ip).as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!("netavark {cmd} {}: {}\n{}", netns.display(), out.status, String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }
}

#[derive(Default)]
struct Samples(std::collections::BTreeMap<&'static str, Vec<f64>>);

impl Samples {
    fn add(&mut self, k: &'static str, since: Instant) -> Instant {
        let now = Instant::now();
        self.0.entry(k).or_default().push((now - since).as_secs_f64() * 1e3);
        now
    }
    fn median(&self, k: &str) -> f64 {
        pct(self.0.get(k).map(Vec::as_slice).unwrap_or(&[]), 50.0)
    }
    fn pct(&self, k: &str, p: f64) -> f64 {
        pct(self.0.get(k).map(Vec::as_slice).unwrap_or(&[]), p)
    }
}

fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let i = ((p / 100.0) * (s.len() - 1) as f64).round() as usize;
    s[i]
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(f)
}

#[allow(clippy::too_many_arguments)]
fn attach_rounds(
    network: &str,
    ns_dir: &Path,
    rounds: usize,
    warmup: usize,
    nv: &Netavark,
    nv_ip: Ipv4Addr,
) -> Result<()> {
    let volt = networks()?;
    let me = std::env::current_exe()?;
    let mut s = Samples::default();
    let sides = ["volt", "volt-process", "volt-steps", "netavark"];
    let mut seq = 0usize;
    for round in 0..warmup + rounds {
        let timed = round >= warmup;
        let mut one = Samples::default();
        for k in 0..sides.len() {
            let side = sides[(round + k) % sides.len()];
            seq += 1;
            let ns = ns_dir.join(format!("ns{seq}"));
            volt_net::netns::create(&ns)?;
            let w = format!("w{seq}");
            match side {
                "volt" => {
                    let t = Instant::now();
                    volt.attach(network, &w, &ns, "eth0", true)?;
                    let t = one.add("volt attach", t);
                    volt.release(network, &w)?;
                    one.add("volt release", t);
                }
                "volt-process" => {
                    let t = Instant::now();
                    let st = Command::new(&me)
                        .args(["attach-one", "--network", network, "--workload", &w, "--netns"])
                        .arg(&ns)
                        .stdout(Stdio::null())
                        .status()?;
                    let t = one.add("volt-process attach", t);
                    let st2 =
                        Command::new(&me).args(["release-one", "--network", network, "--workload", &w]).status()?;
                    one.add("volt-process release", t);
                    if !st.success() || !st2.success() {
                        bail!("volt-netbench attach-one/release-one failed");
                    }
                }
                "volt-steps" => steps(&volt, network, &w, &ns, &mut one)?,
                _ => {
                    let t = Instant::now();
                    nv.run("setup", &ns, &w, nv_ip)?;
                    let t = one.add("netavark setup", t);
                    nv.run("teardown", &ns, &w, nv_ip)?;
                    one.add("netavark teardown", t);
                }
            }
            volt_net::netns::remove(&ns)?;
        }
        if timed {
            for (k, v) in one.0 {
                s.0.entry(k).or_default().extend(v);
            }
        }
    }
    let row = |label: &str, k: &str| {
        println!("  {label:44} {:7.2} ms   (p10 {:.2}, p90 {:.2})", s.median(k), s.pct(k, 10.0), s.pct(k, 90.0));
    };
    println!("attach: median of {rounds} rounds after {warmup} warm-ups, sides rotated each round");
    row("volt attach (SDK call in this process)", "volt attach");
    row("volt release", "volt release");
    row("volt attach-one (a process per call)", "volt-process attach");
    row("volt release-one", "volt-process release");
    row("netavark setup (a process per call)", "netavark setup");
    row("netavark teardown", "netavark teardown");
    println!("  volt attach, step by step (the same work through the public pieces):");
    for (label, k) in [
        ("ensure: bridge check, sysctls, DNS pid, nft table", "step ensure"),
        ("  of which nft -f (sync_rules alone, just before)", "step nft alone"),
        ("allocate: leases.json (flock, write, fsync)", "step allocate"),
        ("veth: create, move to netns, bridge, addr/route", "step veth"),
        ("total", "step attach total"),
        ("release: veth delete", "step unplug"),
        ("release: lease (flock, fsync)", "step lease release"),
        ("release: nft table re-applied", "step nft sync"),
        ("release total", "step release total"),
    ] {
        row(&format!("  {label}"), k);
    }
    let ratio = |a: &str, b: &str| s.median(a) / s.median(b);
    println!(
        "RESULT attach_volt_ms={:.2} attach_volt_process_ms={:.2} setup_netavark_ms={:.2} ratio_inproc={:.2} ratio_process={:.2} release_volt_ms={:.2} release_volt_process_ms={:.2} teardown_netavark_ms={:.2} ratio_teardown={:.2} ratio_teardown_process={:.2}",
        s.median("volt attach"),
        s.median("volt-process attach"),
        s.median("netavark setup"),
        ratio("netavark setup", "volt attach"),
        ratio("netavark setup", "volt-process attach"),
        s.median("volt release"),
        s.median("volt-process release"),
        s.median("netavark teardown"),
        ratio("netavark teardown", "volt release"),
        ratio("netavark teardown", "volt-process release"),
    );
    Ok(())
}

/// What `Networks::attach` and `release` do, one public piece at a time, each timed.
fn steps(volt: &Networks, network: &str, w: &str, ns: &Path, s: &mut Samples) -> Result<()> {
    // A full re-apply of the nft table, for scale (not in the totals: `ensure` does it only
    // when a bridge had to be re-made).
    let t0 = Instant::now();
    volt.sync_rules()?;
    s.add("step nft alone", t0);
    let t0 = Instant::now();
    let c = volt.ensure(network)?;
    let t = s.add("step ensure", t0);
    let ipam = Ipam::new(volt.dir().join(network));
    let addr = ipam.allocate(w)?;
    let t = s.add("step allocate", t);
    let host_if = host_ifname(network, w);
    block_on(async {
        let nl = Netlink::connect()?;
        if nl.index(&host_if).await?.is_some() {
            return Ok(());
        }
        nl.attach_veth(&c.bridge, &host_if, ns, "eth0", addr, c.subnet.prefix(), Some(c.gateway)).await
    })?;
    s.add("step veth", t);
    s.add("step attach total", t0);
    let t0 = Instant::now();
    volt.unplug(network, w)?;
    let t = s.add("step unplug", t0);
    ipam.release(w)?;
    let t = s.add("step lease release", t);
    volt.sync_rules()?;
    s.add("step nft sync", t);
    s.add("step release total", t0);
    Ok(())
}

fn veth_probe(ns_dir: &Path, rounds: usize) -> Result<()> {
    use futures_util::TryStreamExt;
    use rtnetlink::packet_route::link::{InfoData, InfoVeth};
    use rtnetlink::{LinkMessageBuilder, LinkUnspec, LinkVeth};
    use std::os::fd::AsRawFd;
    let mut s = Samples::default();
    block_on(async {
        let (conn, h, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        let index = |name: &str| {
            let h = h.clone();
            let name = name.to_string();
            async move {
                let m = h.link().get().match_name(name.clone()).execute().try_next().await?;
                m.map(|m| m.header.index).with_context(|| format!("no link {name}"))
            }
        };
        for r in 0..rounds + 2 {
            for k in 0..2 {
                let ns_path = ns_dir.join(format!("probe{r}-{k}"));
                volt_net::netns::create(&ns_path)?;
                let ns = std::fs::File::open(&ns_path)?;
                let host = format!("vprobe{k}");
                let t = Instant::now();
                let label = if (r + k) % 2 == 0 {
                    h.link().add(LinkVeth::new(&host, &format!("{host}p")).build()).execute().await?;
                    let p = index(&format!("{host}p")).await?;
                    h.link()
                        .set(LinkUnspec::new_with_index(p).setns_by_fd(ns.as_raw_fd()).name("eth0".into()).build())
                        .execute()
                        .await?;
                    "host then move"
                } else {
                    let peer =
                        LinkMessageBuilder::<LinkUnspec>::new().name("eth0".into()).setns_by_fd(ns.as_raw_fd()).build();
                    let m = LinkVeth::new(&host, "unused").set_info_data(InfoData::Veth(InfoVeth::Peer(peer))).build();
                    h.link().add(m).execute().await?;
                    "peer made in netns"
                };
                let t = s.add(label, t);
                let i = index(&host).await?;
                h.link().del(i).execute().await?;
                s.add(if label == "host then move" { "delete (moved)" } else { "delete (made in netns)" }, t);
                drop(ns);
                volt_net::netns::remove(&ns_path)?;
            }
            if r < 2 {
                s.0.clear(); // warm-up
            }
        }
        Ok::<_, anyhow::Error>(())
    })?;
    println!("veth probe: median of {rounds} of each, alternated (kernel work through netlink only)");
    for k in ["host then move", "peer made in netns", "delete (moved)", "delete (made in netns)"] {
        println!("  {k:44} {:7.2} ms   (p10 {:.2}, p90 {:.2})", s.median(k), s.pct(k, 10.0), s.pct(k, 90.0));
    }
    Ok(())
}

// ---- DNS load -----------------------------------------------------------------------------

fn query_bytes(name: &str) -> Result<Vec<u8>> {
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::{Name, RecordType};
    let mut m = Message::new();
    m.set_id(0)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(Name::from_ascii(format!("{name}."))?, RecordType::A));
    Ok(m.to_vec()?)
}

#[derive(Default)]
struct LoadStats {
    ok: u64,
    bad: u64,
    timeouts: u64,
    lat_us: Vec<u32>,
}

/// One closed-loop client: one query in flight, a random name each time.
async fn client(
    server: SocketAddr,
    queries: std::sync::Arc<Vec<Vec<u8>>>,
    until: Instant,
    max: Option<u64>,
    seed: u64,
    record: bool,
) -> std::io::Result<LoadStats> {
    let sock = tokio::net::UdpSocket::bind("0.0.0.0:0").await?;
    sock.connect(server).await?;
    let mut st = LoadStats::default();
    let mut x = seed | 1;
    let mut id: u16 = (seed as u16).wrapping_mul(7919);
    let mut buf = [0u8; 1500];
    let mut sent = 0u64;
    while Instant::now() < until && max.is_none_or(|m| sent < m) {
        sent += 1;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut q = queries[(x % queries.len() as u64) as usize].clone();
        id = id.wrapping_add(1);
        q[..2].copy_from_slice(&id.to_be_bytes());
        let t = Instant::now();
        sock.send(&q).await?;
        let got = tokio::time::timeout(Duration::from_secs(1), async {
            loop {
                let n = sock.recv(&mut buf).await?;
                if n >= 12 && buf[..2] == id.to_be_bytes() {
                    return Ok::<_, std::io::Error>(n);
                }
            }
        })
        .await;
        match got {
            Err(_) => st.timeouts += 1,
            Ok(Err(e)) => return Err(e),
            Ok(Ok(_)) => {
                let rcode = buf[3] & 0x0f;
                let answers = u16::from_be_bytes([buf[6], buf[7]]);
                if rcode == 0 && answers >= 1 {
                    st.ok += 1;
                    if record {
                        st.lat_us.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    }
                } else {
                    st.bad += 1;
                }
            }
        }
    }
    Ok(st)
}

fn dns_load(
    server: SocketAddr,
    prefix: &str,
    count: usize,
    concurrency: usize,
    seconds: f64,
    warmup: f64,
) -> Result<()> {
    let queries: Vec<Vec<u8>> = (0..count).map(|i| query_bytes(&format!("{prefix}{i}"))).collect::<Result<_>>()?;
    let queries = std::sync::Arc::new(queries);
    // One client thread: the server keeps the other core.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        // Every name once (a name that does not resolve stops the run here), then the warm-up.
        for (i, q) in queries.iter().enumerate() {
            let one = std::sync::Arc::new(vec![q.clone()]);
            let st = client(server, one, Instant::now() + Duration::from_secs(5), Some(1), i as u64, false).await?;
            if st.ok != 1 {
                bail!(
                    "{prefix}{i} did not resolve at {server} (ok {}, bad {}, timeouts {})",
                    st.ok,
                    st.bad,
                    st.timeouts
                );
            }
        }
        let mut set = tokio::task::JoinSet::new();
        let until = Instant::now() + Duration::from_secs_f64(warmup);
        for c in 0..concurrency {
            set.spawn(client(server, queries.clone(), until, None, 0x9e37_79b9 * (c as u64 + 1), false));
        }
        while let Some(r) = set.join_next().await {
            r??;
        }
        let start = Instant::now();
        let until = start + Duration::from_secs_f64(seconds);
        for c in 0..concurrency {
            set.spawn(client(server, queries.clone(), until, None, 0x85eb_ca6b * (c as u64 + 1), true));
        }
        let mut all = LoadStats::default();
        while let Some(r) = set.join_next().await {
            let st = r??;
            all.ok += st.ok;
            all.bad += st.bad;
            all.timeouts += st.timeouts;
            all.lat_us.extend(st.lat_us);
        }
        let secs = start.elapsed().as_secs_f64();
        all.lat_us.sort_unstable();
        let p = |q: f64| {
            if all.lat_us.is_empty() {
                return 0.0;
            }
            let i = ((q / 100.0) * (all.lat_us.len() - 1) as f64).round() as usize;
            all.lat_us[i] as f64 / 1000.0
        };
        println!(
            "{}",
            serde_json::json!({
                "server": server.to_string(), "names": count, "concurrency": concurrency, "seconds": secs,
                "ok": all.ok, "bad": all.bad, "timeouts": all.timeouts,
                "qps": all.ok as f64 / secs,
                "p50_ms": p(50.0), "p90_ms": p(90.0), "p99_ms": p(99.0), "p999_ms": p(99.9),
                "max_ms": all.lat_us.last().map_or(0.0, |v| *v as f64 / 1000.0),
            })
        );
        Ok(())
    })
}
