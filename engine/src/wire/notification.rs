//! NOTIFICATION (RFC 4271 4.5): error codes and subcodes with their names,
//! and the shutdown communication of RFC 8203 / RFC 9003.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use super::error::{DecodeError, EncodeError};
use super::header::{begin_message, finish_message, MessageType};

/// Declares a subcode enum: subcode 0 is `Unspecific` (RFC 4493 and the
/// registries reserve it for that), unnamed values are kept in `Other`.
macro_rules! subcodes {
    (
        $(#[$doc:meta])*
        $name:ident {
            $($(#[$vdoc:meta])* $variant:ident = $value:literal, $text:literal;)*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            /// Subcode 0: no particular subcode.
            Unspecific,
            $($(#[$vdoc])* $variant,)*
            /// A subcode without a name here.
            Other(u8),
        }

        impl $name {
            /// The subcode of a subcode octet.
            pub fn from_u8(value: u8) -> Self {
                match value {
                    0 => $name::Unspecific,
                    $($value => $name::$variant,)*
                    other => $name::Other(other),
                }
            }

            /// The subcode octet.
            pub fn to_u8(self) -> u8 {
                match self {
                    $name::Unspecific => 0,
                    $($name::$variant => $value,)*
                    $name::Other(value) => value,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $name::Unspecific => f.write_str("unspecific"),
                    $($name::$variant => f.write_str($text),)*
                    $name::Other(value) => write!(f, "subcode {value}"),
                }
            }
        }
    };
}

subcodes! {
    /// Message Header Error subcodes (RFC 4271 4.5).
    HeaderSubcode {
        /// The marker is not all ones.
        ConnectionNotSynchronized = 1, "connection not synchronized";
        /// The length field is out of range.
        BadMessageLength = 2, "bad message length";
        /// The type octet is unknown.
        BadMessageType = 3, "bad message type";
    }
}

subcodes! {
    /// OPEN Message Error subcodes (RFC 4271 4.5, RFC 5492, RFC 9234).
    OpenSubcode {
        /// The version is not 4.
        UnsupportedVersionNumber = 1, "unsupported version number";
        /// The peer's AS is not the expected one.
        BadPeerAs = 2, "bad peer AS";
        /// The BGP identifier is invalid.
        BadBgpIdentifier = 3, "bad BGP identifier";
        /// An optional parameter is not understood.
        UnsupportedOptionalParameter = 4, "unsupported optional parameter";
        /// The hold time is 1 or 2 seconds.
        UnacceptableHoldTime = 6, "unacceptable hold time";
        /// A required capability is missing (RFC 5492 5).
        UnsupportedCapability = 7, "unsupported capability";
        /// BGP roles do not match (RFC 9234).
        RoleMismatch = 11, "role mismatch";
    }
}

subcodes! {
    /// UPDATE Message Error subcodes (RFC 4271 4.5).
    UpdateSubcode {
        /// The attribute list or the field lengths are inconsistent.
        MalformedAttributeList = 1, "malformed attribute list";
        /// A well-known attribute is not known here.
        UnrecognizedWellKnownAttribute = 2, "unrecognized well-known attribute";
        /// A mandatory well-known attribute is missing.
        MissingWellKnownAttribute = 3, "missing well-known attribute";
        /// An attribute's flags contradict its type.
        AttributeFlagsError = 4, "attribute flags error";
        /// An attribute's length contradicts its type.
        AttributeLengthError = 5, "attribute length error";
        /// The ORIGIN value is undefined.
        InvalidOriginAttribute = 6, "invalid ORIGIN attribute";
        /// The NEXT_HOP is not a usable address.
        InvalidNextHopAttribute = 8, "invalid NEXT_HOP attribute";
        /// An optional attribute is malformed.
        OptionalAttributeError = 9, "optional attribute error";
        /// The NLRI field is malformed.
        InvalidNetworkField = 10, "invalid network field";
        /// The AS_PATH is malformed.
        MalformedAsPath = 11, "malformed AS_PATH";
    }
}

subcodes! {
    /// Finite State Machine Error subcodes (RFC 6608).
    FsmSubcode {
        /// A message that OpenSent does not expect.
        UnexpectedMessageInOpenSent = 1, "unexpected message in OpenSent";
        /// A message that OpenConfirm does not expect.
        UnexpectedMessageInOpenConfirm = 2, "unexpected message in OpenConfirm";
        /// A message that Established does not expect.
        UnexpectedMessageInEstablished = 3, "unexpected message in Established";
    }
}

subcodes! {
    /// Cease subcodes (RFC 4486, RFC 8538, RFC 9384).
    CeaseSubcode {
        /// The peer sent more prefixes than allowed.
        MaximumPrefixesReached = 1, "maximum number of prefixes reached";
        /// The session was shut down by an operator.
        AdministrativeShutdown = 2, "administrative shutdown";
        /// The peer was removed from the configuration.
        PeerDeconfigured = 3, "peer de-configured";
        /// The session was reset by an operator.
        AdministrativeReset = 4, "administrative reset";
        /// The connection was refused.
        ConnectionRejected = 5, "connection rejected";
        /// The peer's configuration changed.
        OtherConfigurationChange = 6, "other configuration change";
        /// The connection lost a collision (RFC 4271 6.8).
        ConnectionCollisionResolution = 7, "connection collision resolution";
        /// The speaker ran out of resources.
        OutOfResources = 8, "out of resources";
        /// A reset that ends graceful restart state (RFC 8538).
        HardReset = 9, "hard reset";
        /// BFD declared the peer down (RFC 9384).
        BfdDown = 10, "BFD down";
    }
}

subcodes! {
    /// ROUTE-REFRESH Message Error subcodes (RFC 7313 5).
    RouteRefreshSubcode {
        /// The ROUTE-REFRESH is not 23 octets long.
        InvalidMessageLength = 1, "invalid message length";
    }
}

/// The error code and subcode of a NOTIFICATION.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Code 1: Message Header Error.
    MessageHeader(HeaderSubcode),
    /// Code 2: OPEN Message Error.
    Open(OpenSubcode),
    /// Code 3: UPDATE Message Error.
    Update(UpdateSubcode),
    /// Code 4 with subcode 0: Hold Timer Expired.
    HoldTimerExpired,
    /// Code 5: Finite State Machine Error.
    Fsm(FsmSubcode),
    /// Code 6: Cease.
    Cease(CeaseSubcode),
    /// Code 7: ROUTE-REFRESH Message Error.
    RouteRefresh(RouteRefreshSubcode),
    /// Any other code, or code 4 with a subcode.
    Other {
        /// The error code.
        code: u8,
        /// The subcode.
        subcode: u8,
    },
}

impl ErrorKind {
    /// The kind of a code and subcode.
    pub fn from_codes(code: u8, subcode: u8) -> Self {
        match code {
            1 => ErrorKind::MessageHeader(HeaderSubcode::from_u8(subcode)),
            2 => ErrorKind::Open(OpenSubcode::from_u8(subcode)),
            3 => ErrorKind::Update(UpdateSubcode::from_u8(subcode)),
            4 if subcode == 0 => ErrorKind::HoldTimerExpired,
            5 => ErrorKind::Fsm(FsmSubcode::from_u8(subcode)),
            6 => ErrorKind::Cease(CeaseSubcode::from_u8(subcode)),
            7 => ErrorKind::RouteRefresh(RouteRefreshSubcode::from_u8(subcode)),
            _ => ErrorKind::Other { code, subcode },
        }
    }

    /// The error code octet.
    pub fn code(self) -> u8 {
        match self {
            ErrorKind::MessageHeader(_) => 1,
            ErrorKind::Open(_) => 2,
            ErrorKind::Update(_) => 3,
            ErrorKind::HoldTimerExpired => 4,
            ErrorKind::Fsm(_) => 5,
            ErrorKind::Cease(_) => 6,
            ErrorKind::RouteRefresh(_) => 7,
            ErrorKind::Other { code, .. } => code,
        }
    }

    /// The error subcode octet.
    pub fn subcode(self) -> u8 {
        match self {
            ErrorKind::MessageHeader(s) => s.to_u8(),
            ErrorKind::Open(s) => s.to_u8(),
            ErrorKind::Update(s) => s.to_u8(),
            ErrorKind::HoldTimerExpired => 0,
            ErrorKind::Fsm(s) => s.to_u8(),
            ErrorKind::Cease(s) => s.to_u8(),
            ErrorKind::RouteRefresh(s) => s.to_u8(),
            ErrorKind::Other { subcode, .. } => subcode,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::MessageHeader(s) => write!(f, "message header error: {s}"),
            ErrorKind::Open(s) => write!(f, "OPEN message error: {s}"),
            ErrorKind::Update(s) => write!(f, "UPDATE message error: {s}"),
            ErrorKind::HoldTimerExpired => f.write_str("hold timer expired"),
            ErrorKind::Fsm(s) => write!(f, "finite state machine error: {s}"),
            ErrorKind::Cease(s) => write!(f, "cease: {s}"),
            ErrorKind::RouteRefresh(s) => write!(f, "ROUTE-REFRESH message error: {s}"),
            ErrorKind::Other { code, subcode } => write!(f, "error code {code} subcode {subcode}"),
        }
    }
}

/// The longest shutdown communication (RFC 9003 2).
pub const MAX_SHUTDOWN_COMMUNICATION: usize = 255;

/// Why a shutdown communication could not be read (RFC 9003 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ShutdownCommunicationError {
    /// The length octet promises more than the data holds.
    #[error("shutdown communication truncated")]
    Truncated,
    /// The text is not UTF-8.
    #[error("shutdown communication is not UTF-8")]
    InvalidUtf8,
}

/// A NOTIFICATION message: an error code, subcode and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The error code and subcode.
    pub kind: ErrorKind,
    /// The data field, whose meaning depends on the kind.
    pub data: Bytes,
}

impl Notification {
    /// A notification with the given kind and data.
    pub fn new(kind: ErrorKind, data: Bytes) -> Self {
        Notification { kind, data }
    }

    /// A Cease notification without data.
    pub fn cease(subcode: CeaseSubcode) -> Self {
        Notification::new(ErrorKind::Cease(subcode), Bytes::new())
    }

    /// `inner` as a Cease/Hard Reset (RFC 8538 3): its code, subcode and
    /// data become the data, so the peer sees both that it must drop our
    /// routes and why. A Hard Reset stays as it is.
    pub fn hard_reset(inner: &Notification) -> Self {
        if inner.kind == ErrorKind::Cease(CeaseSubcode::HardReset) {
            return inner.clone();
        }
        let mut data = BytesMut::with_capacity(2 + inner.data.len());
        data.put_u8(inner.kind.code());
        data.put_u8(inner.kind.subcode());
        data.put_slice(&inner.data);
        Notification::new(ErrorKind::Cease(CeaseSubcode::HardReset), data.freeze())
    }

    /// An Administrative Shutdown with a shutdown communication (RFC 9003).
    /// Text past 255 octets is cut at a character boundary: the message is
    /// for people, and the session must close regardless.
    pub fn administrative_shutdown(message: &str) -> Self {
        Notification::with_communication(CeaseSubcode::AdministrativeShutdown, message)
    }

    /// An Administrative Reset with a shutdown communication (RFC 9003).
    /// Long text is cut as for [`Notification::administrative_shutdown`].
    pub fn administrative_reset(message: &str) -> Self {
        Notification::with_communication(CeaseSubcode::AdministrativeReset, message)
    }

    fn with_communication(subcode: CeaseSubcode, message: &str) -> Self {
        let mut end = message.len().min(MAX_SHUTDOWN_COMMUNICATION);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let text = message.as_bytes().get(..end).unwrap_or_default();
        let mut data = BytesMut::with_capacity(1 + text.len());
        data.put_u8(u8::try_from(text.len()).unwrap_or(u8::MAX));
        data.put_slice(text);
        Notification::new(ErrorKind::Cease(subcode), data.freeze())
    }

    /// The shutdown communication of an Administrative Shutdown or Reset
    /// (RFC 9003 2). `Ok(None)` for other kinds, for empty data and for a
    /// zero length. Octets after the text are ignored.
    pub fn shutdown_communication(&self) -> Result<Option<String>, ShutdownCommunicationError> {
        let ErrorKind::Cease(
            CeaseSubcode::AdministrativeShutdown | CeaseSubcode::AdministrativeReset,
        ) = self.kind
        else {
            return Ok(None);
        };
        let Some((&len, rest)) = self.data.split_first() else {
            return Ok(None);
        };
        if len == 0 {
            return Ok(None);
        }
        let text = rest
            .get(..usize::from(len))
            .ok_or(ShutdownCommunicationError::Truncated)?;
        let text =
            std::str::from_utf8(text).map_err(|_| ShutdownCommunicationError::InvalidUtf8)?;
        Ok(Some(text.to_owned()))
    }

    /// Reads the body of a NOTIFICATION (the octets after the header).
    pub fn decode(body: &Bytes) -> Result<Self, DecodeError> {
        match body.get(..2) {
            Some(&[code, subcode]) => Ok(Notification::new(
                ErrorKind::from_codes(code, subcode),
                body.slice(2..),
            )),
            // The framer already demands 21 octets; this only keeps the
            // function total.
            _ => Err(DecodeError::new(
                "NOTIFICATION too short",
                ErrorKind::MessageHeader(HeaderSubcode::BadMessageLength),
                Bytes::new(),
            )),
        }
    }

    /// Appends the message to `out`. Data that would push the message past
    /// `max_len` is cut: the peer is told the error either way.
    pub fn encode(&self, max_len: usize, out: &mut BytesMut) -> Result<(), EncodeError> {
        let start = begin_message(out, MessageType::Notification);
        out.put_u8(self.kind.code());
        out.put_u8(self.kind.subcode());
        let room = max_len.saturating_sub(out.len() - start);
        out.put_slice(
            self.data
                .get(..room.min(self.data.len()))
                .unwrap_or_default(),
        );
        finish_message(out, start, max_len)
    }
}

impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}/{})",
            self.kind,
            self.kind.code(),
            self.kind.subcode()
        )?;
        match self.shutdown_communication() {
            Ok(Some(text)) => write!(f, ": {text:?}"),
            _ if self.data.is_empty() => Ok(()),
            _ => write!(f, ", {} octets of data", self.data.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::header::MAX_MESSAGE_LEN;

    #[test]
    fn codes_round_trip_through_names() {
        for code in 0..=255u8 {
            for subcode in [0u8, 1, 2, 3, 4, 6, 7, 9, 11, 12, 200] {
                let kind = ErrorKind::from_codes(code, subcode);
                assert_eq!((kind.code(), kind.subcode()), (code, subcode));
            }
        }
        assert_eq!(
            ErrorKind::from_codes(3, 11),
            ErrorKind::Update(UpdateSubcode::MalformedAsPath)
        );
        assert_eq!(ErrorKind::from_codes(6, 9).to_string(), "cease: hard reset");
        assert_eq!(ErrorKind::from_codes(4, 0), ErrorKind::HoldTimerExpired);
        assert_eq!(
            ErrorKind::from_codes(4, 1),
            ErrorKind::Other {
                code: 4,
                subcode: 1
            }
        );
    }

    #[test]
    fn rfc4271_vector_hold_timer_expired() {
        let mut out = BytesMut::new();
        Notification::new(ErrorKind::HoldTimerExpired, Bytes::new())
            .encode(MAX_MESSAGE_LEN, &mut out)
            .unwrap();
        let mut expected = vec![0xff; 16];
        expected.extend_from_slice(&[0, 21, 3, 4, 0]);
        assert_eq!(&out[..], &expected[..]);
    }

    #[test]
    fn rfc9003_shutdown_communication() {
        let n = Notification::administrative_shutdown("maintenance");
        assert_eq!(n.kind.code(), 6);
        assert_eq!(n.kind.subcode(), 2);
        assert_eq!(&n.data[..], b"\x0bmaintenance");
        assert_eq!(
            n.shutdown_communication(),
            Ok(Some("maintenance".to_owned()))
        );

        let mut out = BytesMut::new();
        n.encode(MAX_MESSAGE_LEN, &mut out).unwrap();
        let back = Notification::decode(&out.freeze().slice(19..)).unwrap();
        assert_eq!(back, n);

        let reset = Notification::administrative_reset("");
        assert_eq!(&reset.data[..], [0].as_slice());
        assert_eq!(reset.shutdown_communication(), Ok(None));
    }

    #[test]
    fn long_communication_is_cut_at_a_char_boundary() {
        let text = "é".repeat(200); // 400 octets
        let n = Notification::administrative_reset(&text);
        assert_eq!(n.data[0], 254);
        assert_eq!(
            n.shutdown_communication().unwrap().unwrap(),
            "é".repeat(127)
        );
    }

    #[test]
    fn bad_communications() {
        let kind = ErrorKind::Cease(CeaseSubcode::AdministrativeShutdown);
        let truncated = Notification::new(kind, Bytes::from_static(b"\x05abc"));
        assert_eq!(
            truncated.shutdown_communication(),
            Err(ShutdownCommunicationError::Truncated)
        );
        let binary = Notification::new(kind, Bytes::from_static(b"\x02\xff\xfe"));
        assert_eq!(
            binary.shutdown_communication(),
            Err(ShutdownCommunicationError::InvalidUtf8)
        );
        let other = Notification::new(ErrorKind::HoldTimerExpired, Bytes::from_static(b"\x02ab"));
        assert_eq!(other.shutdown_communication(), Ok(None));
    }

    #[test]
    fn oversized_data_is_cut_to_fit() {
        let n = Notification::new(
            ErrorKind::Update(UpdateSubcode::OptionalAttributeError),
            Bytes::from(vec![7u8; 5000]),
        );
        let mut out = BytesMut::new();
        n.encode(MAX_MESSAGE_LEN, &mut out).unwrap();
        assert_eq!(out.len(), MAX_MESSAGE_LEN);
        assert_eq!(&out[16..18], [0x10, 0x00].as_slice());
    }
}
