//! The serial console: its log, a connection, an exchange.

use super::*;

impl Vms {
    /// The last `tail` lines of the serial log (all with `None`).
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn logs(&self, name: &str, tail: Option<usize>) -> Result<String> {
        let c = self.load(name)?;
        let p = RunFiles::in_dir(&self.dir(&c.name)).serial_log;
        let mut text = String::new();
        if let Ok(mut f) = fs::File::open(&p) {
            let mut b = Vec::new();
            f.read_to_end(&mut b).map_err(|e| Error::io("read", &p, e))?;
            text = String::from_utf8_lossy(&b).into_owned();
        }
        Ok(match tail {
            Some(n) => {
                let lines: Vec<&str> = text.lines().collect();
                let from = lines.len().saturating_sub(n);
                let mut s = lines[from..].join("\n");
                if !s.is_empty() {
                    s.push('\n');
                }
                s
            }
            None => text,
        })
    }

    /// Connect to a running VM's serial console.
    ///
    /// # Errors
    /// [`Error::NotRunning`] when it is not running; the socket's error.
    pub fn console(&self, name: &str) -> Result<std::os::unix::net::UnixStream> {
        let i = self.inspect(name)?;
        i.status.check(Op::Attach, &i.config.name)?;
        std::os::unix::net::UnixStream::connect(&i.console).map_err(|e| Error::io("connect", &i.console, e))
    }

    /// Write `input` to the console and collect what the guest prints until `until` appears in
    /// it or `timeout` passes (a scripted session: Python, C and tests use it).
    ///
    /// # Errors
    /// As [`Vms::console`]; [`Error::Timeout`] when `until` never appears.
    pub fn console_exchange(&self, name: &str, input: &str, until: Option<&str>, timeout: Duration) -> Result<String> {
        let mut s = self.console(name)?;
        s.write_all(input.as_bytes()).map_err(|e| Error::io("write", "console", e))?;
        let t = Instant::now();
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let left = timeout.saturating_sub(t.elapsed());
            if left.is_zero() {
                break;
            }
            s.set_read_timeout(Some(left.min(Duration::from_millis(100)))).ok();
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => return Err(Error::io("read", "console", e)),
            }
            if let Some(u) = until {
                if String::from_utf8_lossy(&out).contains(u) {
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
            }
        }
        let text = String::from_utf8_lossy(&out).into_owned();
        match until {
            Some(u) => {
                Err(Error::Timeout(format!("{u:?} did not appear on {name}'s console within {} s", timeout.as_secs())))
            }
            None => Ok(text),
        }
    }

    // ---- snapshots ----------------------------------------------------------------------------
}
