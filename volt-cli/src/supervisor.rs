//! `volt-supervisor`: started by Volt (never by hand) to keep one workload running where systemd
//! is not PID 1, or to serve a network's names. This is only the argument router; each mode's
//! logic lives with its kind in volt-core:
//!
//! - `volt-supervisor JSON`: one container (`volt_core::container::supervisor`);
//! - `volt-supervisor vm JSON`, `vm-run FILE`, `kvm-probe`: one VM, or the KVM probe
//!   (`volt_core::vm::supervisor_main`);
//! - `volt-supervisor dns JSON`: a network's DNS server (`volt_core::network::dns_main`).

fn route(args: &[String]) -> i32 {
    match args.first().map(String::as_str) {
        Some("vm" | "vm-run" | "kvm-probe") => volt_core::vm::supervisor_main(args),
        Some("dns") => match args.get(1) {
            Some(a) => volt_core::network::dns_main(a),
            None => {
                eprintln!(
                    "volt-supervisor dns: started by Volt to serve a network's names; not meant to be run by hand"
                );
                2
            }
        },
        Some(json) => volt_core::container::supervisor::supervisor_main(json),
        None => {
            eprintln!("volt-supervisor: started by Volt to supervise one workload; not meant to be run by hand");
            2
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(route(&args));
}
