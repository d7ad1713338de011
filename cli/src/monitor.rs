//! `monitor neighbor|rib`: Subscribe STREAM ON_CHANGE, one line per change
//! as it arrives, until interrupted. `--json` prints one JSON object per
//! line.

use std::time::{SystemTime, UNIX_EPOCH};

use ocbgp_gnmi::proto::gnmi::PathElem;
use serde_json::{json, Value};

use crate::client::{Conn, Event};
use crate::paths::{self, Family};
use crate::rib::stream::{row, Attrs, Grouper, RouteLeaves, TableKind};
use crate::table::{bare, text};

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
    let mut attrs = Attrs::default();
    let mut grouper = Grouper::default();
    while let Some(events) = sub.next().await? {
        let mut changed: Vec<RouteLeaves> = Vec::new();
        for e in events {
            match e {
                Event::Update(elems, v) => changed.extend(grouper.push(&elems, v)),
                Event::Delete(elems) => {
                    let prefix = key_of(&elems, "prefix");
                    let source = key_of(&elems, "origin").map(|o| {
                        if o.parse::<std::net::IpAddr>().is_ok() {
                            o
                        } else {
                            "local".into()
                        }
                    });
                    if json {
                        crate::emit!(
                            "{}",
                            json!({"event": "withdraw", "prefix": prefix, "source": source})
                        );
                    } else {
                        crate::emit!(
                            "{} - {} from {}",
                            stamp(),
                            prefix.unwrap_or_else(|| "(all)".into()),
                            source.unwrap_or_else(|| "-".into())
                        );
                    }
                }
                Event::Sync => {
                    if json {
                        crate::emit!("{}", json!({"event": "sync"}));
                    }
                }
            }
        }
        // A notification ends a round of changes.
        changed.extend(grouper.finish());
        let missing: Vec<RouteLeaves> = changed
            .iter()
            .filter(|r| r.attr_index().is_some_and(|i| !attrs.has(&i)))
            .cloned()
            .collect();
        attrs.load_for(conn, &missing).await?;
        for r in &changed {
            let v = row(r, &TableKind::Loc, &attrs);
            if json {
                let mut v = v;
                v["event"] = Value::from("update");
                crate::emit!("{v}");
            } else {
                let t = |k: &str| {
                    text(v.get(k))
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "-".into())
                };
                crate::emit!(
                    "{} + {} via {} from {} as-path [{}] origin {}",
                    stamp(),
                    t("prefix"),
                    t("next_hop"),
                    bare(&t("source")),
                    t("as_path"),
                    t("origin")
                );
            }
        }
    }
    Ok(())
}
