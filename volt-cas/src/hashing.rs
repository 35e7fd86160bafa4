//! Hashing the same bytes with BLAKE3 and, only when asked, the SHA-2 algorithms.

use sha2::Digest as _;

use crate::digest::{Algorithm, Digest};

/// A set of running hashes over one byte stream.
pub(crate) struct Hashers {
    blake3: Option<blake3::Hasher>,
    sha256: Option<sha2::Sha256>,
    sha512: Option<sha2::Sha512>,
}

impl Hashers {
    pub(crate) fn new(algos: &[Algorithm]) -> Self {
        Hashers {
            blake3: algos.contains(&Algorithm::Blake3).then(blake3::Hasher::new),
            sha256: algos.contains(&Algorithm::Sha256).then(sha2::Sha256::new),
            sha512: algos.contains(&Algorithm::Sha512).then(sha2::Sha512::new),
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        if let Some(h) = &mut self.blake3 {
            h.update(data);
        }
        if let Some(h) = &mut self.sha256 {
            h.update(data);
        }
        if let Some(h) = &mut self.sha512 {
            h.update(data);
        }
    }

    /// Digests in the order blake3, sha256, sha512 (those that were requested).
    pub(crate) fn finish(self) -> Vec<Digest> {
        let mut out = Vec::new();
        if let Some(h) = self.blake3 {
            out.push(Digest { algorithm: Algorithm::Blake3, bytes: h.finalize().as_bytes().to_vec() });
        }
        if let Some(h) = self.sha256 {
            out.push(Digest { algorithm: Algorithm::Sha256, bytes: h.finalize().to_vec() });
        }
        if let Some(h) = self.sha512 {
            out.push(Digest { algorithm: Algorithm::Sha512, bytes: h.finalize().to_vec() });
        }
        out
    }
}
