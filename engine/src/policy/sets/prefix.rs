//! Prefix sets: IPv4 and IPv6 prefixes with mask-length ranges.
//!
//! A route prefix `P/len` matches an entry `E/elen` with range `lo..hi`
//! when `E/elen` covers `P/len` (`len >= elen` and the first `elen` bits
//! agree) and `lo <= len <= hi`. `exact` is the range `elen..elen`.
//!
//! Layout, for sets of 100,000 entries and more: per family, one hash
//! table keyed by (address truncated to the entry's length, length),
//! holding the route lengths its entries accept as a bitmap (16 bytes a
//! slot for IPv4: 2 MB for 100,000 entries), plus a bitmap of the lengths
//! present and, per length, the lowest and highest route length any of its
//! entries accepts. A lookup probes only lengths `elen <= len` whose bounds admit
//! `len`: a set of `exact` entries costs one probe, a set of `x/8 le 24`
//! style entries at most one probe per length in use.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::net::IpAddr;

use ipnet::IpNet;

use super::{digest_hash, FastBuild};

/// An inclusive range of prefix lengths.
pub type LengthRange = (u8, u8);

/// Why an entry cannot be in a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryError {
    /// The masklength-range text is neither `exact` nor `low..high`.
    BadRange(String),
    /// The range is empty, beyond the family's maximum, or below the
    /// prefix's own length (so no prefix could match).
    ImpossibleRange(String),
    /// The set's mode does not allow this family.
    WrongFamily,
}

impl std::fmt::Display for EntryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EntryError::BadRange(t) => write!(
                f,
                "masklength-range {t:?} is neither \"exact\" nor \"low..high\""
            ),
            EntryError::ImpossibleRange(why) => f.write_str(why),
            EntryError::WrongFamily => {
                f.write_str("the prefix's address family is not allowed by the set's mode")
            }
        }
    }
}

/// Which families a set may hold (the model's `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
    /// Both (also when `mode` is not set).
    Mixed,
}

/// Bits of the per-length probe filter index.
const FILTER_BITS: u32 = 16;

/// A family's address as an unsigned integer (`u32` for IPv4, `u128` for
/// IPv6), so that an IPv4 table's keys take 8 bytes rather than 32.
trait Address: Copy + Eq + Hash + fmt::Debug {
    /// Address width.
    const BITS: u8;
    /// Route lengths `0..=BITS` as a bitmap.
    type Mask: Lengths;
    /// The first `len` bits, the rest zero.
    fn truncate(self, len: u8) -> Self;
    /// The last (up to) 16 of the first `len` bits of a truncated address.
    fn low_bits(self, len: u8) -> usize;
}

/// [`Address`] for an unsigned integer type and its length bitmap.
macro_rules! address {
    ($t:ty, $mask:ty) => {
        impl Address for $t {
            const BITS: u8 = <$t>::BITS as u8;
            type Mask = $mask;
            #[inline]
            fn truncate(self, len: u8) -> $t {
                self & <$t>::MAX
                    .checked_shl(<$t>::BITS - u32::from(len))
                    .unwrap_or(0)
            }
            #[inline]
            fn low_bits(self, len: u8) -> usize {
                let prefix = self.checked_shr(<$t>::BITS - u32::from(len)).unwrap_or(0);
                (prefix & ((1 << FILTER_BITS) - 1)) as usize
            }
        }
    };
}

address!(u32, u64);
address!(u128, [u64; 3]);

/// A bitmap of route lengths.
trait Lengths: Copy + Eq + fmt::Debug {
    /// The lengths of `ranges`.
    fn of(ranges: &[LengthRange]) -> Self;
    /// Whether `len` is in.
    fn has(&self, len: u8) -> bool;
    /// The lowest and highest length in (of a non-empty map).
    fn bounds(&self) -> LengthRange;
}

impl Lengths for u64 {
    fn of(ranges: &[LengthRange]) -> u64 {
        ranges
            .iter()
            .flat_map(|&(lo, hi)| lo..=hi)
            .fold(0, |m, l| m | 1 << l)
    }
    #[inline]
    fn has(&self, len: u8) -> bool {
        self & 1u64.checked_shl(u32::from(len)).unwrap_or(0) != 0
    }
    fn bounds(&self) -> LengthRange {
        (
            self.trailing_zeros() as u8,
            (63 - self.leading_zeros()) as u8,
        )
    }
}

impl Lengths for [u64; 3] {
    fn of(ranges: &[LengthRange]) -> [u64; 3] {
        let mut m = [0u64; 3];
        for l in ranges.iter().flat_map(|&(lo, hi)| lo..=hi) {
            m[usize::from(l) / 64] |= 1 << (l % 64);
        }
        m
    }
    #[inline]
    fn has(&self, len: u8) -> bool {
        self[usize::from(len) / 64] & (1 << (len % 64)) != 0
    }
    fn bounds(&self) -> LengthRange {
        let lo = (0..=128u8).find(|&l| self.has(l)).unwrap_or(0);
        let hi = (0..=128u8).rev().find(|&l| self.has(l)).unwrap_or(0);
        (lo, hi)
    }
}

/// One family's table.
///
/// The hot table maps (truncated address, entry length) to a bitmap of the
/// route lengths its entries accept, so a probe is one lookup and one bit
/// test; an IPv4 slot is 16 bytes. A prefix that several entries share
/// (with different ranges) also has its ranges in `shared`, to rebuild the
/// bitmap when one goes; a prefix's one range is its bitmap's one run.
/// Before probing a length, a 64 Kbit filter per length (indexed by the
/// last 16 bits of the truncated address) is tested: most lengths of a
/// large set have no entry near a given prefix, and the filters (8 KB per
/// length in use) stay in cache where the table does not.
#[derive(Debug, Clone)]
struct Family<A: Address> {
    /// Lengths that have entries (bit `l` of word `l / 64`).
    lengths: [u64; 3],
    /// Per entry length: the lowest route length an entry there accepts.
    lo_min: [u8; 129],
    /// Per entry length: the highest route length an entry there accepts.
    hi_max: [u8; 129],
    /// Per entry length: the probe filter.
    filters: Vec<Option<Box<[u64]>>>,
    /// (truncated address, entry length) → accepted route lengths.
    hot: HashMap<(A, u8), A::Mask, FastBuild>,
    /// The ranges of prefixes that more than one entry has.
    shared: HashMap<(A, u8), Vec<LengthRange>, FastBuild>,
}

impl<A: Address> Family<A> {
    fn new() -> Family<A> {
        Family {
            lengths: [0; 3],
            lo_min: [u8::MAX; 129],
            hi_max: [0; 129],
            filters: vec![None; usize::from(A::BITS) + 1],
            hot: HashMap::default(),
            shared: HashMap::default(),
        }
    }

    fn insert(&mut self, addr: A, len: u8, range: LengthRange) -> bool {
        let key = (addr.truncate(len), len);
        let ranges = match (self.hot.get(&key), self.shared.get_mut(&key)) {
            (None, _) => vec![range],
            (Some(_), Some(ranges)) if ranges.contains(&range) => return false,
            (Some(_), Some(ranges)) => {
                ranges.push(range);
                ranges.clone()
            }
            (Some(mask), None) => {
                let only = mask.bounds();
                if only == range {
                    return false;
                }
                self.shared.insert(key, vec![only, range]);
                vec![only, range]
            }
        };
        self.hot.insert(key, A::Mask::of(&ranges));
        let l = usize::from(len);
        self.lengths[l / 64] |= 1 << (l % 64);
        self.lo_min[l] = self.lo_min[l].min(range.0);
        self.hi_max[l] = self.hi_max[l].max(range.1);
        let i = key.0.low_bits(len);
        let filter = self.filters[l]
            .get_or_insert_with(|| vec![0u64; 1 << (FILTER_BITS - 6)].into_boxed_slice());
        filter[i / 64] |= 1 << (i % 64);
        true
    }

    /// Removes an entry. The length bitmap, bounds and filters stay as
    /// they were: they only skip probes, and wider ones are still correct.
    fn remove(&mut self, addr: A, len: u8, range: LengthRange) -> bool {
        let key = (addr.truncate(len), len);
        let Some(mask) = self.hot.get(&key) else {
            return false;
        };
        let Some(ranges) = self.shared.get_mut(&key) else {
            if mask.bounds() != range {
                return false;
            }
            self.hot.remove(&key);
            return true;
        };
        let Some(i) = ranges.iter().position(|r| *r == range) else {
            return false;
        };
        ranges.swap_remove(i);
        let mask = A::Mask::of(ranges);
        if ranges.len() == 1 {
            self.shared.remove(&key);
        }
        self.hot.insert(key, mask);
        true
    }

    #[inline]
    fn contains(&self, addr: A, len: u8) -> bool {
        if self.hot.is_empty() {
            return false;
        }
        for (w, &word) in self.lengths.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let l = (w * 64 + bits.trailing_zeros() as usize) as u8;
                bits &= bits - 1;
                if l > len {
                    return false;
                }
                let li = usize::from(l);
                if len < self.lo_min[li] || len > self.hi_max[li] {
                    continue;
                }
                let t = addr.truncate(l);
                if let Some(f) = &self.filters[li] {
                    let i = t.low_bits(l);
                    if f[i / 64] & (1 << (i % 64)) == 0 {
                        continue;
                    }
                }
                if self.hot.get(&(t, l)).is_some_and(|m| m.has(len)) {
                    return true;
                }
            }
        }
        false
    }
}
/// A compiled prefix-set.
#[derive(Debug, Clone)]
pub struct PrefixSet {
    pub(crate) name: String,
    mode: Mode,
    v4: Family<u32>,
    v6: Family<u128>,
    entries: usize,
    /// XOR of the entries' digests, so that single-entry changes update it.
    entries_digest: u64,
}

/// Parses a masklength-range for a prefix of length `plen` in a family of
/// `max` bits.
pub fn parse_range(text: &str, plen: u8, max: u8) -> Result<LengthRange, EntryError> {
    let (lo, hi) = if text == "exact" {
        (plen, plen)
    } else {
        let (a, b) = text
            .split_once("..")
            .ok_or_else(|| EntryError::BadRange(text.to_string()))?;
        let parse = |s: &str| {
            s.parse::<u16>()
                .map_err(|_| EntryError::BadRange(text.to_string()))
        };
        let (a, b) = (parse(a)?, parse(b)?);
        if a > b || b > u16::from(max) {
            return Err(EntryError::ImpossibleRange(format!(
                "masklength-range {text} is empty or beyond /{max}"
            )));
        }
        (a as u8, b as u8)
    };
    if hi < plen {
        return Err(EntryError::ImpossibleRange(format!(
            "masklength-range {text} ends below the prefix's own length /{plen}, so nothing can match"
        )));
    }
    // Lengths below the prefix's own cannot be covered by it.
    Ok((lo.max(plen), hi))
}

/// An entry's share of a set's digest: its prefix (truncated) and range.
fn entry_digest(prefix: &IpNet, range: LengthRange) -> u64 {
    digest_hash(&(prefix.trunc(), range))
}

impl PrefixSet {
    /// An empty set.
    pub fn new(name: &str, mode: Mode) -> PrefixSet {
        PrefixSet {
            name: name.to_string(),
            mode,
            v4: Family::new(),
            v6: Family::new(),
            entries: 0,
            entries_digest: 0,
        }
    }

    /// Adds the entry `prefix` with `range` text. Adding an entry twice
    /// changes nothing.
    pub fn insert(&mut self, prefix: IpNet, range: &str) -> Result<(), EntryError> {
        self.change(prefix, range, true)
    }

    /// Removes the entry `prefix` with `range` text, if present.
    pub fn remove(&mut self, prefix: IpNet, range: &str) -> Result<(), EntryError> {
        self.change(prefix, range, false)
    }

    fn change(&mut self, prefix: IpNet, range: &str, add: bool) -> Result<(), EntryError> {
        let (plen, r) = (prefix.prefix_len(), self.check(&prefix, range)?);
        let changed = match (prefix, add) {
            (IpNet::V4(n), true) => self.v4.insert(u32::from(n.network()), plen, r),
            (IpNet::V4(n), false) => self.v4.remove(u32::from(n.network()), plen, r),
            (IpNet::V6(n), true) => self.v6.insert(u128::from(n.network()), plen, r),
            (IpNet::V6(n), false) => self.v6.remove(u128::from(n.network()), plen, r),
        };
        if changed {
            if add {
                self.entries += 1;
            } else {
                self.entries -= 1;
            }
            self.entries_digest ^= entry_digest(&prefix, r);
        }
        Ok(())
    }

    fn check(&self, prefix: &IpNet, range: &str) -> Result<LengthRange, EntryError> {
        match (self.mode, prefix) {
            (Mode::V4, IpNet::V6(_)) | (Mode::V6, IpNet::V4(_)) => Err(EntryError::WrongFamily),
            _ => parse_range(range, prefix.prefix_len(), prefix.max_prefix_len()),
        }
    }

    /// Whether the route prefix `net` matches an entry.
    #[inline]
    pub fn contains(&self, net: &IpNet) -> bool {
        match net {
            IpNet::V4(n) => self.v4.contains(u32::from(n.addr()), n.prefix_len()),
            IpNet::V6(n) => self.v6.contains(u128::from(n.addr()), n.prefix_len()),
        }
    }

    /// Whether the address `addr` (as a host prefix) matches an entry.
    pub fn contains_addr(&self, addr: IpAddr) -> bool {
        self.contains(&IpNet::from(addr))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Whether the set has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The set's mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The set's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A digest of the contents (entries and mode).
    pub(crate) fn fingerprint(&self) -> u64 {
        self.entries_digest ^ digest_hash(&self.mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn exact_and_ranges() {
        let mut s = PrefixSet::new("x", Mode::Mixed);
        s.insert(net("10.0.0.0/8"), "exact").unwrap();
        s.insert(net("192.168.0.0/16"), "24..32").unwrap();
        s.insert(net("2001:db8::/32"), "48..64").unwrap();
        s.insert(net("0.0.0.0/0"), "exact").unwrap();
        assert!(s.contains(&net("10.0.0.0/8")));
        assert!(!s.contains(&net("10.0.0.0/9")));
        assert!(!s.contains(&net("11.0.0.0/8")));
        assert!(s.contains(&net("192.168.7.0/24")));
        assert!(s.contains(&net("192.168.7.1/32")));
        assert!(!s.contains(&net("192.168.0.0/16")));
        assert!(!s.contains(&net("192.169.0.0/24")));
        assert!(s.contains(&net("2001:db8:1::/48")));
        assert!(!s.contains(&net("2001:db8:1::/47")));
        assert!(!s.contains(&net("2001:db9::/48")));
        assert!(s.contains(&net("0.0.0.0/0")));
        assert!(!s.contains(&net("::/0")));
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn same_prefix_several_ranges_and_removal() {
        let mut s = PrefixSet::new("x", Mode::V4);
        s.insert(net("10.0.0.0/8"), "exact").unwrap();
        s.insert(net("10.0.0.0/8"), "24..24").unwrap();
        let before = s.fingerprint();
        assert!(s.contains(&net("10.1.2.0/24")));
        assert!(s.contains(&net("10.0.0.0/8")));
        assert!(!s.contains(&net("10.1.0.0/16")));
        s.remove(net("10.0.0.0/8"), "24..24").unwrap();
        assert!(!s.contains(&net("10.1.2.0/24")));
        assert!(s.contains(&net("10.0.0.0/8")));
        s.insert(net("10.0.0.0/8"), "24..24").unwrap();
        assert_eq!(s.fingerprint(), before);
        assert_eq!(
            s.insert(net("2001:db8::/32"), "exact"),
            Err(EntryError::WrongFamily)
        );
    }

    #[test]
    fn ranges_checked() {
        assert_eq!(parse_range("exact", 8, 32), Ok((8, 8)));
        assert_eq!(parse_range("4..16", 8, 32), Ok((8, 16)));
        assert!(parse_range("16..8", 8, 32).is_err());
        assert!(parse_range("8..33", 8, 32).is_err());
        assert!(parse_range("4..6", 8, 32).is_err());
        assert!(parse_range("x", 8, 32).is_err());
        assert_eq!(parse_range("64..128", 32, 128), Ok((64, 128)));
    }

    /// Random entries added and removed, each lookup checked against the
    /// definition (an entry covers the route and its range admits it).
    #[test]
    fn agrees_with_the_definition() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut set = PrefixSet::new("x", Mode::Mixed);
        let mut model: Vec<(IpNet, LengthRange)> = Vec::new();
        for step in 0..4000 {
            // Few distinct prefixes, so that entries share them.
            let v6 = next(4) == 0;
            let len = next(if v6 { 129 } else { 33 }) as u8;
            let net = if v6 {
                IpNet::V6(
                    ipnet::Ipv6Net::new(
                        (0x2001_0db8u128 << 96 | u128::from(next(4)) << 100).into(),
                        len,
                    )
                    .unwrap(),
                )
            } else {
                IpNet::V4(
                    ipnet::Ipv4Net::new((0x0a00_0000u32 | (next(4) as u32) << 20).into(), len)
                        .unwrap(),
                )
            };
            let max = net.max_prefix_len();
            let lo = len + next(u64::from(max - len) + 1) as u8;
            let hi = lo + next(u64::from(max - lo) + 1) as u8;
            let text = format!("{lo}..{hi}");
            let entry = (net.trunc(), (lo, hi));
            if next(3) == 0 {
                set.remove(net, &text).unwrap();
                model.retain(|e| *e != entry);
            } else {
                set.insert(net, &text).unwrap();
                if !model.contains(&entry) {
                    model.push(entry);
                }
            }
            assert_eq!(set.len(), model.len(), "step {step}");
            for _ in 0..8 {
                let probe = if next(2) == 0 {
                    net
                } else {
                    model
                        .get(next(model.len().max(1) as u64) as usize)
                        .map_or(net, |e| e.0)
                };
                let plen = probe.prefix_len()
                    + next(u64::from(probe.max_prefix_len() - probe.prefix_len()) + 1) as u8;
                let route = IpNet::new(probe.addr(), plen).unwrap().trunc();
                let want = model
                    .iter()
                    .any(|(e, (lo, hi))| e.contains(&route) && (*lo..=*hi).contains(&plen));
                assert_eq!(
                    set.contains(&route),
                    want,
                    "step {step}: {route} in {model:?}"
                );
            }
        }
    }

    #[test]
    fn host_routes_and_unaligned_input() {
        let mut s = PrefixSet::new("x", Mode::Mixed);
        s.insert(net("10.1.2.3/8"), "8..32").unwrap();
        assert!(s.contains(&net("10.255.255.255/32")));
        assert!(s.contains_addr("10.9.9.9".parse().unwrap()));
        s.insert(net("::1/128"), "exact").unwrap();
        assert!(s.contains(&net("::1/128")));
    }
}
