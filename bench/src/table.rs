//! `bgpbench table`: `run`'s JSON result lines as a Markdown table.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::event::parse;

/// Options of `bgpbench table`.
#[derive(Debug, Clone, clap::Args)]
pub struct TableArgs {
    /// Files of JSON lines; standard input if none.
    pub files: Vec<PathBuf>,
}

/// Runs `bgpbench table`.
pub fn run(args: TableArgs) -> Result<()> {
    let mut text = String::new();
    if args.files.is_empty() {
        std::io::stdin().read_to_string(&mut text)?;
    }
    for file in &args.files {
        text.push_str(&std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?);
        text.push('\n');
    }
    print!("{}", markdown(&text));
    Ok(())
}

/// The `result` events of `text` as a Markdown table: one row per run.
pub fn markdown(text: &str) -> String {
    let mut out = String::from("| daemon | sinks | prefixes | seconds | peak RSS (MB) | CPU (s) |\n|---|---|---|---|---|---|\n");
    for result in text.lines().filter_map(parse).filter(|e| e["event"] == "result") {
        let status = result["status"].as_str().unwrap_or("?");
        let seconds = match result["seconds"].as_f64() {
            Some(s) if status == "ok" => format!("{s:.1}"),
            _ => format!("not finished: {}", first_line(status)),
        };
        let number = |v: &Value, digits: usize| v.as_f64().map(|x| format!("{x:.digits$}")).unwrap_or("-".into());
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            result["daemon"].as_str().unwrap_or("?"),
            result["sinks"],
            result["prefixes"],
            seconds,
            number(&result["peak_rss_mb"], 0),
            number(&result["cpu_s"], 1),
        ));
    }
    out
}

/// The first line of a status, without table-breaking characters.
fn first_line(status: &str) -> String {
    status.lines().next().unwrap_or("").replace('|', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_for_results_only() {
        let text = r#"{"event":"result","daemon":"bird","sinks":10,"prefixes":1000000,"status":"ok","seconds":7.61,"peak_rss_mb":143.2,"cpu_s":6.31}
bird sinks=10: 7.61 s
{"event":"sent","t_ns":1}
{"event":"result","daemon":"gobgpd","sinks":10,"prefixes":1000000,"status":"timed out","seconds":null,"peak_rss_mb":2200.0,"cpu_s":600.0}"#;
        let table = markdown(text);
        let rows: Vec<&str> = table.lines().collect();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[2], "| bird | 10 | 1000000 | 7.6 | 143 | 6.3 |");
        assert_eq!(rows[3], "| gobgpd | 10 | 1000000 | not finished: timed out | 2200 | 600.0 |");
    }
}
