//! Shell completions and man pages, generated from the clap definitions.

use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;

pub fn completion(shell: clap_complete::Shell) {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "volt", &mut std::io::stdout());
}

/// Write `volt.1` and one page per subcommand (`volt-cas.1`, `volt-cas-build.1`, …).
pub fn man_pages(dir: &Path) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    write_tree(Cli::command(), "volt", dir, &mut written)?;
    Ok(written)
}

fn write_tree(cmd: clap::Command, name: &str, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    let cmd = cmd.name(name.to_string());
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    let file = dir.join(format!("{name}.1"));
    std::fs::write(&file, buf)?;
    out.push(file.display().to_string());
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        write_tree(sub.clone(), &format!("{name}-{}", sub.get_name()), dir, out)?;
    }
    Ok(())
}
