//! Writing path attributes and single UPDATE messages.
//!
//! Attributes go in ascending type order (RFC 4271 5), except that
//! MP_REACH_NLRI and MP_UNREACH_NLRI come first (RFC 7606 5.1).

use std::iter::Peekable;
use std::net::Ipv4Addr;

use bytes::{BufMut, Bytes, BytesMut};

use super::as_path::AS_TRANS;
use super::attributes::{Aggregator, AttrFlags, AttrType, Attributes, RawAttribute};
use super::{NextHop, Update};
use crate::wire::config::CodecConfig;
use crate::wire::error::EncodeError;
use crate::wire::family::{Family, IpVersion};
use crate::wire::header::{begin_message, finish_message, put_u16_at, MessageType};
use crate::wire::prefix::{encode_nlri, Nlri};

/// A route's path attributes encoded once, to be copied into every UPDATE
/// that carries them. The encoding depends only on whether the session has
/// 4-octet AS numbers, so one value serves every such peer.
///
/// NEXT_HOP and the MP attributes are not part of the block: they are
/// written around it per message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedAttributes {
    block: Bytes,
    /// Where NEXT_HOP goes, to keep the type order: after ORIGIN and AS_PATH.
    next_hop_at: usize,
}

impl EncodedAttributes {
    /// Encodes `attributes` for a session with or without 4-octet AS
    /// numbers. Without them, AS numbers over 65535 become AS_TRANS and
    /// AS4_PATH / AS4_AGGREGATOR carry the real ones (RFC 6793 4.2.2).
    pub fn new(attributes: &Attributes, four_octet_as: bool) -> Result<Self, EncodeError> {
        let mut out = BytesMut::new();
        let next_hop_at = encode_attributes(attributes, four_octet_as, &mut out)?;
        Ok(EncodedAttributes {
            block: out.freeze(),
            next_hop_at,
        })
    }

    /// Octets of the block.
    pub fn len(&self) -> usize {
        self.block.len()
    }

    /// Whether there are no attributes.
    pub fn is_empty(&self) -> bool {
        self.block.is_empty()
    }

    /// The encoded attributes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.block
    }

    /// The attributes that precede NEXT_HOP, and those that follow it.
    pub(crate) fn split_at_next_hop(&self) -> (&[u8], &[u8]) {
        self.block
            .split_at_checked(self.next_hop_at)
            .unwrap_or((&self.block, &[]))
    }
}

/// Octets of a NEXT_HOP attribute.
pub(crate) const NEXT_HOP_ATTR_LEN: usize = 7;

/// Writes one attribute of `len` value octets with `write`; the length
/// field has two octets only when needed.
fn put_attribute(
    out: &mut BytesMut,
    flags: AttrFlags,
    ty: AttrType,
    len: usize,
    write: impl FnOnce(&mut BytesMut),
) -> Result<(), EncodeError> {
    let short = u8::try_from(len);
    let long =
        u16::try_from(len).map_err(|_| EncodeError::AttributeTooLong { type_code: ty, len })?;
    match short {
        Ok(len) => {
            out.put_u8(flags.0 & !AttrFlags::EXTENDED_LENGTH);
            out.put_u8(ty.0);
            out.put_u8(len);
        }
        Err(_) => {
            out.put_u8(flags.0 | AttrFlags::EXTENDED_LENGTH);
            out.put_u8(ty.0);
            out.put_u16(long);
        }
    }
    write(out);
    Ok(())
}

/// Writes the NEXT_HOP attribute.
pub(crate) fn put_next_hop(out: &mut BytesMut, addr: Ipv4Addr) {
    out.put_u8(AttrFlags::WELL_KNOWN.0);
    out.put_u8(AttrType::NEXT_HOP.0);
    out.put_u8(4);
    out.put_slice(&addr.octets());
}

/// Writes the header and fixed fields of MP_REACH_NLRI, always with a
/// 2-octet length since the NLRI follow; returns where that length is, for
/// [`end_mp_attribute`].
pub(crate) fn begin_mp_reach(out: &mut BytesMut, family: Family, next_hop: &NextHop) -> usize {
    out.put_u8(AttrFlags::OPTIONAL_NON_TRANSITIVE.0 | AttrFlags::EXTENDED_LENGTH);
    out.put_u8(AttrType::MP_REACH_NLRI.0);
    let len_at = out.len();
    out.put_u16(0);
    out.put_u16(family.afi.0);
    out.put_u8(family.safi.0);
    out.put_u8(u8::try_from(next_hop.wire_len()).unwrap_or(u8::MAX));
    match next_hop {
        NextHop::V4(addr) => out.put_slice(&addr.octets()),
        NextHop::V6 { global, link_local } => {
            out.put_slice(&global.octets());
            if let Some(ll) = link_local {
                out.put_slice(&ll.octets());
            }
        }
    }
    out.put_u8(0); // reserved
    len_at
}

/// Writes the header and fixed fields of MP_UNREACH_NLRI, like
/// [`begin_mp_reach`].
pub(crate) fn begin_mp_unreach(out: &mut BytesMut, family: Family) -> usize {
    out.put_u8(AttrFlags::OPTIONAL_NON_TRANSITIVE.0 | AttrFlags::EXTENDED_LENGTH);
    out.put_u8(AttrType::MP_UNREACH_NLRI.0);
    let len_at = out.len();
    out.put_u16(0);
    out.put_u16(family.afi.0);
    out.put_u8(family.safi.0);
    len_at
}

/// Fills in the length of an MP attribute begun at `len_at`.
pub(crate) fn end_mp_attribute(out: &mut BytesMut, len_at: usize) {
    let len = out.len() - len_at - 2;
    put_u16_at(out, len_at, len);
}

/// Checks that routes can be written for a family: right IP version, and
/// path identifiers where add-path is in use.
pub(crate) fn check_nlri(
    family: Family,
    version: IpVersion,
    nlri: &[Nlri],
    add_path: bool,
) -> Result<(), EncodeError> {
    for n in nlri {
        if n.version() != version {
            return Err(EncodeError::WrongFamily {
                family,
                prefix: n.prefix,
            });
        }
        if add_path && n.path_id.is_none() {
            return Err(EncodeError::MissingPathId {
                family,
                prefix: n.prefix,
            });
        }
    }
    Ok(())
}

/// Checks that a next hop fits a family: IPv6 families need an IPv6 next
/// hop; IPv4 families take either (RFC 8950).
pub(crate) fn check_next_hop(
    family: Family,
    version: IpVersion,
    next_hop: &NextHop,
) -> Result<(), EncodeError> {
    match (version, next_hop) {
        (IpVersion::V6, NextHop::V4(_)) => Err(EncodeError::WrongNextHop {
            family,
            next_hop: *next_hop,
        }),
        _ => Ok(()),
    }
}

/// Writes every attribute but NEXT_HOP and the MP ones, and returns the
/// offset (from the start of what was written) where NEXT_HOP belongs.
fn encode_attributes(
    attrs: &Attributes,
    four_octet: bool,
    out: &mut BytesMut,
) -> Result<usize, EncodeError> {
    let start = out.len();
    let mut unknown: Vec<&RawAttribute> = attrs.unknown.iter().collect();
    unknown.sort_by_key(|a| a.type_code());
    let mut unknown = unknown.into_iter().peekable();

    if let Some(origin) = attrs.origin {
        put_unknown_below(out, &mut unknown, AttrType::ORIGIN)?;
        put_attribute(out, AttrFlags::WELL_KNOWN, AttrType::ORIGIN, 1, |o| {
            o.put_u8(origin.code())
        })?;
    }
    if let Some(path) = &attrs.as_path {
        put_unknown_below(out, &mut unknown, AttrType::AS_PATH)?;
        let len = path.encoded_len(four_octet);
        put_attribute(out, AttrFlags::WELL_KNOWN, AttrType::AS_PATH, len, |o| {
            path.encode(four_octet, o)
        })?;
    }
    put_unknown_below(out, &mut unknown, AttrType::NEXT_HOP)?;
    let next_hop_at = out.len() - start;
    if let Some(med) = attrs.med {
        put_unknown_below(out, &mut unknown, AttrType::MULTI_EXIT_DISC)?;
        put_attribute(
            out,
            AttrFlags::OPTIONAL_NON_TRANSITIVE,
            AttrType::MULTI_EXIT_DISC,
            4,
            |o| o.put_u32(med),
        )?;
    }
    if let Some(pref) = attrs.local_pref {
        put_unknown_below(out, &mut unknown, AttrType::LOCAL_PREF)?;
        put_attribute(out, AttrFlags::WELL_KNOWN, AttrType::LOCAL_PREF, 4, |o| {
            o.put_u32(pref)
        })?;
    }
    if attrs.atomic_aggregate {
        put_unknown_below(out, &mut unknown, AttrType::ATOMIC_AGGREGATE)?;
        put_attribute(
            out,
            AttrFlags::WELL_KNOWN,
            AttrType::ATOMIC_AGGREGATE,
            0,
            |_| {},
        )?;
    }
    if let Some(aggregator) = attrs.aggregator {
        put_unknown_below(out, &mut unknown, AttrType::AGGREGATOR)?;
        put_aggregator(out, AttrType::AGGREGATOR, aggregator, four_octet)?;
    }
    if !attrs.communities.is_empty() {
        put_unknown_below(out, &mut unknown, AttrType::COMMUNITIES)?;
        let len = attrs.communities.len() * 4;
        put_attribute(
            out,
            AttrFlags::OPTIONAL_TRANSITIVE,
            AttrType::COMMUNITIES,
            len,
            |o| attrs.communities.iter().for_each(|c| o.put_u32(c.0)),
        )?;
    }
    if let Some(id) = attrs.originator_id {
        put_unknown_below(out, &mut unknown, AttrType::ORIGINATOR_ID)?;
        put_attribute(
            out,
            AttrFlags::OPTIONAL_NON_TRANSITIVE,
            AttrType::ORIGINATOR_ID,
            4,
            |o| o.put_slice(&id.octets()),
        )?;
    }
    if !attrs.cluster_list.is_empty() {
        put_unknown_below(out, &mut unknown, AttrType::CLUSTER_LIST)?;
        let len = attrs.cluster_list.len() * 4;
        put_attribute(
            out,
            AttrFlags::OPTIONAL_NON_TRANSITIVE,
            AttrType::CLUSTER_LIST,
            len,
            |o| {
                attrs
                    .cluster_list
                    .iter()
                    .for_each(|id| o.put_slice(&id.octets()))
            },
        )?;
    }
    if !attrs.extended_communities.is_empty() {
        put_unknown_below(out, &mut unknown, AttrType::EXTENDED_COMMUNITIES)?;
        let len = attrs.extended_communities.len() * 8;
        put_attribute(
            out,
            AttrFlags::OPTIONAL_TRANSITIVE,
            AttrType::EXTENDED_COMMUNITIES,
            len,
            |o| {
                attrs
                    .extended_communities
                    .iter()
                    .for_each(|c| o.put_slice(&c.0))
            },
        )?;
    }
    if !four_octet {
        // RFC 6793 4.2.2: what the 2-octet AS_PATH and AGGREGATOR could
        // not carry goes in AS4_PATH and AS4_AGGREGATOR.
        if let Some(path) = attrs.as_path.as_ref().filter(|p| p.needs_as4_path()) {
            put_unknown_below(out, &mut unknown, AttrType::AS4_PATH)?;
            let as4 = path.without_confed();
            let len = as4.encoded_len(true);
            put_attribute(
                out,
                AttrFlags::OPTIONAL_TRANSITIVE,
                AttrType::AS4_PATH,
                len,
                |o| as4.encode(true, o),
            )?;
        }
        if let Some(aggregator) = attrs.aggregator.filter(|a| a.asn > u32::from(u16::MAX)) {
            put_unknown_below(out, &mut unknown, AttrType::AS4_AGGREGATOR)?;
            put_aggregator(out, AttrType::AS4_AGGREGATOR, aggregator, true)?;
        }
    }
    if !attrs.large_communities.is_empty() {
        put_unknown_below(out, &mut unknown, AttrType::LARGE_COMMUNITY)?;
        let len = attrs.large_communities.len() * 12;
        put_attribute(
            out,
            AttrFlags::OPTIONAL_TRANSITIVE,
            AttrType::LARGE_COMMUNITY,
            len,
            |o| {
                for c in &attrs.large_communities {
                    o.put_u32(c.global_admin);
                    o.put_u32(c.local_data1);
                    o.put_u32(c.local_data2);
                }
            },
        )?;
    }
    put_unknown_below(out, &mut unknown, AttrType(u8::MAX))?;
    for raw in unknown {
        put_raw(out, raw)?;
    }
    Ok(next_hop_at)
}

/// Writes the unknown attributes whose type sorts before `ty`.
fn put_unknown_below<'a>(
    out: &mut BytesMut,
    unknown: &mut Peekable<impl Iterator<Item = &'a RawAttribute>>,
    ty: AttrType,
) -> Result<(), EncodeError> {
    while let Some(raw) = unknown.next_if(|raw| raw.type_code() < ty) {
        put_raw(out, raw)?;
    }
    Ok(())
}

fn put_raw(out: &mut BytesMut, raw: &RawAttribute) -> Result<(), EncodeError> {
    let value = raw.value();
    put_attribute(out, raw.flags(), raw.type_code(), value.len(), |o| {
        o.put_slice(value)
    })
}

/// Writes AGGREGATOR or AS4_AGGREGATOR; a 2-octet AGGREGATOR of a larger AS
/// says AS_TRANS (RFC 6793 4.2.2).
fn put_aggregator(
    out: &mut BytesMut,
    ty: AttrType,
    aggregator: Aggregator,
    four_octet: bool,
) -> Result<(), EncodeError> {
    let len = if four_octet { 8 } else { 6 };
    put_attribute(out, AttrFlags::OPTIONAL_TRANSITIVE, ty, len, |o| {
        if four_octet {
            o.put_u32(aggregator.asn);
        } else {
            o.put_u16(u16::try_from(aggregator.asn).unwrap_or(AS_TRANS as u16));
        }
        o.put_slice(&aggregator.address.octets());
    })
}

impl Update {
    /// Appends this UPDATE as one message. Fails, writing nothing, if it
    /// exceeds the session's message size, if a prefix does not belong to
    /// its field's family, or if add-path needs a missing path identifier.
    /// For many routes, [`UpdatePacker`](super::UpdatePacker) splits them
    /// over as few messages as possible.
    pub fn encode(&self, config: &CodecConfig, out: &mut BytesMut) -> Result<(), EncodeError> {
        let start = begin_message(out, MessageType::Update);
        match self.encode_body(config, out) {
            Ok(()) => finish_message(out, start, config.max_message_len()),
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }

    fn encode_body(&self, config: &CodecConfig, out: &mut BytesMut) -> Result<(), EncodeError> {
        let ipv4 = Family::IPV4_UNICAST;
        let add_path = config.sends_path_ids(ipv4);
        check_nlri(ipv4, IpVersion::V4, &self.withdrawn, add_path)?;
        check_nlri(ipv4, IpVersion::V4, &self.nlri, add_path)?;

        let withdrawn_at = out.len();
        out.put_u16(0);
        self.withdrawn
            .iter()
            .for_each(|n| encode_nlri(n, add_path, out));
        let withdrawn_len = out.len() - withdrawn_at - 2;

        let attrs_at = out.len();
        out.put_u16(0);
        if let Some(reach) = &self.mp_reach {
            let version = reach
                .family
                .prefix_version()
                .ok_or(EncodeError::UnsupportedFamily(reach.family))?;
            check_next_hop(reach.family, version, &reach.next_hop)?;
            let add_path = config.sends_path_ids(reach.family);
            check_nlri(reach.family, version, &reach.nlri, add_path)?;
            let len_at = begin_mp_reach(out, reach.family, &reach.next_hop);
            reach
                .nlri
                .iter()
                .for_each(|n| encode_nlri(n, add_path, out));
            end_mp_attribute(out, len_at);
        }
        if let Some(unreach) = &self.mp_unreach {
            let len_at = begin_mp_unreach(out, unreach.family);
            // An End-of-RIB marker may name any family; NLRI need one we know.
            if !unreach.nlri.is_empty() {
                let family = unreach.family;
                let version = family
                    .prefix_version()
                    .ok_or(EncodeError::UnsupportedFamily(family))?;
                let add_path = config.sends_path_ids(family);
                check_nlri(family, version, &unreach.nlri, add_path)?;
                unreach
                    .nlri
                    .iter()
                    .for_each(|n| encode_nlri(n, add_path, out));
            }
            end_mp_attribute(out, len_at);
        }
        let attributes = EncodedAttributes::new(&self.attributes, config.four_octet_as)?;
        let (before, after) = attributes.split_at_next_hop();
        out.put_slice(before);
        if let Some(addr) = self.next_hop {
            put_next_hop(out, addr);
        }
        out.put_slice(after);
        let attrs_len = out.len() - attrs_at - 2;
        self.nlri.iter().for_each(|n| encode_nlri(n, add_path, out));

        let max = config.max_message_len();
        for len in [withdrawn_len, attrs_len] {
            if len > usize::from(u16::MAX) {
                return Err(EncodeError::MessageTooLong { len, max });
            }
        }
        put_u16_at(out, withdrawn_at, withdrawn_len);
        put_u16_at(out, attrs_at, attrs_len);
        Ok(())
    }
}
