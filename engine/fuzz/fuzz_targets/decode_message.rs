//! Feeds arbitrary bytes to the streaming message decoder, under session
//! settings and a socket chunk size taken from the first three octets, and
//! exercises whatever comes out. Nothing may panic.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use ocbgp_engine::wire::{negotiate, CodecConfig, EncodedAttributes, Family, MessageDecoder, PeerKind, Received};

const FAMILIES: [Family; 4] =
    [Family::IPV4_UNICAST, Family::IPV6_UNICAST, Family::IPV4_MULTICAST, Family::IPV6_MULTICAST];

/// Settings from two octets: flags in the first, add-path families (receive
/// in the low nibble, send in the high one) in the second.
fn config(flags: u8, add_path: u8) -> CodecConfig {
    let pick = |bits: u8| FAMILIES.iter().enumerate().filter(|(i, _)| bits >> i & 1 == 1).map(|(_, f)| *f).collect();
    CodecConfig {
        four_octet_as: flags & 1 != 0,
        extended_message: flags & 2 != 0,
        peer: if flags & 4 != 0 { PeerKind::Internal } else { PeerKind::External },
        add_path_receive: pick(add_path & 0x0f),
        add_path_send: pick(add_path >> 4),
    }
}

fuzz_target!(|data: &[u8]| {
    let [flags, add_path, chunk, stream @ ..] = data else {
        return;
    };
    let config = config(*flags, *add_path);
    let mut decoder = MessageDecoder::new(config.clone());
    let mut buf = BytesMut::new();
    for piece in stream.chunks(usize::from(*chunk).max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(received)) => use_message(&config, received),
                Ok(None) => break,
                Err(error) => {
                    let mut out = BytesMut::new();
                    error
                        .notification
                        .encode(config.max_message_len(), &mut out)
                        .expect("a NOTIFICATION about an error is always sendable");
                    return;
                }
            }
        }
    }
});

/// Touches what a session would use, re-encoding where possible.
fn use_message(config: &CodecConfig, received: Received) {
    let mut out = BytesMut::new();
    match received {
        Received::Update(decoded) => {
            let _ = decoded.announced().count() + decoded.withdrawn().count();
            let _ = decoded.end_of_rib();
            for problem in &decoded.problems {
                let _ = (problem.kind.to_string(), problem.notification.to_string());
            }
            let _ = decoded.update.encode(config, &mut out);
            let _ = EncodedAttributes::new(&decoded.update.attributes, config.four_octet_as);
        }
        Received::Open(open) => {
            let _ = open.encode(&mut out);
            let _ = negotiate(&open, &open).codec_config(config.peer);
        }
        Received::Notification(notification) => {
            let _ = notification.shutdown_communication();
            let _ = notification.to_string();
        }
        Received::Keepalive | Received::RouteRefresh(_) => {}
    }
}
