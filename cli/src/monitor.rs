//! `monitor neighbor|rib`: Subscribe STREAM ON_CHANGE, one line per change
//! as it arrives, until interrupted. `--json` prints one JSON object per
//! line.

use std::time::{SystemTime, UNIX_EPOCH};

use ocbgp_gnmi::proto::gnmi::PathElem;
use serde_json::json;

use crate::client::{Conn, Event, Response};
use crate::paths::{self, Family};
use crate::rib::stream::{decode, Cells, Decoded, Sets, TableKind};
use crate::table::text;

fn stamp() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let s = d.as_secs();
    format!(
        "{:02}:{:02}:{:02}",
        s % 86_400 / 3600,
        s % 3600 / 60,
        s % 60
    )
}

fn key_of(elems: &[PathElem], key: &str) -> Option<String> {
    elems.iter().rev().find_map(|e| e.key.get(key).cloned())
}

/// `monitor neighbor [ADDR]`: session state changes.
pub async fn neighbor(conn: &mut Conn, addr: Option<&str>, json: bool) -> anyhow::Result<()> {
    if let Some(a) = addr {
        if a.parse::<std::net::IpAddr>().is_err() {
            anyhow::bail!("{a:?} is not a neighbor address (IPv4 or IPv6)");
        }
    }
    let base = paths::neighbor(None);
    let entry = match addr {
        Some(a) => format!("{base}/neighbor[neighbor-address={}]", paths::key(a)),
        None => format!("{base}/neighbor"),
    };
    let paths = vec![
        format!("{entry}/state/session-state"),
        format!("{entry}/state/enabled"),
    ];
    let mut sub = conn.subscribe(&paths, true, false).await?;
    while let Some(events) = sub.next().await? {
        for e in events {
            match e {
                Event::Update(elems, v) => {
                    let n = key_of(&elems, "neighbor-address").unwrap_or_default();
                    let leaf = elems.last().map(|e| e.name.clone()).unwrap_or_default();
                    let value = text(Some(&v)).unwrap_or_default();
                    if json {
                        crate::emit!(
                            "{}",
                            json!({"event": "update", "neighbor": n, "leaf": leaf, "value": value})
                        );
                    } else {
                        crate::emit!("{} {n} {leaf} {value}", stamp());
                    }
                }
                Event::Delete(elems) => {
                    let n = key_of(&elems, "neighbor-address").unwrap_or_default();
                    if json {
                        crate::emit!("{}", json!({"event": "delete", "neighbor": n}));
                    } else {
                        crate::emit!("{} {n} removed", stamp());
                    }
                }
                Event::Sync => {
                    if json {
                        crate::emit!("{}", json!({"event": "sync"}));
                    }
                }
            }
        }
    }
    Ok(())
}

/// `monitor rib [-a FAMILY]`: Loc-RIB changes (`+` added or changed,
/// `-` withdrawn).
pub async fn rib(conn: &mut Conn, family: Option<Family>, json: bool) -> anyhow::Result<()> {
    let paths: Vec<String> = Family::selected(family)
        .iter()
        .map(|f| format!("{}/loc-rib/routes/route", paths::family_rib(*f)))
        .collect();
    let mut sub = conn.subscribe(&paths, true, true).await?;
    let mut sets = Sets::default();
    let mut cells = Cells::default();
    let dash = |s: Option<&str>| s.filter(|s| !s.is_empty()).unwrap_or("-").to_string();
    while let Some(response) = sub.next_raw().await? {
        let n = match response {
            Response::Update(n) => n,
            Response::SyncResponse(_) => {
                if json {
                    crate::emit!("{}", json!({"event": "sync"}));
                }
                continue;
            }
            _ => continue,
        };
        let mut d = Decoded::default();
        decode(&n, &TableKind::Loc, &mut d);
        for gone in &d.gone {
            let source = gone.source.map(|s| s.to_string());
            if json {
                crate::emit!(
                    "{}",
                    json!({"event": "withdraw", "prefix": gone.prefix.to_string(), "source": source})
                );
            } else {
                crate::emit!(
                    "{} - {} from {}",
                    stamp(),
                    gone.prefix,
                    dash(source.as_deref())
                );
            }
        }
        if d.cleared {
            // The subscribed table itself was deleted (a resync follows).
            if json {
                crate::emit!(
                    "{}",
                    json!({"event": "withdraw", "prefix": null, "source": null})
                );
            } else {
                crate::emit!("{} - (all) from -", stamp());
            }
        }
        // A notification is one round of changes: its sets in one read.
        sets.fetch_for(conn, &d.routes).await?;
        for r in &d.routes {
            let mut row = cells.of(r, &TableKind::Loc, &sets);
            if json {
                row.event = Some("update");
                crate::emit!("{}", serde_json::to_string(&row)?);
            } else {
                crate::emit!(
                    "{} + {} via {} from {} as-path [{}] origin {}",
                    stamp(),
                    row.prefix,
                    dash(row.next_hop),
                    dash(row.source),
                    dash(Some(row.as_path)),
                    dash(row.origin)
                );
            }
        }
    }
    Ok(())
}
