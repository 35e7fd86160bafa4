//! `volt network …`: each arm calls the SDK's [`Networks`](volt_core::network::Networks) (or
//! [`Containers`](volt_core::container::Containers) for connect/disconnect) and makes a view.

use volt_core::network::{NetworkInfo, NetworkOptions};
use volt_core::{Result, Volt};

use crate::cli::{FirewallCommand, NetworkCommand};
use crate::output::{fields, table, View};

fn info_view(i: &NetworkInfo) -> View {
    let c = &i.config;
    let eps: Vec<String> = i.endpoints.iter().map(|e| format!("{} {}", e.workload, e.address)).collect();
    let human = fields(&[
        ("Name", c.name.clone()),
        ("Bridge", c.bridge.clone()),
        ("Subnet", c.subnet.to_string()),
        ("Gateway", c.gateway.to_string()),
        ("Internal", c.internal.to_string()),
        ("Mesh", c.mesh.to_string()),
        ("DNS", i.dns_pid.map_or("not running".into(), |p| format!("{}:53 (pid {p})", c.gateway))),
        ("DNS upstreams", if c.dns_upstreams.is_empty() { "-".into() } else { c.dns_upstreams.join(" ") }),
        ("Workloads", if eps.is_empty() { "-".into() } else { eps.join(", ") }),
        ("Created", c.created.clone()),
    ]);
    View::new(i, human).id(c.name.clone())
}

/// Run one `volt network` command.
pub fn run(volt: &Volt, cmd: NetworkCommand) -> Result<View> {
    let n = volt.networks();
    match cmd {
        NetworkCommand::Create { name, subnet, gateway, internal, mesh, dns_upstream } => {
            let mut o = NetworkOptions::default();
            o.subnet = subnet;
            o.gateway = gateway;
            o.internal = internal;
            o.mesh = mesh;
            o.dns_upstreams = (!dns_upstream.is_empty()).then_some(dns_upstream);
            Ok(info_view(&n.create(&name, &o)?))
        }
        NetworkCommand::List => {
            let list = n.list()?;
            let rows = list
                .iter()
                .map(|i| {
                    vec![
                        i.config.name.clone(),
                        i.config.subnet.to_string(),
                        i.config.gateway.to_string(),
                        i.endpoints.len().to_string(),
                        if i.config.internal { "internal" } else { "nat" }.to_string(),
                    ]
                })
                .collect();
            Ok(View::new(&list, table(&["NAME", "SUBNET", "GATEWAY", "WORKLOADS", "MODE"], rows)))
        }
        NetworkCommand::Inspect { name } => Ok(info_view(&n.inspect(&name)?)),
        NetworkCommand::Delete { names } => {
            for x in &names {
                n.delete(x)?;
            }
            Ok(View::new(&names, names.join("\n") + "\n"))
        }
        NetworkCommand::Connect { network, container } => {
            let i = volt.containers()?.connect(&container, &network)?;
            let addr = i.endpoints.iter().find(|e| e.network == network).and_then(|e| e.address);
            let human = format!("{container} {}\n", addr.map_or("-".into(), |a| a.to_string()));
            Ok(View::new(&i, human).id(container))
        }
        NetworkCommand::Disconnect { network, container } => {
            let i = volt.containers()?.disconnect(&container, &network)?;
            Ok(View::new(&i, format!("{container}\n")).id(container))
        }
        NetworkCommand::Firewall(f) => match f {
            FirewallCommand::Allow { from, to, port } => {
                let r = n.firewall_allow(&from, &to, port.as_deref())?;
                Ok(View::new(
                    &r,
                    format!("allowed {from} -> {to}{}\n", port.map(|p| format!(" port {p}")).unwrap_or_default()),
                ))
            }
            FirewallCommand::Deny { from, to, port } => {
                n.firewall_deny(&from, &to, port.as_deref())?;
                Ok(View::new(&(from.clone(), to.clone()), format!("removed {from} -> {to}\n")))
            }
            FirewallCommand::List => {
                let rules = n.firewall_rules()?;
                let rows = rules
                    .iter()
                    .map(|r| vec![r.from.clone(), r.to.clone(), r.port.clone().unwrap_or_else(|| "any".into())])
                    .collect();
                Ok(View::new(&rules, table(&["FROM", "TO", "PORT"], rows)))
            }
            FirewallCommand::Sync => {
                n.sync_rules()?;
                Ok(View::new(&"synced", "nftables table 'volt' re-applied\n".to_string()))
            }
        },
    }
}
