//! A typed QMP client on the `qapi` crate: the capabilities handshake, the commands Volt uses,
//! and QEMU's events. Every wait is bounded: connecting retries until a deadline, and each
//! command or event read has a socket timeout.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use qapi::qmp;
use qapi::{Command, Qmp, Stream};

use crate::error::{Error, Result};

/// How long one command may take before it is abandoned.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// A QEMU event Volt acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmEvent {
    /// The guest or host shut the VM down (`guest` is true for a guest-initiated shutdown).
    Shutdown {
        /// Guest-initiated.
        guest: bool,
        /// QEMU's `ShutdownCause`, e.g. `guest-shutdown`, `host-qmp-quit`, `guest-reset`.
        reason: String,
    },
    /// The VM's vCPUs stopped (paused).
    Stop,
    /// The VM's vCPUs run again.
    Resume,
    /// An ACPI power-button press was sent.
    Powerdown,
    /// The guest panicked (pvpanic).
    GuestPanicked,
    /// Any other event, by name.
    Other(String),
}

/// One vCPU: QEMU's index and the host thread that runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VcpuThread {
    /// vCPU index.
    pub cpu: i64,
    /// Host thread id.
    pub thread: i64,
}

/// A connected, negotiated QMP monitor.
pub struct QmpClient {
    qmp: Qmp<Stream<BufReader<UnixStream>, UnixStream>>,
    events: VecDeque<VmEvent>,
    partial: String,
    /// The QEMU version the monitor announced.
    pub version: String,
}

impl std::fmt::Debug for QmpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QmpClient").field("version", &self.version).finish()
    }
}

fn event_of(e: qmp::Event) -> VmEvent {
    let name = |v: serde_json::Value| v.get("event").and_then(|n| n.as_str()).unwrap_or("?").to_string();
    match e {
        qmp::Event::SHUTDOWN { data, .. } => VmEvent::Shutdown {
            guest: data.guest,
            reason: serde_json::to_value(data.reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        },
        qmp::Event::STOP { .. } => VmEvent::Stop,
        qmp::Event::RESUME { .. } => VmEvent::Resume,
        qmp::Event::POWERDOWN { .. } => VmEvent::Powerdown,
        qmp::Event::GUEST_PANICKED { .. } => VmEvent::GuestPanicked,
        other => VmEvent::Other(serde_json::to_value(&other).map(name).unwrap_or_default()),
    }
}

/// Parse one line QEMU sent, if it is an event (unknown events by name).
pub fn parse_event(line: &str) -> Option<VmEvent> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let name = v.get("event")?.as_str()?.to_string();
    Some(serde_json::from_value::<qmp::Event>(v).map(event_of).unwrap_or(VmEvent::Other(name)))
}

impl QmpClient {
    /// Connect to the monitor at `path` (retrying while QEMU creates it, until `timeout`) and
    /// negotiate capabilities.
    ///
    /// # Errors
    /// [`Error::Timeout`] when no monitor answers in time; [`Error::Qmp`] when the handshake fails.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Self> {
        let deadline = Instant::now() + timeout;
        let sock = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if Instant::now() >= deadline => {
                    return Err(Error::Timeout(format!(
                        "QMP monitor {} did not answer within {} s: {e}",
                        path.display(),
                        timeout.as_secs()
                    )))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        };
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(500));
        sock.set_read_timeout(Some(left)).map_err(|e| Error::io("set timeout", path, e))?;
        let w = sock.try_clone().map_err(|e| Error::io("clone", path, e))?;
        let mut qmp = Qmp::new(Stream::new(BufReader::new(sock), w));
        // The greeting, read by hand: the crate's reader panics on end of file.
        let mut greeting = String::new();
        qmp.inner_mut().read_line(&mut greeting).map_err(|e| Error::qmp("greeting", e))?;
        let caps: qmp::QapiCapabilities =
            serde_json::from_str(&greeting).map_err(|e| Error::qmp("greeting", format!("{e}: {greeting:?}")))?;
        let v = &caps.QMP.version.qemu;
        let version = format!("{}.{}.{}", v.major, v.minor, v.micro);
        qmp.execute(&qmp::qmp_capabilities { enable: None }).map_err(|e| Error::qmp("qmp_capabilities", e))?;
        qmp.inner().get_ref_read().get_ref().set_read_timeout(Some(COMMAND_TIMEOUT)).ok();
        Ok(QmpClient { qmp, events: VecDeque::new(), partial: String::new(), version })
    }

    /// Run one typed command.
    ///
    /// # Errors
    /// [`Error::Qmp`] with QEMU's error or the transport failure (a timeout included).
    pub fn execute<C: Command>(&mut self, cmd: &C) -> Result<C::Ok> {
        let r = self.qmp.execute(cmd);
        for e in self.qmp.events() {
            self.events.push_back(event_of(e));
        }
        r.map_err(|e| Error::qmp(C::NAME, e))
    }

    /// `query-status`: (running, QEMU's run state such as `running`, `paused`, `shutdown`).
    ///
    /// # Errors
    /// As [`QmpClient::execute`].
    pub fn status(&mut self) -> Result<(bool, String)> {
        let s = self.execute(&qmp::query_status {})?;
        let state =
            serde_json::to_value(s.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        Ok((s.running, state))
    }

    /// `stop`: pause the vCPUs (QEMU drains and flushes the disks first).
    ///
    /// # Errors
    /// As [`QmpClient::execute`].
    pub fn stop(&mut self) -> Result<()> {
        self.execute(&qmp::stop {}).map(drop)
    }

    /// `cont`: resume the vCPUs.
    ///
    /// # Errors
    /// As [`QmpClient::execute`].
    pub fn cont(&mut self) -> Result<()> {
        self.execute(&qmp::cont {}).map(drop)
    }

    /// `system_powerdown`: press the ACPI power button.
    ///
    /// # Errors
    /// As [`QmpClient::execute`].
    pub fn powerdown(&mut self) -> Result<()> {
        self.execute(&qmp::system_powerdown {}).map(drop)
    }

    /// `quit`: end QEMU now (the guest gets no say).
    ///
    /// # Errors
    /// As [`QmpClient::execute`].
    pub fn quit(&mut self) -> Result<()> {
        match self.execute(&qmp::quit {}) {
            Ok(_) => Ok(()),
            // QEMU may close the monitor before its answer arrives.
            Err(Error::Qmp { reason, .. }) if reason.contains("expected command response") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `query-cpus-fast`: each vCPU's host thread.
    ///
    /// # Errors
    /// As [`QmpClient::execute`].
    pub fn vcpu_threads(&mut self) -> Result<Vec<VcpuThread>> {
        let cpus = self.execute(&qmp::query_cpus_fast {})?;
        Ok(cpus
            .into_iter()
            .filter_map(|c| {
                let v = serde_json::to_value(c).ok()?;
                Some(VcpuThread { cpu: v.get("cpu-index")?.as_i64()?, thread: v.get("thread-id")?.as_i64()? })
            })
            .collect())
    }

    /// `query-block`: each block device (qdev id) and the image file behind it.
    ///
    /// # Errors
    /// As [`QmpClient::execute`].
    pub fn block_files(&mut self) -> Result<Vec<(String, String)>> {
        let devs = self.execute(&qmp::query_block {})?;
        Ok(devs
            .into_iter()
            .filter_map(|d| {
                let file = d.inserted?.file;
                Some((d.qdev.unwrap_or(d.device), file))
            })
            .collect())
    }

    /// The next event, waiting at most `timeout`. `Ok(None)`: none arrived in time.
    ///
    /// # Errors
    /// [`Error::Qmp`] when the monitor closed (QEMU exited) or failed.
    pub fn next_event(&mut self, timeout: Duration) -> Result<Option<VmEvent>> {
        if let Some(e) = self.events.pop_front() {
            return Ok(Some(e));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let sock = self.qmp.inner().get_ref_read().get_ref();
            sock.set_read_timeout(Some(left.max(Duration::from_millis(1)))).ok();
            let r = self.qmp.inner_mut().read_line(&mut self.partial);
            sock_reset(&self.qmp);
            match r {
                Ok(0) => return Err(Error::qmp("event", "monitor closed")),
                Ok(_) => {
                    let line = std::mem::take(&mut self.partial);
                    if let Some(e) = parse_event(&line) {
                        return Ok(Some(e));
                    }
                }
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    return Ok(None)
                }
                Err(e) => return Err(Error::qmp("event", e)),
            }
        }
    }
}

fn sock_reset(q: &Qmp<Stream<BufReader<UnixStream>, UnixStream>>) {
    q.inner().get_ref_read().get_ref().set_read_timeout(Some(COMMAND_TIMEOUT)).ok();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse() {
        let l = r#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}"#;
        assert_eq!(parse_event(l), Some(VmEvent::Shutdown { guest: true, reason: "guest-shutdown".into() }));
        let l = r#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}"#;
        assert_eq!(parse_event(l), Some(VmEvent::Stop));
        let l = r#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RESUME"}"#;
        assert_eq!(parse_event(l), Some(VmEvent::Resume));
        let l = r#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "SOMETHING_NEW", "data": {}}"#;
        assert_eq!(parse_event(l), Some(VmEvent::Other("SOMETHING_NEW".into())));
        assert_eq!(parse_event(r#"{"return": {}}"#), None);
    }
}
