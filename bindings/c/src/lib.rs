//! C ABI for Volt (being written).
