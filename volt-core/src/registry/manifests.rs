//! Manifests, tags, referrers and the catalogue.

use super::*;

impl RegistryStore {
    /// Store a manifest under `reference` (a tag or the manifest's digest).
    /// Returns its digest and its subject's digest.
    ///
    /// # Errors
    /// [`RegistryError::ManifestInvalid`], [`RegistryError::DigestInvalid`],
    /// [`RegistryError::ManifestBlobUnknown`], [`RegistryError::SizeInvalid`].
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        content_type: Option<&str>,
        bytes: &[u8],
    ) -> RResult<(String, Option<String>)> {
        self.audit.audited("registry.manifest.push", &format!("{repo}:{reference}"), || {
            self.put_manifest_inner(repo, reference, content_type, bytes)
        })
    }

    pub(super) fn put_manifest_inner(
        &self,
        repo: &str,
        reference: &str,
        content_type: Option<&str>,
        bytes: &[u8],
    ) -> RResult<(String, Option<String>)> {
        check_repository(repo)?;
        if bytes.len() as u64 > self.settings.max_manifest_size {
            return Err(RegistryError::SizeInvalid(format!(
                "manifest of {} bytes exceeds the limit of {}",
                bytes.len(),
                self.settings.max_manifest_size
            )));
        }
        let by_digest = reference.contains(':');
        let digest = if by_digest {
            let d = digest_arg(reference)?;
            let actual = oci::digest_of(d.algorithm, bytes);
            if actual != d {
                return Err(RegistryError::DigestInvalid(format!("{reference} (content is {actual})")));
            }
            d
        } else {
            if !valid_tag(reference) {
                return Err(RegistryError::ManifestInvalid(format!("invalid tag {reference:?}")));
            }
            oci::digest_of(Algorithm::Sha256, bytes)
        };
        let m = Manifest::parse(bytes).map_err(|e| RegistryError::ManifestInvalid(e.to_string()))?;
        if let (Some(ct), Some(mt)) = (content_type, m.media_type.as_deref()) {
            if ct != mt {
                return Err(RegistryError::ManifestInvalid(format!("Content-Type {ct} differs from mediaType {mt}")));
            }
        }
        let media_type = content_type.or(m.media_type.as_deref()).unwrap_or(m.effective_media_type()).to_string();
        let mut ids = Vec::new();
        let mut blobs: Vec<&Descriptor> = m.config.iter().collect();
        blobs.extend(&m.layers);
        for (i, b) in blobs.into_iter().enumerate() {
            match self.blob(repo, &b.digest) {
                Ok((id, _)) => ids.push(id),
                // A non-distributable layer with urls need not be here: clients fetch it from
                // there, and nothing is kept for it. The config (first when there is one) must be.
                Err(_) if b.is_foreign_with_urls() && !(i == 0 && m.config.is_some()) => {
                    digest_arg(&b.digest)?;
                }
                Err(_) => return Err(RegistryError::ManifestBlobUnknown(b.digest.clone())),
            }
        }
        for c in &m.manifests {
            let name = ref_of(repo, &format!("@manifests/{}", digest_arg(&c.digest)?))?;
            let id = self.get(&name)?.ok_or_else(|| RegistryError::ManifestBlobUnknown(c.digest.clone()))?;
            ids.push(id);
        }
        let txn = self.cas.begin()?;
        for id in &ids {
            if !txn.protect(id)? {
                return Err(RegistryError::ManifestBlobUnknown(id.to_string()));
            }
        }
        let out = txn.put_bytes(bytes, None)?;
        txn.add_alias(digest.clone(), out.id);
        txn.add_alias(oci::digest_of(Algorithm::Sha256, bytes), out.id);
        let subject = m.subject.as_ref().map(|s| s.digest.clone());
        // Every ref this manifest needs is checked before anything is stored.
        let manifest_ref = ref_of(repo, &format!("@manifests/{digest}"))?;
        let tag_ref = if by_digest { None } else { Some(ref_of(repo, &format!("@tags/{reference}"))?) };
        let referrer_ref = match &subject {
            Some(sd) => Some(ref_of(repo, &format!("@referrers/{}/{}", ref_key(&digest_arg(sd)?), ref_key(&digest)))?),
            None => None,
        };
        let info = ManifestInfo {
            digest: digest.to_string(),
            media_type,
            size: bytes.len() as u64,
            artifact_type: m.effective_artifact_type().map(String::from),
            subject: subject.clone(),
            object: out.id,
        };
        let mut all = vec![out.id];
        all.extend(ids);
        let links = Links { ids: all, payload: serde_json::to_vec(&info).expect("serialises") };
        let lid = txn.put_bytes(&links.encode(), None)?.id;
        let mut refs = vec![(&manifest_ref, &lid)];
        refs.extend(tag_ref.iter().chain(referrer_ref.iter()).map(|r| (r, &lid)));
        txn.commit_refs(&refs)?;
        Ok((digest.to_string(), subject))
    }

    pub(super) fn manifest_ref(&self, repo: &str, reference: &str) -> RResult<RefName> {
        if reference.contains(':') {
            ref_of(repo, &format!("@manifests/{}", digest_arg(reference)?))
        } else if valid_tag(reference) {
            ref_of(repo, &format!("@tags/{reference}"))
        } else {
            Err(RegistryError::ManifestInvalid(format!("invalid tag {reference:?}")))
        }
    }

    pub(super) fn info(&self, lid: &ObjectId) -> RResult<ManifestInfo> {
        let links = self.cas.read_links(lid)?;
        serde_json::from_slice(&links.payload)
            .map_err(|e| RegistryError::Internal(Error::invalid_image("manifest record", e.to_string())))
    }

    /// A manifest's record (digest, media type, size) by tag or digest.
    ///
    /// # Errors
    /// [`RegistryError::ManifestUnknown`].
    pub fn manifest_info(&self, repo: &str, reference: &str) -> RResult<ManifestInfo> {
        check_repository(repo)?;
        let name = self.manifest_ref(repo, reference)?;
        let lid = self.get(&name)?.ok_or_else(|| RegistryError::ManifestUnknown(reference.into()))?;
        self.info(&lid)
    }

    /// A manifest's bytes and record.
    ///
    /// # Errors
    /// [`RegistryError::ManifestUnknown`].
    pub fn manifest(&self, repo: &str, reference: &str) -> RResult<(ManifestInfo, Vec<u8>)> {
        let info = self.manifest_info(repo, reference)?;
        let bytes = self.cas.read(&info.object)?;
        Ok((info, bytes))
    }

    /// Delete a tag, or a manifest by digest (with its tags and referrers entry).
    ///
    /// # Errors
    /// [`RegistryError::ManifestUnknown`].
    pub fn delete_manifest(&self, repo: &str, reference: &str) -> RResult<()> {
        self.audit.audited("registry.manifest.delete", &format!("{repo}:{reference}"), || {
            check_repository(repo)?;
            let name = self.manifest_ref(repo, reference)?;
            let lid = self.get(&name)?.ok_or_else(|| RegistryError::ManifestUnknown(reference.into()))?;
            if !reference.contains(':') {
                self.cas.delete_ref(&name)?;
                return Ok(());
            }
            let info = self.info(&lid)?;
            for t in self.cas.list_refs(Some(&format!("{REGISTRY_REFS}/{repo}/@tags")))? {
                if t.target == lid && t.name.as_str().starts_with(&format!("{REGISTRY_REFS}/{repo}/@tags/")) {
                    self.cas.delete_ref(&t.name)?;
                }
            }
            if let Some(s) = &info.subject {
                let rn = ref_of(
                    repo,
                    &format!("@referrers/{}/{}", ref_key(&digest_arg(s)?), ref_key(&digest_arg(&info.digest)?)),
                )?;
                match self.cas.delete_ref(&rn) {
                    Ok(()) | Err(volt_cas::Error::RefNotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            self.cas.delete_ref(&name)?;
            Ok(())
        })
    }

    /// Tags of a repository in lexical order, after `last`, at most `n`.
    ///
    /// # Errors
    /// [`RegistryError::NameUnknown`].
    pub fn tags(&self, repo: &str, n: Option<usize>, last: Option<&str>) -> RResult<Vec<String>> {
        if !self.repo_exists(repo)? {
            return Err(RegistryError::NameUnknown(repo.into()));
        }
        let prefix = format!("{REGISTRY_REFS}/{repo}/@tags/");
        let mut tags: Vec<String> = self
            .cas
            .list_refs(Some(&format!("{REGISTRY_REFS}/{repo}/@tags")))?
            .into_iter()
            .filter_map(|r| r.name.as_str().strip_prefix(&prefix).filter(|t| !t.contains('/')).map(String::from))
            .collect();
        tags.sort();
        if let Some(l) = last {
            tags.retain(|t| t.as_str() > l);
        }
        if let Some(n) = n {
            tags.truncate(n);
        }
        Ok(tags)
    }

    /// Manifests whose subject is `digest`, as descriptors, optionally only of one artifact
    /// type.
    ///
    /// # Errors
    /// Name and store errors.
    pub fn referrers(&self, repo: &str, digest: &str, artifact_type: Option<&str>) -> RResult<Vec<Descriptor>> {
        check_repository(repo)?;
        let d = digest_arg(digest)?;
        let mut out = Vec::new();
        for r in self.cas.list_refs(Some(&format!("{REGISTRY_REFS}/{repo}/@referrers/{}", ref_key(&d))))? {
            let info = self.info(&r.target)?;
            if artifact_type.is_some_and(|t| info.artifact_type.as_deref() != Some(t)) {
                continue;
            }
            let bytes = self.cas.read(&info.object)?;
            let annotations = Manifest::parse(&bytes).map(|m| m.annotations).unwrap_or_default();
            out.push(Descriptor {
                media_type: info.media_type,
                digest: info.digest,
                size: info.size as i64,
                artifact_type: info.artifact_type,
                annotations,
                platform: None,
                urls: Vec::new(),
            });
        }
        out.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(out)
    }

    /// Repositories, sorted.
    ///
    /// # Errors
    /// Store errors.
    pub fn repositories(&self) -> RResult<Vec<String>> {
        let mut repos: HashSet<String> = HashSet::new();
        let prefix = format!("{REGISTRY_REFS}/");
        for r in self.cas.list_refs(Some(REGISTRY_REFS))? {
            if let Some(rest) = r.name.as_str().strip_prefix(&prefix) {
                if let Some((repo, _)) = rest.split_once("/@") {
                    repos.insert(repo.to_string());
                }
            }
        }
        let mut v: Vec<String> = repos.into_iter().collect();
        v.sort();
        Ok(v)
    }
}
