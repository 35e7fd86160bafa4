//! Volt's built-in OCI Distribution registry.
//!
//! Every blob is a Stellarium object and every manifest a Stellarium object behind a ref (see
//! [`volt_core::registry`]), so a layer pushed here and the same layer of a local image are
//! stored once. Clients authenticate with HMAC-signed bearer tokens ([`auth`]), sent directly or
//! obtained from the `/token` endpoint of the Docker/OCI token flow.
//!
//! ```no_run
//! # async fn demo() -> volt_core::Result<()> {
//! let volt = volt_core::Volt::open(volt_core::Config::load()?)?;
//! let running = volt_registry::start(&volt, volt_registry::ServeOptions::default()).await?;
//! println!("serving on {}", running.addr());
//! running.shutdown(std::time::Duration::from_secs(30));
//! running.wait().await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod auth;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use volt_core::{Error, Paths, Result, Volt};

pub use auth::{Access, Action, Claims, TokenError, TokenKey};

/// The service name in `WWW-Authenticate` challenges and tokens.
pub const SERVICE: &str = "volt-registry";

/// How to serve.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServeOptions {
    /// Address to listen on (default `127.0.0.1:5000`; port 0 picks a free port).
    pub bind: SocketAddr,
    /// PEM certificate chain and key: serve HTTPS instead of HTTP.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Lifetime of tokens handed out by the token endpoint.
    pub token_ttl: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions { bind: SocketAddr::from(([127, 0, 0, 1], 5000)), tls: None, token_ttl: Duration::from_secs(300) }
    }
}

impl ServeOptions {
    /// Listen on `addr`.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Serve HTTPS with this certificate chain and key (PEM files).
    pub fn tls(mut self, cert: PathBuf, key: PathBuf) -> Self {
        self.tls = Some((cert, key));
        self
    }
}

/// Where the token signing key lives: `<etc>/registry.key`.
pub fn key_path(paths: &Paths) -> PathBuf {
    paths.etc_dir().join("registry.key")
}

/// Load (or create) the signing key of this Volt installation.
///
/// # Errors
/// [`Error::Io`] if the key file cannot be read or created.
pub fn signing_key(volt: &Volt) -> Result<TokenKey> {
    let p = key_path(volt.paths());
    TokenKey::load_or_create(&p).map_err(|e| Error::Io { op: "load registry key", path: p, source: e })
}

/// Make a token granting `actions` on each of `repos` (`*` and `prefix/*` patterns allowed)
/// for `ttl`. The creation (not the token) is written to the audit log.
///
/// # Errors
/// [`Error::InvalidArgument`] for an empty repository list; key errors.
pub fn create_token(volt: &Volt, repos: &[String], actions: &[Action], ttl: Duration, subject: &str) -> Result<String> {
    if repos.is_empty() {
        return Err(Error::InvalidArgument("name at least one repository (--repo)".into()));
    }
    for r in repos {
        let bare = r.strip_suffix("/*").unwrap_or(r);
        if r != "*" && volt_core::registry::check_repository(bare).is_err() {
            return Err(Error::InvalidArgument(format!("repository {r:?}: expected a repository name, NAME/* or *")));
        }
    }
    let key = signing_key(volt)?;
    let access = repos.iter().map(|r| Access { repo: r.clone(), actions: actions.to_vec() }).collect();
    let (token, claims) = key.issue(subject, access, ttl);
    let acts: Vec<&str> = actions.iter().map(|a| a.name()).collect();
    volt.audit().record(
        "registry.token.create",
        &format!("{} [{}] until {}", repos.join(","), acts.join(","), claims.exp),
        Ok(()),
    );
    Ok(token)
}

/// A registry server running in the background.
#[derive(Debug)]
pub struct RunningRegistry {
    addr: SocketAddr,
    handle: axum_server::Handle<SocketAddr>,
    join: tokio::task::JoinHandle<std::io::Result<()>>,
    reaper: tokio::task::JoinHandle<()>,
    tls: bool,
}

impl RunningRegistry {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL (`http://127.0.0.1:5000`).
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
    }

    /// Stop accepting connections and let in-flight requests finish within `grace`.
    pub fn shutdown(&self, grace: Duration) {
        self.handle.graceful_shutdown(Some(grace));
    }

    /// Wait until the server has stopped.
    ///
    /// # Errors
    /// The server's I/O error, if it failed.
    pub async fn wait(self) -> Result<()> {
        let r = self.join.await.map_err(|e| Error::Task(e.to_string()))?;
        self.reaper.abort();
        r.map_err(|e| Error::Io { op: "serve registry", path: PathBuf::from(self.addr.to_string()), source: e })
    }
}

/// Bind and start serving on the current tokio runtime.
///
/// # Errors
/// [`Error::Io`] when the address cannot be bound or the TLS files cannot be read.
pub async fn start(volt: &Volt, opts: ServeOptions) -> Result<RunningRegistry> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let store = volt.registry()?.clone();
    let app = Arc::new(server::App {
        anonymous_pull: store.settings().anonymous_pull,
        store: store.clone(),
        key: signing_key(volt)?,
        service: SERVICE.to_string(),
        token_ttl: opts.token_ttl,
        streams: Arc::new(tokio::sync::Semaphore::new(server::MAX_STREAMS)),
    });
    let bind_err =
        |e: std::io::Error| Error::Io { op: "bind registry", path: PathBuf::from(opts.bind.to_string()), source: e };
    let listener = std::net::TcpListener::bind(opts.bind).map_err(bind_err)?;
    listener.set_nonblocking(true).map_err(bind_err)?;
    let addr = listener.local_addr().map_err(bind_err)?;
    let handle = axum_server::Handle::new();
    let tls = opts.tls.is_some();
    let join =
        match &opts.tls {
            None => {
                let svc = server::router(app, "http").into_make_service();
                let srv = axum_server::from_tcp(listener).map_err(bind_err)?.handle(handle.clone());
                tokio::spawn(async move { srv.serve(svc).await })
            }
            Some((cert, key)) => {
                let cfg = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                    .await
                    .map_err(|e| Error::Io { op: "load TLS certificate and key", path: cert.clone(), source: e })?;
                let svc = server::router(app, "https").into_make_service();
                let srv = axum_server::from_tcp_rustls(listener, cfg).map_err(bind_err)?.handle(handle.clone());
                tokio::spawn(async move { srv.serve(svc).await })
            }
        };
    let ttl = store.settings().upload_ttl;
    let reaper = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs((ttl / 4).clamp(1, 60)));
        loop {
            every.tick().await;
            let n = store.expire_uploads();
            if n > 0 {
                tracing::info!(expired = n, "abandoned upload sessions collected");
            }
        }
    });
    tracing::info!(%addr, tls, "registry listening");
    Ok(RunningRegistry { addr, handle, join, reaper, tls })
}
