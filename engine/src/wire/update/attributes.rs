//! Path attributes (RFC 4271 5 and the RFCs that add attributes): their
//! type codes and flags, and the typed set a route carries.

use std::fmt;
use std::net::Ipv4Addr;

use bytes::Bytes;

use super::as_path::AsPath;
use super::community::{Community, ExtCommunity, LargeCommunity};

/// A path attribute type code (IANA "BGP Path Attributes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttrType(pub u8);

impl AttrType {
    /// ORIGIN (RFC 4271).
    pub const ORIGIN: AttrType = AttrType(1);
    /// AS_PATH (RFC 4271).
    pub const AS_PATH: AttrType = AttrType(2);
    /// NEXT_HOP (RFC 4271).
    pub const NEXT_HOP: AttrType = AttrType(3);
    /// MULTI_EXIT_DISC (RFC 4271).
    pub const MULTI_EXIT_DISC: AttrType = AttrType(4);
    /// LOCAL_PREF (RFC 4271).
    pub const LOCAL_PREF: AttrType = AttrType(5);
    /// ATOMIC_AGGREGATE (RFC 4271).
    pub const ATOMIC_AGGREGATE: AttrType = AttrType(6);
    /// AGGREGATOR (RFC 4271, RFC 6793).
    pub const AGGREGATOR: AttrType = AttrType(7);
    /// COMMUNITIES (RFC 1997).
    pub const COMMUNITIES: AttrType = AttrType(8);
    /// ORIGINATOR_ID (RFC 4456).
    pub const ORIGINATOR_ID: AttrType = AttrType(9);
    /// CLUSTER_LIST (RFC 4456).
    pub const CLUSTER_LIST: AttrType = AttrType(10);
    /// MP_REACH_NLRI (RFC 4760).
    pub const MP_REACH_NLRI: AttrType = AttrType(14);
    /// MP_UNREACH_NLRI (RFC 4760).
    pub const MP_UNREACH_NLRI: AttrType = AttrType(15);
    /// EXTENDED COMMUNITIES (RFC 4360).
    pub const EXTENDED_COMMUNITIES: AttrType = AttrType(16);
    /// AS4_PATH (RFC 6793).
    pub const AS4_PATH: AttrType = AttrType(17);
    /// AS4_AGGREGATOR (RFC 6793).
    pub const AS4_AGGREGATOR: AttrType = AttrType(18);
    /// LARGE_COMMUNITY (RFC 8092).
    pub const LARGE_COMMUNITY: AttrType = AttrType(32);

    /// Whether the codec reads this type into a typed field of
    /// [`Attributes`] or [`Update`](super::Update) rather than keeping it raw.
    pub fn is_modeled(self) -> bool {
        self.name().is_some()
    }

    /// The attribute's name, for the types the codec knows.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            AttrType::ORIGIN => "ORIGIN",
            AttrType::AS_PATH => "AS_PATH",
            AttrType::NEXT_HOP => "NEXT_HOP",
            AttrType::MULTI_EXIT_DISC => "MULTI_EXIT_DISC",
            AttrType::LOCAL_PREF => "LOCAL_PREF",
            AttrType::ATOMIC_AGGREGATE => "ATOMIC_AGGREGATE",
            AttrType::AGGREGATOR => "AGGREGATOR",
            AttrType::COMMUNITIES => "COMMUNITIES",
            AttrType::ORIGINATOR_ID => "ORIGINATOR_ID",
            AttrType::CLUSTER_LIST => "CLUSTER_LIST",
            AttrType::MP_REACH_NLRI => "MP_REACH_NLRI",
            AttrType::MP_UNREACH_NLRI => "MP_UNREACH_NLRI",
            AttrType::EXTENDED_COMMUNITIES => "EXTENDED_COMMUNITIES",
            AttrType::AS4_PATH => "AS4_PATH",
            AttrType::AS4_AGGREGATOR => "AS4_AGGREGATOR",
            AttrType::LARGE_COMMUNITY => "LARGE_COMMUNITY",
            _ => return None,
        })
    }
}

impl fmt::Display for AttrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "attribute {}", self.0),
        }
    }
}

/// The flags octet of a path attribute (RFC 4271 4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AttrFlags(pub u8);

impl AttrFlags {
    /// Optional (set) or well-known (clear).
    pub const OPTIONAL: u8 = 0x80;
    /// Transitive (set) or non-transitive (clear).
    pub const TRANSITIVE: u8 = 0x40;
    /// Some speaker on the way did not recognise this optional transitive
    /// attribute.
    pub const PARTIAL: u8 = 0x20;
    /// The length field has two octets.
    pub const EXTENDED_LENGTH: u8 = 0x10;

    /// Well-known attributes: transitive, not optional.
    pub const WELL_KNOWN: AttrFlags = AttrFlags(Self::TRANSITIVE);
    /// Optional transitive attributes.
    pub const OPTIONAL_TRANSITIVE: AttrFlags = AttrFlags(Self::OPTIONAL | Self::TRANSITIVE);
    /// Optional non-transitive attributes.
    pub const OPTIONAL_NON_TRANSITIVE: AttrFlags = AttrFlags(Self::OPTIONAL);

    /// Whether the optional bit is set.
    pub fn is_optional(self) -> bool {
        self.0 & Self::OPTIONAL != 0
    }

    /// Whether the transitive bit is set.
    pub fn is_transitive(self) -> bool {
        self.0 & Self::TRANSITIVE != 0
    }

    /// Whether the partial bit is set.
    pub fn is_partial(self) -> bool {
        self.0 & Self::PARTIAL != 0
    }

    /// Whether the extended length bit is set.
    pub fn is_extended_length(self) -> bool {
        self.0 & Self::EXTENDED_LENGTH != 0
    }

    /// Whether the optional and transitive bits equal those of `expected`,
    /// the test of RFC 7606 3.c.
    pub fn category_matches(self, expected: AttrFlags) -> bool {
        (self.0 ^ expected.0) & (Self::OPTIONAL | Self::TRANSITIVE) == 0
    }
}

/// The ORIGIN attribute (RFC 4271 5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// Learned from an interior protocol.
    Igp,
    /// Learned through EGP.
    Egp,
    /// Learned some other way.
    Incomplete,
}

impl Origin {
    /// The origin of an ORIGIN value, if defined.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Origin::Igp),
            1 => Some(Origin::Egp),
            2 => Some(Origin::Incomplete),
            _ => None,
        }
    }

    /// The ORIGIN value.
    pub fn code(self) -> u8 {
        match self {
            Origin::Igp => 0,
            Origin::Egp => 1,
            Origin::Incomplete => 2,
        }
    }
}

/// The AGGREGATOR attribute (RFC 4271 5.1.7), with the 4-octet AS number
/// whatever the session encodes (RFC 6793).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Aggregator {
    /// The AS of the speaker that aggregated.
    pub asn: u32,
    /// That speaker's address (its BGP identifier in practice).
    pub address: Ipv4Addr,
}

/// An attribute the codec does not model, kept as received so that it can
/// be passed on (RFC 4271 5: optional transitive attributes travel on with
/// the partial bit set).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawAttribute {
    flags: AttrFlags,
    type_code: AttrType,
    value: Bytes,
}

impl RawAttribute {
    /// An attribute of a type the codec does not model. `None` for a type
    /// it models (those go in their typed fields, so that no attribute can
    /// be sent twice) and for values over 65535 octets.
    pub fn new(flags: AttrFlags, type_code: AttrType, value: Bytes) -> Option<Self> {
        if type_code.is_modeled() || value.len() > usize::from(u16::MAX) {
            return None;
        }
        // The length encoding is decided when writing.
        let flags = AttrFlags(flags.0 & !AttrFlags::EXTENDED_LENGTH);
        Some(RawAttribute {
            flags,
            type_code,
            value,
        })
    }

    /// The flags, without the extended length bit.
    pub fn flags(&self) -> AttrFlags {
        self.flags
    }

    /// The type code.
    pub fn type_code(&self) -> AttrType {
        self.type_code
    }

    /// The value.
    pub fn value(&self) -> &Bytes {
        &self.value
    }

    /// The attribute as it should go to other peers, having been received
    /// and not understood: optional transitive ones travel on with the
    /// partial bit set; others are dropped (RFC 4271 5, 9.1.3).
    pub fn propagated(&self) -> Option<RawAttribute> {
        if !(self.flags.is_optional() && self.flags.is_transitive()) {
            return None;
        }
        Some(RawAttribute {
            flags: AttrFlags(self.flags.0 | AttrFlags::PARTIAL),
            ..self.clone()
        })
    }
}

/// The path attributes a route carries, other than the next hop and the
/// multiprotocol NLRI attributes, which belong to the
/// [`Update`](super::Update).
///
/// AS4_PATH and AS4_AGGREGATOR have no field: the decoder merges them into
/// `as_path` and `aggregator` (RFC 6793 4.2.3), and the encoder derives them
/// again for 2-octet sessions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Attributes {
    /// ORIGIN.
    pub origin: Option<Origin>,
    /// AS_PATH; `Some` of an empty path for routes of our own AS.
    pub as_path: Option<AsPath>,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// LOCAL_PREF.
    pub local_pref: Option<u32>,
    /// ATOMIC_AGGREGATE.
    pub atomic_aggregate: bool,
    /// AGGREGATOR.
    pub aggregator: Option<Aggregator>,
    /// COMMUNITIES; empty when absent (an empty attribute is malformed).
    pub communities: Vec<Community>,
    /// ORIGINATOR_ID (RFC 4456).
    pub originator_id: Option<Ipv4Addr>,
    /// CLUSTER_LIST (RFC 4456); empty when absent.
    pub cluster_list: Vec<Ipv4Addr>,
    /// EXTENDED COMMUNITIES; empty when absent.
    pub extended_communities: Vec<ExtCommunity>,
    /// LARGE_COMMUNITY, without duplicates (RFC 8092 5); empty when absent.
    pub large_communities: Vec<LargeCommunity>,
    /// Attributes of types the codec does not model, in received order.
    pub unknown: Vec<RawAttribute>,
}

impl Attributes {
    /// Whether no attribute is present.
    pub fn is_empty(&self) -> bool {
        *self == Attributes::default()
    }

    /// Fits every list to its length and gives unknown attributes buffers
    /// of their own (decoded ones share the whole read buffer): for sets
    /// kept long, as the RIB keeps its interned ones.
    pub fn shrink_to_fit(&mut self) {
        if let Some(path) = &mut self.as_path {
            path.segments.shrink_to_fit();
            for segment in &mut path.segments {
                segment.asns.shrink_to_fit();
            }
        }
        self.communities.shrink_to_fit();
        self.cluster_list.shrink_to_fit();
        self.extended_communities.shrink_to_fit();
        self.large_communities.shrink_to_fit();
        self.unknown.shrink_to_fit();
        for raw in &mut self.unknown {
            raw.value = Bytes::copy_from_slice(&raw.value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_attributes_refuse_modeled_types() {
        assert!(RawAttribute::new(
            AttrFlags::OPTIONAL_TRANSITIVE,
            AttrType::COMMUNITIES,
            Bytes::new()
        )
        .is_none());
        assert!(RawAttribute::new(
            AttrFlags::OPTIONAL_TRANSITIVE,
            AttrType(99),
            Bytes::from(vec![0; 70000])
        )
        .is_none());
        let raw =
            RawAttribute::new(AttrFlags(0xd0), AttrType(99), Bytes::from_static(b"x")).unwrap();
        assert_eq!(raw.flags(), AttrFlags::OPTIONAL_TRANSITIVE);
    }

    #[test]
    fn rfc4271_propagation_sets_partial_on_optional_transitive_only() {
        let transitive =
            RawAttribute::new(AttrFlags::OPTIONAL_TRANSITIVE, AttrType(99), Bytes::new()).unwrap();
        assert_eq!(transitive.propagated().unwrap().flags(), AttrFlags(0xe0));
        let local = RawAttribute::new(
            AttrFlags::OPTIONAL_NON_TRANSITIVE,
            AttrType(99),
            Bytes::new(),
        )
        .unwrap();
        assert_eq!(local.propagated(), None);
    }

    #[test]
    fn flags_categories() {
        assert!(AttrFlags(0x50).category_matches(AttrFlags::WELL_KNOWN));
        assert!(!AttrFlags(0xc0).category_matches(AttrFlags::WELL_KNOWN));
        assert!(AttrFlags(0xe0).category_matches(AttrFlags::OPTIONAL_TRANSITIVE));
        assert!(!AttrFlags(0x80).category_matches(AttrFlags::OPTIONAL_TRANSITIVE));
    }

    #[test]
    fn names() {
        assert_eq!(AttrType::LARGE_COMMUNITY.to_string(), "LARGE_COMMUNITY");
        assert_eq!(AttrType(99).to_string(), "attribute 99");
        assert!(!AttrType(99).is_modeled());
    }
}
