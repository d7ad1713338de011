//! Address families: AFI, SAFI and the pair of them (RFC 4760).

use std::fmt;

/// An Address Family Identifier (IANA "Address Family Numbers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Afi(pub u16);

impl Afi {
    /// IPv4.
    pub const IPV4: Afi = Afi(1);
    /// IPv6.
    pub const IPV6: Afi = Afi(2);
}

/// A Subsequent Address Family Identifier (IANA "SAFI Values").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Safi(pub u8);

impl Safi {
    /// Unicast forwarding.
    pub const UNICAST: Safi = Safi(1);
    /// Multicast forwarding.
    pub const MULTICAST: Safi = Safi(2);
}

/// The IP version of a prefix or address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpVersion {
    /// IPv4: prefixes of at most 32 bits.
    V4,
    /// IPv6: prefixes of at most 128 bits.
    V6,
}

impl IpVersion {
    /// The longest prefix length of this version.
    pub fn max_prefix_len(self) -> u8 {
        match self {
            IpVersion::V4 => 32,
            IpVersion::V6 => 128,
        }
    }
}

/// An address family: the AFI/SAFI pair that names a kind of NLRI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Family {
    /// The address family.
    pub afi: Afi,
    /// The subsequent address family.
    pub safi: Safi,
}

impl Family {
    /// IPv4 unicast, the family of the UPDATE's own NLRI fields.
    pub const IPV4_UNICAST: Family = Family::new(Afi::IPV4, Safi::UNICAST);
    /// IPv4 multicast.
    pub const IPV4_MULTICAST: Family = Family::new(Afi::IPV4, Safi::MULTICAST);
    /// IPv6 unicast.
    pub const IPV6_UNICAST: Family = Family::new(Afi::IPV6, Safi::UNICAST);
    /// IPv6 multicast.
    pub const IPV6_MULTICAST: Family = Family::new(Afi::IPV6, Safi::MULTICAST);

    /// The family of the given AFI and SAFI.
    pub const fn new(afi: Afi, safi: Safi) -> Self {
        Family { afi, safi }
    }

    /// The IP version of this family's prefixes, for the families this codec
    /// reads and writes (IPv4 and IPv6, unicast and multicast: their NLRI are
    /// plain prefixes). `None` for any other family.
    pub fn prefix_version(self) -> Option<IpVersion> {
        if self.safi != Safi::UNICAST && self.safi != Safi::MULTICAST {
            return None;
        }
        match self.afi {
            Afi::IPV4 => Some(IpVersion::V4),
            Afi::IPV6 => Some(IpVersion::V6),
            _ => None,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let afi = match self.afi {
            Afi::IPV4 => Some("ipv4"),
            Afi::IPV6 => Some("ipv6"),
            _ => None,
        };
        let safi = match self.safi {
            Safi::UNICAST => Some("unicast"),
            Safi::MULTICAST => Some("multicast"),
            _ => None,
        };
        match (afi, safi) {
            (Some(afi), Some(safi)) => write!(f, "{afi}-{safi}"),
            _ => write!(f, "afi {} safi {}", self.afi.0, self.safi.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_families() {
        assert_eq!(Family::IPV4_UNICAST.prefix_version(), Some(IpVersion::V4));
        assert_eq!(Family::IPV6_MULTICAST.prefix_version(), Some(IpVersion::V6));
        assert_eq!(Family::new(Afi::IPV4, Safi(128)).prefix_version(), None);
        assert_eq!(Family::new(Afi(25), Safi(70)).prefix_version(), None);
    }

    #[test]
    fn display() {
        assert_eq!(Family::IPV6_UNICAST.to_string(), "ipv6-unicast");
        assert_eq!(Family::new(Afi(25), Safi(70)).to_string(), "afi 25 safi 70");
    }
}
