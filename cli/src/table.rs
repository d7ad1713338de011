//! Rendering: aligned text tables, and reading RFC 7951 JSON values
//! (module-qualified names and identities, 64-bit numbers as strings).

use serde_json::Value;

/// A table printed with columns as wide as their widest cell.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are empty).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Whether it has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, one line per row, no trailing spaces.
    pub fn render(&self) -> String {
        let cols = self.header.len();
        let mut width: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(cols) {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (i, w) in width.iter().enumerate() {
                let c = cells.get(i).map(String::as_str).unwrap_or("");
                if i + 1 == cols {
                    out.push_str(c);
                } else {
                    out.push_str(&format!("{c:<w$}  "));
                }
            }
            out.trim_end().to_string() + "\n"
        };
        let mut out = line(&self.header);
        for r in &self.rows {
            out.push_str(&line(r));
        }
        out
    }

    /// Prints it.
    pub fn print(&self) {
        print!("{}", self.render());
    }
}

/// The member `name` of an object, whether or not it is module-qualified.
pub fn member<'v>(v: &'v Value, name: &str) -> Option<&'v Value> {
    let obj = v.as_object()?;
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.rsplit_once(':').is_some_and(|(_, n)| n == name))
            .map(|(_, v)| v)
    })
}

/// The value at a `/`-separated chain of member names.
pub fn at<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('/').try_fold(v, |v, name| member(v, name))
}

/// The entries of a list (`container/list` JSON array), or none.
pub fn list<'v>(v: &'v Value, path: &str) -> &'v [Value] {
    at(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A scalar as text: identities without their module, numbers and
/// booleans as written; `None` for null or containers.
pub fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(bare(s).to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(a) => Some(
            a.iter()
                .filter_map(|e| text(Some(e)))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    }
}

/// A scalar as text, `-` when absent.
pub fn cell(v: Option<&Value>) -> String {
    text(v).unwrap_or_else(|| "-".to_string())
}

/// A number written as a JSON number or (64-bit, RFC 7951) a string.
pub fn number(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// An identity or other `module:name` value without its module.
pub fn bare(s: &str) -> &str {
    match s.split_once(':') {
        // IPv6 addresses and communities have colons too: only strip a
        // module name (it starts with a letter).
        Some((m, rest))
            if m.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && !m.contains('.')
                && m.contains('-') =>
        {
            rest
        }
        _ => s,
    }
}

/// A duration in seconds as `[Nd ]HH:MM:SS`.
pub fn duration(secs: u64) -> String {
    let (d, rest) = (secs / 86_400, secs % 86_400);
    let hms = format!(
        "{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    );
    if d > 0 {
        format!("{d}d {hms}")
    } else {
        hms
    }
}

/// Prints one line of a stream (tables, monitors). When the reader has
/// gone (`ocbgp global rib | head`), the program ends quietly instead of
/// reading the rest of the stream for nobody.
pub fn emit(line: std::fmt::Arguments<'_>) {
    emit_part(line, true);
}

/// [`emit`], with or without the end of line.
pub fn emit_part(text: std::fmt::Arguments<'_>, newline: bool) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let end: &[u8] = if newline { b"\n" } else { b"" };
    // Without a newline nothing flushes the line buffer: flush, so a
    // streaming reader sees each row at once.
    if out
        .write_fmt(text)
        .and_then(|_| out.write_all(end))
        .and_then(|_| out.flush())
        .is_err()
    {
        std::process::exit(0);
    }
}

/// [`emit`] with `format!` arguments.
#[macro_export]
macro_rules! emit {
    ($($arg:tt)*) => { $crate::table::emit(format_args!($($arg)*)) };
}

/// Prints JSON, pretty.
pub fn print_json(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align() {
        let mut t = Table::new(&["A", "BB"]);
        t.row(vec!["long".into(), "x".into()]);
        assert_eq!(t.render(), "A     BB\nlong  x\n");
    }

    #[test]
    fn json_helpers() {
        let v = json!({"openconfig-bgp-policy:bgp-defined-sets": {"x": "openconfig-bgp-types:IPV4_UNICAST"}, "n": "12"});
        assert_eq!(text(at(&v, "bgp-defined-sets/x")).unwrap(), "IPV4_UNICAST");
        assert_eq!(number(member(&v, "n")), Some(12));
        assert_eq!(bare("2001:db8::1"), "2001:db8::1");
        assert_eq!(bare("65000:1"), "65000:1");
        assert_eq!(duration(90061), "1d 01:01:01");
    }
}
