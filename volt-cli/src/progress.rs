//! A spinner on stderr while long operations run, only on a terminal and never with `--quiet`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Spinner(Option<ProgressBar>);

impl Spinner {
    pub fn start(quiet: bool, message: String) -> Self {
        if quiet || !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let pb = ProgressBar::new_spinner();
        pb.set_style(ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"));
        pb.set_message(message);
        pb.enable_steady_tick(Duration::from_millis(120));
        Spinner(Some(pb))
    }

    pub fn finish(self) {
        if let Some(pb) = self.0 {
            pb.finish_and_clear();
        }
    }
}

/// Progress bars for image transfers, one per blob, driven by the SDK's progress callback.
pub struct Bars {
    multi: Option<indicatif::MultiProgress>,
    bars: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, ProgressBar>>>,
}

impl Bars {
    pub fn new(quiet: bool) -> Self {
        let multi = (!quiet && std::io::stderr().is_terminal()).then(indicatif::MultiProgress::new);
        Bars { multi, bars: Default::default() }
    }

    /// The callback to hand to the SDK (None when nothing is shown).
    pub fn callback(&self) -> Option<std::sync::Arc<volt_core::image::ProgressFn>> {
        let multi = self.multi.clone()?;
        let bars = self.bars.clone();
        Some(std::sync::Arc::new(move |p: &volt_core::image::Progress| {
            let mut g = bars.lock().expect("poisoned");
            let pb = g.entry(p.item.clone()).or_insert_with(|| {
                let pb = multi.add(ProgressBar::new(p.total.unwrap_or(0)));
                let short = p.item.strip_prefix("sha256:").map_or(p.item.as_str(), |h| &h[..12.min(h.len())]);
                let style = if p.total.is_some() && p.phase != volt_core::image::Phase::Apply {
                    "{prefix:>9} {msg:14} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}"
                } else {
                    "{prefix:>9} {msg:14} {spinner} {pos}/{len}"
                };
                pb.set_style(ProgressStyle::with_template(style).expect("valid template").progress_chars("=> "));
                pb.set_message(short.to_string());
                pb
            });
            pb.set_prefix(p.phase.name());
            if let Some(t) = p.total {
                pb.set_length(t);
            }
            pb.set_position(p.done);
            if p.total.is_some_and(|t| p.done >= t) {
                pb.finish();
            }
        }))
    }

    pub fn finish(self) {
        if let Some(m) = self.multi {
            let _ = m.clear();
        }
    }
}
