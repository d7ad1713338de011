//! Routing policy: `[defined-sets]` and `[[policy-definitions]]` into
//! `/routing-policy`.

use std::net::IpAddr;

use serde_json::{json, Map, Value};

use super::bgp::{afi_safi, put, upper};
use super::reader::Obj;

const POLICY_TYPES: &str = "openconfig-policy-types";
const BGP_TYPES: &str = "openconfig-bgp-types";

/// The defined sets and the policy definitions.
pub(super) fn routing_policy(root: &Obj) -> (Map<String, Value>, Vec<Value>) {
    let sets = root
        .obj("defined-sets")
        .map(|d| defined_sets(&d))
        .unwrap_or_default();
    let definitions = root
        .list("policy-definitions")
        .iter()
        .filter_map(definition)
        .collect();
    (sets, definitions)
}

fn defined_sets(d: &Obj) -> Map<String, Value> {
    let mut out = Map::new();
    let prefix_sets: Vec<Value> = d
        .list("prefix-sets")
        .iter()
        .filter_map(prefix_set)
        .collect();
    if !prefix_sets.is_empty() {
        out.insert("prefix-sets".into(), json!({ "prefix-set": prefix_sets }));
    }
    let neighbor_sets: Vec<Value> = d
        .list("neighbor-sets")
        .iter()
        .filter_map(neighbor_set)
        .collect();
    if !neighbor_sets.is_empty() {
        out.insert(
            "neighbor-sets".into(),
            json!({ "neighbor-set": neighbor_sets }),
        );
    }
    d.skip("tag-sets", "ocbgpd has no route tags");
    if let Some(b) = d.obj("bgp-defined-sets") {
        let mut bgp = Map::new();
        let sets = |list: &str,
                    name_key: &str,
                    members_key: &str,
                    out_name: &str,
                    out_members: &str,
                    f: fn(&str) -> String| {
            let mut v = Vec::new();
            for s in b.list(list) {
                let Some(name) = s.nonempty(name_key) else {
                    s.report()
                        .unmapped(s.path(), "a set without a name is left out");
                    continue;
                };
                let members: Vec<String> = s.strs(members_key).iter().map(|m| f(m)).collect();
                v.push(json!({out_name: name, "config": {out_name: name, out_members: members}}));
            }
            v
        };
        let communities = sets(
            "community-sets",
            "community-set-name",
            "community-list",
            "community-set-name",
            "community-member",
            community,
        );
        if !communities.is_empty() {
            bgp.insert(
                "community-sets".into(),
                json!({ "community-set": communities }),
            );
        }
        let ext = sets(
            "ext-community-sets",
            "ext-community-set-name",
            "ext-community-list",
            "ext-community-set-name",
            "ext-community-member",
            ext_community,
        );
        if !ext.is_empty() {
            bgp.insert(
                "ext-community-sets".into(),
                json!({ "ext-community-set": ext }),
            );
        }
        let as_paths = sets(
            "as-path-sets",
            "as-path-set-name",
            "as-path-list",
            "as-path-set-name",
            "as-path-set-member",
            verbatim,
        );
        if !as_paths.is_empty() {
            bgp.insert("as-path-sets".into(), json!({ "as-path-set": as_paths }));
        }
        let large = sets(
            "large-community-sets",
            "large-community-set-name",
            "large-community-list",
            "large-community-set-name",
            "large-community-member",
            verbatim,
        );
        if !large.is_empty() {
            bgp.insert(
                "ocbgp:large-community-sets".into(),
                json!({ "large-community-set": large }),
            );
        }
        if !bgp.is_empty() {
            out.insert(
                "openconfig-bgp-policy:bgp-defined-sets".into(),
                Value::Object(bgp),
            );
        }
    }
    out
}

fn prefix_set(s: &Obj) -> Option<Value> {
    let Some(name) = s.nonempty("prefix-set-name") else {
        s.report()
            .unmapped(s.path(), "a prefix set without a name is left out");
        return None;
    };
    let (mut v4, mut v6) = (false, false);
    let mut prefixes = Vec::new();
    for p in s.list("prefix-list") {
        let Some(prefix) = p.nonempty("ip-prefix") else {
            continue;
        };
        let range = p
            .nonempty("masklength-range")
            .unwrap_or_else(|| "exact".into());
        if prefix.contains(':') {
            v6 = true;
        } else {
            v4 = true;
        }
        prefixes.push(json!({
            "ip-prefix": prefix, "masklength-range": range,
            "config": {"ip-prefix": prefix, "masklength-range": range}
        }));
    }
    let mode = match (v4, v6) {
        (true, true) => "MIXED",
        (false, true) => "IPV6",
        _ => "IPV4",
    };
    let mut set = json!({"name": name, "config": {"name": name, "mode": mode}});
    if !prefixes.is_empty() {
        set["prefixes"] = json!({ "prefix": prefixes });
    }
    Some(set)
}

fn neighbor_set(s: &Obj) -> Option<Value> {
    let Some(name) = s.nonempty("neighbor-set-name") else {
        s.report()
            .unmapped(s.path(), "a neighbor set without a name is left out");
        return None;
    };
    let mut addresses = Vec::new();
    for a in s.strs("neighbor-info-list") {
        // A host prefix is an address; a wider prefix has no OpenConfig form.
        let addr = match a.split_once('/') {
            Some((ip, "32" | "128")) => ip.to_string(),
            Some(_) => {
                s.report().unmapped(
                    s.at("neighbor-info-list"),
                    format!("{a}: OpenConfig neighbor sets hold addresses, not prefixes"),
                );
                continue;
            }
            None => a,
        };
        if addr.parse::<IpAddr>().is_ok() {
            addresses.push(addr);
        } else {
            s.report().unmapped(
                s.at("neighbor-info-list"),
                format!("{addr}: not an address"),
            );
        }
    }
    Some(json!({"name": name, "config": {"name": name, "address": addresses}}))
}

/// A GoBGP community (`65000:1`, `no-export`, a regular expression) in the
/// model's union.
fn community(c: &str) -> String {
    let well_known = match c.to_ascii_lowercase().replace('_', "-").as_str() {
        "no-export" => Some("NO_EXPORT"),
        "no-advertise" => Some("NO_ADVERTISE"),
        "no-export-subconfed" => Some("NO_EXPORT_SUBCONFED"),
        "no-peer" | "nopeer" => Some("NOPEER"),
        _ => None,
    };
    match well_known {
        Some(id) => format!("{BGP_TYPES}:{id}"),
        None => c.to_string(),
    }
}

/// A GoBGP extended community (`RT:65000:1`, `SoO:...`) in OpenConfig's
/// spelling (`route-target:65000:1`, `route-origin:...`).
fn ext_community(c: &str) -> String {
    let (anchor, rest) = match c.strip_prefix('^') {
        Some(r) => ("^", r),
        None => ("", c),
    };
    let lower = rest.to_ascii_lowercase();
    for (gobgp, oc) in [("rt:", "route-target:"), ("soo:", "route-origin:")] {
        if lower.starts_with(gobgp) {
            return format!("{anchor}{oc}{}", &rest[gobgp.len()..]);
        }
    }
    c.to_string()
}

fn definition(p: &Obj) -> Option<Value> {
    let Some(name) = p.nonempty("name") else {
        p.report()
            .unmapped(p.path(), "a policy without a name is left out");
        return None;
    };
    let statements: Vec<Value> = p
        .list("statements")
        .iter()
        .enumerate()
        .map(|(i, s)| statement(s, i))
        .collect();
    let mut def = json!({"name": name, "config": {"name": name}});
    if !statements.is_empty() {
        def["statements"] = json!({ "statement": statements });
    }
    Some(def)
}

fn statement(s: &Obj, index: usize) -> Value {
    // GoBGP names statements itself when the file does not.
    let name = s
        .nonempty("name")
        .unwrap_or_else(|| format!("statement-{}", index + 1));
    let mut out = json!({"name": name, "config": {"name": name}});
    if let Some(c) = s.obj("conditions") {
        let conditions = conditions(&c);
        if !conditions.is_empty() {
            out["conditions"] = Value::Object(conditions);
        }
    }
    if let Some(a) = s.obj("actions") {
        let actions = actions(&a);
        if !actions.is_empty() {
            out["actions"] = Value::Object(actions);
        }
    }
    out
}

/// `match-set-options` in OpenConfig's spelling; `restricted` sets take
/// ANY and INVERT only.
fn match_options(o: &Obj, restricted: bool) -> Option<String> {
    let v = o.nonempty("match-set-options")?;
    match upper(&v).as_str() {
        m @ ("ANY" | "INVERT") => Some(m.to_string()),
        "ALL" if !restricted => Some("ALL".into()),
        _ => {
            o.report().unmapped(
                o.at("match-set-options"),
                format!("{v:?} is not an option here"),
            );
            None
        }
    }
}

/// A `match-*-set` condition: `{config: {<set_key>: name, match-set-options}}`.
fn match_set(c: &Obj, key: &str, set_key: &str, restricted: bool) -> Option<Value> {
    let m = c.obj(key)?;
    let set = m.nonempty(set_key)?;
    let mut config = Map::new();
    config.insert(set_key.into(), json!(set));
    put(
        &mut config,
        "match-set-options",
        match_options(&m, restricted),
    );
    Some(json!({ "config": config }))
}

fn comparison(c: &Obj, key: &str) -> Option<Value> {
    let m = c.obj(key)?;
    let op = m.nonempty("operator")?;
    let value: u32 = m.uint("value")?;
    let op = match op.to_ascii_lowercase().as_str() {
        "eq" => "ATTRIBUTE_EQ",
        "ge" => "ATTRIBUTE_GE",
        "le" => "ATTRIBUTE_LE",
        _ => {
            m.report()
                .unmapped(m.at("operator"), format!("unknown operator {op:?}"));
            return None;
        }
    };
    Some(json!({"config": {"operator": format!("{POLICY_TYPES}:{op}"), "value": value}}))
}

fn conditions(c: &Obj) -> Map<String, Value> {
    let mut out = Map::new();
    put(
        &mut out,
        "match-prefix-set",
        match_set(c, "match-prefix-set", "prefix-set", true),
    );
    put(
        &mut out,
        "match-neighbor-set",
        match_set(c, "match-neighbor-set", "neighbor-set", true),
    );
    c.skip("match-tag-set", "ocbgpd has no route tags");
    if let Some(b) = c.obj("bgp-conditions") {
        let mut bgp = Map::new();
        put(
            &mut bgp,
            "match-community-set",
            match_set(&b, "match-community-set", "community-set", false),
        );
        put(
            &mut bgp,
            "match-ext-community-set",
            match_set(&b, "match-ext-community-set", "ext-community-set", false),
        );
        put(
            &mut bgp,
            "match-as-path-set",
            match_set(&b, "match-as-path-set", "as-path-set", false),
        );
        b.skip(
            "match-large-community-set",
            "OpenConfig has no large-community condition",
        );
        put(&mut bgp, "as-path-length", comparison(&b, "as-path-length"));
        put(
            &mut bgp,
            "community-count",
            comparison(&b, "community-count"),
        );
        let mut config = Map::new();
        put(&mut config, "med-eq", b.uint::<u32>("med-eq"));
        put(&mut config, "local-pref-eq", b.uint::<u32>("local-pref-eq"));
        if let Some(o) = b.nonempty("origin-eq") {
            config.insert("origin-eq".into(), json!(upper(&o)));
        }
        let next_hops = b.strs("next-hop-in-list");
        if !next_hops.is_empty() {
            config.insert("next-hop-in".into(), json!(next_hops));
        }
        let mut families = Vec::new();
        for f in b
            .strs("afi-safi-in-list")
            .into_iter()
            .chain(b.strs("afi-safi-in"))
        {
            match afi_safi(&f) {
                Some(id) => families.push(id),
                None => b.report().unmapped(
                    b.at("afi-safi-in-list"),
                    format!("{f}: ocbgpd runs ipv4-unicast and ipv6-unicast only"),
                ),
            }
        }
        if !families.is_empty() {
            config.insert("afi-safi-in".into(), json!(families));
        }
        if let Some(t) = b.nonempty("route-type") {
            match upper(&t).as_str() {
                r @ ("INTERNAL" | "EXTERNAL") => {
                    config.insert("route-type".into(), json!(r));
                }
                "NONE" => {}
                _ => b.report().unmapped(
                    b.at("route-type"),
                    format!("{t}: OpenConfig matches internal or external only"),
                ),
            }
        }
        if let Some(r) = b.nonempty("rpki-validation-result") {
            match upper(&r).replace('-', "_").as_str() {
                v @ ("VALID" | "INVALID" | "NOT_FOUND") => {
                    config.insert("ocbgp:rpki-validation-result".into(), json!(v));
                }
                "NONE" => {}
                _ => b.report().unmapped(
                    b.at("rpki-validation-result"),
                    format!("{r}: valid, invalid or not-found"),
                ),
            }
        }
        if !config.is_empty() {
            bgp.insert("config".into(), Value::Object(config));
        }
        if !bgp.is_empty() {
            out.insert(
                "openconfig-bgp-policy:bgp-conditions".into(),
                Value::Object(bgp),
            );
        }
    }
    out
}

fn actions(a: &Obj) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(d) = a.nonempty("route-disposition") {
        match upper(&d).as_str() {
            r @ ("ACCEPT_ROUTE" | "REJECT_ROUTE") => {
                out.insert("config".into(), json!({ "policy-result": r }));
            }
            "NONE" => {}
            _ => a.report().unmapped(
                a.at("route-disposition"),
                format!("unknown disposition {d:?}"),
            ),
        }
    }
    let Some(b) = a.obj("bgp-actions") else {
        return out;
    };
    let mut bgp = Map::new();
    let mut config = Map::new();
    if let Some(med) = b.nonempty("set-med") {
        let (action, digits) = match med.as_bytes()[0] {
            b'+' => ("ADD", &med[1..]),
            b'-' => ("SUBTRACT", &med[1..]),
            _ => ("SET", med.as_str()),
        };
        match digits.parse::<u32>() {
            Ok(n) => {
                config.insert("set-med".into(), json!(n));
                config.insert("set-med-action".into(), json!(action));
            }
            Err(_) => b
                .report()
                .unmapped(b.at("set-med"), format!("{med:?} is not a MED value")),
        }
    }
    put(
        &mut config,
        "set-local-pref",
        b.uint::<u32>("set-local-pref"),
    );
    if let Some(nh) = b.nonempty("set-next-hop") {
        if nh.eq_ignore_ascii_case("self") {
            config.insert("set-next-hop".into(), json!("SELF"));
        } else if nh.parse::<IpAddr>().is_ok() {
            config.insert("set-next-hop".into(), json!(nh));
        } else {
            b.report().unmapped(
                b.at("set-next-hop"),
                format!("{nh}: OpenConfig sets an address or SELF"),
            );
        }
    }
    if let Some(o) = b.nonempty("set-route-origin") {
        config.insert("set-route-origin".into(), json!(upper(&o)));
    }
    if !config.is_empty() {
        bgp.insert("config".into(), Value::Object(config));
    }
    if let Some(p) = b.obj("set-as-path-prepend") {
        let mut m = Map::new();
        if let Some(asn) = p.nonempty("as") {
            if asn.eq_ignore_ascii_case("last-as") {
                m.insert("use-last-as".into(), json!(true));
            } else {
                match asn.parse::<u32>() {
                    Ok(n) => {
                        m.insert("asn".into(), json!(n));
                    }
                    Err(_) => p
                        .report()
                        .unmapped(p.at("as"), format!("{asn:?} is not an AS number")),
                }
            }
        }
        put(&mut m, "repeat-n", p.uint::<u8>("repeat-n"));
        if !m.is_empty() {
            bgp.insert("set-as-path-prepend".into(), json!({ "config": m }));
        }
    }
    put(
        &mut bgp,
        "set-community",
        set_community(&b, "set-community", "community-set-refs", community),
    );
    put(
        &mut bgp,
        "set-ext-community",
        set_community(
            &b,
            "set-ext-community",
            "ext-community-set-refs",
            ext_community,
        ),
    );
    b.skip(
        "set-large-community",
        "OpenConfig has no large-community action",
    );
    if !bgp.is_empty() {
        out.insert(
            "openconfig-bgp-policy:bgp-actions".into(),
            Value::Object(bgp),
        );
    }
    out
}

/// `set-community` / `set-ext-community`: inline communities or a
/// reference to a set.
fn set_community(b: &Obj, key: &str, refs_key: &str, f: fn(&str) -> String) -> Option<Value> {
    let s = b.obj(key)?;
    let options = s
        .nonempty("options")
        .map(|o| upper(&o))
        .unwrap_or_else(|| "ADD".into());
    if !matches!(options.as_str(), "ADD" | "REMOVE" | "REPLACE") {
        s.report()
            .unmapped(s.at("options"), format!("unknown option {options:?}"));
        return None;
    }
    let method = s
        .obj("set-community-method")
        .or_else(|| s.obj("set-ext-community-method"))?;
    let list = method.strs("communities-list");
    let reference = method
        .nonempty("community-set-ref")
        .or_else(|| method.nonempty("ext-community-set-ref"));
    if let Some(r) = reference {
        return Some(json!({
            "config": {"method": "REFERENCE", "options": options},
            "reference": {"config": {refs_key: [r]}}
        }));
    }
    let communities: Vec<String> = list.iter().map(|c| f(c)).collect();
    Some(json!({
        "config": {"method": "INLINE", "options": options},
        "inline": {"config": {"communities": communities}}
    }))
}

/// A member kept as written.
fn verbatim(s: &str) -> String {
    s.to_string()
}
