//! Prefix sets: IPv4 and IPv6 prefixes with mask-length ranges.
//!
//! A route prefix `P/len` matches an entry `E/elen` with range `lo..hi`
//! when `E/elen` covers `P/len` (`len >= elen` and the first `elen` bits
//! agree) and `lo <= len <= hi`. `exact` is the range `elen..elen`.
//!
//! Layout, for sets of 100,000 entries and more: per family, one hash
//! table keyed by (address truncated to the entry's length, length),
//! holding the entry's ranges, plus a bitmap of the lengths present and,
//! per length, the lowest and highest route length any of its entries
//! accepts. A lookup probes only lengths `elen <= len` whose bounds admit
//! `len`: a set of `exact` entries costs one probe, a set of `x/8 le 24`
//! style entries at most one probe per length in use.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;
use smallvec::SmallVec;

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

/// One family's table.
///
/// The hot table maps (truncated address, entry length) to a bitmap of the
/// route lengths its entries accept, so a probe is one lookup and one bit
/// test. Before probing a length, a 64 Kbit filter per length (indexed by
/// the last 16 bits of the truncated address) is tested: most lengths of a
/// large set have no entry near a given prefix, and the filters (8 KB per
/// length in use) stay in cache where the table does not.
#[derive(Debug, Clone)]
struct Family {
    /// Address width: 32 or 128.
    bits: u8,
    /// Lengths that have entries (bit `l` of word `l / 64`).
    lengths: [u64; 3],
    /// Per entry length: the lowest route length an entry there accepts.
    lo_min: [u8; 129],
    /// Per entry length: the highest route length an entry there accepts.
    hi_max: [u8; 129],
    /// Per entry length: the probe filter.
    filters: Vec<Option<Box<[u64]>>>,
    /// (truncated address, entry length) → accepted route lengths.
    hot: HashMap<(u128, u8), LengthMask, FastBuild>,
    /// (truncated address, entry length) → the entries' ranges, to
    /// rebuild the mask when an entry goes.
    ranges: HashMap<(u128, u8), SmallVec<[LengthRange; 1]>, FastBuild>,
}

/// Route lengths 0..=128 as a bitmap.
type LengthMask = [u64; 3];

fn mask_of(ranges: &[LengthRange]) -> LengthMask {
    let mut m = [0u64; 3];
    for &(lo, hi) in ranges {
        for l in lo..=hi {
            m[usize::from(l) / 64] |= 1 << (l % 64);
        }
    }
    m
}

impl Family {
    fn new(bits: u8) -> Family {
        Family {
            bits,
            lengths: [0; 3],
            lo_min: [u8::MAX; 129],
            hi_max: [0; 129],
            filters: vec![None; usize::from(bits) + 1],
            hot: HashMap::default(),
            ranges: HashMap::default(),
        }
    }

    /// The first `len` bits of `addr` (an address `bits` wide in the low
    /// bits of a u128).
    #[inline]
    fn truncate(&self, addr: u128, len: u8) -> u128 {
        if len == 0 {
            return 0;
        }
        let keep = (u128::MAX << (128 - u32::from(len))) >> (128 - u32::from(self.bits));
        addr & keep
    }

    /// The filter bit of a truncated address at length `len`: its last
    /// (up to) 16 prefix bits.
    #[inline]
    fn filter_index(&self, truncated: u128, len: u8) -> usize {
        if len == 0 {
            return 0;
        }
        let shifted = truncated >> (u32::from(self.bits) - u32::from(len));
        (shifted & ((1 << FILTER_BITS) - 1)) as usize
    }

    fn insert(&mut self, addr: u128, len: u8, range: LengthRange) -> bool {
        let key = (self.truncate(addr, len), len);
        let ranges = self.ranges.entry(key).or_default();
        if ranges.contains(&range) {
            return false;
        }
        ranges.push(range);
        self.hot.insert(key, mask_of(ranges));
        let l = usize::from(len);
        self.lengths[l / 64] |= 1 << (l % 64);
        self.lo_min[l] = self.lo_min[l].min(range.0);
        self.hi_max[l] = self.hi_max[l].max(range.1);
        let i = self.filter_index(key.0, len);
        let filter = self.filters[l]
            .get_or_insert_with(|| vec![0u64; 1 << (FILTER_BITS - 6)].into_boxed_slice());
        filter[i / 64] |= 1 << (i % 64);
        true
    }

    /// Removes an entry. The length bitmap, bounds and filters stay as
    /// they were: they only skip probes, and wider ones are still correct.
    fn remove(&mut self, addr: u128, len: u8, range: LengthRange) -> bool {
        let key = (self.truncate(addr, len), len);
        let Some(ranges) = self.ranges.get_mut(&key) else {
            return false;
        };
        let Some(i) = ranges.iter().position(|r| *r == range) else {
            return false;
        };
        ranges.swap_remove(i);
        if ranges.is_empty() {
            self.ranges.remove(&key);
            self.hot.remove(&key);
        } else {
            let m = mask_of(ranges);
            self.hot.insert(key, m);
        }
        true
    }

    #[inline]
    fn contains(&self, addr: u128, len: u8) -> bool {
        if self.hot.is_empty() {
            return false;
        }
        let bit = (usize::from(len) / 64, 1u64 << (len % 64));
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
                let t = self.truncate(addr, l);
                if let Some(f) = &self.filters[li] {
                    let i = self.filter_index(t, l);
                    if f[i / 64] & (1 << (i % 64)) == 0 {
                        continue;
                    }
                }
                if let Some(m) = self.hot.get(&(t, l)) {
                    if m[bit.0] & bit.1 != 0 {
                        return true;
                    }
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
    v4: Family,
    v6: Family,
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

fn split(net: &IpNet) -> (bool, u128, u8) {
    match net {
        IpNet::V4(n) => (false, u128::from(u32::from(n.network())), n.prefix_len()),
        IpNet::V6(n) => (true, u128::from(n.network()), n.prefix_len()),
    }
}

impl PrefixSet {
    /// An empty set.
    pub fn new(name: &str, mode: Mode) -> PrefixSet {
        PrefixSet {
            name: name.to_string(),
            mode,
            v4: Family::new(32),
            v6: Family::new(128),
            entries: 0,
            entries_digest: 0,
        }
    }

    /// Adds the entry `prefix` with `range` text. Adding an entry twice
    /// changes nothing.
    pub fn insert(&mut self, prefix: IpNet, range: &str) -> Result<(), EntryError> {
        let (v6, addr, plen) = split(&prefix);
        let r = self.check(v6, plen, range)?;
        let fam = if v6 { &mut self.v6 } else { &mut self.v4 };
        if fam.insert(addr, plen, r) {
            self.entries += 1;
            self.entries_digest ^= digest_hash(&(v6, fam.truncate(addr, plen), plen, r));
        }
        Ok(())
    }

    /// Removes the entry `prefix` with `range` text, if present.
    pub fn remove(&mut self, prefix: IpNet, range: &str) -> Result<(), EntryError> {
        let (v6, addr, plen) = split(&prefix);
        let r = self.check(v6, plen, range)?;
        let fam = if v6 { &mut self.v6 } else { &mut self.v4 };
        if fam.remove(addr, plen, r) {
            self.entries -= 1;
            self.entries_digest ^= digest_hash(&(v6, fam.truncate(addr, plen), plen, r));
        }
        Ok(())
    }

    fn check(&self, v6: bool, plen: u8, range: &str) -> Result<LengthRange, EntryError> {
        match (self.mode, v6) {
            (Mode::V4, true) | (Mode::V6, false) => return Err(EntryError::WrongFamily),
            _ => {}
        }
        parse_range(range, plen, if v6 { 128 } else { 32 })
    }

    /// Whether the route prefix `net` matches an entry.
    #[inline]
    pub fn contains(&self, net: &IpNet) -> bool {
        let (v6, addr, len) = split(net);
        if v6 {
            self.v6.contains(addr, len)
        } else {
            self.v4.contains(addr, len)
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
