//! BGP message codec (RFC 4271 and extensions).
//!
//! Bytes in, typed messages out, and back; nothing here does I/O or keeps
//! session state beyond the settings in [`CodecConfig`].
//!
//! - Framing: [`Frame::split`] cuts whole messages off a read buffer,
//!   checking the header; [`MessageDecoder`] adds body decoding and is
//!   shaped for a `tokio_util` codec; [`Message::encode`] writes.
//! - OPEN: [`Open`], [`Capabilities`], and [`negotiate`] for the session
//!   parameters both OPENs imply ([`Negotiated`]).
//! - UPDATE: [`Update`] and its [`Attributes`]; [`DecodedUpdate::decode`]
//!   applies the error handling of RFC 7606 and reports a [`Verdict`] and
//!   the [`Problem`]s found; [`UpdatePacker`] writes many routes sharing an
//!   [`EncodedAttributes`] block into as few messages as possible.
//! - NOTIFICATION ([`Notification`], [`ErrorKind`] and the subcode enums),
//!   KEEPALIVE and ROUTE-REFRESH ([`RouteRefresh`]).
//!
//! Every decoder is total: any input gives a value or an error, never a
//! panic.

#![forbid(unsafe_code)]

mod capability;
mod config;
mod error;
mod family;
mod frame;
mod header;
mod message;
mod negotiate;
mod notification;
mod open;
mod prefix;
mod reader;
mod route_refresh;
mod update;

#[cfg(test)]
mod fuzz_test;

pub use capability::{
    AddPath, AddPathDirection, Capabilities, CapabilityError, ExtendedNextHop, GracefulRestart,
    GracefulRestartFamily, LongLivedFamily, RawCapability,
};
pub use config::{CodecConfig, PeerKind};
pub use error::{DecodeError, EncodeError};
pub use family::{Afi, Family, IpVersion, Safi};
pub use frame::Frame;
pub use header::{MessageType, HEADER_LEN, MARKER, MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN};
pub use message::{Message, MessageDecoder, Received};
pub use negotiate::{negotiate, Negotiated};
pub use notification::{
    CeaseSubcode, ErrorKind, FsmSubcode, HeaderSubcode, Notification, OpenSubcode,
    RouteRefreshSubcode, ShutdownCommunicationError, UpdateSubcode, MAX_SHUTDOWN_COMMUNICATION,
};
pub use open::{Open, BGP_VERSION};
pub use prefix::{Nlri, NlriError};
pub use route_refresh::{RouteRefresh, RouteRefreshSubtype};
pub use update::{
    Action, Aggregator, Announced, AsPath, AsPathError, AttrFlags, AttrType, Attributes, Community,
    DecodedUpdate, EncodedAttributes, ExtCommunity, LargeCommunity, MpError, MpReach, MpUnreach,
    NextHop, Origin, Problem, ProblemKind, RawAttribute, Segment, SegmentType, Update,
    UpdatePacker, Verdict, AS_TRANS,
};
