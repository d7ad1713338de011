//! Validated ROA payloads and route origin validation (RFC 6811).

use std::collections::HashMap;

use ipnet::IpNet;
use smallvec::SmallVec;

use crate::rib::{V4Key, V6Key};
use crate::wire::{AsPath, SegmentType};

/// One validated ROA payload: `asn` may originate `prefix` and its more
/// specifics up to `max_len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vrp {
    /// The prefix.
    pub prefix: IpNet,
    /// The longest prefix length covered.
    pub max_len: u8,
    /// The origin AS (0: no AS may originate it).
    pub asn: u32,
}

/// A route's origin validation state (RFC 6811 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Validation {
    /// A VRP covers the prefix and matches the origin and length.
    Valid,
    /// VRPs cover the prefix, none matches.
    Invalid,
    /// No VRP covers the prefix.
    NotFound,
}

impl Validation {
    /// The model's name.
    pub fn name(self) -> &'static str {
        match self {
            Validation::Valid => "VALID",
            Validation::Invalid => "INVALID",
            Validation::NotFound => "NOT_FOUND",
        }
    }
}

/// The VRPs in force, indexed by prefix (the RIB's compact keys), with
/// the prefix lengths present per family so a lookup only tries lengths
/// that exist.
#[derive(Debug, Default, Clone)]
pub struct Vrps {
    v4: HashMap<V4Key, Entries>,
    v6: HashMap<V6Key, Entries>,
    /// Bit `n`: some IPv4 VRP has length `n`.
    v4_lens: u64,
    /// Bit `n`: some IPv6 VRP has length `n`.
    v6_lens: u128,
    count: usize,
}

/// The (max length, origin AS) of the VRPs of one prefix.
type Entries = SmallVec<[(u8, u32); 1]>;

impl Vrps {
    fn get(&self, prefix: IpNet) -> Option<&Entries> {
        match prefix {
            IpNet::V4(p) => self.v4.get(&V4Key::new(p)),
            IpNet::V6(p) => self.v6.get(&V6Key::new(p)),
        }
    }

    fn get_mut(&mut self, prefix: IpNet) -> Option<&mut Entries> {
        match prefix {
            IpNet::V4(p) => self.v4.get_mut(&V4Key::new(p)),
            IpNet::V6(p) => self.v6.get_mut(&V6Key::new(p)),
        }
    }

    /// How many VRPs.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none (validation is then off: every route is
    /// NotFound).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds one; false if it was there.
    pub fn insert(&mut self, v: Vrp) -> bool {
        let list = match v.prefix {
            IpNet::V4(p) => self.v4.entry(V4Key::new(p)).or_default(),
            IpNet::V6(p) => self.v6.entry(V6Key::new(p)).or_default(),
        };
        if list.contains(&(v.max_len, v.asn)) {
            return false;
        }
        list.push((v.max_len, v.asn));
        match v.prefix {
            IpNet::V4(p) => self.v4_lens |= 1 << p.prefix_len(),
            IpNet::V6(p) => self.v6_lens |= 1 << p.prefix_len(),
        }
        self.count += 1;
        true
    }

    /// Removes one; false if it was not there. (The length bits stay: a
    /// lookup of an absent length is only a miss.)
    pub fn remove(&mut self, v: &Vrp) -> bool {
        let Some(list) = self.get_mut(v.prefix) else {
            return false;
        };
        let before = list.len();
        list.retain(|e| *e != (v.max_len, v.asn));
        let removed = list.len() < before;
        if list.is_empty() {
            match v.prefix {
                IpNet::V4(p) => self.v4.remove(&V4Key::new(p)),
                IpNet::V6(p) => self.v6.remove(&V6Key::new(p)),
            };
        }
        if removed {
            self.count -= 1;
        }
        removed
    }

    /// The validation state of a route to `prefix` originated by `origin`
    /// (`None`: no single origin, an AS_SET last).
    pub fn validate(&self, prefix: IpNet, origin: Option<u32>) -> Validation {
        if self.count == 0 {
            return Validation::NotFound;
        }
        let len = prefix.prefix_len();
        let mut covered = false;
        for l in (0..=len).rev() {
            let present = match prefix {
                IpNet::V4(_) => self.v4_lens >> l & 1 == 1,
                IpNet::V6(_) => self.v6_lens >> l & 1 == 1,
            };
            if !present {
                continue;
            }
            let Ok(covering) = IpNet::new(prefix.addr(), l) else {
                continue;
            };
            if let Some(list) = self.get(covering) {
                covered = true;
                if list
                    .iter()
                    .any(|&(max, asn)| len <= max && asn != 0 && Some(asn) == origin)
                {
                    return Validation::Valid;
                }
            }
        }
        if covered {
            Validation::Invalid
        } else {
            Validation::NotFound
        }
    }
}

/// The origin AS of a route (RFC 6811 2): the last AS of a final
/// AS_SEQUENCE, `local` for an empty AS_PATH (our own or an iBGP peer's
/// route), none when the path ends with an AS_SET.
pub fn origin_as(path: Option<&AsPath>, local: u32) -> Option<u32> {
    let Some(last) = path.and_then(|p| p.segments.iter().rev().find(|s| !s.kind.is_confed()))
    else {
        return Some(local);
    };
    match last.kind {
        SegmentType::Sequence => last.asns.last().copied(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vrp(p: &str, max: u8, asn: u32) -> Vrp {
        Vrp {
            prefix: p.parse().unwrap(),
            max_len: max,
            asn,
        }
    }

    #[test]
    fn rfc6811_states() {
        let mut v = Vrps::default();
        assert_eq!(
            v.validate("192.0.2.0/24".parse().unwrap(), Some(1)),
            Validation::NotFound
        );
        v.insert(vrp("192.0.2.0/23", 24, 65001));
        v.insert(vrp("2001:db8::/32", 48, 65002));
        let check = |v: &Vrps, p: &str, asn| v.validate(p.parse().unwrap(), asn);
        assert_eq!(check(&v, "192.0.2.0/24", Some(65001)), Validation::Valid);
        assert_eq!(check(&v, "192.0.2.0/23", Some(65001)), Validation::Valid);
        // Too specific, wrong origin, no single origin.
        assert_eq!(check(&v, "192.0.2.0/25", Some(65001)), Validation::Invalid);
        assert_eq!(check(&v, "192.0.2.0/24", Some(65009)), Validation::Invalid);
        assert_eq!(check(&v, "192.0.2.0/24", None), Validation::Invalid);
        assert_eq!(
            check(&v, "198.51.100.0/24", Some(65001)),
            Validation::NotFound
        );
        assert_eq!(check(&v, "2001:db8:1::/48", Some(65002)), Validation::Valid);
        assert_eq!(
            check(&v, "2001:db8:1::/64", Some(65002)),
            Validation::Invalid
        );
        // AS 0 makes covered routes invalid (RFC 6483 4).
        v.insert(vrp("203.0.113.0/24", 24, 0));
        assert_eq!(check(&v, "203.0.113.0/24", Some(0)), Validation::Invalid);
        assert!(v.remove(&vrp("192.0.2.0/23", 24, 65001)));
        assert!(!v.remove(&vrp("192.0.2.0/23", 24, 65001)));
        assert_eq!(check(&v, "192.0.2.0/24", Some(65001)), Validation::NotFound);
        assert_eq!(v.len(), 2);
    }

    #[test]
    fn origins() {
        let seq = AsPath::from_sequence([65001, 65002]);
        assert_eq!(origin_as(Some(&seq), 1), Some(65002));
        assert_eq!(origin_as(None, 7), Some(7));
        assert_eq!(origin_as(Some(&AsPath::default()), 7), Some(7));
    }
}
