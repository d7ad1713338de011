//! AS-path sets: regular expressions over the AS path in the usual
//! Cisco/Quagga dialect.
//!
//! # The subject
//!
//! The route's AS_PATH is written as text, nearest AS first:
//!
//! | segment | written as |
//! |---|---|
//! | AS_SEQUENCE | the AS numbers separated by spaces: `65001 65002` |
//! | AS_SET | braces, commas: `{65003,65004}` |
//! | AS_CONFED_SEQUENCE | parentheses, spaces: `(64512 64513)` |
//! | AS_CONFED_SET | brackets, commas: `[64512,64513]` |
//!
//! Segments are separated by one space; AS numbers are decimal (`asplain`);
//! an empty path is the empty string. Example: `65001 65002 {65003,65004}`.
//!
//! # The pattern
//!
//! | token | meaning |
//! |---|---|
//! | `_` | a delimiter: start or end of the path, a space, a comma, a brace, a parenthesis or a bracket (so `_65001_` finds the AS 65001 and not 165001) |
//! | `^`, `$` | start and end of the path |
//! | `.` | any character |
//! | `*`, `+`, `?` | zero or more, one or more, zero or one of the previous item |
//! | `[...]`, `[^...]` | a character class (`_` inside it is a plain underscore) |
//! | `(...)`, `\|` | grouping and alternatives |
//! | `{m,n}` | repetition (as in POSIX ERE) |
//! | `\x` | the character `x` literally (`\{` for a brace) |
//!
//! A pattern matches when it is found anywhere in the text (anchor with
//! `^`/`$`). Examples: `^$` (our own routes), `^65001_` (learned from AS
//! 65001), `_65001$` (originated by 65001), `_6449[6-9]_|_645[0-1][0-9]_`
//! (a documentation AS anywhere), `^65001(_65001)*$` (65001 and its
//! prepends only), `^[0-9]+$` (one AS).
//!
//! A pattern is translated to the `regex` crate's syntax by replacing each
//! `_` outside a class with `(?:^|$|[ ,{}()\[\]])`; everything else is the
//! crate's syntax, which agrees with POSIX ERE on the constructs above.

use regex::Regex;

use super::{digest_hash, next_id};
use crate::wire::{AsPath, SegmentType};

/// What `_` stands for.
const DELIMITER: &str = r"(?:^|$|[ ,{}()\[\]])";

/// Translates a dialect pattern into the `regex` crate's syntax.
pub fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push('\\');
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A `]` (or `^]`) right after the opening bracket is literal.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str(r"\]");
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '_' if !in_class => out.push_str(DELIMITER),
            // The regex crate reads `[` inside a class as a nested class,
            // and `&&`, `~~` as set operations: POSIX has neither.
            '[' | '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Compiles one dialect pattern.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(&translate(pattern))
        .map_err(|e| format!("AS path regular expression {pattern:?}: {e}"))
}

/// Writes `path` as the text patterns match against (see the module
/// documentation) into `out`, cleared first.
pub fn render(path: &AsPath, out: &mut String) {
    out.clear();
    for (i, seg) in path.segments.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let (open, sep, close) = match seg.kind {
            SegmentType::Sequence => ("", ' ', ""),
            SegmentType::Set => ("{", ',', "}"),
            SegmentType::ConfedSequence => ("(", ' ', ")"),
            SegmentType::ConfedSet => ("[", ',', "]"),
        };
        out.push_str(open);
        for (j, asn) in seg.asns.iter().enumerate() {
            if j > 0 {
                out.push(sep);
            }
            push_u32(out, *asn);
        }
        out.push_str(close);
    }
}

/// Appends `n` in decimal (without the formatting machinery: this runs
/// for every AS of every path evaluated).
pub(crate) fn push_u32(out: &mut String, mut n: u32) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(char::from(b));
    }
}

/// One regular expression matching when any of `patterns` (already in the
/// `regex` crate's syntax) does: faster than a `RegexSet` when only
/// "some member matches" is asked.
pub(crate) fn alternation(patterns: &[String]) -> Result<Option<Regex>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let joined: Vec<String> = patterns.iter().map(|p| format!("(?:{p})")).collect();
    Regex::new(&joined.join("|"))
        .map(Some)
        .map_err(|e| format!("regular expressions: {e}"))
}

/// A compiled as-path-set.
#[derive(Debug)]
pub struct AsPathSet {
    pub(crate) name: String,
    pub(crate) id: u64,
    regexes: Vec<Regex>,
    any: Option<Regex>,
    pub(crate) fingerprint: u64,
}

impl AsPathSet {
    /// A set of dialect `patterns`. The error names the bad pattern.
    pub fn new(name: &str, patterns: &[String]) -> Result<AsPathSet, String> {
        let regexes = patterns
            .iter()
            .map(|p| compile(p))
            .collect::<Result<Vec<_>, _>>()?;
        let translated: Vec<String> = patterns.iter().map(|p| translate(p)).collect();
        let any = alternation(&translated).map_err(|e| format!("AS path {e}"))?;
        Ok(AsPathSet {
            name: name.to_string(),
            id: next_id(),
            regexes,
            any,
            fingerprint: digest_hash(patterns),
        })
    }

    /// The set's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// ANY: the rendered path matches some member.
    pub fn any(&self, rendered: &str) -> bool {
        self.any.as_ref().is_some_and(|r| r.is_match(rendered))
    }

    /// ALL: the rendered path matches every member (an empty set matches).
    pub fn all(&self, rendered: &str) -> bool {
        self.regexes.iter().all(|r| r.is_match(rendered))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Segment;

    fn path(segs: &[(SegmentType, &[u32])]) -> String {
        let p = AsPath {
            segments: segs
                .iter()
                .map(|(k, a)| Segment {
                    kind: *k,
                    asns: a.to_vec(),
                })
                .collect(),
        };
        let mut s = String::new();
        render(&p, &mut s);
        s
    }

    fn m(pattern: &str, subject: &str) -> bool {
        compile(pattern).unwrap().is_match(subject)
    }

    use SegmentType::*;

    #[test]
    fn rendering() {
        assert_eq!(path(&[]), "");
        assert_eq!(path(&[(Sequence, &[1, 2, 3])]), "1 2 3");
        assert_eq!(path(&[(Sequence, &[1]), (Set, &[4, 5])]), "1 {4,5}");
        assert_eq!(
            path(&[(ConfedSequence, &[64512, 64513]), (Sequence, &[1])]),
            "(64512 64513) 1"
        );
        assert_eq!(path(&[(ConfedSet, &[7, 8])]), "[7,8]");
    }

    #[test]
    fn underscore_is_a_delimiter() {
        assert!(m("_65001_", "65001"));
        assert!(m("_65001_", "1 65001 2"));
        assert!(!m("_65001_", "165001 650011"));
        assert!(m("_65001_", "1 {65001,2}"));
        assert!(m("_65001_", "{2,65001}"));
        assert!(m("_64512_", "(64512 64513) 1"));
        assert!(m("_64513_", "[64512,64513]"));
        assert!(m("^65001_", "65001 2"));
        assert!(!m("^65001_", "2 65001"));
        assert!(m("_65001$", "2 65001"));
        assert!(m("_1_2_", "9 1 2 9"));
    }

    #[test]
    fn anchors_and_operators() {
        assert!(m("^$", ""));
        assert!(!m("^$", "1"));
        assert!(m("^[0-9]+$", "65001"));
        assert!(!m("^[0-9]+$", "65001 2"));
        assert!(m("^65001(_65001)*$", "65001 65001 65001"));
        assert!(!m("^65001(_65001)*$", "65001 65002"));
        assert!(m("^6500[0-9]_", "65007 1"));
        assert!(m("_6449[6-9]_|_645[0-1][0-9]_", "1 64510 2"));
        assert!(m("^65001 .* 65003$", "65001 9 9 65003"));
        assert!(m("^650.?1$", "65001"));
        assert!(m("^(65001|65002)$", "65002"));
        assert!(m(r"\{", "1 {2,3}"));
        assert!(m("^1( [0-9]+){2}$", "1 2 3"));
        assert!(m("[_]", "a_b") && !m("[_]", "1 2"));
        assert!(m("^[^ ]+$", "123"));
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert!(compile("(").is_err());
        assert!(compile("[1-").is_err());
        assert!(AsPathSet::new("x", &["^1$".into(), "(".into()]).is_err());
    }

    #[test]
    fn set_any_all() {
        let s = AsPathSet::new("x", &["^1_".into(), "_3$".into()]).unwrap();
        assert!(s.any("1 2"));
        assert!(!s.all("1 2"));
        assert!(s.all("1 2 3"));
        assert!(!s.any("2"));
        let e = AsPathSet::new("e", &[]).unwrap();
        assert!(!e.any("1") && e.all("1"));
    }
}
