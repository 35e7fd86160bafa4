//! Python bindings for Volt (being written).
