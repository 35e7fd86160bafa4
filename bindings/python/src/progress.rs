//! Python progress callbacks as [`volt_core::image::ProgressFn`]s.
//!
//! The SDK calls a progress function from whichever thread does the work (the calling thread,
//! tokio's blocking pool), always while this module has released the GIL. The bridge attaches to
//! the interpreter for each report, builds a `volt.types.Progress` dict and calls the Python
//! callable with it. A progress function cannot fail or cancel the operation, so an exception
//! raised by the callable is kept, the callable is not called again, the operation runs to its
//! end, and [`Reporter::finish`] raises the kept exception in place of the operation's result
//! (with the operation's own error, if it failed too, as the exception's `__context__`).

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyTypeError;
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use volt_core::image::{Progress, ProgressFn};

struct Shared {
    callback: Py<PyAny>,
    /// Set once the callable has raised; checked before each call without taking `error`.
    failed: AtomicBool,
    /// The first exception the callable raised. Never held while Python code runs: a thread
    /// waiting for this lock with the GIL held would deadlock against one running the callable.
    error: Mutex<Option<PyErr>>,
}

impl Shared {
    fn report(&self, p: &Progress) {
        if self.failed.load(Ordering::Acquire) {
            return;
        }
        Python::attach(|py| {
            // Another thread may have failed while this one waited for the GIL.
            if self.failed.load(Ordering::Acquire) {
                return;
            }
            // A PanicException raised through the callable (a Rust panic further down) makes pyo3
            // resume the panic here; it must not unwind through the SDK's code.
            let called = std::panic::catch_unwind(AssertUnwindSafe(|| {
                progress_dict(py, p).and_then(|d| self.callback.bind(py).call1((d,))).map(drop)
            }))
            .unwrap_or_else(|payload| Err(PanicException::new_err(panic_message(payload.as_ref()))));
            if let Err(e) = called {
                if !self.failed.swap(true, Ordering::AcqRel) {
                    if let Ok(mut slot) = self.error.lock() {
                        *slot = Some(e);
                    }
                }
            }
        });
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic in a progress callback".into())
}

/// `{"phase", "item", "done", "total"}`, the shape of `volt.types.Progress`.
fn progress_dict<'py>(py: Python<'py>, p: &Progress) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("phase", p.phase.name())?;
    d.set_item("item", p.item.as_str())?;
    d.set_item("done", p.done)?;
    d.set_item("total", p.total)?;
    Ok(d)
}

/// An optional Python progress callable, ready to hand to the SDK.
pub(crate) struct Reporter {
    shared: Option<Arc<Shared>>,
}

impl Reporter {
    /// Wrap `callback` (`None` for no progress reports). A value that is not callable is a
    /// `TypeError`, raised now rather than at the first report.
    pub(crate) fn new(callback: Option<Bound<'_, PyAny>>) -> PyResult<Self> {
        let shared = match callback {
            None => None,
            Some(cb) if cb.is_none() => None,
            Some(cb) if !cb.is_callable() => {
                return Err(PyTypeError::new_err(format!(
                    "progress must be callable, not {}",
                    cb.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "<unknown>".into())
                )))
            }
            Some(cb) => Some(Arc::new(Shared {
                callback: cb.unbind(),
                failed: AtomicBool::new(false),
                error: Mutex::new(None),
            })),
        };
        Ok(Reporter { shared })
    }

    /// The progress function for the SDK, if there is a callable.
    pub(crate) fn callback(&self) -> Option<Arc<ProgressFn>> {
        self.shared.as_ref().map(|s| {
            let s = Arc::clone(s);
            Arc::new(move |p: &Progress| s.report(p)) as Arc<ProgressFn>
        })
    }

    /// The operation's result, unless the callable raised: then its (first) exception, with the
    /// operation's error, if any, as its `__context__`.
    pub(crate) fn finish<T>(&self, py: Python<'_>, result: PyResult<T>) -> PyResult<T> {
        let Some(shared) = &self.shared else { return result };
        let raised = shared.error.lock().ok().and_then(|mut slot| slot.take());
        match raised {
            None => result,
            Some(e) => {
                if let Err(op) = result {
                    e.set_context(py, Some(op));
                }
                Err(e)
            }
        }
    }
}
