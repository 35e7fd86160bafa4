//! Create, start and (attached) wait: `volt container run`.

use super::*;

impl Containers {
    /// Create, start and (unless `detach`) follow a container until it ends, handing each
    /// output line to `on_line`; with `rm` it is deleted afterwards. Returns the final state.
    ///
    /// # Errors
    /// As [`Containers::create`] and [`Containers::start`]; a failed start of an `rm` container
    /// deletes it.
    pub fn run(
        &self,
        name: Option<&str>,
        image: &str,
        opts: &CreateOptions,
        detach: bool,
        rm: bool,
        on_line: &mut dyn FnMut(&LogLine),
    ) -> Result<ContainerInfo> {
        if detach && rm {
            return Err(Error::InvalidArgument(
                "--rm needs an attached run (without -d): delete a detached container yourself".into(),
            ));
        }
        let mut opts = opts.clone();
        opts.ephemeral |= rm;
        let info = self.create(name, image, &opts)?;
        let n = info.config.name.to_string();
        if let Err(e) = self.start(&n) {
            if rm {
                let _ = self.delete(&n, true);
            }
            return Err(e);
        }
        if detach {
            return self.inspect(&n);
        }
        let mut f = self.follow(&n, &LogQuery::default())?;
        while let Some(batch) = f.next_batch(Duration::from_millis(200))? {
            for l in &batch {
                on_line(l);
            }
        }
        let info = self.wait(&n, None)?;
        if rm {
            self.delete(&n, true)?;
        }
        Ok(info)
    }
}
