//! `volt.Images`: the local OCI images of a store, through [`volt_core::image::Images`].

use std::path::PathBuf;

use pyo3::prelude::*;
use volt_core::image::{Credentials, ImageName, Images as CoreImages, RemoteOptions};

use crate::block_on;
use crate::convert::to_python;
use crate::error::{self, IntoPyResult};
use crate::progress::Reporter;

/// The images of one store (`Store.images`).
///
/// An image is a name (`repository[:tag]`, tag `latest` by default) for a root filesystem tree
/// kept in the store with its OCI manifest, config and layer blobs. Every method releases the
/// GIL while it works. `progress`, where accepted, is a callable taking one `volt.types.Progress`
/// dict; it is called from worker threads (with the GIL held for the call).
#[pyclass(module = "volt._volt", frozen)]
pub(crate) struct Images {
    images: CoreImages,
}

impl Images {
    pub(crate) fn new(images: CoreImages) -> Self {
        Images { images }
    }
}

/// Parse `name[:tag]`; a malformed name is a `UsageError`.
pub(crate) fn image_name(name: &str) -> PyResult<ImageName> {
    name.parse::<ImageName>().map_err(error::to_py)
}

/// Registry options from the keyword arguments of `pull` and `push`.
fn remote_options(
    username: Option<String>,
    password: Option<String>,
    token: Option<String>,
    insecure: bool,
    ca_certs: Vec<PathBuf>,
) -> PyResult<RemoteOptions> {
    let credentials = match (username, password, token) {
        (None, None, None) => Credentials::Anonymous,
        (None, None, Some(t)) => Credentials::Bearer(t),
        (Some(username), Some(password), None) => Credentials::Basic { username, password },
        (_, _, Some(_)) => return Err(error::usage("token cannot be combined with username and password")),
        _ => return Err(error::usage("username and password go together")),
    };
    let mut opts = RemoteOptions::default().with_credentials(credentials).insecure(insecure);
    for path in ca_certs {
        let pem = std::fs::read(&path)
            .map_err(|e| error::to_py(volt_core::Error::Io { op: "read CA certificate", path, source: e }))?;
        opts.ca_certs.push(pem);
    }
    Ok(opts)
}

#[pymethods]
impl Images {
    fn __repr__(&self) -> String {
        format!("Images(store={:?})", self.images.cas().root().display().to_string())
    }

    /// Import an image from `path` and name it `name`: an OCI image layout (directory or tar),
    /// a `docker save` archive, or a root filesystem (directory or tarball, plain, gzip or zstd),
    /// recognised from the content. Returns the image's record.
    #[pyo3(signature = (path, name, progress=None))]
    fn import_path<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        name: &str,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let name = image_name(name)?;
        let reporter = Reporter::new(progress)?;
        let cb = reporter.callback();
        let images = &self.images;
        let result = py.detach(|| images.import(&path, &name, cb.as_deref())).py_err();
        drop(cb);
        let rec = reporter.finish(py, result)?;
        to_python(py, &rec)
    }

    /// All local images, sorted by name.
    fn list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let images = &self.images;
        let list = py.detach(|| images.list()).py_err()?;
        to_python(py, &list)
    }

    /// The record of image `name`.
    fn inspect<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let name = image_name(name)?;
        let images = &self.images;
        let rec = py.detach(|| images.inspect(&name)).py_err()?;
        to_python(py, &rec)
    }

    /// Give image `source` the additional name `target` (moving `target` if it named another
    /// image).
    fn tag(&self, py: Python<'_>, source: &str, target: &str) -> PyResult<()> {
        let (source, target) = (image_name(source)?, image_name(target)?);
        let images = &self.images;
        py.detach(|| images.tag(&source, &target)).py_err()
    }

    /// Remove the name `name`; the content goes at the next gc if nothing else uses it.
    fn remove(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let name = image_name(name)?;
        let images = &self.images;
        py.detach(|| images.remove(&name)).py_err()
    }

    /// Write image `name` to `dest` as an OCI image layout: a tar file if `dest` ends in `.tar`,
    /// else a directory (absent or empty).
    #[pyo3(signature = (name, dest, progress=None))]
    fn export<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        dest: PathBuf,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let name = image_name(name)?;
        let reporter = Reporter::new(progress)?;
        let cb = reporter.callback();
        let images = &self.images;
        let result = py.detach(|| images.export(&name, &dest, cb.as_deref())).py_err();
        drop(cb);
        let report = reporter.finish(py, result)?;
        to_python(py, &report)
    }

    /// Pull `reference` (`[registry/]repository[:tag][@digest]`) from a registry and name it
    /// `name` (default: the reference without `docker.io/` and `library/`). Blobs already in the
    /// store are not downloaded.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(
        signature = (
            reference, name=None, *, username=None, password=None, token=None, insecure=false,
            ca_certs=Vec::new(), progress=None
        ),
        text_signature = "(self, /, reference, name=None, *, username=None, password=None, token=None, \
                          insecure=False, ca_certs=(), progress=None)"
    )]
    fn pull<'py>(
        &self,
        py: Python<'py>,
        reference: String,
        name: Option<String>,
        username: Option<String>,
        password: Option<String>,
        token: Option<String>,
        insecure: bool,
        ca_certs: Vec<PathBuf>,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let name = name.as_deref().map(image_name).transpose()?;
        let opts = remote_options(username, password, token, insecure, ca_certs)?;
        let reporter = Reporter::new(progress)?;
        let result = block_on(py, self.images.pull(&reference, name.as_ref(), &opts, reporter.callback()))?.py_err();
        let rec = reporter.finish(py, result)?;
        to_python(py, &rec)
    }

    /// Push image `name` to `destination` (default: the image's own name, which then has to
    /// start with the registry's `host[:port]/`). Blobs the registry already has are not sent.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(
        signature = (
            name, destination=None, *, username=None, password=None, token=None, insecure=false,
            ca_certs=Vec::new(), progress=None
        ),
        text_signature = "(self, /, name, destination=None, *, username=None, password=None, token=None, \
                          insecure=False, ca_certs=(), progress=None)"
    )]
    fn push<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        destination: Option<String>,
        username: Option<String>,
        password: Option<String>,
        token: Option<String>,
        insecure: bool,
        ca_certs: Vec<PathBuf>,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let name = image_name(name)?;
        let opts = remote_options(username, password, token, insecure, ca_certs)?;
        let reporter = Reporter::new(progress)?;
        let result =
            block_on(py, self.images.push(&name, destination.as_deref(), &opts, reporter.callback()))?.py_err();
        let report = reporter.finish(py, result)?;
        to_python(py, &report)
    }

    /// The shared read-only checkout of image `name`'s tree (made on first use; its files are
    /// hardlinks into the store and must not be modified).
    fn shared_root(&self, py: Python<'_>, name: &str) -> PyResult<String> {
        let name = image_name(name)?;
        let images = &self.images;
        let path = py.detach(|| images.shared_root(&name)).py_err()?;
        Ok(path.display().to_string())
    }

    /// Make a container root filesystem from image `name` in `container_dir/rootfs`: an overlayfs
    /// over the shared checkout, or a private copy where overlayfs cannot be mounted or `copy`
    /// is true.
    #[pyo3(signature = (name, container_dir, copy=false))]
    fn create_rootfs<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        container_dir: PathBuf,
        copy: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let name = image_name(name)?;
        let images = &self.images;
        let mount = py.detach(|| images.create_rootfs(&name, &container_dir, copy)).py_err()?;
        to_python(py, &mount)
    }

    /// Undo `create_rootfs`: unmount and remove `rootfs/`, `upper/`, `work/` and the state file
    /// of `container_dir`. Idempotent.
    fn remove_rootfs(&self, py: Python<'_>, container_dir: PathBuf) -> PyResult<()> {
        let images = &self.images;
        py.detach(|| images.remove_rootfs(&container_dir)).py_err()
    }
}
