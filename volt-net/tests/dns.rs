//! The internal DNS server for real: hickory-server bound on loopback inside a network
//! namespace made for the test, answering workload names from lease files as they change,
//! refusing other names without upstreams, and forwarding them to an upstream (a second UDP
//! server on loopback in the same namespace) when one is configured.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;

use common::{in_private_netns, usable};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{rdata::A, Name, RData, Record, RecordType};
use volt_net::dns::{DnsOptions, DnsServer};
use volt_net::ipam::Ipam;

fn ask(server: SocketAddr, name: &str, t: RecordType) -> Message {
    let mut m = Message::new();
    m.set_id(4242).set_message_type(MessageType::Query).set_op_code(OpCode::Query).set_recursion_desired(true);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.send_to(&m.to_vec().unwrap(), server).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = s.recv_from(&mut buf).unwrap();
    let r = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(r.id(), 4242);
    r
}

fn a_records(m: &Message) -> Vec<Ipv4Addr> {
    m.answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

/// A one-answer upstream: every A question gets 192.0.2.7.
fn upstream(sock: UdpSocket) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let q = Message::from_vec(&buf[..n]).unwrap();
            let mut r = Message::new();
            r.set_id(q.id()).set_message_type(MessageType::Response).set_op_code(OpCode::Query);
            let query = q.queries()[0].clone();
            r.add_answer(Record::from_rdata(query.name().clone(), 60, RData::A(A("192.0.2.7".parse().unwrap()))));
            r.add_query(query);
            sock.send_to(&r.to_vec().unwrap(), from).unwrap();
        }
    });
}

#[test]
fn dns_answers_workloads_and_forwards_only_when_configured() {
    if !usable() || !in_private_netns("dns_answers_workloads_and_forwards_only_when_configured") {
        return;
    }
    assert!(Command::new("/bin/busybox").args(["ip", "link", "set", "lo", "up"]).status().unwrap().success());
    let t = tempfile::tempdir().unwrap();
    let front = Ipam::new(t.path().join("front"));
    front.init("10.70.0.0/24".parse().unwrap(), "10.70.0.1".parse().unwrap()).unwrap();
    let api = front.allocate("api").unwrap();

    let up = UdpSocket::bind("127.0.0.1:5399").unwrap();
    upstream(up);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let closed: SocketAddr = "127.0.0.1:5301".parse().unwrap();
    let open: SocketAddr = "127.0.0.1:5302".parse().unwrap();
    for (listen, upstreams) in [(closed, vec![]), (open, vec!["127.0.0.1:5399".parse().unwrap()])] {
        let opts =
            DnsOptions { networks_dir: t.path().into(), network: "front".into(), listen: vec![listen], upstreams };
        let server = rt.block_on(DnsServer::bind(&opts)).unwrap();
        rt.spawn(server.serve());
    }
    // The address is taken now: a second bind fails cleanly.
    let again =
        DnsOptions { networks_dir: t.path().into(), network: "front".into(), listen: vec![closed], upstreams: vec![] };
    assert!(rt.block_on(DnsServer::bind(&again)).is_err());

    let r = ask(closed, "api.", RecordType::A);
    assert_eq!(r.response_code(), ResponseCode::NoError);
    assert!(r.authoritative());
    assert_eq!(a_records(&r), [api]);
    assert_eq!(a_records(&ask(closed, "api.front.volt.", RecordType::A)), [api]);
    let r = ask(closed, "api.", RecordType::AAAA);
    assert_eq!(
        (r.response_code(), r.answers().len()),
        (ResponseCode::NoError, 0),
        "IPv4 only: no AAAA, but the name exists"
    );
    assert_eq!(ask(closed, "nobody.", RecordType::A).response_code(), ResponseCode::NXDomain);
    assert_eq!(
        ask(closed, "example.com.", RecordType::A).response_code(),
        ResponseCode::Refused,
        "no upstream: refused"
    );

    // Workloads come and go: answered at once.
    let web = front.allocate("web").unwrap();
    assert_eq!(a_records(&ask(closed, "web.", RecordType::A)), [web]);
    front.release("api").unwrap();
    assert_eq!(ask(closed, "api.", RecordType::A).response_code(), ResponseCode::NXDomain);

    // With an upstream, other names are forwarded; Volt's names are still answered locally.
    let r = ask(open, "example.com.", RecordType::A);
    assert_eq!(r.response_code(), ResponseCode::NoError);
    assert_eq!(a_records(&r), ["192.0.2.7".parse::<Ipv4Addr>().unwrap()]);
    assert_eq!(a_records(&ask(open, "web.", RecordType::A)), [web]);

    // A real resolver client (busybox nslookup) gets the answer.
    let o =
        Command::new("/bin/busybox").args(["nslookup", "-port=5301", "web.front.volt", "127.0.0.1"]).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(text.contains(&web.to_string()), "busybox nslookup: {text}");

    // DNS over TCP (two-byte length prefix), as resolvers use for large answers.
    use std::io::{Read, Write};
    let mut m = Message::new();
    m.set_id(7).set_message_type(MessageType::Query).set_op_code(OpCode::Query);
    m.add_query(Query::query(Name::from_ascii("web.front.volt.").unwrap(), RecordType::A));
    let q = m.to_vec().unwrap();
    let mut c = std::net::TcpStream::connect(closed).unwrap();
    c.write_all(&(q.len() as u16).to_be_bytes()).unwrap();
    c.write_all(&q).unwrap();
    let mut len = [0u8; 2];
    c.read_exact(&mut len).unwrap();
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(a_records(&Message::from_vec(&buf).unwrap()), [web]);
}
