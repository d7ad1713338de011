//! Policy engine benchmark: an import chain with a 100,000-entry prefix set
//! and AS-path regular expressions over 1,000,000 routes sharing 150,000
//! attribute sets; compile and recompile times.
//!
//! Run: `cargo bench -p ocbgp-engine --bench policy` (release profile).

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ipnet::{IpNet, Ipv4Net};
use ocbgp_engine::policy::{Chain, DefaultPolicy, EvalCache, Policies, RouteIn, Verdict};
use ocbgp_engine::rib::{Attrs, Interner, PathAttrs, PeerInfo, SourceKind};
use ocbgp_engine::wire::{AsPath, Community, NextHop, Origin};
use ocbgp_models::config::{Config, Encoding};
use ocbgp_models::gen::ChangeSet;

const SET_ENTRIES: usize = 100_000;
const ROUTES: usize = 1_000_000;
const ATTR_SETS: usize = 150_000;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A prefix length drawn from the shape of an IPv4 full table.
fn table_len(rng: &mut Rng) -> u8 {
    match rng.below(100) {
        0..=57 => 24,
        58..=65 => 23,
        66..=75 => 22,
        76..=81 => 21,
        82..=86 => 20,
        87..=90 => 19,
        91..=93 => 18,
        94..=96 => 17,
        97..=98 => 16,
        _ => 8 + rng.below(8) as u8,
    }
}

fn random_prefix(rng: &mut Rng, len: u8) -> Ipv4Net {
    let addr =
        Ipv4Addr::from((1 + rng.below(222) as u32) << 24 | (rng.next() as u32 & 0x00ff_ffff));
    Ipv4Net::new(addr, len).unwrap().trunc()
}

/// The set's entries: 90% exact (the prefixes customers announce), 10%
/// aggregates with `len..24` ranges. Route prefixes are drawn so that
/// about half fall inside.
fn entries(rng: &mut Rng) -> Vec<(Ipv4Net, String)> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(SET_ENTRIES);
    while out.len() < SET_ENTRIES {
        let e = if out.len() % 10 == 0 {
            let len = 16 + rng.below(5) as u8;
            (random_prefix(rng, len), format!("{len}..24"))
        } else {
            let len = table_len(rng);
            (random_prefix(rng, len), "exact".to_string())
        };
        if e.0.network().octets()[0] != 198 && seen.insert(e.clone()) {
            out.push(e);
        }
    }
    out
}

fn config_json(entries: &[(Ipv4Net, String)]) -> String {
    let mut prefixes = String::with_capacity(entries.len() * 140);
    for (i, (p, r)) in entries.iter().enumerate() {
        if i > 0 {
            prefixes.push(',');
        }
        let _ = write!(
            prefixes,
            r#"{{"ip-prefix":"{p}","masklength-range":"{r}","config":{{"ip-prefix":"{p}","masklength-range":"{r}"}}}}"#
        );
    }
    format!(
        r#"{{"openconfig-routing-policy:routing-policy":{{
          "defined-sets":{{
            "prefix-sets":{{"prefix-set":[{{"name":"customers","config":{{"name":"customers","mode":"IPV4"}},
              "prefixes":{{"prefix":[{prefixes}]}}}}]}},
            "openconfig-bgp-policy:bgp-defined-sets":{{
              "as-path-sets":{{"as-path-set":[
                {{"as-path-set-name":"tier1","config":{{"as-path-set-name":"tier1",
                  "as-path-set-member":["_(174|1299|2914|3356)_"]}}}},
                {{"as-path-set-name":"private","config":{{"as-path-set-name":"private",
                  "as-path-set-member":["_6451[2-9]_","_645[2-9][0-9]_","_65[0-4][0-9][0-9]_"]}}}}]}}}}}},
          "policy-definitions":{{"policy-definition":[{{"name":"import","config":{{"name":"import"}},
            "statements":{{"statement":[
              {{"name":"prefix-filter","config":{{"name":"prefix-filter"}},
                "conditions":{{"match-prefix-set":{{"config":{{"prefix-set":"customers","match-set-options":"INVERT"}}}}}},
                "actions":{{"config":{{"policy-result":"REJECT_ROUTE"}}}}}},
              {{"name":"no-private-as","config":{{"name":"no-private-as"}},
                "conditions":{{"openconfig-bgp-policy:bgp-conditions":{{"match-as-path-set":{{"config":{{"as-path-set":"private"}}}}}}}},
                "actions":{{"config":{{"policy-result":"REJECT_ROUTE"}}}}}},
              {{"name":"via-tier1","config":{{"name":"via-tier1"}},
                "conditions":{{"openconfig-bgp-policy:bgp-conditions":{{"match-as-path-set":{{"config":{{"as-path-set":"tier1"}}}}}}}},
                "actions":{{"config":{{"policy-result":"ACCEPT_ROUTE"}},
                  "openconfig-bgp-policy:bgp-actions":{{"config":{{"set-local-pref":80}},
                    "set-community":{{"config":{{"method":"INLINE","options":"ADD"}},
                      "inline":{{"config":{{"communities":["65000:80"]}}}}}}}}}}}},
              {{"name":"rest","config":{{"name":"rest"}},
                "actions":{{"config":{{"policy-result":"ACCEPT_ROUTE"}}}}}}]}}}}]}}}}}}"#
    )
}

fn attr_sets(rng: &mut Rng, interner: &mut Interner) -> Vec<Attrs> {
    const TRANSIT: [u32; 8] = [174, 1299, 2914, 3356, 6939, 6453, 3257, 9002];
    (0..ATTR_SETS)
        .map(|i| {
            let len = 1 + rng.below(6) as usize;
            let mut path = vec![3320];
            for _ in 0..len {
                path.push(match rng.below(10) {
                    0..=2 => TRANSIT[rng.below(8) as usize],
                    3 if rng.below(20) == 0 => 64512 + rng.below(1000) as u32,
                    _ => 1000 + rng.below(60000) as u32,
                });
            }
            let mut a = PathAttrs::default();
            a.attrs.origin = Some(Origin::Igp);
            a.attrs.as_path = Some(AsPath::from_sequence(path));
            a.attrs.med = Some(i as u32 % 50);
            a.attrs.communities = vec![Community::new(65001, (i % 300) as u16)];
            a.next_hop = Some(NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)));
            interner.intern(a)
        })
        .collect()
}

struct Outcome {
    elapsed: Duration,
    accepted: usize,
    changed: usize,
}

/// Best of three runs (the machine may be shared); `cache_capacity`
/// `None` uses [`Chain::evaluate`], `Some(n)` a fresh batch cache of `n`
/// per run (its hit and miss counts are returned with the last run).
fn run(
    chain: &Chain,
    routes: &[(IpNet, u32)],
    attrs: &[Attrs],
    cache_capacity: Option<usize>,
) -> (Outcome, (u64, u64)) {
    let mut best: Option<Outcome> = None;
    let mut stats = (0, 0);
    for _ in 0..3 {
        let mut cache = cache_capacity.map(EvalCache::new);
        let o = run_once(chain, routes, attrs, cache.as_mut());
        stats = cache.map_or((0, 0), |c| c.stats());
        if best.as_ref().is_none_or(|b| o.elapsed < b.elapsed) {
            best = Some(o);
        }
    }
    (best.expect("three runs"), stats)
}

fn run_once(
    chain: &Chain,
    routes: &[(IpNet, u32)],
    attrs: &[Attrs],
    cache: Option<&mut EvalCache>,
) -> Outcome {
    let source = PeerInfo {
        router_id: Ipv4Addr::new(192, 0, 2, 1),
        ..PeerInfo::peer(
            SourceKind::External,
            "192.0.2.1".parse().unwrap(),
            65001,
            64512,
        )
    };
    let mut interner = Interner::default();
    let mut kept = Vec::with_capacity(routes.len());
    let (mut accepted, mut changed) = (0, 0);
    let start = Instant::now();
    let mut cache = cache;
    for (prefix, idx) in routes {
        let a = &attrs[*idx as usize];
        let route = RouteIn {
            prefix: *prefix,
            attrs: a,
            source: &source,
            target: None,
            local_asn: 65000,
            vrps: None,
        };
        let v = match cache.as_deref_mut() {
            Some(c) => chain.evaluate_with(&route, &mut interner, c),
            None => chain.evaluate(&route, &mut interner),
        };
        if let Verdict::Accept(out) = v {
            accepted += 1;
            if !std::sync::Arc::ptr_eq(&out, a) {
                changed += 1;
            }
            kept.push(out);
        }
    }
    let elapsed = start.elapsed();
    drop(kept);
    Outcome {
        elapsed,
        accepted,
        changed,
    }
}

fn report(name: &str, o: &Outcome) {
    println!(
        "  {name:<44} {:>8.1} ms total  {:>6.0} ns/route  ({} accepted, {} with changed attributes)",
        o.elapsed.as_secs_f64() * 1e3,
        o.elapsed.as_nanos() as f64 / ROUTES as f64,
        o.accepted,
        o.changed
    );
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let entries = entries(&mut rng);
    let text = config_json(&entries);

    let t = Instant::now();
    let config = Config::parse(&text, Encoding::Json).expect("valid config");
    let parse = t.elapsed();
    let t = Instant::now();
    let policies = Policies::compile(config.tree()).expect("compiles");
    let compile = t.elapsed();
    let chain = policies
        .chain(&["import".to_string()], DefaultPolicy::Reject)
        .unwrap();
    println!("policy bench: {SET_ENTRIES} prefix-set entries, {ROUTES} routes, {ATTR_SETS} attribute sets");
    println!(
        "  parse + validate config (libyang)             {}",
        ms(parse)
    );
    println!(
        "  Policies::compile                             {}",
        ms(compile)
    );

    // Routes: half drawn from the set (exact entries, or inside an
    // aggregate), half random table-shaped prefixes.
    let mut interner = Interner::default();
    let attrs = attr_sets(&mut rng, &mut interner);
    let mut routes: Vec<(IpNet, u32)> = Vec::with_capacity(ROUTES);
    let mut set_idx = 0u32;
    let mut run_left = 0;
    while routes.len() < ROUTES {
        if run_left == 0 {
            // Like UPDATE packing: runs of about 7 routes per attribute set.
            set_idx = rng.below(ATTR_SETS as u64) as u32;
            run_left = 1 + rng.below(13);
        }
        run_left -= 1;
        let prefix = if rng.below(2) == 0 {
            let (p, r) = &entries[rng.below(SET_ENTRIES as u64) as usize];
            if r == "exact" {
                *p
            } else {
                let len = 24.max(p.prefix_len());
                let sub = Ipv4Net::new(p.network(), p.prefix_len()).unwrap();
                let host =
                    u32::from(sub.network()) | (rng.next() as u32 & !u32::from(sub.netmask()));
                Ipv4Net::new(Ipv4Addr::from(host), len).unwrap().trunc()
            }
        } else {
            let len = table_len(&mut rng);
            random_prefix(&mut rng, len)
        };
        routes.push((IpNet::V4(prefix), set_idx));
    }

    println!("evaluation of the import chain over {ROUTES} routes (best of 3):");
    let (o, _) = run(&chain, &routes, &attrs, None);
    report("update order, Chain::evaluate (own cache)", &o);
    let (o, (h, m)) = run(&chain, &routes, &attrs, Some(1 << 18));
    report("update order, evaluate_with (batch cache)", &o);
    println!("    batch cache: {h} hits, {m} misses");
    let mut shuffled = routes.clone();
    for i in (1..shuffled.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        shuffled.swap(i, j);
    }
    let (o, _) = run(&chain, &shuffled, &attrs, None);
    report("random order, Chain::evaluate (own cache)", &o);
    let (o, (h, m)) = run(&chain, &shuffled, &attrs, Some(1 << 18));
    report("random order, evaluate_with (batch cache)", &o);
    println!("    batch cache: {h} hits, {m} misses");
    let (o, _) = run(&chain, &shuffled, &attrs, Some(0));
    report("random order, no cache", &o);

    // Prefix set alone.
    let set = policies.prefix_set("customers").unwrap();
    let t = Instant::now();
    let hits = routes.iter().filter(|(p, _)| set.contains(p)).count();
    let e = t.elapsed();
    println!(
        "  prefix-set lookup alone                      {:>8.1} ms total  {:>6.0} ns/route  ({hits} inside)",
        e.as_secs_f64() * 1e3,
        e.as_nanos() as f64 / ROUTES as f64
    );

    // One entry changes: full compile vs incremental update.
    let mut changed = entries.clone();
    changed[12_345] = ("198.51.100.0/24".parse().unwrap(), "exact".to_string());
    let new_config = Config::parse(&config_json(&changed), Encoding::Json).expect("valid config");
    println!("recompile after one prefix-set entry changes:");
    let t = Instant::now();
    let full = Policies::compile(new_config.tree()).unwrap();
    println!(
        "  Policies::compile (whole tree)                {}",
        ms(t.elapsed())
    );
    let t = Instant::now();
    let changes = ChangeSet::between(config.tree(), new_config.tree()).unwrap();
    println!(
        "  ChangeSet::between (libyang diff)             {}",
        ms(t.elapsed())
    );
    let t = Instant::now();
    let updated = policies.update(new_config.tree(), &changes).unwrap();
    println!(
        "  Policies::update (patch the set)              {}",
        ms(t.elapsed())
    );
    assert!(updated.changed_since(&full).is_empty());
    assert_eq!(
        updated
            .chain(&["import".to_string()], DefaultPolicy::Reject)
            .unwrap()
            .fingerprint(),
        full.chain(&["import".to_string()], DefaultPolicy::Reject)
            .unwrap()
            .fingerprint()
    );
    drop(interner);
}
