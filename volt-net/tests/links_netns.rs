//! Bridges and veth pairs over rtnetlink, for real, inside a network namespace made for the
//! test (`unshare --net`, which has no route out): a bridge with its gateway address, a
//! workload namespace attached by a veth renamed eth0 there, ICMP both ways over the bridge,
//! and nothing left after delete.

mod common;

use std::process::{Command, Stdio};

use common::{in_private_netns, links, usable};
use volt_net::link::Netlink;

#[test]
fn bridge_and_veth_in_a_private_netns() {
    if !usable() || !in_private_netns("bridge_and_veth_in_a_private_netns") {
        return;
    }
    // The workload: a namespace of its own, held by a sleeping process.
    let mut holder = Command::new("unshare")
        .args(["--net", "--", "/bin/busybox", "sleep", "60"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let ns = std::path::PathBuf::from(format!("/proc/{}/ns/net", holder.id()));
    // unshare has to have switched namespaces before we look.
    let me = std::fs::read_link("/proc/self/ns/net").unwrap();
    for _ in 0..200 {
        if std::fs::read_link(&ns).is_ok_and(|l| l != me) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let n = Netlink::connect().unwrap();
        let gw = "10.77.0.1".parse().unwrap();
        let idx = n.ensure_bridge("vtest0", gw, 24).await.unwrap();
        assert_eq!(n.ensure_bridge("vtest0", gw, 24).await.unwrap(), idx, "idempotent");
        n.attach_veth("vtest0", "vh-test", &ns, "eth0", "10.77.0.2".parse().unwrap(), 24, Some(gw)).await.unwrap();
        assert!(n.index("vh-test").await.unwrap().is_some());
        assert!(n.index("vh-testp").await.unwrap().is_none(), "the peer moved into the workload's namespace");

        // ICMP both ways over the bridge.
        let inside = |args: &[&str]| {
            Command::new("nsenter")
                .arg(format!("--net={}", ns.display()))
                .arg("/bin/busybox")
                .args(args)
                .output()
                .unwrap()
        };
        let o = inside(&["ping", "-c", "1", "-W", "3", "10.77.0.1"]);
        assert!(o.status.success(), "workload -> gateway: {}", String::from_utf8_lossy(&o.stdout));
        let o = Command::new("/bin/busybox").args(["ping", "-c", "1", "-W", "3", "10.77.0.2"]).output().unwrap();
        assert!(o.status.success(), "host side -> workload: {}", String::from_utf8_lossy(&o.stdout));
        let o = inside(&["ip", "route"]);
        let routes = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(routes.contains("default via 10.77.0.1 dev eth0"), "{routes}");

        // A failed attach leaves nothing: the bridge does not exist.
        assert!(n
            .attach_veth("nobridge", "vh-bad", &ns, "eth0", "10.77.0.3".parse().unwrap(), 24, Some(gw))
            .await
            .is_err());
        assert!(n.index("vh-bad").await.unwrap().is_none());

        n.delete("vh-test").await.unwrap();
        n.delete("vh-test").await.unwrap();
        n.delete("vtest0").await.unwrap();
    });
    assert_eq!(links(), ["lo"], "links left behind");
    let _ = holder.kill();
    let _ = holder.wait();
}

/// A persistent namespace (bind-mounted nsfs file) with two interfaces, the second without a
/// default route, and a TAP device on the bridge; all gone after removal.
#[test]
fn persistent_netns_two_interfaces_and_tap() {
    if !usable() || !in_private_netns("persistent_netns_two_interfaces_and_tap") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let ns = t.path().join("ns");
    assert!(volt_net::netns::create(&ns).unwrap(), "made");
    assert!(volt_net::netns::is_live(&ns));
    assert!(!volt_net::netns::create(&ns).unwrap(), "idempotent: kept");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let n = Netlink::connect().unwrap();
        n.ensure_bridge("vta", "10.78.0.1".parse().unwrap(), 24).await.unwrap();
        n.ensure_bridge("vtb", "10.79.0.1".parse().unwrap(), 24).await.unwrap();
        n.attach_veth("vta", "vh-a", &ns, "eth0", "10.78.0.2".parse().unwrap(), 24, Some("10.78.0.1".parse().unwrap()))
            .await
            .unwrap();
        n.attach_veth("vtb", "vh-b", &ns, "eth1", "10.79.0.2".parse().unwrap(), 24, None).await.unwrap();
        let o = Command::new("nsenter")
            .arg(format!("--net={}", ns.display()))
            .args(["/bin/busybox", "ip", "-4", "addr"])
            .output()
            .unwrap();
        let addrs = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(addrs.contains("10.78.0.2/24") && addrs.contains("eth0"), "{addrs}");
        assert!(addrs.contains("10.79.0.2/24") && addrs.contains("eth1"), "{addrs}");
        let o = Command::new("nsenter")
            .arg(format!("--net={}", ns.display()))
            .args(["/bin/busybox", "ip", "route"])
            .output()
            .unwrap();
        let routes = String::from_utf8_lossy(&o.stdout).into_owned();
        assert_eq!(routes.matches("default").count(), 1, "{routes}");
        for ip in ["10.78.0.2", "10.79.0.2"] {
            let o = Command::new("/bin/busybox").args(["ping", "-c", "1", "-W", "3", ip]).output().unwrap();
            assert!(o.status.success(), "host -> {ip}");
        }
        // A VM's TAP device, on the bridge and up.
        volt_net::link::create_tap(&n, "vta", "vtap-test").await.unwrap();
        // (/sys shows the host's namespace, so ask over netlink.)
        let o = Command::new("/bin/busybox").args(["ip", "link", "show", "vtap-test"]).output().unwrap();
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(text.contains("master vta") && text.contains(",UP"), "{text}");
        n.delete("vtap-test").await.unwrap();
    });
    // The namespace goes with its veths; the bridges are ours to remove.
    volt_net::netns::remove(&ns).unwrap();
    assert!(!ns.exists());
    volt_net::netns::remove(&ns).unwrap();
    for _ in 0..100 {
        if !links().iter().any(|l| l.starts_with("vh-")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    rt.block_on(async {
        let n = Netlink::connect().unwrap();
        n.delete("vta").await.unwrap();
        n.delete("vtb").await.unwrap();
    });
    assert_eq!(links(), ["lo"], "links left behind");
}
