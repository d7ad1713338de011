//! `bgpbench run --policy`: an import policy on the injector's session and
//! the cost of editing it while the full table is loaded.
//!
//! The policy is the one `engine/benches/policy.rs` evaluates: a chain
//! `import` that rejects routes outside a 100,000-entry prefix-set
//! (`customers`, `INVERT`), rejects paths through private ASes (an AS-path
//! regular expression; here only behind the neighbour, whose own AS 65001
//! is private) and sets LOCAL_PREF and a community on paths through a
//! tier-1 AS. Here the prefix-set is built from the generated
//! table so that it accepts every prefix and the sinks still get the whole
//! table:
//!
//! - one `X/16 16..24` entry for each /16 that holds table prefixes of
//!   length 16 or more, one exact entry for each shorter prefix;
//! - exact entries for table prefixes (already covered, as in a real
//!   customer list that repeats aggregates' more-specifics) up to
//!   [`SET_ENTRIES`].
//!
//! The edit: once every sink is complete, one `/16` entry (the one covering
//! the most table prefixes, none of which any other entry covers) is
//! deleted through gNMI Set; the sinks lose its prefixes; then it is added
//! back, and the time from that Set until every sink holds the whole table
//! again is the re-evaluation time. Both Sets are made by `bgpbench
//! policy-set`, run in the daemon's namespace (gNMI listens on 127.0.0.1
//! there).

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use ipnet::Ipv4Net;
use ocbgp_gnmi::proto::gnmi::{typed_value, SetRequest, TypedValue, Update};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::event::emit;
use crate::gen::{Table, TableSpec};
use crate::measure::{mono_ns, seconds_between};
use crate::netns::Lab;
use crate::run::{next_event, Proc};

/// Entries in the prefix-set, as in `engine/benches/policy.rs`.
pub const SET_ENTRIES: usize = 100_000;

/// The prefix-set's name.
const SET: &str = "customers";

/// The gNMI target inside the daemon's namespace (ocbgpd's default).
pub const GNMI_TARGET: &str = "127.0.0.1:9339";

/// The prefix-set and the entry the edit removes and adds back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyTable {
    /// `(prefix, masklength-range)` entries, the edited one included.
    pub entries: Vec<(Ipv4Net, String)>,
    /// The edited entry (a /16 with range `16..24`).
    pub edited: Ipv4Net,
    /// Table prefixes only the edited entry covers.
    pub edited_covers: usize,
}

impl PolicyTable {
    /// The prefix-set for the table of `prefixes` prefixes and `seed`
    /// (the injector's table: prefixes do not depend on attribute sets).
    pub fn for_table(prefixes: usize, seed: u64) -> Result<PolicyTable> {
        let spec = TableSpec {
            prefixes,
            attr_sets: 1,
            seed,
            first_as: 65001,
            variant: 0,
        };
        Ok(Self::from_prefixes(&Table::generate(&spec).prefixes))
    }

    /// The prefix-set covering every one of `prefixes`.
    pub fn from_prefixes(prefixes: &[Ipv4Net]) -> PolicyTable {
        let mut per16: HashMap<Ipv4Net, usize> = HashMap::new();
        let mut entries = Vec::with_capacity(SET_ENTRIES);
        for p in prefixes {
            if p.prefix_len() >= 16 {
                let agg = Ipv4Net::new(p.network(), 16)
                    .expect("16 is a valid length")
                    .trunc();
                *per16.entry(agg).or_default() += 1;
            } else {
                entries.push((*p, "exact".to_string()));
            }
        }
        let mut aggs: Vec<(Ipv4Net, usize)> = per16.into_iter().collect();
        aggs.sort();
        // The biggest /16 (lowest address on ties) is the edited entry.
        let (edited, edited_covers) = aggs
            .iter()
            .copied()
            .max_by_key(|&(net, n)| (n, std::cmp::Reverse(net)))
            .unwrap_or((
                Ipv4Net::new(Ipv4Addr::new(100, 0, 0, 0), 16).expect("valid"),
                0,
            ));
        entries.extend(aggs.iter().map(|(net, _)| (*net, "16..24".to_string())));
        let mut seen: HashSet<Ipv4Net> = entries.iter().map(|(p, _)| *p).collect();
        for p in prefixes {
            if entries.len() >= SET_ENTRIES {
                break;
            }
            if p.prefix_len() > 16 && !edited.contains(p) && seen.insert(*p) {
                entries.push((*p, "exact".to_string()));
            }
        }
        PolicyTable {
            entries,
            edited,
            edited_covers,
        }
    }

    /// The gNMI path of the edited entry.
    pub fn edited_path(&self) -> String {
        entry_path(self.edited, "16..24")
    }

    /// The edited entry's JSON value (for Set update at its path).
    pub fn edited_value(&self) -> Value {
        entry_json(self.edited, "16..24")
    }

    /// The routing-policy config (RFC 7951 JSON, top level).
    pub fn routing_policy(&self) -> Value {
        let prefixes: Vec<Value> = self
            .entries
            .iter()
            .map(|(p, r)| entry_json(*p, r))
            .collect();
        let stmt = |name: &str, conditions: Value, actions: Value| json!({"name": name, "config": {"name": name}, "conditions": conditions, "actions": actions});
        let as_path_set = |name: &str, members: &[&str]| json!({"as-path-set-name": name, "config": {"as-path-set-name": name, "as-path-set-member": members}});
        let reject = json!({"config": {"policy-result": "REJECT_ROUTE"}});
        json!({
            "defined-sets": {
                "prefix-sets": {"prefix-set": [{"name": SET, "config": {"name": SET, "mode": "IPV4"},
                    "prefixes": {"prefix": prefixes}}]},
                "openconfig-bgp-policy:bgp-defined-sets": {"as-path-sets": {"as-path-set": [
                    as_path_set("tier1", &["_(174|1299|2914|3356)_"]),
                    // Behind the neighbour (the injector's own AS, 65001, is private).
                    as_path_set("private", &["^[0-9]+ (.* )?(6451[2-9]|645[2-9][0-9]|65[0-4][0-9][0-9])_"]),
                ]}}
            },
            "policy-definitions": {"policy-definition": [{"name": "import", "config": {"name": "import"},
                "statements": {"statement": [
                    stmt("prefix-filter",
                        json!({"match-prefix-set": {"config": {"prefix-set": SET, "match-set-options": "INVERT"}}}),
                        reject.clone()),
                    stmt("no-private-as",
                        json!({"openconfig-bgp-policy:bgp-conditions":
                            {"match-as-path-set": {"config": {"as-path-set": "private"}}}}),
                        reject),
                    stmt("via-tier1",
                        json!({"openconfig-bgp-policy:bgp-conditions":
                            {"match-as-path-set": {"config": {"as-path-set": "tier1"}}}}),
                        json!({"config": {"policy-result": "ACCEPT_ROUTE"},
                            "openconfig-bgp-policy:bgp-actions": {"config": {"set-local-pref": 80},
                                "set-community": {"config": {"method": "INLINE", "options": "ADD"},
                                    "inline": {"config": {"communities": ["65000:80"]}}}}})),
                    stmt("rest", json!({}), json!({"config": {"policy-result": "ACCEPT_ROUTE"}})),
                ]}}]}
        })
    }

    /// Adds the policy to an ocbgpd configuration (from
    /// `daemons::ocbgpd_config`): the routing-policy tree, and `import` as
    /// the import policy of the neighbor `injector`.
    pub fn apply(&self, config: &mut Value, injector: Ipv4Addr) -> Result<()> {
        let neighbors = config
            .pointer_mut("/openconfig-network-instance:network-instances/network-instance/0/protocols/protocol/0/bgp/neighbors/neighbor")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| anyhow!("ocbgpd configuration without a neighbor list"))?;
        let addr = injector.to_string();
        let n = neighbors
            .iter_mut()
            .find(|n| n["neighbor-address"] == addr.as_str())
            .ok_or_else(|| anyhow!("ocbgpd configuration without the injector {addr}"))?;
        n["apply-policy"]["config"]["import-policy"] = json!(["import"]);
        config["openconfig-routing-policy:routing-policy"] = self.routing_policy();
        Ok(())
    }

    /// Rewrites the configuration file `file` with the policy added.
    pub fn apply_to_file(&self, file: &Path, injector: Ipv4Addr) -> Result<()> {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let mut config: Value = serde_json::from_str(&text)?;
        self.apply(&mut config, injector)?;
        std::fs::write(file, serde_json::to_string(&config)?)
            .with_context(|| format!("writing {}", file.display()))
    }
}

fn entry_json(p: Ipv4Net, range: &str) -> Value {
    json!({"ip-prefix": p.to_string(), "masklength-range": range,
           "config": {"ip-prefix": p.to_string(), "masklength-range": range}})
}

fn entry_path(p: Ipv4Net, range: &str) -> String {
    format!("/routing-policy/defined-sets/prefix-sets/prefix-set[name={SET}]/prefixes/prefix[ip-prefix={p}][masklength-range={range}]")
}

/// Options of `bgpbench policy-set`.
#[derive(Debug, Clone, clap::Args)]
pub struct PolicySetArgs {
    /// The gNMI target.
    #[arg(long, default_value = GNMI_TARGET)]
    pub target: String,
    /// Delete this path.
    #[arg(long, conflicts_with = "update")]
    pub delete: Option<String>,
    /// Update this path with `--value`.
    #[arg(long, requires = "value")]
    pub update: Option<String>,
    /// The JSON value for `--update`.
    #[arg(long)]
    pub value: Option<String>,
}

/// Runs `bgpbench policy-set`: one gNMI Set; prints `set_start` (before
/// connecting) and `set_done` events with their times.
pub async fn set(args: PolicySetArgs) -> Result<()> {
    let start = mono_ns();
    emit(json!({"event": "set_start", "t_ns": start}));
    let path = |text: &str| ocbgp_gnmi::path::parse_text(text).map_err(|e| anyhow!("{text}: {e}"));
    let mut request = SetRequest::default();
    match (&args.delete, &args.update, &args.value) {
        (Some(p), None, _) => request.delete.push(path(p)?),
        (None, Some(p), Some(v)) => {
            serde_json::from_str::<Value>(v).context("--value is not JSON")?;
            request.update.push(Update {
                path: Some(path(p)?),
                val: Some(TypedValue {
                    value: Some(typed_value::Value::JsonIetfVal(v.clone().into_bytes())),
                }),
                ..Update::default()
            });
        }
        _ => bail!("give --delete PATH or --update PATH --value JSON"),
    }
    let mut client = ocbgp_gnmi::connect(&args.target).await?;
    client
        .set(request)
        .await
        .map_err(|s| anyhow!("Set refused: {} {}", s.code(), s.message()))?;
    let done = mono_ns();
    emit(json!({"event": "set_done", "t_ns": done, "seconds": (done - start) as f64 / 1e9}));
    Ok(())
}

/// What the edit measured.
#[derive(Debug, Clone, Default)]
pub struct EditOutcome {
    /// Prefixes the edited entry alone covers.
    pub prefixes: usize,
    /// Seconds from the start of the Set that adds the entry back until
    /// every sink holds the whole table again.
    pub seconds: Option<f64>,
    /// Seconds that Set took to be answered.
    pub set_seconds: Option<f64>,
}

/// How long the deletion's withdrawals are given to finish before the
/// entry is added back (the sinks report only when they drop below the
/// whole table, not when they stop dropping).
const SETTLE: Duration = Duration::from_secs(5);

/// The edit, once every sink is complete: delete the edited entry, wait
/// until every sink has lost prefixes and [`SETTLE`], add it back and time
/// until every sink is complete again. `rx` carries the sinks' events.
pub(crate) async fn edit(
    pt: &PolicyTable,
    daemon_ns: &str,
    sinks: usize,
    dir: &Path,
    rx: &mut mpsc::UnboundedReceiver<(String, Value)>,
    procs: &mut [Proc],
    timeout: Duration,
) -> Result<EditOutcome> {
    let mut out = EditOutcome {
        prefixes: pt.edited_covers,
        ..EditOutcome::default()
    };
    if pt.edited_covers == 0 {
        bail!("the edited prefix-set entry covers no prefix");
    }
    let me = std::env::current_exe()?.display().to_string();
    let deadline = Instant::now() + timeout;

    let path = pt.edited_path();
    let (_, done) = run_set(
        &me,
        daemon_ns,
        dir,
        "policy-delete",
        &["--delete", &path],
        deadline,
    )
    .await?;
    eprintln!(
        "bgpbench: prefix-set entry {} deleted ({:.3} s)",
        pt.edited, done
    );
    let mut incomplete = vec![false; sinks];
    while !incomplete.iter().all(|&i| i) {
        let (who, event) = next_event(rx, deadline, procs)
            .await
            .context("waiting for the sinks to lose the entry's prefixes")?;
        if who == "sinks" && event["event"] == "incomplete" {
            if let Some(slot) = event["sink"]
                .as_u64()
                .and_then(|s| incomplete.get_mut(s as usize))
            {
                *slot = true;
            }
        }
    }
    tokio::time::sleep(SETTLE).await;

    let value = pt.edited_value().to_string();
    let (tx, mut set_rx) = mpsc::unbounded_channel();
    let mut command = Lab::command(daemon_ns, &me);
    command.args(["policy-set", "--update", &path, "--value", &value]);
    // Not in `procs`: its exit after the Set must not end the wait.
    let _add = Proc::spawn("policy-add", command, dir, Some(tx))?;
    let start = set_event(&mut set_rx, "set_start", deadline).await?;
    let mut complete: Vec<Option<u64>> = vec![None; sinks];
    while complete.iter().any(Option::is_none) {
        let (who, event) = next_event(rx, deadline, procs)
            .await
            .context("waiting for the sinks to get the prefixes back")?;
        match (who.as_str(), event["event"].as_str()) {
            ("sinks", Some("complete")) => {
                if let (Some(slot), Some(t)) = (
                    event["sink"]
                        .as_u64()
                        .and_then(|s| complete.get_mut(s as usize)),
                    event["t_ns"].as_u64(),
                ) {
                    *slot = Some(t);
                }
            }
            ("sinks", Some("failed")) => bail!("sink {} failed: {}", event["sink"], event["error"]),
            _ => {}
        }
    }
    let end = complete.iter().flatten().copied().max().unwrap_or(start);
    out.seconds = Some(seconds_between(start, end));
    let done = set_event(&mut set_rx, "set_done", deadline).await?;
    out.set_seconds = Some(seconds_between(start, done));
    Ok(out)
}

/// Runs `bgpbench policy-set ARGS` in the daemon's namespace until it has
/// answered; its start and done times.
async fn run_set(
    me: &str,
    daemon_ns: &str,
    dir: &Path,
    name: &str,
    args: &[&str],
    deadline: Instant,
) -> Result<(u64, f64)> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut command = Lab::command(daemon_ns, me);
    command.arg("policy-set").args(args);
    let _proc = Proc::spawn(name, command, dir, Some(tx))?;
    let start = set_event(&mut rx, "set_start", deadline).await?;
    let done = set_event(&mut rx, "set_done", deadline).await?;
    Ok((start, seconds_between(start, done)))
}

/// The `t_ns` of the next `kind` event from a `policy-set` process.
async fn set_event(
    rx: &mut mpsc::UnboundedReceiver<(String, Value)>,
    kind: &str,
    deadline: Instant,
) -> Result<u64> {
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => bail!("policy-set: no {kind} in time"),
            Ok(None) => {
                bail!("policy-set ended without {kind}: see policy-*.log in the work directory")
            }
            Ok(Some((_, event))) if event["event"] == kind => {
                return event["t_ns"]
                    .as_u64()
                    .ok_or_else(|| anyhow!("{kind} without t_ns"))
            }
            Ok(Some(_)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_covers_the_table_and_the_edit_only_its_part() {
        let spec = TableSpec {
            prefixes: 3_000,
            attr_sets: 1,
            seed: 1,
            first_as: 65001,
            variant: 0,
        };
        let table = Table::generate(&spec);
        let pt = PolicyTable::from_prefixes(&table.prefixes);
        assert_eq!(pt.entries.len(), SET_ENTRIES.min(pt.entries.len()));
        assert!(pt.edited_covers > 0);
        let covers = |(net, range): &(Ipv4Net, String), p: &Ipv4Net| {
            if range == "exact" {
                net == p
            } else {
                net.contains(p) && p.prefix_len() >= 16
            }
        };
        let only_edited = table
            .prefixes
            .iter()
            .filter(|p| {
                let others = pt
                    .entries
                    .iter()
                    .filter(|e| e.0 != pt.edited)
                    .any(|e| covers(e, p));
                assert!(others || pt.edited.contains(*p), "{p} not covered");
                !others
            })
            .count();
        assert_eq!(only_edited, pt.edited_covers);
        let cfg = pt.routing_policy().to_string();
        assert!(cfg.contains(&pt.edited.to_string()));
    }
}
