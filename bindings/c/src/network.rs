//! Networks: `volt_network_*` on a store handle (create, list, inspect, delete, the firewall's
//! allowances, re-applying the rules) and `volt_container_connect`/`volt_container_disconnect`.
//! Options and records cross as JSON strings, as for containers.

use std::ffi::c_char;

use serde::Deserialize;
use volt_core::network::NetworkOptions;

use crate::error::{volt_error_t, Result};
use crate::store::{store_and_name, store_arg, volt_store_t, write_json};
use crate::{arg_opt_str, arg_str, check_out};

/// The options object of `volt_network_create`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Options {
    subnet: Option<String>,
    gateway: Option<String>,
    internal: bool,
    mesh: bool,
    dns_upstreams: Option<Vec<String>>,
}

/// Parse the options JSON (NULL or `""`: no options) into the SDK's network options.
fn network_options(json: Option<&str>) -> Result<NetworkOptions> {
    let o: Options = match json.map(str::trim) {
        None | Some("") => Options::default(),
        Some(text) => serde_json::from_str(text).map_err(|e| volt_error_t::usage(format!("options: {e}")))?,
    };
    let mut opts = NetworkOptions::default();
    opts.subnet = o.subnet;
    opts.gateway = o.gateway;
    opts.internal = o.internal;
    opts.mesh = o.mesh;
    opts.dns_upstreams = o.dns_upstreams;
    Ok(opts)
}

/// Create network `name` (1 to 15 of `a-z 0-9 - _`, starting with a letter or digit; also the
/// bridge's interface name): its bridge with the gateway address, NAT, nftables rules and a DNS
/// server for its workloads' names (a `volt-supervisor dns` process). `options` is NULL or a
/// JSON object with any of: `"subnet"` (`"10.89.0.0/24"`; default: the first free /24 of
/// `networks.subnet_pool`), `"gateway"` (an address in the subnet, only with `"subnet"`;
/// default: its first host), `"internal"` (bool: no way out), `"mesh"` (bool) and
/// `"dns_upstreams"` (array of `"IP[:PORT]"`; default: `networks.dns_upstreams`). Needs root and
/// the `nft` program. An unknown key, a bad name, subnet or gateway is `VOLT_ERR_USAGE`; a taken
/// name `VOLT_ERR_ALREADY_EXISTS`; a subnet overlapping another network or the host's
/// `VOLT_ERR_CONFLICT`. On success `*json_out` receives the network record (`{"name","bridge",
/// "subnet","gateway","internal","mesh","dns_upstreams","created","endpoints","dns_pid"}`), to
/// free with `volt_string_free`. A failed create leaves nothing behind.
///
/// # Safety
/// `store` is NULL or a live handle; `name` and `options` are NULL or NUL-terminated strings;
/// `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_network_create(
    store: *const volt_store_t,
    name: *const c_char,
    options: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (name, options) = unsafe { (arg_str(name, "name")?, arg_opt_str(options, "options")?) };
        check_out(json_out, "json_out")?;
        let opts = network_options(options)?;
        let info = store.volt().networks().create(name, &opts)?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &info) }
    })
}

/// List all networks, sorted by name. On success `*json_out` receives an array of network
/// records, to free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_network_list(
    store: *const volt_store_t,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        check_out(json_out, "json_out")?;
        let list = store.volt().networks().list()?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &list) }
    })
}

/// Describe network `name` with the workloads holding an address on it (`"endpoints"`:
/// `[{"workload","address"}]`; leases of workloads that are gone are given back first) and its
/// DNS server's pid (`"dns_pid"`, null when none runs). On success `*json_out` receives the
/// network record, to free with `volt_string_free`. An unknown network is `VOLT_ERR_NOT_FOUND`,
/// a malformed name `VOLT_ERR_USAGE`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `json_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_network_inspect(
    store: *const volt_store_t,
    name: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle and `name` NULL or a
        // NUL-terminated string.
        let (store, name) = unsafe { store_and_name(store, name) }?;
        check_out(json_out, "json_out")?;
        let info = store.volt().networks().inspect(name)?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &info) }
    })
}

/// Delete network `name`: its DNS server, bridge, rules (and the firewall allowances naming it)
/// and files. A network a container is still on is `VOLT_ERR_CONFLICT` (delete or disconnect
/// the container first); an unknown one `VOLT_ERR_NOT_FOUND`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn volt_network_delete(store: *const volt_store_t, name: *const c_char) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle and `name` NULL or a
        // NUL-terminated string.
        let (store, name) = unsafe { store_and_name(store, name) }?;
        store.volt().networks().delete(name)?;
        Ok(())
    })
}

/// Allow traffic from `from` to `to`, each a network or a container on one (different networks
/// are denied to each other by default), optionally only to port `port` (`"PORT[/tcp|udp]"`,
/// NULL: every port). Allowing twice changes nothing. On success `*json_out`, unless NULL,
/// receives the rule (`{"from","to","port"}`, `port` as `"80/tcp"` or null), to free with
/// `volt_string_free`. An unknown network or container is `VOLT_ERR_NOT_FOUND`, a bad port
/// `VOLT_ERR_USAGE`.
///
/// # Safety
/// `store` is NULL or a live handle; `from`, `to` and `port` are NULL or NUL-terminated
/// strings; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_network_firewall_allow(
    store: *const volt_store_t,
    from: *const c_char,
    to: *const c_char,
    port: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (from, to, port) = unsafe { (arg_str(from, "from")?, arg_str(to, "to")?, arg_opt_str(port, "port")?) };
        let rule = store.volt().networks().firewall_allow(from, to, port)?;
        if json_out.is_null() {
            return Ok(());
        }
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &rule) }
    })
}

/// Remove the allowance from `from` to `to` for `port` (NULL: the one for every port), so the
/// default applies again. No such rule is `VOLT_ERR_NOT_FOUND`.
///
/// # Safety
/// `store` is NULL or a live handle; `from`, `to` and `port` are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn volt_network_firewall_deny(
    store: *const volt_store_t,
    from: *const c_char,
    to: *const c_char,
    port: *const c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (from, to, port) = unsafe { (arg_str(from, "from")?, arg_str(to, "to")?, arg_opt_str(port, "port")?) };
        store.volt().networks().firewall_deny(from, to, port)?;
        Ok(())
    })
}

/// The firewall's allowances. On success `*json_out` receives an array of `{"from","to","port"}`,
/// to free with `volt_string_free`.
///
/// # Safety
/// `store` is NULL or a live handle; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_network_firewall_list(
    store: *const volt_store_t,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        check_out(json_out, "json_out")?;
        let rules = store.volt().networks().firewall_rules()?;
        // SAFETY: `json_out` is non-NULL (checked) and writable by the caller's guarantee.
        unsafe { write_json(json_out, &rules) }
    })
}

/// Re-apply nftables table `ip volt` (networks, port forwards, allowances) from the stored
/// state, e.g. after a reboot or `nft flush ruleset`. `nft` refusing it is `VOLT_ERR_NETWORK`.
///
/// # Safety
/// `store` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn volt_network_sync_rules(store: *const volt_store_t) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        store.volt().networks().sync_rules()?;
        Ok(())
    })
}

/// Put container `name` on network `network` as its next interface (`eth1`, `eth2`, …; `eth0`
/// for its first network, which has the default route and DNS): an address at once, and the
/// interface at once if the container runs. On success `*json_out`, unless NULL, receives the
/// container record, whose `"endpoints"` (`[{"network","address","interface",
/// "host_interface"}]`) include the new one. Already on that network, or running on the host's
/// network (created without networks), is `VOLT_ERR_CONFLICT`; an unknown container or network
/// `VOLT_ERR_NOT_FOUND`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` and `network` are NULL or NUL-terminated strings;
/// `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_container_connect(
    store: *const volt_store_t,
    name: *const c_char,
    network: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (name, network) = unsafe { (arg_str(name, "name")?, arg_str(network, "network")?) };
        let info = store.containers()?.connect(name, network)?;
        // SAFETY: `json_out` is NULL or writable by the caller's guarantee.
        unsafe { crate::container::write_json_opt(json_out, &info) }
    })
}

/// Take container `name` off network `network`: its interface there, address and DNS name (and,
/// for its first network, all its port forwards). While it runs only its last network can go
/// (interfaces are numbered in network order); stopped, any can, and the others are renumbered
/// at its next start. On success `*json_out`, unless NULL, receives the container record. Not on
/// that network, or a running container's network other than its last, is `VOLT_ERR_CONFLICT`;
/// an unknown container `VOLT_ERR_NOT_FOUND`.
///
/// # Safety
/// `store` is NULL or a live handle; `name` and `network` are NULL or NUL-terminated strings;
/// `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn volt_container_disconnect(
    store: *const volt_store_t,
    name: *const c_char,
    network: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut volt_error_t {
    ffi_panic_boundary!(fallible {
        // SAFETY: the caller guarantees `store` is NULL or a live handle.
        let store = unsafe { store_arg(store) }?;
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (name, network) = unsafe { (arg_str(name, "name")?, arg_str(network, "network")?) };
        let info = store.containers()?.disconnect(name, network)?;
        // SAFETY: `json_out` is NULL or writable by the caller's guarantee.
        unsafe { crate::container::write_json_opt(json_out, &info) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_refuse_unknown_keys() {
        let o = network_options(Some(
            r#"{"subnet":"10.91.0.0/24","gateway":"10.91.0.254","internal":true,"dns_upstreams":["1.1.1.1"]}"#,
        ))
        .unwrap();
        assert_eq!(o.subnet.as_deref(), Some("10.91.0.0/24"));
        assert_eq!(o.gateway.as_deref(), Some("10.91.0.254"));
        assert!(o.internal && !o.mesh);
        assert_eq!(o.dns_upstreams, Some(vec!["1.1.1.1".to_string()]));
        let o = network_options(None).unwrap();
        assert!(o.subnet.is_none() && o.dns_upstreams.is_none() && !o.internal);
        assert!(network_options(Some("  ")).unwrap().subnet.is_none());
        assert!(network_options(Some(r#"{"subnets":"10.0.0.0/24"}"#)).is_err());
        assert!(network_options(Some(r#"{"internal":"yes"}"#)).is_err());
        assert!(network_options(Some("[1,2")).is_err());
    }
}
