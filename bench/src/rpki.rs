//! `bgpbench run --rpki-vrps N` (ocbgpd): RPKI origin validation of the
//! full table (issue #20's benchmark line).
//!
//! N VRPs are made from the generated table (same seed, same VRPs): the
//! VRPs are spread evenly over the table's prefixes, one per chosen
//! prefix, and by the VRP's number k:
//! - k % 10 in 0..=5: the prefix with its origin AS (VALID);
//! - 6: the prefix with its origin AS and a maxLength two bits longer
//!   (VALID, and valid for more-specifics of the same origin);
//! - 7, 8: the prefix with another origin (64496 + k % 16, documentation
//!   ASes): INVALID, wrong origin;
//! - 9: the prefix one bit shorter with the origin AS and maxLength of
//!   that shorter length: the route is too specific, INVALID.
//!
//! The other prefixes are NOT_FOUND unless a VRP of a less specific table
//! prefix covers them (the table's prefixes overlap as the Internet's do).
//! [`expected`] works out RFC 6811's outcome for every route, so that the
//! run with `--rpki-reject-invalid` knows how many prefixes the sink must
//! end with. stayrtr serves the VRPs from a JSON file in the daemon's
//! namespace (127.0.0.1:8282).

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::path::Path;

use anyhow::{bail, Context, Result};
use ipnet::Ipv4Net;
use serde_json::{json, Value};

use crate::gen::Table;
use crate::measure::{mono_ns, seconds_between};

/// Where stayrtr listens, in the daemon's namespace.
pub const CACHE_ADDR: &str = "127.0.0.1";
/// Its port.
pub const CACHE_PORT: u16 = 8282;

/// One VRP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Vrp {
    /// The prefix.
    pub prefix: Ipv4Net,
    /// The longest prefix length it allows.
    pub max_len: u8,
    /// The origin AS it allows.
    pub asn: u32,
}

/// RFC 6811 validation states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// A VRP covers it and matches.
    Valid,
    /// VRPs cover it, none matches.
    Invalid,
    /// No VRP covers it.
    NotFound,
}

/// The origin AS of each prefix of `table` (the last AS of its path).
fn origins(table: &Table) -> Vec<u32> {
    let set_origin: Vec<u32> = table
        .sets
        .iter()
        .map(|a| {
            a.as_path
                .as_ref()
                .and_then(|p| p.segments.last())
                .and_then(|s| s.asns.last().copied())
                .unwrap_or(0)
        })
        .collect();
    table
        .set_of
        .iter()
        .map(|&s| set_origin[s as usize])
        .collect()
}

/// `count` distinct VRPs for `table` (see the module's documentation).
pub fn make_vrps(table: &Table, count: usize) -> Result<Vec<Vrp>> {
    let n = table.prefixes.len();
    if count == 0 || count > n {
        bail!("--rpki-vrps must be between 1 and the number of prefixes ({n})");
    }
    let origin = origins(table);
    let mut seen = HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    for k in 0..count {
        let i = k * n / count;
        let p = table.prefixes[i];
        let asn = origin[i];
        let vrp = match k % 10 {
            0..=5 => Vrp {
                prefix: p,
                max_len: p.prefix_len(),
                asn,
            },
            6 => Vrp {
                prefix: p,
                max_len: (p.prefix_len() + 2).min(32),
                asn,
            },
            7 | 8 => Vrp {
                prefix: p,
                max_len: p.prefix_len(),
                asn: 64496 + (k % 16) as u32,
            },
            _ => {
                let len = p.prefix_len().saturating_sub(1).max(1);
                let shorter = Ipv4Net::new(p.addr(), len).map(|s| s.trunc()).unwrap_or(p);
                Vrp {
                    prefix: shorter,
                    max_len: len,
                    asn,
                }
            }
        };
        if seen.insert(vrp) {
            out.push(vrp);
        }
    }
    Ok(out)
}

/// Counts of each state over `table` with `vrps`: (valid, invalid,
/// not found).
pub fn expected(table: &Table, vrps: &[Vrp]) -> (usize, usize, usize) {
    let mut index: HashMap<(u32, u8), Vec<(u8, u32)>> = HashMap::new();
    for v in vrps {
        index
            .entry((u32::from(v.prefix.network()), v.prefix.prefix_len()))
            .or_default()
            .push((v.max_len, v.asn));
    }
    let (mut valid, mut invalid, mut not_found) = (0, 0, 0);
    for (p, asn) in table.prefixes.iter().zip(origins(table)) {
        match validate(*p, asn, &index) {
            State::Valid => valid += 1,
            State::Invalid => invalid += 1,
            State::NotFound => not_found += 1,
        }
    }
    (valid, invalid, not_found)
}

/// RFC 6811 for one route, with the VRPs indexed by (network, length).
fn validate(p: Ipv4Net, origin: u32, index: &HashMap<(u32, u8), Vec<(u8, u32)>>) -> State {
    let addr = u32::from(p.network());
    let mut covered = false;
    for len in 0..=p.prefix_len() {
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        if let Some(vrps) = index.get(&(addr & mask, len)) {
            covered = true;
            if vrps
                .iter()
                .any(|&(max_len, asn)| asn == origin && asn != 0 && p.prefix_len() <= max_len)
            {
                return State::Valid;
            }
        }
    }
    if covered {
        State::Invalid
    } else {
        State::NotFound
    }
}

/// Writes the VRPs as stayrtr's (rpki-client's) JSON.
pub fn write_json(path: &Path, vrps: &[Vrp]) -> Result<()> {
    let roas: Vec<Value> = vrps
        .iter()
        .map(|v| {
            json!({"prefix": v.prefix.to_string(), "maxLength": v.max_len,
                   "asn": format!("AS{}", v.asn), "ta": "bench"})
        })
        .collect();
    let doc = json!({"metadata": {"buildtime": "2026-12-07T00:00:00Z"}, "roas": roas});
    std::fs::write(path, doc.to_string()).with_context(|| format!("writing {}", path.display()))
}

/// The cache's state path (gNMI).
pub fn cache_state_path() -> String {
    format!("/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp/global/ocbgp:rpki/caches/cache[address={CACHE_ADDR}][port={CACHE_PORT}]/state")
}

/// Adds the cache to an ocbgpd configuration and, with `reject_invalid`,
/// an import policy on the injector's session that rejects INVALID
/// routes (and accepts the rest).
pub fn apply(config: &mut Value, injector: Ipv4Addr, reject_invalid: bool) -> Result<()> {
    let global = crate::daemons::ocbgpd_global(config)?;
    global["ocbgp:rpki"] = json!({"caches": {"cache": [{
        "address": CACHE_ADDR, "port": CACHE_PORT,
        "config": {"address": CACHE_ADDR, "port": CACHE_PORT, "retry-interval": 1}
    }]}});
    if !reject_invalid {
        return Ok(());
    }
    let neighbors = config
        .pointer_mut("/openconfig-network-instance:network-instances/network-instance/0/protocols/protocol/0/bgp/neighbors/neighbor")
        .and_then(Value::as_array_mut)
        .context("ocbgpd configuration without a neighbor list")?;
    let addr = injector.to_string();
    let n = neighbors
        .iter_mut()
        .find(|n| n["neighbor-address"] == addr.as_str())
        .context("ocbgpd configuration without the injector")?;
    n["apply-policy"]["config"]["import-policy"] = json!(["ROV"]);
    config["openconfig-routing-policy:routing-policy"] = json!({"policy-definitions": {
        "policy-definition": [{"name": "ROV", "config": {"name": "ROV"},
            "statements": {"statement": [{"name": "invalid", "config": {"name": "invalid"},
                "conditions": {"openconfig-bgp-policy:bgp-conditions": {"config": {"ocbgp:rpki-validation-result": "INVALID"}}},
                "actions": {"config": {"policy-result": "REJECT_ROUTE"}}}]}}]}});
    Ok(())
}

/// The number under a key ending in `leaf` anywhere in `v` (`ocbgp get`
/// prints module-qualified or plain names).
pub fn find_number(v: &Value, leaf: &str) -> Option<u64> {
    match v {
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            if k == leaf || k.ends_with(&format!(":{leaf}")) {
                x.as_u64()
                    .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
            } else {
                find_number(x, leaf)
            }
        }),
        Value::Array(a) => a.iter().find_map(|x| find_number(x, leaf)),
        _ => None,
    }
}

/// Polls the cache's state with `ocbgp get` (every 100 ms, in the
/// daemon's namespace) until ocbgpd holds `count` IPv4 VRPs; the seconds
/// from `started` (the daemon's start) until the first answer, until the
/// session was seen established, of the last answer with fewer VRPs, and
/// until the VRPs were all there, and the daemon's RSS then.
pub async fn wait_loaded(
    ns: &str,
    count: usize,
    started: u64,
    pid: u32,
    timeout: u64,
) -> Result<Value> {
    let path = cache_state_path();
    let deadline = mono_ns() + timeout * 1_000_000_000;
    let mut established = None;
    let mut first_answer = None;
    // The last answer short of the count: when, and how many.
    let mut partial: Option<(u64, u64)> = None;
    let mut last = Value::Null;
    loop {
        let now = mono_ns();
        if now > deadline {
            bail!("ocbgpd did not load the VRPs within {timeout} s; last state: {last}");
        }
        if let Ok(out) =
            crate::nc_load::ocbgp(ns, &["get", &path], std::time::Duration::from_secs(10)).await
        {
            let t = mono_ns();
            if let Ok(v) = serde_json::from_str::<Value>(&out) {
                first_answer.get_or_insert(t);
                if established.is_none() && v.to_string().contains("ESTABLISHED") {
                    established = Some(t);
                }
                let vrps = find_number(&v, "ipv4-vrps");
                if vrps == Some(count as u64) {
                    let u = crate::measure::usage(pid).unwrap_or_default();
                    return Ok(json!({
                        "first_answer_s": first_answer.map(|e| seconds_between(started, e)),
                        "established_s": established.map(|e| seconds_between(started, e)),
                        "last_partial": partial.map(|(at, n)| json!({"s": seconds_between(started, at), "vrps": n})),
                        "vrps_loaded_s": seconds_between(started, t),
                        "rss_after_vrps_mb": (u.rss as f64 / 1e5).round() / 10.0,
                        "cpu_after_vrps_s": (u.cpu_seconds * 100.0).round() / 100.0,
                    }));
                }
                if let Some(n) = vrps {
                    partial = Some((t, n));
                }
                last = v;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::TableSpec;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn rfc6811_outcomes() {
        let vrps = [
            Vrp {
                prefix: net("1.0.0.0/16"),
                max_len: 16,
                asn: 1,
            },
            Vrp {
                prefix: net("2.0.0.0/16"),
                max_len: 24,
                asn: 2,
            },
            Vrp {
                prefix: net("2.0.0.0/16"),
                max_len: 16,
                asn: 3,
            },
        ];
        let mut index: HashMap<(u32, u8), Vec<(u8, u32)>> = HashMap::new();
        for v in &vrps {
            index
                .entry((u32::from(v.prefix.network()), v.prefix.prefix_len()))
                .or_default()
                .push((v.max_len, v.asn));
        }
        assert_eq!(validate(net("1.0.0.0/16"), 1, &index), State::Valid);
        assert_eq!(validate(net("1.0.0.0/16"), 9, &index), State::Invalid);
        assert_eq!(validate(net("1.0.1.0/24"), 1, &index), State::Invalid);
        assert_eq!(validate(net("2.0.1.0/24"), 2, &index), State::Valid);
        assert_eq!(validate(net("2.0.1.0/24"), 3, &index), State::Invalid);
        assert_eq!(validate(net("3.0.0.0/8"), 1, &index), State::NotFound);
        assert_eq!(validate(net("1.0.0.0/8"), 1, &index), State::NotFound);
    }

    #[test]
    fn vrps_are_distinct_and_give_every_state() {
        let table = Table::generate(&TableSpec::new(20_000, 1, 65001));
        let vrps = make_vrps(&table, 10_000).unwrap();
        assert!(vrps.len() > 9_900 && vrps.len() <= 10_000);
        assert_eq!(vrps, make_vrps(&table, 10_000).unwrap());
        let (valid, invalid, not_found) = expected(&table, &vrps);
        assert_eq!(valid + invalid + not_found, 20_000);
        // About 70% of the covered half valid, 30% invalid.
        assert!((6_500..7_500).contains(&valid), "{valid}");
        assert!((2_500..3_500).contains(&invalid), "{invalid}");
        assert!(not_found > 9_000, "{not_found}");
        assert!(make_vrps(&table, 20_001).is_err());
        let v = json!({"openconfig": {"x:ipv4-vrps": "12", "ipv6-vrps": 0}});
        assert_eq!(find_number(&v, "ipv4-vrps"), Some(12));
        assert_eq!(find_number(&v, "ipv6-vrps"), Some(0));
    }

    #[test]
    fn the_policy_goes_on_the_injector() {
        let t = crate::daemons::Topology::with_injectors(1, 1);
        let mut c = crate::daemons::ocbgpd_config(&t);
        apply(&mut c, t.injector(), true).unwrap();
        let s = c.to_string();
        assert!(s.contains("\"import-policy\":[\"ROV\"]"));
        assert!(s.contains("ocbgp:rpki-validation-result"));
        assert!(s.contains("\"port\":8282"));
    }
}
