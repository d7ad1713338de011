//! `policy`: the defined sets and policy statements of `/routing-policy`.

use ocbgp_gnmi::proto::gnmi::get_request::DataType;
use serde_json::{json, Map, Value};

use crate::client::Conn;
use crate::table::{at, bare, list, member, print_json, text, Table};

/// What `policy` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Prefix sets.
    Prefix,
    /// Neighbor sets.
    Neighbor,
    /// Community sets.
    Community,
    /// AS-path sets.
    AsPath,
    /// Extended community sets.
    ExtCommunity,
    /// Large community sets.
    LargeCommunity,
    /// Policy definitions and their statements.
    Statement,
}

impl Kind {
    const ALL: [Kind; 7] = [
        Kind::Prefix,
        Kind::Neighbor,
        Kind::Community,
        Kind::AsPath,
        Kind::ExtCommunity,
        Kind::LargeCommunity,
        Kind::Statement,
    ];

    /// The key of its section in the JSON output.
    fn key(self) -> &'static str {
        match self {
            Kind::Prefix => "prefix_sets",
            Kind::Neighbor => "neighbor_sets",
            Kind::Community => "community_sets",
            Kind::AsPath => "as_path_sets",
            Kind::ExtCommunity => "ext_community_sets",
            Kind::LargeCommunity => "large_community_sets",
            Kind::Statement => "statements",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Kind::Prefix => "Prefix sets",
            Kind::Neighbor => "Neighbor sets",
            Kind::Community => "Community sets",
            Kind::AsPath => "AS-path sets",
            Kind::ExtCommunity => "Extended community sets",
            Kind::LargeCommunity => "Large community sets",
            Kind::Statement => "Policy statements",
        }
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(|x| text(Some(x))).collect(),
        Some(v) => text(Some(v)).into_iter().collect(),
        None => Vec::new(),
    }
}

/// A member set (`NAME-set-name`, `config/NAME-member`) of bgp-defined-sets.
fn member_sets(
    rp: &Value,
    container: &str,
    item: &str,
    name_leaf: &str,
    member_leaf: &str,
) -> Vec<Value> {
    list(
        rp,
        &format!("defined-sets/bgp-defined-sets/{container}/{item}"),
    )
    .iter()
    .map(|s| {
        json!({
            "name": text(member(s, name_leaf)),
            "members": strings(at(s, &format!("config/{member_leaf}"))),
            "match_set_options": text(at(s, "config/match-set-options")),
        })
    })
    .collect()
}

/// Leaves of a subtree as `a.b=value`, leaving out `config` and `state`
/// containers and module names.
fn flat(v: &Value, path: &str, out: &mut Map<String, Value>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                let k = bare(k);
                if k == "state" {
                    continue;
                }
                let p = match (path.is_empty(), k == "config") {
                    (_, true) => path.to_string(),
                    (true, false) => k.to_string(),
                    (false, false) => format!("{path}.{k}"),
                };
                flat(v, &p, out);
            }
        }
        Value::Array(a) if a.iter().any(Value::is_object) => {
            for (i, e) in a.iter().enumerate() {
                flat(e, &format!("{path}[{i}]"), out);
            }
        }
        v => {
            let v = match v {
                Value::String(s) => Value::String(bare(s).to_string()),
                Value::Array(a) => Value::Array(
                    a.iter()
                        .map(|x| text(Some(x)).map(Value::String).unwrap_or(Value::Null))
                        .collect(),
                ),
                v => v.clone(),
            };
            out.insert(path.to_string(), v);
        }
    }
}

fn section(rp: &Value, kind: Kind) -> Vec<Value> {
    match kind {
        Kind::Prefix => list(rp, "defined-sets/prefix-sets/prefix-set")
            .iter()
            .map(|s| {
                let prefixes: Vec<Value> = list(s, "prefixes/prefix")
                    .iter()
                    .map(|p| json!({"prefix": text(member(p, "ip-prefix")), "masklength_range": text(member(p, "masklength-range"))}))
                    .collect();
                json!({"name": text(member(s, "name")), "mode": text(at(s, "config/mode")), "prefixes": prefixes})
            })
            .collect(),
        Kind::Neighbor => list(rp, "defined-sets/neighbor-sets/neighbor-set")
            .iter()
            .map(|s| json!({"name": text(member(s, "name")), "members": strings(at(s, "config/address"))}))
            .collect(),
        Kind::Community => member_sets(rp, "community-sets", "community-set", "community-set-name", "community-member"),
        Kind::AsPath => member_sets(rp, "as-path-sets", "as-path-set", "as-path-set-name", "as-path-set-member"),
        Kind::ExtCommunity => {
            member_sets(rp, "ext-community-sets", "ext-community-set", "ext-community-set-name", "ext-community-member")
        }
        // ocbgp's extension; absent from older daemons: then simply empty.
        Kind::LargeCommunity => member_sets(
            rp,
            "large-community-sets",
            "large-community-set",
            "large-community-set-name",
            "large-community-member",
        ),
        Kind::Statement => {
            let mut out = Vec::new();
            for p in list(rp, "policy-definitions/policy-definition") {
                for s in list(p, "statements/statement") {
                    let mut c = Map::new();
                    let mut a = Map::new();
                    if let Some(v) = member(s, "conditions") {
                        flat(v, "", &mut c);
                    }
                    if let Some(v) = member(s, "actions") {
                        flat(v, "", &mut a);
                    }
                    out.push(json!({
                        "policy": text(member(p, "name")),
                        "statement": text(member(s, "name")),
                        "conditions": c,
                        "actions": a,
                    }));
                }
            }
            out
        }
    }
}

fn pairs(v: Option<&Value>) -> String {
    let Some(o) = v.and_then(Value::as_object) else {
        return String::new();
    };
    o.iter()
        .map(|(k, v)| format!("{k}={}", text(Some(v)).unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn print_section(kind: Kind, rows: &[Value]) {
    println!("{}:", kind.title());
    if rows.is_empty() {
        println!("  (none)");
        return;
    }
    let mut t = match kind {
        Kind::Prefix => Table::new(&["Name", "Mode", "Prefix", "Mask lengths"]),
        Kind::Statement => Table::new(&["Policy", "Statement", "Conditions", "Actions"]),
        _ => Table::new(&["Name", "Members"]),
    };
    for r in rows {
        let name = text(member(r, "name")).unwrap_or_default();
        match kind {
            Kind::Prefix => {
                let prefixes = list(r, "prefixes");
                if prefixes.is_empty() {
                    t.row(vec![
                        name.clone(),
                        text(member(r, "mode")).unwrap_or_default(),
                    ]);
                }
                for (i, p) in prefixes.iter().enumerate() {
                    let first = i == 0;
                    t.row(vec![
                        if first { name.clone() } else { String::new() },
                        if first {
                            text(member(r, "mode")).unwrap_or_default()
                        } else {
                            String::new()
                        },
                        text(member(p, "prefix")).unwrap_or_default(),
                        text(member(p, "masklength_range")).unwrap_or_default(),
                    ]);
                }
            }
            Kind::Statement => t.row(vec![
                text(member(r, "policy")).unwrap_or_default(),
                text(member(r, "statement")).unwrap_or_default(),
                pairs(member(r, "conditions")),
                pairs(member(r, "actions")),
            ]),
            _ => t.row(vec![name, strings(member(r, "members")).join(", ")]),
        }
    }
    for l in t.render().lines() {
        println!("  {l}");
    }
}

/// `ocbgp policy [KIND]`.
pub async fn show(conn: &mut Conn, kind: Option<Kind>, json: bool) -> anyhow::Result<()> {
    let rp = conn
        .get_opt("/routing-policy", DataType::Config)
        .await?
        .unwrap_or(Value::Null);
    let kinds: Vec<Kind> = kind.map_or_else(|| Kind::ALL.to_vec(), |k| vec![k]);
    if json {
        let mut out = Map::new();
        for k in &kinds {
            out.insert(k.key().to_string(), Value::Array(section(&rp, *k)));
        }
        match kind {
            Some(k) => print_json(&out.remove(k.key()).unwrap_or(Value::Null)),
            None => print_json(&Value::Object(out)),
        }
        return Ok(());
    }
    for (i, k) in kinds.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print_section(*k, &section(&rp, *k));
    }
    Ok(())
}
