//! Cutting whole messages off a byte stream, checking the header on the way
//! (RFC 4271 6.1).

use bytes::{Bytes, BytesMut};

use super::error::DecodeError;
use super::header::{MessageType, HEADER_LEN, MARKER};
use super::notification::{ErrorKind, HeaderSubcode};

/// One whole message with a valid header, body not yet read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    kind: MessageType,
    bytes: Bytes,
}

impl Frame {
    /// The message type.
    pub fn kind(&self) -> MessageType {
        self.kind
    }

    /// The whole message, header included.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The octets after the header.
    pub fn body(&self) -> Bytes {
        self.bytes.slice(HEADER_LEN.min(self.bytes.len())..)
    }

    /// Cuts the next message off the front of `buf` once it has fully
    /// arrived; `Ok(None)` until then, with room reserved for the rest.
    /// `max_len` is the session's message size limit; OPEN and KEEPALIVE
    /// have their own (RFC 8654 3).
    ///
    /// The header is checked as soon as it is in: a bad marker, length or
    /// type is an error at once (RFC 4271 6.1), and `buf` is left as it was.
    pub fn split(buf: &mut BytesMut, max_len: usize) -> Result<Option<Frame>, DecodeError> {
        // A wrong marker octet is wrong however little has arrived.
        if buf.iter().take(MARKER.len()).any(|&b| b != 0xff) {
            return Err(DecodeError::new(
                "marker is not all ones",
                ErrorKind::MessageHeader(HeaderSubcode::ConnectionNotSynchronized),
                Bytes::new(),
            ));
        }
        let Some(&[len_hi, len_lo, code]) = buf.get(MARKER.len()..HEADER_LEN) else {
            return Ok(None);
        };
        let len = usize::from(u16::from_be_bytes([len_hi, len_lo]));
        let bad_length = || {
            DecodeError::new(
                "message length out of range",
                ErrorKind::MessageHeader(HeaderSubcode::BadMessageLength),
                vec![len_hi, len_lo],
            )
        };
        if !(HEADER_LEN..=max_len).contains(&len) {
            return Err(bad_length());
        }
        let Some(kind) = MessageType::from_code(code) else {
            return Err(DecodeError::new(
                "unknown message type",
                ErrorKind::MessageHeader(HeaderSubcode::BadMessageType),
                vec![code],
            ));
        };
        let (min, max) = kind.length_range(max_len);
        if !(min..=max).contains(&len) {
            return Err(bad_length());
        }
        if buf.len() < len {
            buf.reserve(len - buf.len());
            return Ok(None);
        }
        Ok(Some(Frame {
            kind,
            bytes: buf.split_to(len).freeze(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::header::{MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN};
    use crate::wire::notification::Notification;

    fn header(len: u16, code: u8) -> Vec<u8> {
        let mut bytes = vec![0xff; 16];
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.push(code);
        bytes
    }

    fn error(bytes: &[u8], max: usize) -> Notification {
        Frame::split(&mut BytesMut::from(bytes), max)
            .unwrap_err()
            .notification
    }

    #[test]
    fn keepalive_arrives_in_pieces() {
        let keepalive = header(19, 4);
        let mut buf = BytesMut::new();
        for (i, &b) in keepalive.iter().enumerate() {
            assert_eq!(
                Frame::split(&mut buf, MAX_MESSAGE_LEN).unwrap(),
                None,
                "after {i} octets"
            );
            buf.extend_from_slice(&[b]);
        }
        buf.extend_from_slice(&header(19, 4)[..3]);
        let frame = Frame::split(&mut buf, MAX_MESSAGE_LEN).unwrap().unwrap();
        assert_eq!(frame.kind(), MessageType::Keepalive);
        assert_eq!(frame.bytes().as_ref(), &keepalive[..]);
        assert!(frame.body().is_empty());
        assert_eq!(buf.len(), 3, "the next message's start stays");
    }

    #[test]
    fn rfc4271_header_errors() {
        let mut bad_marker = header(19, 4);
        bad_marker[3] = 0;
        assert_eq!(
            error(&bad_marker[..5], MAX_MESSAGE_LEN).kind,
            ErrorKind::MessageHeader(HeaderSubcode::ConnectionNotSynchronized)
        );

        let short = error(&header(18, 4), MAX_MESSAGE_LEN);
        assert_eq!(
            short.kind,
            ErrorKind::MessageHeader(HeaderSubcode::BadMessageLength)
        );
        assert_eq!(&short.data[..], [0, 18].as_slice());

        let long = error(&header(4097, 2), MAX_MESSAGE_LEN);
        assert_eq!(&long.data[..], [0x10, 0x01].as_slice());

        let kind = error(&header(19, 9), MAX_MESSAGE_LEN);
        assert_eq!(
            kind.kind,
            ErrorKind::MessageHeader(HeaderSubcode::BadMessageType)
        );
        assert_eq!(&kind.data[..], [9].as_slice());

        for (len, code) in [(28, 1), (22, 2), (20, 3), (20, 4)] {
            let n = error(&header(len, code), MAX_MESSAGE_LEN);
            assert_eq!(
                n.kind,
                ErrorKind::MessageHeader(HeaderSubcode::BadMessageLength),
                "type {code}"
            );
        }
    }

    #[test]
    fn rfc8654_extended_limits() {
        let mut update = BytesMut::from(&header(5000, 2)[..]);
        assert_eq!(
            Frame::split(&mut update, MAX_EXTENDED_MESSAGE_LEN).unwrap(),
            None
        );
        assert!(update.capacity() >= 5000);
        let open = error(&header(5000, 1), MAX_EXTENDED_MESSAGE_LEN);
        assert_eq!(
            open.kind,
            ErrorKind::MessageHeader(HeaderSubcode::BadMessageLength)
        );
    }
}
