//! Policy tests. Every configuration is OpenConfig JSON parsed and
//! validated by the models crate, so the tests also prove the YANG paths.

mod actions;
mod api;
mod chain;
mod conditions;
mod large;

use std::net::{IpAddr, Ipv4Addr};

use ocbgp_models::config::{Config, Encoding};

use super::{Chain, DefaultPolicy, Policies, RouteIn, Verdict};
use crate::config::Problem;
use crate::rib::{Attrs, Interner, PathAttrs, PeerInfo, SourceKind};
use crate::wire::{AsPath, Community, NextHop, Origin};

/// A routing-policy configuration under construction.
#[derive(Default, Clone)]
pub(super) struct Cfg {
    prefix: Vec<String>,
    neighbor: Vec<String>,
    tag: Vec<String>,
    community: Vec<String>,
    ext: Vec<String>,
    aspath: Vec<String>,
    large: Vec<String>,
    policies: Vec<String>,
}

fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("{i:?}"))
        .collect::<Vec<_>>()
        .join(",")
}

impl Cfg {
    pub(super) fn new() -> Cfg {
        Cfg::default()
    }

    pub(super) fn prefix_set(
        mut self,
        name: &str,
        mode: Option<&str>,
        entries: &[(&str, &str)],
    ) -> Cfg {
        let mode = mode.map(|m| format!(",\"mode\":{m:?}")).unwrap_or_default();
        let entries: Vec<String> = entries
            .iter()
            .map(|(p, r)| {
                format!(r#"{{"ip-prefix":{p:?},"masklength-range":{r:?},"config":{{"ip-prefix":{p:?},"masklength-range":{r:?}}}}}"#)
            })
            .collect();
        self.prefix.push(format!(
            r#"{{"name":{name:?},"config":{{"name":{name:?}{mode}}},"prefixes":{{"prefix":[{}]}}}}"#,
            entries.join(",")
        ));
        self
    }

    pub(super) fn neighbor_set(mut self, name: &str, addrs: &[&str]) -> Cfg {
        self.neighbor.push(format!(
            r#"{{"name":{name:?},"config":{{"name":{name:?},"address":[{}]}}}}"#,
            list(addrs)
        ));
        self
    }

    pub(super) fn tag_set(mut self, name: &str, tags: &[&str]) -> Cfg {
        // uint32 tags are JSON numbers; hex strings are strings.
        let tags: Vec<String> = tags
            .iter()
            .map(|t| {
                if t.parse::<u32>().is_ok() {
                    t.to_string()
                } else {
                    format!("{t:?}")
                }
            })
            .collect();
        self.tag.push(format!(
            r#"{{"name":{name:?},"config":{{"name":{name:?},"tag-value":[{}]}}}}"#,
            tags.join(",")
        ));
        self
    }

    pub(super) fn community_set(mut self, name: &str, members: &[&str]) -> Cfg {
        self.community.push(format!(
            r#"{{"community-set-name":{name:?},"config":{{"community-set-name":{name:?},"community-member":[{}]}}}}"#,
            list(members)
        ));
        self
    }

    /// A community set with the deprecated set-level match-set-options.
    pub(super) fn community_set_opt(mut self, name: &str, members: &[&str], opt: &str) -> Cfg {
        self.community.push(format!(
            r#"{{"community-set-name":{name:?},"config":{{"community-set-name":{name:?},"community-member":[{}],"match-set-options":{opt:?}}}}}"#,
            list(members)
        ));
        self
    }

    pub(super) fn ext_community_set(mut self, name: &str, members: &[&str]) -> Cfg {
        self.ext.push(format!(
            r#"{{"ext-community-set-name":{name:?},"config":{{"ext-community-set-name":{name:?},"ext-community-member":[{}]}}}}"#,
            list(members)
        ));
        self
    }

    pub(super) fn aspath_set(mut self, name: &str, members: &[&str]) -> Cfg {
        self.aspath.push(format!(
            r#"{{"as-path-set-name":{name:?},"config":{{"as-path-set-name":{name:?},"as-path-set-member":[{}]}}}}"#,
            list(members)
        ));
        self
    }

    pub(super) fn large_community_set(mut self, name: &str, members: &[&str]) -> Cfg {
        self.large.push(format!(
            r#"{{"large-community-set-name":{name:?},"config":{{"large-community-set-name":{name:?},"large-community-member":[{}]}}}}"#,
            list(members)
        ));
        self
    }

    /// A policy of `statements` (see [`stmt`]).
    pub(super) fn policy(mut self, name: &str, statements: &[String]) -> Cfg {
        self.policies.push(format!(
            r#"{{"name":{name:?},"config":{{"name":{name:?}}},"statements":{{"statement":[{}]}}}}"#,
            statements.join(",")
        ));
        self
    }

    pub(super) fn json(&self) -> String {
        format!(
            r#"{{"openconfig-routing-policy:routing-policy":{{
              "defined-sets":{{
                "prefix-sets":{{"prefix-set":[{}]}},
                "neighbor-sets":{{"neighbor-set":[{}]}},
                "tag-sets":{{"tag-set":[{}]}},
                "openconfig-bgp-policy:bgp-defined-sets":{{
                  "community-sets":{{"community-set":[{}]}},
                  "ext-community-sets":{{"ext-community-set":[{}]}},
                  "as-path-sets":{{"as-path-set":[{}]}},
                  "ocbgp:large-community-sets":{{"large-community-set":[{}]}}}}}},
              "policy-definitions":{{"policy-definition":[{}]}}}}}}"#,
            self.prefix.join(","),
            self.neighbor.join(","),
            self.tag.join(","),
            self.community.join(","),
            self.ext.join(","),
            self.aspath.join(","),
            self.large.join(","),
            self.policies.join(",")
        )
    }

    pub(super) fn config(&self) -> Config {
        let text = self.json();
        Config::parse(&text, Encoding::Json)
            .unwrap_or_else(|e| panic!("invalid config: {e:?}\n{text}"))
    }

    pub(super) fn try_compile(&self) -> Result<Policies, Problem> {
        Policies::compile(self.config().tree())
    }

    pub(super) fn compile(&self) -> Policies {
        self.try_compile()
            .unwrap_or_else(|e| panic!("compile: {e}"))
    }

    /// The chain of `names` with `default`.
    pub(super) fn chain(&self, names: &[&str], default: DefaultPolicy) -> Chain {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        self.compile().chain(&names, default).unwrap()
    }
}

/// A statement: `conditions` and `actions` are the bodies (without
/// braces) of the conditions and actions containers; either may be empty.
pub(super) fn stmt(name: &str, conditions: &str, actions: &str) -> String {
    format!(
        r#"{{"name":{name:?},"config":{{"name":{name:?}}},"conditions":{{{conditions}}},"actions":{{{actions}}}}}"#
    )
}

/// Body of actions with a policy-result (plus `more` fields).
pub(super) fn result(r: &str) -> String {
    format!(r#""config":{{"policy-result":{r:?}}}"#)
}

/// `"openconfig-bgp-policy:bgp-conditions": {body}`.
pub(super) fn bgpc(body: &str) -> String {
    format!(r#""openconfig-bgp-policy:bgp-conditions":{{{body}}}"#)
}

/// `"openconfig-bgp-policy:bgp-actions": {body}`.
pub(super) fn bgpa(body: &str) -> String {
    format!(r#""openconfig-bgp-policy:bgp-actions":{{{body}}}"#)
}

/// Joins JSON members.
pub(super) fn and(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn peer(kind: SourceKind, addr: &str, asn: u32) -> PeerInfo {
    PeerInfo {
        router_id: Ipv4Addr::new(192, 0, 2, 9),
        ..PeerInfo::peer(kind, addr.parse().unwrap(), asn, 64512)
    }
}

pub(super) fn ebgp() -> PeerInfo {
    peer(SourceKind::External, "192.0.2.1", 65001)
}

/// A test bench: an interner and a default route.
pub(super) struct Bench {
    pub(super) interner: Interner,
    pub(super) source: PeerInfo,
    pub(super) target: Option<PeerInfo>,
    pub(super) prefix: ipnet::IpNet,
}

impl Bench {
    pub(super) fn new() -> Bench {
        Bench {
            interner: Interner::default(),
            source: ebgp(),
            target: None,
            prefix: "10.1.0.0/16".parse().unwrap(),
        }
    }

    /// Interned attributes: origin IGP, path `65001 65002`, next hop
    /// 192.0.2.1, changed by `f`.
    pub(super) fn attrs(&mut self, f: impl FnOnce(&mut PathAttrs)) -> Attrs {
        let mut a = PathAttrs::default();
        a.attrs.origin = Some(Origin::Igp);
        a.attrs.as_path = Some(AsPath::from_sequence([65001, 65002]));
        a.next_hop = Some(NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)));
        f(&mut a);
        self.interner.intern(a)
    }

    pub(super) fn run_on(&mut self, chain: &Chain, prefix: &str, attrs: &Attrs) -> Verdict {
        let route = RouteIn {
            prefix: prefix.parse().unwrap(),
            attrs,
            source: &self.source,
            target: self.target.as_ref(),
            local_asn: 65000,
            vrps: None,
        };
        chain.evaluate(&route, &mut self.interner)
    }

    /// Evaluates the default prefix with attributes changed by `f`.
    pub(super) fn run(&mut self, chain: &Chain, f: impl FnOnce(&mut PathAttrs)) -> Verdict {
        let a = self.attrs(f);
        let p = self.prefix.to_string();
        self.run_on(chain, &p, &a)
    }

    /// Whether the default route with `f` applied is accepted.
    pub(super) fn accepts(&mut self, chain: &Chain, f: impl FnOnce(&mut PathAttrs)) -> bool {
        self.run(chain, f).is_accept()
    }

    /// The attributes the chain accepts the default route with.
    pub(super) fn out(&mut self, chain: &Chain, f: impl FnOnce(&mut PathAttrs)) -> Attrs {
        match self.run(chain, f) {
            Verdict::Accept(a) => a,
            Verdict::Reject => panic!("rejected"),
        }
    }
}

/// A one-policy chain "p" whose single statement has `conditions` and
/// accepts; default reject. So: accepted iff the conditions hold.
pub(super) fn matcher(cfg: Cfg, conditions: &str) -> Chain {
    cfg.policy("p", &[stmt("s", conditions, &result("ACCEPT_ROUTE"))])
        .chain(&["p"], DefaultPolicy::Reject)
}

/// A one-policy chain applying `actions` and accepting every route.
pub(super) fn actor(cfg: Cfg, actions: &str) -> Chain {
    let body = and(&[&result("ACCEPT_ROUTE"), actions]);
    cfg.policy("p", &[stmt("s", "", &body)])
        .chain(&["p"], DefaultPolicy::Reject)
}

pub(super) fn c(asn: u16, v: u16) -> Community {
    Community::new(asn, v)
}

pub(super) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}
