//! A synthetic Internet routing table, the same for the same seed.
//!
//! The table has the shape that matters to a BGP daemon's cost: how many
//! prefixes, how they spread over prefix lengths, and how many distinct
//! attribute sets they share.
//!
//! - Prefix lengths follow the public IPv4 table (about 60% /24, then /22,
//!   /23, /21, /20 and so on down to a handful of /8s).
//! - Addresses are spread uniformly over unicast space (1.0.0.0 to
//!   223.255.255.255), skipping the special-purpose blocks of RFC 6890
//!   and friends ([`RESERVED`]); no prefix appears twice, though more and
//!   less specific prefixes may overlap, as in the real table.
//! - Each prefix belongs to one attribute set; by default there are 3/20
//!   as many sets as prefixes (about 6.7 prefixes a set, 150,000 sets for
//!   a million prefixes). Every set is used, and a few large sets carry
//!   thousands of prefixes while most carry a few, as big and small
//!   networks do.
//! - A set has ORIGIN (mostly IGP), an AS_PATH of 2 to 7 AS numbers that
//!   starts with the injector's AS, a MULTI_EXIT_DISC on about 30% of the
//!   sets and 1 to 6 standard communities on about half.
//!
//! The random numbers come from [`SplitMix64`], so a table depends only on
//! its [`TableSpec`].
//!
//! Several injectors ([`Table::for_injector`]) announce the same prefixes,
//! each with attribute sets of its own, and for each prefix one of them,
//! its [`winner`], has the strictly shortest AS_PATH (the others prepend
//! their AS), so every daemon selects the same best path and a sink can
//! tell when it holds the final one.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use ocbgp_engine::wire::{AsPath, Attributes, Community, Origin};

/// Special-purpose and private IPv4 blocks no generated prefix may overlap.
pub const RESERVED: [(Ipv4Addr, u8); 15] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8),
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(100, 64, 0, 0), 10),
    (Ipv4Addr::new(127, 0, 0, 0), 8),
    (Ipv4Addr::new(169, 254, 0, 0), 16),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 0, 0, 0), 24),
    (Ipv4Addr::new(192, 0, 2, 0), 24),
    (Ipv4Addr::new(192, 88, 99, 0), 24),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
    (Ipv4Addr::new(198, 18, 0, 0), 15),
    (Ipv4Addr::new(198, 51, 100, 0), 24),
    (Ipv4Addr::new(203, 0, 113, 0), 24),
    (Ipv4Addr::new(224, 0, 0, 0), 4),
    (Ipv4Addr::new(240, 0, 0, 0), 4),
];

/// Share of each prefix length /8../24, in millionths, after the public
/// IPv4 table of the 2020s. What rounding leaves over goes to /24.
const LENGTH_PPM: [(u8, u32); 17] = [
    (8, 15),
    (9, 12),
    (10, 35),
    (11, 100),
    (12, 300),
    (13, 600),
    (14, 1_200),
    (15, 1_900),
    (16, 14_000),
    (17, 9_000),
    (18, 15_000),
    (19, 28_000),
    (20, 45_000),
    (21, 52_000),
    (22, 120_000),
    (23, 110_000),
    (24, 602_838),
];

/// The most prefixes a table may have: far below the ~14 million /24s of
/// unicast space, so that random picks rarely collide.
pub const MAX_PREFIXES: usize = 5_000_000;

/// Weights of AS path lengths 2..=7, in percent.
const PATH_LENGTH_PERCENT: [(usize, u64); 6] =
    [(2, 10), (3, 25), (4, 30), (5, 20), (6, 10), (7, 5)];

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSpec {
    /// Number of distinct prefixes.
    pub prefixes: usize,
    /// Number of distinct attribute sets (at least 1, at most `prefixes`).
    pub attr_sets: usize,
    /// Seed of the random numbers.
    pub seed: u64,
    /// The AS every path starts with: the injector's, as an eBGP peer
    /// prepends its own.
    pub first_as: u32,
    /// Which view of the prefixes: 0 draws the attribute sets and their
    /// assignment from the seed as the prefixes are; another injector's
    /// view (its index) draws them from a stream of its own.
    pub variant: u64,
}

impl TableSpec {
    /// A table of `prefixes` prefixes with the default 3/20 as many
    /// attribute sets.
    pub fn new(prefixes: usize, seed: u64, first_as: u32) -> Self {
        TableSpec {
            prefixes,
            attr_sets: default_attr_sets(prefixes),
            seed,
            first_as,
            variant: 0,
        }
    }
}

/// Times a losing injector puts its AS in front of its path: one more than
/// the difference between the longest and the shortest generated path.
const LOSER_PREPENDS: usize = 6;

/// The injector (of `injectors`) whose path to `prefix` is the best.
pub fn winner(seed: u64, prefix: Ipv4Net, injectors: usize) -> usize {
    if injectors <= 1 {
        return 0;
    }
    let key = (u64::from(u32::from(prefix.network())) << 8) | u64::from(prefix.prefix_len());
    let mut rng = SplitMix64::new(seed ^ key.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    (rng.next_u64() % injectors as u64) as usize
}

/// The default number of attribute sets for a table: 3/20 of the prefixes
/// (150,000 for a million), at least one.
pub fn default_attr_sets(prefixes: usize) -> usize {
    (prefixes * 3 / 20).max(1)
}

/// A generated table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The prefixes, in announcement order.
    pub prefixes: Vec<Ipv4Net>,
    /// The attribute sets, all distinct.
    pub sets: Vec<Attributes>,
    /// For each prefix, the index of its attribute set.
    pub set_of: Vec<u32>,
}

impl Table {
    /// Generates the table `spec` describes.
    ///
    /// Panics if `spec.prefixes` exceeds [`MAX_PREFIXES`] (the command line
    /// checks it first).
    pub fn generate(spec: &TableSpec) -> Table {
        assert!(
            spec.prefixes <= MAX_PREFIXES,
            "at most {MAX_PREFIXES} prefixes"
        );
        let mut rng = SplitMix64::new(spec.seed);
        let prefixes = generate_prefixes(spec.prefixes, &mut rng);
        if spec.variant != 0 {
            rng = SplitMix64::new(spec.seed ^ spec.variant.wrapping_mul(0xd1b5_4a32_d192_ed03));
        }
        let set_count = spec.attr_sets.clamp(1, spec.prefixes.max(1));
        let sets = generate_sets(set_count, spec.first_as, &mut rng);
        let set_of = assign_sets(prefixes.len(), sets.len(), &mut rng);
        Table {
            prefixes,
            sets,
            set_of,
        }
    }

    /// What injector `index` of `injectors` announces: the prefixes of
    /// `spec`, with attribute sets of its own (first AS `spec.first_as`),
    /// and its AS prepended [`LOSER_PREPENDS`] more times on the paths to
    /// the prefixes it is not the [`winner`] of.
    pub fn for_injector(spec: &TableSpec, index: usize, injectors: usize) -> Table {
        let mut table = Table::generate(&TableSpec {
            variant: index as u64,
            ..*spec
        });
        if injectors <= 1 {
            return table;
        }
        // Set s becomes 2s (winning paths) and 2s + 1 (losing ones).
        let mut sets = Vec::with_capacity(table.sets.len() * 2);
        for set in &table.sets {
            let mut loser = set.clone();
            if let Some(path) = loser.as_path.as_mut().and_then(|p| p.segments.first_mut()) {
                path.asns
                    .splice(0..0, std::iter::repeat_n(spec.first_as, LOSER_PREPENDS));
            }
            sets.push(set.clone());
            sets.push(loser);
        }
        for (prefix, set) in table.prefixes.iter().zip(table.set_of.iter_mut()) {
            let lost = winner(spec.seed, *prefix, injectors) != index;
            *set = *set * 2 + u32::from(lost);
        }
        table.sets = sets;
        table
    }

    /// The prefixes of each attribute set, set by set, in announcement
    /// order within a set.
    pub fn groups(&self) -> Vec<Vec<Ipv4Net>> {
        let mut groups = vec![Vec::new(); self.sets.len()];
        for (prefix, &set) in self.prefixes.iter().zip(&self.set_of) {
            groups[set as usize].push(*prefix);
        }
        groups
    }
}

/// SplitMix64 (Steele, Lea and Flood 2014): tiny, fast and good enough for
/// test data; the same seed gives the same numbers on every platform.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0), by multiply-shift.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `0.0..1.0`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `percent`/100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// How many prefixes of each length a table of `total` gets: the shares of
/// [`LENGTH_PPM`], each capped at a quarter of what that length offers,
/// the rest as /24s.
pub fn length_counts(total: usize) -> Vec<(u8, usize)> {
    let ppm_total: u64 = LENGTH_PPM.iter().map(|&(_, w)| u64::from(w)).sum();
    let mut counts: Vec<(u8, usize)> = LENGTH_PPM
        .iter()
        .map(|&(len, w)| {
            let share = (total as u64 * u64::from(w) / ppm_total) as usize;
            // 2^len prefixes of that length exist, about 7/8 of them usable.
            (len, share.min((1usize << len) / 4))
        })
        .collect();
    let assigned: usize = counts.iter().map(|&(_, c)| c).sum();
    if let Some(last) = counts.last_mut() {
        last.1 += total - assigned;
    }
    counts
}

/// Whether `addr/len` overlaps one of the [`RESERVED`] blocks.
pub fn is_reserved(addr: u32, len: u8) -> bool {
    RESERVED.iter().any(|&(block, block_len)| {
        let shorter = len.min(block_len);
        (addr ^ u32::from(block)) & mask(shorter) == 0
    })
}

/// The netmask of a prefix length.
fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

/// `total` distinct, non-reserved prefixes with lengths per
/// [`length_counts`], shuffled so that lengths are interleaved.
fn generate_prefixes(total: usize, rng: &mut SplitMix64) -> Vec<Ipv4Net> {
    let mut seen: HashSet<u64> = HashSet::with_capacity(total);
    let mut out = Vec::with_capacity(total);
    // Unicast space: 1.0.0.0 up to the end of 223.255.255.255.
    let low = u32::from(Ipv4Addr::new(1, 0, 0, 0));
    let span = u64::from(u32::from(Ipv4Addr::new(224, 0, 0, 0)) - low);
    for (len, count) in length_counts(total) {
        let mut made = 0;
        while made < count {
            let addr = (low + rng.below(span) as u32) & mask(len);
            if is_reserved(addr, len) || !seen.insert((u64::from(addr) << 8) | u64::from(len)) {
                continue;
            }
            out.push(Ipv4Net::new(Ipv4Addr::from(addr), len).expect("length is at most 24"));
            made += 1;
        }
    }
    shuffle(&mut out, rng);
    out
}

/// Fisher-Yates.
fn shuffle<T>(items: &mut [T], rng: &mut SplitMix64) {
    for i in (1..items.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

/// A public-looking AS number: 2-octet (1..64495 without AS_TRANS) three
/// times in four, otherwise 4-octet (131072..400000). Private, reserved
/// and documentation numbers, and so the benchmark's own 65000-65535, are
/// never chosen.
fn public_as(rng: &mut SplitMix64) -> u32 {
    if rng.percent(75) {
        loop {
            let asn = 1 + rng.below(64_495) as u32;
            if asn != 23_456 {
                return asn;
            }
        }
    }
    131_072 + rng.below(400_000 - 131_072) as u32
}

/// `count` distinct attribute sets whose paths start with `first_as`.
fn generate_sets(count: usize, first_as: u32, rng: &mut SplitMix64) -> Vec<Attributes> {
    // A few hundred transit networks appear in most paths, as in the real
    // table; origins are drawn from all of AS space.
    let transit: Vec<u32> = (0..400).map(|_| public_as(rng)).collect();
    let mut seen = HashSet::with_capacity(count);
    let mut sets = Vec::with_capacity(count);
    while sets.len() < count {
        let attrs = one_set(first_as, &transit, rng);
        if seen.insert(attrs.clone()) {
            sets.push(attrs);
        }
    }
    sets
}

/// One random attribute set.
fn one_set(first_as: u32, transit: &[u32], rng: &mut SplitMix64) -> Attributes {
    let roll = rng.below(100);
    let mut length = 2;
    let mut acc = 0;
    for &(len, weight) in &PATH_LENGTH_PERCENT {
        acc += weight;
        if roll < acc {
            length = len;
            break;
        }
    }
    let mut path = Vec::with_capacity(length);
    path.push(first_as);
    for _ in 1..length - 1 {
        // Skewed towards the first transit networks: the big ones.
        let i = (rng.unit().powi(2) * transit.len() as f64) as usize;
        path.push(transit[i.min(transit.len() - 1)]);
    }
    path.push(public_as(rng));
    let origin = match rng.below(100) {
        0 => Origin::Egp,
        1..=9 => Origin::Incomplete,
        _ => Origin::Igp,
    };
    let med = rng.percent(30).then(|| rng.below(1_000) as u32);
    let mut communities = Vec::new();
    if rng.percent(50) {
        // Tagged by a network on the path, as providers tag routes.
        let tagger = path
            .iter()
            .copied()
            .find(|&asn| asn < 65_536 && asn != first_as)
            .unwrap_or(first_as);
        for _ in 0..1 + rng.below(6) {
            let community = Community::new(tagger as u16, rng.below(4_000) as u16);
            if !communities.contains(&community) {
                communities.push(community);
            }
        }
        communities.sort();
    }
    Attributes {
        origin: Some(origin),
        as_path: Some(AsPath::from_sequence(path)),
        med,
        communities,
        ..Attributes::default()
    }
}

/// For each of `prefixes` prefixes, the index of its set: every set gets
/// one, the rest are spread with a skew (set `i` of `n` is drawn with a
/// density falling off as `1/sqrt(i/n)`), so that some sets are large.
fn assign_sets(prefixes: usize, sets: usize, rng: &mut SplitMix64) -> Vec<u32> {
    (0..prefixes)
        .map(|i| {
            if i < sets {
                i as u32
            } else {
                let u = rng.unit();
                ((u * u * sets as f64) as usize).min(sets - 1) as u32
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_prefix_has_one_strictly_shortest_path() {
        let spec = TableSpec::new(5_000, 3, 65001);
        let views: Vec<Table> = (0..3)
            .map(|i| {
                let first_as = 65001 + i as u32;
                Table::for_injector(&TableSpec { first_as, ..spec }, i, 3)
            })
            .collect();
        let mut wins = [0usize; 3];
        for (n, prefix) in views[0].prefixes.iter().enumerate() {
            let lengths: Vec<usize> = views
                .iter()
                .map(|v| {
                    assert_eq!(v.prefixes[n], *prefix);
                    let set = &v.sets[v.set_of[n] as usize];
                    set.as_path.as_ref().map_or(0, |p| p.length())
                })
                .collect();
            let w = winner(spec.seed, *prefix, 3);
            wins[w] += 1;
            for (i, len) in lengths.iter().enumerate() {
                assert!(
                    i == w || *len > lengths[w],
                    "{prefix}: {lengths:?}, winner {w}"
                );
            }
        }
        // Every injector wins about a third.
        assert!(wins.iter().all(|&w| w > 1_400), "{wins:?}");
        // One injector: the table as generated.
        assert_eq!(Table::for_injector(&spec, 0, 1), Table::generate(&spec));
    }

    #[test]
    fn same_seed_same_table_other_seed_other_table() {
        let spec = TableSpec::new(20_000, 7, 65001);
        let a = Table::generate(&spec);
        assert_eq!(a, Table::generate(&spec));
        let b = Table::generate(&TableSpec { seed: 8, ..spec });
        let other_view = Table::generate(&TableSpec { variant: 1, ..spec });
        assert_eq!(other_view.prefixes, Table::generate(&spec).prefixes);
        assert_ne!(other_view.sets, Table::generate(&spec).sets);
        assert_ne!(a.prefixes, b.prefixes);
    }

    #[test]
    fn prefixes_are_distinct_and_public() {
        let table = Table::generate(&TableSpec::new(200_000, 1, 65001));
        assert_eq!(table.prefixes.len(), 200_000);
        let distinct: HashSet<_> = table.prefixes.iter().collect();
        assert_eq!(distinct.len(), table.prefixes.len());
        for p in &table.prefixes {
            assert_eq!(p.trunc(), *p, "{p} has host bits");
            assert!(
                !is_reserved(u32::from(p.network()), p.prefix_len()),
                "{p} is reserved"
            );
            assert!((8..=24).contains(&p.prefix_len()), "{p}");
        }
    }

    #[test]
    fn length_distribution_looks_like_the_internet() {
        let table = Table::generate(&TableSpec::new(200_000, 3, 65001));
        let share = |len: u8| {
            table
                .prefixes
                .iter()
                .filter(|p| p.prefix_len() == len)
                .count() as f64
                / table.prefixes.len() as f64
        };
        assert!((0.58..0.63).contains(&share(24)), "/24 share {}", share(24));
        assert!((0.10..0.13).contains(&share(22)), "/22 share {}", share(22));
        assert!((0.09..0.12).contains(&share(23)), "/23 share {}", share(23));
        assert!(share(16) > 0.01 && share(8) < 0.001);
        assert_eq!(
            length_counts(1_000_000)
                .iter()
                .map(|&(_, c)| c)
                .sum::<usize>(),
            1_000_000
        );
    }

    #[test]
    fn attribute_sets_are_distinct_all_used_and_realistic() {
        let spec = TableSpec::new(100_000, 5, 65001);
        assert_eq!(spec.attr_sets, 15_000);
        let table = Table::generate(&spec);
        assert_eq!(table.sets.len(), 15_000);
        let distinct: HashSet<_> = table.sets.iter().collect();
        assert_eq!(distinct.len(), table.sets.len());
        let groups = table.groups();
        assert!(
            groups.iter().all(|g| !g.is_empty()),
            "every set carries a prefix"
        );
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), 100_000);
        assert!(
            groups.iter().map(Vec::len).max().unwrap() > 100,
            "some sets are large"
        );
        let median = {
            let mut sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
            sizes.sort();
            sizes[sizes.len() / 2]
        };
        assert!((2..=8).contains(&median), "median set size {median}");
        let mut with_med = 0;
        let mut with_communities = 0;
        for set in &table.sets {
            let path = set.as_path.as_ref().unwrap();
            assert!(
                (2..=7).contains(&path.length()),
                "path length {}",
                path.length()
            );
            assert_eq!(path.first_as(), Some(65001));
            let asns = &path.segments[0].asns;
            assert!(asns[1..]
                .iter()
                .all(|&a| !(64_496..=65_535).contains(&a) && a != 23_456));
            with_med += usize::from(set.med.is_some());
            with_communities += usize::from(!set.communities.is_empty());
        }
        assert!(
            (3_900..5_100).contains(&with_med),
            "{with_med} sets with MED"
        );
        assert!(
            (6_800..8_200).contains(&with_communities),
            "{with_communities} sets with communities"
        );
    }

    #[test]
    fn reserved_blocks() {
        let addr = |s: &str| u32::from(s.parse::<Ipv4Addr>().unwrap());
        assert!(is_reserved(addr("10.1.0.0"), 16));
        assert!(is_reserved(addr("192.0.0.0"), 8), "covers 192.0.2.0/24");
        assert!(is_reserved(addr("127.0.0.0"), 24));
        assert!(is_reserved(addr("198.51.100.0"), 24));
        assert!(!is_reserved(addr("192.0.3.0"), 24));
        assert!(!is_reserved(addr("11.0.0.0"), 8));
    }
}
