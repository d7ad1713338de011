//! UPDATE messages (RFC 4271 4.3) with multiprotocol NLRI (RFC 4760).
//!
//! - [`attributes`](Attributes), [`as_path`](AsPath) and
//!   [`community`](Community) model what a route carries;
//! - `decode` reads an UPDATE under the error handling of RFC 7606, with the
//!   outcome described by the types of `diagnosis`;
//! - `encode` writes attributes and single UPDATEs;
//! - `pack` fills as few UPDATEs as possible with many prefixes sharing one
//!   attribute block.

mod as_path;
mod attributes;
mod community;
mod decode;
mod diagnosis;
mod encode;
mod pack;

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

pub use as_path::{AsPath, AsPathError, Segment, SegmentType, AS_TRANS};
pub use attributes::{Aggregator, AttrFlags, AttrType, Attributes, Origin, RawAttribute};
pub use community::{Community, ExtCommunity, LargeCommunity};
pub use diagnosis::{Action, Announced, DecodedUpdate, MpError, Problem, ProblemKind, Verdict};
pub use encode::EncodedAttributes;
pub use pack::UpdatePacker;

use super::family::Family;
use super::prefix::Nlri;

/// The next hop of announced routes: the NEXT_HOP attribute's IPv4 address,
/// or the next hop field of MP_REACH_NLRI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NextHop {
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 global address, with the link-local one when the peer shares
    /// a link with us (RFC 2545 3). IPv4 NLRI may use it too (RFC 8950).
    V6 {
        /// The global address.
        global: Ipv6Addr,
        /// The link-local address.
        link_local: Option<Ipv6Addr>,
    },
}

impl NextHop {
    /// The address routes resolve through: the IPv4 one, or the IPv6
    /// global one (a link-local one needs its interface).
    pub fn address(&self) -> std::net::IpAddr {
        match self {
            NextHop::V4(a) => std::net::IpAddr::V4(*a),
            NextHop::V6 { global, .. } => std::net::IpAddr::V6(*global),
        }
    }

    /// Octets of the next hop field in MP_REACH_NLRI.
    pub(crate) fn wire_len(&self) -> usize {
        match self {
            NextHop::V4(_) => 4,
            NextHop::V6 {
                link_local: None, ..
            } => 16,
            NextHop::V6 {
                link_local: Some(_),
                ..
            } => 32,
        }
    }
}

impl From<std::net::IpAddr> for NextHop {
    /// The next hop of an address: an IPv6 one without a link-local
    /// address.
    fn from(a: std::net::IpAddr) -> NextHop {
        match a {
            std::net::IpAddr::V4(v4) => NextHop::V4(v4),
            std::net::IpAddr::V6(global) => NextHop::V6 {
                global,
                link_local: None,
            },
        }
    }
}

impl fmt::Display for NextHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NextHop::V4(addr) => write!(f, "{addr}"),
            NextHop::V6 {
                global,
                link_local: None,
            } => write!(f, "{global}"),
            NextHop::V6 {
                global,
                link_local: Some(ll),
            } => write!(f, "{global} ({ll})"),
        }
    }
}

/// MP_REACH_NLRI (RFC 4760 3): routes of one family announced with one
/// next hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpReach {
    /// The family of the NLRI.
    pub family: Family,
    /// The next hop of every NLRI.
    pub next_hop: NextHop,
    /// The announced routes.
    pub nlri: Vec<Nlri>,
}

/// MP_UNREACH_NLRI (RFC 4760 4): withdrawn routes of one family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpUnreach {
    /// The family of the NLRI.
    pub family: Family,
    /// The withdrawn routes; none in an End-of-RIB marker.
    pub nlri: Vec<Nlri>,
}

/// An UPDATE message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Update {
    /// The Withdrawn Routes field: IPv4 unicast routes.
    pub withdrawn: Vec<Nlri>,
    /// The path attributes of the announced routes.
    pub attributes: Attributes,
    /// The NEXT_HOP attribute, for the routes in `nlri`.
    pub next_hop: Option<Ipv4Addr>,
    /// MP_REACH_NLRI.
    pub mp_reach: Option<MpReach>,
    /// MP_UNREACH_NLRI.
    pub mp_unreach: Option<MpUnreach>,
    /// The NLRI field: announced IPv4 unicast routes.
    pub nlri: Vec<Nlri>,
}

impl Update {
    /// The End-of-RIB marker of a family (RFC 4724 2): an empty UPDATE for
    /// IPv4 unicast, an UPDATE with only an empty MP_UNREACH_NLRI otherwise.
    pub fn end_of_rib(family: Family) -> Update {
        if family == Family::IPV4_UNICAST {
            return Update::default();
        }
        Update {
            mp_unreach: Some(MpUnreach {
                family,
                nlri: Vec::new(),
            }),
            ..Update::default()
        }
    }

    /// The family whose End-of-RIB marker this is, if it is one.
    pub fn end_of_rib_family(&self) -> Option<Family> {
        let bare = self.withdrawn.is_empty()
            && self.nlri.is_empty()
            && self.next_hop.is_none()
            && self.mp_reach.is_none()
            && self.attributes.is_empty();
        match &self.mp_unreach {
            _ if !bare => None,
            None => Some(Family::IPV4_UNICAST),
            Some(unreach) if unreach.nlri.is_empty() => Some(unreach.family),
            Some(_) => None,
        }
    }
}

#[cfg(test)]
mod tests;
