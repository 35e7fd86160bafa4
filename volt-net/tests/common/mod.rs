//! Shared by the tests that need a network namespace of their own: the skip rule, and running
//! a test again inside `unshare --net` (only `lo`, no route out).
#![allow(dead_code)]

use std::process::Command;

/// Root, nft and busybox are there; otherwise say why and skip (a failure under CI=true).
pub fn usable() -> bool {
    let why = if !rustix::process::geteuid().is_root() {
        "network namespaces need root"
    } else if !std::path::Path::new("/bin/busybox").exists() {
        "busybox is not installed (apt-get install busybox-static)"
    } else if Command::new("nft").arg("--version").output().is_err() {
        "nft is not installed (apt-get install nftables)"
    } else {
        return true;
    };
    assert!(std::env::var_os("CI").is_none(), "CI must run the namespace tests: {why}");
    eprintln!("SKIP: {why}");
    false
}

/// The interfaces of this namespace (/proc/net/dev follows the reader's namespace; /sys
/// follows the mount's).
pub fn links() -> Vec<String> {
    let dev = std::fs::read_to_string("/proc/net/dev").unwrap();
    dev.lines().skip(2).filter_map(|l| l.split(':').next()).map(|s| s.trim().to_string()).collect()
}

/// Run test `name` of this binary again in a new network namespace. True in that child (a
/// fresh namespace, checked), false in the parent once the child passed.
pub fn in_private_netns(name: &str) -> bool {
    if std::env::var_os("VOLT_NETNS_CHILD").is_some() {
        assert_eq!(links(), ["lo"], "not in a fresh namespace");
        return true;
    }
    let out = Command::new("unshare")
        .args(["--net", "--"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture"])
        .env("VOLT_NETNS_CHILD", "1")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("1 passed"), "in the namespace: {text}");
    false
}
