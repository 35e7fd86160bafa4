//! Container directories: all-or-nothing creation from an image, one winner for a name, the
//! image kept while a container uses it, deletion.

use std::fs;
use std::sync::Arc;

use volt_core::container::{ContainerName, ContainerStore, CreateOptions};
use volt_core::image::ImageName;
use volt_core::{Config, ErrorKind, Status, Volt};

fn setup() -> (tempfile::TempDir, Volt, ContainerStore) {
    let dir = tempfile::tempdir().unwrap();
    let volt = Volt::open(Config::default().relocate(dir.path())).unwrap();
    let src = dir.path().join("rootfs");
    fs::create_dir_all(src.join("bin")).unwrap();
    fs::write(src.join("bin/tool"), b"tool").unwrap();
    volt.images().unwrap().import(&src, &"base:1".parse().unwrap(), None).unwrap();
    let store = ContainerStore::new(volt.paths().clone(), volt.images().unwrap().clone());
    (dir, volt, store)
}

fn copy_unless_root() -> CreateOptions {
    let mut o = CreateOptions::default();
    o.command = vec!["/bin/tool".into()];
    o.copy_rootfs = !rustix::process::geteuid().is_root();
    o
}

#[test]
fn create_inspect_list_delete() {
    let (_d, volt, store) = setup();
    let name: ContainerName = "web".parse().unwrap();
    let image: ImageName = "base:1".parse().unwrap();
    let mut opts = copy_unless_root();
    opts.env = vec!["A=1".into()];
    let info = store.create(&name, &image, &opts).unwrap();
    assert_eq!(info.state.status, Status::Stopped);
    assert_eq!(info.config.command, ["/bin/tool"]);
    assert_eq!(fs::read(info.rootfs.path.join("bin/tool")).unwrap(), b"tool");
    assert_eq!(store.inspect(&name).unwrap(), info);
    assert_eq!(store.list().unwrap().len(), 1);
    // The image is in use: removing it is a conflict.
    let err = volt.images().unwrap().remove(&image).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    store.delete(&name).unwrap();
    assert!(!store.dir(&name).exists());
    assert_eq!(store.inspect(&name).unwrap_err().kind(), ErrorKind::NotFound);
    volt.images().unwrap().remove(&image).unwrap();
}

#[test]
fn bad_input_leaves_nothing_and_one_create_wins() {
    let (_d, _volt, store) = setup();
    let name: ContainerName = "db".parse().unwrap();
    let e = store.create(&name, &"nope:1".parse().unwrap(), &copy_unless_root()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(!store.dir(&name).exists());
    let mut bad = copy_unless_root();
    bad.env = vec!["1X=y".into()];
    assert_eq!(store.create(&name, &"base:1".parse().unwrap(), &bad).unwrap_err().kind(), ErrorKind::Usage);
    let mut no_cmd = CreateOptions::default();
    no_cmd.copy_rootfs = true;
    assert_eq!(store.create(&name, &"base:1".parse().unwrap(), &no_cmd).unwrap_err().kind(), ErrorKind::Usage);
    assert!(!store.dir(&name).exists(), "a refused create left a directory");
    // Two creates of one name at once: exactly one wins, the other is told it exists.
    let store = Arc::new(store);
    let results: Vec<_> = (0..2)
        .map(|_| {
            let s = store.clone();
            std::thread::spawn(move || {
                s.create(&"twin".parse().unwrap(), &"base:1".parse().unwrap(), &copy_unless_root())
            })
        })
        .map(|t| t.join().unwrap())
        .collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    let err = results.into_iter().find_map(|r| r.err()).unwrap();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    store.delete(&"twin".parse().unwrap()).unwrap();
}
