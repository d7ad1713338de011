//! `bgpbench table`: `run`'s JSON result lines as a Markdown table.
//!
//! Runs of the same daemon, sink count and table size form one row: the
//! median of the successful runs' numbers (each column on its own), with
//! the number of runs. A row with no successful run shows why the first
//! one failed.

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
        text.push_str(
            &std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?,
        );
        text.push('\n');
    }
    print!("{}", markdown(&text));
    Ok(())
}

/// The median of some numbers (the mean of the middle two for an even
/// count); `None` for none.
fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// The `result` events of `text` as a Markdown table, one row per daemon,
/// sink count and table size, in order of first appearance.
pub fn markdown(text: &str) -> String {
    let mut groups: Vec<((String, u64, u64), Vec<Value>)> = Vec::new();
    for result in text
        .lines()
        .filter_map(parse)
        .filter(|e| e["event"] == "result")
    {
        // Runs of another scenario (`--fib`, `--rpki-vrps`) are rows of
        // their own: "ocbgpd (fib)".
        let daemon = result["daemon"].as_str().unwrap_or("?");
        let daemon = match result["mode"].as_str() {
            Some(mode) if !mode.is_empty() => format!("{daemon} ({mode})"),
            _ => daemon.to_owned(),
        };
        let key = (
            daemon,
            result["sinks"].as_u64().unwrap_or(0),
            result["prefixes"].as_u64().unwrap_or(0),
        );
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, runs)) => runs.push(result),
            None => groups.push((key, vec![result])),
        }
    }
    let mut out = String::from(
        "| daemon | sinks | prefixes | seconds | peak RSS (MB) | CPU (s) | runs |\n|---|---|---|---|---|---|---|\n",
    );
    for ((daemon, sinks, prefixes), runs) in groups {
        let ok: Vec<&Value> = runs.iter().filter(|r| r["status"] == "ok").collect();
        let column = |field: &str, digits: usize| {
            median(ok.iter().filter_map(|r| r[field].as_f64()).collect())
                .map(|x| format!("{x:.digits$}"))
                .unwrap_or_else(|| "-".into())
        };
        let seconds = if ok.is_empty() {
            format!(
                "not finished: {}",
                first_line(runs[0]["status"].as_str().unwrap_or("?"))
            )
        } else {
            column("seconds", 1)
        };
        let (rss, cpu) = if ok.is_empty() {
            let first = &runs[0];
            let number = |v: &Value, digits: usize| {
                v.as_f64()
                    .map(|x| format!("{x:.digits$}"))
                    .unwrap_or("-".into())
            };
            (number(&first["peak_rss_mb"], 0), number(&first["cpu_s"], 1))
        } else {
            (column("peak_rss_mb", 0), column("cpu_s", 1))
        };
        let runs = if ok.len() == runs.len() {
            runs.len().to_string()
        } else {
            format!("{} of {}", ok.len(), runs.len())
        };
        out.push_str(&format!(
            "| {daemon} | {sinks} | {prefixes} | {seconds} | {rss} | {cpu} | {runs} |\n"
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
    fn one_row_per_setting_with_medians() {
        let text = r#"{"event":"result","daemon":"bird","sinks":10,"prefixes":1000000,"status":"ok","seconds":7.61,"peak_rss_mb":143.2,"cpu_s":6.31}
bird sinks=10: 7.61 s
{"event":"result","daemon":"bird","sinks":10,"prefixes":1000000,"status":"ok","seconds":9.0,"peak_rss_mb":150.0,"cpu_s":7.0}
{"event":"result","daemon":"bird","sinks":10,"prefixes":1000000,"status":"ok","seconds":7.0,"peak_rss_mb":140.0,"cpu_s":6.0}
{"event":"sent","t_ns":1}
{"event":"result","daemon":"gobgpd","sinks":10,"prefixes":1000000,"status":"timed out","seconds":null,"peak_rss_mb":2200.0,"cpu_s":600.0}"#;
        let table = markdown(text);
        let rows: Vec<&str> = table.lines().collect();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[2], "| bird | 10 | 1000000 | 7.6 | 143 | 6.3 | 3 |");
        assert_eq!(
            rows[3],
            "| gobgpd | 10 | 1000000 | not finished: timed out | 2200 | 600.0 | 0 of 1 |"
        );
        assert_eq!(median(vec![1.0, 4.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn other_scenarios_are_rows_of_their_own() {
        let text = r#"{"event":"result","daemon":"frr","sinks":0,"prefixes":10,"status":"ok","seconds":2.0,"peak_rss_mb":1.0,"cpu_s":1.0,"mode":"fib"}
{"event":"result","daemon":"frr","sinks":0,"prefixes":10,"status":"ok","seconds":4.0,"peak_rss_mb":1.0,"cpu_s":1.0,"mode":""}"#;
        let rows: Vec<String> = markdown(text).lines().map(str::to_owned).collect();
        assert_eq!(rows.len(), 4);
        assert!(
            rows[2].starts_with("| frr (fib) | 0 | 10 | 2.0 |"),
            "{}",
            rows[2]
        );
        assert!(rows[3].starts_with("| frr | 0 | 10 | 4.0 |"), "{}", rows[3]);
    }
}
