//! Commit benchmark: a configuration with 1,000 neighbors and a
//! 100,000-entry prefix-set, then a one-leaf change on top of it.
//!
//! Run: `cargo bench -p ocbgp-models --bench commit` (results go in
//! docs/benchmarks.md). Prints wall time per step and the process's peak RSS.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ocbgp_models::config::{Config, Encoding};
use ocbgp_models::datastore::{
    ConfigConsumer, Datastore, Options, Origin, Refusal, Requester, Transaction,
};
use ocbgp_models::edit::{Edit, Operation};

const NEIGHBORS: usize = 1_000;
const PREFIXES: usize = 100_000;

fn big_config() -> String {
    let mut neighbors = String::new();
    for i in 0..NEIGHBORS {
        let addr = format!("10.{}.{}.{}", i / 65536, (i / 250) % 256, i % 250 + 1);
        if i > 0 {
            neighbors.push(',');
        }
        write!(
            neighbors,
            r#"{{"neighbor-address": "{addr}", "config": {{"neighbor-address": "{addr}", "peer-as": {},
                "description": "peer {i}"}},
               "timers": {{"config": {{"hold-time": 90}}}},
               "apply-policy": {{"config": {{"import-policy": ["in"]}}}},
               "afi-safis": {{"afi-safi": [{{"afi-safi-name": "openconfig-bgp-types:IPV4_UNICAST",
                 "config": {{"afi-safi-name": "openconfig-bgp-types:IPV4_UNICAST", "enabled": true}}}}]}}}}"#,
            64512 + (i % 1000)
        )
        .unwrap();
    }
    let mut prefixes = String::new();
    for i in 0..PREFIXES {
        let p = format!("{}.{}.{}.0/24", 1 + i / 65536, (i / 256) % 256, i % 256);
        if i > 0 {
            prefixes.push(',');
        }
        write!(
            prefixes,
            r#"{{"ip-prefix": "{p}", "masklength-range": "24..32", "config": {{"ip-prefix": "{p}", "masklength-range": "24..32"}}}}"#
        )
        .unwrap();
    }
    format!(
        r#"{{
  "openconfig-network-instance:network-instances": {{"network-instance": [{{
    "name": "DEFAULT",
    "config": {{"name": "DEFAULT", "type": "openconfig-network-instance-types:DEFAULT_INSTANCE"}},
    "protocols": {{"protocol": [{{
      "identifier": "openconfig-policy-types:BGP", "name": "BGP",
      "config": {{"identifier": "openconfig-policy-types:BGP", "name": "BGP"}},
      "bgp": {{"global": {{"config": {{"as": 65000, "router-id": "192.0.2.1"}}}},
              "neighbors": {{"neighbor": [{neighbors}]}}}}
    }}]}}
  }}]}},
  "openconfig-routing-policy:routing-policy": {{
    "defined-sets": {{"prefix-sets": {{"prefix-set": [{{"name": "big", "config": {{"name": "big", "mode": "IPV4"}},
      "prefixes": {{"prefix": [{prefixes}]}}}}]}}}},
    "policy-definitions": {{"policy-definition": [{{"name": "in", "config": {{"name": "in"}},
      "statements": {{"statement": [{{"name": "1", "config": {{"name": "1"}},
        "conditions": {{"match-prefix-set": {{"config": {{"prefix-set": "big"}}}}}},
        "actions": {{"config": {{"policy-result": "REJECT_ROUTE"}}}}}}]}}}}]}}
  }}
}}"#
    )
}

/// Counts the diff nodes the engine side is handed.
#[derive(Default)]
struct DiffCounter(AtomicUsize);

impl ConfigConsumer for DiffCounter {
    fn prepare(&self, _tx: &Transaction<'_>) -> Result<(), Refusal> {
        Ok(())
    }
    fn apply(&self, tx: &Transaction<'_>) {
        self.0.store(tx.diff.iter().count(), Ordering::Relaxed);
    }
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn main() {
    let dir = std::env::temp_dir().join(format!("ocbgp-bench-commit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let start = Config::parse(
        r#"{"openconfig-network-instance:network-instances": {"network-instance": [{"name": "DEFAULT",
            "config": {"name": "DEFAULT", "type": "openconfig-network-instance-types:DEFAULT_INSTANCE"}}]}}"#,
        Encoding::Json,
    )
    .unwrap();
    let (store, _) = Datastore::open(Options::new(&dir), start, true).unwrap();
    let counter = Arc::new(DiffCounter::default());
    store.add_consumer(counter.clone());
    let who = Requester::internal(Origin::Gnmi);

    let text = big_config();
    println!(
        "config: {NEIGHBORS} neighbors, {PREFIXES}-entry prefix-set, {} MB of JSON",
        text.len() / 1_000_000
    );
    let t = Instant::now();
    store
        .edit_running(&[Edit::json(Operation::Replace, "/", &text)], &who)
        .unwrap();
    let full = t.elapsed();
    let full_diff = counter.0.load(Ordering::Relaxed);
    println!(
        "full commit:     {:>8.1} ms  (diff nodes handed to consumers: {full_diff})",
        full.as_secs_f64() * 1e3
    );

    let bgp =
        "/openconfig-network-instance:network-instances/network-instance[name='DEFAULT']/protocols\
               /protocol[identifier='openconfig-policy-types:BGP'][name='BGP']/bgp";
    let path = format!("{bgp}/neighbors/neighbor[neighbor-address='10.0.0.1']/config/description");
    let median = |what: &str, edits: &dyn Fn(usize) -> Vec<Edit>| {
        let mut times = Vec::new();
        for i in 0..7 {
            let t = Instant::now();
            store.edit_running(&edits(i), &who).unwrap();
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "{what:<34} {:>8.2} ms  (median of 7; max {:.2}; diff nodes handed to consumers: {})",
            times[3],
            times[6],
            counter.0.load(Ordering::Relaxed)
        );
    };
    median("one-leaf commit (description):", &|i| {
        vec![Edit::json(
            Operation::Merge,
            &path,
            format!("\"changed {i}\""),
        )]
    });
    let entry = |i: usize| {
        format!(
            "/openconfig-routing-policy:routing-policy/defined-sets/prefix-sets/prefix-set[name='big']\
             /prefixes/prefix[ip-prefix='100.{i}.0.0/16'][masklength-range='16..24']"
        )
    };
    median("add one prefix-set entry:", &|i| {
        vec![Edit::json(
            Operation::Merge,
            entry(i),
            format!(
                r#"{{"config": {{"ip-prefix": "100.{i}.0.0/16", "masklength-range": "16..24"}}}}"#
            ),
        )]
    });
    median("remove one prefix-set entry:", &|i| {
        vec![Edit::delete(Operation::Delete, entry(i))]
    });
    median("add one neighbor:", &|i| {
        let addr = format!("10.200.0.{}", i + 1);
        vec![Edit::json(
            Operation::Merge,
            format!("{bgp}/neighbors/neighbor[neighbor-address='{addr}']"),
            format!(r#"{{"config": {{"neighbor-address": "{addr}", "peer-as": 65100}}}}"#),
        )]
    });
    drop(store);
    let t = Instant::now();
    let (again, _) = Datastore::open(Options::new(&dir), Config::empty(), false).unwrap();
    println!(
        "start-up (snapshot + journal of {} commits): {:.0} ms",
        7 * 4,
        t.elapsed().as_secs_f64() * 1e3
    );
    drop(again);
    println!("peak RSS:        {:>8.1} MB", peak_rss_mb());
    let _ = std::fs::remove_dir_all(&dir);
}
