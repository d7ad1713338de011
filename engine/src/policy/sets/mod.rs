//! Compiled defined sets: the structures conditions and actions look
//! routes up in. Each is immutable once built and shared by `Arc`, so a
//! policy chain is a self-contained snapshot.

pub mod aspath;
pub mod community;
pub mod large;
pub mod prefix;

use std::fmt::{self, Write as _};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

/// A fast hasher for the integer keys of compiled sets (prefix tables).
/// Keys come from configuration, so there is nothing to flood; lookups
/// with route data never insert.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher {
    hash: u64,
}

const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.add(i as u64);
        self.add((i >> 64) as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    /// The state through a finalizer (murmur3's), so that the low bits the
    /// table indexes with depend on every input bit.
    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// `BuildHasher` for [`FastHasher`].
pub(crate) type FastBuild = BuildHasherDefault<FastHasher>;

/// A process-wide unique id for a compiled matcher: evaluation caches key
/// their results on it, so results can never be confused across compiles.
pub(crate) fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A stable 64-bit digest of a value's `Debug` text, written straight into
/// the hasher (no string is built). Used for change detection only.
pub(crate) fn digest<T: fmt::Debug + ?Sized>(value: &T) -> u64 {
    struct W(std::collections::hash_map::DefaultHasher);
    impl fmt::Write for W {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0.write(s.as_bytes());
            Ok(())
        }
    }
    let mut w = W(std::collections::hash_map::DefaultHasher::new());
    let _ = write!(w, "{value:?}");
    w.0.finish()
}

/// Digest of any hashable value (stable within a build).
pub(crate) fn digest_hash<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// A compiled neighbor-set: the addresses, sorted.
#[derive(Debug)]
pub struct NeighborSet {
    pub(crate) name: String,
    addresses: Vec<IpAddr>,
    pub(crate) fingerprint: u64,
}

impl NeighborSet {
    /// A set of `addresses`.
    pub(crate) fn new(name: &str, mut addresses: Vec<IpAddr>) -> NeighborSet {
        addresses.sort_unstable();
        addresses.dedup();
        let fingerprint = digest_hash(&addresses);
        NeighborSet {
            name: name.to_string(),
            addresses,
            fingerprint,
        }
    }

    /// Whether `addr` is in the set.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.addresses.binary_search(&addr).is_ok()
    }

    /// The set's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A route tag value (`oc-pol-types:tag-type`): a decimal number, or a hex
/// string written `0x..` or `aa:bb:..`. Values that fit 64 bits compare as
/// numbers whichever form wrote them (`255`, `0xff` and `ff` are one tag);
/// longer hex strings compare as their digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tag {
    /// A value that fits 64 bits.
    Number(u64),
    /// A longer hex string, lowercased, without separators.
    Hex(String),
}

impl Tag {
    /// Parses the model's text form; `None` if it is none of them.
    pub fn parse(text: &str) -> Option<Tag> {
        if let Ok(n) = text.parse::<u32>() {
            return Some(Tag::Number(u64::from(n)));
        }
        let hex: String =
            if let Some(h) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
                h.to_string()
            } else if text.is_empty() || text.split(':').all(|b| b.len() == 2) {
                text.split(':').collect()
            } else {
                return None;
            };
        if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let hex = hex.trim_start_matches('0').to_ascii_lowercase();
        if hex.len() <= 16 {
            return Some(Tag::Number(
                u64::from_str_radix(if hex.is_empty() { "0" } else { &hex }, 16).ok()?,
            ));
        }
        Some(Tag::Hex(hex))
    }
}

/// A compiled tag-set.
#[derive(Debug)]
pub struct TagSet {
    pub(crate) name: String,
    pub(crate) tags: Vec<Tag>,
    pub(crate) fingerprint: u64,
}

impl TagSet {
    /// A set of `tags`.
    pub(crate) fn new(name: &str, mut tags: Vec<Tag>) -> TagSet {
        tags.sort();
        tags.dedup();
        let fingerprint = digest_hash(&tags);
        TagSet {
            name: name.to_string(),
            tags,
            fingerprint,
        }
    }

    /// Whether `tag` is in the set.
    pub fn contains(&self, tag: &Tag) -> bool {
        self.tags.binary_search(tag).is_ok()
    }

    /// The set's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_normalise() {
        assert_eq!(Tag::parse("100"), Some(Tag::Number(100)));
        assert_eq!(Tag::parse("0x64"), Some(Tag::Number(100)));
        assert_eq!(Tag::parse("00:64"), Some(Tag::Number(100)));
        assert_eq!(Tag::parse("0x0000000000000000ff"), Some(Tag::Number(255)));
        assert!(matches!(
            Tag::parse("0x0102030405060708090a"),
            Some(Tag::Hex(_))
        ));
        assert_eq!(Tag::parse("zz"), None);
    }

    #[test]
    fn hasher_spreads_low_bits() {
        use std::hash::BuildHasher;
        let b = FastBuild::default();
        let lows: std::collections::HashSet<u64> = (0..256u128)
            .map(|i| b.hash_one((i << 104, 24u8)) & 0xff)
            .collect();
        assert!(lows.len() > 128, "low bits collide: {}", lows.len());
    }
}
