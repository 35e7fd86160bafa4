//! The `volt` binary as a user runs it: exit codes, output formats, crash and concurrency.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Env { dir: tempfile::tempdir().unwrap() }
    }
    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
    fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_volt"));
        c.env("VOLT_ROOT", self.root())
            .env_remove("VOLT_CONFIG")
            .env_remove("VOLT_OUTPUT")
            .env_remove("VOLT_DEBUG")
            .env("VOLT_COLOR", "never");
        c
    }
    fn volt(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let o = self.volt(args);
        assert!(o.status.success(), "volt {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }
    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["-o", "json"];
        a.extend_from_slice(args);
        serde_json::from_str(&self.ok(&a)).unwrap()
    }
    /// `volt registry serve` on `port`, once it accepts connections.
    fn serve_registry(&self, port: u16) -> std::process::Child {
        let c =
            self.cmd().args(["registry", "serve", "--port", &port.to_string()]).stderr(Stdio::piped()).spawn().unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        c
    }
    /// A tree with `files` files of which only `distinct` contents differ.
    fn tree(&self, name: &str, files: usize) -> PathBuf {
        self.tree_with(name, files, 40)
    }
    fn tree_with(&self, name: &str, files: usize, distinct: usize) -> PathBuf {
        let t = self.dir.path().join(name);
        fs::create_dir_all(t.join("sub/deeper")).unwrap();
        fs::create_dir_all(t.join("empty")).unwrap();
        for i in 0..files {
            let k = i % distinct;
            fs::write(t.join(format!("sub/f{i}")), format!("file {k} {}", "x".repeat(k % 500))).unwrap();
        }
        fs::write(t.join("sub/deeper/leaf"), "leaf").unwrap();
        std::os::unix::fs::symlink("sub/deeper/leaf", t.join("link")).unwrap();
        t
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn treediff(a: &Path, b: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/tools/treediff.py");
    let o = Command::new("python3").arg(script).arg(a).arg(b).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn build_status_checkout_verify_round_trip() {
    let e = Env::new();
    let src = e.tree("src", 50);
    let b = e.json(&["cas", "build", src.to_str().unwrap(), "--ref", "trees/src"]);
    let root = b["root"].as_str().unwrap().to_string();
    assert!(root.starts_with("blake3:"));
    assert_eq!(b["files"], 51);
    let st = e.json(&["cas", "status"]);
    assert_eq!(st["refs"], 1);
    assert!(st["dedup_ratio"].as_f64().unwrap() > 1.0, "the tree repeats content: {st}");
    let yaml = e.ok(&["-o", "yaml", "cas", "status"]);
    assert!(yaml.contains("dedup_ratio:"));
    let table = e.ok(&["cas", "status"]);
    assert!(table.contains("Dedup ratio"));
    let dest = e.dir.path().join("co");
    e.ok(&["cas", "checkout", "trees/src", dest.to_str().unwrap()]);
    treediff(&src, &dest);
    let copy = e.dir.path().join("co-copy");
    let out = e.volt(&["cas", "checkout", &root, copy.to_str().unwrap(), "--mode", "reflink"]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("notice:") && stderr(&out).contains("reflink"), "{}", stderr(&out));
    treediff(&src, &copy);
    let v = e.json(&["cas", "verify"]);
    assert_eq!(v["corrupt"].as_array().unwrap().len(), 0);
    let d = e.json(&["cas", "dedup", "--top", "3"]);
    assert_eq!(d["top"].as_array().unwrap().len(), 3);
    // --quiet prints just the digest.
    let q = e.ok(&["-q", "cas", "build", src.to_str().unwrap(), "--ref", "trees/src"]);
    assert_eq!(q.trim(), root);
}

#[test]
fn exit_codes_follow_the_reference_table() {
    let e = Env::new();
    let src = e.tree("src", 3);
    e.ok(&["cas", "build", src.to_str().unwrap(), "--ref", "keep"]);
    let a63 = "a".repeat(63);
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["cas", "build", "/nonexistent/path"], 3, "no such file"),
        (vec!["cas", "cat", "sha256:zz"], 2, "invalid digest"),
        (vec!["cas", "cat", &a63], 2, "invalid digest"),
        (vec!["cas", "cat", "sha256:0000000000000000000000000000000000000000000000000000000000000000"], 3, "not found"),
        (vec!["cas", "build", src.to_str().unwrap(), "--ref", "a/../b"], 2, "invalid ref name"),
        (vec!["cas", "refs", "set", "../x", "keep"], 2, "invalid ref name"),
        (vec!["cas", "refs", "delete", "nope"], 3, "not found"),
        (vec!["cas", "checkout", "nope", "/tmp/x"], 3, "not found"),
        (vec!["cas", "frobnicate"], 2, ""),
        (vec!["cas", "checkout", "keep", "/tmp/x", "--mode", "teleport"], 2, ""),
    ];
    for (args, want, msg) in cases {
        let o = e.volt(&args);
        assert_eq!(code(&o), want, "volt {args:?}: {}", stderr(&o));
        assert!(stderr(&o).to_lowercase().contains(msg), "volt {args:?}: {}", stderr(&o));
    }
    // Checkout into a non-empty directory: already exists (4), and nothing there is touched.
    let busy = e.dir.path().join("busy");
    fs::create_dir(&busy).unwrap();
    fs::write(busy.join("mine"), "keep").unwrap();
    let o = e.volt(&["cas", "checkout", "keep", busy.to_str().unwrap()]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert_eq!(fs::read_to_string(busy.join("mine")).unwrap(), "keep");
    // Configuration errors are 12.
    let o = e.cmd().env("VOLT_OUTPUT", "xml").args(["cas", "status"]).output().unwrap();
    assert_eq!(code(&o), 12, "{}", stderr(&o));
    let o = e.cmd().env("VOLT_CONFIG", e.dir.path().join("missing.yaml")).args(["cas", "status"]).output().unwrap();
    assert_eq!(code(&o), 12);
    let bad = e.dir.path().join("bad.yaml");
    fs::write(&bad, "cas:\n  chunk_threshold: lots\n").unwrap();
    let o = e.cmd().env("VOLT_CONFIG", &bad).args(["cas", "status"]).output().unwrap();
    assert_eq!(code(&o), 12);
    assert!(stderr(&o).contains("bad.yaml"));
    // With --output json, errors are JSON too.
    let o = e.volt(&["-o", "json", "cas", "stat", "missing/ref"]);
    assert_eq!(code(&o), 3);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["kind"], "ERR_NOT_FOUND");
    assert_eq!(j["code"], 3);
    // None of that changed the store.
    let v = e.json(&["cas", "verify"]);
    assert!(v["checked"].as_u64().unwrap() > 0);
    assert_eq!(e.json(&["cas", "refs"]).as_array().unwrap().len(), 1);
}

#[test]
fn config_file_and_environment_are_honoured() {
    let e = Env::new();
    let cfg = e.dir.path().join("config.yaml");
    fs::write(&cfg, "output: json\ncas:\n  chunk_threshold: 1048576\n  chunk_max: 262144\n").unwrap();
    let src = e.dir.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("big"), vec![7u8; 3 << 20]).unwrap();
    let o =
        e.cmd().env("VOLT_CONFIG", &cfg).args(["cas", "build", src.to_str().unwrap(), "--ref", "r"]).output().unwrap();
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("output: json from the config file");
    assert!(j["root"].is_string());
    let st: serde_json::Value =
        serde_json::from_slice(&e.cmd().env("VOLT_CONFIG", &cfg).args(["cas", "status"]).output().unwrap().stdout)
            .unwrap();
    assert_eq!(st["chunked"], 1, "3 MiB is above the configured 1 MiB threshold");
    // VOLT_OUTPUT overrides the file; --output overrides both.
    let o = e.cmd().env("VOLT_CONFIG", &cfg).env("VOLT_OUTPUT", "yaml").args(["cas", "status"]).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("chunked: 1"));
    let o = e.cmd().env("VOLT_CONFIG", &cfg).args(["-o", "table", "cas", "status"]).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("Dedup ratio"));
    // Everything lands under VOLT_ROOT.
    assert!(e.root().join("var/lib/volt/cas/objects").is_dir());
    assert!(e.root().join("var/log/volt/audit.log").is_file());
}

#[test]
fn audit_log_records_state_changes() {
    let e = Env::new();
    let src = e.tree("src", 2);
    e.ok(&["cas", "build", src.to_str().unwrap(), "--ref", "a"]);
    e.volt(&["cas", "refs", "delete", "missing"]);
    e.ok(&["cas", "gc"]);
    e.ok(&["cas", "status"]);
    let log = fs::read_to_string(e.root().join("var/log/volt/audit.log")).unwrap();
    let recs: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let actions: Vec<&str> = recs.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["cas.build", "cas.ref.delete", "cas.gc"], "status is read-only and not audited");
    assert_eq!(recs[0]["result"], "success");
    assert_eq!(recs[1]["result"], "failure");
    let uid = rustix::process::geteuid().as_raw();
    assert_eq!(recs[0]["uid"], uid);
    assert!(recs[0]["user"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(recs[0]["resource"].as_str().unwrap().contains("-> a"));
    assert!(recs[0]["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn corrupt_object_is_named_with_its_ref_and_exit_is_nonzero() {
    let e = Env::new();
    let src = e.tree("src", 5);
    e.ok(&["cas", "build", src.to_str().unwrap(), "--ref", "victim"]);
    let objects = e.root().join("var/lib/volt/cas/objects");
    let leaf_id = blake3::hash(b"leaf").to_hex().to_string();
    let p = objects.join(&leaf_id[..2]).join(&leaf_id);
    fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
    let mut f = fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.write_all(b"L").unwrap();
    drop(f);
    let o = e.volt(&["cas", "verify"]);
    assert_eq!(code(&o), 1);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&leaf_id), "{out}");
    assert!(out.contains("ref victim"), "{out}");
    let o = e.volt(&["cas", "verify", "victim"]);
    assert_eq!(code(&o), 1);
}

#[test]
fn put_get_cat_stat_from_pipes_and_files() {
    let e = Env::new();
    let mut child = e
        .cmd()
        .args(["-o", "json", "cas", "put", "-", "--ref", "blobs/stdin", "--also", "sha256"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"piped bytes\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let sha = j["aliases"][0].as_str().unwrap().to_string();
    assert!(sha.starts_with("sha256:"));
    assert_eq!(e.ok(&["cas", "cat", &sha]), "piped bytes\n");
    assert_eq!(e.ok(&["cas", "cat", "blobs/stdin"]), "piped bytes\n");
    let dest = e.dir.path().join("out");
    e.ok(&["cas", "get", "blobs/stdin", dest.to_str().unwrap()]);
    assert_eq!(fs::read(&dest).unwrap(), b"piped bytes\n");
    // A bad target never clobbers the destination; a closed pipe is not an error.
    fs::write(&dest, "precious").unwrap();
    assert_eq!(code(&e.volt(&["cas", "get", "no/such/ref", dest.to_str().unwrap()])), 3);
    assert_eq!(fs::read_to_string(&dest).unwrap(), "precious");
    assert_eq!(
        fs::read_dir(e.dir.path())
            .unwrap()
            .filter(|f| f.as_ref().unwrap().file_name().to_string_lossy().starts_with(".out"))
            .count(),
        0
    );
    let big = e.dir.path().join("big");
    fs::write(&big, vec![b'x'; 8 << 20]).unwrap();
    e.ok(&["cas", "put", big.to_str().unwrap(), "--ref", "big"]);
    let sh = format!("{} cas cat big | head -c 10 >/dev/null; exit ${{PIPESTATUS[0]}}", env!("CARGO_BIN_EXE_volt"));
    let o = Command::new("bash").arg("-c").arg(&sh).env("VOLT_ROOT", e.root()).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Refs cannot be nested under another ref.
    let o = e.volt(&["cas", "refs", "set", "big/inner", "big"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let st = e.json(&["cas", "stat", &sha]);
    assert_eq!(st["size"], 12);
    assert_eq!(st["tree"], false);
    // Without a ref the user is told gc will collect it.
    let f = e.dir.path().join("loose");
    fs::write(&f, "loose").unwrap();
    let o = e.volt(&["cas", "put", f.to_str().unwrap()]);
    assert!(stderr(&o).contains("will remove it"), "{}", stderr(&o));
    assert_eq!(e.json(&["cas", "gc", "--dry-run"])["removed_files"], 1);
}

#[test]
fn completions_and_man_pages_are_generated() {
    let e = Env::new();
    let bash = e.ok(&["completion", "bash"]);
    assert!(bash.contains("volt") && bash.contains("checkout"));
    let man = e.dir.path().join("man");
    e.ok(&["man", man.to_str().unwrap()]);
    for page in ["volt.1", "volt-cas.1", "volt-cas-build.1", "volt-cas-refs-set.1"] {
        let text = fs::read_to_string(man.join(page)).unwrap();
        assert!(text.contains(".TH"), "{page}");
    }
    let help = e.ok(&["cas", "checkout", "--help"]);
    assert!(help.contains("Example"));
}

#[test]
fn kill_9_mid_build_leaves_a_consistent_store() {
    let e = Env::new();
    let src = e.tree_with("src", 6000, 6000);
    let big: Vec<u8> = (0..40u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 11) as u8).collect();
    fs::write(src.join("big"), big).unwrap();
    let mut killed_midway = 0;
    for delay_ms in [30u64, 80, 150, 250, 400, 600] {
        let mut child = e.cmd().args(["-q", "cas", "build", src.to_str().unwrap(), "--ref", "crash"]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let still_running = child.try_wait().unwrap().is_none();
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
            rustix::process::Signal::KILL,
        )
        .ok();
        let status = child.wait().unwrap();
        if still_running && !status.success() {
            killed_midway += 1;
        }
        // Whatever the moment: every visible object is whole, and refs point at whole trees.
        let v = e.json(&["cas", "verify"]);
        assert_eq!(v["corrupt"].as_array().unwrap().len(), 0, "after kill at {delay_ms} ms: {v}");
        assert_eq!(v["broken_refs"].as_array().unwrap().len(), 0, "after kill at {delay_ms} ms: {v}");
    }
    assert!(killed_midway > 0, "no kill landed during a build");
    // The next build succeeds and is complete; gc cleans what the dead writers left.
    e.ok(&["cas", "build", src.to_str().unwrap(), "--ref", "crash"]);
    let gc = e.json(&["cas", "gc"]);
    assert!(gc["stale_transactions"].as_u64().unwrap() >= 1, "{gc}");
    let tmp = e.root().join("var/lib/volt/cas/tmp");
    assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
    let dest = e.dir.path().join("co");
    e.ok(&["cas", "checkout", "crash", dest.to_str().unwrap()]);
    treediff(&src, &dest);
}

#[test]
fn two_builds_and_a_gc_at_once_lose_nothing() {
    let e = Env::new();
    let a = e.tree_with("a", 3000, 2000);
    let b = e.tree_with("b", 2500, 1500);
    // Garbage for gc to chew on while the builds run.
    e.ok(&["cas", "build", a.to_str().unwrap()]);
    let spawn = |args: &[&str]| e.cmd().args(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let ba = spawn(&["cas", "build", a.to_str().unwrap(), "--ref", "a"]);
    let bb = spawn(&["cas", "build", b.to_str().unwrap(), "--ref", "b"]);
    let mut gcs = Vec::new();
    for _ in 0..5 {
        gcs.push(spawn(&["cas", "gc"]));
        std::thread::sleep(Duration::from_millis(40));
    }
    for c in [ba, bb].into_iter().chain(gcs) {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    e.ok(&["cas", "gc"]);
    let v = e.json(&["cas", "verify"]);
    assert_eq!(v["missing"].as_array().unwrap().len(), 0, "{v}");
    assert_eq!(v["corrupt"].as_array().unwrap().len(), 0, "{v}");
    for (name, src) in [("a", &a), ("b", &b)] {
        let dest = e.dir.path().join(format!("co-{name}"));
        e.ok(&["cas", "checkout", name, dest.to_str().unwrap()]);
        treediff(src, &dest);
    }
}

#[test]
fn unreadable_file_is_a_permission_error_and_nothing_is_referenced() {
    if !rustix::process::geteuid().is_root() {
        if std::env::var_os("CI").is_some_and(|v| v == "true") {
            panic!("this test needs root (to run volt as an unprivileged user); CI=true forbids skipping");
        }
        eprintln!("SKIP unreadable_file_is_a_permission_error: needs root to switch to an unprivileged user");
        return;
    }
    let e = Env::new();
    let src = e.tree("src", 3);
    fs::write(src.join("secret"), "root only").unwrap();
    fs::set_permissions(src.join("secret"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::create_dir_all(e.root()).unwrap();
    for p in [e.dir.path(), &e.root(), &src, &src.join("sub"), &src.join("sub/deeper"), &src.join("empty")] {
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    Command::new("chown").args(["-R", "65534:65534"]).arg(e.root()).status().unwrap();
    let mut o = e.cmd();
    o.args(["cas", "build", src.to_str().unwrap(), "--ref", "nope"]);
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(o.get_program()).args(o.get_args());
    for (k, v) in o.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let out = c.output().unwrap();
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(stderr(&out).contains("secret") && stderr(&out).contains("Permission denied"), "{}", stderr(&out));
    assert_eq!(e.json(&["cas", "refs"]).as_array().unwrap().len(), 0);
}

#[test]
fn sigint_during_a_build_exits_13_and_commits_nothing() {
    let e = Env::new();
    let src = e.tree_with("src", 8000, 8000);
    let mut interrupted = 0;
    for delay_ms in [50u64, 150, 300] {
        let name = format!("sig/{delay_ms}");
        let child = e
            .cmd()
            .args(["cas", "build", src.to_str().unwrap(), "--ref", &name])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
        let o = child.wait_with_output().unwrap();
        if code(&o) == 13 {
            interrupted += 1;
            assert!(stderr(&o).contains("interrupted by SIGINT"), "{}", stderr(&o));
            assert_eq!(code(&e.volt(&["cas", "stat", &name])), 3, "an interrupted build sets no ref");
        } else {
            assert_eq!(code(&o), 0, "{}", stderr(&o));
        }
        let v = e.json(&["cas", "verify"]);
        assert_eq!(v["corrupt"].as_array().unwrap().len(), 0);
    }
    assert!(interrupted > 0, "no SIGINT landed during a build");
}

#[test]
fn image_commands_outputs_and_exit_codes() {
    let e = Env::new();
    let src = e.tree("rootfs", 20);
    let rec = e.json(&["image", "import", src.to_str().unwrap(), "--name", "demo/app:1"]);
    assert_eq!(rec["name"], "demo/app:1");
    assert!(rec["tree"].as_str().unwrap().starts_with("blake3:"));
    let id = e.ok(&["-q", "image", "inspect", "demo/app:1"]);
    assert_eq!(id.trim(), rec["id"].as_str().unwrap());
    e.ok(&["image", "tag", "demo/app:1", "demo/app:stable"]);
    let list = e.json(&["image", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let table = e.ok(&["image", "ls"]);
    assert!(table.contains("REPOSITORY") && table.contains("stable"), "{table}");
    let out = e.dir.path().join("export.tar");
    e.ok(&["image", "export", "demo/app:1", out.to_str().unwrap()]);
    let again = e.json(&["image", "import", out.to_str().unwrap(), "--name", "again"]);
    assert_eq!(again["tree"], rec["tree"]);
    // Exit codes: bad name 2, unknown image 3, unsafe layer 2, image in use 9.
    assert_eq!(code(&e.volt(&["image", "inspect", "Bad:Name"])), 2);
    assert_eq!(code(&e.volt(&["image", "inspect", "nope"])), 3);
    assert_eq!(code(&e.volt(&["image", "rm", "nope"])), 3);
    assert_eq!(code(&e.volt(&["image", "import", "/nonexistent/x", "--name", "x"])), 3);
    let evil = e.dir.path().join("evil.tar");
    let st =
        Command::new("tar").args(["-cf", evil.to_str().unwrap(), "-P", "-C", "/", "/etc/hostname"]).status().unwrap();
    assert!(st.success());
    let o = e.volt(&["-o", "json", "image", "import", evil.to_str().unwrap(), "--name", "evil"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(err["error"].as_str().unwrap().contains("absolute path"), "{err}");
    assert_eq!(err["kind"], "ERR_USAGE");
    assert_eq!(code(&e.volt(&["image", "inspect", "evil"])), 3, "nothing of a refused import is kept");
    let c = e.root().join("var/lib/volt/containers/web");
    fs::create_dir_all(&c).unwrap();
    fs::write(c.join("config.json"), r#"{"image":"demo/app:1"}"#).unwrap();
    let o = e.volt(&["image", "rm", "demo/app:1"]);
    assert_eq!(code(&o), 9, "{}", stderr(&o));
    assert!(stderr(&o).contains("in use by container web"), "{}", stderr(&o));
    fs::remove_dir_all(&c).unwrap();
    e.ok(&["image", "rm", "demo/app:1", "demo/app:stable", "again"]);
    assert_eq!(e.json(&["image", "list"]).as_array().unwrap().len(), 0);
    // Registry tokens: bad ttl and actions are usage errors; a good one prints only the token.
    assert_eq!(code(&e.volt(&["registry", "token", "create", "--repo", "a", "--ttl", "1w"])), 2);
    assert_eq!(code(&e.volt(&["registry", "token", "create", "--repo", "a", "--actions", "fly"])), 2);
    assert_eq!(code(&e.volt(&["registry", "token", "create", "--repo", "../x"])), 2);
    let t = e.ok(&["-q", "registry", "token", "create", "--repo", "a", "--actions", "pull,push", "--ttl", "5m"]);
    assert!(t.trim().starts_with("volt1.") && t.trim().split('.').count() == 3, "{t}");
    let audit = fs::read_to_string(e.root().join("var/log/volt/audit.log")).unwrap();
    assert!(audit.contains("image.import") && audit.contains("registry.token.create"));
    assert!(!audit.contains(t.trim()), "the token was written to the audit log");
}

#[test]
fn registry_serve_push_pull_and_sigterm() {
    let e = Env::new();
    let src = e.tree("rootfs", 10);
    let rec = e.json(&["image", "import", src.to_str().unwrap(), "--name", "srv:1"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut serve = e.serve_registry(port);
    let addr = format!("127.0.0.1:{port}");
    let token = e.ok(&["-q", "registry", "token", "create", "--repo", "*", "--actions", "pull,push"]);
    let token = token.trim();
    let o = e.volt(&["image", "push", "srv:1", &format!("{addr}/srv:1")]);
    assert_eq!(code(&o), 5, "push without a token: {}", stderr(&o));
    let push = e.json(&["image", "push", "srv:1", &format!("{addr}/srv:1"), "--token", token]);
    assert_eq!(push["uploaded"], 2);
    let again = e.json(&["image", "push", "srv:1", &format!("{addr}/srv:1"), "--creds", &format!("me:{token}")]);
    assert_eq!(again["uploaded"], 0, "a second push uploads nothing");
    let pulled = e.json(&["image", "pull", &format!("{addr}/srv:1"), "--name", "pulled:1"]);
    assert_eq!(pulled["tree"], rec["tree"]);
    assert_eq!(code(&e.volt(&["image", "pull", &format!("{addr}/srv:nope")])), 3);
    assert_eq!(code(&e.volt(&["image", "pull", "127.0.0.1:1/x:1"])), 8, "connection refused is a network error");
    let pid = rustix::process::Pid::from_raw(serve.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = serve.wait().unwrap();
    assert!(status.success(), "SIGTERM: {status:?}");
    let mut err = String::new();
    std::io::Read::read_to_string(serve.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("SIGTERM") && !err.contains(token), "{err}");
}

#[test]
fn pulling_a_non_distributable_layer_nobody_serves_names_the_layer_and_exits_8() {
    use sha2::Digest as _;
    let sha = |b: &[u8]| format!("sha256:{:x}", sha2::Sha256::digest(b));
    let e = Env::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut serve = e.serve_registry(port);
    let token = e.ok(&["-q", "registry", "token", "create", "--repo", "*", "--actions", "pull,push"]);
    // reqwest is built without a default TLS provider (Volt chooses ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::blocking::Client::new();
    let url = format!("http://127.0.0.1:{port}/v2/foreign");
    let push = |data: &[u8]| {
        let r = http
            .post(format!("{url}/blobs/uploads/?digest={}", sha(data)))
            .bearer_auth(token.trim())
            .body(data.to_vec())
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    };
    // A config and an ordinary layer (a tar the tar program makes) in the registry; a
    // non-distributable layer only at a URL where nothing listens.
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    push(config);
    let src = e.tree("layer", 3);
    let layer = Command::new("tar").args(["-cf", "-", "-C"]).arg(&src).arg(".").output().unwrap().stdout;
    push(&layer);
    let foreign = b"the licensed layer's bytes".to_vec();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config), "size": config.len()},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(&layer), "size": layer.len()},
            {"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", "digest": sha(&foreign),
             "size": foreign.len(), "urls": [format!("http://{closed}/layer.tar.gz")]},
        ],
    });
    let r = http
        .put(format!("{url}/manifests/1"))
        .bearer_auth(token.trim())
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(serde_json::to_vec(&m).unwrap())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "the registry accepts the manifest: {:?}", r.text());
    let o = e.volt(&["image", "pull", &format!("127.0.0.1:{port}/foreign:1"), "--token", token.trim()]);
    assert_eq!(code(&o), 8, "{}", stderr(&o));
    assert!(stderr(&o).contains(&sha(&foreign)) && stderr(&o).contains(&closed.to_string()), "{}", stderr(&o));
    assert_eq!(e.json(&["image", "list"]), serde_json::json!([]), "nothing is kept of a failed pull");
    let _ = serve.kill();
    let _ = serve.wait();
}

#[test]
fn kill_9_during_import_and_during_a_registry_upload_leaves_a_consistent_store() {
    let e = Env::new();
    let src = e.tree_with("src", 3000, 3000);
    let big: Vec<u8> = (0..48u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 9) as u8).collect();
    fs::write(src.join("big"), &big).unwrap();
    let tarball = e.dir.path().join("rootfs.tar");
    assert!(Command::new("tar")
        .args(["-cf", tarball.to_str().unwrap(), "-C", src.to_str().unwrap(), "."])
        .status()
        .unwrap()
        .success());
    let mut killed = 0;
    for delay_ms in [40u64, 120, 300, 600] {
        let mut child =
            e.cmd().args(["-q", "image", "import", tarball.to_str().unwrap(), "--name", "crash:1"]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let running = child.try_wait().unwrap().is_none();
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
            rustix::process::Signal::KILL,
        );
        let status = child.wait().unwrap();
        if running && !status.success() {
            killed += 1;
            assert_eq!(code(&e.volt(&["image", "inspect", "crash:1"])), 3, "a killed import left an image");
        }
        let v = e.json(&["cas", "verify"]);
        assert!(v["corrupt"].as_array().unwrap().is_empty() && v["broken_refs"].as_array().unwrap().is_empty(), "{v}");
    }
    assert!(killed > 0, "no kill landed during an import");
    let rec = e.json(&["image", "import", tarball.to_str().unwrap(), "--name", "crash:1"]);
    // The registry killed in the middle of an upload.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let token = e.ok(&["-q", "registry", "token", "create", "--repo", "*", "--actions", "pull,push"]);
    let mut server = e.serve_registry(port);
    let push = e
        .cmd()
        .args(["-q", "image", "push", "crash:1", &format!("{addr}/crash:1"), "--token", token.trim()])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(150));
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_raw(server.id() as i32).unwrap(),
        rustix::process::Signal::KILL,
    );
    server.wait().unwrap();
    let pushed = push.wait_with_output().unwrap();
    assert!(!pushed.status.success(), "the push finished before the registry was killed");
    let v = e.json(&["cas", "verify"]);
    assert!(v["corrupt"].as_array().unwrap().is_empty() && v["broken_refs"].as_array().unwrap().is_empty(), "{v}");
    // Back up: the push completes and the image pulls back whole.
    let mut server = e.serve_registry(port);
    e.ok(&["-q", "image", "push", "crash:1", &format!("{addr}/crash:1"), "--token", token.trim()]);
    let pulled = e.json(&["image", "pull", &format!("{addr}/crash:1"), "--name", "back:1"]);
    assert_eq!(pulled["tree"], rec["tree"]);
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_raw(server.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    );
    assert!(server.wait().unwrap().success());
    let gc = e.json(&["cas", "gc"]);
    assert!(gc["stale_transactions"].as_u64().unwrap() >= 1, "{gc}");
    let tmp = e.root().join("var/lib/volt/cas/tmp");
    assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0, "gc left temporary files");
    let v = e.json(&["cas", "verify"]);
    assert!(v["missing"].as_array().unwrap().is_empty(), "{v}");
}
