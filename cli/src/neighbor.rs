//! `neighbor`: the summary table, one neighbor's detail, and the session
//! actions (shutdown and enable by configuration, reset and soft reset by
//! gNOI BGP).

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use ocbgp_gnmi::proto::gnmi::get_request::DataType;
use ocbgp_gnmi::proto::gnoi_bgp::clear_bgp_neighbor_request::Mode as ClearMode;
use serde_json::{json, Value};

use crate::client::Conn;
use crate::paths;
use crate::raw::done;
use crate::table::{at, bare, cell, duration, list, member, number, print_json, text, Table};

/// Direction of a soft reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Direction {
    /// Run import policy again over the routes received.
    In,
    /// Send our routes again, through export policy.
    Out,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One neighbor's state as the JSON output shows it.
fn summary_of(n: &Value) -> Value {
    let s = member(n, "state").cloned().unwrap_or(Value::Null);
    let state = text(member(&s, "session-state"));
    let last = number(member(&s, "last-established")).map(|ns| ns / 1_000_000_000);
    let uptime = match (&state, last) {
        (Some(st), Some(l)) if st == "ESTABLISHED" => Some(now().saturating_sub(l)),
        _ => None,
    };
    let mut families = serde_json::Map::new();
    let (mut received, mut accepted) = (0u64, 0u64);
    for f in list(n, "afi-safis/afi-safi") {
        let fs = member(f, "state").cloned().unwrap_or(Value::Null);
        let p = |name: &str| number(at(&fs, &format!("prefixes/{name}"))).unwrap_or(0);
        received += p("received-pre-policy");
        accepted += p("received");
        let name = text(member(f, "afi-safi-name")).unwrap_or_default();
        families.insert(
            name,
            json!({
                "active": member(&fs, "active").and_then(Value::as_bool).unwrap_or(false),
                "received": p("received-pre-policy"),
                "accepted": p("received"),
                "installed": p("installed"),
                "sent": p("sent"),
            }),
        );
    }
    json!({
        "neighbor": text(member(n, "neighbor-address")).or_else(|| text(member(&s, "neighbor-address"))),
        "peer_as": number(member(&s, "peer-as")),
        "local_as": number(member(&s, "local-as")),
        "peer_type": text(member(&s, "peer-type")),
        "description": text(member(&s, "description")),
        "enabled": member(&s, "enabled").and_then(Value::as_bool).unwrap_or(true),
        "state": state,
        "uptime": uptime,
        "last_established": last,
        "established_transitions": number(member(&s, "established-transitions")).unwrap_or(0),
        "received": received,
        "accepted": accepted,
        "families": families,
    })
}

fn up_down(s: &Value) -> String {
    match number(member(s, "uptime")) {
        Some(u) => duration(u),
        None if number(member(s, "established_transitions")).unwrap_or(0) > 0 => "down".into(),
        None => "never".into(),
    }
}

fn state_cell(s: &Value) -> String {
    let st = text(member(s, "state")).unwrap_or_else(|| "-".into());
    if member(s, "enabled").and_then(Value::as_bool) == Some(false) {
        format!("{st} (admin down)")
    } else {
        st
    }
}

/// `ocbgp neighbor`: the summary table.
pub async fn summary(conn: &mut Conn, json: bool) -> anyhow::Result<()> {
    let v = conn
        .get_opt(&paths::neighbor(None), DataType::State)
        .await?
        .unwrap_or(Value::Null);
    let rows: Vec<Value> = list(&v, "neighbor").iter().map(summary_of).collect();
    if json {
        print_json(&Value::Array(rows));
        return Ok(());
    }
    let mut t = Table::new(&["Peer", "AS", "Up/Down", "State", "#Received", "Accepted"]);
    for s in &rows {
        t.row(vec![
            cell(member(s, "neighbor")),
            cell(member(s, "peer_as")),
            up_down(s),
            state_cell(s),
            cell(member(s, "received")),
            cell(member(s, "accepted")),
        ]);
    }
    if t.is_empty() {
        println!("no neighbors configured");
    } else {
        t.print();
    }
    Ok(())
}

/// Reads one neighbor (config and state); an error naming it if it is
/// not configured.
async fn read_one(conn: &mut Conn, addr: &str) -> anyhow::Result<Value> {
    check_addr(addr)?;
    let v = conn
        .get_opt(&paths::neighbor(Some(addr)), DataType::All)
        .await?;
    let v = v.with_context(|| format!("no neighbor {addr} is configured"))?;
    // A Get of a list entry returns the entry, possibly inside its list.
    Ok(match list(&v, "neighbor").first() {
        Some(n) => n.clone(),
        None => v,
    })
}

fn check_addr(addr: &str) -> anyhow::Result<()> {
    if addr.parse::<std::net::IpAddr>().is_err() {
        bail!("{addr:?} is not a neighbor address (IPv4 or IPv6)");
    }
    Ok(())
}

fn detail_of(n: &Value) -> Value {
    let mut out = summary_of(n);
    let s = member(n, "state").cloned().unwrap_or(Value::Null);
    let ts = at(n, "timers/state").cloned().unwrap_or(Value::Null);
    let tr = at(n, "transport/state").cloned().unwrap_or(Value::Null);
    let msgs = |dir: &str| {
        let m = at(&s, &format!("messages/{dir}"))
            .cloned()
            .unwrap_or(Value::Null);
        json!({
            "update": number(member(&m, "UPDATE")).unwrap_or(0),
            "notification": number(member(&m, "NOTIFICATION")).unwrap_or(0),
            "last_notification_error_code": text(member(&m, "last-notification-error-code")),
            "last_notification_error_subcode": text(member(&m, "last-notification-error-subcode")),
        })
    };
    let caps: Vec<String> = member(&s, "supported-capabilities")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(|c| bare(c).to_string()))
                .collect()
        })
        .unwrap_or_default();
    let ap = at(n, "apply-policy/state").cloned().unwrap_or(Value::Null);
    let names = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|x| text(Some(x))).collect())
            .unwrap_or_default()
    };
    let o = out.as_object_mut().expect("object");
    o.insert("capabilities".into(), json!(caps));
    o.insert(
        "timers".into(),
        json!({
            "hold_time": number(member(&ts, "hold-time")),
            "keepalive_interval": number(member(&ts, "keepalive-interval")),
            "connect_retry": number(member(&ts, "connect-retry")),
            "negotiated_hold_time": number(member(&ts, "negotiated-hold-time")),
        }),
    );
    o.insert(
        "transport".into(),
        json!({
            "local_address": text(member(&tr, "local-address")),
            "local_port": number(member(&tr, "local-port")),
            "remote_address": text(member(&tr, "remote-address")),
            "remote_port": number(member(&tr, "remote-port")),
            "passive_mode": member(&tr, "passive-mode").and_then(Value::as_bool).unwrap_or(false),
        }),
    );
    o.insert(
        "messages".into(),
        json!({"sent": msgs("sent"), "received": msgs("received")}),
    );
    o.insert(
        "policy".into(),
        json!({
            "import": names(member(&ap, "import-policy")),
            "export": names(member(&ap, "export-policy")),
            "default_import": text(member(&ap, "default-import-policy")),
            "default_export": text(member(&ap, "default-export-policy")),
        }),
    );
    out
}

/// `ocbgp neighbor ADDR`: one neighbor in detail.
pub async fn detail(conn: &mut Conn, addr: &str, json: bool) -> anyhow::Result<()> {
    let n = read_one(conn, addr).await?;
    let d = detail_of(&n);
    if json {
        print_json(&d);
        return Ok(());
    }
    let g = |p: &str| cell(at(&d, p));
    println!(
        "BGP neighbor {}, remote AS {} ({}), local AS {}",
        g("neighbor"),
        g("peer_as"),
        g("peer_type").to_lowercase(),
        g("local_as")
    );
    if let Some(desc) = text(member(&d, "description")) {
        println!("  Description:  {desc}");
    }
    println!(
        "  State:        {}, up/down {}",
        state_cell(&d),
        up_down(&d)
    );
    println!("  Established:  {} time(s)", g("established_transitions"));
    println!(
        "  Transport:    local {}:{}, remote {}:{}, passive {}",
        g("transport/local_address"),
        g("transport/local_port"),
        g("transport/remote_address"),
        g("transport/remote_port"),
        g("transport/passive_mode")
    );
    println!(
        "  Timers:       hold {} s (negotiated {}), keepalive {} s, connect-retry {} s",
        g("timers/hold_time"),
        g("timers/negotiated_hold_time"),
        g("timers/keepalive_interval"),
        g("timers/connect_retry"),
    );
    let caps = text(member(&d, "capabilities"))
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "-".into());
    println!("  Capabilities: {caps}");
    println!(
        "  Policy:       import [{}] default {}, export [{}] default {}",
        g("policy/import"),
        g("policy/default_import"),
        g("policy/export"),
        g("policy/default_export")
    );
    println!();
    let mut t = Table::new(&["Messages", "Sent", "Received"]);
    t.row(vec![
        "UPDATE".into(),
        g("messages/sent/update"),
        g("messages/received/update"),
    ]);
    t.row(vec![
        "NOTIFICATION".into(),
        g("messages/sent/notification"),
        g("messages/received/notification"),
    ]);
    let last = |dir: &str| match text(at(
        &d,
        &format!("messages/{dir}/last_notification_error_code"),
    )) {
        Some(c) => format!(
            "{c}/{}",
            g(&format!("messages/{dir}/last_notification_error_subcode"))
        ),
        None => "-".into(),
    };
    t.row(vec![
        "last NOTIFICATION".into(),
        last("sent"),
        last("received"),
    ]);
    t.print();
    println!();
    let mut t = Table::new(&[
        "Family",
        "Active",
        "Received",
        "Accepted",
        "Installed",
        "Sent",
    ]);
    if let Some(fams) = member(&d, "families").and_then(Value::as_object) {
        for (name, f) in fams {
            t.row(vec![
                name.clone(),
                cell(member(f, "active")),
                cell(member(f, "received")),
                cell(member(f, "accepted")),
                cell(member(f, "installed")),
                cell(member(f, "sent")),
            ]);
        }
    }
    t.print();
    Ok(())
}

/// `shutdown` / `enable`: the neighbor's `config/enabled`.
pub async fn set_enabled(
    conn: &mut Conn,
    addr: &str,
    enabled: bool,
    json: bool,
) -> anyhow::Result<()> {
    // Only an existing neighbor: a Set would otherwise create one.
    read_one(conn, addr).await?;
    let path = format!("{}/config/enabled", paths::neighbor(Some(addr)));
    conn.set(&[], &[], &[(&path, Value::Bool(enabled))]).await?;
    done(json, if enabled { "enabled" } else { "shut down" }, addr);
    Ok(())
}

/// `reset` and `softreset [in|out]` through gNOI BGP ClearBGPNeighbor.
pub async fn clear(
    conn: &mut Conn,
    addr: &str,
    hard: bool,
    direction: Option<Direction>,
    json: bool,
) -> anyhow::Result<()> {
    check_addr(addr)?;
    let modes: &[ClearMode] = match (hard, direction) {
        (true, _) => &[ClearMode::Hard],
        (false, Some(Direction::In)) => &[ClearMode::Softin],
        (false, Some(Direction::Out)) => &[ClearMode::Soft],
        (false, None) => &[ClearMode::Softin, ClearMode::Soft],
    };
    for m in modes {
        conn.clear_neighbor(addr, *m).await?;
    }
    let what = match (hard, direction) {
        (true, _) => "reset",
        (false, Some(Direction::In)) => "soft reset in",
        (false, Some(Direction::Out)) => "soft reset out",
        (false, None) => "soft reset in and out",
    };
    done(json, what, addr);
    Ok(())
}
