//! Log files of the direct supervisor: one line per output line in the CRI format
//! (`TIME STREAM F|P TEXT`, as kubelet and podman's k8s-file driver write), rotated by size.
//! `F` ends a line; `P` is a piece of a line longer than the buffer, continued by the next entry.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::{Error, Result};

/// The log file name in a container directory.
pub const LOG_FILE: &str = "container.log";

/// One line of output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// When the supervisor read it (RFC 3339, UTC, nanoseconds).
    pub time: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// The text, without the newline.
    pub text: String,
}

/// Which lines to read.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LogQuery {
    /// Only the last `n` lines.
    pub tail: Option<usize>,
    /// Only lines at or after this time.
    pub since: Option<OffsetDateTime>,
}

impl LogQuery {
    /// Last `tail` lines since `since`.
    pub fn new(tail: Option<usize>, since: Option<OffsetDateTime>) -> Self {
        LogQuery { tail, since }
    }

    /// The query as users write it: `since` is an RFC 3339 time or an age such as `30s`, `10m`,
    /// `2h`, `1d` (counted back from now), the same from the CLI, C and Python.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming a `since` that is neither.
    pub fn parse(tail: Option<usize>, since: Option<&str>) -> Result<Self> {
        Ok(LogQuery { tail, since: since.map(parse_since).transpose()? })
    }

    /// Keep the lines the query selects (those since `since`, then the last `tail`).
    pub(crate) fn apply(&self, lines: &mut Vec<LogLine>) {
        lines.retain(|l| since_ok(l, self.since));
        self.trim(lines);
    }

    fn trim(&self, lines: &mut Vec<LogLine>) {
        if let Some(n) = self.tail {
            let skip = lines.len().saturating_sub(n);
            lines.drain(..skip);
        }
    }
}

/// Appends lines to `container.log`, rotating it to `container.log.1`, `.2`, … past `max_size`.
#[derive(Debug)]
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    files: u32,
}

/// Now as an RFC 3339 UTC timestamp with nanoseconds.
pub fn timestamp() -> String {
    OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default()
}

impl LogWriter {
    /// Open (append) `path`; keep at most `files` files in all (the current one included).
    ///
    /// # Errors
    /// I/O errors.
    pub fn open(path: &Path, max_size: u64, files: u32) -> Result<Self> {
        let file =
            OpenOptions::new().create(true).append(true).open(path).map_err(|e| Error::io("open log", path, e))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(LogWriter { path: path.to_path_buf(), file, size, max_size: max_size.max(4096), files: files.max(1) })
    }

    /// Write one entry; `partial` marks a piece of a longer line.
    ///
    /// # Errors
    /// I/O errors.
    pub fn write(&mut self, stream: &str, partial: bool, text: &[u8]) -> io::Result<()> {
        let mut buf = Vec::with_capacity(text.len() + 48);
        buf.extend_from_slice(timestamp().as_bytes());
        buf.push(b' ');
        buf.extend_from_slice(stream.as_bytes());
        buf.extend_from_slice(if partial { b" P " } else { b" F " });
        buf.extend_from_slice(text);
        buf.push(b'\n');
        if self.size > 0 && self.size + buf.len() as u64 > self.max_size {
            self.rotate()?;
        }
        self.file.write_all(&buf)?;
        self.size += buf.len() as u64;
        Ok(())
    }

    /// Shift `container.log` to `.1` (and `.1` to `.2`, …, dropping the oldest) and start anew.
    ///
    /// # Errors
    /// I/O errors.
    pub fn rotate(&mut self) -> io::Result<()> {
        if self.files == 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        for i in (1..self.files - 1).rev() {
            let from = rotated(&self.path, i);
            if from.exists() {
                fs::rename(&from, rotated(&self.path, i + 1))?;
            }
        }
        fs::rename(&self.path, rotated(&self.path, 1))?;
        self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

fn rotated(path: &Path, i: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{i}"));
    PathBuf::from(s)
}

/// Parse one stored entry: `(time, stream, partial, text)`.
fn parse_entry(line: &str) -> Option<(&str, &str, bool, &str)> {
    let (time, rest) = line.split_once(' ')?;
    let (stream, rest) = rest.split_once(' ')?;
    let (tag, text) = rest.split_once(' ').unwrap_or((rest, ""));
    Some((time, stream, tag == "P", text))
}

/// Turns entries into lines, joining `P` pieces per stream.
#[derive(Debug, Default)]
pub struct LineAssembler {
    pending: Vec<(String, String, String)>,
}

impl LineAssembler {
    /// Feed one stored entry; returns a complete line when it ends one.
    pub fn feed(&mut self, entry: &str) -> Option<LogLine> {
        let (time, stream, partial, text) = parse_entry(entry)?;
        let idx = self.pending.iter().position(|(_, s, _)| s == stream);
        if partial {
            match idx {
                Some(i) => self.pending[i].2.push_str(text),
                None => self.pending.push((time.to_string(), stream.to_string(), text.to_string())),
            }
            return None;
        }
        let (time, text) = match idx {
            Some(i) => {
                let (t, _, mut acc) = self.pending.remove(i);
                acc.push_str(text);
                (t, acc)
            }
            None => (time.to_string(), text.to_string()),
        };
        Some(LogLine { time, stream: stream.to_string(), text })
    }
}

/// A time users write for "since": RFC 3339, or an age like `30s`, `10m`, `2h`, `1d` before now.
///
/// # Errors
/// [`Error::InvalidArgument`] naming the value.
pub fn parse_since(s: &str) -> Result<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let bad = || Error::InvalidArgument(format!("since {s:?}: expected RFC 3339 or an age like 30s, 10m, 2h, 1d"));
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        "d" => n.checked_mul(86400).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    OffsetDateTime::now_utc().checked_sub(time::Duration::seconds(secs)).ok_or_else(bad)
}

fn since_ok(l: &LogLine, since: Option<OffsetDateTime>) -> bool {
    match since {
        None => true,
        Some(s) => OffsetDateTime::parse(&l.time, &Rfc3339).is_ok_and(|t| t >= s),
    }
}

/// Read a container's log (rotated files oldest first, then the current one), filtered by
/// `query`. Also returns the size of the current file, from which a follower goes on.
///
/// # Errors
/// I/O errors other than missing files.
pub fn read_log(path: &Path, files: u32, query: &LogQuery) -> Result<(Vec<LogLine>, u64)> {
    let mut out = Vec::new();
    let mut asm = LineAssembler::default();
    let mut end = 0;
    let mut sources: Vec<PathBuf> = (1..files.max(1)).rev().map(|i| rotated(path, i)).collect();
    sources.push(path.to_path_buf());
    for (i, p) in sources.iter().enumerate() {
        let f = match File::open(p) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("read log", p, e)),
        };
        let mut r = BufReader::new(f);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = r.read_until(b'\n', &mut buf).map_err(|e| Error::io("read log", p, e))?;
            // Only whole entries count; a trailing piece is being written right now.
            if n == 0 || buf.last() != Some(&b'\n') {
                break;
            }
            if i + 1 == sources.len() {
                end += n as u64;
            }
            let text = String::from_utf8_lossy(&buf[..n - 1]);
            if let Some(l) = asm.feed(&text) {
                if since_ok(&l, query.since) {
                    out.push(l);
                }
            }
        }
    }
    query.trim(&mut out);
    Ok((out, end))
}

/// Read complete entries appended to `path` after `offset`; returns the lines and the new offset.
/// A file shorter than `offset` was rotated: reading restarts at its beginning.
///
/// # Errors
/// I/O errors other than a missing file.
pub fn read_from(path: &Path, offset: u64, asm: &mut LineAssembler) -> Result<(Vec<LogLine>, u64)> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(Error::io("read log", path, e)),
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut pos = if len < offset { 0 } else { offset };
    f.seek(SeekFrom::Start(pos)).map_err(|e| Error::io("read log", path, e))?;
    let mut r = BufReader::new(f);
    let mut out = Vec::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = r.read_until(b'\n', &mut buf).map_err(|e| Error::io("read log", path, e))?;
        if n == 0 || buf.last() != Some(&b'\n') {
            break;
        }
        pos += n as u64;
        if let Some(l) = asm.feed(&String::from_utf8_lossy(&buf[..n - 1])) {
            out.push(l);
        }
    }
    Ok((out, pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_times_and_ages() {
        let t = parse_since("2026-12-07T10:00:00Z").unwrap();
        assert_eq!(t.unix_timestamp(), 1_796_637_600);
        let age = OffsetDateTime::now_utc() - parse_since("10m").unwrap();
        assert!((age.whole_seconds() - 600).abs() <= 2, "{age}");
        assert!(parse_since("2d").unwrap() < parse_since("1h").unwrap());
        for bad in ["", "10", "10y", "m", "-5m", "99999999999999999d", "yesterday"] {
            let e = parse_since(bad).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Usage, "{bad}");
            assert!(e.to_string().contains("expected RFC 3339 or an age"), "{e}");
        }
        assert!(LogQuery::parse(Some(3), Some("1h")).unwrap().since.is_some());
        assert_eq!(LogQuery::parse(None, Some("soon")).unwrap_err().kind(), crate::ErrorKind::Usage);
    }

    #[test]
    fn writes_rotates_and_reads_back() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join(LOG_FILE);
        let mut w = LogWriter::open(&p, 4096, 3).unwrap();
        for i in 0..400 {
            w.write(if i % 2 == 0 { "stdout" } else { "stderr" }, false, format!("line {i}").as_bytes()).unwrap();
        }
        // A long line split into pieces comes back whole.
        w.write("stdout", true, b"abc").unwrap();
        w.write("stderr", false, b"interleaved").unwrap();
        w.write("stdout", false, b"def").unwrap();
        assert!(rotated(&p, 1).exists() && rotated(&p, 2).exists() && !rotated(&p, 3).exists());
        let (all, end) = read_log(&p, 3, &LogQuery::default()).unwrap();
        assert_eq!(end, fs::metadata(&p).unwrap().len());
        assert_eq!(all.last().unwrap().text, "abcdef");
        assert_eq!(all[all.len() - 2].text, "interleaved");
        assert_eq!(all[all.len() - 3].text, "line 399");
        // Three files of at most 4 KiB hold fewer than 400 lines: the oldest were dropped.
        assert!(all.len() < 400 && all.len() > 100, "{}", all.len());
        let (tail, _) = read_log(&p, 3, &LogQuery::new(Some(2), None)).unwrap();
        assert_eq!(tail.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["interleaved", "abcdef"]);
        let future = OffsetDateTime::now_utc() + time::Duration::hours(1);
        assert!(read_log(&p, 3, &LogQuery::new(None, Some(future))).unwrap().0.is_empty());

        // Following from the end sees only what comes next, and a rotation restarts at zero.
        let mut asm = LineAssembler::default();
        w.write("stdout", false, b"next").unwrap();
        let (new, pos) = read_from(&p, end, &mut asm).unwrap();
        assert_eq!(new.len(), 1);
        assert_eq!(new[0].text, "next");
        w.rotate().unwrap();
        w.write("stdout", false, b"after rotation").unwrap();
        let (new, _) = read_from(&p, pos, &mut asm).unwrap();
        assert_eq!(new[0].text, "after rotation");
    }
}
