//! `volt image …` and `volt registry …`: each arm calls one SDK function and makes a view.

use std::sync::Arc;
use std::time::Duration;

use volt_core::image::{Credentials, ImageName, RemoteOptions};
use volt_core::{Error, Result, Volt};

use crate::cli::{ImageCommand, RegistryCommand, RemoteArgs, TokenCommand};
use crate::output::{bytes, fields, table, View};
use crate::progress::Bars;

fn name(s: &str) -> Result<ImageName> {
    s.parse()
}

fn remote(a: RemoteArgs) -> Result<RemoteOptions> {
    let credentials = match (a.creds, a.token) {
        (Some(c), _) => {
            let (u, p) =
                c.split_once(':').ok_or_else(|| Error::InvalidArgument("--creds: expected USER:PASSWORD".into()))?;
            Credentials::Basic { username: u.into(), password: p.into() }
        }
        (None, Some(t)) => Credentials::Bearer(t),
        (None, None) => Credentials::Anonymous,
    };
    let mut o = RemoteOptions::default().with_credentials(credentials).insecure(a.insecure);
    for p in a.ca_cert {
        o.ca_certs.push(std::fs::read(&p).map_err(|e| Error::Io { op: "read CA certificate", path: p, source: e })?);
    }
    Ok(o)
}

fn short(d: &str) -> String {
    d.strip_prefix("sha256:").map_or(d.to_string(), |h| h[..12.min(h.len())].to_string())
}

fn record_view(rec: &volt_core::image::ImageRecord) -> View {
    let c = &rec.config;
    let join = |v: &[String]| if v.is_empty() { "-".to_string() } else { v.join(" ") };
    let mut human = fields(&[
        ("Name", rec.name.to_string()),
        ("Id", rec.id.clone()),
        ("Manifest", format!("{} ({})", rec.manifest_digest, rec.manifest_media_type)),
        ("Platform", format!("{}/{}", c.os, c.architecture)),
        ("Created", if c.created.is_empty() { "-".into() } else { c.created.clone() }),
        ("Entrypoint", join(&c.entrypoint)),
        ("Cmd", join(&c.cmd)),
        ("Workdir", if c.workdir.is_empty() { "/".into() } else { c.workdir.clone() }),
        ("User", if c.user.is_empty() { "root".into() } else { c.user.clone() }),
        ("Env", join(&c.env)),
        ("Ports", join(&c.exposed_ports)),
        ("Volumes", join(&c.volumes)),
        ("Labels", c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")),
        ("Tree", format!("{} ({} entries, {})", rec.tree, rec.files, bytes(rec.size))),
        ("Source", rec.source.clone()),
        ("Stored", rec.stored.clone()),
    ]);
    human.push_str("Layers:\n");
    let rows = rec.layers.iter().map(|l| vec![l.digest.clone(), bytes(l.size), l.media_type.clone()]).collect();
    human.push_str(&table(&["DIGEST", "SIZE", "MEDIA TYPE"], rows));
    View::new(rec, human).id(rec.id.clone())
}

pub async fn run(volt: &Volt, cmd: ImageCommand, quiet: bool) -> Result<View> {
    let images = volt.images()?.clone();
    match cmd {
        ImageCommand::Import { path, name: n } => {
            let n = name(&n)?;
            let bars = Bars::new(quiet);
            let cb = bars.callback();
            let rec = tokio::task::spawn_blocking(move || images.import(&path, &n, cb.as_deref()))
                .await
                .map_err(|e| Error::Task(e.to_string()))?;
            bars.finish();
            Ok(record_view(&rec?))
        }
        ImageCommand::Pull { reference, name: n, remote: r } => {
            let n = n.as_deref().map(name).transpose()?;
            let bars = Bars::new(quiet);
            let rec = images.pull(&reference, n.as_ref(), &remote(r)?, bars.callback()).await;
            bars.finish();
            Ok(record_view(&rec?))
        }
        ImageCommand::Push { image, destination, remote: r } => {
            let n = name(&image)?;
            let bars = Bars::new(quiet);
            let rep = images.push(&n, destination.as_deref(), &remote(r)?, bars.callback()).await;
            bars.finish();
            let rep = rep?;
            let human = fields(&[
                ("Pushed", rep.reference.clone()),
                ("Manifest", rep.manifest_digest.clone()),
                ("Uploaded", format!("{} blob(s), {}", rep.uploaded, bytes(rep.bytes))),
                ("Already there", format!("{} blob(s)", rep.skipped)),
            ]);
            Ok(View::new(&rep, human).id(rep.manifest_digest.clone()))
        }
        ImageCommand::List => {
            let list =
                tokio::task::spawn_blocking(move || images.list()).await.map_err(|e| Error::Task(e.to_string()))??;
            let rows = list
                .iter()
                .map(|i| {
                    vec![
                        i.name.repository.clone(),
                        i.name.tag.clone(),
                        short(&i.id),
                        bytes(i.size),
                        i.layers.to_string(),
                        i.stored.clone(),
                    ]
                })
                .collect();
            let human = table(&["REPOSITORY", "TAG", "ID", "SIZE", "LAYERS", "STORED"], rows);
            let ids = list.iter().map(|i| i.name.to_string()).collect::<Vec<_>>().join("\n");
            Ok(View::new(&list, human).id(ids))
        }
        ImageCommand::Inspect { image } => {
            let n = name(&image)?;
            Ok(record_view(&images.inspect(&n)?))
        }
        ImageCommand::Tag { source, target } => {
            let (s, t) = (name(&source)?, name(&target)?);
            images.tag(&s, &t)?;
            Ok(View::new(&serde_json::json!({"source": s, "target": t}), format!("tagged {s} as {t}\n"))
                .id(t.to_string()))
        }
        ImageCommand::Rm { images: names } => {
            let mut removed = Vec::new();
            for n in &names {
                let n = name(n)?;
                images.remove(&n)?;
                removed.push(n.to_string());
            }
            let human = removed.iter().map(|n| format!("removed {n}\n")).collect();
            Ok(View::new(&removed, human).id(removed.join("\n")).notice("content is freed by the next `volt cas gc`"))
        }
        ImageCommand::Export { image, dest } => {
            let n = name(&image)?;
            let bars = Bars::new(quiet);
            let cb = bars.callback();
            let rep = tokio::task::spawn_blocking(move || images.export(&n, &dest, cb.as_deref()))
                .await
                .map_err(|e| Error::Task(e.to_string()))?;
            bars.finish();
            let rep = rep?;
            let human = fields(&[
                ("Exported", rep.path.display().to_string()),
                ("Manifest", rep.manifest_digest.clone()),
                ("Blobs", format!("{} ({})", rep.blobs, bytes(rep.bytes))),
            ]);
            Ok(View::new(&rep, human).id(rep.path.display().to_string()))
        }
    }
}

pub async fn registry(volt: &Volt, cmd: RegistryCommand, quiet: bool) -> Result<View> {
    match cmd {
        RegistryCommand::Serve { port, bind, tls_cert, tls_key } => {
            let mut opts = volt_registry::ServeOptions::default().bind(std::net::SocketAddr::new(bind, port));
            if let (Some(c), Some(k)) = (tls_cert, tls_key) {
                opts = opts.tls(c, k);
            }
            let running = volt_registry::start(volt, opts).await?;
            if !quiet {
                eprintln!("volt registry serving {} (store {})", running.url(), volt.paths().cas_dir().display());
            }
            let sig = crate::interrupted().await;
            if !quiet {
                eprintln!("volt registry: {sig}: finishing requests in flight");
            }
            running.shutdown(Duration::from_secs(30));
            running.wait().await?;
            Ok(View::empty())
        }
        RegistryCommand::Token(TokenCommand::Create { repos, actions, ttl, subject }) => {
            let actions = volt_registry::Action::parse_list(&actions)
                .map_err(|e| Error::InvalidArgument(format!("--actions: {e}")))?;
            let ttl =
                volt_registry::auth::parse_ttl(&ttl).map_err(|e| Error::InvalidArgument(format!("--ttl: {e}")))?;
            let token = volt_registry::create_token(volt, &repos, &actions, ttl, &subject)?;
            let data = serde_json::json!({"token": token, "repositories": repos, "actions": actions, "ttl_seconds": ttl.as_secs()});
            let _ = Arc::new(());
            Ok(View::new(&data, format!("{token}\n")).id(token))
        }
    }
}
