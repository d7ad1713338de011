//! The attribute and community sets routes point to (`bgp/rib/attr-sets`,
//! `bgp/rib/communities`), read on demand by index and kept in a bounded
//! cache: a table's rows start with its first routes, and the client's
//! memory stays the same however many sets the RIB holds.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use ocbgp_gnmi::proto::gnmi::GetResponse;
use serde::Deserialize;

use super::route::{number, Route};
use crate::client::{json_bytes, ClientError, Conn};
use crate::paths;
use crate::table::bare;

/// An attribute set as rows show it, compact: the cache holds up to a
/// quarter of a million.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct SetRow {
    pub next_hop: Option<IpAddr>,
    /// The AS_PATH as text (`65001 65002 {1,2}`).
    pub as_path: Box<str>,
    pub origin: Option<&'static str>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
}

/// The ORIGIN values a set may have.
fn origin_name(o: &str) -> Option<&'static str> {
    ["IGP", "EGP", "INCOMPLETE"]
        .into_iter()
        .find(|n| *n == bare(o))
}

/// An attribute set's JSON: what rows show.
#[derive(Deserialize, Default)]
#[serde(default)]
struct AttrSetJson {
    state: AttrStateJson,
    #[serde(rename = "as-path")]
    as_path: AsPathJson,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AttrStateJson {
    origin: Option<String>,
    #[serde(rename = "next-hop")]
    next_hop: Option<String>,
    #[serde(deserialize_with = "number")]
    med: Option<u64>,
    #[serde(rename = "local-pref", deserialize_with = "number")]
    local_pref: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AsPathJson {
    #[serde(rename = "as-segment")]
    segments: Vec<SegmentJson>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SegmentJson {
    state: SegmentStateJson,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SegmentStateJson {
    #[serde(rename = "type")]
    kind: String,
    member: Vec<u32>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CommunityJson {
    state: CommunityStateJson,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CommunityStateJson {
    community: Vec<String>,
}

/// AS_PATH segments as text: sets in braces, confederation sequences in
/// parentheses.
fn as_path_text(segments: &[SegmentJson]) -> String {
    let join = |m: &[u32], sep: &str| m.iter().map(u32::to_string).collect::<Vec<_>>().join(sep);
    let parts: Vec<String> = segments
        .iter()
        .filter(|s| !s.state.member.is_empty())
        .map(|s| match bare(&s.state.kind) {
            "AS_SET" | "AS_CONFED_SET" => format!("{{{}}}", join(&s.state.member, ",")),
            "AS_CONFED_SEQUENCE" => format!("({})", join(&s.state.member, " ")),
            _ => join(&s.state.member, " "),
        })
        .collect();
    parts.join(" ")
}

impl SetRow {
    fn parse(json: &[u8]) -> SetRow {
        let v: AttrSetJson = serde_json::from_slice(json).unwrap_or_default();
        let u32_of = |n: Option<u64>| n.and_then(|n| u32::try_from(n).ok());
        SetRow {
            next_hop: v.state.next_hop.and_then(|n| n.parse().ok()),
            as_path: as_path_text(&v.as_path.segments).into(),
            origin: v.state.origin.as_deref().and_then(origin_name),
            med: u32_of(v.state.med),
            local_pref: u32_of(v.state.local_pref),
        }
    }
}

/// Communities as rows show them, joined by commas.
fn communities_text(json: &[u8]) -> Box<str> {
    let v: CommunityJson = serde_json::from_slice(json).unwrap_or_default();
    let list: Vec<&str> = v.state.community.iter().map(|c| bare(c)).collect();
    list.join(",").into()
}

/// Hashes a set index as itself: indexes are content hashes already, so
/// hashing them again (SipHash) would only cost time on every route.
#[derive(Default, Clone, Copy)]
pub(crate) struct IndexHasher(u64);

impl std::hash::Hasher for IndexHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed here; fold anything else in.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type IndexMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<IndexHasher>>;

/// A map that keeps the entries used lately, at most about `2 * cap`: new
/// and touched entries go to the young generation; when it is full, the
/// old generation is dropped and the young one becomes old.
#[derive(Debug)]
pub(crate) struct Bounded<V> {
    young: IndexMap<V>,
    old: IndexMap<V>,
    cap: usize,
}

impl<V> Bounded<V> {
    pub(crate) fn new(cap: usize) -> Bounded<V> {
        Bounded {
            young: IndexMap::default(),
            old: IndexMap::default(),
            cap: cap.max(1),
        }
    }

    /// Whether `k` is held; a held entry is kept as recently used.
    pub(crate) fn touch(&mut self, k: u64) -> bool {
        if self.young.contains_key(&k) {
            return true;
        }
        match self.old.remove(&k) {
            Some(v) => {
                self.insert(k, v);
                true
            }
            None => false,
        }
    }

    pub(crate) fn insert(&mut self, k: u64, v: V) {
        if self.young.len() >= self.cap {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(k, v);
    }

    pub(crate) fn get(&self, k: u64) -> Option<&V> {
        self.young.get(&k).or_else(|| self.old.get(&k))
    }
}

/// Sets of each kind held at most (twice this, see [`Bounded`]): about
/// the distinct sets of a full Internet table, so a table is read with few
/// sets read twice, and far more than the sets of one notification's
/// routes, which are all there when its rows are printed. The bound holds
/// whatever the table (docs/benchmarks.md has the client's peak memory).
const CACHE: usize = 128 * 1024;
/// Sets asked for in one Get.
const PER_GET: usize = 2000;

/// The attribute and community sets read so far (a bounded cache).
#[derive(Debug)]
pub(crate) struct Sets {
    attrs: Bounded<SetRow>,
    communities: Bounded<Box<str>>,
}

impl Default for Sets {
    fn default() -> Sets {
        Sets {
            attrs: Bounded::new(CACHE),
            communities: Bounded::new(CACHE),
        }
    }
}

/// Which list an index is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Attrs,
    Communities,
}

/// A set's path below the RIB (the reads' prefix: short paths, as a read
/// names thousands).
fn set_path(kind: Kind, index: u64) -> String {
    match kind {
        Kind::Attrs => format!("attr-sets/attr-set[index={index}]"),
        Kind::Communities => format!("communities/community[index={index}]"),
    }
}

impl Sets {
    /// The attribute set `index`, if read.
    pub(crate) fn attrs(&self, index: Option<u64>) -> Option<&SetRow> {
        self.attrs.get(index?)
    }

    /// The communities `index`, joined by commas, if read.
    pub(crate) fn communities(&self, index: Option<u64>) -> Option<&str> {
        self.communities.get(index?).map(|c| &**c)
    }

    /// Reads the sets of `routes` that are not held yet. A set no route
    /// uses any more (the table changed meanwhile) is left out: its rows
    /// show no attributes.
    pub(crate) async fn fetch_for(
        &mut self,
        conn: &mut Conn,
        routes: &[Route],
    ) -> anyhow::Result<()> {
        let mut missing = BTreeSet::new();
        for r in routes {
            if let Some(i) = r.attr_index.filter(|i| !self.attrs.touch(*i)) {
                missing.insert((Kind::Attrs, i));
            }
            if let Some(i) = r.community_index.filter(|i| !self.communities.touch(*i)) {
                missing.insert((Kind::Communities, i));
            }
        }
        let missing: Vec<(Kind, u64)> = missing.into_iter().collect();
        let rib = format!("{}/rib", paths::BGP);
        for chunk in missing.chunks(PER_GET) {
            let paths: Vec<String> = chunk.iter().map(|(k, i)| set_path(*k, *i)).collect();
            match conn.get_state_raw(&rib, &paths).await {
                Ok(reply) => self.take(&reply),
                // One of them went: ask one by one, skipping the gone.
                Err(ClientError::NotFound(_)) => {
                    for p in paths {
                        match conn.get_state_raw(&rib, std::slice::from_ref(&p)).await {
                            Ok(reply) => self.take(&reply),
                            Err(ClientError::NotFound(_)) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Keeps the sets in a Get reply.
    fn take(&mut self, reply: &GetResponse) {
        for n in &reply.notification {
            for u in &n.update {
                let Some(last) = u.path.as_ref().and_then(|p| p.elem.last()) else {
                    continue;
                };
                let Some(index) = last.key.get("index").and_then(|i| i.parse().ok()) else {
                    continue;
                };
                let Some(json) = json_bytes(u.val.as_ref()) else {
                    continue;
                };
                match bare(&last.name) {
                    "attr-set" => self.attrs.insert(index, SetRow::parse(json)),
                    "community" => self.communities.insert(index, communities_text(json)),
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_sets_parse_into_rows() {
        let json = br#"{"index":"7","state":{"index":"7","origin":"IGP","next-hop":"192.0.2.1","med":5,"local-pref":"100"},
            "as-path":{"as-segment":[{"index":0,"state":{"index":0,"type":"AS_SEQ","member":[65010,65020]}},
                                     {"index":1,"state":{"index":1,"type":"AS_SET","member":[1,2]}},
                                     {"index":2,"state":{"index":2,"type":"openconfig-rib-bgp:AS_CONFED_SEQUENCE","member":[3,4]}}]}}"#;
        let row = SetRow::parse(json);
        assert_eq!(&*row.as_path, "65010 65020 {1,2} (3 4)");
        assert_eq!(row.next_hop, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(row.origin, Some("IGP"));
        assert_eq!((row.med, row.local_pref), (Some(5), Some(100)));
        assert_eq!(SetRow::parse(b"{}"), SetRow::default());
        let c = br#"{"index":"3","state":{"index":"3","community":["65000:1","openconfig-bgp-types:NO_EXPORT"]}}"#;
        assert_eq!(&*communities_text(c), "65000:1,NO_EXPORT");
    }

    #[test]
    fn the_cache_keeps_what_was_used_lately() {
        let mut b = Bounded::new(2);
        b.insert(1, "a");
        b.insert(2, "b");
        // Full: 1 and 2 become old; 3 is young.
        b.insert(3, "c");
        assert!(b.touch(1));
        // 1 came back young; the young generation (3, 1) is full, so the
        // next insert drops 2.
        b.insert(4, "d");
        assert_eq!(b.get(2), None);
        assert_eq!(
            (b.get(1), b.get(3), b.get(4)),
            (Some(&"a"), Some(&"c"), Some(&"d"))
        );
        assert!(!b.touch(2));
    }
}
