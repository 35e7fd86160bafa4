//! HMAC-SHA256 signed bearer tokens scoped to repositories and actions.
//!
//! A token is `volt1.<claims>.<signature>`, both parts base64url without padding; the claims are
//! JSON (`access`, `iat`, `exp`, `sub`). The key is 32 random bytes in a 0600 file, created on
//! first use. Signatures are compared in constant time (`Mac::verify_slice`). Tokens and keys
//! are never logged.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const PREFIX: &str = "volt1";

/// An action on a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Read manifests, blobs, tags, referrers.
    Pull,
    /// Upload blobs and manifests.
    Push,
    /// Delete manifests, tags and blobs.
    Delete,
}

impl Action {
    /// Parse `pull`, `push`, `delete` (and `*` for all three).
    pub fn parse_list(s: &str) -> Result<Vec<Action>, String> {
        let mut out = Vec::new();
        for a in s.split(',').map(str::trim).filter(|a| !a.is_empty()) {
            match a {
                "pull" => out.push(Action::Pull),
                "push" => out.push(Action::Push),
                "delete" => out.push(Action::Delete),
                "*" => out.extend([Action::Pull, Action::Push, Action::Delete]),
                other => return Err(format!("unknown action {other:?} (expected pull, push, delete or *)")),
            }
        }
        if out.is_empty() {
            return Err("no actions given".into());
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Name used in scopes.
    pub fn name(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
        }
    }
}

/// Access to one repository (or pattern: `*` for all, `team/*` for everything under `team/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    /// Repository or pattern.
    pub repo: String,
    /// Allowed actions.
    pub actions: Vec<Action>,
}

impl Access {
    fn covers(&self, repo: &str) -> bool {
        match self.repo.strip_suffix('*') {
            Some(prefix) => repo.starts_with(prefix),
            None => self.repo == repo,
        }
    }
}

/// What a token grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Subject (free text: who the token was made for).
    #[serde(default)]
    pub sub: String,
    /// Grants.
    pub access: Vec<Access>,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Expires at (Unix seconds).
    pub exp: u64,
}

impl Claims {
    /// Does this grant `action` on `repo`?
    pub fn allows(&self, repo: &str, action: Action) -> bool {
        self.access.iter().any(|a| a.covers(repo) && a.actions.contains(&action))
    }

    /// The grant narrowed to what a client asked for (token endpoint scopes).
    pub fn narrow(&self, wanted: &[(String, Vec<Action>)]) -> Vec<Access> {
        wanted
            .iter()
            .map(|(repo, acts)| Access {
                repo: repo.clone(),
                actions: acts.iter().copied().filter(|a| self.allows(repo, *a)).collect(),
            })
            .filter(|a| !a.actions.is_empty())
            .collect()
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a Volt token at all.
    #[error("malformed token")]
    Malformed,
    /// The signature does not match (forged, altered, or another key).
    #[error("invalid token signature")]
    BadSignature,
    /// Past its expiry.
    #[error("token expired")]
    Expired,
}

/// The signing key.
#[derive(Clone)]
pub struct TokenKey {
    key: Vec<u8>,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

impl TokenKey {
    /// A key from raw bytes (at least 32).
    ///
    /// # Errors
    /// If the key is too short.
    pub fn from_bytes(key: &[u8]) -> Result<Self, String> {
        if key.len() < 32 {
            return Err(format!("registry key has {} bytes; at least 32 are needed", key.len()));
        }
        Ok(TokenKey { key: key.to_vec() })
    }

    /// Load the key at `path`, creating it (32 random bytes, mode 0600) if it does not exist.
    ///
    /// # Errors
    /// I/O errors, or a key file that is too short.
    pub fn load_or_create(path: &Path) -> std::io::Result<Self> {
        match fs::read(path) {
            Ok(k) => return Self::from_bytes(&k).map_err(std::io::Error::other),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut key = [0u8; 32];
        fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
        let tmp = PathBuf::from(format!("{}.tmp-{}", path.display(), std::process::id()));
        let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(&key)?;
        f.sync_all()?;
        // Another process may have created it meanwhile: keep theirs.
        match fs::hard_link(&tmp, path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        }
        let _ = fs::remove_file(&tmp);
        Self::from_bytes(&fs::read(path)?).map_err(std::io::Error::other)
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length")
    }

    /// Sign a token granting `access` for `ttl`.
    pub fn issue(&self, sub: &str, access: Vec<Access>, ttl: Duration) -> (String, Claims) {
        self.issue_until(sub, access, ttl, u64::MAX)
    }

    /// Sign a token granting `access` for `ttl`, but never past `not_after` (Unix seconds): a
    /// token handed out in exchange for another one must not outlive it.
    pub fn issue_until(&self, sub: &str, access: Vec<Access>, ttl: Duration, not_after: u64) -> (String, Claims) {
        let iat = now();
        let exp = iat.saturating_add(ttl.as_secs().max(1)).min(not_after);
        let claims = Claims { sub: sub.to_string(), access, iat, exp };
        (self.sign(&claims), claims)
    }

    /// Sign claims as they are.
    pub fn sign(&self, claims: &Claims) -> String {
        let body = B64.encode(serde_json::to_vec(claims).expect("claims serialise"));
        let mut m = self.mac();
        m.update(PREFIX.as_bytes());
        m.update(b".");
        m.update(body.as_bytes());
        let sig = B64.encode(m.finalize().into_bytes());
        format!("{PREFIX}.{body}.{sig}")
    }

    /// Check a token's signature (in constant time) and expiry.
    ///
    /// # Errors
    /// [`TokenError`].
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut parts = token.trim().split('.');
        let (Some(PREFIX), Some(body), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let sig = B64.decode(sig).map_err(|_| TokenError::Malformed)?;
        let mut m = self.mac();
        m.update(PREFIX.as_bytes());
        m.update(b".");
        m.update(body.as_bytes());
        m.verify_slice(&sig).map_err(|_| TokenError::BadSignature)?;
        let claims: Claims = serde_json::from_slice(&B64.decode(body).map_err(|_| TokenError::Malformed)?)
            .map_err(|_| TokenError::Malformed)?;
        if claims.exp <= now() {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// Parse a duration like `90s`, `15m`, `1h`, `7d` (a bare number is seconds).
///
/// # Errors
/// A message naming the value.
pub fn parse_ttl(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| format!("ttl {s:?}: expected a number and a unit (s, m, h, d)"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("ttl {s:?}: unknown unit {unit:?} (s, m, h, d)")),
    };
    // At most ten years: anything longer is a mistake, and it keeps expiry arithmetic in range.
    let secs = n
        .checked_mul(mult)
        .filter(|s| *s <= 10 * 365 * 86400)
        .ok_or_else(|| format!("ttl {s:?}: longer than ten years"))?;
    if secs == 0 {
        return Err(format!("ttl {s:?}: must be positive"));
    }
    Ok(Duration::from_secs(secs))
}

/// Parse token-endpoint scopes: `repository:NAME:ACTIONS` (several allowed).
pub fn parse_scopes<'a>(scopes: impl IntoIterator<Item = &'a str>) -> Vec<(String, Vec<Action>)> {
    let mut out = Vec::new();
    for scope in scopes {
        for one in scope.split(' ') {
            let mut it = one.splitn(2, ':');
            if it.next() != Some("repository") {
                continue;
            }
            let Some(rest) = it.next() else { continue };
            // The name may contain ':' only as host:port, which repositories here never do.
            let Some((repo, acts)) = rest.rsplit_once(':') else { continue };
            if let Ok(a) = Action::parse_list(acts) {
                out.push((repo.to_string(), a));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::from_bytes(&[7u8; 32]).unwrap()
    }

    #[test]
    fn tokens_verify_and_scope() {
        let k = key();
        let (t, _) = k.issue(
            "ci",
            vec![Access { repo: "team/*".into(), actions: vec![Action::Pull, Action::Push] }],
            Duration::from_secs(60),
        );
        let c = k.verify(&t).unwrap();
        assert!(c.allows("team/app", Action::Push));
        assert!(!c.allows("other", Action::Pull));
        assert!(!c.allows("team/app", Action::Delete));
        let narrowed = c.narrow(&parse_scopes(["repository:team/app:pull,push,delete"]));
        assert_eq!(narrowed, vec![Access { repo: "team/app".into(), actions: vec![Action::Pull, Action::Push] }]);
    }

    #[test]
    fn forged_altered_expired_and_foreign_tokens_fail() {
        let k = key();
        let (t, mut claims) =
            k.issue("x", vec![Access { repo: "a".into(), actions: vec![Action::Pull] }], Duration::from_secs(60));
        let other = TokenKey::from_bytes(&[8u8; 32]).unwrap();
        assert_eq!(other.verify(&t), Err(TokenError::BadSignature));
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged_body = B64.encode(br#"{"access":[{"repo":"*","actions":["push"]}],"iat":0,"exp":99999999999}"#);
        parts[1] = &forged_body;
        assert_eq!(k.verify(&parts.join(".")), Err(TokenError::BadSignature));
        assert_eq!(k.verify("garbage"), Err(TokenError::Malformed));
        assert_eq!(k.verify("volt1.a.b.c"), Err(TokenError::Malformed));
        claims.exp = 1;
        assert_eq!(k.verify(&k.sign(&claims)), Err(TokenError::Expired));
        assert!(!format!("{k:?}").contains('7'));
    }

    #[test]
    fn ttl_actions_and_key_file() {
        assert_eq!(parse_ttl("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_ttl("90").unwrap(), Duration::from_secs(90));
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("999999999999999999d").is_err());
        assert!(parse_ttl("3651d").is_err());
        let k = key();
        let (_, c) = k.issue_until("x", vec![], Duration::from_secs(600), now() + 5);
        assert!(c.exp <= now() + 5, "an exchanged token outlives the original");
        assert!(Action::parse_list("pull,fly").is_err());
        assert_eq!(Action::parse_list("*").unwrap().len(), 3);
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("etc/registry.key");
        let a = TokenKey::load_or_create(&p).unwrap();
        let b = TokenKey::load_or_create(&p).unwrap();
        assert_eq!(a.key, b.key);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
