//! Real networks, each test inside a network namespace it makes first (`unshare --net`, no
//! route out): bridges, veths, nftables table `volt`, the internal DNS server and busybox
//! containers on systemd-nspawn, through the SDK and the `volt` binary. Names resolve between
//! containers, networks are isolated until a firewall rule allows, a port forward reaches a
//! busybox httpd from the host side, 20 parallel creates get 20 addresses, bad input is refused
//! with the reference's exit codes and nothing half-applied, and nothing is left behind.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::Command;
use std::time::Duration;

use common::*;
use volt_core::network::NetworkOptions;
use volt_core::ErrorKind;

/// The namespace's whole ruleset: only Volt's table (`volt_<hash>` for the test's relocated
/// root, see `Networks::table`) may be in the test's private namespace.
fn nft_table() -> String {
    let o = Command::new("nft").args(["list", "ruleset"]).output().unwrap();
    if o.status.success() {
        text(&o.stdout)
    } else {
        String::new()
    }
}

fn json(o: &std::process::Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", text(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// HTTP GET over plain TCP from this (host-side) namespace.
fn http_get(addr: &str, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(3)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Everything gone: only `lo`, no table, no network directories, no DNS server.
fn assert_clean(e: &Env, dns_pids: &[u32]) {
    e.cleanup();
    assert_eq!(links(), ["lo"], "links left behind");
    assert_eq!(nft_table(), "", "nft table left behind");
    let dir = e.volt.networks().dir();
    let left: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().filter(|d| d.path().is_dir()).map(|d| d.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "network directories left: {left:?}");
    for p in dns_pids {
        // Gone, or a zombie its new parent (init) has not reaped yet.
        let st = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        let state = st.rsplit_once(") ").map(|(_, r)| r.chars().next().unwrap_or('X')).unwrap_or('X');
        assert!(matches!(state, 'X' | 'Z'), "DNS server {p} still runs ({state})");
    }
}

fn dns_pid(e: &Env, net: &str) -> u32 {
    e.volt.networks().inspect(net).unwrap().dns_pid.expect("a DNS server runs")
}

#[test]
fn containers_reach_each_other_by_name_and_a_port_forward_reaches_httpd() {
    if !usable() || !in_private_netns("containers_reach_each_other_by_name_and_a_port_forward_reaches_httpd") {
        return;
    }
    let e = Env::new();
    let v = json(&e.cli(&["-o", "json", "network", "create", "front", "--subnet", "10.66.0.0/24"]));
    assert_eq!(v["gateway"], "10.66.0.1");
    let dns = dns_pid(&e, "front");
    // A static site for httpd.
    let site = e.dir.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.html"), "hello from web\n").unwrap();
    let vol = format!("{}:/www:ro", site.display());
    let o = e.cli(&[
        "container",
        "create",
        "web",
        "--image",
        "busybox:1",
        "--network",
        "front",
        "-p",
        "8080:80",
        "-v",
        &vol,
        "--",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mut opts = sh("sleep 300");
    opts.networks = vec!["front".into()];
    e.c().create(Some("client"), "busybox:1", &opts).unwrap();
    for n in ["web", "client"] {
        e.c().start(n).unwrap();
    }

    // inspect shows the address; the network lists both workloads.
    let v = json(&e.cli(&["-o", "json", "container", "inspect", "web"]));
    let web_ip: Ipv4Addr = v["endpoints"][0]["address"].as_str().unwrap().parse().unwrap();
    assert_eq!(v["endpoints"][0]["interface"], "eth0");
    assert!(web_ip.octets()[..3] == [10, 66, 0], "{web_ip}");
    let human = text(&e.cli(&["container", "inspect", "web"]).stdout);
    assert!(human.contains(&format!("front {web_ip} (eth0)")), "{human}");
    let net = e.volt.networks().inspect("front").unwrap();
    let names: BTreeSet<_> = net.endpoints.iter().map(|x| x.workload.as_str()).collect();
    assert_eq!(names, BTreeSet::from(["client", "web"]));

    // By name, short and long, from the other container (busybox wget; DNS on the gateway).
    for url in ["http://web/", "http://web.front.volt/"] {
        eventually(&format!("client fetches {url}"), 15, || {
            let (code, out, _) = e
                .c()
                .exec_output("client", &["wget".into(), "-q".into(), "-O".into(), "-".into(), url.into()])
                .unwrap();
            code == 0 && text(&out).contains("hello from web")
        });
    }
    let (_, out, _) = e.c().exec_output("client", &["nslookup".into(), "client".into()]).unwrap();
    assert!(text(&out).contains("10.66.0."), "{}", text(&out));
    let (_, out, _) = e.c().exec_output("client", &["cat".into(), "/etc/resolv.conf".into()]).unwrap();
    assert!(text(&out).contains("nameserver 10.66.0.1"), "{}", text(&out));

    // The port forward, from the host side: loopback and the host's own address.
    for addr in ["127.0.0.1:8080", "10.66.0.1:8080"] {
        let got = http_get(addr, "/").unwrap_or_default();
        assert!(got.contains("hello from web"), "{addr}: {got:?}");
    }
    let table = nft_table();
    assert!(table.contains(&format!("dnat to {web_ip}:80")), "{table}");
    // Connected to a second network and off it again, live: the forward stays.
    assert!(e.cli(&["network", "create", "side", "--subnet", "10.65.0.0/24"]).status.success());
    let side_dns = dns_pid(&e, "side");
    assert!(e.cli(&["network", "connect", "side", "web"]).status.success());
    assert!(http_get("127.0.0.1:8080", "/").unwrap_or_default().contains("hello from web"));
    assert!(e.cli(&["network", "disconnect", "side", "web"]).status.success());
    assert!(e.cli(&["network", "rm", "side"]).status.success());
    assert_eq!(nft_table(), table, "the table is as before");
    // And from outside the host: a client namespace on another link (not a Volt network)
    // reaches the forward on the host's address there (prerouting DNAT, then forward).
    let outside = e.dir.path().join("outside-ns");
    volt_core::net::netns::create(&outside).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let n = volt_core::net::link::Netlink::connect().unwrap();
        n.ensure_bridge("ext0", "192.168.77.1".parse().unwrap(), 24).await.unwrap();
        n.attach_veth("ext0", "vext0", &outside, "eth0", "192.168.77.2".parse().unwrap(), 24, None).await.unwrap();
    });
    eventually("an outside client reaches the forward", 10, || {
        let o = Command::new("nsenter")
            .arg(format!("--net={}", outside.display()))
            .args(["/bin/busybox", "timeout", "3", "wget", "-q", "-O", "-", "http://192.168.77.1:8080/"])
            .output()
            .unwrap();
        text(&o.stdout).contains("hello from web")
    });
    // The kernel frees a namespace (and its veths) asynchronously: delete the host end first.
    rt.block_on(async {
        let n = volt_core::net::link::Netlink::connect().unwrap();
        n.delete("vext0").await.unwrap();
        n.delete("ext0").await.unwrap();
    });
    volt_core::net::netns::remove(&outside).unwrap();

    // Deleting the network while in use: refused, nothing changed.
    let o = e.cli(&["network", "delete", "front"]);
    assert_eq!(code(&o), 9, "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("in use"), "{}", text(&o.stderr));
    assert_eq!(nft_table(), table);

    // Deleting web removes its veth, lease, DNS name and forward.
    let host_if = v["endpoints"][0]["host_interface"].as_str().unwrap().to_string();
    assert!(links().contains(&host_if));
    assert!(e.cli(&["container", "delete", "-f", "web"]).status.success());
    assert!(!links().contains(&host_if), "veth left");
    let table = nft_table();
    assert!(!table.contains("dnat"), "forward left: {table}");
    assert!(e.volt.networks().inspect("front").unwrap().endpoints.iter().all(|x| x.workload != "web"));
    let (code_, _, _) = e.c().exec_output("client", &["nslookup".into(), "web".into()]).unwrap();
    assert_ne!(code_, 0, "web still resolves");
    assert!(http_get("127.0.0.1:8080", "/").is_none_or(|r| !r.contains("hello")));

    e.c().delete("client", true).unwrap();
    assert!(e.cli(&["network", "rm", "front"]).status.success());
    assert_clean(&e, &[dns, side_dns]);
}

#[test]
fn networks_are_isolated_until_a_firewall_rule_allows() {
    if !usable() || !in_private_netns("networks_are_isolated_until_a_firewall_rule_allows") {
        return;
    }
    let e = Env::new();
    let n = e.volt.networks();
    let mut o = NetworkOptions::default();
    o.subnet = Some("10.67.0.0/24".into());
    n.create("front", &o).unwrap();
    assert!(e.cli(&["network", "create", "back", "--subnet", "10.68.0.0/24"]).status.success());
    let dns = [dns_pid(&e, "front"), dns_pid(&e, "back")];
    let mut web = sh("echo up > /tmp/index.html; exec httpd -f -p 80 -h /tmp");
    web.networks = vec!["front".into()];
    e.c().create(Some("web"), "busybox:1", &web).unwrap();
    let mut db = sh("sleep 300");
    db.networks = vec!["back".into()];
    e.c().create(Some("db"), "busybox:1", &db).unwrap();
    e.c().start("web").unwrap();
    e.c().start("db").unwrap();
    let web_ip = e.c().inspect("web").unwrap().endpoints[0].address.unwrap();

    let fetch = |url: &str| {
        let argv: Vec<String> = ["timeout", "3", "wget", "-q", "-O", "-", url].iter().map(|s| s.to_string()).collect();
        let (c, out, _) = e.c().exec_output("db", &argv).unwrap();
        c == 0 && text(&out).contains("up")
    };
    let by_ip = format!("http://{web_ip}/");
    // The full name resolves across networks; the traffic is dropped.
    let (_, out, _) = e.c().exec_output("db", &["nslookup".into(), "web.front.volt".into()]).unwrap();
    assert!(text(&out).contains(&web_ip.to_string()), "{}", text(&out));
    assert!(!fetch(&by_ip), "different networks must not reach each other by default");

    // Network to network.
    let o = e.cli(&["network", "firewall", "allow", "back", "front"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    eventually("db reaches web once allowed", 10, || fetch(&by_ip));
    assert!(fetch("http://web.front.volt/"));
    let rules = json(&e.cli(&["-o", "json", "network", "firewall", "list"]));
    assert_eq!(rules[0]["from"], "back");
    // Removed: denied again.
    assert!(e.cli(&["network", "firewall", "deny", "back", "front"]).status.success());
    assert!(!fetch(&by_ip));

    // Workload to workload, one port.
    n.firewall_allow("db", "web", Some("80/tcp")).unwrap();
    assert!(fetch(&by_ip));
    n.firewall_deny("db", "web", Some("80/tcp")).unwrap();
    assert!(!fetch(&by_ip));
    // Another port only: still denied.
    n.firewall_allow("db", "web", Some("81")).unwrap();
    assert!(!fetch(&by_ip));

    // Connect db to front as well, live: eth1 appears and reaches web directly.
    let o = e.cli(&["network", "connect", "front", "db"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (_, out, _) = e.c().exec_output("db", &["ip".into(), "-4".into(), "addr".into()]).unwrap();
    assert!(text(&out).contains("eth1") && text(&out).contains("10.67.0."), "{}", text(&out));
    assert!(fetch(&by_ip));
    let i = e.c().inspect("db").unwrap();
    assert_eq!(i.endpoints.len(), 2);
    assert_eq!(i.endpoints[1].interface, "eth1");
    // eth0 (back) cannot go while eth1 stays and the container runs.
    let o = e.cli(&["network", "disconnect", "back", "db"]);
    assert_eq!(code(&o), 9, "{}", text(&o.stderr));
    let o = e.cli(&["network", "disconnect", "front", "db"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (_, out, _) = e.c().exec_output("db", &["ip".into(), "-4".into(), "addr".into()]).unwrap();
    assert!(!text(&out).contains("eth1"), "{}", text(&out));
    assert!(!fetch(&by_ip));

    // A deleted workload's allowances go with it (a later one of that name gets none).
    assert_eq!(n.firewall_rules().unwrap().len(), 1);
    e.c().delete("db", true).unwrap();
    assert!(n.firewall_rules().unwrap().is_empty(), "{:?}", n.firewall_rules());
    assert_clean(&e, &dns);
}

#[test]
fn twenty_parallel_creates_get_twenty_addresses() {
    if !usable() || !in_private_netns("twenty_parallel_creates_get_twenty_addresses") {
        return;
    }
    let e = Env::new();
    let mut o = NetworkOptions::default();
    o.subnet = Some("10.69.0.0/24".into());
    e.volt.networks().create("busy", &o).unwrap();
    let dns = dns_pid(&e, "busy");
    let addrs: Vec<Ipv4Addr> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..20)
            .map(|i| {
                let e = &e;
                s.spawn(move || {
                    let mut o = sh("sleep 300");
                    o.networks = vec!["busy".into()];
                    let info = e.c().create(Some(&format!("c{i}")), "busybox:1", &o).unwrap();
                    info.endpoints[0].address.unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let distinct: BTreeSet<_> = addrs.iter().collect();
    assert_eq!(distinct.len(), 20, "{addrs:?}");
    assert!(addrs.iter().all(|a| a.octets()[..3] == [10, 69, 0] && a.octets()[3] > 1));
    assert_eq!(e.volt.networks().inspect("busy").unwrap().endpoints.len(), 20);
    // Two of them started: they get the address they were given.
    for n in ["c3", "c17"] {
        e.c().start(n).unwrap();
        let want = e.c().inspect(n).unwrap().endpoints[0].address.unwrap();
        let (_, out, _) =
            e.c().exec_output(n, &["ip".into(), "-4".into(), "addr".into(), "show".into(), "eth0".into()]).unwrap();
        assert!(text(&out).contains(&format!("{want}/24")), "{}", text(&out));
    }
    // Deleted in parallel: every lease comes back.
    std::thread::scope(|s| {
        for i in 0..20 {
            let e = &e;
            s.spawn(move || e.c().delete(&format!("c{i}"), true).unwrap());
        }
    });
    assert!(e.volt.networks().inspect("busy").unwrap().endpoints.is_empty());
    assert_clean(&e, &[dns]);
}

#[test]
fn bad_input_is_refused_and_nothing_is_half_applied() {
    if !usable() || !in_private_netns("bad_input_is_refused_and_nothing_is_half_applied") {
        return;
    }
    let e = Env::new();
    let run = |args: &[&str]| {
        let o = e.cli(args);
        (code(&o), text(&o.stderr))
    };
    assert_eq!(run(&["network", "create", "front", "--subnet", "10.71.0.0/24"]).0, 0);
    let dns = dns_pid(&e, "front");
    for (args, want) in [
        (&["network", "create", "x", "--subnet", "10.300.0.0/24"][..], 2),
        (&["network", "create", "x", "--subnet", "10.71.0.0/33"], 2),
        (&["network", "create", "x", "--subnet", "10.71.0.5/24"], 2),
        (&["network", "create", "x", "--subnet", "10.72.0.0/24", "--gateway", "10.99.0.1"], 2),
        (&["network", "create", "Bad!"], 2),
        (&["network", "create", "x", "--subnet", "10.71.0.128/25"], 9),
        (&["network", "create", "front"], 4),
        (&["network", "inspect", "nosuch"], 3),
        (&["network", "delete", "nosuch"], 3),
        (&["network", "firewall", "allow", "front", "nosuch"], 3),
        (&["network", "firewall", "deny", "front", "front"], 3),
    ] {
        let (c, err) = run(args);
        assert_eq!(c, want, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
    }
    let (_, err) = run(&["network", "create", "x", "--subnet", "10.71.0.128/25"]);
    assert!(err.contains("overlaps network front"), "{err}");
    assert!(e.volt.networks().inspect("x").is_err(), "a refused network is not kept");

    // Container side.
    assert_eq!(
        run(&[
            "container",
            "create",
            "a",
            "--image",
            "busybox:1",
            "--network",
            "front",
            "-p",
            "8080:80",
            "--",
            "sleep",
            "9"
        ])
        .0,
        0
    );
    let before = nft_table();
    let leases = e.volt.networks().inspect("front").unwrap().endpoints;
    for (args, want) in [
        (
            &["container", "create", "b", "--image", "busybox:1", "--network", "front", "-p", "8080:81", "--", "true"]
                [..],
            9,
        ),
        (&["container", "create", "b", "--image", "busybox:1", "--network", "nosuch", "--", "true"], 3),
        (
            &["container", "create", "b", "--image", "busybox:1", "--network", "front", "-p", "80:99999", "--", "true"],
            2,
        ),
        (&["container", "create", "b", "--image", "busybox:1", "-p", "8081:80", "--", "true"], 2),
        (
            &[
                "container",
                "create",
                "b",
                "--image",
                "busybox:1",
                "--network",
                "front",
                "--network",
                "front",
                "--",
                "true",
            ],
            2,
        ),
        (&["network", "connect", "nosuch", "a"], 3),
        (&["network", "connect", "front", "a"], 9),
        (&["network", "disconnect", "front", "nosuch"], 3),
    ] {
        let (c, err) = run(args);
        assert_eq!(c, want, "{args:?}: {err}");
    }
    let (_, err) =
        run(&["container", "create", "b", "--image", "busybox:1", "--network", "front", "-p", "8080:81", "--", "true"]);
    assert!(err.contains("8080:81/tcp is forwarded to a already"), "{err}");
    assert_eq!(nft_table(), before, "a refused create changed the rules");
    assert_eq!(e.volt.networks().inspect("front").unwrap().endpoints, leases, "a refused create kept an address");
    assert_eq!(e.c().inspect("b").unwrap_err().kind(), ErrorKind::NotFound, "a refused create kept its record");
    assert_eq!(run(&["network", "delete", "front"]).0, 9);
    assert_clean(&e, &[dns]);
}

#[test]
fn the_network_and_runtime_traits_drive_networks() {
    if !usable() || !in_private_netns("the_network_and_runtime_traits_drive_networks") {
        return;
    }
    use volt_core::{Network, NetworkSpec, Runtime, WorkloadSpec};
    let e = Env::new();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let net: std::sync::Arc<dyn Network> = std::sync::Arc::new(e.volt.networks());
    rt.block_on(async {
        net.create(&NetworkSpec { name: "tnet".into(), subnet: "10.73.0.0/24".into() }).await.unwrap();
        let list = net.list().await.unwrap();
        assert_eq!(list, [NetworkSpec { name: "tnet".into(), subnet: "10.73.0.0/24".into() }]);
        // A bare namespace (no container) attached and detached through the trait.
        let ns = e.dir.path().join("ns-raw");
        volt_core::net::netns::create(&ns).unwrap();
        let addr = net.attach("tnet", "raw", &ns).await.unwrap();
        assert_eq!(addr, "10.73.0.2");
        let o = Command::new("nsenter")
            .arg(format!("--net={}", ns.display()))
            .args(["/bin/busybox", "ping", "-c1", "-W3", "10.73.0.1"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o.stdout));
        net.detach("tnet", "raw").await.unwrap();
        volt_core::net::netns::remove(&ns).unwrap();
        // A container through the Runtime trait, on the network.
        let containers: std::sync::Arc<dyn Runtime> = std::sync::Arc::new(e.c());
        let spec: WorkloadSpec = serde_json::from_value(serde_json::json!({
            "name": "tc", "image": "busybox:1", "command": ["sleep", "300"], "networks": ["tnet"]
        }))
        .unwrap();
        containers.create(&spec).await.unwrap();
        containers.start("tc").await.unwrap();
        let (_, out, _) =
            e.c().exec_output("tc", &["ping".into(), "-c1".into(), "-W3".into(), "10.73.0.1".into()]).unwrap();
        assert!(text(&out).contains("1 packets received"), "{}", text(&out));
        containers.delete("tc").await.unwrap_err(); // running: refused
        containers.stop("tc", 1).await.unwrap();
        containers.delete("tc").await.unwrap();
        net.delete("tnet").await.unwrap();
    });
    assert_clean(&e, &[]);
}

#[test]
fn kernel_state_lost_in_a_reboot_is_remade_from_the_files() {
    if !usable() || !in_private_netns("kernel_state_lost_in_a_reboot_is_remade_from_the_files") {
        return;
    }
    let e = Env::new();
    assert!(e.cli(&["network", "create", "front", "--subnet", "10.74.0.0/24"]).status.success());
    let mut o = sh("sleep 300");
    o.networks = vec!["front".into()];
    o.ports = vec!["9090:90".parse().unwrap()];
    e.c().create(Some("c"), "busybox:1", &o).unwrap();
    e.c().start("c").unwrap();
    let addr = e.c().inspect("c").unwrap().endpoints[0].address.unwrap();
    e.c().stop("c", Some(1)).unwrap();
    // What a reboot takes: the bridge, the table, the DNS server, the namespace mount.
    let old_dns = dns_pid(&e, "front");
    assert!(Command::new("/bin/busybox").args(["ip", "link", "del", "front"]).status().unwrap().success());
    let table = e.volt.networks().table();
    assert!(table.starts_with("volt_"), "a relocated root has a table of its own: {table}");
    assert!(Command::new("nft").args(["delete", "table", "ip", &table]).status().unwrap().success());
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(old_dns as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let ns = e.volt.paths().containers_dir().join("c/netns");
    rustix::mount::unmount(&ns, rustix::mount::UnmountFlags::DETACH).unwrap();
    eventually("the DNS server to die", 5, || e.volt.networks().inspect("front").unwrap().dns_pid.is_none());

    e.c().start("c").unwrap();
    assert_eq!(e.c().inspect("c").unwrap().endpoints[0].address, Some(addr), "the same address");
    let (code_, out, _) = e.c().exec_output("c", &["nslookup".into(), "c".into()]).unwrap();
    assert_eq!(code_, 0, "{}", text(&out));
    assert!(text(&out).contains(&addr.to_string()), "{}", text(&out));
    let (code_, _, _) =
        e.c().exec_output("c", &["ping".into(), "-c1".into(), "-W3".into(), "10.74.0.1".into()]).unwrap();
    assert_eq!(code_, 0);
    assert!(nft_table().contains(&format!("dnat to {addr}:90")), "{}", nft_table());
    assert_ne!(dns_pid(&e, "front"), old_dns);
    let dns = dns_pid(&e, "front");
    assert_clean(&e, &[dns]);
}

/// Traffic that is not Volt's is not filtered with Volt installed, and an internal network
/// keeps its workloads inside: two outside namespaces on plain (non-Volt) bridges are routed
/// through this namespace and reach each other and a service here; a container on a NAT
/// network reaches them; one on an internal network reaches only its DNS server.
#[test]
fn host_traffic_is_untouched_and_internal_networks_stay_inside() {
    if !usable() || !in_private_netns("host_traffic_is_untouched_and_internal_networks_stay_inside") {
        return;
    }
    let e = Env::new();
    assert!(e.cli(&["network", "create", "front", "--subnet", "10.75.0.0/24"]).status.success());
    assert!(e.cli(&["network", "create", "vault", "--subnet", "10.76.0.0/24", "--internal"]).status.success());
    let dns = [dns_pid(&e, "front"), dns_pid(&e, "vault")];
    let table = nft_table();
    assert!(table.contains("iifname \"vault\" drop"), "{table}");

    // Two outside hosts, each on a plain bridge of this namespace, routed through it.
    let (a, b) = (e.dir.path().join("ns-a"), e.dir.path().join("ns-b"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let n = volt_core::net::link::Netlink::connect().unwrap();
        for (ns, br, net) in [(&a, "ext1", 81u8), (&b, "ext2", 82)] {
            volt_core::net::netns::create(ns).unwrap();
            let gw: Ipv4Addr = format!("192.168.{net}.1").parse().unwrap();
            n.ensure_bridge(br, gw, 24).await.unwrap();
            let host_if = format!("v{br}");
            let addr = format!("192.168.{net}.2").parse().unwrap();
            n.attach_veth(br, &host_if, ns, "eth0", addr, 24, Some(gw)).await.unwrap();
        }
    });
    let site = e.dir.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.html"), "host service\n").unwrap();
    let mut httpd =
        Command::new("/bin/busybox").args(["httpd", "-f", "-p", "192.168.81.1:8181", "-h"]).arg(&site).spawn().unwrap();
    let from = |ns: &std::path::Path, args: &[&str]| {
        Command::new("nsenter").arg(format!("--net={}", ns.display())).arg("/bin/busybox").args(args).output().unwrap()
    };
    // Not Volt's traffic: forwarded between the plain bridges, and to a service here.
    assert!(from(&a, &["ping", "-c1", "-W3", "192.168.82.2"]).status.success(), "A -> B through this host");
    eventually("A reaches the host's service", 10, || {
        text(&from(&a, &["timeout", "3", "wget", "-q", "-O", "-", "http://192.168.81.1:8181/"]).stdout)
            .contains("host service")
    });

    let mut o = sh("sleep 300");
    o.networks = vec!["front".into()];
    e.c().create(Some("nat"), "busybox:1", &o).unwrap();
    let mut o = sh("sleep 300");
    o.networks = vec!["vault".into()];
    e.c().create(Some("inner"), "busybox:1", &o).unwrap();
    e.c().start("nat").unwrap();
    e.c().start("inner").unwrap();
    let run = |c: &str, args: &[&str]| {
        let argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        e.c().exec_output(c, &argv).unwrap()
    };
    assert_eq!(run("nat", &["ping", "-c1", "-W3", "192.168.82.2"]).0, 0, "a NAT network reaches outside");
    assert_ne!(run("inner", &["ping", "-c1", "-W2", "192.168.82.2"]).0, 0, "an internal network must not");
    let (c, out, _) = run("inner", &["timeout", "3", "wget", "-q", "-O", "-", "http://192.168.81.1:8181/"]);
    assert!(c != 0 && !text(&out).contains("host service"), "an internal network must not reach host services");
    let (c, out, _) = run("inner", &["nslookup", "inner"]);
    assert_eq!(c, 0, "its DNS server is allowed: {}", text(&out));
    assert!(text(&out).contains("10.76.0."), "{}", text(&out));

    let _ = httpd.kill();
    let _ = httpd.wait();
    rt.block_on(async {
        let n = volt_core::net::link::Netlink::connect().unwrap();
        for l in ["vext1", "vext2", "ext1", "ext2"] {
            n.delete(l).await.unwrap();
        }
    });
    for ns in [&a, &b] {
        volt_core::net::netns::remove(ns).unwrap();
    }
    assert_clean(&e, &dns);
}
