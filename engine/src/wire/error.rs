//! Errors of the codec, as values.

use bytes::Bytes;
use ipnet::IpNet;

use super::family::Family;
use super::notification::{ErrorKind, Notification};
use super::update::{AttrType, NextHop};

/// A received message that breaks the protocol. The session sends
/// `notification` to the peer and closes (RFC 4271 6); the stream cannot be
/// read further, since message boundaries may be lost.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} ({})", notification.kind)]
pub struct DecodeError {
    /// What was wrong, in words, for the log.
    pub reason: &'static str,
    /// The NOTIFICATION that reports it.
    pub notification: Notification,
}

impl DecodeError {
    /// An error reported with the given code, subcode and data.
    pub(crate) fn new(reason: &'static str, kind: ErrorKind, data: impl Into<Bytes>) -> Self {
        DecodeError {
            reason,
            notification: Notification::new(kind, data.into()),
        }
    }
}

/// Something that cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The message would exceed the session's size limit.
    #[error("message of {len} octets exceeds the limit of {max}")]
    MessageTooLong {
        /// Octets the message would take.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An attribute value exceeds what its 2-octet length can say.
    #[error("attribute {type_code} of {len} octets exceeds 65535")]
    AttributeTooLong {
        /// The attribute.
        type_code: AttrType,
        /// Octets of its value.
        len: usize,
    },
    /// The attribute block leaves no room for a single NLRI.
    #[error("the path attributes leave no room for NLRI in a {max}-octet message")]
    AttributesTooLarge {
        /// The session's message size limit.
        max: usize,
    },
    /// The codec writes no NLRI of this family.
    #[error("family {0} is not supported")]
    UnsupportedFamily(Family),
    /// A prefix of the other IP version was given for a family.
    #[error("prefix {prefix} does not belong to family {family}")]
    WrongFamily {
        /// The family being written.
        family: Family,
        /// The stray prefix.
        prefix: IpNet,
    },
    /// The next hop cannot be carried for the family.
    #[error("next hop {next_hop} cannot be used for family {family}")]
    WrongNextHop {
        /// The family being written.
        family: Family,
        /// The next hop.
        next_hop: NextHop,
    },
    /// Add-path is in use for the family but an NLRI has no path identifier.
    #[error("add-path is negotiated for {family} but {prefix} has no path identifier")]
    MissingPathId {
        /// The family being written.
        family: Family,
        /// The prefix without an identifier.
        prefix: IpNet,
    },
    /// A capability value exceeds what its 1-octet length can say.
    #[error("capability {code} of {len} octets exceeds 255")]
    CapabilityTooLong {
        /// The capability code.
        code: u8,
        /// Octets of its value.
        len: usize,
    },
    /// The graceful restart time has only 12 bits (RFC 4724 3).
    #[error("graceful restart time {0} exceeds 4095 seconds")]
    RestartTimeTooLong(u16),
}
