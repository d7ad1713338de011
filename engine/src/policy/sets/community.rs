//! Community sets and extended community sets, the text forms of their
//! members, and matching a route's communities. Large communities have
//! sets of their own ([`super::large`]).
//!
//! # Community-set members
//!
//! * `N:M` (each 0..65535) or one 32-bit number: a standard community.
//! * A well-known identity, `openconfig-bgp-types:NO_EXPORT` (or the bare
//!   name): NO_EXPORT, NO_ADVERTISE, NO_EXPORT_SUBCONFED, NOPEER,
//!   GRACEFUL_SHUTDOWN.
//! * `A:B:C` (three numbers) is refused: it could never match a standard
//!   community's `N:M` text, and is almost certainly a large community
//!   meant for an `ocbgp:large-community-set`.
//! * Anything else: a POSIX extended regular expression, searched for
//!   (unanchored, as `regexec` does) in each standard community written
//!   `N:M`. Use `^` and `$` to anchor.
//!
//! # Extended-community-set members
//!
//! The `bgp-ext-community-type` text forms (see [`parse_ext`]), or a
//! regular expression searched for in each extended community's text form
//! ([`write_ext`]).

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use regex::Regex;

use super::aspath::{alternation, push_u32};
use super::{digest_hash, next_id};
use crate::wire::{Community, ExtCommunity, LargeCommunity};

/// The well-known community named by an identity, with or without its
/// module prefix.
pub fn well_known(name: &str) -> Option<Community> {
    let bare = name
        .rsplit_once(':')
        .map_or(name, |(m, n)| if m.contains('-') { n } else { name });
    Some(match bare {
        "NO_EXPORT" => Community::NO_EXPORT,
        "NO_ADVERTISE" => Community::NO_ADVERTISE,
        "NO_EXPORT_SUBCONFED" => Community::NO_EXPORT_SUBCONFED,
        "NOPEER" => Community::NOPEER,
        "GRACEFUL_SHUTDOWN" => Community::GRACEFUL_SHUTDOWN,
        _ => return None,
    })
}

/// A standard community from `N:M`, a 32-bit number or a well-known name.
pub fn parse_std(text: &str) -> Option<Community> {
    if let Some(c) = well_known(text) {
        return Some(c);
    }
    if let Ok(n) = text.parse::<u32>() {
        return Some(Community(n));
    }
    let (hi, lo) = text.split_once(':')?;
    Some(Community::new(hi.parse().ok()?, lo.parse().ok()?))
}

/// A large community from `A:B:C`.
pub fn parse_large(text: &str) -> Option<LargeCommunity> {
    let mut it = text.split(':');
    let mut next = || it.next()?.parse::<u32>().ok();
    let l = LargeCommunity {
        global_admin: next()?,
        local_data1: next()?,
        local_data2: next()?,
    };
    if text.split(':').count() != 3 {
        return None;
    }
    Some(l)
}

/// One member of a community set, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member {
    /// A standard community.
    Std(Community),
    /// A regular expression (its text).
    Regex(String),
}

/// Classifies a community-set member's text; a large community (`A:B:C`)
/// is an error that says where it belongs.
pub fn parse_member(text: &str) -> Result<Member, String> {
    if let Some(c) = parse_std(text) {
        return Ok(Member::Std(c));
    }
    if parse_large(text).is_some() {
        return Err(format!(
            "{text:?} is a large community: put it in an ocbgp:large-community-set \
             (community-set members are standard communities or regular expressions)"
        ));
    }
    Ok(Member::Regex(text.to_string()))
}

/// Compiles POSIX-style regular expressions (the `regex` crate's syntax is
/// a superset of POSIX ERE for the constructs used in practice).
pub(crate) fn compile_regexes(texts: &[String]) -> Result<(Vec<Regex>, Option<Regex>), String> {
    let mut out = Vec::with_capacity(texts.len());
    for t in texts {
        out.push(Regex::new(t).map_err(|e| format!("regular expression {t:?}: {e}"))?);
    }
    Ok((out, alternation(texts)?))
}

/// Writes a standard community as `N:M` into `out` (cleared first).
pub fn write_std(c: Community, out: &mut String) {
    out.clear();
    push_u32(out, u32::from(c.asn()));
    out.push(':');
    push_u32(out, u32::from(c.value()));
}

/// A compiled community set.
#[derive(Debug)]
pub struct CommunitySet {
    pub(crate) name: String,
    pub(crate) id: u64,
    /// Literal standard members, sorted.
    pub(crate) std: Vec<Community>,
    /// Regex members, in order.
    regexes: Vec<Regex>,
    regex_set: Option<Regex>,
    /// The deprecated `match-set-options` of the set is INVERT: REMOVE
    /// takes off what does not match.
    pub(crate) invert_removal: bool,
    pub(crate) fingerprint: u64,
}

impl CommunitySet {
    /// A set of `members` (text as configured). Errors name the bad member.
    pub fn new(
        name: &str,
        members: &[String],
        invert_removal: bool,
    ) -> Result<CommunitySet, String> {
        let mut std = Vec::new();
        let mut regex_texts = Vec::new();
        for m in members {
            match parse_member(m)? {
                Member::Std(c) => std.push(c),
                Member::Regex(r) => regex_texts.push(r),
            }
        }
        Self::build(name, std, regex_texts, invert_removal)
    }

    pub(crate) fn build(
        name: &str,
        mut std: Vec<Community>,
        regex_texts: Vec<String>,
        invert_removal: bool,
    ) -> Result<CommunitySet, String> {
        std.sort_unstable();
        std.dedup();
        let (regexes, regex_set) = compile_regexes(&regex_texts)?;
        let fingerprint = digest_hash(&(&std, &regex_texts, invert_removal));
        Ok(CommunitySet {
            name: name.to_string(),
            id: next_id(),
            std,
            regexes,
            regex_set,
            invert_removal,
            fingerprint,
        })
    }

    /// The set's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the set has regular-expression members.
    pub fn has_regexes(&self) -> bool {
        !self.regexes.is_empty()
    }

    /// Whether one standard community matches some member.
    pub fn matches_std(&self, c: Community, scratch: &mut String) -> bool {
        if self.std.binary_search(&c).is_ok() {
            return true;
        }
        match &self.regex_set {
            None => false,
            Some(set) => {
                write_std(c, scratch);
                set.is_match(scratch)
            }
        }
    }

    /// ANY: some community of the route matches some member.
    pub fn any(&self, std: &[Community], scratch: &mut String) -> bool {
        std.iter().any(|&c| self.matches_std(c, scratch))
    }

    /// ALL: every member matches some community of the route (an empty
    /// set matches every route).
    pub fn all(&self, std: &[Community], scratch: &mut String) -> bool {
        if !self.std.iter().all(|c| std.contains(c)) {
            return false;
        }
        self.regexes.iter().all(|re| {
            std.iter().any(|&c| {
                write_std(c, scratch);
                re.is_match(scratch)
            })
        })
    }
}

// ---------------------------------------------------------------------
// Extended communities

const TWO_OCTET_AS: u8 = 0x00;
const IPV4: u8 = 0x01;
const FOUR_OCTET_AS: u8 = 0x02;
const OPAQUE: u8 = 0x03;
const RT: u8 = 0x02;
const SOO: u8 = 0x03;
const COLOR: u8 = 0x0b;
const LINK_BANDWIDTH_TYPE: u8 = 0x40;
const LINK_BANDWIDTH: u8 = 0x04;

/// Parses the `bgp-ext-community-type` text forms:
///
/// | text | community |
/// |---|---|
/// | `route-target:AS2:N32`, bare `AS2:N32` | two-octet-AS route target (type 0x00, sub-type 0x02) |
/// | `route-target:A.B.C.D:N16`, bare `A.B.C.D:N16` | IPv4-address route target (0x01, 0x02) |
/// | `route-target:AS4:N16`, bare `AS4:N16` (AS over 65535) | four-octet-AS route target (0x02, 0x02) |
/// | `route-origin:...` | the same layouts with sub-type 0x03 (site of origin) |
/// | `color:CO:N32` | colour (0x03, 0x0b), CO bits in the flags' top two bits (RFC 9012) |
/// | `link-bandwidth:AS2:BW[k|K|M|G]` | link bandwidth (0x40, 0x04), BW in bit/s, carried as IEEE float bytes/s |
///
/// The bare forms are route targets (the common use of an untyped
/// extended community). `N:M` with a first part up to 65535 is the
/// two-octet-AS layout.
pub fn parse_ext(text: &str) -> Option<ExtCommunity> {
    if let Some(rest) = text.strip_prefix("route-target:") {
        return parse_as_or_ip(rest, RT);
    }
    if let Some(rest) = text.strip_prefix("route-origin:") {
        return parse_as_or_ip(rest, SOO);
    }
    if let Some(rest) = text.strip_prefix("color:") {
        let (co, value) = rest.split_once(':')?;
        let co = u8::from_str_radix(co, 2)
            .ok()
            .filter(|c| *c < 4 && co.len() == 2)?;
        let value: u32 = value.parse().ok()?;
        let v = value.to_be_bytes();
        return Some(ExtCommunity([
            OPAQUE,
            COLOR,
            co << 6,
            0,
            v[0],
            v[1],
            v[2],
            v[3],
        ]));
    }
    if let Some(rest) = text.strip_prefix("link-bandwidth:") {
        let (asn, bw) = rest.split_once(':')?;
        let asn: u16 = asn.parse().ok()?;
        let (digits, mult) = match bw.as_bytes().last()? {
            b'k' | b'K' => (&bw[..bw.len() - 1], 1e3),
            b'M' => (&bw[..bw.len() - 1], 1e6),
            b'G' => (&bw[..bw.len() - 1], 1e9),
            _ => (bw, 1.0),
        };
        let bits: u32 = digits.parse().ok()?;
        let bytes_per_s = (f64::from(bits) * mult / 8.0) as f32;
        let a = asn.to_be_bytes();
        let f = bytes_per_s.to_bits().to_be_bytes();
        return Some(ExtCommunity([
            LINK_BANDWIDTH_TYPE,
            LINK_BANDWIDTH,
            a[0],
            a[1],
            f[0],
            f[1],
            f[2],
            f[3],
        ]));
    }
    parse_as_or_ip(text, RT)
}

fn parse_as_or_ip(text: &str, subtype: u8) -> Option<ExtCommunity> {
    let (admin, value) = text.rsplit_once(':')?;
    if let Ok(ip) = admin.parse::<Ipv4Addr>() {
        let v: u16 = value.parse().ok()?;
        let o = ip.octets();
        let v = v.to_be_bytes();
        return Some(ExtCommunity([
            IPV4, subtype, o[0], o[1], o[2], o[3], v[0], v[1],
        ]));
    }
    let asn: u32 = admin.parse().ok()?;
    if asn <= 0xffff {
        let a = (asn as u16).to_be_bytes();
        let v = value.parse::<u32>().ok()?.to_be_bytes();
        return Some(ExtCommunity([
            TWO_OCTET_AS,
            subtype,
            a[0],
            a[1],
            v[0],
            v[1],
            v[2],
            v[3],
        ]));
    }
    let a = asn.to_be_bytes();
    let v = value.parse::<u16>().ok()?.to_be_bytes();
    Some(ExtCommunity([
        FOUR_OCTET_AS,
        subtype,
        a[0],
        a[1],
        a[2],
        a[3],
        v[0],
        v[1],
    ]))
}

/// Writes an extended community's text form into `out` (cleared first):
/// the forms of [`parse_ext`] with their prefix (`route-target:65000:1`,
/// `route-origin:192.0.2.1:7`, `color:01:100`,
/// `link-bandwidth:65000:1000000` in bit/s), and for any other type the
/// 16 hex digits of the raw octets (`0x` first).
pub fn write_ext(c: ExtCommunity, out: &mut String) {
    out.clear();
    let b = c.0;
    let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let kind = match b[1] {
        RT => "route-target",
        _ => "route-origin",
    };
    let _ = match (b[0], b[1]) {
        (TWO_OCTET_AS, RT | SOO) => write!(out, "{kind}:{}:{}", u16_at(2), u32_at(4)),
        (IPV4, RT | SOO) => write!(
            out,
            "{kind}:{}:{}",
            Ipv4Addr::new(b[2], b[3], b[4], b[5]),
            u16_at(6)
        ),
        (FOUR_OCTET_AS, RT | SOO) => write!(out, "{kind}:{}:{}", u32_at(2), u16_at(6)),
        (OPAQUE, COLOR) => write!(out, "color:{:02b}:{}", b[2] >> 6, u32_at(4)),
        (LINK_BANDWIDTH_TYPE, LINK_BANDWIDTH) => {
            let bytes_per_s = f32::from_bits(u32_at(4));
            write!(
                out,
                "link-bandwidth:{}:{}",
                u16_at(2),
                (f64::from(bytes_per_s) * 8.0).round() as u64
            )
        }
        _ => {
            out.push_str("0x");
            b.iter().try_for_each(|x| write!(out, "{x:02x}"))
        }
    };
}

/// A compiled extended community set.
#[derive(Debug)]
pub struct ExtCommunitySet {
    pub(crate) name: String,
    pub(crate) id: u64,
    /// Literal members, sorted.
    pub(crate) literal: Vec<ExtCommunity>,
    regexes: Vec<Regex>,
    regex_set: Option<Regex>,
    pub(crate) invert_removal: bool,
    pub(crate) fingerprint: u64,
}

impl ExtCommunitySet {
    /// A set of `members` (text as configured).
    pub fn new(
        name: &str,
        members: &[String],
        invert_removal: bool,
    ) -> Result<ExtCommunitySet, String> {
        let mut literal = Vec::new();
        let mut regex_texts = Vec::new();
        for m in members {
            match parse_ext(m) {
                Some(c) => literal.push(c),
                None => regex_texts.push(m.clone()),
            }
        }
        Self::build(name, literal, regex_texts, invert_removal)
    }

    pub(crate) fn build(
        name: &str,
        mut literal: Vec<ExtCommunity>,
        regex_texts: Vec<String>,
        invert_removal: bool,
    ) -> Result<ExtCommunitySet, String> {
        literal.sort_unstable();
        literal.dedup();
        let (regexes, regex_set) = compile_regexes(&regex_texts)?;
        let fingerprint = digest_hash(&(&literal, &regex_texts, invert_removal));
        Ok(ExtCommunitySet {
            name: name.to_string(),
            id: next_id(),
            literal,
            regexes,
            regex_set,
            invert_removal,
            fingerprint,
        })
    }

    /// The set's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the set has regular-expression members.
    pub fn has_regexes(&self) -> bool {
        !self.regexes.is_empty()
    }

    /// Whether one extended community matches some member.
    pub fn matches(&self, c: ExtCommunity, scratch: &mut String) -> bool {
        if self.literal.binary_search(&c).is_ok() {
            return true;
        }
        match &self.regex_set {
            None => false,
            Some(set) => {
                write_ext(c, scratch);
                set.is_match(scratch)
            }
        }
    }

    /// ANY: some community of the route matches some member.
    pub fn any(&self, route: &[ExtCommunity], scratch: &mut String) -> bool {
        route.iter().any(|&c| self.matches(c, scratch))
    }

    /// ALL: every member matches some community of the route.
    pub fn all(&self, route: &[ExtCommunity], scratch: &mut String) -> bool {
        self.literal.iter().all(|c| route.contains(c))
            && self.regexes.iter().all(|re| {
                route.iter().any(|&c| {
                    write_ext(c, scratch);
                    re.is_match(scratch)
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_classified() {
        assert_eq!(
            parse_member("65000:100"),
            Ok(Member::Std(Community::new(65000, 100)))
        );
        assert_eq!(
            parse_member("4294967041"),
            Ok(Member::Std(Community::NO_EXPORT))
        );
        assert_eq!(
            parse_member("openconfig-bgp-types:NO_EXPORT"),
            Ok(Member::Std(Community::NO_EXPORT))
        );
        assert_eq!(parse_member("NOPEER"), Ok(Member::Std(Community::NOPEER)));
        assert!(parse_member("65000:1:2")
            .unwrap_err()
            .contains("large-community-set"));
        assert_eq!(
            parse_member("^65000:.*$"),
            Ok(Member::Regex("^65000:.*$".into()))
        );
        assert_eq!(parse_member("70000:1"), Ok(Member::Regex("70000:1".into())));
    }

    #[test]
    fn any_all_regex() {
        let s =
            CommunitySet::new("s", &["65000:1".into(), "^65001:[0-9]+$".into()], false).unwrap();
        let mut sc = String::new();
        let r1 = [Community::new(65000, 1)];
        let r2 = [Community::new(65001, 77), Community::new(1, 1)];
        let both = [Community::new(65001, 77), Community::new(65000, 1)];
        assert!(s.any(&r1, &mut sc));
        assert!(s.any(&r2, &mut sc));
        assert!(!s.any(&[Community::new(65002, 1)], &mut sc));
        assert!(!s.all(&r1, &mut sc));
        assert!(s.all(&both, &mut sc));
        assert!(!s.any(&[], &mut sc));
    }

    #[test]
    fn ext_text_round_trip() {
        for t in [
            "route-target:65000:100",
            "route-target:192.0.2.1:7",
            "route-target:4200000000:7",
            "route-origin:65000:4000000000",
            "route-origin:10.0.0.1:65535",
            "color:01:100",
            "link-bandwidth:65000:1000000",
        ] {
            let c = parse_ext(t).unwrap_or_else(|| panic!("{t}"));
            let mut s = String::new();
            write_ext(c, &mut s);
            assert_eq!(s, t);
        }
        assert_eq!(parse_ext("65000:100"), parse_ext("route-target:65000:100"));
        assert_eq!(
            parse_ext("link-bandwidth:1:1M"),
            parse_ext("link-bandwidth:1:1000000")
        );
        assert_eq!(parse_ext("65536:70000"), None);
        assert_eq!(parse_ext("^route-target:.*"), None);
        let mut s = String::new();
        write_ext(ExtCommunity([0x80, 9, 1, 2, 3, 4, 5, 6]), &mut s);
        assert_eq!(s, "0x8009010203040506");
        let rt = parse_ext("route-target:65000:100").unwrap();
        assert_eq!(rt.0, [0, 2, 0xfd, 0xe8, 0, 0, 0, 100]);
    }
}
