//! `get`, `set` and `delete`: any model path, values as JSON.

use serde_json::{Map, Value};

use crate::client::{Conn, ReadType};
use crate::table::print_json;

/// `ocbgp get PATH [--type]`: one path's value as JSON. Human output is the
/// value itself when the read returns one node, else `{path: value}`;
/// `--json` is always `{path: value}`.
pub async fn get(conn: &mut Conn, path: &str, kind: ReadType, json: bool) -> anyhow::Result<()> {
    let updates = conn.get(path, kind.into()).await?;
    if !json && updates.len() == 1 {
        print_json(&updates[0].1);
        return Ok(());
    }
    let mut out = Map::new();
    for (p, v) in updates {
        out.insert(p, v);
    }
    print_json(&Value::Object(out));
    Ok(())
}

/// A value given on the command line: JSON, or else a bare string.
pub fn parse_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// `ocbgp set PATH VALUE [--replace]`.
pub async fn set(
    conn: &mut Conn,
    path: &str,
    value: &str,
    replace: bool,
    json: bool,
) -> anyhow::Result<()> {
    let v = parse_value(value);
    if replace {
        conn.set(&[], &[(path, v)], &[]).await?;
    } else {
        conn.set(&[], &[], &[(path, v)]).await?;
    }
    done(json, if replace { "replaced" } else { "updated" }, path);
    Ok(())
}

/// `ocbgp delete PATH`.
pub async fn delete(conn: &mut Conn, path: &str, json: bool) -> anyhow::Result<()> {
    conn.set(&[path], &[], &[]).await?;
    done(json, "deleted", path);
    Ok(())
}

/// Reports a change that went through: `{"result": what, "path": path}`.
pub fn done(json: bool, what: &str, path: &str) {
    if json {
        print_json(&serde_json::json!({"result": what, "path": path}));
    } else {
        println!("{what} {path}");
    }
}
