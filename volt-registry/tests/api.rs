//! The OCI Distribution API, endpoint by endpoint and status code by status code, against a
//! real server on loopback. (The real-client tests — skopeo, podman, oras, docker-registry —
//! are in scripts/registry-clients.sh.)

use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Digest as _;
use volt_core::{Config, Volt};
use volt_registry::{Access, Action, ServeOptions};

struct Reg {
    _dir: tempfile::TempDir,
    volt: Volt,
    rt: tokio::runtime::Runtime,
    running: Option<volt_registry::RunningRegistry>,
    url: String,
    http: Client,
    admin: String,
}

fn sha(b: &[u8]) -> String {
    format!("sha256:{}", hex(&sha2::Sha256::digest(b)))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Reg {
    fn start() -> Self {
        Self::with(|_| {})
    }

    fn with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default().relocate(dir.path());
        tweak(&mut config);
        let volt = Volt::open(config).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let opts = ServeOptions::default().bind("127.0.0.1:0".parse().unwrap());
        let running = rt.block_on(volt_registry::start(&volt, opts)).unwrap();
        let url = running.url();
        let admin = volt_registry::create_token(
            &volt,
            &["*".to_string()],
            &[Action::Pull, Action::Push, Action::Delete],
            Duration::from_secs(600),
            "test",
        )
        .unwrap();
        let http = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Reg { _dir: dir, volt, rt, running: Some(running), url, http, admin }
    }

    fn req(&self, method: &str, path: &str) -> reqwest::blocking::RequestBuilder {
        let url = if path.starts_with("http") { path.to_string() } else { format!("{}{path}", self.url) };
        self.http.request(method.parse().unwrap(), url).bearer_auth(&self.admin)
    }

    fn push_blob(&self, repo: &str, data: &[u8]) -> String {
        let d = sha(data);
        let r = self.req("POST", &format!("/v2/{repo}/blobs/uploads/?digest={d}")).body(data.to_vec()).send().unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text());
        d
    }

    fn push_manifest(&self, repo: &str, reference: &str, m: &Value) -> Response {
        let body = serde_json::to_vec(m).unwrap();
        self.req("PUT", &format!("/v2/{repo}/manifests/{reference}"))
            .header("content-type", m["mediaType"].as_str().unwrap_or("application/vnd.oci.image.manifest.v1+json"))
            .body(body)
            .send()
            .unwrap()
    }

    /// An image manifest with one config and one layer, all pushed; returns (manifest, digest).
    fn image(&self, repo: &str, tag: &str, layer: &[u8]) -> (Value, String) {
        let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let cd = self.push_blob(repo, config);
        let ld = self.push_blob(repo, layer);
        let m = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": layer.len()}],
        });
        let r = self.push_manifest(repo, tag, &m);
        assert_eq!(r.status(), StatusCode::CREATED);
        let d = sha(&serde_json::to_vec(&m).unwrap());
        assert_eq!(r.headers()["docker-content-digest"], d.as_str());
        (m, d)
    }

    fn objects(&self) -> usize {
        self.rt.block_on(self.volt.store().status()).unwrap().objects
    }
}

impl Drop for Reg {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown(Duration::from_secs(5));
            let _ = self.rt.block_on(r.wait());
        }
    }
}

fn code(r: Response) -> (StatusCode, String) {
    let s = r.status();
    let v: Value = r.json().unwrap_or(Value::Null);
    (s, v["errors"][0]["code"].as_str().unwrap_or_default().to_string())
}

#[test]
fn ping_and_auth_challenge() {
    let reg = Reg::start();
    let r = reg.http.get(format!("{}/v2/", reg.url)).send().unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let ch = r.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert!(ch.starts_with("Bearer realm=\"http://127.0.0.1:"), "{ch}");
    assert!(ch.contains("/token\"") && ch.contains("service=\"volt-registry\""), "{ch}");
    let r = reg.req("GET", "/v2/").send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["docker-distribution-api-version"], "registry/2.0");
}

#[test]
fn monolithic_chunked_and_streamed_uploads() {
    let reg = Reg::start();
    // Monolithic POST with digest.
    let d = reg.push_blob("a/b", b"hello");
    let r = reg.req("HEAD", &format!("/v2/a/b/blobs/{d}")).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-length"], "5");
    assert_eq!(r.headers()["docker-content-digest"], d.as_str());
    // POST + PUT with the whole body.
    let data = b"put body".to_vec();
    let r = reg.req("POST", "/v2/a/b/blobs/uploads/").send().unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(r.headers().contains_key("docker-upload-uuid"));
    let r = reg.req("PUT", &format!("{}{loc}?digest={}", reg.url, sha(&data))).body(data.clone()).send().unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["location"].to_str().unwrap(), format!("/v2/a/b/blobs/{}", sha(&data)));
    // Chunked with Content-Range, status in between, out-of-order chunk refused with 416.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let r = reg.req("POST", "/v2/a/b/blobs/uploads/").send().unwrap();
    let loc = format!("{}{}", reg.url, r.headers()["location"].to_str().unwrap());
    let (c1, c2) = big.split_at(1_000_000);
    let r = reg.req("PATCH", &loc).header("content-range", "0-999999").body(c1.to_vec()).send().unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(r.headers()["range"], "0-999999");
    let r = reg.req("GET", &loc).send().unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["range"], "0-999999");
    let r = reg.req("PATCH", &loc).header("content-range", "5-10").body(vec![0u8; 6]).send().unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let r = reg.req("PATCH", &loc).header("content-range", "1000000-2999999").body(c2.to_vec()).send().unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = reg.req("PUT", &format!("{loc}?digest={}", sha(&big))).send().unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let got = reg.req("GET", &format!("/v2/a/b/blobs/{}", sha(&big))).send().unwrap().bytes().unwrap();
    assert_eq!(got.as_ref(), big.as_slice());
    // Streamed PATCH without Content-Range, then an empty PUT.
    let r = reg.req("POST", "/v2/a/b/blobs/uploads/").send().unwrap();
    let loc = format!("{}{}", reg.url, r.headers()["location"].to_str().unwrap());
    let r = reg.req("PATCH", &loc).body(b"streamed".to_vec()).send().unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = reg.req("PUT", &format!("{loc}?digest={}", sha(b"streamed"))).send().unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // The session is gone once finished.
    assert_eq!(code(reg.req("GET", &loc).send().unwrap()), (StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN".into()));
}

#[test]
fn wrong_digest_truncated_and_cancelled_uploads_store_nothing() {
    let reg = Reg::start();
    let before = reg.objects();
    let r = reg
        .req("POST", &format!("/v2/x/blobs/uploads/?digest={}", sha(b"other")))
        .body(b"content".to_vec())
        .send()
        .unwrap();
    assert_eq!(code(r), (StatusCode::BAD_REQUEST, "DIGEST_INVALID".into()));
    // Truncated: a PUT claiming the digest of more bytes than were sent.
    let r = reg.req("POST", "/v2/x/blobs/uploads/").send().unwrap();
    let loc = format!("{}{}", reg.url, r.headers()["location"].to_str().unwrap());
    reg.req("PATCH", &loc).body(b"half of it".to_vec()).send().unwrap();
    let r = reg.req("PUT", &format!("{loc}?digest={}", sha(b"half of it and the rest"))).send().unwrap();
    assert_eq!(code(r), (StatusCode::BAD_REQUEST, "DIGEST_INVALID".into()));
    // Missing digest parameter.
    let r = reg.req("POST", "/v2/x/blobs/uploads/").send().unwrap();
    let loc = format!("{}{}", reg.url, r.headers()["location"].to_str().unwrap());
    assert_eq!(code(reg.req("PUT", &loc).send().unwrap()), (StatusCode::BAD_REQUEST, "DIGEST_INVALID".into()));
    // Cancel.
    let r = reg.req("POST", "/v2/x/blobs/uploads/").send().unwrap();
    let loc = format!("{}{}", reg.url, r.headers()["location"].to_str().unwrap());
    reg.req("PATCH", &loc).body(b"abandoned".to_vec()).send().unwrap();
    assert_eq!(reg.req("DELETE", &loc).send().unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(code(reg.req("DELETE", &loc).send().unwrap()).0, StatusCode::NOT_FOUND);
    assert_eq!(code(reg.req("GET", "/v2/x/blobs/uploads/nosuch").send().unwrap()).0, StatusCode::NOT_FOUND);
    std::thread::sleep(Duration::from_millis(200));
    let after = reg.rt.block_on(reg.volt.store().gc(true)).unwrap();
    assert_eq!(reg.objects(), before, "a failed upload left objects behind");
    assert_eq!(after.removed_files, 0);
    // The registry keeps serving.
    reg.push_blob("x", b"still fine");
}

#[test]
fn blob_reads_ranges_and_deletes() {
    let reg = Reg::start();
    let data: Vec<u8> = (0..100u8).collect();
    let d = reg.push_blob("r", &data);
    let r = reg.req("GET", &format!("/v2/r/blobs/{d}")).header("range", "bytes=10-19").send().unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["content-range"], "bytes 10-19/100");
    assert_eq!(r.bytes().unwrap().as_ref(), &data[10..20]);
    let r = reg.req("GET", &format!("/v2/r/blobs/{d}")).header("range", "bytes=-5").send().unwrap();
    assert_eq!(r.bytes().unwrap().as_ref(), &data[95..]);
    let r = reg.req("GET", &format!("/v2/r/blobs/{d}")).header("range", "bytes=200-300").send().unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.headers()["content-range"], "bytes */100");
    // Unknown blob, other repository, malformed digest.
    let unknown = sha(b"never pushed");
    assert_eq!(
        code(reg.req("GET", &format!("/v2/r/blobs/{unknown}")).send().unwrap()),
        (StatusCode::NOT_FOUND, "BLOB_UNKNOWN".into())
    );
    assert_eq!(reg.req("HEAD", &format!("/v2/other/blobs/{d}")).send().unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(
        code(reg.req("GET", "/v2/r/blobs/sha256:zz").send().unwrap()),
        (StatusCode::BAD_REQUEST, "DIGEST_INVALID".into())
    );
    // Delete.
    assert_eq!(reg.req("DELETE", &format!("/v2/r/blobs/{d}")).send().unwrap().status(), StatusCode::ACCEPTED);
    assert_eq!(reg.req("HEAD", &format!("/v2/r/blobs/{d}")).send().unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(reg.req("DELETE", &format!("/v2/r/blobs/{d}")).send().unwrap().status(), StatusCode::NOT_FOUND);
}

#[test]
fn chunked_objects_serve_ranges_across_chunks() {
    let reg = Reg::with(|c| {
        c.cas.chunk_threshold = 64 << 10;
        c.cas.chunk_min = 16 << 10;
        c.cas.chunk_avg = 32 << 10;
        c.cas.chunk_max = 64 << 10;
    });
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let d = reg.push_blob("c", &data);
    for (a, b) in [(0usize, 99usize), (70_000, 140_000), (999_000, 999_999)] {
        let r = reg.req("GET", &format!("/v2/c/blobs/{d}")).header("range", format!("bytes={a}-{b}")).send().unwrap();
        assert_eq!(r.bytes().unwrap().as_ref(), &data[a..=b]);
    }
}

#[test]
fn sha512_and_blake3_digests() {
    let reg = Reg::start();
    let data = b"sha512 content";
    let d512 = format!("sha512:{}", hex(&sha2::Sha512::digest(data)));
    let r = reg.req("POST", &format!("/v2/s/blobs/uploads/?digest={d512}")).body(data.to_vec()).send().unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(reg.req("GET", &format!("/v2/s/blobs/{d512}")).send().unwrap().bytes().unwrap().as_ref(), data);
    let wrong = format!("sha512:{}", "0".repeat(128));
    let r = reg.req("POST", &format!("/v2/s/blobs/uploads/?digest={wrong}")).body(data.to_vec()).send().unwrap();
    assert_eq!(code(r).1, "DIGEST_INVALID");
    let b3 = format!("blake3:{}", blake3::hash(b"b3").to_hex());
    let r = reg.req("POST", &format!("/v2/s/blobs/uploads/?digest={b3}")).body(b"b3".to_vec()).send().unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[test]
fn mounts_with_and_without_from_and_dedup() {
    let reg = Reg::start();
    let layer = vec![42u8; 200_000];
    let d = reg.push_blob("src", &layer);
    let objects = reg.objects();
    let r = reg.req("POST", &format!("/v2/dst/blobs/uploads/?mount={d}&from=src")).send().unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["location"].to_str().unwrap(), format!("/v2/dst/blobs/{d}"));
    let r = reg.req("POST", &format!("/v2/third/blobs/uploads/?mount={d}")).send().unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // A mount of something absent starts an ordinary upload session instead.
    let r = reg.req("POST", &format!("/v2/dst/blobs/uploads/?mount={}&from=src", sha(b"absent"))).send().unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    // Pushing the same bytes to a fourth repository stores nothing new.
    reg.push_blob("fourth", &layer);
    assert_eq!(reg.objects(), objects);
}

#[test]
fn manifests_by_tag_and_digest() {
    let reg = Reg::start();
    let (m, d) = reg.image("app", "v1", b"layer one");
    let body = serde_json::to_vec(&m).unwrap();
    for reference in ["v1", d.as_str()] {
        let r = reg.req("GET", &format!("/v2/app/manifests/{reference}")).send().unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "application/vnd.oci.image.manifest.v1+json");
        assert_eq!(r.headers()["docker-content-digest"], d.as_str());
        assert_eq!(r.bytes().unwrap().as_ref(), body.as_slice());
        let r = reg.req("HEAD", &format!("/v2/app/manifests/{reference}")).send().unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-length"].to_str().unwrap(), body.len().to_string());
    }
    // Push by digest; a digest that does not match is refused.
    assert_eq!(reg.push_manifest("app", &d, &m).status(), StatusCode::CREATED);
    let r = reg.push_manifest("app", &sha(b"x"), &m);
    assert_eq!(code(r), (StatusCode::BAD_REQUEST, "DIGEST_INVALID".into()));
    // Unknown blobs, invalid JSON, bad tag, unknown manifest.
    let mut bad = m.clone();
    bad["layers"][0]["digest"] = json!(sha(b"missing layer"));
    assert_eq!(code(reg.push_manifest("app", "v2", &bad)), (StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN".into()));
    let r = reg
        .req("PUT", "/v2/app/manifests/v3")
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body("{nope")
        .send()
        .unwrap();
    assert_eq!(code(r), (StatusCode::BAD_REQUEST, "MANIFEST_INVALID".into()));
    assert_eq!(
        code(reg.req("GET", "/v2/app/manifests/nosuch").send().unwrap()),
        (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN".into())
    );
    assert_eq!(code(reg.req("GET", "/v2/app/manifests/-bad").send().unwrap()).0, StatusCode::BAD_REQUEST);
    // An index over the image.
    let idx = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": body.len(),
                       "platform": {"architecture": "amd64", "os": "linux"}}]});
    assert_eq!(reg.push_manifest("app", "multi", &idx).status(), StatusCode::CREATED);
    let r = reg.req("GET", "/v2/app/manifests/multi").send().unwrap();
    assert_eq!(r.headers()["content-type"], "application/vnd.oci.image.index.v1+json");
    let mut idx_bad = idx.clone();
    idx_bad["manifests"][0]["digest"] = json!(sha(b"not a manifest here"));
    assert_eq!(code(reg.push_manifest("app", "multi2", &idx_bad)).1, "MANIFEST_BLOB_UNKNOWN");
    // Delete a tag, then the manifest by digest (its remaining tags go with it).
    assert_eq!(reg.req("DELETE", "/v2/app/manifests/multi").send().unwrap().status(), StatusCode::ACCEPTED);
    assert_eq!(reg.req("GET", "/v2/app/manifests/multi").send().unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(reg.req("DELETE", &format!("/v2/app/manifests/{d}")).send().unwrap().status(), StatusCode::ACCEPTED);
    assert_eq!(reg.req("GET", "/v2/app/manifests/v1").send().unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(reg.req("GET", &format!("/v2/app/manifests/{d}")).send().unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(reg.req("DELETE", &format!("/v2/app/manifests/{d}")).send().unwrap().status(), StatusCode::NOT_FOUND);
}

#[test]
fn oversized_manifest_and_bad_names_are_refused() {
    let reg = Reg::with(|c| c.registry.max_manifest_size = 1024);
    let (mut m, _) = reg.image("big", "v1", b"l");
    m["annotations"] = json!({"pad": "x".repeat(2000)});
    assert_eq!(code(reg.push_manifest("big", "v2", &m)), (StatusCode::PAYLOAD_TOO_LARGE, "SIZE_INVALID".into()));
    for bad in ["/v2/UPPER/tags/list", "/v2/a..b/tags/list", "/v2/-x/blobs/uploads/"] {
        let r = reg.req(if bad.ends_with("uploads/") { "POST" } else { "GET" }, bad).send().unwrap();
        assert_eq!(code(r), (StatusCode::BAD_REQUEST, "NAME_INVALID".into()), "{bad}");
    }
    // HTTP clients resolve "/../" (even %2E%2E) before sending, so this one is written by hand.
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(reg.url.trim_start_matches("http://")).unwrap();
    write!(
        s,
        "GET /v2/a/../b/tags/list HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        reg.admin
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400") && answer.contains("NAME_INVALID"), "{answer}");
    let r = reg.req("GET", &format!("/v2/{}/tags/list", "a".repeat(200))).send().unwrap();
    assert_eq!(code(r), (StatusCode::BAD_REQUEST, "NAME_INVALID".into()));
    assert_eq!(reg.req("GET", "/v2/big/manifests/v1").send().unwrap().status(), StatusCode::OK);
}

#[test]
fn tags_list_paginates() {
    let reg = Reg::start();
    let (m, _) = reg.image("t", "a", b"x");
    for t in ["d", "b", "c", "e"] {
        assert_eq!(reg.push_manifest("t", t, &m).status(), StatusCode::CREATED);
    }
    let v: Value = reg.req("GET", "/v2/t/tags/list").send().unwrap().json().unwrap();
    assert_eq!(v, json!({"name": "t", "tags": ["a", "b", "c", "d", "e"]}));
    let r = reg.req("GET", "/v2/t/tags/list?n=2").send().unwrap();
    assert_eq!(r.headers()["link"], "</v2/t/tags/list?n=2&last=b>; rel=\"next\"");
    assert_eq!(r.json::<Value>().unwrap()["tags"], json!(["a", "b"]));
    let v: Value = reg.req("GET", "/v2/t/tags/list?n=2&last=b").send().unwrap().json().unwrap();
    assert_eq!(v["tags"], json!(["c", "d"]));
    let r = reg.req("GET", "/v2/t/tags/list?n=10&last=d").send().unwrap();
    assert!(!r.headers().contains_key("link"));
    assert_eq!(r.json::<Value>().unwrap()["tags"], json!(["e"]));
    assert_eq!(
        code(reg.req("GET", "/v2/none/tags/list").send().unwrap()),
        (StatusCode::NOT_FOUND, "NAME_UNKNOWN".into())
    );
}

#[test]
fn referrers_with_artifact_type_filter_and_subject_header() {
    let reg = Reg::start();
    let (m, d) = reg.image("ref", "v1", b"base");
    let size = serde_json::to_vec(&m).unwrap().len();
    let empty = reg.push_blob("ref", b"{}");
    let mut digests = Vec::new();
    for (i, at) in ["application/vnd.example.sbom", "application/vnd.example.sig"].iter().enumerate() {
        let blob = reg.push_blob("ref", format!("artifact {i}").as_bytes());
        let art = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": at,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [{"mediaType": "text/plain", "digest": blob, "size": 10}],
            "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": size},
            "annotations": {"n": i.to_string()}});
        let ad = sha(&serde_json::to_vec(&art).unwrap());
        let r = reg.push_manifest("ref", &ad, &art);
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(r.headers()["oci-subject"], d.as_str());
        digests.push(ad);
    }
    let r = reg.req("GET", &format!("/v2/ref/referrers/{d}")).send().unwrap();
    assert_eq!(r.headers()["content-type"], "application/vnd.oci.image.index.v1+json");
    let v: Value = r.json().unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 2);
    assert!(v["manifests"].as_array().unwrap().iter().all(|m| m["annotations"]["n"].is_string()));
    let r = reg.req("GET", &format!("/v2/ref/referrers/{d}?artifactType=application/vnd.example.sig")).send().unwrap();
    assert_eq!(r.headers()["oci-filters-applied"], "artifactType");
    let v: Value = r.json().unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(v["manifests"][0]["artifactType"], "application/vnd.example.sig");
    // No referrers: an empty index, not 404.
    let v: Value = reg.req("GET", &format!("/v2/ref/referrers/{}", sha(b"none"))).send().unwrap().json().unwrap();
    assert_eq!(v["manifests"], json!([]));
    // Deleting a referrer removes it from the list.
    reg.req("DELETE", &format!("/v2/ref/manifests/{}", digests[0])).send().unwrap();
    let v: Value = reg.req("GET", &format!("/v2/ref/referrers/{d}")).send().unwrap().json().unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
}

#[test]
fn tokens_scopes_expiry_and_token_endpoint() {
    let reg = Reg::with(|c| c.registry.anonymous_pull = false);
    let key = volt_registry::signing_key(&reg.volt).unwrap();
    let (pull_only, _) =
        key.issue("t", vec![Access { repo: "team/*".into(), actions: vec![Action::Pull] }], Duration::from_secs(60));
    reg.image("team/app", "v1", b"l");
    let get = |tok: &str, path: &str| reg.http.get(format!("{}{path}", reg.url)).bearer_auth(tok).send().unwrap();
    assert_eq!(get(&pull_only, "/v2/team/app/manifests/v1").status(), StatusCode::OK);
    assert_eq!(get(&pull_only, "/v2/other/manifests/v1").status(), StatusCode::UNAUTHORIZED);
    let r = reg.http.post(format!("{}/v2/team/app/blobs/uploads/", reg.url)).bearer_auth(&pull_only).send().unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let ch = r.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert!(ch.contains("scope=\"repository:team/app:pull,push\""), "{ch}");
    // Anonymous pull is off: no token, no manifest.
    assert_eq!(
        reg.http.get(format!("{}/v2/team/app/manifests/v1", reg.url)).send().unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // Expired, forged, garbage.
    let expired = key.sign(&volt_registry::Claims {
        sub: "t".into(),
        access: vec![Access { repo: "*".into(), actions: vec![Action::Pull] }],
        iat: 1,
        exp: 2,
    });
    let r = get(&expired, "/v2/team/app/manifests/v1");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().unwrap().contains("expired"));
    let other = volt_registry::TokenKey::from_bytes(&[1u8; 32]).unwrap();
    let (forged, _) =
        other.issue("x", vec![Access { repo: "*".into(), actions: vec![Action::Push] }], Duration::from_secs(60));
    assert_eq!(get(&forged, "/v2/team/app/manifests/v1").status(), StatusCode::UNAUTHORIZED);
    assert_eq!(get("garbage", "/v2/team/app/manifests/v1").status(), StatusCode::UNAUTHORIZED);
    // Token endpoint: basic login with the token as password, narrowed to the asked scope.
    let r = reg
        .http
        .get(format!("{}/token?service=volt-registry&scope=repository:team/app:pull,push", reg.url))
        .basic_auth("anyone", Some(&pull_only))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().unwrap();
    let issued = v["token"].as_str().unwrap();
    assert_eq!(v["access_token"], v["token"]);
    let claims = key.verify(issued).unwrap();
    assert!(claims.allows("team/app", Action::Pull) && !claims.allows("team/app", Action::Push));
    let r = reg
        .http
        .get(format!("{}/token?scope=repository:a:pull", reg.url))
        .basic_auth("u", Some("wrong"))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = reg.http.get(format!("{}/token?scope=repository:a:pull", reg.url)).send().unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "anonymous token refused when anonymous pull is off");
    // Mounting reads the source repository: a token that may only push to `mine` cannot mount
    // from `team/app`, with or without `from` (an ordinary upload session starts instead), and
    // the catalog lists only what a token may pull.
    let (push_mine, _) = key.issue(
        "t",
        vec![Access { repo: "mine".into(), actions: vec![Action::Pull, Action::Push] }],
        Duration::from_secs(60),
    );
    let layer = sha(b"l");
    for q in [format!("mount={layer}&from=team/app"), format!("mount={layer}")] {
        let r =
            reg.http.post(format!("{}/v2/mine/blobs/uploads/?{q}", reg.url)).bearer_auth(&push_mine).send().unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{q}");
    }
    assert_eq!(get(&push_mine, &format!("/v2/mine/blobs/{layer}")).status(), StatusCode::NOT_FOUND);
    let r = reg
        .http
        .post(format!("{}/v2/team/other/blobs/uploads/?mount={layer}", reg.url))
        .bearer_auth(&reg.admin)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "a reader of team/app may mount without from");
    let v: Value = get(&pull_only, "/v2/_catalog").json().unwrap();
    assert_eq!(v["repositories"], json!(["team/app", "team/other"]));
    let v: Value = get(&push_mine, "/v2/_catalog").json().unwrap();
    assert_eq!(v["repositories"], json!([]));
    // Basic auth with the token as password works directly on /v2/ as well.
    let r =
        reg.http.get(format!("{}/v2/team/app/manifests/v1", reg.url)).basic_auth("u", Some(&pull_only)).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[test]
fn anonymous_pull_when_enabled_but_never_push() {
    let reg = Reg::start();
    reg.image("pub", "v1", b"l");
    assert_eq!(reg.http.get(format!("{}/v2/pub/manifests/v1", reg.url)).send().unwrap().status(), StatusCode::OK);
    let r = reg.http.get(format!("{}/token?scope=repository:pub:pull,push", reg.url)).send().unwrap();
    let v: Value = r.json().unwrap();
    let key = volt_registry::signing_key(&reg.volt).unwrap();
    let c = key.verify(v["token"].as_str().unwrap()).unwrap();
    assert!(c.allows("pub", Action::Pull) && !c.allows("pub", Action::Push));
    let r = reg.http.post(format!("{}/v2/pub/blobs/uploads/", reg.url)).send().unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = reg.http.delete(format!("{}/v2/pub/manifests/v1", reg.url)).send().unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn online_gc_collects_unreferenced_blobs_only() {
    let reg = Reg::with(|c| c.registry.blob_grace = 0);
    let (_, _) = reg.image("g", "v1", b"kept layer");
    let orphan = reg.push_blob("g", b"orphan blob nobody references");
    // Blobs that merely start like Stellarium's own objects are user data to gc, not damage.
    reg.image("g", "fake-link", b"VOLTLINK\x09not really a link object");
    reg.image("g", "fake-tree", b"VOLTTREE\x01\xff\xff junk");
    // Start an upload that is still in flight during gc.
    let r = reg.req("POST", "/v2/g/blobs/uploads/").send().unwrap();
    let loc = format!("{}{}", reg.url, r.headers()["location"].to_str().unwrap());
    let inflight: Vec<u8> = vec![9u8; 5 << 20];
    reg.req("PATCH", &loc).body(inflight.clone()).send().unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let rep = reg.rt.block_on(reg.volt.store().gc(false)).unwrap();
    assert!(rep.removed_files >= 1, "{rep:?}");
    assert_eq!(reg.req("HEAD", &format!("/v2/g/blobs/{orphan}")).send().unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(reg.req("GET", "/v2/g/manifests/v1").send().unwrap().status(), StatusCode::OK);
    let r = reg.req("GET", &format!("/v2/g/blobs/{}", sha(b"kept layer"))).send().unwrap();
    assert_eq!(r.bytes().unwrap().as_ref(), b"kept layer");
    // The in-flight upload survived gc and completes.
    let r = reg.req("PUT", &format!("{loc}?digest={}", sha(&inflight))).send().unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let v = reg.rt.block_on(reg.volt.store().verify(None)).unwrap();
    assert!(v.corrupt.is_empty() && v.missing.is_empty() && v.broken_refs.is_empty(), "{v:?}");
}

#[test]
fn pushes_and_deletes_are_audited() {
    let reg = Reg::start();
    reg.image("au", "v1", b"l");
    reg.req("DELETE", "/v2/au/manifests/v1").send().unwrap();
    let log = std::fs::read_to_string(reg.volt.paths().audit_log()).unwrap();
    for action in ["registry.blob.push", "registry.manifest.push", "registry.manifest.delete", "registry.token.create"]
    {
        assert!(log.contains(action), "{action} missing from the audit log");
    }
    assert!(!log.contains(&reg.admin), "a token leaked into the audit log");
}

#[test]
fn shutdown_drains_requests_in_flight() {
    let mut reg = Reg::start();
    let r = reg.req("POST", "/v2/drain/blobs/uploads/").send().unwrap();
    let loc = format!("{}{}", reg.url, r.headers()["location"].to_str().unwrap());
    let data: Vec<u8> = vec![3u8; 32 << 20];
    let d = sha(&data);
    let http = reg.http.clone();
    let admin = reg.admin.clone();
    let body = data.clone();
    let t = std::thread::spawn(move || {
        http.put(format!("{loc}?digest={d}")).bearer_auth(admin).body(body).send().map(|r| r.status())
    });
    std::thread::sleep(Duration::from_millis(50));
    let running = reg.running.take().unwrap();
    running.shutdown(Duration::from_secs(30));
    reg.rt.block_on(running.wait()).unwrap();
    assert_eq!(t.join().unwrap().unwrap(), StatusCode::CREATED);
    assert!(reg.http.get(format!("{}/v2/", reg.url)).send().is_err(), "still accepting after shutdown");
}

#[test]
fn abandoned_uploads_expire_and_leave_nothing() {
    let reg = Reg::with(|c| c.registry.upload_ttl = 1);
    let before = reg.objects();
    let r = reg.req("POST", "/v2/ab/blobs/uploads/").send().unwrap();
    let loc = format!("{}{}", reg.url, r.headers()["location"].to_str().unwrap());
    reg.req("PATCH", &loc).body(vec![1u8; 6 << 20]).send().unwrap();
    assert_eq!(reg.req("GET", &loc).send().unwrap().status(), StatusCode::NO_CONTENT);
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(code(reg.req("GET", &loc).send().unwrap()), (StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN".into()));
    let staged = walk_count(&reg.volt.paths().cas_dir().join("objects"));
    assert_eq!(staged, 0, "staged files of the expired upload remain");
    assert_eq!(reg.objects(), before);
}

/// Files below `dir` whose name marks them as staged by a transaction.
fn walk_count(dir: &std::path::Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            n += walk_count(&p);
        } else if e.file_name().to_string_lossy().starts_with(".stage-") {
            n += 1;
        }
    }
    n
}

#[test]
fn too_many_open_uploads_are_refused_with_429() {
    let reg = Reg::start();
    let mut locs = Vec::new();
    for _ in 0..volt_core::registry::MAX_UPLOADS {
        let r = reg.req("POST", "/v2/many/blobs/uploads/").send().unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        locs.push(format!("{}{}", reg.url, r.headers()["location"].to_str().unwrap()));
    }
    let r = reg.req("POST", "/v2/many/blobs/uploads/").send().unwrap();
    assert_eq!(code(r), (StatusCode::TOO_MANY_REQUESTS, "TOOMANYREQUESTS".into()));
    assert_eq!(reg.req("DELETE", &locs[0]).send().unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(reg.req("POST", "/v2/many/blobs/uploads/").send().unwrap().status(), StatusCode::ACCEPTED);
}

#[test]
fn sha512_referrers_fit_a_long_repository_name() {
    let reg = Reg::start();
    let repo = format!("team/{}", "r".repeat(70));
    let (m, _) = reg.image(&repo, "v1", b"base layer");
    let body = serde_json::to_vec(&m).unwrap();
    let subject = format!("sha512:{}", hex(&sha2::Sha512::digest(&body)));
    assert_eq!(reg.push_manifest(&repo, &subject, &m).status(), StatusCode::CREATED);
    let empty = reg.push_blob(&repo, b"{}");
    let art = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.sig",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject, "size": body.len()}});
    let art_bytes = serde_json::to_vec(&art).unwrap();
    let ad = format!("sha512:{}", hex(&sha2::Sha512::digest(&art_bytes)));
    let r = reg.push_manifest(&repo, &ad, &art);
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text());
    let v: Value = reg.req("GET", &format!("/v2/{repo}/referrers/{subject}")).send().unwrap().json().unwrap();
    assert_eq!(v["manifests"][0]["digest"], ad.as_str());
    assert_eq!(reg.req("DELETE", &format!("/v2/{repo}/manifests/{ad}")).send().unwrap().status(), StatusCode::ACCEPTED);
    let v: Value = reg.req("GET", &format!("/v2/{repo}/referrers/{subject}")).send().unwrap().json().unwrap();
    assert_eq!(v["manifests"], json!([]));
}

/// A tar holding one file.
fn tar_of(name: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, name, content).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn a_closing_put_out_of_order_is_416_and_the_upload_resumes() {
    let reg = Reg::start();
    let data: Vec<u8> = (0..3067u32).map(|i| (i % 241) as u8).collect();
    let r = reg.req("POST", "/v2/up/blobs/uploads/").send().unwrap();
    let loc = format!("{}{}", reg.url, r.headers()["location"].to_str().unwrap());
    let r = reg.req("PATCH", &loc).header("content-range", "0-1023").body(data[..1024].to_vec()).send().unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    // The final chunk, sent from the wrong offset: refused, nothing of it taken.
    let put = format!("{loc}?digest={}", sha(&data));
    let r = reg.req("PUT", &put).header("content-range", "2048-3066").body(data[2048..].to_vec()).send().unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.headers()["range"], "0-1023", "the answer says where the upload stands");
    assert!(r.headers()["location"].to_str().unwrap().contains("/v2/up/blobs/uploads/"));
    assert_eq!(code(r).1, "BLOB_UPLOAD_INVALID");
    // The session is still there, at 1024 bytes, and completes from the right offset.
    let r = reg.req("GET", &loc).send().unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["range"], "0-1023");
    let r = reg.req("PUT", &put).header("content-range", "1024-3066").body(data[1024..].to_vec()).send().unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text());
    let got = reg.req("GET", &format!("/v2/up/blobs/{}", sha(&data))).send().unwrap().bytes().unwrap();
    assert_eq!(got.as_ref(), data.as_slice());
    // A closing PUT from the right offset with no earlier chunk, and one with a malformed range.
    let r = reg.req("POST", "/v2/up/blobs/uploads/").send().unwrap();
    let loc = format!("{}{}", reg.url, r.headers()["location"].to_str().unwrap());
    let r = reg.req("PUT", &format!("{loc}?digest={}", sha(b"abc"))).header("content-range", "x-y").body("abc").send();
    assert_eq!(code(r.unwrap()).0, StatusCode::RANGE_NOT_SATISFIABLE);
    let r = reg.req("PUT", &format!("{loc}?digest={}", sha(b"abc"))).header("content-range", "0-2").body("abc").send();
    assert_eq!(r.unwrap().status(), StatusCode::CREATED);
}

/// An image with a config, one ordinary layer and one non-distributable layer that only its
/// `urls` serve: everything but the foreign layer is pushed. Returns (manifest, its digest,
/// the foreign layer's bytes).
fn foreign_image(reg: &Reg, repo: &str, tag: &str, urls: &[String]) -> (Value, String, Vec<u8>) {
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cd = reg.push_blob(repo, config);
    let base = tar_of("base.txt", b"pushed");
    let bd = reg.push_blob(repo, &base);
    let foreign = tar_of("foreign.txt", format!("licensed {tag}").as_bytes());
    let m = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": bd, "size": base.len()},
            {"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar", "digest": sha(&foreign),
             "size": foreign.len(), "urls": urls},
        ],
    });
    let r = reg.push_manifest(repo, tag, &m);
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text());
    let d = sha(&serde_json::to_vec(&m).unwrap());
    (m, d, foreign)
}

#[test]
fn a_manifest_may_name_a_non_distributable_layer_it_does_not_have() {
    let reg = Reg::with(|c| c.registry.blob_grace = 0);
    let urls = vec!["https://licensed.invalid/layer".to_string()];
    let (m, d, foreign) = foreign_image(&reg, "win", "v1", &urls);
    let body = serde_json::to_vec(&m).unwrap();
    // Served as any manifest: GET, HEAD, by tag and digest, in the tag list.
    for reference in ["v1", d.as_str()] {
        let r = reg.req("GET", &format!("/v2/win/manifests/{reference}")).send().unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["docker-content-digest"], d.as_str());
        assert_eq!(r.bytes().unwrap().as_ref(), body.as_slice(), "the urls are served as pushed");
        assert_eq!(reg.req("HEAD", &format!("/v2/win/manifests/{reference}")).send().unwrap().status(), StatusCode::OK);
    }
    let tags: Value = reg.req("GET", "/v2/win/tags/list").send().unwrap().json().unwrap();
    assert_eq!(tags["tags"], json!(["v1"]));
    // The layer itself is not here.
    assert_eq!(
        code(reg.req("GET", &format!("/v2/win/blobs/{}", sha(&foreign))).send().unwrap()),
        (StatusCode::NOT_FOUND, "BLOB_UNKNOWN".into())
    );
    // Referrers of it are listed as for any manifest.
    let empty = reg.push_blob("win", b"{}");
    let sig = reg.push_blob("win", b"signature");
    let art = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.sig",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "text/plain", "digest": sig, "size": 9}],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": body.len()}});
    assert_eq!(reg.push_manifest("win", &sha(&serde_json::to_vec(&art).unwrap()), &art).status(), StatusCode::CREATED);
    let v: Value = reg.req("GET", &format!("/v2/win/referrers/{d}")).send().unwrap().json().unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
    // gc keeps what the manifest has and nothing for the missing layer; the store is whole.
    std::thread::sleep(Duration::from_millis(1100));
    reg.rt.block_on(reg.volt.store().gc(false)).unwrap();
    let r = reg.req("GET", &format!("/v2/win/blobs/{}", m["layers"][0]["digest"].as_str().unwrap())).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the pushed layer survives gc");
    let v = reg.rt.block_on(reg.volt.store().verify(None)).unwrap();
    assert!(v.corrupt.is_empty() && v.missing.is_empty() && v.broken_refs.is_empty(), "{v:?}");
    // Pushed later, the blob is served like any other and the manifest still resolves.
    reg.push_blob("win", &foreign);
    assert_eq!(reg.req("GET", &format!("/v2/win/blobs/{}", sha(&foreign))).send().unwrap().status(), StatusCode::OK);
    assert_eq!(reg.push_manifest("win", "v2", &m).status(), StatusCode::CREATED);
}

#[test]
fn only_non_distributable_layers_with_urls_may_be_missing() {
    let reg = Reg::start();
    let (m, _, _) = foreign_image(&reg, "nd", "ok", &["https://licensed.invalid/l".to_string()]);
    let missing = sha(b"never pushed");
    let refused = |layer: Value, config: Option<Value>| {
        let mut bad = m.clone();
        bad["layers"][1] = layer;
        if let Some(c) = config {
            bad["config"] = c;
        }
        code(reg.push_manifest("nd", "bad", &bad))
    };
    let blob_unknown = (StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN".to_string());
    // Non-distributable without urls; an ordinary layer with urls; an empty urls list.
    let nd = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
    assert_eq!(refused(json!({"mediaType": nd, "digest": missing, "size": 5}), None), blob_unknown);
    assert_eq!(refused(json!({"mediaType": nd, "digest": missing, "size": 5, "urls": []}), None), blob_unknown);
    let ordinary = "application/vnd.oci.image.layer.v1.tar+gzip";
    assert_eq!(
        refused(json!({"mediaType": ordinary, "digest": missing, "size": 5, "urls": ["https://x.invalid/l"]}), None),
        blob_unknown
    );
    // A config is never excused, whatever it claims to be.
    let cfg = json!({"mediaType": nd, "digest": missing, "size": 5, "urls": ["https://x.invalid/c"]});
    assert_eq!(refused(m["layers"][1].clone(), Some(cfg)), blob_unknown);
    // Docker's foreign layer type is accepted as well; a malformed digest is still invalid.
    let docker = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    let mut ok = m.clone();
    ok["layers"][1] = json!({"mediaType": docker, "digest": missing, "size": 5, "urls": ["https://x.invalid/l"]});
    assert_eq!(reg.push_manifest("nd", "docker", &ok).status(), StatusCode::CREATED);
    ok["layers"][1]["digest"] = json!("sha256:nothex");
    assert_eq!(code(reg.push_manifest("nd", "docker2", &ok)).0, StatusCode::BAD_REQUEST);
    assert_eq!(reg.req("GET", "/v2/nd/manifests/bad").send().unwrap().status(), StatusCode::NOT_FOUND);
}

#[test]
fn pulling_fetches_a_non_distributable_layer_from_its_urls_only_if_reachable() {
    use volt_core::image::{Credentials, ImageName, RemoteOptions};
    let reg = Reg::start();
    // A server on loopback that has the foreign layer (as a vendor's download site would).
    let listener = reg.rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let site = listener.local_addr().unwrap();
    let layer = tar_of("foreign.txt", b"licensed v1");
    let served = layer.clone();
    let app = axum::Router::new().route("/layer", axum::routing::get(move || async move { served.clone() }));
    reg.rt.spawn(async move { axum::serve(listener, app).await });
    let (_, _, foreign) = foreign_image(&reg, "vendor", "v1", &[format!("http://{site}/layer")]);
    assert_eq!(foreign, layer);
    let host = reg.url.trim_start_matches("http://").to_string();
    let opts = RemoteOptions::default().with_credentials(Credentials::Bearer(reg.admin.clone()));
    let images = reg.volt.images().unwrap();
    let name: ImageName = "pulled:1".parse().unwrap();
    let rec = reg.rt.block_on(images.pull(&format!("{host}/vendor:v1"), Some(&name), &opts, None)).unwrap();
    assert_eq!(rec.layers.len(), 2);
    assert_eq!(rec.layers[1].digest, sha(&layer));
    // A foreign layer whose urls answer nowhere: a network error naming the layer, nothing kept.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (_, _, lost) = foreign_image(&reg, "vendor", "v2", &[format!("http://{closed}/layer")]);
    let before = images.list().unwrap().len();
    let name2: ImageName = "pulled:2".parse().unwrap();
    let e = reg.rt.block_on(images.pull(&format!("{host}/vendor:v2"), Some(&name2), &opts, None)).unwrap_err();
    assert_eq!(e.kind(), volt_core::ErrorKind::Network, "{e}");
    assert!(e.to_string().contains(&sha(&lost)) && e.to_string().contains(&closed.to_string()), "{e}");
    assert_eq!(images.list().unwrap().len(), before);
}
