//! Rust results to Python values: the core's serde structs become dicts with the same field
//! names, via JSON (`serde_json` here, `json.loads` there). Object ids serialise as
//! `"blake3:<hex>"` in human-readable formats, so they arrive as strings.

use pyo3::prelude::*;
use serde::Serialize;

use crate::error;

/// Serialise `value` and load it as Python objects (dicts, lists, str, int, float, bool, None).
pub(crate) fn to_python<'py, T: Serialize>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| error::general(format!("cannot convert result: {e}")))?;
    py.import("json")?.getattr("loads")?.call1((text,))
}
