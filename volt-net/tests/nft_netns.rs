//! The ruleset applied by the real nft, inside a network namespace made for the test (never the
//! host's): the table appears as planned, a re-apply replaces it whole, a bad plan changes
//! nothing, and removal leaves no table behind.

mod common;

use std::process::Command;

use common::{in_private_netns, usable};
use volt_net::nft::{Forward, NetRules, Proto, Ruleset};

/// Applied, replaced, refused and removed with the real nft, in a namespace of the test's own.
#[test]
fn ruleset_applies_atomically_in_a_private_netns() {
    // In a namespace of our own (only lo), so the host's tables are out of reach.
    if !usable() || !in_private_netns("ruleset_applies_atomically_in_a_private_netns") {
        return;
    }
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
            gateway: Some("10.88.0.1".parse().unwrap()),
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
