//! Tests of UPDATE reading and writing, with helpers to build raw bodies.

mod pack;
mod rfc7606;
mod round_trip;

use super::DecodedUpdate;
use crate::wire::config::CodecConfig;

/// One attribute: flags, type, length (extended when needed), value.
fn attr(flags: u8, ty: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    match u8::try_from(value.len()) {
        Ok(len) => out.extend_from_slice(&[flags & !0x10, ty, len]),
        Err(_) => {
            out.extend_from_slice(&[flags | 0x10, ty]);
            out.extend_from_slice(&u16::try_from(value.len()).unwrap().to_be_bytes());
        }
    }
    out.extend_from_slice(value);
    out
}

/// An UPDATE body from its three parts.
fn body(withdrawn: &[u8], attrs: &[Vec<u8>], nlri: &[u8]) -> Vec<u8> {
    let attrs = attrs.concat();
    let mut out = vec![];
    out.extend_from_slice(&u16::try_from(withdrawn.len()).unwrap().to_be_bytes());
    out.extend_from_slice(withdrawn);
    out.extend_from_slice(&u16::try_from(attrs.len()).unwrap().to_be_bytes());
    out.extend_from_slice(&attrs);
    out.extend_from_slice(nlri);
    out
}

fn origin() -> Vec<u8> {
    attr(0x40, 1, &[0])
}

/// AS_PATH of one 2-octet AS_SEQUENCE.
fn as_path(asns: &[u16]) -> Vec<u8> {
    let mut value = vec![2, u8::try_from(asns.len()).unwrap()];
    asns.iter()
        .for_each(|a| value.extend_from_slice(&a.to_be_bytes()));
    attr(0x40, 2, &value)
}

fn next_hop(addr: [u8; 4]) -> Vec<u8> {
    attr(0x40, 3, &addr)
}

/// ORIGIN, AS_PATH and NEXT_HOP: what an IPv4 announcement needs.
fn mandatory() -> Vec<Vec<u8>> {
    vec![origin(), as_path(&[65001]), next_hop([192, 0, 2, 1])]
}

/// 10.1.2.0/24 in the NLRI encoding.
const NLRI: &[u8] = &[24, 10, 1, 2];

fn decode(body: &[u8]) -> DecodedUpdate {
    DecodedUpdate::decode(body, &CodecConfig::default())
}

fn decode_with(body: &[u8], config: &CodecConfig) -> DecodedUpdate {
    DecodedUpdate::decode(body, config)
}
