//! What the codec must know about a session to read and write its messages.

use super::family::Family;
use super::header::{MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN};

/// Whether the peer is in our AS. RFC 7606 7.5, 7.9 and 7.10 discard
/// LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST from external peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PeerKind {
    /// An external (eBGP) peer.
    #[default]
    External,
    /// An internal (iBGP) peer, or a peer in another member AS of our
    /// confederation (RFC 5065 treats those attributes as internal there).
    Internal,
}

/// Session settings the codec depends on. The default fits the time before
/// the OPEN exchange: 2-octet AS numbers, 4096-octet messages, no add-path.
/// After the exchange, use [`Negotiated::codec_config`](super::Negotiated::codec_config).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CodecConfig {
    /// Both sides sent the 4-octet AS capability (RFC 6793): AS_PATH and
    /// AGGREGATOR carry 4-octet AS numbers.
    pub four_octet_as: bool,
    /// Both sides sent the extended message capability (RFC 8654):
    /// messages other than OPEN and KEEPALIVE may reach 65535 octets.
    pub extended_message: bool,
    /// Families whose received NLRI carry add-path identifiers.
    pub add_path_receive: Vec<Family>,
    /// Families whose sent NLRI carry add-path identifiers.
    pub add_path_send: Vec<Family>,
    /// Whether the peer is internal.
    pub peer: PeerKind,
}

impl CodecConfig {
    /// The longest message allowed on this session.
    pub fn max_message_len(&self) -> usize {
        if self.extended_message {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }

    /// Whether received NLRI of `family` start with a path identifier.
    pub fn receives_path_ids(&self, family: Family) -> bool {
        self.add_path_receive.contains(&family)
    }

    /// Whether sent NLRI of `family` start with a path identifier.
    pub fn sends_path_ids(&self, family: Family) -> bool {
        self.add_path_send.contains(&family)
    }
}
