//! `ocbgp bmp`: the BMP stations and their connections.

use ocbgp_gnmi::proto::gnmi::get_request::DataType;
use serde_json::{json, Value};

use crate::client::Conn;
use crate::paths;
use crate::table::{cell, list, member, print_json, Table};

/// Lists the configured stations with their state and counters.
pub async fn list_stations(conn: &mut Conn, json: bool) -> anyhow::Result<()> {
    let v = conn
        .get_opt(&format!("{}/ocbgp:bmp", paths::BGP), DataType::All)
        .await?
        .unwrap_or(Value::Null);
    let rows: Vec<Value> = list(&v, "station")
        .iter()
        .map(|s| {
            let st = member(s, "state").cloned().unwrap_or(Value::Null);
            let c = member(s, "config").cloned().unwrap_or(Value::Null);
            let views: Vec<&str> = [
                ("adj-rib-in-pre-policy", "pre-policy"),
                ("adj-rib-in-post-policy", "post-policy"),
                ("loc-rib", "loc-rib"),
                ("adj-rib-out-pre-policy", "adj-rib-out-pre"),
                ("adj-rib-out-post-policy", "adj-rib-out"),
            ]
            .iter()
            .filter(|(leaf, _)| {
                member(&st, leaf)
                    .or_else(|| member(&c, leaf))
                    .and_then(Value::as_bool)
                    .unwrap_or(*leaf == "adj-rib-in-pre-policy")
            })
            .map(|(_, name)| *name)
            .collect();
            json!({
                "address": member(s, "address"),
                "port": member(s, "port"),
                "state": member(&st, "session-state"),
                "monitoring": views,
                "statistics_interval": member(&st, "statistics-interval").or_else(|| member(&c, "statistics-interval")),
                "messages_sent": member(&st, "messages-sent"),
                "drops": member(&st, "drops"),
                "connections": member(&st, "connections"),
                "last_error": member(&st, "last-error"),
            })
        })
        .collect();
    if json {
        print_json(&Value::Array(rows));
        return Ok(());
    }
    let mut t = Table::new(&[
        "Station",
        "Port",
        "State",
        "Monitoring",
        "Sent",
        "Drops",
        "Connections",
        "Last error",
    ]);
    for r in &rows {
        t.row(vec![
            cell(member(r, "address")),
            cell(member(r, "port")),
            cell(member(r, "state")),
            cell(member(r, "monitoring")),
            cell(member(r, "messages_sent")),
            cell(member(r, "drops")),
            cell(member(r, "connections")),
            cell(member(r, "last_error")),
        ]);
    }
    if t.is_empty() {
        println!("no BMP stations configured");
    } else {
        t.print();
    }
    Ok(())
}
