//! Route rows as printed: a table (`gobgp global rib` style) or, with
//! `--json`, one JSON object per route in an array. Rows are written
//! straight into a 64 KiB output buffer from the route and its cached
//! sets, without building a value per row.

use std::fmt::Write as _;
use std::io::Write as _;

use serde::ser::{Serialize, SerializeSeq, Serializer};

use super::route::Route;
use super::sets::{SetRow, Sets};
use super::TableKind;

const HEADER: [&str; 9] = [
    "",
    "Network",
    "Next Hop",
    "From",
    "AS_PATH",
    "Origin",
    "MED",
    "LocPrf",
    "Communities",
];

/// A route as `--json` prints it.
#[derive(serde::Serialize)]
pub(crate) struct JsonRow<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'static str>,
    pub prefix: &'a str,
    pub family: &'static str,
    pub source: Option<&'a str>,
    pub path_id: Option<u32>,
    pub next_hop: Option<&'a str>,
    pub as_path: &'a str,
    pub origin: Option<&'a str>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub communities: Communities<'a>,
    pub best: Option<bool>,
    /// Kept stale over its peer's restart.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
    /// RPKI origin validation, while the daemon has VRPs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpki_validation: Option<&'a str>,
    /// In the forwarding table, while the daemon has a FIB backend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fib_installed: Option<bool>,
    /// The MED and LOCAL_PREF table cells ("-" when absent).
    #[serde(skip)]
    pub cells: (&'a str, &'a str),
}

/// Communities as a JSON array, from their comma-joined text.
pub(crate) struct Communities<'a>(pub &'a str);

impl Serialize for Communities<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for c in self.0.split(',').filter(|c| !c.is_empty()) {
            seq.serialize_element(c)?;
        }
        seq.end()
    }
}

/// Text of the cells that need formatting, reused from row to row.
#[derive(Default)]
pub(crate) struct Cells {
    prefix: String,
    source: String,
    next_hop: String,
    med: String,
    local_pref: String,
}

impl Cells {
    /// Fills the cells of `r` and returns its JSON form.
    pub(crate) fn of<'a>(
        &'a mut self,
        r: &'a Route,
        table: &TableKind,
        sets: &'a Sets,
    ) -> JsonRow<'a> {
        let set: Option<&SetRow> = sets.attrs(r.attr_index);
        self.prefix.clear();
        let _ = write!(self.prefix, "{}", r.prefix);
        self.source.clear();
        let source = match (table, r.source) {
            (TableKind::AdjOut(_), _) | (_, None) => None,
            (_, Some(s)) => {
                let _ = write!(self.source, "{s}");
                Some(self.source.as_str())
            }
        };
        self.next_hop.clear();
        if let Some(nh) = set.and_then(|s| s.next_hop) {
            let _ = write!(self.next_hop, "{nh}");
        }
        let number = |buf: &mut String, n: Option<u32>| {
            buf.clear();
            match n {
                Some(n) => {
                    let _ = write!(buf, "{n}");
                }
                None => buf.push('-'),
            }
        };
        number(&mut self.med, set.and_then(|s| s.med));
        number(&mut self.local_pref, set.and_then(|s| s.local_pref));
        JsonRow {
            event: None,
            prefix: &self.prefix,
            family: r.family.identity(),
            source,
            path_id: r.path_id,
            next_hop: Some(self.next_hop.as_str()).filter(|n| !n.is_empty()),
            as_path: set.map_or("", |s| &*s.as_path),
            origin: set.and_then(|s| s.origin),
            med: set.and_then(|s| s.med),
            local_pref: set.and_then(|s| s.local_pref),
            communities: Communities(sets.communities(r.community_index).unwrap_or("")),
            best: r.best,
            stale: r.stale,
            rpki_validation: r.validation.as_deref(),
            fib_installed: r.fib_installed,
            cells: (&self.med, &self.local_pref),
        }
    }
}

/// "-" for an empty cell.
fn dash(s: Option<&str>) -> &str {
    s.filter(|s| !s.is_empty()).unwrap_or("-")
}

/// Prints rows as they come: a table, or one JSON array.
pub(crate) struct Printer {
    json: bool,
    table: TableKind,
    count: usize,
    cells: Cells,
    out: std::io::BufWriter<std::io::Stdout>,
}

impl Printer {
    pub(crate) fn new(json: bool, table: TableKind) -> Printer {
        Printer {
            json,
            table,
            count: 0,
            cells: Cells::default(),
            out: std::io::BufWriter::with_capacity(1 << 16, std::io::stdout()),
        }
    }

    /// Ends quietly when stdout is gone (`ocbgp global rib | head`).
    fn check(r: std::io::Result<()>) {
        if r.is_err() {
            std::process::exit(0);
        }
    }

    /// Writes out the buffered rows.
    pub(crate) fn flush(&mut self) {
        Printer::check(self.out.flush());
    }

    /// Writes one route's row.
    pub(crate) fn row(&mut self, r: &Route, sets: &Sets) {
        let first = self.count == 0;
        self.count += 1;
        let row = self.cells.of(r, &self.table, sets);
        if self.json {
            // The separator goes before each row: the array closes at the end.
            let sep: &[u8] = if first { b"[\n  " } else { b",\n  " };
            let written = self.out.write_all(sep).and_then(|_| {
                serde_json::to_writer(&mut self.out, &row).map_err(std::io::Error::from)
            });
            return Printer::check(written);
        }
        if first {
            let h = HEADER;
            Printer::check(writeln!(
                self.out,
                "{:<5} {:<20} {:<18} {:<18} {:<20} {:<10} {:>6} {:>6}  {}",
                h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
            ));
        }
        let (med, lp) = row.cells;
        // Status, as routers print it: RPKI V/I/N, S stale, * usable, > best,
        // F in the forwarding table (FRR's `show ip route` marks it too).
        let status = [
            match row.rpki_validation {
                Some("VALID") => 'V',
                Some("INVALID") => 'I',
                Some("NOT_FOUND") => 'N',
                _ => ' ',
            },
            if row.stale { 'S' } else { ' ' },
            '*',
            if row.best == Some(true) { '>' } else { ' ' },
            if row.fib_installed == Some(true) {
                'F'
            } else {
                ' '
            },
        ];
        let status: String = status.iter().collect();
        let written = write!(
            self.out,
            "{:<5} {:<20} {:<18} {:<18} {:<20} {:<10} {:>6} {:>6}",
            status,
            row.prefix,
            dash(row.next_hop),
            dash(row.source),
            dash(Some(row.as_path)),
            dash(row.origin),
            med,
            lp
        )
        .and_then(|_| match row.communities.0 {
            "" => writeln!(self.out),
            c => writeln!(self.out, "  {c}"),
        });
        Printer::check(written);
    }

    /// Ends the output: closes the JSON array, or says the table was empty.
    pub(crate) fn finish(&mut self) {
        let end = match (self.json, self.count) {
            (true, 0) => "[]\n",
            (true, _) => "\n]\n",
            (false, 0) => "no routes\n",
            (false, _) => "",
        };
        Printer::check(self.out.write_all(end.as_bytes()));
        self.flush();
    }
}
