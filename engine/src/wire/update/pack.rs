//! Packing many routes that share one attribute block into as few UPDATEs
//! as the session's message size allows.
//!
//! Each message is written straight into the output buffer: the header, the
//! attribute block copied from its single encoding, and NLRI until the next
//! one would not fit. IPv4 unicast routes with an IPv4 next hop use the
//! classic fields; every other family goes in MP_REACH_NLRI or
//! MP_UNREACH_NLRI, placed first (RFC 7606 5.1).

use std::net::Ipv4Addr;

use bytes::{BufMut, BytesMut};

use super::encode::{
    begin_mp_reach, begin_mp_unreach, check_next_hop, check_nlri, end_mp_attribute, put_next_hop,
    EncodedAttributes, NEXT_HOP_ATTR_LEN,
};
use super::{NextHop, Update};
use crate::wire::config::CodecConfig;
use crate::wire::error::EncodeError;
use crate::wire::family::Family;
use crate::wire::header::{
    begin_message, finish_message, put_u16_at, MessageType, MAX_MESSAGE_LEN,
};
use crate::wire::prefix::{encode_nlri, Nlri};

/// Writes batches of routes as full UPDATE messages for one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatePacker {
    max_len: usize,
    add_path_send: Vec<Family>,
}

impl UpdatePacker {
    /// A packer for a session's message size and add-path settings.
    pub fn new(config: &CodecConfig) -> Self {
        UpdatePacker {
            max_len: config.max_message_len(),
            add_path_send: config.add_path_send.clone(),
        }
    }

    /// Appends UPDATEs announcing `nlri` of `family` with `attributes` and
    /// `next_hop`, each filled up to the size limit; returns how many were
    /// written. On error nothing is written.
    ///
    /// An IPv4 next hop for IPv4 unicast goes in NEXT_HOP with the routes in
    /// the NLRI field. An IPv6 next hop for IPv4 (RFC 8950, which the caller
    /// must have negotiated) and every other family use MP_REACH_NLRI.
    pub fn announce(
        &self,
        attributes: &EncodedAttributes,
        family: Family,
        next_hop: NextHop,
        nlri: &[Nlri],
        out: &mut BytesMut,
    ) -> Result<usize, EncodeError> {
        let version = family
            .prefix_version()
            .ok_or(EncodeError::UnsupportedFamily(family))?;
        check_next_hop(family, version, &next_hop)?;
        let shape = match next_hop {
            NextHop::V4(addr) if family == Family::IPV4_UNICAST => Shape::Classic {
                attributes,
                next_hop: addr,
            },
            _ => Shape::MpReach {
                attributes,
                family,
                next_hop,
            },
        };
        self.pack(&shape, family, nlri, out)
    }

    /// Appends UPDATEs withdrawing `nlri` of `family`, each filled up to the
    /// size limit; returns how many were written. IPv4 unicast uses the
    /// Withdrawn Routes field, other families MP_UNREACH_NLRI. No routes
    /// write nothing: End-of-RIB has [`UpdatePacker::end_of_rib`].
    pub fn withdraw(
        &self,
        family: Family,
        nlri: &[Nlri],
        out: &mut BytesMut,
    ) -> Result<usize, EncodeError> {
        family
            .prefix_version()
            .ok_or(EncodeError::UnsupportedFamily(family))?;
        let shape = if family == Family::IPV4_UNICAST {
            Shape::Withdrawn
        } else {
            Shape::MpUnreach { family }
        };
        self.pack(&shape, family, nlri, out)
    }

    /// Appends the End-of-RIB marker of `family` (RFC 4724 2).
    pub fn end_of_rib(&self, family: Family, out: &mut BytesMut) -> Result<(), EncodeError> {
        let config = CodecConfig {
            extended_message: self.max_len > MAX_MESSAGE_LEN,
            ..CodecConfig::default()
        };
        Update::end_of_rib(family).encode(&config, out)
    }

    /// Writes messages of `shape` until every NLRI is placed; on error
    /// removes what it wrote.
    fn pack(
        &self,
        shape: &Shape<'_>,
        family: Family,
        nlri: &[Nlri],
        out: &mut BytesMut,
    ) -> Result<usize, EncodeError> {
        let add_path = self.add_path_send.contains(&family);
        check_nlri(
            family,
            family
                .prefix_version()
                .ok_or(EncodeError::UnsupportedFamily(family))?,
            nlri,
            add_path,
        )?;
        let first = out.len();
        let mut rest = nlri;
        let mut messages = 0;
        while !rest.is_empty() {
            let start = begin_message(out, MessageType::Update);
            let marks = shape.begin(out);
            let mut room = self
                .max_len
                .saturating_sub(out.len() - start + shape.trailer_len());
            let mut placed = 0;
            for n in rest {
                let len = n.wire_len(add_path);
                if len > room {
                    break;
                }
                encode_nlri(n, add_path, out);
                room -= len;
                placed += 1;
            }
            if placed == 0 {
                out.truncate(first);
                return Err(EncodeError::AttributesTooLarge { max: self.max_len });
            }
            shape.finish(out, marks);
            if let Err(e) = finish_message(out, start, self.max_len) {
                out.truncate(first);
                return Err(e);
            }
            rest = rest.get(placed..).unwrap_or_default();
            messages += 1;
        }
        Ok(messages)
    }
}

/// The layout of the UPDATEs of one batch.
enum Shape<'a> {
    /// Withdrawn Routes empty, the block with NEXT_HOP, routes in the NLRI
    /// field.
    Classic {
        attributes: &'a EncodedAttributes,
        next_hop: Ipv4Addr,
    },
    /// MP_REACH_NLRI holding the routes, then the block.
    MpReach {
        attributes: &'a EncodedAttributes,
        family: Family,
        next_hop: NextHop,
    },
    /// Routes in the Withdrawn Routes field, no attributes.
    Withdrawn,
    /// MP_UNREACH_NLRI holding the routes, nothing else.
    MpUnreach { family: Family },
}

/// Length fields to fill in once a message's NLRI are written.
#[derive(Clone, Copy)]
struct Marks {
    /// The Withdrawn Routes Length or Total Path Attribute Length.
    section_at: usize,
    /// The MP attribute's length, for the MP shapes.
    mp_at: usize,
}

impl Shape<'_> {
    /// Writes what precedes the NLRI, after the header.
    fn begin(&self, out: &mut BytesMut) -> Marks {
        match self {
            Shape::Classic {
                attributes,
                next_hop,
            } => {
                out.put_u16(0);
                let section_at = out.len();
                out.put_u16(0);
                let (before, after) = attributes.split_at_next_hop();
                out.put_slice(before);
                put_next_hop(out, *next_hop);
                out.put_slice(after);
                put_u16_at(out, section_at, attributes.len() + NEXT_HOP_ATTR_LEN);
                Marks {
                    section_at,
                    mp_at: 0,
                }
            }
            Shape::MpReach {
                family, next_hop, ..
            } => {
                out.put_u16(0);
                let section_at = out.len();
                out.put_u16(0);
                Marks {
                    section_at,
                    mp_at: begin_mp_reach(out, *family, next_hop),
                }
            }
            Shape::Withdrawn => {
                let section_at = out.len();
                out.put_u16(0);
                Marks {
                    section_at,
                    mp_at: 0,
                }
            }
            Shape::MpUnreach { family } => {
                out.put_u16(0);
                let section_at = out.len();
                out.put_u16(0);
                Marks {
                    section_at,
                    mp_at: begin_mp_unreach(out, *family),
                }
            }
        }
    }

    /// Octets that follow the NLRI.
    fn trailer_len(&self) -> usize {
        match self {
            Shape::MpReach { attributes, .. } => attributes.len(),
            // The empty Total Path Attribute Length.
            Shape::Withdrawn => 2,
            Shape::Classic { .. } | Shape::MpUnreach { .. } => 0,
        }
    }

    /// Writes what follows the NLRI and fills in the lengths.
    fn finish(&self, out: &mut BytesMut, marks: Marks) {
        match self {
            Shape::Classic { .. } => {}
            Shape::MpReach { attributes, .. } => {
                end_mp_attribute(out, marks.mp_at);
                out.put_slice(attributes.as_bytes());
                put_u16_at(out, marks.section_at, out.len() - marks.section_at - 2);
            }
            Shape::Withdrawn => {
                put_u16_at(out, marks.section_at, out.len() - marks.section_at - 2);
                out.put_u16(0);
            }
            Shape::MpUnreach { .. } => {
                end_mp_attribute(out, marks.mp_at);
                put_u16_at(out, marks.section_at, out.len() - marks.section_at - 2);
            }
        }
    }
}
