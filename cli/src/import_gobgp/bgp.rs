//! The BGP part: `[global]`, `[[neighbors]]`, `[[peer-groups]]` and
//! `[[dynamic-neighbors]]` into `bgp/global`, `bgp/neighbors` and
//! `bgp/peer-groups`.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::{json, Map, Value};

use super::reader::Obj;
use super::ImportError;

const BGP_TYPES: &str = "openconfig-bgp-types";

/// Inserts `key: value` when there is a value.
pub(super) fn put(map: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(v) = value {
        map.insert(key.to_string(), v.into());
    }
}

/// `{"config": {...}}` into `map[key]` when the config is not empty.
fn put_config(map: &mut Map<String, Value>, key: &str, config: Map<String, Value>) {
    if !config.is_empty() {
        map.insert(key.to_string(), json!({ "config": config }));
    }
}

/// The OpenConfig identity of a GoBGP family name that ocbgpd runs.
pub(super) fn afi_safi(name: &str) -> Option<String> {
    let id = match name.to_ascii_lowercase().as_str() {
        "ipv4-unicast" => "IPV4_UNICAST",
        "ipv6-unicast" => "IPV6_UNICAST",
        _ => return None,
    };
    Some(format!("{BGP_TYPES}:{id}"))
}

/// A GoBGP enumeration value in OpenConfig's spelling (`accept-route` ->
/// `ACCEPT_ROUTE`).
pub(super) fn upper(s: &str) -> String {
    s.trim().to_ascii_uppercase().replace('-', "_")
}

/// Import and export policy as GoBGP's `apply-policy.config` gives it.
#[derive(Debug, Clone, Default)]
struct ApplyPolicy {
    import: Vec<String>,
    export: Vec<String>,
    default_import: Option<String>,
    default_export: Option<String>,
}

impl ApplyPolicy {
    fn read(o: &Obj) -> ApplyPolicy {
        let Some(c) = o.obj("apply-policy").and_then(|a| a.obj("config")) else {
            return ApplyPolicy::default();
        };
        let default = |key: &str| {
            let v = c.nonempty(key)?;
            match upper(&v).as_str() {
                d @ ("ACCEPT_ROUTE" | "REJECT_ROUTE") => Some(d.to_string()),
                _ => {
                    c.report()
                        .unmapped(c.at(key), format!("unknown default policy {v:?}"));
                    None
                }
            }
        };
        ApplyPolicy {
            import: c.strs("import-policy-list"),
            export: c.strs("export-policy-list"),
            default_import: default("default-import-policy"),
            default_export: default("default-export-policy"),
        }
    }

    fn is_empty(&self) -> bool {
        self.import.is_empty()
            && self.export.is_empty()
            && self.default_import.is_none()
            && self.default_export.is_none()
    }

    /// OpenConfig `apply-policy`. GoBGP's defaults are ACCEPT_ROUTE; a
    /// chain written without its default gets that explicitly, since
    /// OpenConfig's default is REJECT_ROUTE.
    fn to_json(&self) -> Option<Value> {
        if self.is_empty() {
            return None;
        }
        let mut c = Map::new();
        if !self.import.is_empty() {
            c.insert("import-policy".into(), json!(self.import));
        }
        if !self.export.is_empty() {
            c.insert("export-policy".into(), json!(self.export));
        }
        let accept = || Some("ACCEPT_ROUTE".to_string());
        put(
            &mut c,
            "default-import-policy",
            self.default_import.clone().or_else(accept),
        );
        put(
            &mut c,
            "default-export-policy",
            self.default_export.clone().or_else(accept),
        );
        Some(json!({ "config": c }))
    }
}

/// What neighbors need to know about the rest of the file.
struct Context {
    global_policy: ApplyPolicy,
    /// Peer groups whose members are route-server clients.
    rs_groups: HashMap<String, bool>,
}

/// Converts the BGP sections of `root`.
pub(super) fn bgp(root: &Obj) -> Result<Value, ImportError> {
    let global = root
        .obj("global")
        .ok_or_else(|| ImportError::Shape("no [global] section".into()))?;
    let (mut global_json, global_policy) = global_section(&global)?;
    drop(global);

    let mut ctx = Context {
        global_policy,
        rs_groups: HashMap::new(),
    };
    let mut groups = Vec::new();
    for mut g in root.list("peer-groups") {
        if let Some(v) = peer(&mut g, Kind::Group, &mut ctx) {
            groups.push(v);
        }
    }
    let mut neighbors = Vec::new();
    for mut n in root.list("neighbors") {
        if let Some(v) = peer(&mut n, Kind::Neighbor, &mut ctx) {
            neighbors.push(v);
        }
    }
    let mut dynamic = Vec::new();
    for d in root.list("dynamic-neighbors") {
        let Some(c) = d.obj("config") else { continue };
        let prefix = c.nonempty("prefix");
        let group = c.nonempty("peer-group");
        // ocbgpd makes a dynamic neighbor from its peer group, which must
        // say the peer's AS (peer-as, or peer-type internal).
        let group_config = |name: &str| {
            groups
                .iter()
                .find(|g| g["peer-group-name"] == json!(name))
                .map(|g| g["config"].clone())
        };
        let knows_as = |cfg: &Value| {
            cfg.get("peer-as").is_some()
                || cfg
                    .get("peer-type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.ends_with(":INTERNAL"))
        };
        match (prefix, group) {
            (Some(prefix), Some(group)) if group_config(&group).is_some_and(|g| knows_as(&g)) => {
                let mut config = Map::new();
                config.insert("prefix".into(), json!(prefix));
                config.insert("peer-group".into(), json!(group));
                dynamic.push(json!({"prefix": prefix, "config": config}));
            }
            (Some(_), Some(group)) => c.report().unmapped(
                c.at("peer-group"),
                format!("peer group {group:?} is not defined or has no peer-as: ocbgpd takes a dynamic neighbor's AS from it"),
            ),
            (Some(_), None) => c.report().unmapped(c.path(), "a dynamic neighbor without a peer group"),
            (None, _) => c.report().unmapped(c.path(), "a dynamic neighbor without a prefix"),
        }
    }
    if !dynamic.is_empty() {
        global_json.insert(
            "dynamic-neighbor-prefixes".into(),
            json!({ "dynamic-neighbor-prefix": dynamic }),
        );
    }

    let mut bgp = Map::new();
    bgp.insert("global".into(), Value::Object(global_json));
    if !neighbors.is_empty() {
        bgp.insert("neighbors".into(), json!({ "neighbor": neighbors }));
    }
    if !groups.is_empty() {
        bgp.insert("peer-groups".into(), json!({ "peer-group": groups }));
    }
    Ok(Value::Object(bgp))
}

/// `[global]`: the `bgp/global` subtree and the global policies.
fn global_section(g: &Obj) -> Result<(Map<String, Value>, ApplyPolicy), ImportError> {
    let mut out = Map::new();
    let c = g
        .obj("config")
        .ok_or_else(|| ImportError::Shape("no [global.config] section".into()))?;
    let asn: u32 = c
        .uint("as")
        .ok_or_else(|| ImportError::Shape("global.config.as (the local AS) is missing".into()))?;
    let mut config = Map::new();
    config.insert("as".into(), json!(asn));
    put(&mut config, "router-id", c.nonempty("router-id"));
    out.insert("config".into(), Value::Object(config));

    // The listener: port -1 turns it off; GoBGP's default addresses are
    // "every address", which is ocbgp's empty list.
    let mut listen = Map::new();
    match c.int("port") {
        Some(p) if p < 0 => {
            listen.insert("enabled".into(), json!(false));
        }
        Some(p) => match u16::try_from(p) {
            Ok(p) if p > 0 => {
                listen.insert("port".into(), json!(p));
            }
            _ => c
                .report()
                .unmapped(c.at("port"), format!("{p} is not a TCP port")),
        },
        None => {}
    }
    let addresses: Vec<String> = c
        .strs("local-address-list")
        .into_iter()
        .filter(|a| a != "0.0.0.0" && a != "::")
        .collect();
    if !addresses.is_empty() {
        listen.insert("address".into(), json!(addresses));
    }
    put_config(&mut out, "ocbgp:listen", listen);
    drop(c);

    if let Some(rs) = g
        .obj("route-selection-options")
        .and_then(|r| r.obj("config"))
    {
        let mut m = Map::new();
        for key in [
            "always-compare-med",
            "ignore-as-path-length",
            "external-compare-router-id",
            "advertise-inactive-routes",
            "enable-aigp",
            "ignore-next-hop-igp-metric",
        ] {
            put(&mut m, key, rs.bool(key));
        }
        put_config(&mut out, "route-selection-options", m);
    }
    if let Some(mp) = multipath(g) {
        out.insert("use-multiple-paths".into(), mp);
    }
    let mut long_lived_at = None;
    if let Some(gr) = g.obj("graceful-restart") {
        let (m, at) = graceful_restart(&gr, true);
        put_config(&mut out, "graceful-restart", m);
        long_lived_at = at;
    }
    if let Some(conf) = g.obj("confederation").and_then(|c| c.obj("config")) {
        if conf.bool("enabled") != Some(false) {
            let mut m = Map::new();
            put(&mut m, "identifier", conf.uint::<u32>("identifier"));
            let members: Vec<u32> = conf
                .strs("member-as-list")
                .iter()
                .filter_map(|a| a.parse().ok())
                .collect();
            if !members.is_empty() {
                m.insert("member-as".into(), json!(members));
            }
            put_config(&mut out, "confederation", m);
        } else {
            conf.ignore("identifier");
            conf.ignore("member-as-list");
        }
    }
    if let Some(d) = g
        .obj("default-route-distance")
        .and_then(|d| d.obj("config"))
    {
        let mut m = Map::new();
        put(
            &mut m,
            "external-route-distance",
            d.uint::<u8>("external-route-distance"),
        );
        put(
            &mut m,
            "internal-route-distance",
            d.uint::<u8>("internal-route-distance"),
        );
        put_config(&mut out, "default-route-distance", m);
    }
    let (families, long_lived) = afi_safis(g, Kind::Global);
    long_lived_check(g, &mut out, long_lived_at, long_lived);
    if !families.is_empty() {
        out.insert("afi-safis".into(), json!({ "afi-safi": families }));
    }
    let policy = ApplyPolicy::read(g);
    // OpenConfig's global apply-policy holds the defaults only; the chains
    // go onto the neighbors (see the module docs).
    let mut defaults = Map::new();
    put(
        &mut defaults,
        "default-import-policy",
        policy.default_import.clone(),
    );
    put(
        &mut defaults,
        "default-export-policy",
        policy.default_export.clone(),
    );
    put_config(&mut out, "apply-policy", defaults);
    g.skip("mpls-label-range", "ocbgpd has no MPLS labels");
    g.skip("bgp-confederation", "use [global.confederation]");
    Ok((out, policy))
}

/// `use-multiple-paths`.
fn multipath(o: &Obj) -> Option<Value> {
    let mp = o.obj("use-multiple-paths")?;
    let mut out = Map::new();
    if let Some(c) = mp.obj("config") {
        let mut m = Map::new();
        put(&mut m, "enabled", c.bool("enabled"));
        if !m.is_empty() {
            out.insert("config".into(), Value::Object(m));
        }
    }
    if let Some(e) = mp.obj("ebgp").and_then(|e| e.obj("config")) {
        let mut m = Map::new();
        put(&mut m, "allow-multiple-as", e.bool("allow-multiple-as"));
        put(&mut m, "maximum-paths", e.uint::<u32>("maximum-paths"));
        put_config(&mut out, "ebgp", m);
    }
    if let Some(i) = mp.obj("ibgp").and_then(|i| i.obj("config")) {
        let mut m = Map::new();
        put(&mut m, "maximum-paths", i.uint::<u32>("maximum-paths"));
        put_config(&mut out, "ibgp", m);
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// Puts a long-lived stale time into `out`'s `graceful-restart/config`.
fn long_lived_time(out: &mut Map<String, Value>, seconds: u32) {
    let gr = out
        .entry("graceful-restart")
        .or_insert_with(|| json!({ "config": {} }));
    gr["config"]["ocbgp:long-lived-stale-time"] = json!(seconds);
}

/// `graceful-restart.config` (global, neighbor or group), and where it
/// turns long-lived graceful restart on (its stale time comes from the
/// families: [`long_lived_check`]).
fn graceful_restart(gr: &Obj, global: bool) -> (Map<String, Value>, Option<String>) {
    let mut m = Map::new();
    let Some(c) = gr.obj("config") else {
        return (m, None);
    };
    put(&mut m, "enabled", c.bool("enabled"));
    put(&mut m, "restart-time", c.uint::<u16>("restart-time"));
    put(
        &mut m,
        "stale-routes-time",
        c.uint::<u16>("stale-routes-time"),
    );
    put(&mut m, "helper-only", c.bool("helper-only"));
    if global {
        put(
            &mut m,
            "ocbgp:selection-deferral-time",
            c.uint::<u16>("deferral-time").filter(|t| *t > 0),
        );
    }
    let long_lived =
        (c.bool("long-lived-enabled") == Some(true)).then(|| c.at("long-lived-enabled"));
    if c.bool("notification-enabled") == Some(false) {
        c.report().unmapped(
            c.at("notification-enabled"),
            "ocbgpd always advertises and honours graceful restart on NOTIFICATION (RFC 8538)",
        );
    }
    (m, long_lived)
}

/// Puts the families' long-lived stale time into `out`'s graceful restart
/// settings, or reports long-lived graceful restart turned on (`at`)
/// without a family giving one.
fn long_lived_check(o: &Obj, out: &mut Map<String, Value>, at: Option<String>, time: Option<u32>) {
    match (time, at) {
        (Some(t), _) => long_lived_time(out, t),
        (None, Some(at)) => o.report().unmapped(
            at,
            "no family sets long-lived-graceful-restart restart-time: ocbgpd needs a long-lived stale time",
        ),
        (None, None) => {}
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Global,
    Neighbor,
    Group,
}

/// `afi-safis` of the global section, a neighbor or a group, and the
/// longest long-lived stale time of its families with long-lived graceful
/// restart (ocbgpd has one per neighbor).
fn afi_safis(o: &Obj, kind: Kind) -> (Vec<Value>, Option<u32>) {
    let mut out = Vec::new();
    let mut long_lived: Option<u32> = None;
    for a in o.list("afi-safis") {
        let Some(c) = a.obj("config") else { continue };
        let Some(name) = c.nonempty("afi-safi-name") else {
            c.report()
                .unmapped(c.path(), "a family without afi-safi-name");
            continue;
        };
        let Some(id) = afi_safi(&name) else {
            c.report().unmapped(
                c.at("afi-safi-name"),
                format!("{name}: ocbgpd runs ipv4-unicast and ipv6-unicast only"),
            );
            // The rest of this family's settings go with it.
            for key in [
                "prefix-limit",
                "mp-graceful-restart",
                "add-paths",
                "route-selection-options",
                "use-multiple-paths",
                "apply-policy",
                "long-lived-graceful-restart",
                "route-target-membership",
                "state",
            ] {
                a.ignore(key);
            }
            continue;
        };
        let mut config = Map::new();
        config.insert("afi-safi-name".into(), json!(id));
        config.insert("enabled".into(), json!(c.bool("enabled").unwrap_or(true)));
        drop(c);
        let mut entry = Map::new();
        entry.insert("afi-safi-name".into(), json!(id));
        entry.insert("config".into(), Value::Object(config));
        if let Some(gr) = a.obj("mp-graceful-restart").and_then(|g| g.obj("config")) {
            let mut m = Map::new();
            put(&mut m, "enabled", gr.bool("enabled"));
            put_config(&mut entry, "graceful-restart", m);
        }
        if let Some(ll) = a
            .obj("long-lived-graceful-restart")
            .and_then(|g| g.obj("config"))
        {
            if ll.bool("enabled") == Some(true) {
                let time = ll.uint::<u32>("restart-time").unwrap_or(0);
                long_lived = Some(long_lived.unwrap_or(0).max(time));
            } else {
                ll.ignore("restart-time");
            }
        }
        if kind != Kind::Global {
            if let Some(pl) = a.obj("prefix-limit").and_then(|p| p.obj("config")) {
                let mut m = Map::new();
                put(&mut m, "max-prefixes", pl.uint::<u32>("max-prefixes"));
                put(
                    &mut m,
                    "warning-threshold-pct",
                    pl.uint::<u8>("shutdown-threshold-pct"),
                );
                pl.skip(
                    "restart-timer",
                    "OpenConfig's prefix limit has no restart timer",
                );
                if !m.is_empty() {
                    let family = if id.ends_with("IPV4_UNICAST") {
                        "ipv4-unicast"
                    } else {
                        "ipv6-unicast"
                    };
                    entry.insert(family.into(), json!({"prefix-limit": {"config": m}}));
                }
            }
        }
        if let Some(ap) = a.obj("add-paths").and_then(|p| p.obj("config")) {
            if let Some(m) = add_paths(&ap) {
                entry.insert("add-paths".into(), json!({ "config": m }));
            }
        }
        out.push(Value::Object(entry));
    }
    (out, long_lived)
}

/// GoBGP `add-paths.config` (receive, send-max) as OpenConfig's.
fn add_paths(c: &Obj) -> Option<Map<String, Value>> {
    let mut m = Map::new();
    put(&mut m, "receive", c.bool("receive"));
    if let Some(n) = c.uint::<u8>("send-max") {
        m.insert("send".into(), json!(n > 0));
        if n > 0 {
            m.insert("send-max".into(), json!(n));
        }
    }
    (!m.is_empty()).then_some(m)
}

/// A neighbor or a peer group; None when it lacks its key.
fn peer(o: &mut Obj, kind: Kind, ctx: &mut Context) -> Option<Value> {
    let c = o.obj("config")?;
    let mut config = Map::new();
    let key = match kind {
        Kind::Neighbor => {
            let addr = c.nonempty("neighbor-address");
            let Some(addr) = addr.filter(|a| a.parse::<IpAddr>().is_ok()) else {
                if let Some(iface) = c.nonempty("neighbor-interface") {
                    c.report().unmapped(
                        c.at("neighbor-interface"),
                        format!("{iface}: ocbgpd has no unnumbered (interface) neighbors; the neighbor is left out"),
                    );
                } else {
                    c.report().unmapped(
                        c.path(),
                        "a neighbor without a valid neighbor-address is left out",
                    );
                }
                return None;
            };
            config.insert("neighbor-address".into(), json!(addr));
            addr
        }
        Kind::Group => {
            let Some(name) = c.nonempty("peer-group-name") else {
                c.report()
                    .unmapped(c.path(), "a peer group without peer-group-name is left out");
                return None;
            };
            config.insert("peer-group-name".into(), json!(name));
            name
        }
        Kind::Global => unreachable!("global is not a peer"),
    };
    let mut c = c;
    o.rename(match kind {
        Kind::Neighbor => format!("neighbors[{key}]"),
        _ => format!("peer-groups[{key}]"),
    });
    c.rename(o.at("config"));
    put(&mut config, "peer-as", c.uint::<u32>("peer-as"));
    put(&mut config, "local-as", c.uint::<u32>("local-as"));
    put(&mut config, "auth-password", c.nonempty("auth-password"));
    put(&mut config, "description", c.nonempty("description"));
    let group = if kind == Kind::Neighbor {
        c.nonempty("peer-group")
    } else {
        None
    };
    put(&mut config, "peer-group", group.clone());
    if let Some(t) = c.nonempty("peer-type") {
        match upper(&t).as_str() {
            v @ ("INTERNAL" | "EXTERNAL") => {
                config.insert("peer-type".into(), json!(v));
            }
            _ => c
                .report()
                .unmapped(c.at("peer-type"), format!("unknown peer type {t:?}")),
        }
    }
    if let Some(r) = c.nonempty("remove-private-as") {
        match r.to_ascii_lowercase().as_str() {
            "all" => {
                config.insert(
                    "remove-private-as".into(),
                    json!(format!("{BGP_TYPES}:PRIVATE_AS_REMOVE_ALL")),
                );
            }
            "replace" => {
                config.insert(
                    "remove-private-as".into(),
                    json!(format!("{BGP_TYPES}:PRIVATE_AS_REPLACE_ALL")),
                );
            }
            "none" => {}
            _ => c
                .report()
                .unmapped(c.at("remove-private-as"), format!("unknown option {r:?}")),
        }
    }
    put(
        &mut config,
        "route-flap-damping",
        c.bool("route-flap-damping").filter(|b| *b),
    );
    if c.bool("admin-down") == Some(true) {
        config.insert("enabled".into(), json!(false));
    }
    c.skip(
        "send-community",
        "deprecated in GoBGP and OpenConfig (GoBGP sends every community kind); written as send-community-type",
    );
    // GoBGP sends standard, extended and large communities to every peer;
    // OpenConfig's default (no send-community-type) sends none.
    config.insert(
        "send-community-type".into(),
        json!(["STANDARD", "EXTENDED", "LARGE"]),
    );
    c.skip("vrf", "ocbgpd runs one network instance (no VRFs)");
    c.skip(
        "neighbor-interface",
        "ocbgpd has no unnumbered (interface) neighbors",
    );
    c.ignore("neighbor-address");
    c.ignore("peer-group-name");
    drop(c);

    let mut out = Map::new();
    match kind {
        Kind::Neighbor => out.insert("neighbor-address".into(), json!(key)),
        _ => out.insert("peer-group-name".into(), json!(key)),
    };
    out.insert("config".into(), Value::Object(config));

    if let Some(t) = o.obj("timers").and_then(|t| t.obj("config")) {
        let mut m = Map::new();
        for k in [
            "connect-retry",
            "hold-time",
            "keepalive-interval",
            "minimum-advertisement-interval",
        ] {
            // GoBGP writes these as floats in some versions.
            put(&mut m, k, t.get(k).and_then(seconds).map(|s| json!(s)));
        }
        t.skip(
            "idle-hold-time-after-reset",
            "ocbgpd backs off by itself after a reset; no setting",
        );
        put_config(&mut out, "timers", m);
    }
    if let Some(t) = o.obj("transport").and_then(|t| t.obj("config")) {
        let mut m = Map::new();
        put(&mut m, "passive-mode", t.bool("passive-mode"));
        put(&mut m, "local-address", t.nonempty("local-address"));
        put(&mut m, "mtu-discovery", t.bool("mtu-discovery"));
        put(
            &mut m,
            "tcp-mss",
            t.uint::<u16>("tcp-mss").filter(|v| *v > 0),
        );
        if let Some(port) = t
            .uint::<u16>("remote-port")
            .filter(|p| *p != 179 && *p != 0)
        {
            if let Some(Value::Object(cfg)) = out.get_mut("config") {
                cfg.insert("neighbor-port".into(), json!(port));
            }
        }
        t.skip(
            "local-port",
            "OpenConfig has no local port for outgoing sessions",
        );
        t.skip(
            "bind-interface",
            "ocbgpd does not bind sessions to an interface",
        );
        put_config(&mut out, "transport", m);
    }
    if let Some(ttl) = o.obj("ttl-security").and_then(|t| t.obj("config")) {
        if ttl.bool("enabled") == Some(true) {
            // GoBGP gives the lowest TTL accepted; ocbgp the hops to the peer.
            let min: u8 = ttl.uint("ttl-min").unwrap_or(255);
            let hops = 256 - u16::from(min);
            let transport = out
                .entry("transport")
                .or_insert_with(|| json!({"config": {}}));
            transport["config"]["ocbgp:ttl-security"] = json!(hops.clamp(1, 255));
        } else {
            ttl.ignore("ttl-min");
        }
    }
    if let Some(e) = o.obj("ebgp-multihop").and_then(|e| e.obj("config")) {
        let mut m = Map::new();
        put(&mut m, "enabled", e.bool("enabled"));
        put(
            &mut m,
            "multihop-ttl",
            e.uint::<u8>("multihop-ttl").filter(|t| *t > 0),
        );
        if m.get("enabled") == Some(&json!(true)) || m.contains_key("multihop-ttl") {
            put_config(&mut out, "ebgp-multihop", m);
        }
    }
    if let Some(rr) = o.obj("route-reflector").and_then(|r| r.obj("config")) {
        let mut m = Map::new();
        put(
            &mut m,
            "route-reflector-client",
            rr.bool("route-reflector-client"),
        );
        put(
            &mut m,
            "route-reflector-cluster-id",
            rr.nonempty("route-reflector-cluster-id"),
        );
        if m.get("route-reflector-client") == Some(&json!(true))
            || m.contains_key("route-reflector-cluster-id")
        {
            put_config(&mut out, "route-reflector", m);
        }
    }
    let mut rs_client = false;
    if let Some(rs) = o.obj("route-server").and_then(|r| r.obj("config")) {
        rs_client = rs.bool("route-server-client") == Some(true);
        if rs_client {
            // OpenConfig has no route-server node: ocbgp's extension.
            out.insert(
                "ocbgp:route-server".into(),
                json!({ "config": { "route-server-client": true } }),
            );
        }
        // ocbgpd always sends a client the next best path (path hiding).
        rs.ignore("secondary-route");
    }
    if kind == Kind::Group {
        ctx.rs_groups.insert(key.clone(), rs_client);
    } else if !rs_client {
        rs_client = group
            .as_ref()
            .and_then(|g| ctx.rs_groups.get(g))
            .copied()
            .unwrap_or(false);
    }
    let mut long_lived_at = None;
    if let Some(gr) = o.obj("graceful-restart") {
        let (m, at) = graceful_restart(&gr, false);
        put_config(&mut out, "graceful-restart", m);
        long_lived_at = at;
    }
    if let Some(a) = o.obj("as-path-options").and_then(|a| a.obj("config")) {
        let mut m = Map::new();
        put(
            &mut m,
            "allow-own-as",
            a.uint::<u8>("allow-own-as").filter(|n| *n > 0),
        );
        put(
            &mut m,
            "replace-peer-as",
            a.bool("replace-peer-as").filter(|b| *b),
        );
        put_config(&mut out, "as-path-options", m);
    }
    if let Some(mp) = multipath(o) {
        out.insert("use-multiple-paths".into(), mp);
    }

    // Policy: see the module docs.
    let own = ApplyPolicy::read(o);
    let effective = if rs_client {
        own
    } else {
        if !own.is_empty() {
            o.report().unmapped(
                o.at("apply-policy"),
                "GoBGP applies a neighbor's own policies only to route-server clients; \
                 the global policies are written instead, as GoBGP runs them",
            );
        }
        ctx.global_policy.clone()
    };
    if let Some(ap) = effective.to_json() {
        out.insert("apply-policy".into(), ap);
    }

    let (mut families, long_lived) = afi_safis(o, kind);
    long_lived_check(o, &mut out, long_lived_at, long_lived);
    // Neighbor-wide add-paths applies to each family.
    if let Some(ap) = o.obj("add-paths").and_then(|a| a.obj("config")) {
        if let Some(m) = add_paths(&ap) {
            for f in &mut families {
                f["add-paths"] = json!({ "config": m });
            }
        }
    }
    if families.is_empty() && kind == Kind::Neighbor {
        // GoBGP's default: the family of the neighbor's address.
        let v6 = key.parse::<IpAddr>().is_ok_and(|a| a.is_ipv6());
        let id = afi_safi(if v6 { "ipv6-unicast" } else { "ipv4-unicast" }).expect("known family");
        families
            .push(json!({"afi-safi-name": id, "config": {"afi-safi-name": id, "enabled": true}}));
    }
    if !families.is_empty() {
        out.insert("afi-safis".into(), json!({ "afi-safi": families }));
    }
    o.ignore("state");
    Some(Value::Object(out))
}

/// A timer in whole seconds (GoBGP accepts floats).
fn seconds(v: &Value) -> Option<u16> {
    let f = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.parse().ok()?,
        _ => return None,
    };
    (0.0..=65535.0).contains(&f).then(|| f.round() as u16)
}
