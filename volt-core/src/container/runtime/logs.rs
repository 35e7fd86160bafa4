//! A container's logs: read, follow, print.

use super::*;

impl Containers {
    /// Log lines of a container.
    ///
    /// # Errors
    /// [`Error::NotFound`]; journalctl errors (systemd).
    pub fn logs(&self, name: &str, query: &LogQuery) -> Result<Vec<LogLine>> {
        let n = Self::name(name)?;
        let info = self.store.inspect(&n)?;
        if info.state.backend.as_deref() == Some("systemd") {
            let since = info.state.started.as_deref();
            let (mut lines, _) = journal(&unit_name(&n), self.settings.journal_root.as_deref(), None, since)?;
            query.apply(&mut lines);
            return Ok(lines);
        }
        Ok(read_log(&self.store.dir(&n).join(LOG_FILE), self.settings.log_files, query)?.0)
    }

    /// Follow a container's log: the lines `query` selects first, then new ones as they come,
    /// until the container stops. Pull batches with [`LogFollower::next_batch`].
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn follow(&self, name: &str, query: &LogQuery) -> Result<LogFollower<'_>> {
        let n = Self::name(name)?;
        let info = self.store.inspect(&n)?;
        let systemd = info.state.backend.as_deref() == Some("systemd");
        let path = self.store.dir(&n).join(LOG_FILE);
        let (first, offset, cursor) = if systemd {
            let since = info.state.started.as_deref();
            let (lines, cursor) = journal(&unit_name(&n), self.settings.journal_root.as_deref(), None, since)?;
            let skip = query.tail.map_or(0, |t| lines.len().saturating_sub(t));
            (lines.into_iter().skip(skip).collect(), 0, cursor)
        } else {
            let (l, off) = read_log(&path, self.settings.log_files, query)?;
            (l, off, None)
        };
        Ok(LogFollower {
            containers: self,
            name: n.to_string(),
            path,
            offset,
            cursor,
            systemd,
            asm: LineAssembler::default(),
            first: Some(first),
            done: false,
            since: info.state.started.clone(),
        })
    }
}

/// Follows a container's log; see [`Containers::follow`].
#[derive(Debug)]
pub struct LogFollower<'a> {
    containers: &'a Containers,
    name: String,
    path: PathBuf,
    offset: u64,
    cursor: Option<String>,
    systemd: bool,
    asm: LineAssembler,
    first: Option<Vec<LogLine>>,
    done: bool,
    since: Option<String>,
}

impl LogFollower<'_> {
    /// The next lines, waiting up to `wait` for some. `Ok(None)` once the container has stopped
    /// and everything it wrote was returned.
    ///
    /// # Errors
    /// I/O and journal errors.
    pub fn next_batch(&mut self, wait: Duration) -> Result<Option<Vec<LogLine>>> {
        if let Some(f) = self.first.take() {
            return Ok(Some(f));
        }
        if self.done {
            return Ok(None);
        }
        let info = self.containers.inspect(&self.name)?;
        let running = is_running(&info.state);
        let lines = self.read_new()?;
        if !lines.is_empty() {
            return Ok(Some(lines));
        }
        if !running {
            self.done = true;
            return Ok(None);
        }
        // Sleep until the supervisor exits or the wait is over, then look again.
        match info.state.supervisor.as_ref().and_then(|s| pidfd(s.pid)) {
            Some(fd) => {
                wait_fd(&fd, wait.min(Duration::from_millis(100)));
            }
            None => std::thread::sleep(wait.min(Duration::from_millis(100))),
        }
        Ok(Some(self.read_new()?))
    }

    pub(super) fn read_new(&mut self) -> Result<Vec<LogLine>> {
        if self.systemd {
            let n: ContainerName = self.name.parse()?;
            let (lines, cursor) = journal(
                &unit_name(&n),
                self.containers.settings.journal_root.as_deref(),
                self.cursor.as_deref(),
                self.since.as_deref(),
            )?;
            if cursor.is_some() {
                self.cursor = cursor;
            }
            return Ok(lines);
        }
        let (lines, off) = read_from(&self.path, self.offset, &mut self.asm)?;
        self.offset = off;
        Ok(lines)
    }
}

/// Copy a log line to a writer the way `volt logs` prints it.
///
/// # Errors
/// Write errors.
pub fn print_line(out: &mut dyn Write, l: &LogLine, timestamps: bool) -> std::io::Result<()> {
    if timestamps {
        write!(out, "{} ", l.time)?;
    }
    writeln!(out, "{}", l.text)
}
