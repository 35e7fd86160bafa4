//! IPv4 networks in CIDR form: parsing, membership, overlap and the usable host range.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// An IPv4 network (`10.88.0.0/24`): the address is the network address (host bits zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ipv4Net {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Net {
    /// The network `addr/prefix`; host bits must be zero.
    ///
    /// # Errors
    /// [`Error::InvalidCidr`].
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self, Error> {
        let bad = |why: &str| Err(Error::InvalidCidr { cidr: format!("{addr}/{prefix}"), reason: why.into() });
        if prefix > 32 {
            return bad("the prefix length is at most 32");
        }
        let n = Ipv4Net { addr, prefix };
        if u32::from(addr) & !n.mask() != 0 {
            return bad(&format!(
                "host bits are set (the network is {}/{prefix})",
                Ipv4Addr::from(u32::from(addr) & n.mask())
            ));
        }
        Ok(n)
    }

    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    /// The network address.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The broadcast address.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }

    /// Does the network contain `ip`?
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr)
    }

    /// Do the two networks share any address?
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }

    /// Usable host addresses (network and broadcast excluded below /31), in order.
    pub fn hosts(&self) -> impl Iterator<Item = Ipv4Addr> {
        let (first, last) = if self.prefix >= 31 {
            (u32::from(self.addr), u32::from(self.broadcast()))
        } else {
            (u32::from(self.addr) + 1, u32::from(self.broadcast()) - 1)
        };
        (first..=last).map(Ipv4Addr::from)
    }

    /// The conventional gateway: the first host address.
    pub fn first_host(&self) -> Ipv4Addr {
        self.hosts().next().unwrap_or(self.addr)
    }
}

impl FromStr for Ipv4Net {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::InvalidCidr { cidr: s.to_string(), reason: why.into() };
        let (a, p) = s.split_once('/').ok_or_else(|| bad("expected ADDRESS/PREFIX, like 10.88.0.0/24"))?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad("not an IPv4 address"))?;
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 2 {
            return Err(bad("the prefix length is a number from 0 to 32"));
        }
        Ipv4Net::new(addr, p.parse().map_err(|_| bad("bad prefix length"))?)
    }
}

impl TryFrom<String> for Ipv4Net {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

impl From<Ipv4Net> for String {
    fn from(n: Ipv4Net) -> String {
        n.to_string()
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_contain_overlap_hosts() {
        let n: Ipv4Net = "10.88.0.0/24".parse().unwrap();
        assert_eq!(n.to_string(), "10.88.0.0/24");
        assert_eq!(n.broadcast(), Ipv4Addr::new(10, 88, 0, 255));
        assert!(n.contains("10.88.0.77".parse().unwrap()) && !n.contains("10.88.1.1".parse().unwrap()));
        assert_eq!(n.first_host(), Ipv4Addr::new(10, 88, 0, 1));
        assert_eq!(n.hosts().count(), 254);
        assert!(n.overlaps(&"10.88.0.128/25".parse().unwrap()));
        assert!(n.overlaps(&"10.0.0.0/8".parse().unwrap()));
        assert!(!n.overlaps(&"10.89.0.0/24".parse().unwrap()));
        assert_eq!("10.0.0.0/31".parse::<Ipv4Net>().unwrap().hosts().count(), 2);
        for bad in
            ["10.88.0.1/24", "10.88.0.0", "10.88.0.0/33", "10.88.0.0/x", "300.1.1.0/24", "", "/24", "10.0.0.0/+8"]
        {
            assert!(bad.parse::<Ipv4Net>().is_err(), "{bad:?} accepted");
        }
        let e = "10.88.0.1/24".parse::<Ipv4Net>().unwrap_err().to_string();
        assert!(e.contains("10.88.0.0/24"), "{e}");
    }
}
