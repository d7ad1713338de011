//! ietf-netconf-monitoring (RFC 6022): the `netconf-state` data of get,
//! written as XML (the module is not part of the daemon's schema).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use ocbgp_models::datastore::{date_and_time, Target};
use ocbgp_models::schema;

use crate::capabilities::server_capabilities;
use crate::shared::Shared;
use crate::xml::{escape, MONITORING_NS};

/// The `netconf-state` element.
pub fn netconf_state(shared: &Shared) -> String {
    let mut out = format!("<netconf-state xmlns=\"{MONITORING_NS}\">");
    out.push_str("<capabilities>");
    for c in server_capabilities() {
        let _ = write!(out, "<capability>{}</capability>", escape(&c));
    }
    out.push_str("</capabilities><datastores>");
    for (name, target) in [
        ("running", Target::Running),
        ("candidate", Target::Candidate),
    ] {
        let _ = write!(out, "<datastore><name>{name}</name>");
        if let Some((session, since)) = shared.lock_holder(target) {
            let _ = write!(
                out,
                "<locks><global-lock><locked-by-session>{}</locked-by-session>\
                 <locked-time>{}</locked-time></global-lock></locks>",
                session.0,
                date_and_time(since)
            );
        }
        out.push_str("</datastore>");
    }
    out.push_str("</datastores><schemas>");
    for m in schema::MODULES {
        let Some(ns) = m.namespace.or_else(|| {
            m.belongs_to
                .and_then(schema::module)
                .and_then(|p| p.namespace)
        }) else {
            continue;
        };
        let _ = write!(
            out,
            "<schema><identifier>{}</identifier><version>{}</version><format>yang</format>\
             <namespace>{}</namespace><location>NETCONF</location></schema>",
            escape(m.name),
            escape(m.revision.unwrap_or("")),
            escape(ns)
        );
    }
    out.push_str("</schemas><sessions>");
    for s in shared.session_list() {
        let _ = write!(
            out,
            "<session><session-id>{}</session-id><transport>netconf-ssh</transport>\
             <username>{}</username>",
            s.id.0,
            escape(&s.user)
        );
        if let Some(ip) = s.source {
            let _ = write!(out, "<source-host>{ip}</source-host>");
        }
        let _ = write!(
            out,
            "<login-time>{}</login-time><in-rpcs>{}</in-rpcs><in-bad-rpcs>{}</in-bad-rpcs>\
             <out-rpc-errors>{}</out-rpc-errors><out-notifications>0</out-notifications></session>",
            date_and_time(s.login),
            s.in_rpcs.load(Ordering::Relaxed),
            s.in_bad_rpcs.load(Ordering::Relaxed),
            s.out_rpc_errors.load(Ordering::Relaxed)
        );
    }
    let st = &shared.stats;
    let _ = write!(
        out,
        "</sessions><statistics><netconf-start-time>{}</netconf-start-time>\
         <in-bad-hellos>{}</in-bad-hellos><in-sessions>{}</in-sessions>\
         <dropped-sessions>{}</dropped-sessions><in-rpcs>{}</in-rpcs><in-bad-rpcs>{}</in-bad-rpcs>\
         <out-rpc-errors>{}</out-rpc-errors><out-notifications>0</out-notifications></statistics>",
        date_and_time(shared.started),
        st.in_bad_hellos.load(Ordering::Relaxed),
        st.in_sessions.load(Ordering::Relaxed),
        st.dropped_sessions.load(Ordering::Relaxed),
        st.in_rpcs.load(Ordering::Relaxed),
        st.in_bad_rpcs.load(Ordering::Relaxed),
        st.out_rpc_errors.load(Ordering::Relaxed)
    );
    out.push_str("</netconf-state>");
    out
}
