//! Blobs and uploads: read, mount from another repository, delete, and the upload sessions.

use super::*;

impl RegistryStore {
    /// The object and size of a blob the repository may serve.
    ///
    /// # Errors
    /// [`RegistryError::BlobUnknown`].
    pub fn blob(&self, repo: &str, digest: &str) -> RResult<(ObjectId, u64)> {
        check_repository(repo)?;
        let d = digest_arg(digest)?;
        let id = self
            .get(&ref_of(repo, &format!("@blobs/{d}"))?)?
            .ok_or_else(|| RegistryError::BlobUnknown(digest.into()))?;
        match self.cas.stat(&id.digest()) {
            Ok(info) => Ok((id, info.size)),
            Err(volt_cas::Error::ObjectNotFound(_)) => Err(RegistryError::BlobUnknown(digest.into())),
            Err(e) => Err(e.into()),
        }
    }

    /// Link an existing blob into `repo`: from repository `from` when given (which must have it
    /// and which the caller must be allowed to read), else from any repository that has it and
    /// that the caller may read. `may_pull` says which repositories the caller may read.
    ///
    /// # Errors
    /// [`RegistryError::BlobUnknown`] when there is nothing (readable) to mount.
    pub fn mount(
        &self,
        repo: &str,
        digest: &str,
        from: Option<&str>,
        may_pull: &dyn Fn(&str) -> bool,
    ) -> RResult<ObjectId> {
        check_repository(repo)?;
        let d = digest_arg(digest)?;
        self.audit.audited("registry.blob.mount", &format!("{repo}@{digest}"), || {
            let id = match from {
                Some(f) if may_pull(f) => self.blob(f, digest)?.0,
                Some(_) => return Err(RegistryError::BlobUnknown(digest.into())),
                None => {
                    let suffix = format!("/@blobs/{d}");
                    let prefix = format!("{REGISTRY_REFS}/");
                    let source = self.cas.list_refs(Some(REGISTRY_REFS))?.into_iter().find(|r| {
                        r.name
                            .as_str()
                            .strip_prefix(&prefix)
                            .and_then(|rest| rest.strip_suffix(&suffix))
                            .is_some_and(may_pull)
                    });
                    match source {
                        Some(r) if self.cas.has(&r.target) => r.target,
                        _ => return Err(RegistryError::BlobUnknown(digest.into())),
                    }
                }
            };
            let txn = self.cas.begin()?;
            if !txn.protect(&id)? {
                return Err(RegistryError::BlobUnknown(digest.into()));
            }
            txn.commit(Some((&ref_of(repo, &format!("@blobs/{d}"))?, &id)))?;
            Ok(id)
        })
    }

    /// Unlink a blob from a repository (content goes at the next gc if nothing else uses it).
    ///
    /// # Errors
    /// [`RegistryError::BlobUnknown`].
    pub fn delete_blob(&self, repo: &str, digest: &str) -> RResult<()> {
        self.audit.audited("registry.blob.delete", &format!("{repo}@{digest}"), || {
            self.blob(repo, digest)?;
            let d = digest_arg(digest)?;
            self.cas.delete_ref(&ref_of(repo, &format!("@blobs/{d}"))?)?;
            Ok(())
        })
    }

    /// Start an upload session.
    ///
    /// # Errors
    /// Name and store errors.
    pub fn start_upload(&self, repo: &str) -> RResult<Arc<Upload>> {
        check_repository(repo)?;
        let open = self.uploads.lock().expect("poisoned").len();
        if open >= MAX_UPLOADS {
            return Err(RegistryError::TooManyRequests(open));
        }
        let (tx, rx) = tokio::sync::mpsc::channel::<Msg>(32);
        let up = Arc::new(Upload {
            id: new_id(),
            repo: repo.to_string(),
            tx: Mutex::new(Some(tx)),
            received: AtomicU64::new(0),
            last_active: Mutex::new(Instant::now()),
            lock: tokio::sync::Mutex::new(()),
        });
        let cas = self.cas.clone();
        let name = format!("upload {}", up.id);
        std::thread::Builder::new()
            .name("volt-upload".into())
            .spawn(move || upload_writer(&cas, &name, rx))
            .map_err(|e| Error::io("start upload writer", "<thread>", e))?;
        self.uploads.lock().expect("poisoned").insert(up.id.clone(), up.clone());
        Ok(up)
    }

    /// A live upload session of `repo`.
    ///
    /// # Errors
    /// [`RegistryError::UploadUnknown`].
    pub fn upload(&self, repo: &str, id: &str) -> RResult<Arc<Upload>> {
        let g = self.uploads.lock().expect("poisoned");
        match g.get(id) {
            Some(u) if u.repo == repo => Ok(u.clone()),
            _ => Err(RegistryError::UploadUnknown(id.into())),
        }
    }

    /// Complete an upload: check the digest, store the blob and link it into the repository.
    ///
    /// # Errors
    /// [`RegistryError::DigestInvalid`] (nothing is kept).
    pub async fn finish_upload(&self, up: &Upload, digest: &str) -> RResult<ObjectId> {
        let r = async {
            let d = digest_arg(digest)?;
            let link = ref_of(&up.repo, &format!("@blobs/{d}"))?;
            let out = up.finish(d, link).await;
            self.uploads.lock().expect("poisoned").remove(&up.id);
            out.map(|(id, _)| id)
        }
        .await;
        self.audit.outcome("registry.blob.push", &format!("{}@{digest}", up.repo), r)
    }

    /// Cancel an upload.
    ///
    /// # Errors
    /// [`RegistryError::UploadUnknown`].
    pub fn cancel_upload(&self, repo: &str, id: &str) -> RResult<()> {
        let up = self.upload(repo, id)?;
        up.cancel();
        self.uploads.lock().expect("poisoned").remove(id);
        Ok(())
    }

    /// Cancel sessions idle for longer than the upload TTL; returns how many.
    pub fn expire_uploads(&self) -> usize {
        let ttl = Duration::from_secs(self.settings.upload_ttl);
        let mut g = self.uploads.lock().expect("poisoned");
        let stale: Vec<String> = g
            .iter()
            .filter(|(_, u)| u.last_active.lock().expect("poisoned").elapsed() > ttl)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &stale {
            if let Some(u) = g.remove(k) {
                u.cancel();
            }
        }
        stale.len()
    }

    /// Upload sessions in flight.
    pub fn uploads_in_flight(&self) -> usize {
        self.uploads.lock().expect("poisoned").len()
    }
}
