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
use rtnetlink::{Handle, LinkBridge, LinkUnspec, LinkVeth, RouteMessageBuilder};

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

    /// Connect a workload: a veth pair `host_if` (on `bridge`, up) and `eth0` in the network
    /// namespace at `netns` (a `/proc/PID/ns/net` or bind-mounted namespace file) with
    /// `addr/prefix`, up, and a default route via `gateway`. On failure nothing is left.
    ///
    /// # Errors
    /// Netlink errors; I/O errors opening the namespace.
    pub async fn attach_veth(
        &self,
        bridge: &str,
        host_if: &str,
        netns: &Path,
        addr: Ipv4Addr,
        prefix: u8,
        gateway: Ipv4Addr,
    ) -> Result<(), Error> {
        let ns = File::open(netns).map_err(|e| Error::Io { op: "open", path: netns.to_path_buf(), source: e })?;
        let br = self.index(bridge).await?.ok_or_else(|| Error::Netlink(format!("no bridge {bridge}")))?;
        let peer = format!("{host_if}p");
        let r = async {
            self.handle.link().add(LinkVeth::new(host_if, &peer).build()).execute().await.map_err(nl("add veth"))?;
            let pidx = self.index(&peer).await?.ok_or_else(|| Error::Netlink("veth peer vanished".into()))?;
            // Into the workload's namespace, renamed eth0 there in the same request.
            self.handle
                .link()
                .set(LinkUnspec::new_with_index(pidx).setns_by_fd(ns.as_raw_fd()).name("eth0".into()).build())
                .execute()
                .await
                .map_err(nl("move veth into the namespace"))?;
            let hidx = self.index(host_if).await?.ok_or_else(|| Error::Netlink("veth vanished".into()))?;
            self.handle
                .link()
                .set(LinkUnspec::new_with_index(hidx).controller(br).up().build())
                .execute()
                .await
                .map_err(nl("attach veth to the bridge"))?;
            in_netns(ns, move || configure_inside(addr, prefix, gateway)).await
        }
        .await;
        if r.is_err() {
            let _ = self.delete(host_if).await;
        }
        r
    }
}

/// Inside the workload's namespace: lo and eth0 up, the address, the default route.
async fn configure_inside(addr: Ipv4Addr, prefix: u8, gateway: Ipv4Addr) -> Result<(), Error> {
    let n = Netlink::connect()?;
    for name in ["lo", "eth0"] {
        let idx = n.index(name).await?.ok_or_else(|| Error::Netlink(format!("no {name} in the namespace")))?;
        n.handle.link().set(LinkUnspec::new_with_index(idx).up().build()).execute().await.map_err(nl("set up"))?;
    }
    let eth0 = n.index("eth0").await?.unwrap_or(0);
    n.handle.address().add(eth0, IpAddr::V4(addr), prefix).execute().await.map_err(nl("add address"))?;
    let route = RouteMessageBuilder::<Ipv4Addr>::new().gateway(gateway).output_interface(eth0).build();
    n.handle.route().add(route).execute().await.map_err(nl("add default route"))?;
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

fn libc_enodev() -> i32 {
    rustix::io::Errno::NODEV.raw_os_error()
}

fn libc_eexist() -> i32 {
    rustix::io::Errno::EXIST.raw_os_error()
}
