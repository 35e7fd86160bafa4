//! Content digests: the native BLAKE3 address and the OCI aliases (sha256, sha512).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Hash algorithms the store knows. BLAKE3 is the native address; the SHA-2 family is recorded
/// only as aliases where an OCI digest is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// BLAKE3-256, the store's native address.
    Blake3,
    /// SHA-256 (OCI's default digest).
    Sha256,
    /// SHA-512 (allowed by OCI).
    Sha512,
}

impl Algorithm {
    /// Name used in `algo:hex` strings.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Blake3 => "blake3",
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Length of the digest in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Algorithm::Blake3 | Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        }
    }
}

impl FromStr for Algorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "blake3" => Ok(Algorithm::Blake3),
            "sha256" => Ok(Algorithm::Sha256),
            "sha512" => Ok(Algorithm::Sha512),
            _ => Err(Error::InvalidDigest {
                digest: s.to_string(),
                reason: "unknown algorithm (expected blake3, sha256 or sha512)",
            }),
        }
    }
}

/// A native object address: the BLAKE3 hash of the object's bytes. Human-readable formats
/// (JSON, YAML) carry it as `"blake3:<hex>"`; binary ones (trees, indexes) as 32 raw bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(pub [u8; 32]);

impl Serialize for ObjectId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for ObjectId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            s.parse().map_err(serde::de::Error::custom)
        } else {
            <[u8; 32]>::deserialize(d).map(ObjectId)
        }
    }
}

impl ObjectId {
    /// Hash bytes in memory.
    pub fn of(data: &[u8]) -> Self {
        ObjectId(*blake3::hash(data).as_bytes())
    }

    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parse 64 hex characters.
    ///
    /// # Errors
    /// [`Error::InvalidDigest`] if `s` is not 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Self, Error> {
        let mut out = [0u8; 32];
        if s.len() != 64 {
            return Err(Error::InvalidDigest { digest: s.into(), reason: "expected 64 hex digits" });
        }
        hex::decode_to_slice(s, &mut out)
            .map_err(|_| Error::InvalidDigest { digest: s.into(), reason: "not hexadecimal" })?;
        Ok(ObjectId(out))
    }

    /// The generic digest form of this id.
    pub fn digest(&self) -> Digest {
        Digest { algorithm: Algorithm::Blake3, bytes: self.0.to_vec() }
    }
}

impl From<blake3::Hash> for ObjectId {
    fn from(h: blake3::Hash) -> Self {
        ObjectId(*h.as_bytes())
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "blake3:{}", self.to_hex())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for ObjectId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let d: Digest = s.parse()?;
        d.object_id().ok_or(Error::InvalidDigest {
            digest: s.into(),
            reason: "not a blake3 digest (resolve aliases through the store)",
        })
    }
}

/// A digest in any supported algorithm, written `algo:hex` (a bare 64-digit hex is BLAKE3).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Raw digest bytes (length fixed by the algorithm).
    pub bytes: Vec<u8>,
}

impl Digest {
    /// Lower-case hex of the digest bytes.
    pub fn hex(&self) -> String {
        hex::encode(&self.bytes)
    }

    /// The native object id, if this is a BLAKE3 digest.
    pub fn object_id(&self) -> Option<ObjectId> {
        (self.algorithm == Algorithm::Blake3).then(|| {
            let mut a = [0u8; 32];
            a.copy_from_slice(&self.bytes);
            ObjectId(a)
        })
    }
}

impl FromStr for Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let (algo, hex_part) = match s.split_once(':') {
            Some((a, h)) => (
                a.parse::<Algorithm>().map_err(|_| Error::InvalidDigest {
                    digest: s.into(),
                    reason: "unknown algorithm (expected blake3, sha256 or sha512)",
                })?,
                h,
            ),
            None => (Algorithm::Blake3, s),
        };
        if hex_part.len() != algo.digest_len() * 2 {
            return Err(Error::InvalidDigest {
                digest: s.into(),
                reason: match algo {
                    Algorithm::Sha512 => "expected 128 hex digits",
                    _ => "expected 64 hex digits",
                },
            });
        }
        if !hex_part.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(Error::InvalidDigest { digest: s.into(), reason: "not lower-case hexadecimal" });
        }
        let bytes =
            hex::decode(hex_part).map_err(|_| Error::InvalidDigest { digest: s.into(), reason: "not hexadecimal" })?;
        Ok(Digest { algorithm: algo, bytes })
    }
}

impl TryFrom<String> for Digest {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.to_string()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<ObjectId> for Digest {
    fn from(id: ObjectId) -> Self {
        id.digest()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let h = ObjectId::of(b"hello");
        let s = h.to_string();
        assert!(s.starts_with("blake3:"));
        assert_eq!(s.parse::<ObjectId>().unwrap(), h);
        assert_eq!(h.to_hex().parse::<ObjectId>().unwrap(), h);
        let sha = format!("sha256:{}", "ab".repeat(32));
        let d: Digest = sha.parse().unwrap();
        assert_eq!(d.algorithm, Algorithm::Sha256);
        assert_eq!(d.to_string(), sha);
        assert!(d.object_id().is_none());
    }

    #[test]
    fn object_ids_are_strings_in_json_and_bytes_in_postcard() {
        let id = ObjectId::of(b"x");
        let j = serde_json::to_string(&id).unwrap();
        assert_eq!(j, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<ObjectId>(&j).unwrap(), id);
        let p = postcard::to_stdvec(&id).unwrap();
        assert_eq!(p.len(), 32);
        assert_eq!(postcard::from_bytes::<ObjectId>(&p).unwrap(), id);
    }

    #[test]
    fn rejects_bad_digests() {
        for bad in ["", "blake3:", "md5:00", "sha256:zz", &"A".repeat(64), &"a".repeat(63), "sha512:abcd"] {
            assert!(bad.parse::<Digest>().is_err(), "{bad} accepted");
        }
    }
}
