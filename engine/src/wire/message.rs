//! Whole messages: the ones to send, the ones received, and the streaming
//! decoder that turns a read buffer into the latter.

use bytes::BytesMut;

use super::config::CodecConfig;
use super::error::{DecodeError, EncodeError};
use super::frame::Frame;
use super::header::{begin_message, finish_message, MessageType, HEADER_LEN};
use super::notification::Notification;
use super::open::Open;
use super::route_refresh::RouteRefresh;
use super::update::{DecodedUpdate, Update};

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// OPEN.
    Open(Open),
    /// UPDATE; for many routes see [`UpdatePacker`](super::UpdatePacker).
    Update(Update),
    /// NOTIFICATION.
    Notification(Notification),
    /// KEEPALIVE.
    Keepalive,
    /// ROUTE-REFRESH.
    RouteRefresh(RouteRefresh),
}

impl Message {
    /// The message type.
    pub fn kind(&self) -> MessageType {
        match self {
            Message::Open(_) => MessageType::Open,
            Message::Update(_) => MessageType::Update,
            Message::Notification(_) => MessageType::Notification,
            Message::Keepalive => MessageType::Keepalive,
            Message::RouteRefresh(_) => MessageType::RouteRefresh,
        }
    }

    /// Appends the message to `out`; on error nothing is appended.
    pub fn encode(&self, config: &CodecConfig, out: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            Message::Open(open) => open.encode(out),
            Message::Update(update) => update.encode(config, out),
            Message::Notification(n) => n.encode(config.max_message_len(), out),
            Message::Keepalive => {
                let start = begin_message(out, MessageType::Keepalive);
                finish_message(out, start, HEADER_LEN)
            }
            Message::RouteRefresh(rr) => rr.encode(out),
        }
    }
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// OPEN, with the checks that need no configuration passed.
    Open(Open),
    /// UPDATE with its RFC 7606 diagnosis. Its verdict may still be a
    /// session reset: see [`DecodedUpdate::verdict`].
    Update(Box<DecodedUpdate>),
    /// NOTIFICATION.
    Notification(Notification),
    /// KEEPALIVE.
    Keepalive,
    /// ROUTE-REFRESH.
    RouteRefresh(RouteRefresh),
}

impl Received {
    /// Reads a frame's message.
    pub fn decode(frame: &Frame, config: &CodecConfig) -> Result<Received, DecodeError> {
        Ok(match frame.kind() {
            MessageType::Open => Received::Open(Open::decode(&frame.body())?),
            MessageType::Update => {
                Received::Update(Box::new(DecodedUpdate::decode(&frame.body(), config)))
            }
            MessageType::Notification => {
                Received::Notification(Notification::decode(&frame.body())?)
            }
            // The framer checked the length: a KEEPALIVE has no body.
            MessageType::Keepalive => Received::Keepalive,
            MessageType::RouteRefresh => Received::RouteRefresh(RouteRefresh::decode(frame)?),
        })
    }

    /// The message type.
    pub fn kind(&self) -> MessageType {
        match self {
            Received::Open(_) => MessageType::Open,
            Received::Update(_) => MessageType::Update,
            Received::Notification(_) => MessageType::Notification,
            Received::Keepalive => MessageType::Keepalive,
            Received::RouteRefresh(_) => MessageType::RouteRefresh,
        }
    }
}

/// Turns a stream's read buffer into messages, one at a time.
///
/// Shaped for a `tokio_util` codec: `decode` takes what has arrived and
/// returns a message once one is complete. The session switches the
/// configuration after the OPEN exchange with [`MessageDecoder::set_config`];
/// messages not yet decoded are read with the new one.
#[derive(Debug, Clone, Default)]
pub struct MessageDecoder {
    config: CodecConfig,
}

impl MessageDecoder {
    /// A decoder with the given settings.
    pub fn new(config: CodecConfig) -> Self {
        MessageDecoder { config }
    }

    /// The settings in use.
    pub fn config(&self) -> &CodecConfig {
        &self.config
    }

    /// Replaces the settings.
    pub fn set_config(&mut self, config: CodecConfig) {
        self.config = config;
    }

    /// Takes the next whole message from the front of `buf`; `Ok(None)` if
    /// it has not all arrived. After an error the stream is unusable: the
    /// session sends the error's NOTIFICATION and closes.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Received>, DecodeError> {
        match Frame::split(buf, self.config.max_message_len())? {
            Some(frame) => Received::decode(&frame, &self.config).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::wire::capability::Capabilities;
    use crate::wire::family::Family;
    use crate::wire::notification::{ErrorKind, RouteRefreshSubcode};
    use crate::wire::route_refresh::RouteRefreshSubtype;

    fn encode_all(messages: &[Message], config: &CodecConfig) -> BytesMut {
        let mut out = BytesMut::new();
        for m in messages {
            m.encode(config, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn rfc4271_keepalive_vector() {
        let out = encode_all(&[Message::Keepalive], &CodecConfig::default());
        let mut expected = vec![0xff; 16];
        expected.extend_from_slice(&[0, 19, 4]);
        assert_eq!(&out[..], &expected[..]);
    }

    #[test]
    fn rfc7313_route_refresh_vectors() {
        let borr = RouteRefresh {
            family: Family::IPV6_UNICAST,
            subtype: RouteRefreshSubtype::BeginningOfRefresh,
        };
        let out = encode_all(&[Message::RouteRefresh(borr)], &CodecConfig::default());
        assert_eq!(&out[16..], [0, 23, 5, 0, 2, 1, 1].as_slice());
        let eorr = RouteRefresh {
            subtype: RouteRefreshSubtype::EndOfRefresh,
            ..borr
        };
        let plain = RouteRefresh::request(Family::IPV4_UNICAST);
        let reserved = RouteRefresh {
            subtype: RouteRefreshSubtype::Reserved(9),
            ..plain
        };
        let mut buf = encode_all(
            &[
                Message::RouteRefresh(eorr),
                Message::RouteRefresh(plain),
                Message::RouteRefresh(reserved),
            ],
            &CodecConfig::default(),
        );
        let mut decoder = MessageDecoder::default();
        for expected in [eorr, plain, reserved] {
            assert_eq!(
                decoder.decode(&mut buf).unwrap(),
                Some(Received::RouteRefresh(expected))
            );
        }
    }

    #[test]
    fn rfc7313_route_refresh_length_error() {
        let mut bytes = BytesMut::from(&[0xffu8; 16][..]);
        bytes.extend_from_slice(&[0, 24, 5, 0, 1, 0, 1, 0]);
        let error = MessageDecoder::default()
            .decode(&mut bytes.clone())
            .unwrap_err();
        assert_eq!(
            error.notification.kind,
            ErrorKind::RouteRefresh(RouteRefreshSubcode::InvalidMessageLength)
        );
        assert_eq!(error.notification.data, bytes.freeze());
    }

    #[test]
    fn a_stream_of_every_message_type() {
        let config = CodecConfig::default();
        let open = Open::new(
            65001,
            90,
            Ipv4Addr::new(192, 0, 2, 1),
            Capabilities::default(),
        );
        let messages = [
            Message::Open(open.clone()),
            Message::Keepalive,
            Message::Update(Update::end_of_rib(Family::IPV4_UNICAST)),
            Message::RouteRefresh(RouteRefresh::request(Family::IPV4_UNICAST)),
            Message::Notification(Notification::administrative_shutdown("bye")),
        ];
        let all = encode_all(&messages, &config);
        // Feed the stream an octet at a time, as a slow socket would.
        let mut decoder = MessageDecoder::new(config);
        let mut buf = BytesMut::new();
        let mut received = Vec::new();
        for &b in all.iter() {
            buf.extend_from_slice(&[b]);
            while let Some(m) = decoder.decode(&mut buf).unwrap() {
                received.push(m);
            }
        }
        assert!(buf.is_empty());
        assert_eq!(received.len(), messages.len());
        for (sent, got) in messages.iter().zip(&received) {
            assert_eq!(sent.kind(), got.kind());
        }
        assert_eq!(received[0], Received::Open(open));
        let Received::Update(eor) = &received[2] else {
            panic!("not an UPDATE")
        };
        assert_eq!(eor.end_of_rib(), Some(Family::IPV4_UNICAST));
        let Received::Notification(n) = &received[4] else {
            panic!("not a NOTIFICATION")
        };
        assert_eq!(n.shutdown_communication(), Ok(Some("bye".to_owned())));
    }

    #[test]
    fn config_switch_applies_to_later_messages() {
        let mut decoder = MessageDecoder::default();
        let mut big = BytesMut::from(&[0xffu8; 16][..]);
        big.extend_from_slice(&[0x13, 0x88, 2]);
        assert!(decoder.decode(&mut big.clone()).is_err());
        decoder.set_config(CodecConfig {
            extended_message: true,
            ..CodecConfig::default()
        });
        assert_eq!(decoder.decode(&mut big).unwrap(), None);
        assert!(decoder.config().extended_message);
    }
}
