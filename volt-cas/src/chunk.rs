//! The index of a chunked object: the ordered list of chunks whose concatenation is the object.

use serde::{Deserialize, Serialize};

use crate::digest::ObjectId;

const INDEX_MAGIC: &[u8; 8] = b"VOLTIDX\x01";

/// One chunk of a chunked object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// The chunk's own object id.
    pub id: ObjectId,
    /// Its length in bytes.
    pub len: u32,
}

/// The chunk list of one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkIndex {
    /// Total size (sum of chunk lengths).
    pub size: u64,
    /// Chunks in order.
    pub chunks: Vec<Chunk>,
}

impl ChunkIndex {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = INDEX_MAGIC.to_vec();
        out.extend(postcard::to_stdvec(self).expect("chunk index serialises"));
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, String> {
        let body = bytes.strip_prefix(INDEX_MAGIC.as_slice()).ok_or("not a chunk index (bad magic)")?;
        let idx: ChunkIndex = postcard::from_bytes(body).map_err(|e| e.to_string())?;
        let sum: u64 = idx.chunks.iter().map(|c| u64::from(c.len)).sum();
        if sum != idx.size {
            return Err(format!("chunk lengths add up to {sum}, index says {}", idx.size));
        }
        Ok(idx)
    }
}
