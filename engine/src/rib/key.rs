//! Compact route keys: a prefix as one or two machine words, ordered by
//! address then length, so a table is a sorted map of small fixed-size keys.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::wire::Family;

/// A prefix as a table key.
pub trait RouteKey: Copy + Ord + std::hash::Hash + fmt::Debug + Send + Sync + 'static {
    /// The family whose table uses this key.
    const FAMILY: Family;
    /// The key of a prefix of this family; `None` for the other family.
    fn from_net(net: IpNet) -> Option<Self>;
    /// The prefix.
    fn to_net(self) -> IpNet;
}

/// An IPv4 prefix in 8 bytes: address in the high 32 bits, length in the
/// low 8.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct V4Key(u64);

impl V4Key {
    /// The key of `net` (host bits cleared).
    pub fn new(net: Ipv4Net) -> V4Key {
        let net = net.trunc();
        V4Key((u64::from(u32::from(net.addr())) << 8) | u64::from(net.prefix_len()))
    }

    /// The prefix.
    pub fn net(self) -> Ipv4Net {
        let addr = Ipv4Addr::from((self.0 >> 8) as u32);
        // Keys are only built from valid prefixes.
        Ipv4Net::new(addr, (self.0 & 0xff) as u8).expect("valid prefix length")
    }
}

impl RouteKey for V4Key {
    const FAMILY: Family = Family::IPV4_UNICAST;

    fn from_net(net: IpNet) -> Option<Self> {
        match net {
            IpNet::V4(n) => Some(V4Key::new(n)),
            IpNet::V6(_) => None,
        }
    }

    fn to_net(self) -> IpNet {
        IpNet::V4(self.net())
    }
}

impl fmt::Debug for V4Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.net())
    }
}

/// An IPv6 prefix: address and length.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct V6Key {
    addr: u128,
    len: u8,
}

impl V6Key {
    /// The key of `net` (host bits cleared).
    pub fn new(net: Ipv6Net) -> V6Key {
        let net = net.trunc();
        V6Key {
            addr: u128::from(net.addr()),
            len: net.prefix_len(),
        }
    }

    /// The prefix.
    pub fn net(self) -> Ipv6Net {
        Ipv6Net::new(Ipv6Addr::from(self.addr), self.len).expect("valid prefix length")
    }
}

impl RouteKey for V6Key {
    const FAMILY: Family = Family::IPV6_UNICAST;

    fn from_net(net: IpNet) -> Option<Self> {
        match net {
            IpNet::V6(n) => Some(V6Key::new(n)),
            IpNet::V4(_) => None,
        }
    }

    fn to_net(self) -> IpNet {
        IpNet::V6(self.net())
    }
}

impl fmt::Debug for V6Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.net())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_order() {
        let a: Ipv4Net = "10.0.0.0/8".parse().unwrap();
        let b: Ipv4Net = "10.0.0.0/16".parse().unwrap();
        let c: Ipv4Net = "10.1.0.0/16".parse().unwrap();
        assert_eq!(V4Key::new(a).net(), a);
        assert!(V4Key::new(a) < V4Key::new(b) && V4Key::new(b) < V4Key::new(c));
        assert_eq!(V4Key::new("10.1.2.3/8".parse().unwrap()), V4Key::new(a));
        let v6: Ipv6Net = "2001:db8::/32".parse().unwrap();
        assert_eq!(V6Key::new(v6).net(), v6);
        assert_eq!(V4Key::from_net(IpNet::V6(v6)), None);
        assert_eq!(std::mem::size_of::<V4Key>(), 8);
    }
}
