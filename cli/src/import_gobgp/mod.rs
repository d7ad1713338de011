//! `ocbgp import-gobgp`: converts a GoBGP configuration file (TOML or YAML,
//! GoBGP's own schema) into ocbgpd's configuration, OpenConfig JSON per
//! RFC 7951 as `ocbgpd --config` takes it.
//!
//! What maps: global (AS, router id, listen port and addresses, route
//! selection, multipath, graceful restart, confederation, families),
//! neighbors and peer groups (session, timers, transport, eBGP multihop,
//! route reflector, route server (`ocbgp:route-server`), graceful restart,
//! AS-path options, TTL security,
//! families with prefix limits and add-paths, policies), dynamic neighbors,
//! defined sets (prefix, neighbor, community, extended community, AS-path,
//! large community) and policy definitions. Every setting that does not
//! map is reported with its GoBGP name; the rest is still converted.
//!
//! GoBGP applies its global import/export policies to every peer that is
//! not a route-server client, and a neighbor's own policies only to
//! route-server clients; the conversion writes the policies each neighbor
//! really runs with onto it, as OpenConfig has per-neighbor policy only.

mod bgp;
mod policy;
mod reader;

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

pub use reader::Unmapped;
use reader::{Obj, Report};

/// The input's syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// TOML (gobgpd's default).
    Toml,
    /// YAML.
    Yaml,
}

impl Format {
    /// The format a file name says (`.toml`, `.yaml`, `.yml`), if any.
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "toml" => Some(Format::Toml),
            "yaml" | "yml" => Some(Format::Yaml),
            _ => None,
        }
    }
}

/// Why nothing could be converted.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("cannot read {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// The text is not valid TOML or YAML.
    #[error("not valid {format}: {message}")]
    Syntax {
        /// TOML or YAML.
        format: &'static str,
        /// The parser's message (with the position).
        message: String,
    },
    /// The document is not a GoBGP configuration at all.
    #[error("not a GoBGP configuration: {0}")]
    Shape(String),
    /// The output could not be written.
    #[error("cannot write {}: {error}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
}

/// A converted configuration and what did not carry over.
#[derive(Debug)]
pub struct Conversion {
    /// ocbgpd's configuration (RFC 7951 JSON).
    pub config: Value,
    /// Settings not carried over, with their GoBGP names.
    pub unmapped: Vec<Unmapped>,
}

/// Parses GoBGP text into a JSON tree with lower-case keys (GoBGP reads
/// keys without regard to case).
pub fn parse(text: &str, format: Format) -> Result<Value, ImportError> {
    let tree: Value = match format {
        Format::Toml => {
            let t: toml::Table = toml::from_str(text).map_err(|e| ImportError::Syntax {
                format: "TOML",
                message: e.to_string(),
            })?;
            serde_json::to_value(t).map_err(|e| ImportError::Syntax {
                format: "TOML",
                message: e.to_string(),
            })?
        }
        Format::Yaml => serde_norway::from_str(text).map_err(|e| ImportError::Syntax {
            format: "YAML",
            message: e.to_string(),
        })?,
    };
    let tree = lower_keys(tree);
    if !tree.is_object() {
        return Err(ImportError::Shape(
            "the document is not a table of sections".into(),
        ));
    }
    Ok(tree)
}

fn lower_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), lower_keys(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(lower_keys).collect()),
        v => v,
    }
}

/// Converts a parsed GoBGP configuration.
pub fn convert(tree: &Value) -> Result<Conversion, ImportError> {
    let report = Report::default();
    let config = {
        let root = Obj::new(tree, "", &report);
        if !root.has("global") {
            return Err(ImportError::Shape(
                "no [global] section (every GoBGP configuration has one)".into(),
            ));
        }
        let (defined_sets, definitions) = policy::routing_policy(&root);
        let mut bgp = bgp::bgp(&root)?;
        let stations = bmp_servers(&root);
        if !stations.is_empty() {
            bgp["ocbgp:bmp"] = json!({ "station": stations });
        }
        if let Some(fib) = zebra_fib(&root) {
            if let Some(g) = bgp.get_mut("global") {
                g["ocbgp:fib"] = fib;
            }
        }
        let dumps = mrt_dumps(&root);
        if !dumps.is_empty() {
            bgp["ocbgp:mrt"] = json!({ "dump": dumps });
        }
        let caches = rpki_servers(&root);
        if !caches.is_empty() {
            bgp["global"]["ocbgp:rpki"] = json!({ "caches": { "cache": caches } });
        }
        for (key, why) in [
            (
                "collector",
                "ocbgpd has no InfluxDB collector; use the Prometheus endpoint or gNMI telemetry",
            ),
            ("vrfs", "ocbgpd runs one network instance (no VRFs)"),
        ] {
            root.skip(key, why);
        }
        root_json(bgp, defined_sets, definitions)
    };
    let mut unmapped = report.into_items();
    let mut config = config;
    drop_deviated(&mut config, &mut unmapped);
    Ok(Conversion { config, unmapped })
}

/// Removes from `config` every node ocbgpd does not implement (marked
/// not-supported by a deviation module: present in the schema as written,
/// absent from the daemon's compiled schema) and reports each with the
/// deviation's reason.
fn drop_deviated(config: &mut Value, unmapped: &mut Vec<Unmapped>) {
    let Ok(full) = ocbgp_models::schema::new_context_without_deviations() else {
        return;
    };
    let daemon = ocbgp_models::schema::context();
    let deviations = ocbgp_models::support::deviations();
    let mut walk = Deviated {
        full: &full,
        daemon,
        deviations: &deviations,
        found: Vec::new(),
    };
    walk.object(config, "", "");
    for (path, reason) in walk.found {
        unmapped.push(Unmapped {
            path,
            why: format!(
                "ocbgpd does not support this setting (deviated in ocbgp-deviations: {reason})"
            ),
        });
    }
}

struct Deviated<'a> {
    full: &'a yang2::context::Context,
    daemon: &'a yang2::context::Context,
    deviations: &'a [ocbgp_models::support::Deviation],
    found: Vec<(String, String)>,
}

impl Deviated<'_> {
    /// Walks the members of an RFC 7951 object at schema path `path`
    /// (module `module` in effect), removing deviated ones.
    fn object(&mut self, value: &mut Value, path: &str, module: &str) {
        let Value::Object(members) = value else {
            return;
        };
        let mut drop = Vec::new();
        for (key, child) in members.iter_mut() {
            let (m, name) = key.split_once(':').unwrap_or((module, key.as_str()));
            let step = if m == module {
                name.to_string()
            } else {
                format!("{m}:{name}")
            };
            let child_path = format!("{path}/{step}");
            if self.full.find_path(&child_path).is_ok()
                && self.daemon.find_path(&child_path).is_err()
            {
                let reason = self
                    .deviations
                    .iter()
                    .filter(|d| {
                        child_path == d.target || child_path.starts_with(&format!("{}/", d.target))
                    })
                    .max_by_key(|d| d.target.len())
                    .map_or_else(String::new, |d| d.reason.clone());
                self.found.push((child_path, reason));
                drop.push(key.clone());
                continue;
            }
            match child {
                Value::Object(_) => self.object(child, &child_path, m),
                Value::Array(entries) => {
                    for e in entries.iter_mut().filter(|e| e.is_object()) {
                        self.object(e, &child_path, m);
                    }
                }
                _ => {}
            }
        }
        for key in drop {
            members.remove(&key);
        }
        // A container left empty by the removal goes too.
        let empty: Vec<String> = members
            .iter()
            .filter(|(_, v)| v.as_object().is_some_and(|o| o.is_empty()))
            .map(|(k, _)| k.clone())
            .collect();
        for key in empty {
            members.remove(&key);
        }
    }
}

/// GoBGP's `[[bmp-servers]]` as `ocbgp:bmp` stations.
/// GoBGP's `rpki-servers` as `ocbgp:rpki` caches.
fn rpki_servers(root: &Obj<'_>) -> Vec<Value> {
    let mut out = Vec::new();
    for server in root.list("rpki-servers") {
        let Some(c) = server.obj("config") else {
            continue;
        };
        let Some(address) = c.nonempty("address") else {
            root.report()
                .unmapped(c.path().to_string(), "an RPKI server without an address");
            continue;
        };
        if c.bool("enabled") == Some(false) {
            root.report()
                .unmapped(c.at("enabled"), "a disabled RPKI server is left out");
            continue;
        }
        // GoBGP's default port.
        let port = c.uint::<u16>("port").unwrap_or(323);
        let mut config = json!({ "address": address, "port": port });
        if let Some(p) = c.uint::<u8>("preference") {
            config["preference"] = json!(p);
        }
        if let Some(t) = c.uint::<u32>("refresh-time").filter(|t| *t > 0) {
            config["refresh-interval"] = json!(t.min(86400));
        }
        if let Some(t) = c.uint::<u32>("record-lifetime").filter(|t| *t > 0) {
            config["expire-interval"] = json!(t.clamp(600, 172_800));
        }
        c.skip(
            "hold-time",
            "ocbgpd keeps a cache's VRPs for its expire interval (record-lifetime)",
        );
        out.push(json!({ "address": address, "port": port, "config": config }));
    }
    out
}

fn bmp_servers(root: &Obj<'_>) -> Vec<Value> {
    let mut out = Vec::new();
    for server in root.list("bmp-servers") {
        let Some(c) = server.obj("config") else {
            continue;
        };
        let Some(address) = c.nonempty("address") else {
            root.report()
                .unmapped(c.path().to_string(), "a BMP server without an address");
            continue;
        };
        // GoBGP's default port.
        let port = c.uint::<u16>("port").unwrap_or(11019);
        let (pre, post, loc) = match c.str("route-monitoring-policy").as_deref() {
            None | Some("pre-policy") => (true, false, false),
            Some("post-policy") => (false, true, false),
            Some("both") => (true, true, false),
            Some("local-rib") => (false, false, true),
            Some("all") => (true, true, true),
            Some(other) => {
                root.report().unmapped(
                    c.at("route-monitoring-policy"),
                    format!("unknown route-monitoring-policy {other:?}; pre-policy used"),
                );
                (true, false, false)
            }
        };
        let mut config = json!({
            "address": address,
            "port": port,
            "adj-rib-in-pre-policy": pre,
            "adj-rib-in-post-policy": post,
            "loc-rib": loc,
        });
        if let Some(t) = c.uint::<u16>("statistics-timeout") {
            config["statistics-interval"] = json!(t);
        }
        c.skip(
            "route-mirroring-enabled",
            "ocbgpd does not send BMP Route Mirroring messages",
        );
        c.skip("sys-name", "ocbgpd sends the host name as sysName");
        c.skip("sys-descr", "ocbgpd sends \"ocbgpd VERSION\" as sysDescr");
        out.push(json!({"address": address, "port": port, "config": config}));
    }
    out
}

/// GoBGP's `[[mrt-dump]]` as `ocbgp:mrt` dumps named `dump-N`. GoBGP's
/// file names use Go's reference time (2006-01-02 15:04:05); they become
/// strftime fields.
/// GoBGP's `[zebra]` as the forwarding table's zebra backend, when
/// enabled.
fn zebra_fib(root: &Obj<'_>) -> Option<Value> {
    let c = root.obj("zebra")?.obj("config")?;
    if c.bool("enabled") != Some(true) {
        for key in [
            "url",
            "redistribute-route-type-list",
            "version",
            "nexthop-trigger-enable",
            "nexthop-trigger-delay",
            "mpls-label-range-size",
            "software-name",
        ] {
            c.ignore(key);
        }
        return None;
    }
    let mut config = json!({ "backend": "ZEBRA" });
    if let Some(url) = c.nonempty("url") {
        match url.strip_prefix("unix:") {
            Some(path) => config["zebra-socket"] = json!(path),
            None => root.report().unmapped(
                c.at("url"),
                format!("{url:?}: ocbgpd reaches zebra over a Unix socket only"),
            ),
        }
    }
    if let Some(v) = c.uint::<u8>("version").filter(|v| *v != 6) {
        root.report().unmapped(
            c.at("version"),
            format!("ZAPI version {v}: ocbgpd speaks version 6 (FRR 7 and 8)"),
        );
    }
    let mut redistribute = Vec::new();
    for t in c.strs("redistribute-route-type-list") {
        let protocol = match t.as_str() {
            "connect" | "connected" => "CONNECTED",
            "static" => "STATIC",
            "kernel" => "KERNEL",
            "ospf" | "ospf6" => "OSPF",
            _ => {
                root.report().unmapped(
                    c.at("redistribute-route-type-list"),
                    format!(
                        "route type {t:?}: ocbgpd redistributes connect, static, kernel and ospf"
                    ),
                );
                continue;
            }
        };
        if !redistribute.contains(&protocol) {
            redistribute.push(protocol);
        }
    }
    // ocbgpd always tracks next hops through zebra, at once.
    if c.bool("nexthop-trigger-enable") == Some(false) {
        c.report().unmapped(
            c.at("nexthop-trigger-enable"),
            "ocbgpd always tracks next hops through zebra",
        );
    }
    c.skip(
        "nexthop-trigger-delay",
        "ocbgpd acts on zebra's next-hop updates at once",
    );
    c.skip("mpls-label-range-size", "ocbgpd has no MPLS VPN");
    c.skip("software-name", "ocbgpd speaks FRR's ZAPI 6");
    let mut fib = json!({ "config": config });
    if !redistribute.is_empty() {
        fib["redistribute"] = redistribute
            .iter()
            .map(|p| json!({ "protocol": p, "config": { "protocol": p } }))
            .collect();
    }
    Some(fib)
}

fn mrt_dumps(root: &Obj<'_>) -> Vec<Value> {
    let mut out = Vec::new();
    for (i, d) in root.list("mrt-dump").into_iter().enumerate() {
        let Some(c) = d.obj("config") else {
            continue;
        };
        let name = format!("dump-{}", i + 1);
        let kind = match c.str("dump-type").as_deref() {
            Some("updates") => "UPDATES",
            Some("table") => "TABLE",
            other => {
                root.report().unmapped(
                    c.at("dump-type"),
                    format!("dump type {other:?} is neither updates nor table"),
                );
                continue;
            }
        };
        let Some(file) = c.nonempty("file-name") else {
            root.report()
                .unmapped(c.path().to_string(), "an MRT dump without a file-name");
            continue;
        };
        // Updates rotate by rotation-interval, tables by dump-interval.
        let interval = if kind == "TABLE" {
            c.ignore("rotation-interval");
            c.uint::<u32>("dump-interval")
        } else {
            c.ignore("dump-interval");
            c.uint::<u32>("rotation-interval")
        };
        c.skip(
            "table-name",
            "ocbgpd dumps the global table only (no per-neighbor tables)",
        );
        let mut config = json!({
            "name": name,
            "type": kind,
            "file-name": go_time_to_strftime(&file),
        });
        if let Some(i) = interval {
            config["rotation-interval"] = json!(i);
        }
        out.push(json!({"name": name, "config": config}));
    }
    out
}

/// Go's reference-time layout elements, longest first, as strftime.
fn go_time_to_strftime(name: &str) -> String {
    let mut out = name.replace('%', "%%");
    for (go, c) in [
        ("2006", "%Y"),
        ("01", "%m"),
        ("02", "%d"),
        ("15", "%H"),
        ("04", "%M"),
        ("05", "%S"),
    ] {
        out = out.replace(go, c);
    }
    out
}

fn root_json(bgp: Value, defined_sets: Map<String, Value>, definitions: Vec<Value>) -> Value {
    let mut root = json!({
        "openconfig-network-instance:network-instances": {
            "network-instance": [{
                "name": "DEFAULT",
                "config": {"name": "DEFAULT", "type": "openconfig-network-instance-types:DEFAULT_INSTANCE"},
                "protocols": {"protocol": [{
                    "identifier": "openconfig-policy-types:BGP",
                    "name": "BGP",
                    "config": {"identifier": "openconfig-policy-types:BGP", "name": "BGP", "enabled": true},
                    "bgp": bgp,
                }]}
            }]
        }
    });
    let mut routing_policy = Map::new();
    if !defined_sets.is_empty() {
        routing_policy.insert("defined-sets".into(), Value::Object(defined_sets));
    }
    if !definitions.is_empty() {
        routing_policy.insert(
            "policy-definitions".into(),
            json!({ "policy-definition": definitions }),
        );
    }
    if !routing_policy.is_empty() {
        root["openconfig-routing-policy:routing-policy"] = Value::Object(routing_policy);
    }
    root
}

/// `ocbgp import-gobgp FILE [-o OUT]`: converts FILE, writes the JSON to
/// OUT or standard output, and lists what did not map on standard error.
pub fn run(file: &Path, out: Option<&Path>) -> Result<(), ImportError> {
    let text = std::fs::read_to_string(file).map_err(|error| ImportError::Read {
        path: file.into(),
        error,
    })?;
    let tree = match Format::from_path(file) {
        Some(format) => parse(&text, format)?,
        // No telling extension: TOML if it parses as such, else YAML.
        None => parse(&text, Format::Toml).or_else(|_| parse(&text, Format::Yaml))?,
    };
    let conversion = convert(&tree)?;
    let mut json =
        serde_json::to_string_pretty(&conversion.config).expect("JSON values always serialise");
    json.push('\n');
    match out {
        Some(path) => std::fs::write(path, json).map_err(|error| ImportError::Write {
            path: path.into(),
            error,
        })?,
        None => print!("{json}"),
    }
    for u in &conversion.unmapped {
        eprintln!("not mapped: {}: {}", u.path, u.why);
    }
    if !conversion.unmapped.is_empty() {
        eprintln!(
            "{} GoBGP setting(s) not mapped; review them before running ocbgpd with the result",
            conversion.unmapped.len()
        );
    }
    Ok(())
}
