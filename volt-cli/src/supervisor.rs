//! `volt-supervisor`: started by Volt (never by hand) to keep one container running where systemd
//! is not PID 1. All of its logic is in `volt_core::container::supervisor`.

fn main() {
    std::process::exit(volt_core::container::supervisor::supervisor_main());
}
