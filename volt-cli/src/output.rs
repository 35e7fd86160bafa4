//! One renderer for every command: a [`View`] carries the data (printed as JSON or YAML), the
//! human form (tables and key/value lists), and the identifier printed under `--quiet`.

use std::io::Write;

use comfy_table::{presets::NOTHING, Table};
use serde::Serialize;

use crate::cli::Format;

/// What a command produced.
pub struct View {
    pub data: serde_json::Value,
    pub human: String,
    /// Printed alone with `--quiet` (nothing if `None`).
    pub id: Option<String>,
    /// Non-fatal notices for stderr (suppressed by `--quiet`).
    pub notices: Vec<String>,
    /// Exit code after printing (non-zero for e.g. a failed verification).
    pub exit: i32,
}

impl View {
    pub fn new(data: &impl Serialize, human: String) -> Self {
        View {
            data: serde_json::to_value(data).expect("views serialise"),
            human,
            id: None,
            notices: Vec::new(),
            exit: 0,
        }
    }

    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    pub fn notice(mut self, n: impl Into<String>) -> Self {
        self.notices.push(n.into());
        self
    }

    pub fn exit(mut self, code: i32) -> Self {
        self.exit = code;
        self
    }

    /// A view with nothing to show (the command already wrote its output).
    pub fn empty() -> Self {
        View { data: serde_json::Value::Null, human: String::new(), id: None, notices: Vec::new(), exit: 0 }
    }

    pub fn print(&self, format: Format, quiet: bool) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        if !quiet {
            for n in &self.notices {
                eprintln!("notice: {n}");
            }
        }
        if self.data.is_null() && self.human.is_empty() {
            return Ok(());
        }
        match format {
            Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&self.data).expect("json"))?,
            Format::Yaml => write!(out, "{}", serde_yaml::to_string(&self.data).expect("yaml"))?,
            Format::Table if quiet => {
                if let Some(id) = &self.id {
                    writeln!(out, "{id}")?;
                }
            }
            Format::Table => {
                write!(out, "{}", self.human)?;
                if !self.human.ends_with('\n') {
                    writeln!(out)?;
                }
            }
        }
        out.flush()
    }
}

/// Columns with a header row, no borders (like `podman ps`).
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_preset(NOTHING);
    t.set_header(header.iter().map(|h| h.to_uppercase()));
    for r in rows {
        t.add_row(r);
    }
    let s = t.to_string();
    s.lines().map(str::trim_end).collect::<Vec<_>>().join("\n") + "\n"
}

/// `key: value` lines with aligned values.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let w = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs.iter().map(|(k, v)| format!("{k:<w$}  {v}\n")).collect()
}

/// 1536 → "1.5 KiB".
pub fn bytes(n: u64) -> String {
    const U: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_sizes_and_tables() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
        let t = table(&["name", "target"], vec![vec!["a".into(), "b".into()]]);
        assert!(t.contains("NAME") && t.contains('a'));
        assert_eq!(fields(&[("a", "1".into()), ("bbb", "2".into())]), "a    1\nbbb  2\n");
    }
}
