//! The `volt-supervisor` modes for VMs.

use super::*;

/// `volt-supervisor vm JSON`: detach and supervise one VM. `volt-supervisor vm-run FILE`: the
/// same in the foreground with the arguments from a file (a unit's ExecStart). `volt-supervisor
/// kvm-probe`: run a vCPU once (the accelerator probe's first stage).
pub fn supervisor_main(args: &[String]) -> i32 {
    match args.first().map(String::as_str) {
        Some("kvm-probe") => match volt_vm::accel::probe_kvm_in_process() {
            Ok(()) => {
                println!("ok");
                0
            }
            Err(e) => {
                println!("error: {e}");
                1
            }
        },
        Some("vm") => {
            let Some(json) = args.get(1) else {
                eprintln!("volt-supervisor vm: started by Volt to run one VM; not meant to be run by hand");
                return 2;
            };
            let Some(a) = crate::supervise::mode_args::<vsup::SupervisorArgs>("volt-supervisor vm", json) else {
                return 2;
            };
            // QEMU must not inherit the report pipe or the run lock.
            let keep: Vec<i32> = [a.ready_fd, Some(crate::supervise::RUN_LOCK_FD)].into_iter().flatten().collect();
            match crate::supervise::detach(&keep) {
                Err(_) => return 1,
                Ok(false) => return 0,
                Ok(true) => {}
            }
            vsup::run(a)
        }
        Some("vm-run") => {
            let Some(path) = args.get(1) else {
                eprintln!("volt-supervisor vm-run: needs the VM's run.json");
                return 2;
            };
            let a: vsup::SupervisorArgs = match fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("volt-supervisor vm-run: {path}: {e}");
                    return 2;
                }
            };
            let lock = match take_run_lock(&a.dir) {
                Ok(Some(l)) => l,
                Ok(None) => {
                    eprintln!("volt-supervisor vm-run: the VM is running already");
                    return 1;
                }
                Err(e) => {
                    eprintln!("volt-supervisor vm-run: {}", e.chain());
                    return 1;
                }
            };
            let code = vsup::run(vsup::SupervisorArgs { ready_fd: None, ..a });
            drop(lock);
            code
        }
        _ => {
            eprintln!("volt-supervisor: unknown mode");
            2
        }
    }
}
