//! The systemd backend: workload units (containers, VMs) driven over D-Bus (zbus) through
//! `org.freedesktop.systemd1.Manager`, logs read from the journal.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use zbus::blocking::Connection;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

use super::logs::LogLine;
use super::Limits;
use crate::error::{Error, Result};

const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";

fn bus_err(what: &str) -> impl FnOnce(zbus::Error) -> Error + '_ {
    move |e| Error::Workload { name: "systemd".into(), reason: format!("{what}: {e}") }
}

/// What systemd says about a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitStatus {
    /// `active`, `inactive`, `failed`, `activating`, `deactivating`.
    pub active_state: String,
    /// `success`, `exit-code`, `signal`, `oom-kill`, `timeout`, …
    pub result: String,
    /// Main process id (0 when none).
    pub main_pid: u32,
    /// `CLD_EXITED` (1), `CLD_KILLED` (2), `CLD_DUMPED` (3), or 0.
    pub exec_main_code: i32,
    /// Exit status or signal number.
    pub exec_main_status: i32,
    /// The id of the job queued for the unit (start, stop, …), 0 when none.
    pub job: u32,
}

/// A connection to systemd's manager.
#[derive(Debug, Clone)]
pub struct Systemd {
    conn: Connection,
}

impl Systemd {
    /// Connect to `address` (a D-Bus address such as `unix:path=/run/dbus/system_bus_socket`)
    /// or to the system bus.
    ///
    /// # Errors
    /// [`crate::ErrorKind::General`] when the bus cannot be reached.
    pub fn connect(address: Option<&str>) -> Result<Self> {
        let conn = match address {
            Some(a) => zbus::blocking::connection::Builder::address(a)
                .and_then(|b| b.build())
                .map_err(bus_err("connect to systemd's bus"))?,
            None => Connection::system().map_err(bus_err("connect to the system bus"))?,
        };
        Ok(Systemd { conn })
    }

    fn call<B>(&self, method: &str, body: &B) -> Result<zbus::message::Message>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
    {
        self.conn.call_method(Some(DEST), PATH, Some(MANAGER), method, body).map_err(bus_err(method))
    }

    /// Link a unit file into the runtime unit directory and reload.
    ///
    /// # Errors
    /// Bus errors.
    pub fn install(&self, unit_file: &Path) -> Result<()> {
        let p = unit_file.to_string_lossy().into_owned();
        self.call("LinkUnitFiles", &(vec![p.as_str()], true, true))?;
        self.call("Reload", &())?;
        Ok(())
    }

    /// Unlink a unit (runtime) and reload; forget a failed state.
    ///
    /// # Errors
    /// Bus errors.
    pub fn uninstall(&self, unit: &str) -> Result<()> {
        let _ = self.call("ResetFailedUnit", &(unit,));
        self.call("DisableUnitFiles", &(vec![unit], true))?;
        self.call("Reload", &())?;
        Ok(())
    }

    fn unit_path(&self, unit: &str) -> Result<OwnedObjectPath> {
        let m = self.call("LoadUnit", &(unit,))?;
        m.body().deserialize::<OwnedObjectPath>().map_err(bus_err("LoadUnit reply"))
    }

    fn prop(&self, path: &OwnedObjectPath, iface: &str, name: &str) -> Result<OwnedValue> {
        let m = self
            .conn
            .call_method(Some(DEST), path, Some("org.freedesktop.DBus.Properties"), "Get", &(iface, name))
            .map_err(bus_err("Get"))?;
        m.body().deserialize::<OwnedValue>().map_err(bus_err("property reply"))
    }

    /// The manager's `SystemState` (`starting`, `running`, `degraded`, …).
    ///
    /// # Errors
    /// Bus errors.
    pub fn system_state(&self) -> Result<String> {
        let p = OwnedObjectPath::try_from(PATH).map_err(|e| bus_err("path")(e.into()))?;
        Ok(String::try_from(self.prop(&p, MANAGER, "SystemState")?).unwrap_or_default())
    }

    /// The unit's state.
    ///
    /// # Errors
    /// Bus errors.
    pub fn status(&self, unit: &str) -> Result<UnitStatus> {
        let p = self.unit_path(unit)?;
        let s = |iface: &str, n: &str| -> Result<String> {
            Ok(String::try_from(self.prop(&p, iface, n)?).unwrap_or_default())
        };
        let u = |n: &str| -> Result<u32> {
            Ok(u32::try_from(self.prop(&p, "org.freedesktop.systemd1.Service", n)?).unwrap_or(0))
        };
        let i = |n: &str| -> Result<i32> {
            Ok(i32::try_from(self.prop(&p, "org.freedesktop.systemd1.Service", n)?).unwrap_or(0))
        };
        Ok(UnitStatus {
            active_state: s("org.freedesktop.systemd1.Unit", "ActiveState")?,
            result: s("org.freedesktop.systemd1.Service", "Result")?,
            main_pid: u("MainPID")?,
            exec_main_code: i("ExecMainCode")?,
            exec_main_status: i("ExecMainStatus")?,
            job: match &*self.prop(&p, "org.freedesktop.systemd1.Unit", "Job")? {
                Value::Structure(j) => match j.fields().first() {
                    Some(Value::U32(id)) => *id,
                    _ => 0,
                },
                _ => 0,
            },
        })
    }

    /// Start the unit and wait (up to `timeout`) until it is active or has failed.
    ///
    /// # Errors
    /// Bus errors; [`Error::Timeout`].
    pub fn start(&self, unit: &str, timeout: Duration) -> Result<UnitStatus> {
        let _ = self.call("ResetFailedUnit", &(unit,));
        self.call("StartUnit", &(unit, "replace"))?;
        // The start job is queued when StartUnit returns; until it has run the unit may still
        // read `inactive` with nothing exited, which is not an outcome.
        self.wait(unit, timeout, |s| {
            s.job == 0 && s.active_state != "activating" && (s.main_pid != 0 || s.active_state != "active")
        })
    }

    /// Stop the unit and wait until it is down. The unit's `ExecStop=` asks the workload to end
    /// (SIGTERM) and waits; past `stop_timeout` everything in the unit gets SIGKILL.
    ///
    /// # Errors
    /// Bus errors; [`Error::Timeout`].
    pub fn stop(&self, unit: &str, stop_timeout: Duration) -> Result<UnitStatus> {
        self.call("StopUnit", &(unit, "replace"))?;
        let down = |s: &UnitStatus| s.active_state == "inactive" || s.active_state == "failed";
        match self.wait(unit, stop_timeout, down) {
            Err(Error::Timeout(_)) => {
                self.call("KillUnit", &(unit, "all", libc::SIGKILL))?;
                self.wait(unit, Duration::from_secs(10), down)
            }
            r => r,
        }
    }

    /// Send `signal` to the unit's main process.
    ///
    /// # Errors
    /// Bus errors.
    pub fn kill(&self, unit: &str, signal: i32) -> Result<()> {
        self.call("KillUnit", &(unit, "main", signal))?;
        Ok(())
    }

    /// Set the limits on the running unit (runtime properties, written to its cgroup by systemd).
    ///
    /// # Errors
    /// Bus errors.
    pub fn set_limits(&self, unit: &str, l: &Limits) -> Result<()> {
        let mut props: Vec<(&str, Value<'_>)> = Vec::new();
        props.push(("MemoryMax", Value::U64(l.memory.unwrap_or(u64::MAX))));
        let cpu = l.cpu.map_or(u64::MAX, |c| u64::from(c) * 10_000);
        props.push(("CPUQuotaPerSecUSec", Value::U64(cpu)));
        props.push(("TasksMax", Value::U64(l.pids.map_or(u64::MAX, u64::from))));
        self.call("SetUnitProperties", &(unit, true, props))?;
        Ok(())
    }

    /// The unit's cgroup path (`ControlGroup`, relative to the cgroup root).
    ///
    /// # Errors
    /// Bus errors.
    pub fn control_group(&self, unit: &str) -> Result<String> {
        let p = self.unit_path(unit)?;
        Ok(String::try_from(self.prop(&p, "org.freedesktop.systemd1.Service", "ControlGroup")?).unwrap_or_default())
    }

    /// A unit property, for checks (`MemoryMax`, `TasksMax`, …) on the Service interface.
    ///
    /// # Errors
    /// Bus errors.
    pub fn service_u64(&self, unit: &str, name: &str) -> Result<u64> {
        let p = self.unit_path(unit)?;
        Ok(u64::try_from(self.prop(&p, "org.freedesktop.systemd1.Service", name)?).unwrap_or(0))
    }

    fn wait(&self, unit: &str, timeout: Duration, done: impl Fn(&UnitStatus) -> bool) -> Result<UnitStatus> {
        let end = Instant::now() + timeout;
        loop {
            let s = self.status(unit)?;
            if done(&s) {
                return Ok(s);
            }
            if Instant::now() >= end {
                return Err(Error::Timeout(format!(
                    "{unit} is still {} after {} s",
                    s.active_state,
                    timeout.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Read a unit's journal (`_SYSTEMD_UNIT=UNIT`) with journalctl, under `root` if given, after
/// `after_cursor` or else from `since` (RFC 3339: the start of the container's latest run, so
/// earlier containers of the name are left out). Returns the lines and the last entry's cursor.
///
/// # Errors
/// journalctl missing or failing.
pub fn journal(
    unit: &str,
    root: Option<&Path>,
    after_cursor: Option<&str>,
    since: Option<&str>,
) -> Result<(Vec<LogLine>, Option<String>)> {
    let mut cmd = Command::new("journalctl");
    cmd.arg("--no-pager").arg("-o").arg("json").arg(format!("_SYSTEMD_UNIT={unit}"));
    if let Some(r) = root {
        cmd.arg(format!("--root={}", r.display()));
    }
    if let Some(c) = after_cursor {
        cmd.arg(format!("--after-cursor={c}"));
    } else if let Some(t) =
        since.and_then(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
    {
        cmd.arg(format!("--since=@{}", t.unix_timestamp()));
    }
    let out = cmd.output().map_err(|e| Error::io("run", "journalctl", e))?;
    if !out.status.success() {
        return Err(Error::Workload {
            name: unit.into(),
            reason: format!("journalctl: {}", String::from_utf8_lossy(&out.stderr).trim()),
        });
    }
    let mut lines = Vec::new();
    let mut cursor = None;
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(l) else { continue };
        let text = match &v["MESSAGE"] {
            serde_json::Value::String(s) => s.clone(),
            // Non-UTF-8 messages come as byte arrays.
            serde_json::Value::Array(a) => {
                String::from_utf8_lossy(&a.iter().filter_map(|b| b.as_u64().map(|b| b as u8)).collect::<Vec<_>>())
                    .into_owned()
            }
            _ => continue,
        };
        let usec: i128 = v["__REALTIME_TIMESTAMP"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
        let time = time::OffsetDateTime::from_unix_timestamp_nanos(usec * 1000)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_default();
        cursor = v["__CURSOR"].as_str().map(str::to_string);
        lines.push(LogLine { time, stream: "stdout".into(), text });
    }
    Ok((lines, cursor))
}
