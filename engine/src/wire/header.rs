//! The fixed message header (RFC 4271 4.1) and the size limits around it.

use bytes::{BufMut, BytesMut};

use super::error::EncodeError;

/// The 16-octet marker that starts every message: all ones.
pub const MARKER: [u8; 16] = [0xff; 16];
/// Octets of the header: marker, length, type.
pub const HEADER_LEN: usize = 19;
/// The longest message without the extended message capability, and the
/// longest OPEN and KEEPALIVE in any case (RFC 8654 3).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// The longest message once extended messages are negotiated (RFC 8654).
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;

/// The message types of the header's type octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// OPEN (RFC 4271 4.2).
    Open,
    /// UPDATE (RFC 4271 4.3).
    Update,
    /// NOTIFICATION (RFC 4271 4.5).
    Notification,
    /// KEEPALIVE (RFC 4271 4.4).
    Keepalive,
    /// ROUTE-REFRESH (RFC 2918).
    RouteRefresh,
}

impl MessageType {
    /// The type of a type octet, if known.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(MessageType::Open),
            2 => Some(MessageType::Update),
            3 => Some(MessageType::Notification),
            4 => Some(MessageType::Keepalive),
            5 => Some(MessageType::RouteRefresh),
            _ => None,
        }
    }

    /// The type octet.
    pub fn code(self) -> u8 {
        match self {
            MessageType::Open => 1,
            MessageType::Update => 2,
            MessageType::Notification => 3,
            MessageType::Keepalive => 4,
            MessageType::RouteRefresh => 5,
        }
    }

    /// The length range of this type (RFC 4271 6.1, RFC 8654 3, RFC 7313 5),
    /// given the session's limit for message sizes.
    pub(crate) fn length_range(self, session_max: usize) -> (usize, usize) {
        match self {
            MessageType::Open => (29, MAX_MESSAGE_LEN),
            MessageType::Update => (23, session_max),
            MessageType::Notification => (21, session_max),
            MessageType::Keepalive => (HEADER_LEN, HEADER_LEN),
            // Exactly 23; a different length is RFC 7313's own error, which
            // the body decoder reports with the message as data.
            MessageType::RouteRefresh => (HEADER_LEN, session_max),
        }
    }
}

/// Writes a header whose length is filled in by [`finish_message`]; returns
/// where the message starts in `out`.
pub(crate) fn begin_message(out: &mut BytesMut, kind: MessageType) -> usize {
    let start = out.len();
    out.put_slice(&MARKER);
    out.put_u16(0);
    out.put_u8(kind.code());
    start
}

/// Fills in the length of the message begun at `start`. A message longer
/// than `max` is removed from `out` again and reported.
pub(crate) fn finish_message(
    out: &mut BytesMut,
    start: usize,
    max: usize,
) -> Result<(), EncodeError> {
    let len = out.len() - start;
    if len > max {
        out.truncate(start);
        return Err(EncodeError::MessageTooLong { len, max });
    }
    put_u16_at(out, start + MARKER.len(), len);
    Ok(())
}

/// Overwrites two octets at `at` with `value`, which the caller has bounded
/// to 16 bits.
pub(crate) fn put_u16_at(out: &mut BytesMut, at: usize, value: usize) {
    let bytes = u16::try_from(value).unwrap_or(u16::MAX).to_be_bytes();
    if let Some(slot) = out.get_mut(at..at + 2) {
        slot.copy_from_slice(&bytes);
    }
}
