//! What the UPDATE decoder found wrong and what the session must do about it
//! (RFC 7606 2: the error-handling approaches).

use std::net::Ipv4Addr;

use super::as_path::AsPathError;
use super::attributes::{AttrFlags, AttrType};
use super::{NextHop, Update};
use crate::wire::family::Family;
use crate::wire::notification::Notification;
use crate::wire::prefix::{Nlri, NlriError};

/// An error-handling approach of RFC 7606 2, weakest first, so that the
/// strongest of several is their maximum (RFC 7606 3.h).
///
/// AFI/SAFI disable (RFC 4760 7) is not used: where RFC 7606 allows it, the
/// decoder asks for a session reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// The attribute is dropped and the UPDATE processed without it.
    AttributeDiscard,
    /// Every route the UPDATE announces is treated as withdrawn.
    TreatAsWithdraw,
    /// The session is closed with a NOTIFICATION.
    SessionReset,
}

/// Why MP_REACH_NLRI or MP_UNREACH_NLRI is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MpError {
    /// Shorter than its fixed fields (RFC 7606 5.3: 5 octets for
    /// MP_REACH_NLRI, 3 for MP_UNREACH_NLRI).
    #[error("too short")]
    TooShort,
    /// A next hop length the family does not allow (RFC 7606 7.11).
    #[error("next hop length {0} does not fit the family")]
    NextHopLength(u8),
    /// The NLRI cannot be read (RFC 7606 5.3).
    #[error("{0}")]
    Nlri(NlriError),
}

/// One thing wrong with a received UPDATE.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProblemKind {
    /// The Withdrawn Routes Length or Total Path Attribute Length runs past
    /// the message (RFC 4271 6.3, RFC 7606 3.b).
    #[error("withdrawn routes or path attribute length exceeds the message")]
    SectionLengths,
    /// The Withdrawn Routes field cannot be read (RFC 7606 3.i).
    #[error("malformed withdrawn routes: {0}")]
    WithdrawnField(NlriError),
    /// The NLRI field cannot be read (RFC 7606 3.j, 5.3).
    #[error("malformed NLRI field: {0}")]
    NlriField(NlriError),
    /// An attribute runs past the path attribute field, or too few octets
    /// remain for an attribute header; the rest of the field is unread
    /// (RFC 7606 4).
    #[error("path attribute overruns the attribute field")]
    AttributeOverrun,
    /// A repeated attribute; the later one is dropped (RFC 7606 3.g).
    #[error("duplicate {0}")]
    Duplicate(AttrType),
    /// A repeated MP_REACH_NLRI or MP_UNREACH_NLRI (RFC 7606 3.g).
    #[error("duplicate {0}")]
    DuplicateMp(AttrType),
    /// The optional or transitive bit contradicts the type (RFC 7606 3.c).
    #[error("{0} with flags {flags:#04x}", flags = .1.0)]
    Flags(AttrType, AttrFlags),
    /// A length the type does not allow (RFC 7606 4 and 7).
    #[error("{0} with length {1}")]
    Length(AttrType, usize),
    /// An undefined ORIGIN value (RFC 7606 7.1).
    #[error("undefined ORIGIN {0}")]
    UndefinedOrigin(u8),
    /// A malformed AS_PATH or AS4_PATH (RFC 7606 7.2, RFC 6793 6,
    /// RFC 7607 2).
    #[error("malformed {0}: {1}")]
    AsPath(AttrType, AsPathError),
    /// A NEXT_HOP that is no host address (RFC 4271 6.3, RFC 7606 7.3).
    #[error("invalid NEXT_HOP {0}")]
    InvalidNextHop(Ipv4Addr),
    /// AS 0 in AGGREGATOR or AS4_AGGREGATOR (RFC 7607 2).
    #[error("AS 0 in {0}")]
    ZeroAggregatorAs(AttrType),
    /// LOCAL_PREF, ORIGINATOR_ID or CLUSTER_LIST from an external peer
    /// (RFC 7606 7.5, 7.9, 7.10).
    #[error("{0} from an external peer")]
    InternalOnly(AttrType),
    /// AS4_PATH or AS4_AGGREGATOR on a session with 4-octet AS numbers,
    /// where they are never sent (RFC 6793 3).
    #[error("{0} on a 4-octet AS session")]
    UnexpectedAs4(AttrType),
    /// An unknown attribute marked well-known (RFC 4271 6.3).
    #[error("unrecognized well-known {0}")]
    UnrecognizedWellKnown(AttrType),
    /// A mandatory attribute is missing while routes are announced
    /// (RFC 7606 3.d).
    #[error("missing {0}")]
    Missing(AttrType),
    /// A malformed MP_REACH_NLRI or MP_UNREACH_NLRI (RFC 7606 5.3, 7.11).
    #[error("malformed {0}: {1}")]
    Mp(AttrType, MpError),
    /// MP_REACH_NLRI or MP_UNREACH_NLRI of a family whose NLRI this codec
    /// does not read; the attribute is dropped.
    #[error("{0} of unsupported family {1}")]
    UnsupportedFamily(AttrType, Family),
    /// Treat-as-withdraw applies but the UPDATE announces nothing, so RFC
    /// 7606 5.2 asks for a session reset.
    #[error("attribute error in an UPDATE without reachable NLRI")]
    NothingToWithdraw,
}

impl ProblemKind {
    /// The attribute concerned, for problems about one attribute.
    pub fn attribute(&self) -> Option<AttrType> {
        match *self {
            ProblemKind::Duplicate(t)
            | ProblemKind::DuplicateMp(t)
            | ProblemKind::Flags(t, _)
            | ProblemKind::Length(t, _)
            | ProblemKind::AsPath(t, _)
            | ProblemKind::ZeroAggregatorAs(t)
            | ProblemKind::InternalOnly(t)
            | ProblemKind::UnexpectedAs4(t)
            | ProblemKind::UnrecognizedWellKnown(t)
            | ProblemKind::Missing(t)
            | ProblemKind::Mp(t, _)
            | ProblemKind::UnsupportedFamily(t, _) => Some(t),
            ProblemKind::UndefinedOrigin(_) => Some(AttrType::ORIGIN),
            ProblemKind::InvalidNextHop(_) => Some(AttrType::NEXT_HOP),
            ProblemKind::SectionLengths
            | ProblemKind::WithdrawnField(_)
            | ProblemKind::NlriField(_)
            | ProblemKind::AttributeOverrun
            | ProblemKind::NothingToWithdraw => None,
        }
    }
}

/// One problem found in an UPDATE, with the approach it calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What was wrong.
    pub kind: ProblemKind,
    /// The approach RFC 7606 prescribes for it.
    pub action: Action,
    /// The NOTIFICATION that RFC 4271 6.3 would send for it. It is sent
    /// only when the verdict is a session reset; it is kept for logs.
    pub notification: Notification,
}

/// What the session must do with a received UPDATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing was wrong.
    Clean,
    /// Some attributes were dropped; the UPDATE is otherwise usable.
    AttributesDiscarded,
    /// Every announced route is to be treated as withdrawn (RFC 7606 2).
    TreatAsWithdraw,
    /// The session must send this NOTIFICATION and close.
    SessionReset(Notification),
}

/// A received UPDATE with the RFC 7606 diagnosis of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedUpdate {
    /// What could be read. After a session reset it may be partial.
    pub update: Update,
    /// What to do with it, from the strongest problem.
    pub verdict: Verdict,
    /// Everything that was wrong, in the order found, for counting and
    /// logging (RFC 7606 6).
    pub problems: Vec<Problem>,
}

/// Routes of one family announced with one next hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announced<'a> {
    /// The family.
    pub family: Family,
    /// The next hop of these routes.
    pub next_hop: NextHop,
    /// The routes; their attributes are the UPDATE's.
    pub nlri: &'a [Nlri],
}

impl DecodedUpdate {
    /// The routes to install, grouped by family and next hop: none unless
    /// the verdict is [`Verdict::Clean`] or [`Verdict::AttributesDiscarded`].
    pub fn announced(&self) -> impl Iterator<Item = Announced<'_>> {
        let usable = matches!(self.verdict, Verdict::Clean | Verdict::AttributesDiscarded);
        let u = &self.update;
        let classic = u
            .next_hop
            .filter(|_| usable && !u.nlri.is_empty())
            .map(|addr| Announced {
                family: Family::IPV4_UNICAST,
                next_hop: NextHop::V4(addr),
                nlri: &u.nlri,
            });
        let mp = u
            .mp_reach
            .as_ref()
            .filter(|r| usable && !r.nlri.is_empty())
            .map(|r| Announced {
                family: r.family,
                next_hop: r.next_hop,
                nlri: &r.nlri,
            });
        classic.into_iter().chain(mp)
    }

    /// The routes to remove, by family. Under treat-as-withdraw this
    /// includes every route the UPDATE announced (RFC 7606 2); after a
    /// session reset it is empty.
    pub fn withdrawn(&self) -> impl Iterator<Item = (Family, &[Nlri])> {
        let usable = !matches!(self.verdict, Verdict::SessionReset(_));
        let as_withdraw = matches!(self.verdict, Verdict::TreatAsWithdraw);
        let u = &self.update;
        let classic = (usable, Family::IPV4_UNICAST, u.withdrawn.as_slice());
        let unreach = u
            .mp_unreach
            .as_ref()
            .map(|m| (usable, m.family, m.nlri.as_slice()));
        let nlri = (as_withdraw, Family::IPV4_UNICAST, u.nlri.as_slice());
        let reach = u
            .mp_reach
            .as_ref()
            .map(|m| (as_withdraw, m.family, m.nlri.as_slice()));
        [Some(classic), unreach, Some(nlri), reach]
            .into_iter()
            .flatten()
            .filter(|(wanted, _, routes)| *wanted && !routes.is_empty())
            .map(|(_, family, routes)| (family, routes))
    }

    /// The family whose End-of-RIB marker this is (RFC 4724 2), if it is one
    /// and was read without problems.
    pub fn end_of_rib(&self) -> Option<Family> {
        match self.verdict {
            Verdict::Clean => self.update.end_of_rib_family(),
            _ => None,
        }
    }
}
