//! `volt cas …`: each arm calls one Store function and turns the result into a view.

use std::path::Path;

use volt_core::cas::{Algorithm, CheckoutMode, RefName};
use volt_core::{PutOptions, Result, Volt};

use crate::cli::{CasCommand, Mode, RefsCommand};
use crate::output::{bytes, fields, table, View};
use crate::progress::Spinner;

fn ref_name(s: &str) -> Result<RefName> {
    Ok(s.parse::<RefName>()?)
}

pub async fn run(volt: &Volt, cmd: CasCommand, quiet: bool) -> Result<View> {
    let store = volt.store();
    match cmd {
        CasCommand::Status => {
            let s = store.status().await?;
            let human = fields(&[
                ("Store", s.root.clone()),
                ("Objects", format!("{} ({} stored whole, {} chunked)", s.objects, s.blobs, s.chunked)),
                ("Distinct chunks", s.chunks.to_string()),
                ("Variants", s.variants.to_string()),
                ("Stored", bytes(s.stored_bytes)),
                ("Refs", s.refs.to_string()),
                ("Logical", bytes(s.logical_bytes)),
                ("Dedup ratio", format!("{:.2}", s.dedup_ratio)),
            ]);
            Ok(View::new(&s, human))
        }
        CasCommand::Build { dir, reference } => {
            let reference = reference.as_deref().map(ref_name).transpose()?;
            let sp = Spinner::start(quiet, format!("storing {}", dir.display()));
            let r = store.build(&dir, reference.clone()).await;
            sp.finish();
            let r = r?;
            let mut human = fields(&[
                ("Tree", r.root.to_string()),
                ("Ref", r.reference.as_ref().map_or("(none)".into(), |r| r.to_string())),
                ("Entries", r.entries.to_string()),
                ("Files", format!("{} ({} from the stat cache)", r.files, r.cached)),
                ("Content", bytes(r.bytes)),
                ("New objects", r.new_objects.to_string()),
            ]);
            if !r.skipped.is_empty() {
                human.push_str(&format!("Skipped {} socket(s)\n", r.skipped.len()));
            }
            let mut v = View::new(&r, human).id(r.root.to_string());
            if reference.is_none() {
                v = v.notice("the tree has no ref: `volt cas gc` will remove it (use --ref NAME to keep it)");
            }
            Ok(v)
        }
        CasCommand::Checkout { target, dir, mode } => {
            let mode = match mode {
                Mode::Hardlink => CheckoutMode::Hardlink,
                Mode::Reflink => CheckoutMode::Reflink,
                Mode::Copy => CheckoutMode::Copy,
            };
            let sp = Spinner::start(quiet, format!("checking out {target}"));
            let r = store.checkout(&target, &dir, mode).await;
            sp.finish();
            let r = r?;
            let human = fields(&[
                ("Tree", r.root.to_string()),
                ("Destination", r.dest.display().to_string()),
                ("Entries", r.entries.to_string()),
                ("Linked", r.linked.to_string()),
                ("Copied", r.copied.to_string()),
                ("New variants", r.variants_created.to_string()),
            ]);
            let mut v = View::new(&r, human).id(r.dest.display().to_string());
            if let Some(n) = &r.notice {
                v = v.notice(n.clone());
            }
            Ok(v)
        }
        CasCommand::Verify(a) => {
            let sp = Spinner::start(quiet, "verifying".to_string());
            let r = store.verify(a.target.as_deref()).await;
            sp.finish();
            let r = r?;
            let mut human = fields(&[
                ("Checked", format!("{} objects, {}", r.checked, bytes(r.bytes))),
                ("Corrupt", r.corrupt.len().to_string()),
                ("Missing", r.missing.len().to_string()),
                ("Broken refs", r.broken_refs.len().to_string()),
            ]);
            for b in &r.corrupt {
                human.push_str(&format!("corrupt  {}  {}\n", b.path, b.reason));
            }
            for m in &r.missing {
                human.push_str(&format!("missing  {m}\n"));
            }
            for b in &r.broken_refs {
                human.push_str(&format!("broken   ref {} ({} damaged object(s))\n", b.name, b.objects.len()));
            }
            let clean = r.is_clean();
            human.push_str(if clean { "store is intact\n" } else { "store is damaged\n" });
            let v = View::new(&r, human).id(if clean { "ok" } else { "damaged" });
            Ok(if clean { v } else { v.exit(volt_core::ErrorKind::General.exit_code()) })
        }
        CasCommand::Gc { dry_run } => {
            let r = store.gc(dry_run).await?;
            let (verb, aliases, stale) = if dry_run {
                ("Would remove", "Aliases to remove", "Abandoned writes found")
            } else {
                ("Removed", "Aliases removed", "Abandoned writes cleaned")
            };
            let human = fields(&[
                ("Live objects", r.live_objects.to_string()),
                (verb, format!("{} files, {}", r.removed_files, bytes(r.removed_bytes))),
                (aliases, r.removed_aliases.to_string()),
                ("Writers in flight", r.live_transactions.to_string()),
                (stale, r.stale_transactions.to_string()),
            ]);
            Ok(View::new(&r, human).id(r.removed_files.to_string()))
        }
        CasCommand::Dedup { top } => {
            let r = store.dedup(top).await?;
            let mut human = fields(&[
                ("Files", r.files.to_string()),
                ("Unique objects", r.unique_objects.to_string()),
                ("Logical", bytes(r.logical_bytes)),
                ("Stored", bytes(r.stored_bytes)),
                ("Ratio", format!("{:.2}", r.ratio)),
                ("Shared chunks", r.shared_chunks.to_string()),
            ]);
            if !r.top.is_empty() {
                human.push('\n');
                human.push_str(&table(
                    &["object", "size", "uses", "saved"],
                    r.top
                        .iter()
                        .map(|s| vec![s.id.to_string(), bytes(s.size), s.uses.to_string(), bytes(s.saved)])
                        .collect(),
                ));
            }
            Ok(View::new(&r, human))
        }
        CasCommand::Refs { action } => match action.unwrap_or(RefsCommand::List { prefix: None }) {
            RefsCommand::List { prefix } => {
                let refs = store.refs(prefix.as_deref()).await?;
                let human = if refs.is_empty() {
                    "no refs\n".to_string()
                } else {
                    table(
                        &["name", "target"],
                        refs.iter().map(|r| vec![r.name.to_string(), r.target.to_string()]).collect(),
                    )
                };
                let ids = refs.iter().map(|r| r.name.to_string()).collect::<Vec<_>>().join("\n");
                Ok(View::new(&refs, human).id(ids))
            }
            RefsCommand::Set { name, target } => {
                let n = ref_name(&name)?;
                let id = store.set_ref(&n, &target).await?;
                let data = serde_json::json!({"name": name, "target": id.to_string()});
                Ok(View::new(&data, format!("{name} -> {id}\n")).id(id.to_string()))
            }
            RefsCommand::Delete { name } => {
                let n = ref_name(&name)?;
                store.delete_ref(&n).await?;
                let data = serde_json::json!({"deleted": name});
                Ok(View::new(&data, format!("deleted ref {name}\n")).id(name))
            }
        },
        CasCommand::Put { file, reference, also } => {
            let reference = reference.as_deref().map(ref_name).transpose()?;
            let also = also.iter().map(|a| a.parse::<Algorithm>()).collect::<std::result::Result<Vec<_>, _>>()?;
            let path = if file == Path::new("-") { Path::new("/dev/stdin") } else { file.as_path() };
            let r = store.put_file(path, PutOptions { also, reference: reference.clone() }).await?;
            let mut pairs = vec![
                ("Digest", r.id.to_string()),
                ("Size", bytes(r.size)),
                ("Chunks", r.chunks.to_string()),
                ("Already stored", if r.existed { "yes" } else { "no" }.to_string()),
            ];
            for a in &r.aliases {
                pairs.push(("Alias", a.to_string()));
            }
            let mut v = View::new(&r, fields(&pairs)).id(r.id.to_string());
            if reference.is_none() {
                v = v.notice("the object has no ref: `volt cas gc` will remove it (use --ref NAME to keep it)");
            }
            Ok(v)
        }
        CasCommand::Get { target, dest } => {
            let Some(p) = dest else {
                store.get(&target, Box::new(std::io::stdout())).await?;
                return Ok(View::empty());
            };
            let n = store.get_to_path(&target, &p).await?;
            let data = serde_json::json!({"target": target, "dest": p, "bytes": n});
            Ok(View::new(&data, format!("wrote {} to {}\n", bytes(n), p.display())).id(p.display().to_string()))
        }
        CasCommand::Cat { target } => {
            store.get(&target, Box::new(std::io::stdout())).await?;
            Ok(View::empty())
        }
        CasCommand::Stat { target } => {
            let s = store.stat(&target).await?;
            let mut pairs = vec![
                ("Digest", s.id.to_string()),
                ("Kind", if s.tree { "tree".into() } else { format!("{:?}", s.kind).to_lowercase() }),
                ("Size", bytes(s.size)),
                ("Chunks", s.chunks.to_string()),
            ];
            for a in &s.aliases {
                pairs.push(("Alias", a.to_string()));
            }
            Ok(View::new(&s, fields(&pairs)).id(s.id.to_string()))
        }
    }
}
