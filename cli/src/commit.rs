//! `commit history` and `rollback`: the daemon's commit history (read by
//! gNMI Get of `/ocbgp:commit-history`) and going back to a commit (a gNMI
//! Set carrying ocbgp's rollback extension, see gnmi/README.md).

use ocbgp_gnmi::proto::gnmi::get_request::DataType;
use ocbgp_gnmi::proto::gnmi::SetRequest;
use serde_json::{json, Value};

use crate::client::Conn;
use crate::table::{list, member, number, print_json, Table};

const HISTORY: &str = "/commit-history";

/// One commit as the CLI shows it.
fn entry(v: &Value) -> Value {
    let s = |name: &str| member(v, name).and_then(Value::as_str).map(str::to_string);
    json!({
        "id": number(member(v, "id")),
        "time": s("time"),
        "origin": s("origin"),
        "user": s("user"),
        "source": s("source-address"),
        "comment": s("comment"),
        "changes": number(member(v, "number-of-changes")),
    })
}

/// `ocbgp commit history`: the kept commits, oldest first.
pub async fn history(conn: &mut Conn, json: bool) -> anyhow::Result<()> {
    let reply = conn.get(HISTORY, DataType::State).await?;
    let mut commits: Vec<Value> = Vec::new();
    for (_, v) in &reply {
        commits.extend(list(v, "commit").iter().map(entry));
    }
    commits.sort_by_key(|c| c["id"].as_u64().unwrap_or(0));
    if json {
        print_json(&Value::Array(commits));
        return Ok(());
    }
    let mut t = Table::new(&[
        "ID", "TIME", "ORIGIN", "USER", "SOURCE", "CHANGES", "COMMENT",
    ]);
    let text = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    for c in &commits {
        t.row(
            [
                "id", "time", "origin", "user", "source", "changes", "comment",
            ]
            .iter()
            .map(|k| text(&c[*k]))
            .collect(),
        );
    }
    t.print();
    Ok(())
}

/// `ocbgp rollback ID`: running as right after commit ID, as a new commit.
pub async fn rollback(conn: &mut Conn, id: u64, json: bool) -> anyhow::Result<()> {
    let request = SetRequest {
        extension: vec![ocbgp_gnmi::ext::rollback(id)],
        ..Default::default()
    };
    let response = conn.set_request(request).await?;
    let Some(new) = ocbgp_gnmi::ext::rollback_result(&response) else {
        anyhow::bail!("the daemon did not answer the rollback (is it an older ocbgpd?)");
    };
    if json {
        let new = (new != 0).then_some(new);
        print_json(&json!({"result": "rolled back", "to": id, "commit": new}));
    } else if new == 0 {
        println!("running is already as after commit {id}: nothing to roll back");
    } else {
        println!("rolled back to commit {id} as commit {new}");
    }
    Ok(())
}
