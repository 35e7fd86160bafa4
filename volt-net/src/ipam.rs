//! Address allocation per network, persistent under the network's directory
//! (`networks/NAME/leases.json`), serialised across processes by an flock on
//! `networks/NAME/leases.lock`. Each owner (a workload name) holds at most one address; the
//! gateway, network and broadcast addresses are never handed out.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cidr::Ipv4Net;
use crate::Error;

/// The leases of one network, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leases {
    /// The network's subnet.
    pub subnet: Ipv4Net,
    /// Its gateway (the bridge's address).
    pub gateway: Ipv4Addr,
    /// Address → owner.
    pub leases: BTreeMap<Ipv4Addr, String>,
}

/// The allocator of one network.
#[derive(Debug, Clone)]
pub struct Ipam {
    dir: PathBuf,
}

struct Locked(#[allow(dead_code)] File);

impl Ipam {
    /// The allocator whose files live in `dir` (`networks/NAME`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Ipam { dir: dir.into() }
    }

    fn io<'a>(op: &'static str, p: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
        move |e| Error::Io { op, path: p.to_path_buf(), source: e }
    }

    fn lock(&self) -> Result<Locked, Error> {
        fs::create_dir_all(&self.dir).map_err(Self::io("create", &self.dir))?;
        let p = self.dir.join("leases.lock");
        let f = OpenOptions::new().create(true).truncate(false).write(true).open(&p).map_err(Self::io("open", &p))?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive).map_err(|e| Error::Io {
            op: "lock",
            path: p.clone(),
            source: e.into(),
        })?;
        Ok(Locked(f))
    }

    fn path(&self) -> PathBuf {
        self.dir.join("leases.json")
    }

    fn load(&self) -> Result<Leases, Error> {
        let p = self.path();
        let b = fs::read(&p).map_err(Self::io("read", &p))?;
        serde_json::from_slice(&b).map_err(|e| Error::Corrupt { path: p, reason: e.to_string() })
    }

    /// Replace the file atomically and durably.
    fn save(&self, l: &Leases) -> Result<(), Error> {
        let p = self.path();
        let tmp = self.dir.join(".leases.json.tmp");
        let r = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(&serde_json::to_vec_pretty(l).expect("serialises"))?;
            f.sync_all()?;
            fs::rename(&tmp, &p)?;
            File::open(&self.dir)?.sync_all()
        })();
        r.map_err(Self::io("write", &p))
    }

    /// Start the lease file of a new network. An existing one is kept (idempotent) if it has
    /// the same subnet.
    ///
    /// # Errors
    /// [`Error::InvalidCidr`] for a gateway outside the subnet; [`Error::Conflict`] for a
    /// different subnet already recorded; I/O errors.
    pub fn init(&self, subnet: Ipv4Net, gateway: Ipv4Addr) -> Result<Leases, Error> {
        if !subnet.contains(gateway)
            || gateway == subnet.addr()
            || (subnet.prefix() < 31 && gateway == subnet.broadcast())
        {
            return Err(Error::InvalidCidr {
                cidr: subnet.to_string(),
                reason: format!("the gateway {gateway} is not a host address of it"),
            });
        }
        let _l = self.lock()?;
        if self.path().exists() {
            let cur = self.load()?;
            if cur.subnet != subnet || cur.gateway != gateway {
                return Err(Error::Conflict(format!(
                    "{} already records {} (gateway {})",
                    self.dir.display(),
                    cur.subnet,
                    cur.gateway
                )));
            }
            return Ok(cur);
        }
        let l = Leases { subnet, gateway, leases: BTreeMap::new() };
        self.save(&l)?;
        Ok(l)
    }

    /// The current leases.
    ///
    /// # Errors
    /// I/O errors; [`Error::Corrupt`].
    pub fn leases(&self) -> Result<Leases, Error> {
        let _l = self.lock()?;
        self.load()
    }

    /// An address for `owner`: the one it holds already, else the lowest free host address.
    ///
    /// # Errors
    /// [`Error::Exhausted`] when none is free; I/O errors.
    pub fn allocate(&self, owner: &str) -> Result<Ipv4Addr, Error> {
        let _l = self.lock()?;
        let mut l = self.load()?;
        if let Some((a, _)) = l.leases.iter().find(|(_, o)| o.as_str() == owner) {
            return Ok(*a);
        }
        let ip = l
            .subnet
            .hosts()
            .find(|a| *a != l.gateway && !l.leases.contains_key(a))
            .ok_or_else(|| Error::Exhausted { subnet: l.subnet.to_string() })?;
        l.leases.insert(ip, owner.to_string());
        self.save(&l)?;
        Ok(ip)
    }

    /// Give back `owner`'s address (nothing happens if it has none). Returns it.
    ///
    /// # Errors
    /// I/O errors.
    pub fn release(&self, owner: &str) -> Result<Option<Ipv4Addr>, Error> {
        let _l = self.lock()?;
        let mut l = self.load()?;
        let found = l.leases.iter().find(|(_, o)| o.as_str() == owner).map(|(a, _)| *a);
        if let Some(a) = found {
            l.leases.remove(&a);
            self.save(&l)?;
        }
        Ok(found)
    }

    /// Release every lease whose owner `alive` says is gone; returns what was reclaimed.
    ///
    /// # Errors
    /// I/O errors.
    pub fn reclaim(&self, alive: impl Fn(&str) -> bool) -> Result<Vec<(Ipv4Addr, String)>, Error> {
        let _l = self.lock()?;
        let mut l = self.load()?;
        let dead: Vec<(Ipv4Addr, String)> =
            l.leases.iter().filter(|(_, o)| !alive(o)).map(|(a, o)| (*a, o.clone())).collect();
        if !dead.is_empty() {
            for (a, _) in &dead {
                l.leases.remove(a);
            }
            self.save(&l)?;
        }
        Ok(dead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_distinct_addresses_persistently() {
        let t = tempfile::tempdir().unwrap();
        let ipam = Ipam::new(t.path().join("net1"));
        let subnet: Ipv4Net = "10.90.0.0/29".parse().unwrap();
        ipam.init(subnet, "10.90.0.1".parse().unwrap()).unwrap();
        // Same subnet again is fine; another is a conflict; a gateway outside is refused.
        ipam.init(subnet, "10.90.0.1".parse().unwrap()).unwrap();
        assert!(matches!(
            ipam.init("10.91.0.0/24".parse().unwrap(), "10.91.0.1".parse().unwrap()),
            Err(Error::Conflict(_))
        ));
        assert!(Ipam::new(t.path().join("n2")).init(subnet, "10.90.0.7".parse().unwrap()).is_err());

        let a = ipam.allocate("web").unwrap();
        assert_eq!(a, "10.90.0.2".parse::<Ipv4Addr>().unwrap());
        assert_eq!(ipam.allocate("web").unwrap(), a, "one address per owner");
        let b = ipam.allocate("db").unwrap();
        assert_ne!(a, b);
        // A /29 has 6 hosts; the gateway takes one: 5 leases, then exhausted.
        for o in ["c", "d", "e"] {
            ipam.allocate(o).unwrap();
        }
        assert!(matches!(ipam.allocate("f"), Err(Error::Exhausted { .. })));
        assert_eq!(ipam.release("db").unwrap(), Some(b));
        assert_eq!(ipam.release("db").unwrap(), None);
        assert_eq!(ipam.allocate("f").unwrap(), b, "a released address is reused");
        // Persistent: a new allocator on the same directory sees the leases.
        let again = Ipam::new(t.path().join("net1"));
        assert_eq!(again.leases().unwrap().leases.len(), 5);
        let gone = again.reclaim(|o| o != "c" && o != "d").unwrap();
        assert_eq!(gone.iter().map(|(_, o)| o.as_str()).collect::<Vec<_>>(), ["c", "d"]);
        assert_eq!(again.leases().unwrap().leases.len(), 3);
    }

    #[test]
    fn twenty_concurrent_allocations_get_twenty_addresses() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("busy");
        Ipam::new(&dir).init("10.92.0.0/24".parse().unwrap(), "10.92.0.1".parse().unwrap()).unwrap();
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let dir = dir.clone();
                std::thread::spawn(move || Ipam::new(dir).allocate(&format!("c{i}")).unwrap())
            })
            .collect();
        let mut got: Vec<Ipv4Addr> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        got.sort();
        got.dedup();
        assert_eq!(got.len(), 20);
        assert_eq!(Ipam::new(&dir).leases().unwrap().leases.len(), 20);
    }
}
