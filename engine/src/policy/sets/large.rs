//! Large community sets (RFC 8092), `ocbgp:large-community-sets`.
//!
//! Members are `GLOBAL:LOCAL1:LOCAL2` (three 32-bit decimal numbers), or
//! else a regular expression searched for (unanchored) in each of the
//! route's large communities written the same way; anchor it with `^` and
//! `$`.

use regex::Regex;

use super::aspath::push_u32;
use super::community::{compile_regexes, parse_large};
use super::{digest_hash, next_id};
use crate::wire::LargeCommunity;

/// Writes a large community as `A:B:C` into `out` (cleared first).
pub fn write_large(l: &LargeCommunity, out: &mut String) {
    out.clear();
    push_u32(out, l.global_admin);
    out.push(':');
    push_u32(out, l.local_data1);
    out.push(':');
    push_u32(out, l.local_data2);
}

/// Three groups of digits separated by colons (a large community whose
/// parts may be out of range).
fn looks_large(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// A compiled large community set.
#[derive(Debug)]
pub struct LargeCommunitySet {
    pub(crate) name: String,
    pub(crate) id: u64,
    /// Literal members, sorted.
    pub(crate) literal: Vec<LargeCommunity>,
    regexes: Vec<Regex>,
    regex_set: Option<Regex>,
    pub(crate) fingerprint: u64,
}

impl LargeCommunitySet {
    /// A set of `members` (text as configured). Errors name the bad member.
    pub fn new(name: &str, members: &[String]) -> Result<LargeCommunitySet, String> {
        let mut literal = Vec::new();
        let mut regex_texts = Vec::new();
        for m in members {
            match parse_large(m) {
                Some(l) => literal.push(l),
                None if looks_large(m) => {
                    return Err(format!(
                        "{m:?}: a large community's parts are at most 4294967295"
                    ))
                }
                None => regex_texts.push(m.clone()),
            }
        }
        Self::build(name, literal, regex_texts)
    }

    pub(crate) fn build(
        name: &str,
        mut literal: Vec<LargeCommunity>,
        regex_texts: Vec<String>,
    ) -> Result<LargeCommunitySet, String> {
        literal.sort_unstable();
        literal.dedup();
        let (regexes, regex_set) = compile_regexes(&regex_texts)?;
        let fingerprint = digest_hash(&(&literal, &regex_texts));
        Ok(LargeCommunitySet {
            name: name.to_string(),
            id: next_id(),
            literal,
            regexes,
            regex_set,
            fingerprint,
        })
    }

    /// The set's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the set has regular-expression members.
    pub fn has_regexes(&self) -> bool {
        !self.regexes.is_empty()
    }

    /// Whether one large community matches some member.
    pub fn matches(&self, l: &LargeCommunity, scratch: &mut String) -> bool {
        if self.literal.binary_search(l).is_ok() {
            return true;
        }
        match &self.regex_set {
            None => false,
            Some(set) => {
                write_large(l, scratch);
                set.is_match(scratch)
            }
        }
    }

    /// ANY: some large community of the route matches some member.
    pub fn any(&self, route: &[LargeCommunity], scratch: &mut String) -> bool {
        route.iter().any(|l| self.matches(l, scratch))
    }

    /// ALL: every member matches some large community of the route (an
    /// empty set matches every route).
    pub fn all(&self, route: &[LargeCommunity], scratch: &mut String) -> bool {
        self.literal.iter().all(|l| route.contains(l))
            && self.regexes.iter().all(|re| {
                route.iter().any(|l| {
                    write_large(l, scratch);
                    re.is_match(scratch)
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(a: u32, b: u32, c: u32) -> LargeCommunity {
        LargeCommunity {
            global_admin: a,
            local_data1: b,
            local_data2: c,
        }
    }

    #[test]
    fn literal_and_regex_members() {
        let s = LargeCommunitySet::new("s", &["65000:1:2".into(), "^4200000000:7:[0-9]+$".into()])
            .unwrap();
        assert_eq!(s.literal, vec![l(65000, 1, 2)]);
        assert!(s.has_regexes());
        let mut sc = String::new();
        assert!(s.any(&[l(65000, 1, 2)], &mut sc));
        assert!(s.any(&[l(1, 1, 1), l(4_200_000_000, 7, 99)], &mut sc));
        assert!(!s.any(&[l(4_200_000_000, 8, 99), l(65000, 1, 3)], &mut sc));
        assert!(!s.all(&[l(65000, 1, 2)], &mut sc));
        assert!(s.all(&[l(65000, 1, 2), l(4_200_000_000, 7, 0)], &mut sc));
        assert!(!s.any(&[], &mut sc));
        assert!(LargeCommunitySet::new("e", &[]).unwrap().all(&[], &mut sc));
    }

    #[test]
    fn text_form_and_errors() {
        let mut sc = String::new();
        write_large(&l(4_294_967_295, 0, 12), &mut sc);
        assert_eq!(sc, "4294967295:0:12");
        let e = LargeCommunitySet::new("s", &["4294967296:1:1".into()]).unwrap_err();
        assert!(e.contains("4294967295"), "{e}");
        let e = LargeCommunitySet::new("s", &["(".into()]).unwrap_err();
        assert!(e.contains("regular expression"), "{e}");
    }
}
