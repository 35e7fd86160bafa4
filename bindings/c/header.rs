// Shared by build.rs and tests/header.rs (included with `include!`): how volt.h is generated.

/// Run cbindgen over the crate at `crate_dir` with its `cbindgen.toml`. Parses `src/lib.rs` and
/// the modules it declares; no `cargo metadata` run.
fn generate_header(crate_dir: &std::path::Path) -> cbindgen::Bindings {
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("read cbindgen.toml");
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .expect("generate volt.h")
}
