//! `ocbgp mrt`: the configured MRT dumps, a one-off table dump, and
//! injecting an MRT file's routes as originated routes.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use ipnet::IpNet;
use ocbgp_gnmi::proto::gnmi::get_request::DataType;
use serde_json::{json, Value};

use crate::client::Conn;
use crate::paths;
use crate::raw::done;
use crate::table::{cell, list, member, print_json, Table};

fn dump_path(name: &str) -> String {
    format!("{}/ocbgp:mrt/dump[name={}]", paths::BGP, paths::key(name))
}

/// Lists the configured dumps and the files they write.
pub async fn list_dumps(conn: &mut Conn, json: bool) -> anyhow::Result<()> {
    let v = conn
        .get_opt(&format!("{}/ocbgp:mrt", paths::BGP), DataType::All)
        .await?
        .unwrap_or(Value::Null);
    let rows: Vec<Value> = list(&v, "dump")
        .iter()
        .map(|d| {
            let c = member(d, "config").cloned().unwrap_or(Value::Null);
            let s = member(d, "state").cloned().unwrap_or(Value::Null);
            json!({
                "name": member(d, "name"),
                "type": member(&c, "type"),
                "file_name": member(&c, "file-name"),
                "rotation_interval": member(&s, "rotation-interval").or_else(|| member(&c, "rotation-interval")),
                "current_file": member(&s, "current-file"),
            })
        })
        .collect();
    if json {
        print_json(&Value::Array(rows));
        return Ok(());
    }
    let mut t = Table::new(&["Name", "Type", "File name", "Interval", "Current file"]);
    for r in &rows {
        t.row(vec![
            cell(member(r, "name")),
            cell(member(r, "type")),
            cell(member(r, "file_name")),
            cell(member(r, "rotation_interval")),
            cell(member(r, "current_file")),
        ]);
    }
    if t.is_empty() {
        println!("no MRT dumps configured");
    } else {
        t.print();
    }
    Ok(())
}

/// `mrt dump FILE`: one TABLE_DUMP_V2 snapshot written by ocbgpd to FILE
/// (a path on the daemon's machine), through a dump entry that exists for
/// as long as it takes (two commits).
pub async fn dump(conn: &mut Conn, file: &str, limit: Duration, json: bool) -> anyhow::Result<()> {
    if !file.starts_with('/') {
        bail!("{file:?}: give an absolute path (ocbgpd writes it, on its machine)");
    }
    let name = format!("ocbgp-cli-{}", std::process::id());
    let path = dump_path(&name);
    let value = json!({"name": name, "config": {"name": name, "type": "TABLE",
        "file-name": file.replace('%', "%%"), "rotation-interval": 0}});
    conn.set(&[], &[], &[(&path, value)]).await?;
    let deadline = Instant::now() + limit;
    let result: anyhow::Result<()> = loop {
        let current = conn
            .get_opt(&format!("{path}/state/current-file"), DataType::State)
            .await;
        match current {
            Ok(Some(v)) if found(&v, file) => break Ok(()),
            Err(e) => break Err(e.into()),
            _ => {}
        }
        if Instant::now() >= deadline {
            break Err(anyhow::anyhow!(
                "no table dump within {}s (is BGP running?)",
                limit.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The entry goes whatever happened.
    conn.set(&[&path], &[], &[])
        .await
        .context("removing the one-off dump entry")?;
    result?;
    done(json, "written", file);
    Ok(())
}

/// Whether a state value (a leaf, or a container holding it) is `file`.
fn found(v: &Value, file: &str) -> bool {
    match v {
        Value::String(s) => s == file,
        Value::Object(m) => m.values().any(|v| found(v, file)),
        Value::Array(a) => a.iter().any(|v| found(v, file)),
        _ => false,
    }
}

/// A route read from an MRT file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MrtRoute {
    /// The prefix.
    pub prefix: IpNet,
    /// Next hop.
    pub next_hop: Option<IpAddr>,
    /// ORIGIN (0 IGP, 1 EGP, 2 INCOMPLETE).
    pub origin: Option<u8>,
    /// MED.
    pub med: Option<u32>,
    /// LOCAL_PREF.
    pub local_pref: Option<u32>,
    /// Standard communities as `AS:VALUE`.
    pub communities: Vec<String>,
    /// Large communities as `GA:LD1:LD2`.
    pub large_communities: Vec<String>,
}

impl MrtRoute {
    /// A route to `prefix` with no attributes yet.
    fn new(prefix: IpNet) -> MrtRoute {
        MrtRoute {
            prefix,
            next_hop: None,
            origin: None,
            med: None,
            local_pref: None,
            communities: Vec::new(),
            large_communities: Vec::new(),
        }
    }
}

/// Why an MRT file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MrtError {
    /// A record is cut short or inconsistent.
    #[error("malformed MRT record at byte {0}")]
    Malformed(usize),
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Every route announced in `data`: TABLE_DUMP_V2 RIB records (IPv4 and
/// IPv6 unicast, with or without path ids; the first entry of each
/// prefix) and BGP4MP / BGP4MP_ET UPDATE messages (4-octet AS subtypes
/// and 2-octet ones, announcements only). Other records are skipped.
pub fn parse(data: &[u8]) -> Result<Vec<MrtRoute>, MrtError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let bad = || MrtError::Malformed(at);
        let kind = be16(data, at + 4).ok_or_else(bad)?;
        let subtype = be16(data, at + 6).ok_or_else(bad)?;
        let len = be32(data, at + 8).ok_or_else(bad)? as usize;
        let body = data.get(at + 12..at + 12 + len).ok_or_else(bad)?;
        match (kind, subtype) {
            (13, 2 | 4 | 8 | 10) => {
                if let Some(r) = rib_record(body, subtype) {
                    out.push(r);
                }
            }
            (16 | 17, 1 | 4 | 8 | 9) => {
                let body = if kind == 17 {
                    body.get(4..)
                } else {
                    Some(body)
                };
                if let Some(b) = body {
                    bgp4mp_message(b, subtype, &mut out);
                }
            }
            _ => {}
        }
        at += 12 + len;
    }
    Ok(out)
}

fn rib_record(b: &[u8], subtype: u16) -> Option<MrtRoute> {
    let v6 = subtype == 4 || subtype == 10;
    let add_path = subtype >= 8;
    let plen = *b.get(4)?;
    let octets = usize::from(plen).div_ceil(8);
    let prefix = prefix_of(v6, plen, b.get(5..5 + octets)?)?;
    let mut at = 5 + octets;
    let count = be16(b, at)?;
    at += 2;
    if count == 0 {
        return None;
    }
    // The first entry: peer index, originated time, [path id], attributes.
    at += 2 + 4 + if add_path { 4 } else { 0 };
    let alen = usize::from(be16(b, at)?);
    let attrs = b.get(at + 2..at + 2 + alen)?;
    let mut r = MrtRoute::new(prefix);
    attributes(attrs, true, &mut r, &mut Vec::new());
    Some(r)
}

fn prefix_of(v6: bool, plen: u8, bytes: &[u8]) -> Option<IpNet> {
    if v6 {
        let mut a = [0u8; 16];
        a.get_mut(..bytes.len())?.copy_from_slice(bytes);
        IpNet::new(IpAddr::from(a), plen).ok().map(|n| n.trunc())
    } else {
        let mut a = [0u8; 4];
        a.get_mut(..bytes.len())?.copy_from_slice(bytes);
        IpNet::new(IpAddr::from(a), plen).ok().map(|n| n.trunc())
    }
}

/// Reads path attributes into `r`; NLRI found in MP_REACH_NLRI go to
/// `mp_nlri` (`in_table`: those of a TABLE_DUMP_V2 RIB entry, where
/// MP_REACH_NLRI may be abbreviated to the next hop).
fn attributes(b: &[u8], in_table: bool, r: &mut MrtRoute, mp_nlri: &mut Vec<IpNet>) {
    let mut at = 0;
    while at + 3 <= b.len() {
        let flags = b[at];
        let kind = b[at + 1];
        let (len, hdr) = if flags & 0x10 != 0 {
            match be16(b, at + 2) {
                Some(l) => (usize::from(l), 4),
                None => return,
            }
        } else {
            (usize::from(b[at + 2]), 3)
        };
        let Some(v) = b.get(at + hdr..at + hdr + len) else {
            return;
        };
        match kind {
            1 => r.origin = v.first().copied(),
            3 if v.len() == 4 => r.next_hop = Some(IpAddr::from([v[0], v[1], v[2], v[3]])),
            4 => r.med = be32(v, 0),
            5 => r.local_pref = be32(v, 0),
            8 => {
                for c in v.chunks_exact(4) {
                    let (hi, lo) = (
                        u16::from_be_bytes([c[0], c[1]]),
                        u16::from_be_bytes([c[2], c[3]]),
                    );
                    r.communities.push(format!("{hi}:{lo}"));
                }
            }
            32 => {
                for c in v.chunks_exact(12) {
                    let n = |i: usize| u32::from_be_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
                    r.large_communities
                        .push(format!("{}:{}:{}", n(0), n(4), n(8)));
                }
            }
            14 => mp_reach(v, in_table, r, mp_nlri),
            _ => {}
        }
        at += hdr + len;
    }
}

fn mp_reach(v: &[u8], in_table: bool, r: &mut MrtRoute, mp_nlri: &mut Vec<IpNet>) {
    // In a RIB entry RFC 6396 4.3.4 keeps only the next hop's length and
    // address; GoBGP (before 3.17) writes the whole attribute there. The
    // short form is exactly its length octet plus that many octets (the
    // whole form starts with an AFI, whose first octet is 0).
    let abbreviated = in_table && v.first().is_some_and(|&l| usize::from(l) + 1 == v.len());
    let (v6, at) = if abbreviated {
        (true, 0)
    } else {
        (be16(v, 0) == Some(2), 3)
    };
    let Some(&nh_len) = v.get(at) else { return };
    let nh_len = usize::from(nh_len);
    let Some(nh) = v.get(at + 1..at + 1 + nh_len) else {
        return;
    };
    r.next_hop = match nh_len {
        4 => Some(IpAddr::from([nh[0], nh[1], nh[2], nh[3]])),
        16 | 32 => <[u8; 16]>::try_from(&nh[..16]).ok().map(IpAddr::from),
        _ => None,
    };
    if abbreviated {
        return;
    }
    // Reserved octet, then NLRI.
    let mut p = at + 1 + nh_len + 1;
    while let Some(&plen) = v.get(p) {
        let octets = usize::from(plen).div_ceil(8);
        let Some(net) = v
            .get(p + 1..p + 1 + octets)
            .and_then(|b| prefix_of(v6, plen, b))
        else {
            return;
        };
        mp_nlri.push(net);
        p += 1 + octets;
    }
}

fn bgp4mp_message(b: &[u8], subtype: u16, out: &mut Vec<MrtRoute>) {
    let as_len = if subtype == 4 || subtype == 9 { 4 } else { 2 };
    let afi_at = 2 * as_len + 2;
    let Some(afi) = be16(b, afi_at) else { return };
    let ip_len = if afi == 2 { 16 } else { 4 };
    let msg_at = afi_at + 2 + 2 * ip_len;
    let Some(msg) = b.get(msg_at..) else { return };
    // An UPDATE: marker, length, type 2.
    if msg.get(18) != Some(&2) {
        return;
    }
    let add_path = subtype == 8 || subtype == 9;
    let Some(wlen) = be16(msg, 19) else { return };
    let a_at = 21 + usize::from(wlen);
    let Some(alen) = be16(msg, a_at) else { return };
    let attrs_end = a_at + 2 + usize::from(alen);
    let Some(attrs) = msg.get(a_at + 2..attrs_end) else {
        return;
    };
    let mut base = MrtRoute::new(IpNet::V4(Default::default()));
    let mut nets = Vec::new();
    attributes(attrs, false, &mut base, &mut nets);
    // IPv4 NLRI after the attributes (path ids ignored with add-path).
    let mut p = attrs_end;
    while p < msg.len() {
        if add_path {
            p += 4;
        }
        let Some(&plen) = msg.get(p) else { break };
        let octets = usize::from(plen).div_ceil(8);
        let Some(net) = msg
            .get(p + 1..p + 1 + octets)
            .and_then(|b| prefix_of(false, plen, b))
        else {
            break;
        };
        nets.push(net);
        p += 1 + octets;
    }
    for prefix in nets {
        out.push(MrtRoute {
            prefix,
            ..base.clone()
        });
    }
}

/// `mrt inject FILE`: the file's routes (at most `count`, only those
/// inside `within`) become originated routes of ocbgpd, in one commit.
pub async fn inject(
    conn: &mut Conn,
    file: &std::path::Path,
    count: Option<usize>,
    within: Option<IpNet>,
    json_out: bool,
) -> anyhow::Result<()> {
    let data = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let mut seen = std::collections::BTreeSet::new();
    let routes: Vec<MrtRoute> = parse(&data)?
        .into_iter()
        .filter(|r| within.is_none_or(|w| w.contains(&r.prefix)))
        .filter(|r| seen.insert(r.prefix))
        .take(count.unwrap_or(usize::MAX))
        .collect();
    if routes.is_empty() {
        bail!("no routes to inject in {}", file.display());
    }
    let entries: Vec<Value> = routes.iter().map(route_entry).collect();
    let n = entries.len();
    let path = format!("{}/global/ocbgp:originated-routes", paths::BGP);
    conn.set(&[], &[], &[(&path, json!({"route": entries}))])
        .await?;
    done(json_out, "injected", &format!("{n} routes"));
    Ok(())
}

fn route_entry(r: &MrtRoute) -> Value {
    let mut c = json!({"prefix": r.prefix.to_string()});
    if let Some(nh) = r.next_hop.filter(|a| !a.is_unspecified()) {
        // A next hop of the other family cannot be an originated route's.
        if nh.is_ipv4() == r.prefix.addr().is_ipv4() {
            c["next-hop"] = json!(nh.to_string());
        }
    }
    if let Some(o) = r.origin {
        c["origin"] = json!(match o {
            0 => "IGP",
            1 => "EGP",
            _ => "INCOMPLETE",
        });
    }
    if let Some(m) = r.med {
        c["med"] = json!(m);
    }
    if let Some(l) = r.local_pref {
        c["local-pref"] = json!(l);
    }
    if !r.communities.is_empty() {
        c["community"] = json!(r.communities);
    }
    if !r.large_communities.is_empty() {
        c["large-community"] = json!(r.large_communities);
    }
    json!({"prefix": r.prefix.to_string(), "config": c})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse(&[0, 0, 0, 1, 0, 13, 0, 2, 0, 0, 0, 99]).is_err());
        assert!(parse(&[]).unwrap().is_empty());
        // A RIB record cut short inside is skipped.
        let rec = [0, 0, 0, 1, 0, 13, 0, 2, 0, 0, 0, 3, 0, 0, 0];
        assert!(parse(&rec).unwrap().is_empty());
    }

    #[test]
    fn table_mp_reach_short_and_whole() {
        let hop: [u8; 16] = "2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets();
        let want = Some(IpAddr::from(hop));
        // RFC 6396 4.3.4: length and next hop only.
        let mut short = vec![16];
        short.extend_from_slice(&hop);
        // As GoBGP writes it: AFI, SAFI, length, next hop, reserved, NLRI.
        let mut whole = vec![0, 2, 1, 16];
        whole.extend_from_slice(&hop);
        whole.extend_from_slice(&[0, 32, 0x20, 0x01, 0x0d, 0xb8]);
        for v in [short, whole] {
            let mut r = MrtRoute::new("2001:db8::/32".parse().unwrap());
            mp_reach(&v, true, &mut r, &mut Vec::new());
            assert_eq!(r.next_hop, want, "{v:?}");
        }
    }
}
