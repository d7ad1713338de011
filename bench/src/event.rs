//! The JSON lines the injector and the sinks print on standard output, one
//! event a line, so that `bgpbench run` (or a person with `jq`) can follow
//! them. Human-readable progress goes to standard error.

use std::io::Write;

use serde_json::Value;

/// Prints one event as a JSON line on standard output and flushes it.
pub fn emit(event: Value) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (the parent went away) is no reason to stop a sink.
    let _ = writeln!(out, "{event}");
    let _ = out.flush();
}

/// Parses an event line; `None` for anything that is not a JSON object
/// with an `"event"` field.
pub fn parse(line: &str) -> Option<Value> {
    let value: Value = serde_json::from_str(line.trim()).ok()?;
    value.get("event")?.as_str()?;
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_events() {
        assert_eq!(parse(r#"{"event":"sent","t_ns":5}"#).unwrap()["t_ns"], 5);
        assert!(parse("sent 5").is_none());
        assert!(parse(r#"{"t_ns":5}"#).is_none());
    }
}
