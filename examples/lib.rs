//! Examples live under rust/, c/ and python/.
