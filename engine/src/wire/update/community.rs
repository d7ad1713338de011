//! Community values: standard (RFC 1997), extended (RFC 4360) and large
//! (RFC 8092).

use std::fmt;

/// A standard community (RFC 1997): 32 bits, by convention `asn:value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u32);

impl Community {
    /// NO_EXPORT (RFC 1997).
    pub const NO_EXPORT: Community = Community(0xFFFF_FF01);
    /// NO_ADVERTISE (RFC 1997).
    pub const NO_ADVERTISE: Community = Community(0xFFFF_FF02);
    /// NO_EXPORT_SUBCONFED (RFC 1997).
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xFFFF_FF03);
    /// NOPEER (RFC 3765).
    pub const NOPEER: Community = Community(0xFFFF_FF04);
    /// GRACEFUL_SHUTDOWN (RFC 8326).
    pub const GRACEFUL_SHUTDOWN: Community = Community(0xFFFF_0000);
    /// LLGR_STALE (RFC 9494).
    pub const LLGR_STALE: Community = Community(0xFFFF_0006);
    /// NO_LLGR (RFC 9494).
    pub const NO_LLGR: Community = Community(0xFFFF_0007);
    /// BLACKHOLE (RFC 7999).
    pub const BLACKHOLE: Community = Community(0xFFFF_029A);

    /// The community `asn:value`.
    pub const fn new(asn: u16, value: u16) -> Self {
        Community(((asn as u32) << 16) | value as u32)
    }

    /// The high 16 bits, by convention an AS number.
    pub fn asn(self) -> u16 {
        (self.0 >> 16) as u16
    }

    /// The low 16 bits.
    pub fn value(self) -> u16 {
        self.0 as u16
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.asn(), self.value())
    }
}

/// An extended community (RFC 4360): 8 octets, kept as they are since
/// RFC 7606 7.14 forbids treating unknown types as errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtCommunity(pub [u8; 8]);

impl ExtCommunity {
    /// The type octet.
    pub fn type_high(self) -> u8 {
        self.0[0]
    }

    /// The sub-type octet (meaningful for the extended types).
    pub fn subtype(self) -> u8 {
        self.0[1]
    }

    /// Whether the community may cross AS boundaries (RFC 4360 2: the
    /// type's second-highest bit is clear).
    pub fn is_transitive(self) -> bool {
        self.0[0] & 0x40 == 0
    }
}

impl fmt::Display for ExtCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// A large community (RFC 8092): `global:local1:local2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    /// The Global Administrator, by convention an AS number.
    pub global_admin: u32,
    /// The first Local Data part.
    pub local_data1: u32,
    /// The second Local Data part.
    pub local_data2: u32,
}

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.global_admin, self.local_data1, self.local_data2
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn community_parts() {
        let c = Community::new(65001, 100);
        assert_eq!(c.0, 0xFDE9_0064);
        assert_eq!(c.to_string(), "65001:100");
        assert_eq!(Community::NO_EXPORT.to_string(), "65535:65281");
    }

    #[test]
    fn extended_transitivity() {
        let rt = ExtCommunity([0x00, 0x02, 0xfd, 0xe9, 0, 0, 0, 1]);
        assert!(rt.is_transitive());
        assert_eq!(rt.subtype(), 2);
        assert!(!ExtCommunity([0x40, 0x04, 0, 0, 0, 0, 0, 0]).is_transitive());
        assert_eq!(rt.to_string(), "0002fde900000001");
    }
}
