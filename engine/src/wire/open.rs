//! OPEN (RFC 4271 4.2) with capabilities (RFC 5492) and extended optional
//! parameters (RFC 9072).

use std::net::Ipv4Addr;

use bytes::{BufMut, BytesMut};

use super::capability::Capabilities;
use super::error::{DecodeError, EncodeError};
use super::header::{begin_message, finish_message, put_u16_at, MessageType, MAX_MESSAGE_LEN};
use super::notification::{ErrorKind, OpenSubcode};
use super::reader::Reader;
use super::update::AS_TRANS;

/// The protocol version this speaker runs.
pub const BGP_VERSION: u8 = 4;

/// The Capabilities optional parameter type (RFC 5492 4).
const CAPABILITIES_PARAMETER: u8 = 2;
/// The marker of extended optional parameters, in place of both the
/// parameters length and the first parameter type (RFC 9072 2).
const EXTENDED_PARAMETERS: u8 = 255;

/// An OPEN message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// The My Autonomous System field: the AS, or AS_TRANS when it has no
    /// 2-octet form (RFC 6793 4.2.1).
    pub my_as: u16,
    /// The proposed hold time in seconds: 0, or at least 3.
    pub hold_time: u16,
    /// The BGP identifier.
    pub bgp_id: Ipv4Addr,
    /// The capabilities.
    pub capabilities: Capabilities,
}

impl Open {
    /// An OPEN for AS `asn`, filling My AS with AS_TRANS for ASes over
    /// 65535. Such an AS also needs `capabilities.four_octet_as`.
    pub fn new(asn: u32, hold_time: u16, bgp_id: Ipv4Addr, capabilities: Capabilities) -> Self {
        let my_as = u16::try_from(asn).unwrap_or(AS_TRANS as u16);
        Open {
            my_as,
            hold_time,
            bgp_id,
            capabilities,
        }
    }

    /// The sender's AS: that of the 4-octet AS capability if present, else
    /// the My AS field (RFC 6793 4.2.1).
    pub fn asn(&self) -> u32 {
        self.capabilities
            .four_octet_as
            .unwrap_or(u32::from(self.my_as))
    }

    /// Reads the body of an OPEN (the octets after the header), with the
    /// checks of RFC 4271 6.2 that need no configuration. Checking the AS
    /// and the identifier against the peer's configuration is the
    /// session's work.
    pub fn decode(body: &[u8]) -> Result<Open, DecodeError> {
        let open_error =
            |reason, subcode| DecodeError::new(reason, ErrorKind::Open(subcode), Vec::new());
        let mut r = Reader::new(body);
        let fixed = (r.u8(), r.u16(), r.u16(), r.u32(), r.u8());
        let (Some(version), Some(my_as), Some(hold_time), Some(bgp_id), Some(params_len)) = fixed
        else {
            return Err(open_error("OPEN too short", OpenSubcode::Unspecific));
        };
        if version != BGP_VERSION {
            // RFC 4271 6.2: the data is the largest version we support.
            let data = u16::from(BGP_VERSION).to_be_bytes().to_vec();
            return Err(DecodeError::new(
                "unsupported BGP version",
                ErrorKind::Open(OpenSubcode::UnsupportedVersionNumber),
                data,
            ));
        }
        if my_as == 0 {
            // RFC 7607 2.
            return Err(open_error("peer AS 0", OpenSubcode::BadPeerAs));
        }
        if hold_time == 1 || hold_time == 2 {
            // RFC 4271 6.2.
            return Err(open_error(
                "hold time of 1 or 2 seconds",
                OpenSubcode::UnacceptableHoldTime,
            ));
        }
        if bgp_id == 0 {
            // RFC 6286 2.1: the identifier is non-zero.
            return Err(open_error(
                "BGP identifier 0",
                OpenSubcode::BadBgpIdentifier,
            ));
        }
        let extended = params_len == EXTENDED_PARAMETERS && r.peek() == Some(EXTENDED_PARAMETERS);
        let params = if extended {
            r.u8();
            r.u16().and_then(|len| r.take(usize::from(len)))
        } else {
            r.take(usize::from(params_len))
        };
        let Some(params) = params.filter(|_| r.is_empty()) else {
            return Err(open_error(
                "optional parameters length disagrees with the message",
                OpenSubcode::Unspecific,
            ));
        };

        let mut capabilities = Capabilities::default();
        let mut r = Reader::new(params);
        while !r.is_empty() {
            let kind = r.u8();
            let len = if extended {
                r.u16()
            } else {
                r.u8().map(u16::from)
            };
            let (Some(kind), Some(value)) = (kind, len.and_then(|len| r.take(usize::from(len))))
            else {
                return Err(open_error(
                    "optional parameter overruns the list",
                    OpenSubcode::Unspecific,
                ));
            };
            if kind != CAPABILITIES_PARAMETER {
                return Err(open_error(
                    "unsupported optional parameter",
                    OpenSubcode::UnsupportedOptionalParameter,
                ));
            }
            capabilities
                .decode_parameter(value)
                .map_err(|_| open_error("malformed capability", OpenSubcode::Unspecific))?;
        }
        if capabilities.four_octet_as == Some(0) {
            // RFC 7607 2.
            return Err(open_error("peer AS 0", OpenSubcode::BadPeerAs));
        }
        Ok(Open {
            my_as,
            hold_time,
            bgp_id: Ipv4Addr::from(bgp_id),
            capabilities,
        })
    }

    /// Appends the message. The capabilities go in one parameter; when they
    /// exceed what a 1-octet parameters length can say, the extended format
    /// of RFC 9072 is used.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let mut caps = BytesMut::new();
        self.capabilities.encode(&mut caps)?;

        let start = begin_message(out, MessageType::Open);
        out.put_u8(BGP_VERSION);
        out.put_u16(self.my_as);
        out.put_u16(self.hold_time);
        out.put_slice(&self.bgp_id.octets());
        match u8::try_from(caps.len() + 2) {
            _ if caps.is_empty() => out.put_u8(0),
            Ok(params_len) if params_len < EXTENDED_PARAMETERS => {
                out.put_u8(params_len);
                out.put_u8(CAPABILITIES_PARAMETER);
                out.put_u8(u8::try_from(caps.len()).unwrap_or(u8::MAX));
                out.put_slice(&caps);
            }
            _ => {
                out.put_u8(EXTENDED_PARAMETERS);
                out.put_u8(EXTENDED_PARAMETERS);
                let len_at = out.len();
                out.put_u16(0);
                out.put_u8(CAPABILITIES_PARAMETER);
                out.put_u16(u16::try_from(caps.len()).unwrap_or(u16::MAX));
                out.put_slice(&caps);
                put_u16_at(out, len_at, out.len() - len_at - 2);
            }
        }
        finish_message(out, start, MAX_MESSAGE_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::capability::RawCapability;
    use crate::wire::family::Family;
    use crate::wire::notification::Notification;
    use bytes::Bytes;

    fn body(out: &BytesMut) -> &[u8] {
        &out[19..]
    }

    #[test]
    fn rfc4271_rfc5492_vector() {
        // AS 65001, hold 180, id 10.0.0.1, one Capabilities parameter with
        // multiprotocol IPv4 unicast and route refresh.
        let caps = Capabilities {
            multiprotocol: vec![Family::IPV4_UNICAST],
            route_refresh: true,
            ..Default::default()
        };
        let open = Open::new(65001, 180, Ipv4Addr::new(10, 0, 0, 1), caps);
        let mut out = BytesMut::new();
        open.encode(&mut out).unwrap();
        let mut expected = vec![0xff; 16];
        expected.extend_from_slice(&[
            0, 39, 1, 4, 0xfd, 0xe9, 0, 180, 10, 0, 0, 1, 10, 2, 8, 1, 4, 0, 1, 0, 1, 2, 0,
        ]);
        assert_eq!(&out[..], &expected[..]);
        assert_eq!(Open::decode(body(&out)).unwrap(), open);
    }

    #[test]
    fn rfc6793_as_trans_in_my_as() {
        let caps = Capabilities {
            four_octet_as: Some(4_200_000_000),
            ..Default::default()
        };
        let open = Open::new(4_200_000_000, 90, Ipv4Addr::new(1, 1, 1, 1), caps);
        assert_eq!(open.my_as, 23456);
        let mut out = BytesMut::new();
        open.encode(&mut out).unwrap();
        let back = Open::decode(body(&out)).unwrap();
        assert_eq!(back.asn(), 4_200_000_000);
        assert_eq!(
            Open::new(
                65001,
                90,
                Ipv4Addr::new(1, 1, 1, 1),
                Capabilities::default()
            )
            .asn(),
            65001
        );
    }

    #[test]
    fn rfc9072_extended_parameters_round_trip() {
        let caps = Capabilities {
            unknown: vec![
                RawCapability {
                    code: 200,
                    value: Bytes::from(vec![1; 200]),
                },
                RawCapability {
                    code: 201,
                    value: Bytes::from(vec![2; 100]),
                },
            ],
            ..Default::default()
        };
        let open = Open::new(65001, 0, Ipv4Addr::new(1, 2, 3, 4), caps);
        let mut out = BytesMut::new();
        open.encode(&mut out).unwrap();
        assert_eq!(&body(&out)[9..14], [255, 255, 1, 51, 2].as_slice());
        assert_eq!(Open::decode(body(&out)).unwrap(), open);
    }

    #[test]
    fn no_parameters() {
        let open = Open::new(1, 3, Ipv4Addr::new(1, 2, 3, 4), Capabilities::default());
        let mut out = BytesMut::new();
        open.encode(&mut out).unwrap();
        assert_eq!(out.len(), 29);
        assert_eq!(Open::decode(body(&out)).unwrap(), open);
    }

    fn error_of(body: &[u8]) -> Notification {
        Open::decode(body).unwrap_err().notification
    }

    #[test]
    fn rfc4271_open_errors() {
        let good = [4, 0xfd, 0xe9, 0, 180, 10, 0, 0, 1, 0];
        assert!(Open::decode(&good).is_ok());

        let mut version = good;
        version[0] = 3;
        let n = error_of(&version);
        assert_eq!(
            n.kind,
            ErrorKind::Open(OpenSubcode::UnsupportedVersionNumber)
        );
        assert_eq!(&n.data[..], [0, 4].as_slice());

        let mut hold = good;
        hold[4] = 2;
        assert_eq!(
            error_of(&hold).kind,
            ErrorKind::Open(OpenSubcode::UnacceptableHoldTime)
        );

        let mut id = good;
        id[5..9].copy_from_slice(&[0; 4]);
        assert_eq!(
            error_of(&id).kind,
            ErrorKind::Open(OpenSubcode::BadBgpIdentifier)
        );

        let mut asn = good;
        asn[1..3].copy_from_slice(&[0; 2]);
        assert_eq!(error_of(&asn).kind, ErrorKind::Open(OpenSubcode::BadPeerAs));

        let auth = [4, 0xfd, 0xe9, 0, 180, 10, 0, 0, 1, 3, 1, 1, 0];
        assert_eq!(
            error_of(&auth).kind,
            ErrorKind::Open(OpenSubcode::UnsupportedOptionalParameter)
        );

        let overrun = [4, 0xfd, 0xe9, 0, 180, 10, 0, 0, 1, 4, 2, 3, 2, 0];
        assert_eq!(
            error_of(&overrun).kind,
            ErrorKind::Open(OpenSubcode::Unspecific)
        );

        let trailing = [4, 0xfd, 0xe9, 0, 180, 10, 0, 0, 1, 0, 9];
        assert_eq!(
            error_of(&trailing).kind,
            ErrorKind::Open(OpenSubcode::Unspecific)
        );

        let bad_cap = [4, 0xfd, 0xe9, 0, 180, 10, 0, 0, 1, 5, 2, 3, 65, 1, 0];
        assert_eq!(
            error_of(&bad_cap).kind,
            ErrorKind::Open(OpenSubcode::Unspecific)
        );

        let zero_as4 = [
            4, 0x5b, 0xa0, 0, 180, 10, 0, 0, 1, 8, 2, 6, 65, 4, 0, 0, 0, 0,
        ];
        assert_eq!(
            error_of(&zero_as4).kind,
            ErrorKind::Open(OpenSubcode::BadPeerAs)
        );

        assert_eq!(
            error_of(&good[..8]).kind,
            ErrorKind::Open(OpenSubcode::Unspecific)
        );
    }
}
