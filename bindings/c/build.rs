//! Generates `volt.h` with cbindgen into `$OUT_DIR/volt.h`; with `VOLT_UPDATE_HEADER=1` it also
//! rewrites the committed `include/volt.h` (tests/header.rs fails when the two differ).

use std::path::PathBuf;

include!("header.rs");

fn main() {
    let crate_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=header.rs");
    println!("cargo:rerun-if-env-changed=VOLT_UPDATE_HEADER");

    let bindings = generate_header(&crate_dir);
    bindings.write_to_file(out_dir.join("volt.h"));
    if std::env::var_os("VOLT_UPDATE_HEADER").is_some_and(|v| v == "1") {
        let committed = crate_dir.join("include/volt.h");
        bindings.write_to_file(&committed);
        println!("cargo:warning=updated {}", committed.display());
    }
}
