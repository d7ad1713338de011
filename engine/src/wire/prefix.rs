//! Prefixes as they travel in NLRI fields (RFC 4271 4.3), with the optional
//! add-path identifier in front (RFC 7911 3).

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, BytesMut};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::family::IpVersion;
use super::reader::Reader;

/// One route's NLRI: a prefix, and its path identifier when add-path is in
/// use for the family in that direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nlri {
    /// The prefix; host bits are always zero.
    pub prefix: IpNet,
    /// The add-path identifier (RFC 7911), when negotiated.
    pub path_id: Option<u32>,
}

impl Nlri {
    /// A prefix without a path identifier.
    pub fn new(prefix: IpNet) -> Self {
        Nlri {
            prefix: prefix.trunc(),
            path_id: None,
        }
    }

    /// A prefix with an add-path identifier.
    pub fn with_path_id(prefix: IpNet, path_id: u32) -> Self {
        Nlri {
            prefix: prefix.trunc(),
            path_id: Some(path_id),
        }
    }

    /// The prefix's IP version.
    pub fn version(&self) -> IpVersion {
        match self.prefix {
            IpNet::V4(_) => IpVersion::V4,
            IpNet::V6(_) => IpVersion::V6,
        }
    }

    /// Octets this NLRI takes on the wire, with or without a path identifier.
    pub fn wire_len(&self, add_path: bool) -> usize {
        prefix_wire_len(self.prefix.prefix_len()) + if add_path { 4 } else { 0 }
    }
}

impl From<IpNet> for Nlri {
    fn from(prefix: IpNet) -> Self {
        Nlri::new(prefix)
    }
}

/// Why an NLRI field could not be read (RFC 7606 5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NlriError {
    /// The last prefix (or its path identifier) runs past the field.
    #[error("NLRI truncated")]
    Truncated,
    /// A prefix length exceeds the address size.
    #[error("prefix length {0} too long")]
    PrefixTooLong(u8),
}

/// Octets of a prefix of `len` bits: the length octet and the significant
/// address octets.
pub(crate) fn prefix_wire_len(len: u8) -> usize {
    1 + usize::from(len).div_ceil(8)
}

/// Appends every NLRI of `field` to `out`. Trailing bits past the prefix
/// length are cleared: RFC 4271 4.3 calls them irrelevant.
pub(crate) fn decode_nlri(
    field: &[u8],
    version: IpVersion,
    add_path: bool,
    out: &mut Vec<Nlri>,
) -> Result<(), NlriError> {
    let mut r = Reader::new(field);
    while !r.is_empty() {
        let path_id = if add_path {
            Some(r.u32().ok_or(NlriError::Truncated)?)
        } else {
            None
        };
        let len = r.u8().ok_or(NlriError::Truncated)?;
        if len > version.max_prefix_len() {
            return Err(NlriError::PrefixTooLong(len));
        }
        let octets = r
            .take(usize::from(len).div_ceil(8))
            .ok_or(NlriError::Truncated)?;
        let prefix = match version {
            IpVersion::V4 => {
                let mut addr = [0u8; 4];
                addr.iter_mut().zip(octets).for_each(|(d, s)| *d = *s);
                Ipv4Net::new(Ipv4Addr::from(addr), len).map(|p| IpNet::V4(p.trunc()))
            }
            IpVersion::V6 => {
                let mut addr = [0u8; 16];
                addr.iter_mut().zip(octets).for_each(|(d, s)| *d = *s);
                Ipv6Net::new(Ipv6Addr::from(addr), len).map(|p| IpNet::V6(p.trunc()))
            }
        }
        .map_err(|_| NlriError::PrefixTooLong(len))?;
        out.push(Nlri { prefix, path_id });
    }
    Ok(())
}

/// Writes one prefix: its length and its significant octets.
pub(crate) fn encode_prefix(prefix: &IpNet, out: &mut BytesMut) {
    let len = prefix.prefix_len();
    let significant = usize::from(len).div_ceil(8);
    out.put_u8(len);
    match prefix {
        IpNet::V4(p) => out.put_slice(&p.network().octets()[..significant.min(4)]),
        IpNet::V6(p) => out.put_slice(&p.network().octets()[..significant.min(16)]),
    }
}

/// Writes one NLRI; the path identifier goes first when `add_path` is set
/// (a missing one is the caller's error, checked before writing).
pub(crate) fn encode_nlri(nlri: &Nlri, add_path: bool, out: &mut BytesMut) {
    if add_path {
        out.put_u32(nlri.path_id.unwrap_or(0));
    }
    encode_prefix(&nlri.prefix, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn rfc4271_encoding_uses_only_significant_octets() {
        let mut out = BytesMut::new();
        for p in [
            "10.0.0.0/8",
            "192.168.1.0/24",
            "0.0.0.0/0",
            "10.1.2.3/32",
            "172.16.0.0/12",
        ] {
            encode_prefix(&net(p), &mut out);
        }
        assert_eq!(
            &out[..],
            [8, 10, 24, 192, 168, 1, 0, 32, 10, 1, 2, 3, 12, 172, 16].as_slice()
        );
        let mut back = Vec::new();
        decode_nlri(&out, IpVersion::V4, false, &mut back).unwrap();
        let prefixes: Vec<_> = back.iter().map(|n| n.prefix.to_string()).collect();
        assert_eq!(
            prefixes,
            [
                "10.0.0.0/8",
                "192.168.1.0/24",
                "0.0.0.0/0",
                "10.1.2.3/32",
                "172.16.0.0/12"
            ]
        );
    }

    #[test]
    fn trailing_bits_are_cleared() {
        let mut back = Vec::new();
        decode_nlri(&[12, 172, 31], IpVersion::V4, false, &mut back).unwrap();
        assert_eq!(back[0].prefix, net("172.16.0.0/12"));
    }

    #[test]
    fn ipv6_and_add_path() {
        let nlri = Nlri::with_path_id(net("2001:db8::/32"), 7);
        let mut out = BytesMut::new();
        encode_nlri(&nlri, true, &mut out);
        assert_eq!(
            &out[..],
            [0, 0, 0, 7, 32, 0x20, 0x01, 0x0d, 0xb8].as_slice()
        );
        assert_eq!(nlri.wire_len(true), out.len());
        let mut back = Vec::new();
        decode_nlri(&out, IpVersion::V6, true, &mut back).unwrap();
        assert_eq!(back, [nlri]);
    }

    #[test]
    fn errors() {
        let mut v = Vec::new();
        assert_eq!(
            decode_nlri(&[33, 1, 2, 3, 4, 5], IpVersion::V4, false, &mut v),
            Err(NlriError::PrefixTooLong(33))
        );
        assert_eq!(
            decode_nlri(&[129], IpVersion::V6, false, &mut v),
            Err(NlriError::PrefixTooLong(129))
        );
        assert_eq!(
            decode_nlri(&[24, 10, 0], IpVersion::V4, false, &mut v),
            Err(NlriError::Truncated)
        );
        assert_eq!(
            decode_nlri(&[0, 0, 1], IpVersion::V4, true, &mut v),
            Err(NlriError::Truncated)
        );
        assert!(decode_nlri(&[128; 17], IpVersion::V6, false, &mut v).is_ok());
    }
}
