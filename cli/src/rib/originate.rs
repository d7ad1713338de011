//! Originated routes: `global rib add|del` on ocbgp's
//! `bgp/global/ocbgp:originated-routes`.

use std::net::IpAddr;

use anyhow::bail;
use ipnet::IpNet;
use ocbgp_gnmi::proto::gnmi::get_request::DataType;
use serde_json::{json, Map, Value};

use crate::client::Conn;
use crate::paths;
use crate::raw::done;

/// Attributes of `global rib add`, parsed from `WORD VALUE` pairs.
pub fn route_config(prefix: &str, args: &[String]) -> anyhow::Result<(IpNet, Value)> {
    let net: IpNet = prefix
        .parse()
        .map_err(|_| anyhow::anyhow!("{prefix:?} is not an IP prefix (such as 10.0.0.0/24)"))?;
    if net.trunc() != net {
        bail!("{prefix} has host bits set: did you mean {}?", net.trunc());
    }
    let mut c = Map::new();
    c.insert("prefix".into(), json!(net.to_string()));
    let mut it = args.iter().peekable();
    const WORDS: [&str; 6] = [
        "nexthop",
        "origin",
        "med",
        "local-pref",
        "community",
        "large-community",
    ];
    while let Some(word) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("{word} needs a value"))
        };
        match word.as_str() {
            "nexthop" | "next-hop" => {
                let v = value()?;
                let a: IpAddr = v.parse().map_err(|_| anyhow::anyhow!("nexthop {v:?} is not an IP address"))?;
                c.insert("next-hop".into(), json!(a.to_string()));
            }
            "origin" => {
                let v = value()?.to_ascii_uppercase();
                if !["IGP", "EGP", "INCOMPLETE"].contains(&v.as_str()) {
                    bail!("origin must be igp, egp or incomplete, not {v:?}");
                }
                c.insert("origin".into(), json!(v));
            }
            "med" | "local-pref" => {
                let v = value()?;
                let n: u32 = v.parse().map_err(|_| anyhow::anyhow!("{word} {v:?} is not a number (0..4294967295)"))?;
                c.insert(word.clone(), json!(n));
            }
            "community" | "large-community" => {
                let mut list = Vec::new();
                while let Some(v) = it.peek() {
                    if WORDS.contains(&v.as_str()) || *v == "next-hop" {
                        break;
                    }
                    for one in it.next().expect("peeked").split(',').filter(|s| !s.is_empty()) {
                        list.push(if word == "community" { community(one)? } else { large_community(one)? });
                    }
                }
                if list.is_empty() {
                    bail!("{word} needs at least one value");
                }
                c.insert(word.clone(), json!(list));
            }
            other => bail!("unknown route attribute {other:?}: use nexthop, origin, med, local-pref, community or large-community"),
        }
    }
    Ok((net, json!({"prefix": net.to_string(), "config": c})))
}

/// A standard community as the model takes it: `A:B` or a well-known name.
fn community(s: &str) -> anyhow::Result<String> {
    let well_known = [
        ("no-export", "NO_EXPORT"),
        ("no-advertise", "NO_ADVERTISE"),
        ("no-export-subconfed", "NO_EXPORT_SUBCONFED"),
        ("nopeer", "NOPEER"),
    ];
    let lower = s.to_ascii_lowercase().replace('_', "-");
    if let Some((_, id)) = well_known.iter().find(|(n, _)| *n == lower) {
        return Ok(format!("openconfig-bgp-types:{id}"));
    }
    match s.split_once(':') {
        Some((a, b)) if a.parse::<u16>().is_ok() && b.parse::<u16>().is_ok() => Ok(s.to_string()),
        _ => bail!("community {s:?} is not ASN:VALUE (two numbers up to 65535) or no-export, no-advertise, no-export-subconfed, nopeer"),
    }
}

fn large_community(s: &str) -> anyhow::Result<String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()) {
        Ok(s.to_string())
    } else {
        bail!("large community {s:?} is not GA:LD1:LD2 (three numbers up to 4294967295)")
    }
}

/// `global rib add PREFIX [attributes]`: replaces the originated route.
pub async fn add(conn: &mut Conn, prefix: &str, args: &[String], json: bool) -> anyhow::Result<()> {
    let (net, value) = route_config(prefix, args)?;
    let path = paths::originated(&net.to_string());
    conn.set(&[], &[(&path, value)], &[]).await?;
    done(json, "added", &net.to_string());
    Ok(())
}

/// `global rib del PREFIX`.
pub async fn del(conn: &mut Conn, prefix: &str, json: bool) -> anyhow::Result<()> {
    let net: IpNet = prefix
        .parse()
        .map_err(|_| anyhow::anyhow!("{prefix:?} is not an IP prefix (such as 10.0.0.0/24)"))?;
    let path = paths::originated(&net.trunc().to_string());
    let exists = conn
        .get_opt(&format!("{path}/config/prefix"), DataType::Config)
        .await?;
    if exists.is_none() {
        bail!(
            "{} is not an originated route (see `ocbgp get {}/global/ocbgp:originated-routes`)",
            net.trunc(),
            paths::BGP
        );
    }
    conn.set(&[&path], &[], &[]).await?;
    done(json, "deleted", &net.trunc().to_string());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_attributes_parse() {
        let args: Vec<String> = "nexthop 192.0.2.1 med 10 community 65000:1 no-export origin egp"
            .split(' ')
            .map(String::from)
            .collect();
        let (net, v) = route_config("10.0.0.0/24", &args).unwrap();
        assert_eq!(net.to_string(), "10.0.0.0/24");
        assert_eq!(v["config"]["next-hop"], "192.0.2.1");
        assert_eq!(v["config"]["med"], 10);
        assert_eq!(v["config"]["origin"], "EGP");
        assert_eq!(
            v["config"]["community"],
            json!(["65000:1", "openconfig-bgp-types:NO_EXPORT"])
        );
        assert!(route_config("10.0.0.1/24", &[]).is_err());
        assert!(route_config("10.0.0.0/24", &["med".into(), "x".into()]).is_err());
        assert!(route_config("10.0.0.0/24", &["colour".into(), "x".into()]).is_err());
    }
}
