//! The capabilities announced in the server's hello.

use ocbgp_models::schema;

/// base:1.0 (end-of-message framing).
pub const BASE_1_0: &str = "urn:ietf:params:netconf:base:1.0";
/// base:1.1 (chunked framing).
pub const BASE_1_1: &str = "urn:ietf:params:netconf:base:1.1";

/// The protocol capabilities, before the modules.
pub const PROTOCOL: &[&str] = &[
    BASE_1_0,
    BASE_1_1,
    "urn:ietf:params:netconf:capability:writable-running:1.0",
    "urn:ietf:params:netconf:capability:candidate:1.0",
    "urn:ietf:params:netconf:capability:confirmed-commit:1.1",
    "urn:ietf:params:netconf:capability:rollback-on-error:1.0",
    "urn:ietf:params:netconf:capability:validate:1.1",
    "urn:ietf:params:netconf:capability:xpath:1.0",
    "urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=explicit&also-supported=report-all,trim",
    "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring?module=ietf-netconf-monitoring&revision=2010-10-04",
];

/// Every capability the server announces: the protocol ones, yang-library
/// 1.1 (RFC 8525) with the module set's content-id, then one module
/// capability (RFC 6020 5.6.4 form) per embedded YANG module.
pub fn server_capabilities() -> Vec<String> {
    let mut caps: Vec<String> = PROTOCOL.iter().map(|c| c.to_string()).collect();
    caps.push(crate::yang_library::capability());
    for m in schema::modules() {
        let Some(ns) = m.namespace else { continue };
        let mut cap = format!("{ns}?module={}", m.name);
        if let Some(rev) = m.revision {
            cap.push_str("&revision=");
            cap.push_str(rev);
        }
        // RFC 6020 5.6.4: the deviation modules that apply to it.
        let deviations = schema::deviated_by(m.name);
        if !deviations.is_empty() {
            cap.push_str("&deviations=");
            cap.push_str(&deviations.join(","));
        }
        caps.push(cap);
    }
    caps
}
