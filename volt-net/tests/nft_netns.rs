//! The ruleset applied by the real nft, inside a network namespace made for the test (never the
//! host's): the table appears as planned, a re-apply replaces it whole, a bad plan changes
//! nothing, and removal leaves no table behind.

use std::process::Command;

use volt_net::nft::{Forward, NetRules, Proto, Ruleset};

fn usable() -> bool {
    let why = if !rustix::process::geteuid().is_root() {
        "network namespaces and nft need root"
    } else if Command::new("nft").arg("--version").output().is_err() {
        "nft is not installed (apt-get install nftables)"
    } else {
        return true;
    };
    assert!(std::env::var_os("CI").is_none(), "CI must run the nft test: {why}");
    eprintln!("SKIP: {why}");
    false
}

/// Run this test binary's child mode inside a fresh network namespace (`unshare --net`).
#[test]
fn ruleset_applies_atomically_in_a_private_netns() {
    if !usable() {
        return;
    }
    if std::env::var_os("VOLT_NFT_CHILD").is_none() {
        let me = std::env::current_exe().unwrap();
        let out = Command::new("unshare")
            .args(["--net", "--"])
            .arg(me)
            .args(["--exact", "ruleset_applies_atomically_in_a_private_netns", "--nocapture"])
            .env("VOLT_NFT_CHILD", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "in the namespace: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
        return;
    }
    // Child: a namespace of our own (only lo), so the host's tables are out of reach.
    // /proc/net/dev follows the network namespace (/sys/class/net follows the mount's).
    let dev = std::fs::read_to_string("/proc/net/dev").unwrap();
    let links: Vec<&str> = dev.lines().skip(2).filter_map(|l| l.split(':').next()).map(str::trim).collect();
    assert_eq!(links, ["lo"], "not in a fresh namespace");
    let list = || {
        String::from_utf8_lossy(&Command::new("nft").args(["list", "ruleset"]).output().unwrap().stdout).into_owned()
    };
    assert!(!list().contains("table ip volt"));

    let mut plan = Ruleset {
        networks: vec![NetRules {
            name: "front".into(),
            bridge: "volt0".into(),
            subnet: "10.88.0.0/24".parse().unwrap(),
            masquerade: true,
            internal: false,
        }],
        forwards: vec![Forward { proto: Proto::Tcp, host_port: 8080, addr: "10.88.0.2".parse().unwrap(), port: 80 }],
        allows: vec![],
    };
    plan.apply().unwrap();
    let r = list();
    assert!(r.contains("table ip volt") && r.contains("dnat to 10.88.0.2:80") && r.contains("masquerade"), "{r}");

    // A second apply replaces the table whole.
    plan.forwards[0].host_port = 9090;
    plan.apply().unwrap();
    let r = list();
    assert!(r.contains("dport 9090") && !r.contains("dport 8080"), "{r}");

    // A plan nft refuses changes nothing (one transaction).
    let mut bad = plan.clone();
    bad.networks[0].subnet = "10.88.0.0/24".parse().unwrap();
    let script = bad.render().replace("masquerade", "masquerade-nonsense");
    let out = Command::new("sh").arg("-c").arg(format!("printf '%s' '{script}' | nft -f -")).output().unwrap();
    assert!(!out.status.success());
    assert_eq!(list(), r, "a failed transaction changed the ruleset");

    volt_net::nft::remove_table().unwrap();
    volt_net::nft::remove_table().unwrap();
    assert!(!list().contains("table ip volt"));
}
