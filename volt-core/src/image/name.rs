//! Image names: `[host[:port]/]path[:tag]` and the refs that hold them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use volt_cas::RefName;

use crate::error::{Error, Result};

/// Ref namespace of local images: `images/<repository>/@<tag>`.
pub(crate) const IMAGE_REFS: &str = "images";

/// A local image name: repository and tag (default `latest`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageName {
    /// Repository, e.g. `busybox`, `library/debian`, `localhost:5000/app`.
    pub repository: String,
    /// Tag.
    pub tag: String,
}

/// Is `s` a valid tag (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`)?
pub fn valid_tag(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c))
}

/// Is `s` a valid repository path component (`[a-z0-9]+([._-]+[a-z0-9]+)*`)? The spec allows
/// `__` and runs of `-`; any run of separators between alphanumerics is accepted here.
fn valid_component(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase() | b[0].is_ascii_digit()
        && b[b.len() - 1].is_ascii_lowercase() | b[b.len() - 1].is_ascii_digit()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(c))
        && !s.contains("..")
}

/// Is `s` a valid OCI repository name (optionally starting with `host[:port]`)?
pub fn valid_repository(s: &str) -> bool {
    if s.is_empty() || s.len() > 255 {
        return false;
    }
    let mut comps = s.split('/').peekable();
    let first = comps.next().unwrap_or_default();
    let is_host = comps.peek().is_some() && (first.contains(':') || first.contains('.') || first == "localhost");
    let first_ok = if is_host {
        let (host, port) = first.split_once(':').unwrap_or((first, "0"));
        !host.is_empty()
            && host.as_bytes()[0].is_ascii_alphanumeric()
            && host.bytes().all(|c| c.is_ascii_alphanumeric() || b".-".contains(&c))
            && port.bytes().all(|c| c.is_ascii_digit())
            && !port.is_empty()
            && !host.contains("..")
    } else {
        valid_component(first)
    };
    first_ok && comps.all(valid_component)
}

impl ImageName {
    /// The ref holding this image's record.
    pub(crate) fn ref_name(&self) -> RefName {
        format!("{IMAGE_REFS}/{}/@{}", self.repository, self.tag).parse().expect("validated image name is a ref name")
    }

    /// Back from a ref name under `images/`.
    pub(crate) fn from_ref(name: &RefName) -> Option<Self> {
        let rest = name.as_str().strip_prefix(IMAGE_REFS)?.strip_prefix('/')?;
        let (repo, tag) = rest.rsplit_once("/@")?;
        Some(ImageName { repository: repo.into(), tag: tag.into() })
    }
}

impl FromStr for ImageName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: &str| Error::InvalidArgument(format!("image name {s:?}: {why}"));
        if s.contains('@') {
            return Err(bad("digests are not local names; use NAME[:TAG]"));
        }
        let slash = s.rfind('/').map_or(0, |i| i + 1);
        let (repo, tag) = match s[slash..].rfind(':') {
            Some(i) => (&s[..slash + i], &s[slash + i + 1..]),
            None => (s, "latest"),
        };
        if !valid_repository(repo) {
            return Err(bad("the repository must be lower-case letters, digits and . _ - separated by '/', \
                 optionally after host[:port]/"));
        }
        if !valid_tag(tag) {
            return Err(bad("the tag must be 1-128 of letters, digits, . _ - and not start with . or -"));
        }
        let n = ImageName { repository: repo.into(), tag: tag.into() };
        format!("{IMAGE_REFS}/{}/@{}", n.repository, n.tag)
            .parse::<RefName>()
            .map_err(|e| bad(&format!("too long or not storable ({e})")))?;
        Ok(n)
    }
}

impl TryFrom<String> for ImageName {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<ImageName> for String {
    fn from(n: ImageName) -> String {
        n.to_string()
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.repository, self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_round_trips_refs() {
        let n: ImageName = "busybox".parse().unwrap();
        assert_eq!((n.repository.as_str(), n.tag.as_str()), ("busybox", "latest"));
        let n: ImageName = "localhost:5000/team/app:v1.2".parse().unwrap();
        assert_eq!((n.repository.as_str(), n.tag.as_str()), ("localhost:5000/team/app", "v1.2"));
        assert_eq!(n.ref_name().as_str(), "images/localhost:5000/team/app/@v1.2");
        assert_eq!(ImageName::from_ref(&n.ref_name()).unwrap(), n);
        let long = format!("{}:1", "a".repeat(250));
        for bad in [
            "",
            "UPPER",
            "a/../b",
            "a//b",
            "-a",
            "a:",
            "a:-x",
            "a@sha256:00",
            "/abs",
            "a/.hidden",
            ".x:1/app",
            "./app",
            &long,
        ] {
            assert!(bad.parse::<ImageName>().is_err(), "{bad} accepted");
        }
        assert!(valid_repository("a/b-c/d__e"));
        assert!(!valid_repository("a/.."));
        assert!(valid_tag("_x.Y-1"));
        assert!(!valid_tag(&"a".repeat(129)));
    }
}
