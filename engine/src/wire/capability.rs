//! Capabilities advertised in OPEN (RFC 5492) and the ones this speaker
//! understands.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::EncodeError;
use super::family::{Afi, Family, Safi};
use super::reader::Reader;

const MULTIPROTOCOL: u8 = 1; // RFC 4760
const ROUTE_REFRESH: u8 = 2; // RFC 2918
const EXTENDED_NEXT_HOP: u8 = 5; // RFC 8950
const EXTENDED_MESSAGE: u8 = 6; // RFC 8654
const GRACEFUL_RESTART: u8 = 64; // RFC 4724
const FOUR_OCTET_AS: u8 = 65; // RFC 6793
const ADD_PATH: u8 = 69; // RFC 7911
const ENHANCED_ROUTE_REFRESH: u8 = 70; // RFC 7313
const LONG_LIVED_GRACEFUL_RESTART: u8 = 71; // RFC 9494

/// Which way add-path identifiers flow for a family (RFC 7911 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddPathDirection {
    /// The sender can receive several paths.
    Receive,
    /// The sender can send several paths.
    Send,
    /// Both.
    Both,
}

impl AddPathDirection {
    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(AddPathDirection::Receive),
            2 => Some(AddPathDirection::Send),
            3 => Some(AddPathDirection::Both),
            _ => None,
        }
    }

    fn code(self) -> u8 {
        match self {
            AddPathDirection::Receive => 1,
            AddPathDirection::Send => 2,
            AddPathDirection::Both => 3,
        }
    }

    /// Whether the advertiser can receive several paths.
    pub fn receives(self) -> bool {
        matches!(self, AddPathDirection::Receive | AddPathDirection::Both)
    }

    /// Whether the advertiser can send several paths.
    pub fn sends(self) -> bool {
        matches!(self, AddPathDirection::Send | AddPathDirection::Both)
    }
}

/// One family of the add-path capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddPath {
    /// The family.
    pub family: Family,
    /// The direction.
    pub direction: AddPathDirection,
}

/// One encoding of the extended next hop capability (RFC 8950 3): NLRI of
/// `family` may carry a next hop of `next_hop_afi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExtendedNextHop {
    /// The NLRI family.
    pub family: Family,
    /// The next hop's address family.
    pub next_hop_afi: Afi,
}

/// One family of the graceful restart capability (RFC 4724 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GracefulRestartFamily {
    /// The family.
    pub family: Family,
    /// Forwarding state for the family was kept over the restart.
    pub forwarding_preserved: bool,
}

/// The graceful restart capability (RFC 4724 3, RFC 8538 2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct GracefulRestart {
    /// The Restart State bit: the sender has restarted.
    pub restarting: bool,
    /// The N bit: the sender does graceful restart for NOTIFICATIONs too
    /// (RFC 8538).
    pub notification: bool,
    /// Seconds the peer should keep our routes while we restart (12 bits).
    pub restart_time: u16,
    /// The families the sender preserves.
    pub families: Vec<GracefulRestartFamily>,
}

/// One family of the long-lived graceful restart capability (RFC 9494 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LongLivedFamily {
    /// The family.
    pub family: Family,
    /// Forwarding state for the family was kept over the restart.
    pub forwarding_preserved: bool,
    /// Seconds the peer should keep our routes as long-lived stale after
    /// the restart time (24 bits).
    pub stale_time: u32,
}

/// A capability this speaker does not interpret, kept as received.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawCapability {
    /// The capability code.
    pub code: u8,
    /// The value.
    pub value: Bytes,
}

impl RawCapability {
    /// FQDN / hostname (draft-walton-bgp-hostname-capability), kept raw.
    pub const FQDN: u8 = 73;
}

/// Why a capability could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed capability {code}")]
pub struct CapabilityError {
    /// The capability code.
    pub code: u8,
}

/// The capabilities of one OPEN, merged: a capability may appear several
/// times (RFC 5492 4), which adds families; a repeated single-valued one
/// keeps its last value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Multiprotocol families (RFC 4760 8), without duplicates.
    pub multiprotocol: Vec<Family>,
    /// Route refresh (RFC 2918).
    pub route_refresh: bool,
    /// Enhanced route refresh (RFC 7313).
    pub enhanced_route_refresh: bool,
    /// The 4-octet AS number (RFC 6793).
    pub four_octet_as: Option<u32>,
    /// Extended next hop encodings (RFC 8950).
    pub extended_next_hop: Vec<ExtendedNextHop>,
    /// Extended messages (RFC 8654).
    pub extended_message: bool,
    /// Add-path per family (RFC 7911).
    pub add_path: Vec<AddPath>,
    /// Graceful restart (RFC 4724).
    pub graceful_restart: Option<GracefulRestart>,
    /// Long-lived graceful restart (RFC 9494): its families, when sent.
    pub long_lived_graceful_restart: Option<Vec<LongLivedFamily>>,
    /// Every other capability, in received order.
    pub unknown: Vec<RawCapability>,
}

impl Capabilities {
    /// The families the advertiser can exchange: its multiprotocol ones, or
    /// IPv4 unicast alone when it sent none (the base protocol's family).
    pub fn families(&self) -> Vec<Family> {
        if self.multiprotocol.is_empty() {
            return vec![Family::IPV4_UNICAST];
        }
        self.multiprotocol.clone()
    }

    /// The add-path direction advertised for `family`.
    pub fn add_path_for(&self, family: Family) -> Option<AddPathDirection> {
        self.add_path
            .iter()
            .find(|a| a.family == family)
            .map(|a| a.direction)
    }

    /// Reads the capabilities of one Capabilities optional parameter
    /// (RFC 5492 4) into `self`.
    pub(crate) fn decode_parameter(&mut self, value: &[u8]) -> Result<(), CapabilityError> {
        let mut r = Reader::new(value);
        while !r.is_empty() {
            let code = r.u8().ok_or(CapabilityError { code: 0 })?;
            let body = r
                .u8()
                .and_then(|len| r.take(usize::from(len)))
                .ok_or(CapabilityError { code })?;
            self.decode_one(code, body)
                .ok_or(CapabilityError { code })?;
        }
        Ok(())
    }

    /// Reads one capability; `None` if malformed.
    fn decode_one(&mut self, code: u8, value: &[u8]) -> Option<()> {
        let mut r = Reader::new(value);
        match code {
            MULTIPROTOCOL => {
                let (afi, _reserved, safi) = (r.u16()?, r.u8()?, r.u8()?);
                let family = Family::new(Afi(afi), Safi(safi));
                if !self.multiprotocol.contains(&family) {
                    self.multiprotocol.push(family);
                }
            }
            ROUTE_REFRESH => self.route_refresh = true,
            ENHANCED_ROUTE_REFRESH => self.enhanced_route_refresh = true,
            EXTENDED_MESSAGE => self.extended_message = true,
            FOUR_OCTET_AS => self.four_octet_as = Some(r.u32()?),
            EXTENDED_NEXT_HOP => {
                if value.len() % 6 != 0 {
                    return None;
                }
                while !r.is_empty() {
                    let (afi, safi, next_hop_afi) = (r.u16()?, r.u16()?, r.u16()?);
                    // SAFIs are one octet everywhere else; a larger one
                    // names no family this speaker has.
                    if let Ok(safi) = u8::try_from(safi) {
                        let family = Family::new(Afi(afi), Safi(safi));
                        self.extended_next_hop.push(ExtendedNextHop {
                            family,
                            next_hop_afi: Afi(next_hop_afi),
                        });
                    }
                }
            }
            ADD_PATH => {
                if value.len() % 4 != 0 {
                    return None;
                }
                while !r.is_empty() {
                    let (afi, safi, direction) = (r.u16()?, r.u8()?, r.u8()?);
                    let family = Family::new(Afi(afi), Safi(safi));
                    // RFC 7911 4: other Send/Receive values are ignored.
                    if let Some(direction) = AddPathDirection::from_code(direction) {
                        self.add_path.retain(|a| a.family != family);
                        self.add_path.push(AddPath { family, direction });
                    }
                }
            }
            GRACEFUL_RESTART => {
                if value.len() < 2 || (value.len() - 2) % 4 != 0 {
                    return None;
                }
                let head = r.u16()?;
                let mut gr = GracefulRestart {
                    restarting: head & 0x8000 != 0,
                    notification: head & 0x4000 != 0,
                    restart_time: head & 0x0fff,
                    families: Vec::new(),
                };
                while !r.is_empty() {
                    let (afi, safi, flags) = (r.u16()?, r.u8()?, r.u8()?);
                    gr.families.push(GracefulRestartFamily {
                        family: Family::new(Afi(afi), Safi(safi)),
                        forwarding_preserved: flags & 0x80 != 0,
                    });
                }
                self.graceful_restart = Some(gr);
            }
            LONG_LIVED_GRACEFUL_RESTART => {
                if value.len() % 7 != 0 {
                    return None;
                }
                let families = self
                    .long_lived_graceful_restart
                    .get_or_insert_with(Vec::new);
                while !r.is_empty() {
                    let (afi, safi, flags) = (r.u16()?, r.u8()?, r.u8()?);
                    let time = r.take(3)?;
                    let family = Family::new(Afi(afi), Safi(safi));
                    families.retain(|f| f.family != family);
                    families.push(LongLivedFamily {
                        family,
                        forwarding_preserved: flags & 0x80 != 0,
                        stale_time: u32::from(time[0]) << 16
                            | u32::from(time[1]) << 8
                            | u32::from(time[2]),
                    });
                }
            }
            _ => {
                self.unknown.push(RawCapability {
                    code,
                    value: Bytes::copy_from_slice(value),
                });
                return Some(());
            }
        }
        // Fixed-size capabilities must be exactly their size (RFC 5492 leaves
        // malformed ones to the OPEN error of RFC 4271 6.2).
        r.is_empty().then_some(())
    }

    /// Writes every capability, in code order with unknown ones last, as
    /// the value of one Capabilities optional parameter.
    pub(crate) fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        for family in &self.multiprotocol {
            put_capability(out, MULTIPROTOCOL, 4, |o| {
                o.put_u16(family.afi.0);
                o.put_u8(0);
                o.put_u8(family.safi.0);
            })?;
        }
        if self.route_refresh {
            put_capability(out, ROUTE_REFRESH, 0, |_| {})?;
        }
        if !self.extended_next_hop.is_empty() {
            put_capability(
                out,
                EXTENDED_NEXT_HOP,
                self.extended_next_hop.len() * 6,
                |o| {
                    for e in &self.extended_next_hop {
                        o.put_u16(e.family.afi.0);
                        o.put_u16(u16::from(e.family.safi.0));
                        o.put_u16(e.next_hop_afi.0);
                    }
                },
            )?;
        }
        if self.extended_message {
            put_capability(out, EXTENDED_MESSAGE, 0, |_| {})?;
        }
        if let Some(gr) = &self.graceful_restart {
            if gr.restart_time > 0x0fff {
                return Err(EncodeError::RestartTimeTooLong(gr.restart_time));
            }
            put_capability(out, GRACEFUL_RESTART, 2 + gr.families.len() * 4, |o| {
                let flags = if gr.restarting { 0x8000 } else { 0 }
                    | if gr.notification { 0x4000 } else { 0 };
                o.put_u16(flags | gr.restart_time);
                for f in &gr.families {
                    o.put_u16(f.family.afi.0);
                    o.put_u8(f.family.safi.0);
                    o.put_u8(if f.forwarding_preserved { 0x80 } else { 0 });
                }
            })?;
        }
        if let Some(asn) = self.four_octet_as {
            put_capability(out, FOUR_OCTET_AS, 4, |o| o.put_u32(asn))?;
        }
        if !self.add_path.is_empty() {
            put_capability(out, ADD_PATH, self.add_path.len() * 4, |o| {
                for a in &self.add_path {
                    o.put_u16(a.family.afi.0);
                    o.put_u8(a.family.safi.0);
                    o.put_u8(a.direction.code());
                }
            })?;
        }
        if self.enhanced_route_refresh {
            put_capability(out, ENHANCED_ROUTE_REFRESH, 0, |_| {})?;
        }
        if let Some(families) = &self.long_lived_graceful_restart {
            put_capability(out, LONG_LIVED_GRACEFUL_RESTART, families.len() * 7, |o| {
                for f in families {
                    o.put_u16(f.family.afi.0);
                    o.put_u8(f.family.safi.0);
                    o.put_u8(if f.forwarding_preserved { 0x80 } else { 0 });
                    let t = f.stale_time.min(0x00ff_ffff);
                    o.put_slice(&[(t >> 16) as u8, (t >> 8) as u8, t as u8]);
                }
            })?;
        }
        for raw in &self.unknown {
            put_capability(out, raw.code, raw.value.len(), |o| o.put_slice(&raw.value))?;
        }
        Ok(())
    }
}

/// Writes one capability of `len` value octets with `write`.
fn put_capability(
    out: &mut BytesMut,
    code: u8,
    len: usize,
    write: impl FnOnce(&mut BytesMut),
) -> Result<(), EncodeError> {
    let short = u8::try_from(len).map_err(|_| EncodeError::CapabilityTooLong { code, len })?;
    out.put_u8(code);
    out.put_u8(short);
    write(out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(caps: &Capabilities) -> Capabilities {
        let mut out = BytesMut::new();
        caps.encode(&mut out).unwrap();
        let mut back = Capabilities::default();
        back.decode_parameter(&out).unwrap();
        back
    }

    #[test]
    fn every_capability_round_trips() {
        let caps = Capabilities {
            multiprotocol: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
            route_refresh: true,
            enhanced_route_refresh: true,
            four_octet_as: Some(4_200_000_000),
            extended_next_hop: vec![ExtendedNextHop {
                family: Family::IPV4_UNICAST,
                next_hop_afi: Afi::IPV6,
            }],
            extended_message: true,
            add_path: vec![
                AddPath {
                    family: Family::IPV4_UNICAST,
                    direction: AddPathDirection::Both,
                },
                AddPath {
                    family: Family::IPV6_UNICAST,
                    direction: AddPathDirection::Receive,
                },
            ],
            graceful_restart: Some(GracefulRestart {
                restarting: true,
                notification: true,
                restart_time: 120,
                families: vec![GracefulRestartFamily {
                    family: Family::IPV6_UNICAST,
                    forwarding_preserved: true,
                }],
            }),
            long_lived_graceful_restart: Some(vec![LongLivedFamily {
                family: Family::IPV6_UNICAST,
                forwarding_preserved: true,
                stale_time: 0x00ab_cdef,
            }]),
            unknown: vec![RawCapability {
                code: RawCapability::FQDN,
                value: Bytes::from_static(b"\x02r1\x00"),
            }],
        };
        assert_eq!(round_trip(&caps), caps);
    }

    #[test]
    fn rfc_vectors() {
        // Multiprotocol IPv6 unicast (RFC 4760 8), 4-octet AS 65536 (RFC 6793),
        // graceful restart with R bit and 90 s, IPv4 unicast forwarding kept
        // (RFC 4724 3), add-path IPv4 unicast send/receive (RFC 7911 4).
        let bytes = [
            1, 4, 0, 2, 0, 1, //
            65, 4, 0, 1, 0, 0, //
            64, 6, 0x80, 90, 0, 1, 1, 0x80, //
            69, 4, 0, 1, 1, 3,
        ];
        let mut caps = Capabilities::default();
        caps.decode_parameter(&bytes).unwrap();
        assert_eq!(caps.multiprotocol, [Family::IPV6_UNICAST]);
        assert_eq!(caps.four_octet_as, Some(65536));
        let gr = caps.graceful_restart.as_ref().unwrap();
        assert!(gr.restarting && !gr.notification);
        assert_eq!(gr.restart_time, 90);
        assert_eq!(
            gr.families,
            [GracefulRestartFamily {
                family: Family::IPV4_UNICAST,
                forwarding_preserved: true
            }]
        );
        assert_eq!(
            caps.add_path_for(Family::IPV4_UNICAST),
            Some(AddPathDirection::Both)
        );
        let mut out = BytesMut::new();
        caps.encode(&mut out).unwrap();
        // Encoding is in code order: 1, 64, 65, 69.
        assert_eq!(
            &out[..],
            [&bytes[..6], &bytes[12..20], &bytes[6..12], &bytes[20..]].concat()
        );
    }

    #[test]
    fn malformed_capabilities() {
        let mut caps = Capabilities::default();
        assert_eq!(
            caps.decode_parameter(&[65, 2, 0, 1]),
            Err(CapabilityError { code: 65 })
        );
        assert_eq!(
            caps.decode_parameter(&[2, 1, 0]),
            Err(CapabilityError { code: 2 })
        );
        assert_eq!(
            caps.decode_parameter(&[69, 3, 0, 1, 1]),
            Err(CapabilityError { code: 69 })
        );
        assert_eq!(
            caps.decode_parameter(&[64, 3, 0, 1, 1]),
            Err(CapabilityError { code: 64 })
        );
        assert_eq!(
            caps.decode_parameter(&[1, 9]),
            Err(CapabilityError { code: 1 })
        );
    }

    #[test]
    fn unknown_and_repeated_capabilities() {
        let mut caps = Capabilities::default();
        caps.decode_parameter(&[
            200, 0, 1, 4, 0, 1, 0, 1, 1, 4, 0, 1, 0, 1, 69, 4, 0, 2, 1, 9,
        ])
        .unwrap();
        assert_eq!(
            caps.unknown,
            [RawCapability {
                code: 200,
                value: Bytes::new()
            }]
        );
        // Long-lived graceful restart: 7-octet tuples, an empty one too.
        let mut ll = Capabilities::default();
        ll.decode_parameter(&[71, 0]).unwrap();
        assert_eq!(ll.long_lived_graceful_restart, Some(vec![]));
        assert_eq!(
            ll.decode_parameter(&[71, 3, 0, 1, 1]),
            Err(CapabilityError { code: 71 })
        );
        assert_eq!(caps.multiprotocol, [Family::IPV4_UNICAST]);
        assert!(caps.add_path.is_empty(), "direction 9 is ignored");
        assert_eq!(Capabilities::default().families(), [Family::IPV4_UNICAST]);
    }

    #[test]
    fn oversized_values_are_refused() {
        let caps = Capabilities {
            add_path: (0..64)
                .map(|i| AddPath {
                    family: Family::new(Afi(i), Safi::UNICAST),
                    direction: AddPathDirection::Both,
                })
                .collect(),
            ..Capabilities::default()
        };
        assert_eq!(
            caps.encode(&mut BytesMut::new()),
            Err(EncodeError::CapabilityTooLong { code: 69, len: 256 })
        );
        let gr = Capabilities {
            graceful_restart: Some(GracefulRestart {
                restart_time: 5000,
                ..GracefulRestart::default()
            }),
            ..Capabilities::default()
        };
        assert_eq!(
            gr.encode(&mut BytesMut::new()),
            Err(EncodeError::RestartTimeTooLong(5000))
        );
    }
}
