//! ROUTE-REFRESH (RFC 2918 3) with the message subtypes of enhanced route
//! refresh (RFC 7313 3).

use bytes::{BufMut, BytesMut};

use super::error::{DecodeError, EncodeError};
use super::family::{Afi, Family, Safi};
use super::frame::Frame;
use super::header::{begin_message, finish_message, MessageType};
use super::notification::{ErrorKind, RouteRefreshSubcode};

/// The subtype octet of ROUTE-REFRESH (RFC 7313 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteRefreshSubtype {
    /// 0: a plain request to re-advertise (RFC 2918).
    Normal,
    /// 1: Beginning of Route Refresh (BoRR).
    BeginningOfRefresh,
    /// 2: End of Route Refresh (EoRR).
    EndOfRefresh,
    /// Another value; RFC 7313 5 says to ignore the message.
    Reserved(u8),
}

impl RouteRefreshSubtype {
    /// The subtype of a subtype octet.
    pub fn from_u8(value: u8) -> Self {
        match value {
            0 => RouteRefreshSubtype::Normal,
            1 => RouteRefreshSubtype::BeginningOfRefresh,
            2 => RouteRefreshSubtype::EndOfRefresh,
            other => RouteRefreshSubtype::Reserved(other),
        }
    }

    /// The subtype octet.
    pub fn to_u8(self) -> u8 {
        match self {
            RouteRefreshSubtype::Normal => 0,
            RouteRefreshSubtype::BeginningOfRefresh => 1,
            RouteRefreshSubtype::EndOfRefresh => 2,
            RouteRefreshSubtype::Reserved(value) => value,
        }
    }
}

/// A ROUTE-REFRESH message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteRefresh {
    /// The family to refresh.
    pub family: Family,
    /// The subtype.
    pub subtype: RouteRefreshSubtype,
}

impl RouteRefresh {
    /// A plain request for a family.
    pub fn request(family: Family) -> Self {
        RouteRefresh {
            family,
            subtype: RouteRefreshSubtype::Normal,
        }
    }

    /// Reads a ROUTE-REFRESH frame. A length other than 23 octets is the
    /// error of RFC 7313 5, with the whole message as data.
    pub fn decode(frame: &Frame) -> Result<Self, DecodeError> {
        match frame.body().as_ref() {
            &[afi_hi, afi_lo, subtype, safi] => Ok(RouteRefresh {
                family: Family::new(Afi(u16::from_be_bytes([afi_hi, afi_lo])), Safi(safi)),
                subtype: RouteRefreshSubtype::from_u8(subtype),
            }),
            _ => Err(DecodeError::new(
                "ROUTE-REFRESH of the wrong length",
                ErrorKind::RouteRefresh(RouteRefreshSubcode::InvalidMessageLength),
                frame.bytes().clone(),
            )),
        }
    }

    /// Appends the message.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let start = begin_message(out, MessageType::RouteRefresh);
        out.put_u16(self.family.afi.0);
        out.put_u8(self.subtype.to_u8());
        out.put_u8(self.family.safi.0);
        finish_message(out, start, 23)
    }
}
