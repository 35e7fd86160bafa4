//! Links over rtnetlink (no `ip` commands): bridges with their gateway address, veth pairs
//! whose workload end is moved into the workload's network namespace, addressed and routed
//! there, and deletion.
//!
//! A netlink socket works in the network namespace of the thread that opened it, so work inside
//! a workload's namespace runs on a short-lived thread that has joined it (`setns`) with a
//! netlink connection of its own.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::path::Path;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::link::{InfoData, InfoVeth};
use rtnetlink::{Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder};

use crate::Error;

fn nl(what: &str) -> impl FnOnce(rtnetlink::Error) -> Error + '_ {
    move |e| Error::Netlink(format!("{what}: {e}"))
}

/// A netlink connection in the current thread's network namespace. Needs a tokio runtime.
#[derive(Debug, Clone)]
pub struct Netlink {
    handle: Handle,
}

impl Netlink {
    /// Connect (the connection task is spawned on the current tokio runtime).
    ///
    /// # Errors
    /// [`Error::Io`] when the socket cannot be opened.
    pub fn connect() -> Result<Self, Error> {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(|e| Error::Io {
            op: "open netlink socket",
            path: "NETLINK_ROUTE".into(),
            source: e,
        })?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    /// The index of link `name`, if it exists.
    ///
    /// # Errors
    /// Netlink errors other than "no such device".
    pub async fn index(&self, name: &str) -> Result<Option<u32>, Error> {
        let mut s = self.handle.clone().link().get().match_name(name.to_string()).execute();
        match s.try_next().await {
            Ok(Some(m)) => Ok(Some(m.header.index)),
            Ok(None) => Ok(None),
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc_enodev() => Ok(None),
            Err(e) => Err(nl("get link")(e)),
        }
    }

    /// Make sure bridge `name` exists, is up and has `gateway/prefix`. Idempotent.
    ///
    /// # Errors
    /// Netlink errors.
    pub async fn ensure_bridge(&self, name: &str, gateway: Ipv4Addr, prefix: u8) -> Result<u32, Error> {
        if self.index(name).await?.is_none() {
            self.handle.link().add(LinkBridge::new(name).build()).execute().await.map_err(nl("add bridge"))?;
        }
        let idx = self.index(name).await?.ok_or_else(|| Error::Netlink(format!("bridge {name} vanished")))?;
        match self.handle.address().add(idx, IpAddr::V4(gateway), prefix).execute().await {
            Ok(()) => {}
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc_eexist() => {}
            Err(e) => return Err(nl("add bridge address")(e)),
        }
        self.handle.link().set(LinkUnspec::new_with_index(idx).up().build()).execute().await.map_err(nl("set up"))?;
        Ok(idx)
    }

    /// Put link `name` on `bridge` and up (a host end left over when its bridge was re-made).
    ///
    /// # Errors
    /// Netlink errors; either link missing.
    pub async fn enslave(&self, name: &str, bridge: &str) -> Result<(), Error> {
        let br = self.index(bridge).await?.ok_or_else(|| Error::Netlink(format!("no bridge {bridge}")))?;
        let idx = self.index(name).await?.ok_or_else(|| Error::Netlink(format!("no link {name}")))?;
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(idx).controller(br).up().build())
            .execute()
            .await
            .map_err(nl("attach to the bridge"))
    }

    /// Every IPv4 network configured on this namespace's interfaces (to keep new subnets from
    /// overlapping the host's own).
    ///
    /// # Errors
    /// Netlink errors.
    pub async fn ipv4_networks(&self) -> Result<Vec<(Ipv4Addr, u8)>, Error> {
        use rtnetlink::packet_route::address::AddressAttribute;
        let mut out = Vec::new();
        let mut s = self.handle.address().get().execute();
        while let Some(m) = s.try_next().await.map_err(nl("list addresses"))? {
            for a in &m.attributes {
                if let AddressAttribute::Address(IpAddr::V4(ip)) = a {
                    out.push((*ip, m.header.prefix_len));
                }
            }
        }
        Ok(out)
    }

    /// Delete link `name` (a veth goes with its peer). Nothing happens if it does not exist.
    ///
    /// # Errors
    /// Netlink errors.
    pub async fn delete(&self, name: &str) -> Result<(), Error> {
        if let Some(idx) = self.index(name).await? {
            self.handle.clone().link().del(idx).execute().await.map_err(nl("delete link"))?;
        }
        Ok(())
    }

    /// Connect a workload: a veth pair `host_if` (on `bridge`, up) and `ifname` in the network
    /// namespace at `netns` (a `/proc/PID/ns/net` or bind-mounted namespace file) with
    /// `addr/prefix`, up, and — when `default_via` is given — the default route through it.
    /// On failure nothing is left.
    ///
    /// # Errors
    /// Netlink errors; I/O errors opening the namespace.
    #[allow(clippy::too_many_arguments)]
    pub async fn attach_veth(
        &self,
        bridge: &str,
        host_if: &str,
        netns: &Path,
        ifname: &str,
        addr: Ipv4Addr,
        prefix: u8,
        default_via: Option<Ipv4Addr>,
    ) -> Result<(), Error> {
        let ns = File::open(netns).map_err(|e| Error::Io { op: "open", path: netns.to_path_buf(), source: e })?;
        let br = self.index(bridge).await?.ok_or_else(|| Error::Netlink(format!("no bridge {bridge}")))?;
        let r = async {
            // The workload's end is made inside its namespace, under its final name, in the same
            // request: moving an existing end there costs the kernel tens of milliseconds.
            let peer =
                LinkMessageBuilder::<LinkUnspec>::new().name(ifname.to_string()).setns_by_fd(ns.as_raw_fd()).build();
            let pair = LinkVeth::new(host_if, "unused").set_info_data(InfoData::Veth(InfoVeth::Peer(peer))).build();
            self.handle.link().add(pair).execute().await.map_err(nl("add veth"))?;
            let hidx = self.index(host_if).await?.ok_or_else(|| Error::Netlink("veth vanished".into()))?;
            self.handle
                .link()
                .set(LinkUnspec::new_with_index(hidx).controller(br).up().build())
                .execute()
                .await
                .map_err(nl("attach veth to the bridge"))?;
            let ifname = ifname.to_string();
            in_netns(ns, move || configure_inside(ifname, addr, prefix, default_via)).await
        }
        .await;
        if r.is_err() {
            let _ = self.delete(host_if).await;
        }
        r
    }
}

/// Inside the workload's namespace: lo and the interface up, the address, the default route.
async fn configure_inside(
    ifname: String,
    addr: Ipv4Addr,
    prefix: u8,
    default_via: Option<Ipv4Addr>,
) -> Result<(), Error> {
    let n = Netlink::connect()?;
    for name in ["lo", ifname.as_str()] {
        let idx = n.index(name).await?.ok_or_else(|| Error::Netlink(format!("no {name} in the namespace")))?;
        n.handle.link().set(LinkUnspec::new_with_index(idx).up().build()).execute().await.map_err(nl("set up"))?;
    }
    let idx = n.index(&ifname).await?.unwrap_or(0);
    n.handle.address().add(idx, IpAddr::V4(addr), prefix).execute().await.map_err(nl("add address"))?;
    if let Some(gw) = default_via {
        let route = RouteMessageBuilder::<Ipv4Addr>::new().gateway(gw).output_interface(idx).build();
        n.handle.route().add(route).execute().await.map_err(nl("add default route"))?;
    }
    Ok(())
}

/// Run `f` on a thread that has joined the network namespace `ns`, with a runtime of its own.
async fn in_netns<F, Fut>(ns: File, f: F) -> Result<(), Error>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let r = (|| {
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&ns),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .map_err(|e| Error::Io { op: "setns", path: "netns".into(), source: e.into() })?;
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| Error::Io {
                op: "start runtime",
                path: "netns".into(),
                source: e,
            })?;
            rt.block_on(f())
        })();
        let _ = tx.send(r);
    });
    rx.await.map_err(|_| Error::Netlink("namespace worker died".into()))?
}

/// Set an IPv4 sysctl of this network namespace (`/proc/sys/net/ipv4/KEY`), e.g.
/// `ip_forward` or `conf/volt0/route_localnet`.
///
/// # Errors
/// [`Error::Io`].
pub fn set_ipv4_sysctl(key: &str, value: &str) -> Result<(), Error> {
    let p = Path::new("/proc/sys/net/ipv4").join(key);
    if std::fs::read_to_string(&p).is_ok_and(|v| v.trim() == value) {
        return Ok(());
    }
    std::fs::write(&p, value).map_err(|e| Error::Io { op: "write", path: p, source: e })
}

/// Make a persistent TAP device `name` (for a VM; QEMU opens it by name) on `bridge`, up.
/// Nothing happens if it exists.
///
/// # Errors
/// [`Error::Io`] from `/dev/net/tun`; netlink errors.
pub async fn create_tap(nl_: &Netlink, bridge: &str, name: &str) -> Result<(), Error> {
    if nl_.index(name).await?.is_none() {
        tun_persist(name)?;
    }
    let br = nl_.index(bridge).await?.ok_or_else(|| Error::Netlink(format!("no bridge {bridge}")))?;
    let idx = nl_.index(name).await?.ok_or_else(|| Error::Netlink(format!("tap {name} vanished")))?;
    let r = nl_
        .handle
        .link()
        .set(LinkUnspec::new_with_index(idx).controller(br).up().build())
        .execute()
        .await
        .map_err(nl("attach tap to the bridge"));
    if r.is_err() {
        let _ = nl_.delete(name).await;
    }
    r
}

/// `TUNSETIFF` with `IFF_TAP | IFF_NO_PI`, then `TUNSETPERSIST`, on a fresh `/dev/net/tun` fd.
fn tun_persist(name: &str) -> Result<(), Error> {
    const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
    const TUNSETPERSIST: libc::c_ulong = 0x4004_54cb;
    const IFF_TAP: libc::c_short = 0x0002;
    const IFF_NO_PI: libc::c_short = 0x1000;
    #[repr(C)]
    struct IfReq {
        name: [u8; 16],
        flags: libc::c_short,
        _pad: [u8; 22],
    }
    if name.is_empty() || name.len() > 15 {
        return Err(Error::InvalidName(format!("interface name {name:?}")));
    }
    let dev = Path::new("/dev/net/tun");
    let f = std::fs::OpenOptions::new().read(true).write(true).open(dev).map_err(|e| Error::Io {
        op: "open",
        path: dev.into(),
        source: e,
    })?;
    let mut req = IfReq { name: [0; 16], flags: IFF_TAP | IFF_NO_PI, _pad: [0; 22] };
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    let fd = f.as_raw_fd();
    // SAFETY: TUNSETIFF reads and writes an `ifreq`-sized struct we own.
    let mut rc = unsafe { libc::ioctl(fd, TUNSETIFF as _, &mut req as *mut IfReq) };
    if rc == 0 {
        // SAFETY: TUNSETPERSIST takes its argument by value.
        rc = unsafe { libc::ioctl(fd, TUNSETPERSIST as _, 1 as libc::c_ulong) };
    }
    if rc != 0 {
        return Err(Error::Io { op: "make tap device", path: dev.into(), source: std::io::Error::last_os_error() });
    }
    Ok(())
}

fn libc_enodev() -> i32 {
    rustix::io::Errno::NODEV.raw_os_error()
}

fn libc_eexist() -> i32 {
    rustix::io::Errno::EXIST.raw_os_error()
}
