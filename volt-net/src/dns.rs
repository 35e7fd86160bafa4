//! Volt's internal DNS server (`volt-dns`): hickory-server answering for workload names from the
//! networks' lease files, on a network's gateway address.
//!
//! Names: `NAME` (a workload of the server's own network) and `NAME.NETWORK.volt` (a workload
//! of any network). A and AAAA are answered (AAAA with no records: networks are IPv4). Other
//! names are forwarded to the configured upstreams, or refused when there are none, so nothing
//! leaves the host unless the operator asked for it.
//!
//! The zone is read from `networks/*/leases.json`, the files IPAM writes. An inotify watch on
//! the `networks/` directory and on each network's directory tells the server that something
//! changed (IPAM replaces a lease file by rename); the kernel queues that event when the rename
//! happens, and the server drains the queue (one non-blocking read) before each answer, so a
//! workload created or deleted a moment ago is answered correctly without any signal or reload
//! step. Only then are the files compared by identity (inode, size, mtime) and re-read. Where
//! inotify is not available the comparison is made before every answer instead.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use hickory_proto::op::{Header, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{rdata::A, Name, RData, Record, RecordType};
use hickory_server::authority::MessageResponseBuilder;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::ServerFuture;

use crate::ipam::Leases;
use crate::Error;

/// The domain under which every network's workloads are named.
pub const DOMAIN: &str = "volt";

/// TTL of answers: short, since workloads come and go.
pub const TTL: u32 = 5;

/// What a name is, for this server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A workload: its address(es).
    Found(Vec<Ipv4Addr>),
    /// Under Volt's names but not a workload.
    NoSuchName,
    /// Not Volt's (to be forwarded).
    Elsewhere,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_ns: i64,
}

fn file_id(p: &Path) -> Option<FileId> {
    let m = std::fs::metadata(p).ok()?;
    Some(FileId { ino: m.ino(), size: m.size(), mtime: m.mtime(), mtime_ns: m.mtime_nsec() })
}

#[derive(Debug, Default)]
struct Cache {
    dir: Option<FileId>,
    /// network → (identity of its leases file, owner → address).
    nets: BTreeMap<String, (Option<FileId>, BTreeMap<String, Ipv4Addr>)>,
    /// Changes are reported by inotify (None: compare the files before every answer).
    watch: Option<std::os::fd::OwnedFd>,
    /// Something may have changed since the last refresh.
    stale: bool,
}

/// What a watched directory reports: entries made, removed or renamed, files finished.
fn dir_events() -> rustix::fs::inotify::WatchFlags {
    use rustix::fs::inotify::WatchFlags as W;
    W::CREATE | W::DELETE | W::MOVED_TO | W::MOVED_FROM | W::CLOSE_WRITE | W::DELETE_SELF | W::ONLYDIR
}

/// The workload names of every network under a `networks/` directory, kept current.
#[derive(Debug)]
pub struct Zone {
    dir: PathBuf,
    own: String,
    cache: Mutex<Cache>,
}

impl Zone {
    /// The zone of the networks under `networks_dir`, answered for a server of network `own`.
    pub fn new(networks_dir: impl Into<PathBuf>, own: impl Into<String>) -> Self {
        let dir = networks_dir.into();
        use rustix::fs::inotify;
        let watch = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
            .ok()
            .filter(|fd| inotify::add_watch(fd, &dir, dir_events()).is_ok());
        let cache = Cache { watch, stale: true, ..Cache::default() };
        Zone { dir, own: own.into().to_ascii_lowercase(), cache: Mutex::new(cache) }
    }

    /// Drain the inotify queue; true if anything happened (or nothing is watched).
    fn changed(c: &mut Cache) -> bool {
        let Some(fd) = &c.watch else { return true };
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        let mut r = rustix::fs::inotify::Reader::new(fd, &mut buf);
        let mut any = false;
        while r.next().is_ok() {
            any = true;
        }
        any
    }

    fn refresh(&self, c: &mut Cache) {
        if !std::mem::take(&mut c.stale) && !Self::changed(c) {
            return;
        }
        let dir_id = file_id(&self.dir);
        if dir_id != c.dir || c.watch.is_some() {
            c.dir = dir_id;
            let mut names: Vec<String> = std::fs::read_dir(&self.dir)
                .map(|rd| {
                    rd.filter_map(|e| e.ok())
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                        .filter_map(|e| e.file_name().into_string().ok())
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            c.nets.retain(|k, _| names.contains(k));
            for n in names {
                // Watched before it is read, so a change after this point is reported. Adding a
                // watch again is harmless, and covers a directory removed and made anew.
                if let Some(fd) = &c.watch {
                    let _ = rustix::fs::inotify::add_watch(fd, self.dir.join(&n), dir_events());
                }
                c.nets.entry(n).or_insert((None, BTreeMap::new()));
            }
        }
        for (net, (id, map)) in c.nets.iter_mut() {
            let p = self.dir.join(net).join("leases.json");
            let now = file_id(&p);
            if now != *id {
                *id = now;
                *map = std::fs::read(&p)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Leases>(&b).ok())
                    .map(|l| l.leases.into_iter().map(|(a, o)| (o.to_ascii_lowercase(), a)).collect())
                    .unwrap_or_default();
            }
        }
    }

    /// Resolve `name` (any case, with or without the final dot).
    pub fn lookup(&self, name: &str) -> Lookup {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let labels: Vec<&str> = name.split('.').collect();
        let (net, host) = match labels.as_slice() {
            [host] => (self.own.as_str(), *host),
            [host, net, d] if *d == DOMAIN => (*net, *host),
            [.., d] if *d == DOMAIN => return Lookup::NoSuchName,
            _ => return Lookup::Elsewhere,
        };
        if host.is_empty() {
            return Lookup::Elsewhere;
        }
        let mut c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        self.refresh(&mut c);
        match c.nets.get(net).and_then(|(_, m)| m.get(host)) {
            Some(a) => Lookup::Found(vec![*a]),
            None => Lookup::NoSuchName,
        }
    }
}

/// How a server is run.
#[derive(Debug, Clone)]
pub struct DnsOptions {
    /// The `networks/` directory.
    pub networks_dir: PathBuf,
    /// The network this server answers bare names for.
    pub network: String,
    /// Where to listen (UDP and TCP on each).
    pub listen: Vec<SocketAddr>,
    /// Where to forward other names (none: refuse them).
    pub upstreams: Vec<SocketAddr>,
}

struct Handler {
    zone: Zone,
    upstreams: Vec<SocketAddr>,
}

impl Handler {
    /// Ask the upstreams in turn (UDP, 2 s each) for `q`.
    async fn forward(&self, q: Query) -> Option<Message> {
        for up in &self.upstreams {
            let mut m = Message::new();
            m.set_id(rand_id())
                .set_message_type(MessageType::Query)
                .set_op_code(OpCode::Query)
                .set_recursion_desired(true)
                .add_query(q.clone());
            let Ok(bytes) = m.to_vec() else { return None };
            let bind: SocketAddr = if up.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().expect("valid");
            let Ok(sock) = tokio::net::UdpSocket::bind(bind).await else { continue };
            if sock.send_to(&bytes, up).await.is_err() {
                continue;
            }
            let mut buf = vec![0u8; 4096];
            let got = tokio::time::timeout(Duration::from_secs(2), async {
                loop {
                    let (n, from) = sock.recv_from(&mut buf).await.ok()?;
                    if from != *up {
                        continue;
                    }
                    match Message::from_vec(&buf[..n]) {
                        Ok(r) if r.id() == m.id() => return Some(r),
                        _ => continue,
                    }
                }
            })
            .await;
            if let Ok(Some(r)) = got {
                return Some(r);
            }
        }
        None
    }
}

fn rand_id() -> u16 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    (t ^ (t >> 16)) as u16 ^ std::process::id() as u16
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler>(&self, request: &Request, mut response: R) -> ResponseInfo {
        let builder = MessageResponseBuilder::from_message_request(request);
        let mut header = Header::response_from_request(request.header());
        header.set_recursion_available(!self.upstreams.is_empty());
        let sent = if request.op_code() != OpCode::Query || request.message_type() != MessageType::Query {
            response.send_response(builder.error_msg(request.header(), ResponseCode::NotImp)).await
        } else {
            let Ok(info) = request.request_info() else {
                let r = builder.error_msg(request.header(), ResponseCode::FormErr);
                return response.send_response(r).await.unwrap_or_else(|_| serve_failed());
            };
            let qname: Name = info.query.name().into();
            let qtype = info.query.query_type();
            match self.zone.lookup(&qname.to_ascii()) {
                Lookup::Found(addrs) => {
                    header.set_authoritative(true);
                    let records: Vec<Record> = if matches!(qtype, RecordType::A | RecordType::ANY) {
                        addrs.iter().map(|a| Record::from_rdata(qname.clone(), TTL, RData::A(A(*a)))).collect()
                    } else {
                        Vec::new()
                    };
                    response.send_response(builder.build(header, records.iter(), [], [], [])).await
                }
                Lookup::NoSuchName => {
                    header.set_authoritative(true);
                    header.set_response_code(ResponseCode::NXDomain);
                    response.send_response(builder.build_no_records(header)).await
                }
                Lookup::Elsewhere if self.upstreams.is_empty() => {
                    response.send_response(builder.error_msg(request.header(), ResponseCode::Refused)).await
                }
                Lookup::Elsewhere => match self.forward(Query::query(qname, qtype)).await {
                    Some(up) => {
                        header.set_response_code(up.response_code());
                        let r = builder.build(
                            header,
                            up.answers().iter(),
                            up.name_servers().iter(),
                            [],
                            up.additionals().iter(),
                        );
                        response.send_response(r).await
                    }
                    None => response.send_response(builder.error_msg(request.header(), ResponseCode::ServFail)).await,
                },
            }
        };
        sent.unwrap_or_else(|_| serve_failed())
    }
}

fn serve_failed() -> ResponseInfo {
    let mut h = Header::new();
    h.set_response_code(ResponseCode::ServFail);
    h.into()
}

/// A bound server, not yet answering: binding is separated from serving so the caller can
/// report "listening" (or the bind error) before it detaches.
pub struct DnsServer {
    server: ServerFuture<Handler>,
}

impl std::fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DnsServer")
    }
}

impl DnsServer {
    /// Bind UDP and TCP on every listen address. Needs a tokio runtime.
    ///
    /// # Errors
    /// [`Error::Io`] when an address cannot be bound (in use, not local).
    pub async fn bind(opts: &DnsOptions) -> Result<Self, Error> {
        let handler = Handler { zone: Zone::new(&opts.networks_dir, &opts.network), upstreams: opts.upstreams.clone() };
        let mut server = ServerFuture::new(handler);
        for a in &opts.listen {
            let io = |op: &'static str| move |e| Error::Io { op, path: PathBuf::from(a.to_string()), source: e };
            let udp = tokio::net::UdpSocket::bind(a).await.map_err(io("bind UDP"))?;
            let tcp = tokio::net::TcpListener::bind(a).await.map_err(io("bind TCP"))?;
            server.register_socket(udp);
            server.register_listener(tcp, Duration::from_secs(5));
        }
        Ok(DnsServer { server })
    }

    /// Answer until the sockets fail or the task is dropped.
    ///
    /// # Errors
    /// [`Error::Io`] when serving fails.
    pub async fn serve(mut self) -> Result<(), Error> {
        self.server.block_until_done().await.map_err(|e| Error::Io {
            op: "serve DNS",
            path: PathBuf::from("dns"),
            source: std::io::Error::other(e.to_string()),
        })
    }
}

/// Parse an upstream: `IP` or `IP:PORT` (port 53 by default).
///
/// # Errors
/// [`Error::InvalidCidr`] for anything else.
pub fn parse_upstream(s: &str) -> Result<SocketAddr, Error> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)).map_err(|_| Error::InvalidCidr {
        cidr: s.to_string(),
        reason: "expected an upstream DNS server as IP or IP:PORT".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipam::Ipam;

    #[test]
    fn zone_follows_the_lease_files() {
        let t = tempfile::tempdir().unwrap();
        let front = Ipam::new(t.path().join("front"));
        front.init("10.70.0.0/24".parse().unwrap(), "10.70.0.1".parse().unwrap()).unwrap();
        let z = Zone::new(t.path(), "front");
        assert_eq!(z.lookup("api"), Lookup::NoSuchName);
        let a = front.allocate("api").unwrap();
        assert_eq!(z.lookup("api"), Lookup::Found(vec![a]), "a new lease is seen at once");
        assert_eq!(z.lookup("API.front.volt."), Lookup::Found(vec![a]));
        assert_eq!(z.lookup("api.back.volt"), Lookup::NoSuchName);
        assert_eq!(z.lookup("example.com"), Lookup::Elsewhere);
        assert_eq!(z.lookup("x.y.z.volt"), Lookup::NoSuchName);
        // A network added later, and names on it by their full name.
        let back = Ipam::new(t.path().join("back"));
        back.init("10.71.0.0/24".parse().unwrap(), "10.71.0.1".parse().unwrap()).unwrap();
        let b = back.allocate("db").unwrap();
        assert_eq!(z.lookup("db.back.volt"), Lookup::Found(vec![b]));
        assert_eq!(z.lookup("db"), Lookup::NoSuchName, "bare names are the own network's");
        front.release("api").unwrap();
        assert_eq!(z.lookup("api"), Lookup::NoSuchName, "a released lease is gone at once");
        std::fs::remove_dir_all(t.path().join("back")).unwrap();
        assert_eq!(z.lookup("db.back.volt"), Lookup::NoSuchName);
        // Made anew under the same name: still followed.
        let back = Ipam::new(t.path().join("back"));
        back.init("10.71.0.0/24".parse().unwrap(), "10.71.0.1".parse().unwrap()).unwrap();
        assert_eq!(z.lookup("db.back.volt"), Lookup::NoSuchName);
        let b = back.allocate("db").unwrap();
        assert_eq!(z.lookup("db.back.volt"), Lookup::Found(vec![b]));
        assert!(z.cache.lock().unwrap().watch.is_some(), "inotify is used here");
    }

    #[test]
    fn upstreams_parse() {
        assert_eq!(parse_upstream("9.9.9.9").unwrap(), "9.9.9.9:53".parse().unwrap());
        assert_eq!(parse_upstream("127.0.0.1:5353").unwrap(), "127.0.0.1:5353".parse().unwrap());
        assert!(parse_upstream("dns.example").is_err());
    }
}
