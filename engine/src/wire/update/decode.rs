//! Reading an UPDATE body under the revised error handling of RFC 7606.
//!
//! The fields are read in the order that lets the strongest errors stop the
//! work early: the section lengths and both NLRI fields first (errors there
//! reset the session), then the attributes one by one, each judged by the
//! rule of its own RFC section, then the checks over the whole message.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;

use super::as_path::{AsPath, AsPathError, SegmentType, AS_TRANS};
use super::attributes::{Aggregator, AttrFlags, AttrType, Origin, RawAttribute};
use super::community::{Community, ExtCommunity, LargeCommunity};
use super::diagnosis::{Action, DecodedUpdate, MpError, Problem, ProblemKind, Verdict};
use super::{MpReach, MpUnreach, NextHop, Update};
use crate::wire::config::{CodecConfig, PeerKind};
use crate::wire::family::{Afi, Family, IpVersion, Safi};
use crate::wire::notification::{ErrorKind, Notification, UpdateSubcode};
use crate::wire::prefix::decode_nlri;
use crate::wire::reader::Reader;

impl DecodedUpdate {
    /// Reads the body of an UPDATE (the octets after the header). Never
    /// fails: what is wrong is in the verdict and the problems.
    pub fn decode(body: &[u8], config: &CodecConfig) -> DecodedUpdate {
        let mut decoder = Decoder {
            config,
            update: Update::default(),
            problems: Vec::new(),
            reset: None,
            seen: [false; 256],
            walk_abandoned: false,
            as4_path: None,
            as4_aggregator: None,
        };
        if decoder.read(body).is_ok() {
            decoder.merge_as4();
            decoder.check_sets();
            decoder.check_mandatory();
            decoder.check_something_to_withdraw();
        }
        decoder.finish()
    }
}

/// Reading stopped at an error that resets the session.
struct Stop;

/// The rule of one attribute type: the flags it must carry and the approach
/// for any malformation of it.
struct Rule {
    flags: AttrFlags,
    action: Action,
}

/// The rule of each attribute type the codec models.
fn rule(ty: AttrType) -> Option<Rule> {
    use Action::*;
    let (flags, action) = match ty {
        // RFC 7606 7.1, 7.2, 7.3: treat-as-withdraw.
        AttrType::ORIGIN | AttrType::AS_PATH | AttrType::NEXT_HOP => {
            (AttrFlags::WELL_KNOWN, TreatAsWithdraw)
        }
        // RFC 7606 7.4.
        AttrType::MULTI_EXIT_DISC => (AttrFlags::OPTIONAL_NON_TRANSITIVE, TreatAsWithdraw),
        // RFC 7606 7.5 (from internal peers; external ones are discarded).
        AttrType::LOCAL_PREF => (AttrFlags::WELL_KNOWN, TreatAsWithdraw),
        // RFC 7606 7.6, 7.7: attribute discard.
        AttrType::ATOMIC_AGGREGATE => (AttrFlags::WELL_KNOWN, AttributeDiscard),
        AttrType::AGGREGATOR => (AttrFlags::OPTIONAL_TRANSITIVE, AttributeDiscard),
        // RFC 7606 7.8, 7.14, RFC 8092 6.
        AttrType::COMMUNITIES | AttrType::EXTENDED_COMMUNITIES | AttrType::LARGE_COMMUNITY => {
            (AttrFlags::OPTIONAL_TRANSITIVE, TreatAsWithdraw)
        }
        // RFC 7606 7.9, 7.10 (from internal peers).
        AttrType::ORIGINATOR_ID | AttrType::CLUSTER_LIST => {
            (AttrFlags::OPTIONAL_NON_TRANSITIVE, TreatAsWithdraw)
        }
        // RFC 7606 5.3, 7.11: session reset, wrong flags included.
        AttrType::MP_REACH_NLRI | AttrType::MP_UNREACH_NLRI => {
            (AttrFlags::OPTIONAL_NON_TRANSITIVE, SessionReset)
        }
        // RFC 6793 6: attribute discard.
        AttrType::AS4_PATH | AttrType::AS4_AGGREGATOR => {
            (AttrFlags::OPTIONAL_TRANSITIVE, AttributeDiscard)
        }
        _ => return None,
    };
    Some(Rule { flags, action })
}

/// A malformation found in an attribute value: the problem, and the subcode
/// RFC 4271 6.3 gives it.
type Fault = (ProblemKind, UpdateSubcode);

fn length_fault(ty: AttrType, len: usize) -> Fault {
    (
        ProblemKind::Length(ty, len),
        UpdateSubcode::AttributeLengthError,
    )
}

/// The single `N`-octet value of a fixed-length attribute.
fn exact<const N: usize>(ty: AttrType, value: &[u8]) -> Result<[u8; N], Fault> {
    <[u8; N]>::try_from(value).map_err(|_| length_fault(ty, value.len()))
}

/// The `N`-octet items of a list attribute, which RFC 7606 calls malformed
/// unless its length is a non-zero multiple of `N` (7.8, 7.10, 7.14;
/// RFC 8092 6).
fn items<const N: usize>(
    ty: AttrType,
    value: &[u8],
) -> Result<impl Iterator<Item = [u8; N]> + '_, Fault> {
    if value.is_empty() || value.len() % N != 0 {
        let subcode = if ty == AttrType::CLUSTER_LIST {
            UpdateSubcode::AttributeLengthError
        } else {
            UpdateSubcode::OptionalAttributeError
        };
        return Err((ProblemKind::Length(ty, value.len()), subcode));
    }
    Ok(value
        .chunks_exact(N)
        .filter_map(|c| <[u8; N]>::try_from(c).ok()))
}

/// Whether an IPv4 address can be a next hop: not unspecified, broadcast,
/// multicast or reserved (RFC 4271 6.3 asks for a valid host address).
fn is_host_address(addr: Ipv4Addr) -> bool {
    !(addr.is_unspecified()
        || addr.is_broadcast()
        || addr.is_multicast()
        || addr.octets()[0] >= 240)
}

/// The next hop field of MP_REACH_NLRI for a family of prefixes
/// (RFC 4760 3, RFC 2545 3, RFC 8950 3).
fn next_hop(version: IpVersion, field: &[u8]) -> Option<NextHop> {
    let v6 = |bytes: &[u8]| <[u8; 16]>::try_from(bytes).ok().map(Ipv6Addr::from);
    match (version, field.len()) {
        (IpVersion::V4, 4) => <[u8; 4]>::try_from(field)
            .ok()
            .map(|a| NextHop::V4(Ipv4Addr::from(a))),
        (_, 16) => Some(NextHop::V6 {
            global: v6(field)?,
            link_local: None,
        }),
        (_, 32) => {
            let (global, link_local) = field.split_at_checked(16)?;
            Some(NextHop::V6 {
                global: v6(global)?,
                link_local: Some(v6(link_local)?),
            })
        }
        _ => None,
    }
}

struct Decoder<'c> {
    config: &'c CodecConfig,
    update: Update,
    problems: Vec<Problem>,
    /// The NOTIFICATION of the error that stopped reading.
    reset: Option<Notification>,
    /// Attribute types met so far, malformed ones included (RFC 7606 3.g
    /// keeps the first occurrence whatever its state).
    seen: [bool; 256],
    /// An attribute overran the field, so the attributes after it are unknown.
    walk_abandoned: bool,
    as4_path: Option<AsPath>,
    as4_aggregator: Option<Aggregator>,
}

impl Decoder<'_> {
    /// Records a problem; a session reset also stops reading.
    fn problem(
        &mut self,
        kind: ProblemKind,
        action: Action,
        subcode: UpdateSubcode,
        data: &[u8],
    ) -> Result<(), Stop> {
        let notification =
            Notification::new(ErrorKind::Update(subcode), Bytes::copy_from_slice(data));
        if action == Action::SessionReset {
            self.reset = Some(notification.clone());
        }
        self.problems.push(Problem {
            kind,
            action,
            notification,
        });
        if action == Action::SessionReset {
            return Err(Stop);
        }
        Ok(())
    }

    fn read(&mut self, body: &[u8]) -> Result<(), Stop> {
        let mut r = Reader::new(body);
        // RFC 4271 6.3, RFC 7606 3.b: lengths past the message leave no way
        // to find the NLRI.
        let sections = r
            .u16()
            .and_then(|len| r.take(usize::from(len)))
            .and_then(|withdrawn| {
                let attributes = r.u16().and_then(|len| r.take(usize::from(len)))?;
                Some((withdrawn, attributes, r.rest()))
            });
        let Some((withdrawn, attributes, nlri)) = sections else {
            return self.problem(
                ProblemKind::SectionLengths,
                Action::SessionReset,
                UpdateSubcode::MalformedAttributeList,
                &[],
            );
        };
        let add_path = self.config.receives_path_ids(Family::IPV4_UNICAST);
        // RFC 7606 3.i: the Withdrawn Routes field is checked like the NLRI
        // field; RFC 7606 3.j, 5.3: an unreadable NLRI field resets.
        if let Err(e) = decode_nlri(
            withdrawn,
            IpVersion::V4,
            add_path,
            &mut self.update.withdrawn,
        ) {
            let kind = ProblemKind::WithdrawnField(e);
            return self.problem(
                kind,
                Action::SessionReset,
                UpdateSubcode::InvalidNetworkField,
                &[],
            );
        }
        if let Err(e) = decode_nlri(nlri, IpVersion::V4, add_path, &mut self.update.nlri) {
            let kind = ProblemKind::NlriField(e);
            return self.problem(
                kind,
                Action::SessionReset,
                UpdateSubcode::InvalidNetworkField,
                &[],
            );
        }
        self.attributes(attributes)
    }

    fn attributes(&mut self, field: &[u8]) -> Result<(), Stop> {
        let mut r = Reader::new(field);
        while !r.is_empty() {
            let start = r.rest();
            let header = r.u8().zip(r.u8()).and_then(|(flags, ty)| {
                let flags = AttrFlags(flags);
                let len = if flags.is_extended_length() {
                    r.u16()?
                } else {
                    u16::from(r.u8()?)
                };
                Some((flags, AttrType(ty), r.take(usize::from(len))?))
            });
            let Some((flags, ty, value)) = header else {
                // RFC 7606 4: an attribute longer than what remains, or too
                // few octets for a header: treat-as-withdraw, relying on
                // the Total Path Attribute Length to find the NLRI field.
                // The NLRI are those of the NLRI field and of MP attributes
                // read so far (RFC 7606 5.1 puts those first); if there are
                // none, RFC 7606 5.2 turns this into a session reset.
                self.walk_abandoned = true;
                let kind = ProblemKind::AttributeOverrun;
                return self.problem(
                    kind,
                    Action::TreatAsWithdraw,
                    UpdateSubcode::AttributeLengthError,
                    start,
                );
            };
            let whole = start.get(..start.len() - r.remaining()).unwrap_or_default();
            self.attribute(flags, ty, value, whole)?;
        }
        Ok(())
    }

    /// Handles one attribute; `whole` is its header and value, the data of
    /// the NOTIFICATION about it (RFC 4271 6.3).
    fn attribute(
        &mut self,
        flags: AttrFlags,
        ty: AttrType,
        value: &[u8],
        whole: &[u8],
    ) -> Result<(), Stop> {
        let is_mp = ty == AttrType::MP_REACH_NLRI || ty == AttrType::MP_UNREACH_NLRI;
        let seen = &mut self.seen[usize::from(ty.0)];
        if *seen {
            // RFC 7606 3.g: a repeated MP attribute resets; any other
            // repeated attribute is dropped, the first one kept.
            if is_mp {
                let kind = ProblemKind::DuplicateMp(ty);
                return self.problem(
                    kind,
                    Action::SessionReset,
                    UpdateSubcode::MalformedAttributeList,
                    &[],
                );
            }
            let kind = ProblemKind::Duplicate(ty);
            return self.problem(
                kind,
                Action::AttributeDiscard,
                UpdateSubcode::MalformedAttributeList,
                &[],
            );
        }
        *seen = true;

        let Some(rule) = rule(ty) else {
            return self.unknown(flags, ty, value, whole);
        };
        let internal = self.config.peer == PeerKind::Internal;
        let internal_only = matches!(
            ty,
            AttrType::LOCAL_PREF | AttrType::ORIGINATOR_ID | AttrType::CLUSTER_LIST
        );
        if internal_only && !internal {
            // RFC 7606 7.5, 7.9, 7.10: from an external peer these are
            // discarded, well-formed or not.
            let kind = ProblemKind::InternalOnly(ty);
            return self.problem(
                kind,
                Action::AttributeDiscard,
                UpdateSubcode::Unspecific,
                whole,
            );
        }
        if matches!(ty, AttrType::AS4_PATH | AttrType::AS4_AGGREGATOR) && self.config.four_octet_as
        {
            // RFC 6793 3: a NEW speaker never sends these to a NEW speaker;
            // if one does, they are discarded.
            let kind = ProblemKind::UnexpectedAs4(ty);
            return self.problem(
                kind,
                Action::AttributeDiscard,
                UpdateSubcode::OptionalAttributeError,
                whole,
            );
        }
        if !flags.category_matches(rule.flags) {
            // RFC 7606 3.c: wrong optional/transitive bits make the
            // attribute malformed, handled by its own rule (RFC 7606 5.3
            // for the MP attributes).
            let kind = ProblemKind::Flags(ty, flags);
            return self.problem(kind, rule.action, UpdateSubcode::AttributeFlagsError, whole);
        }
        let outcome = match ty {
            AttrType::MP_REACH_NLRI => return self.mp_reach(value, whole),
            AttrType::MP_UNREACH_NLRI => return self.mp_unreach(value, whole),
            _ => self.value(ty, value),
        };
        match outcome {
            Ok(()) => Ok(()),
            Err((kind, subcode)) => self.problem(kind, rule.action, subcode, whole),
        }
    }

    /// Reads the value of a modeled attribute other than the MP ones.
    fn value(&mut self, ty: AttrType, value: &[u8]) -> Result<(), Fault> {
        let attrs = &mut self.update.attributes;
        match ty {
            AttrType::ORIGIN => {
                // RFC 7606 7.1: length other than 1 or an undefined value.
                let [code] = exact::<1>(ty, value)?;
                let origin = Origin::from_code(code).ok_or((
                    ProblemKind::UndefinedOrigin(code),
                    UpdateSubcode::InvalidOriginAttribute,
                ))?;
                attrs.origin = Some(origin);
            }
            AttrType::AS_PATH => {
                // RFC 7606 7.2: bad segment type, overrun, underrun or an
                // empty segment; RFC 7607 2: AS 0.
                let path = AsPath::decode(value, self.config.four_octet_as)
                    .map_err(|e| (ProblemKind::AsPath(ty, e), UpdateSubcode::MalformedAsPath))?;
                attrs.as_path = Some(path);
            }
            AttrType::NEXT_HOP => {
                // RFC 7606 7.3: length other than 4. RFC 4271 6.3: not a
                // host address, judged only when the NLRI field uses it
                // (RFC 4760 3 has it ignored otherwise).
                let addr = Ipv4Addr::from(exact::<4>(ty, value)?);
                if !self.update.nlri.is_empty() && !is_host_address(addr) {
                    return Err((
                        ProblemKind::InvalidNextHop(addr),
                        UpdateSubcode::InvalidNextHopAttribute,
                    ));
                }
                self.update.next_hop = Some(addr);
            }
            AttrType::MULTI_EXIT_DISC => {
                // RFC 7606 7.4: length other than 4.
                attrs.med = Some(u32::from_be_bytes(exact(ty, value)?));
            }
            AttrType::LOCAL_PREF => {
                // RFC 7606 7.5: length other than 4 (internal peers).
                attrs.local_pref = Some(u32::from_be_bytes(exact(ty, value)?));
            }
            AttrType::ATOMIC_AGGREGATE => {
                // RFC 7606 7.6: length other than 0.
                exact::<0>(ty, value)?;
                attrs.atomic_aggregate = true;
            }
            AttrType::AGGREGATOR => {
                // RFC 7606 7.7: length other than 6 (2-octet AS) or 8.
                let aggregator = if self.config.four_octet_as {
                    let [a, b, c, d, e, f, g, h] = exact::<8>(ty, value)?;
                    aggregator(ty, u32::from_be_bytes([a, b, c, d]), [e, f, g, h])?
                } else {
                    let [a, b, e, f, g, h] = exact::<6>(ty, value)?;
                    aggregator(ty, u32::from(u16::from_be_bytes([a, b])), [e, f, g, h])?
                };
                attrs.aggregator = Some(aggregator);
            }
            AttrType::COMMUNITIES => {
                // RFC 7606 7.8: length not a non-zero multiple of 4.
                attrs.communities = items::<4>(ty, value)?
                    .map(|c| Community(u32::from_be_bytes(c)))
                    .collect();
            }
            AttrType::ORIGINATOR_ID => {
                // RFC 7606 7.9: length other than 4 (internal peers).
                attrs.originator_id = Some(Ipv4Addr::from(exact::<4>(ty, value)?));
            }
            AttrType::CLUSTER_LIST => {
                // RFC 7606 7.10: length not a non-zero multiple of 4.
                attrs.cluster_list = items::<4>(ty, value)?.map(Ipv4Addr::from).collect();
            }
            AttrType::EXTENDED_COMMUNITIES => {
                // RFC 7606 7.14: length not a non-zero multiple of 8; unknown
                // types are no error.
                attrs.extended_communities = items::<8>(ty, value)?.map(ExtCommunity).collect();
            }
            AttrType::LARGE_COMMUNITY => {
                // RFC 8092 6: length not a non-zero multiple of 12; RFC 8092
                // 5: duplicates are removed silently.
                let mut all: Vec<LargeCommunity> = Vec::with_capacity(value.len() / 12);
                for [a, b, c, d, e, f, g, h, i, j, k, l] in items::<12>(ty, value)? {
                    let lc = LargeCommunity {
                        global_admin: u32::from_be_bytes([a, b, c, d]),
                        local_data1: u32::from_be_bytes([e, f, g, h]),
                        local_data2: u32::from_be_bytes([i, j, k, l]),
                    };
                    if !all.contains(&lc) {
                        all.push(lc);
                    }
                }
                attrs.large_communities = all;
            }
            AttrType::AS4_PATH => {
                // RFC 6793 6: malformed like AS_PATH, with 4-octet ASes.
                let path = AsPath::decode(value, true).map_err(|e| {
                    (
                        ProblemKind::AsPath(ty, e),
                        UpdateSubcode::OptionalAttributeError,
                    )
                })?;
                self.as4_path = Some(path);
            }
            AttrType::AS4_AGGREGATOR => {
                // RFC 6793 6: length other than 8.
                let [a, b, c, d, e, f, g, h] = exact::<8>(ty, value)?;
                self.as4_aggregator = Some(aggregator(
                    ty,
                    u32::from_be_bytes([a, b, c, d]),
                    [e, f, g, h],
                )?);
            }
            _ => {}
        }
        Ok(())
    }

    /// An attribute of a type the codec does not model.
    fn unknown(
        &mut self,
        flags: AttrFlags,
        ty: AttrType,
        value: &[u8],
        whole: &[u8],
    ) -> Result<(), Stop> {
        if !flags.is_optional() {
            // RFC 4271 6.3: an unrecognized well-known attribute resets; RFC
            // 7606 leaves this alone.
            let kind = ProblemKind::UnrecognizedWellKnown(ty);
            return self.problem(
                kind,
                Action::SessionReset,
                UpdateSubcode::UnrecognizedWellKnownAttribute,
                whole,
            );
        }
        // A copy, so that a route kept in the RIB does not pin the read
        // buffer the message came in.
        if let Some(raw) = RawAttribute::new(flags, ty, Bytes::copy_from_slice(value)) {
            self.update.attributes.unknown.push(raw);
        }
        Ok(())
    }

    /// MP_REACH_NLRI (RFC 4760 3). Every malformation resets the session
    /// (RFC 7606 5.3, 7.11).
    fn mp_reach(&mut self, value: &[u8], whole: &[u8]) -> Result<(), Stop> {
        let ty = AttrType::MP_REACH_NLRI;
        let mut r = Reader::new(value);
        let reset = |this: &mut Self, e: MpError| {
            this.problem(
                ProblemKind::Mp(ty, e),
                Action::SessionReset,
                UpdateSubcode::OptionalAttributeError,
                whole,
            )
        };
        let (Some(afi), Some(safi), Some(nh_len)) = (r.u16(), r.u8(), r.u8()) else {
            return reset(self, MpError::TooShort);
        };
        if value.len() < 5 {
            return reset(self, MpError::TooShort);
        }
        let family = Family::new(Afi(afi), Safi(safi));
        let Some(version) = family.prefix_version() else {
            return self.unsupported(ty, family, whole);
        };
        let Some(next_hop) = r
            .take(usize::from(nh_len))
            .and_then(|field| next_hop(version, field))
        else {
            return reset(self, MpError::NextHopLength(nh_len));
        };
        // The reserved octet (formerly the SNPA count) is ignored.
        if r.u8().is_none() {
            return reset(self, MpError::TooShort);
        }
        let mut nlri = Vec::new();
        if let Err(e) = decode_nlri(
            r.rest(),
            version,
            self.config.receives_path_ids(family),
            &mut nlri,
        ) {
            return reset(self, MpError::Nlri(e));
        }
        self.update.mp_reach = Some(MpReach {
            family,
            next_hop,
            nlri,
        });
        Ok(())
    }

    /// MP_UNREACH_NLRI (RFC 4760 4). Every malformation resets the session
    /// (RFC 7606 5.3).
    fn mp_unreach(&mut self, value: &[u8], whole: &[u8]) -> Result<(), Stop> {
        let ty = AttrType::MP_UNREACH_NLRI;
        let mut r = Reader::new(value);
        let (Some(afi), Some(safi)) = (r.u16(), r.u8()) else {
            let kind = ProblemKind::Mp(ty, MpError::TooShort);
            return self.problem(
                kind,
                Action::SessionReset,
                UpdateSubcode::OptionalAttributeError,
                whole,
            );
        };
        let family = Family::new(Afi(afi), Safi(safi));
        let Some(version) = family.prefix_version() else {
            if r.is_empty() {
                // An End-of-RIB marker needs no NLRI reading (RFC 4724 2).
                self.update.mp_unreach = Some(MpUnreach {
                    family,
                    nlri: Vec::new(),
                });
                return Ok(());
            }
            return self.unsupported(ty, family, whole);
        };
        let mut nlri = Vec::new();
        if let Err(e) = decode_nlri(
            r.rest(),
            version,
            self.config.receives_path_ids(family),
            &mut nlri,
        ) {
            let kind = ProblemKind::Mp(ty, MpError::Nlri(e));
            return self.problem(
                kind,
                Action::SessionReset,
                UpdateSubcode::OptionalAttributeError,
                whole,
            );
        }
        self.update.mp_unreach = Some(MpUnreach { family, nlri });
        Ok(())
    }

    /// An MP attribute of a family whose NLRI the codec cannot read. Such a
    /// family is never negotiated by this speaker, so its routes have no
    /// use here: the attribute is dropped rather than the session reset.
    fn unsupported(&mut self, ty: AttrType, family: Family, whole: &[u8]) -> Result<(), Stop> {
        let kind = ProblemKind::UnsupportedFamily(ty, family);
        self.problem(
            kind,
            Action::AttributeDiscard,
            UpdateSubcode::OptionalAttributeError,
            whole,
        )
    }

    /// RFC 6793 4.2.3: on a 2-octet session, AS4_AGGREGATOR replaces an
    /// AGGREGATOR of AS_TRANS, and AS4_PATH is merged into AS_PATH; an
    /// AGGREGATOR of another AS means both AS4 attributes are ignored.
    fn merge_as4(&mut self) {
        let (as4_path, as4_aggregator) = (self.as4_path.take(), self.as4_aggregator.take());
        let attrs = &mut self.update.attributes;
        if let Some(as4_aggregator) = as4_aggregator {
            match &mut attrs.aggregator {
                Some(aggregator) if aggregator.asn == AS_TRANS => *aggregator = as4_aggregator,
                Some(_) => return,
                None => {}
            }
        }
        if let (Some(path), Some(as4_path)) = (&mut attrs.as_path, as4_path) {
            *path = path.merge_as4(&as4_path);
        }
    }

    /// Whether the UPDATE announces routes (NLRI field or MP_REACH_NLRI).
    fn announces(&self) -> bool {
        !self.update.nlri.is_empty()
            || self
                .update
                .mp_reach
                .as_ref()
                .is_some_and(|r| !r.nlri.is_empty())
    }

    /// RFC 9774 3: an AS_PATH with AS_SET or AS_CONFED_SET segments is
    /// treated as withdrawn (checked after the AS4_PATH merge, which may
    /// bring them in).
    fn check_sets(&mut self) {
        let reach = self.announces();
        let has_set = reach
            && self.update.attributes.as_path.as_ref().is_some_and(|p| {
                p.segments
                    .iter()
                    .any(|s| matches!(s.kind, SegmentType::Set | SegmentType::ConfedSet))
            });
        if has_set {
            let kind = ProblemKind::AsPath(AttrType::AS_PATH, AsPathError::SetSegment);
            // Cannot stop: treat-as-withdraw is no reset.
            let _ = self.problem(
                kind,
                Action::TreatAsWithdraw,
                UpdateSubcode::MalformedAsPath,
                &[],
            );
        }
    }

    /// RFC 7606 3.d: routes announced without ORIGIN or AS_PATH, or IPv4
    /// NLRI-field routes without NEXT_HOP, are treated as withdrawn. After
    /// an abandoned walk the rest is unknown and already withdrawn.
    fn check_mandatory(&mut self) {
        let reach = self
            .update
            .mp_reach
            .as_ref()
            .is_some_and(|r| !r.nlri.is_empty());
        if self.walk_abandoned || (self.update.nlri.is_empty() && !reach) {
            return;
        }
        let nlri_field = !self.update.nlri.is_empty();
        for ty in [AttrType::ORIGIN, AttrType::AS_PATH, AttrType::NEXT_HOP] {
            let required = ty != AttrType::NEXT_HOP || nlri_field;
            if required && !self.seen[usize::from(ty.0)] {
                let kind = ProblemKind::Missing(ty);
                // Cannot stop: treat-as-withdraw is no reset.
                let _ = self.problem(
                    kind,
                    Action::TreatAsWithdraw,
                    UpdateSubcode::MissingWellKnownAttribute,
                    &[ty.0],
                );
            }
        }
    }

    /// RFC 7606 5.2: an UPDATE that announces nothing but carries
    /// attributes besides MP_UNREACH_NLRI, and has an error calling for
    /// more than attribute discard, resets the session.
    fn check_something_to_withdraw(&mut self) {
        let Some(first) = self
            .problems
            .iter()
            .find(|p| p.action == Action::TreatAsWithdraw)
        else {
            return;
        };
        let reach = self.announces();
        let other_attributes = self.walk_abandoned
            || self
                .seen
                .iter()
                .enumerate()
                .any(|(ty, seen)| *seen && ty != usize::from(AttrType::MP_UNREACH_NLRI.0));
        if reach || !other_attributes {
            return;
        }
        let notification = first.notification.clone();
        self.reset = Some(notification.clone());
        self.problems.push(Problem {
            kind: ProblemKind::NothingToWithdraw,
            action: Action::SessionReset,
            notification,
        });
    }

    fn finish(self) -> DecodedUpdate {
        let verdict = match (self.reset, self.problems.iter().map(|p| p.action).max()) {
            (Some(notification), _) => Verdict::SessionReset(notification),
            (None, None) => Verdict::Clean,
            (None, Some(Action::AttributeDiscard)) => Verdict::AttributesDiscarded,
            (None, Some(_)) => Verdict::TreatAsWithdraw,
        };
        DecodedUpdate {
            update: self.update,
            verdict,
            problems: self.problems,
        }
    }
}

/// An aggregator value; AS 0 makes it malformed (RFC 7607 2).
fn aggregator(ty: AttrType, asn: u32, address: [u8; 4]) -> Result<Aggregator, Fault> {
    if asn == 0 {
        return Err((
            ProblemKind::ZeroAggregatorAs(ty),
            UpdateSubcode::OptionalAttributeError,
        ));
    }
    Ok(Aggregator {
        asn,
        address: Ipv4Addr::from(address),
    })
}
