//! ietf-yang-library (RFC 8525): the `yang-library` data of get and the
//! content-id announced in the hello, written as XML (the module is not
//! part of the daemon's schema).

use std::fmt::Write as _;
use std::sync::OnceLock;

use ocbgp_models::schema;

use crate::xml::escape;

/// ietf-yang-library's namespace.
pub const YANG_LIBRARY_NS: &str = "urn:ietf:params:xml:ns:yang:ietf-yang-library";
/// The name of the one module set (and schema) served.
pub const MODULE_SET: &str = "ocbgp";

/// The content-id of the embedded module set: an FNV-1a 64-bit hash of
/// every embedded module's and submodule's name, revision and parent,
/// in hex. Stable across runs and builds of the same module set.
pub fn content_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |s: &str| {
            for b in s.bytes().chain([0u8]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        for m in schema::MODULES {
            feed(m.name);
            feed(m.revision.unwrap_or(""));
            feed(m.belongs_to.unwrap_or(""));
        }
        format!("{h:016x}")
    })
}

/// The yang-library:1.1 capability (RFC 8525 section 5), with the
/// content-id.
pub fn capability() -> String {
    format!(
        "urn:ietf:params:netconf:capability:yang-library:1.1?revision=2019-01-04&content-id={}",
        content_id()
    )
}

/// The `yang-library` element: one module set holding every embedded
/// module (with its submodules), one schema of it, and the content-id.
pub fn yang_library() -> String {
    let mut out =
        format!("<yang-library xmlns=\"{YANG_LIBRARY_NS}\"><module-set><name>{MODULE_SET}</name>");
    for m in schema::modules() {
        let _ = write!(out, "<module><name>{}</name>", escape(m.name));
        if let Some(rev) = m.revision {
            let _ = write!(out, "<revision>{}</revision>", escape(rev));
        }
        if let Some(ns) = m.namespace {
            let _ = write!(out, "<namespace>{}</namespace>", escape(ns));
        }
        for s in schema::MODULES
            .iter()
            .filter(|s| s.belongs_to == Some(m.name))
        {
            let _ = write!(out, "<submodule><name>{}</name>", escape(s.name));
            if let Some(rev) = s.revision {
                let _ = write!(out, "<revision>{}</revision>", escape(rev));
            }
            out.push_str("</submodule>");
        }
        // RFC 8525: the modules whose deviations apply to this one.
        for d in schema::deviated_by(m.name) {
            let _ = write!(out, "<deviation>{}</deviation>", escape(d));
        }
        out.push_str("</module>");
    }
    let _ = write!(
        out,
        "</module-set><schema><name>{MODULE_SET}</name><module-set>{MODULE_SET}</module-set></schema>\
         <content-id>{}</content-id></yang-library>",
        content_id()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_modules_and_submodules() {
        let yl = yang_library();
        assert!(
            yl.contains("<module><name>openconfig-bgp</name><revision>"),
            "{yl}"
        );
        assert!(yl.contains(&format!("<content-id>{}</content-id>", content_id())));
        for m in schema::MODULES {
            assert!(
                yl.contains(&format!("<name>{}</name>", m.name)),
                "{}",
                m.name
            );
        }
        assert!(
            yl.contains("<deviation>ocbgp-deviations</deviation>"),
            "deviated modules name their deviation module: {yl}"
        );
        assert_eq!(content_id().len(), 16);
        assert!(capability().ends_with(content_id()));
        crate::xml::parse(&yl).unwrap();
    }
}
