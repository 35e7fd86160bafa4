//! Link objects: a list of object ids that a root keeps alive, plus an opaque payload.
//!
//! Trees reach file contents; links reach anything (trees, blobs, other links). Higher layers use
//! them for records that tie several objects together (an image: its tree, manifest, config and
//! layer blobs) so that one ref keeps all of them and gc stays ignorant of what they mean.

use serde::{Deserialize, Serialize};

use crate::digest::ObjectId;
use crate::error::{Error, Result};
use crate::store::Cas;

/// First bytes of every link object.
pub(crate) const LINKS_MAGIC: &[u8; 8] = b"VOLTLINK";
const LINKS_VERSION: u8 = 1;

/// Objects kept alive together, with a payload for the layer that made them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Links {
    /// Objects reached from this one.
    pub ids: Vec<ObjectId>,
    /// Opaque bytes (typically JSON) owned by the writer.
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
}

impl Links {
    /// Serialise with the links magic and version.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = LINKS_MAGIC.to_vec();
        out.push(LINKS_VERSION);
        out.extend(postcard::to_stdvec(self).expect("links serialise"));
        out
    }

    /// Parse an encoded link object.
    ///
    /// # Errors
    /// A description of what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let body = bytes.strip_prefix(LINKS_MAGIC.as_slice()).ok_or("not a link object (bad magic)")?;
        let (&ver, body) = body.split_first().ok_or("truncated link object")?;
        if ver != LINKS_VERSION {
            return Err(format!("unsupported link object version {ver}"));
        }
        postcard::from_bytes(body).map_err(|e| e.to_string())
    }
}

impl Cas {
    /// Load a link object.
    ///
    /// # Errors
    /// [`Error::ObjectNotFound`], [`Error::Malformed`] (also when the object is not a link object).
    pub fn read_links(&self, id: &ObjectId) -> Result<Links> {
        let bytes = self.read(id)?;
        Links::decode(&bytes).map_err(|reason| Error::Malformed { digest: format!("link object {id}"), reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects_garbage() {
        let l = Links { ids: vec![ObjectId::of(b"a"), ObjectId::of(b"b")], payload: b"{}".to_vec() };
        assert_eq!(Links::decode(&l.encode()).unwrap(), l);
        assert!(Links::decode(b"VOLTTREE\x01").is_err());
        let mut bad = l.encode();
        bad[8] = 9;
        assert!(Links::decode(&bad).unwrap_err().contains("version 9"));
        let enc = l.encode();
        assert!(Links::decode(&enc[..enc.len() - 3]).is_err());
    }
}
