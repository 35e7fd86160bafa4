//! The committed `include/volt.h` must be exactly what cbindgen generates from the sources, so CI
//! fails when an exported signature or doc comment changes without the header being updated.

use std::path::Path;

include!("../header.rs");

#[test]
fn committed_header_is_up_to_date() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bindings = generate_header(crate_dir);
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("header is UTF-8");

    let path = crate_dir.join("include/volt.h");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if generated != committed {
        let line = generated.lines().zip(committed.lines()).position(|(a, b)| a != b).map_or_else(
            || format!("line {}", generated.lines().count().min(committed.lines().count()) + 1),
            |i| format!("line {}", i + 1),
        );
        panic!(
            "{} is out of date (first difference at {line}).\n\
             Regenerate it with:  VOLT_UPDATE_HEADER=1 cargo build -p volt-c\n\
             and commit the result.",
            path.display()
        );
    }
}

/// The Rust-side list of exports (`pub use` in src/lib.rs, for Rust callers of the C API) names
/// every function the header declares, so it cannot fall behind the header as it once did.
#[test]
fn every_header_function_is_in_the_export_list() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header = std::fs::read_to_string(crate_dir.join("include/volt.h")).expect("volt.h");
    let lib = std::fs::read_to_string(crate_dir.join("src/lib.rs")).expect("lib.rs");
    let names_before_paren = |text: &str| -> Vec<String> {
        let mut out = Vec::new();
        for line in text.lines().filter(|l| !l.trim_start().starts_with(['*', '/'])) {
            let mut rest = line;
            while let Some(i) = rest.find("volt_") {
                let tail = &rest[i..];
                let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
                if tail[end..].starts_with('(') && (i == 0 || !rest.as_bytes()[i - 1].is_ascii_alphanumeric()) {
                    out.push(tail[..end].to_string());
                }
                rest = &tail[end..];
            }
        }
        out
    };
    let declared = names_before_paren(&header);
    assert!(declared.len() > 50, "too few functions found in volt.h: {declared:?}");
    let exports: std::collections::BTreeSet<&str> = lib
        .split("pub use ")
        .skip(1)
        .flat_map(|block| {
            block.split(';').next().unwrap_or_default().split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        })
        .filter(|w| w.starts_with("volt_"))
        .collect();
    // Functions defined in lib.rs itself are at the crate root already.
    let defined: Vec<String> =
        names_before_paren(&lib.lines().filter(|l| l.contains("extern \"C\" fn volt_")).collect::<Vec<_>>().join("\n"));
    let missing: Vec<&String> =
        declared.iter().filter(|f| !exports.contains(f.as_str()) && !defined.contains(f)).collect();
    assert!(missing.is_empty(), "declared in volt.h but not re-exported in src/lib.rs: {missing:?}");
}
