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
