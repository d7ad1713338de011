//! Compiling statement actions.

use std::net::IpAddr;
use std::sync::Arc;

use ocbgp_models::gen::config as cfg;
use ocbgp_models::gen::types::{
    BgpSetCommunityOptionType, BgpSetMedAction, LargeCommunityMethodType, Method, SetTagMode,
};

use super::super::actions::{Action, MedOp, NextHopAction, PrependAs, SetOp};
use super::super::sets::community::{
    parse_ext, parse_large, parse_std, well_known, CommunitySet, ExtCommunitySet,
};
use super::super::sets::large::LargeCommunitySet;
use super::super::sets::Tag;
use super::policy::{origin, Compiler};
use super::{problem, Item};
use crate::config::Problem;
use crate::wire::NextHop;

impl Compiler<'_> {
    pub(super) fn bgp_actions(
        &self,
        at: &str,
        b: &cfg::BgpActions,
        uses: &mut Vec<Item>,
    ) -> Result<Vec<Action>, Problem> {
        let mut out = Vec::new();
        let c = &b.config;
        let leaf = |l: &str| format!("{at}/config/{l}");
        if let Some(o) = c.set_route_origin {
            out.push(Action::Origin(origin(o)));
        }
        if let Some(v) = c.set_local_pref {
            out.push(Action::LocalPref(v));
        }
        if let Some(text) = &c.set_med {
            let v: u32 = match text.parse() {
                Ok(v) => v,
                Err(_) if text == "IGP" => {
                    return Err(problem(
                        leaf("set-med"),
                        "set-med IGP is not supported: ocbgp has no IGP metric",
                    ))
                }
                Err(_) => {
                    return Err(problem(
                        leaf("set-med"),
                        format!("{text:?} is not a MED value"),
                    ))
                }
            };
            out.push(Action::Med(match c.set_med_action {
                Some(BgpSetMedAction::Set) => MedOp::Set(v),
                Some(BgpSetMedAction::Add) => MedOp::Add(v),
                Some(BgpSetMedAction::Subtract) => MedOp::Subtract(v),
                None => {
                    return Err(problem(
                        leaf("set-med-action"),
                        "set-med needs set-med-action",
                    ))
                }
            }));
        }
        if let Some(text) = &c.set_next_hop {
            out.push(Action::NextHop(match text.as_str() {
                "SELF" => NextHopAction::SelfMarker,
                "PEER_ADDRESS" => NextHopAction::Peer,
                t => match t.parse::<IpAddr>() {
                    Ok(IpAddr::V4(a)) => NextHopAction::Addr(NextHop::V4(a)),
                    Ok(IpAddr::V6(a)) => NextHopAction::Addr(NextHop::V6 {
                        global: a,
                        link_local: None,
                    }),
                    Err(_) => {
                        return Err(problem(
                            leaf("set-next-hop"),
                            format!("{t:?} is not a next hop"),
                        ))
                    }
                },
            }));
        }
        if c.set_aigp.is_some() {
            return Err(problem(
                leaf("set-aigp"),
                "set-aigp is not supported: ocbgp does not carry AIGP",
            ));
        }
        let pp = &b.set_as_path_prepend.config;
        if pp.repeat_n.is_some() || pp.asn.is_some() || pp.use_last_as.is_some() {
            let asn = match (pp.asn, pp.use_last_as) {
                (Some(_), Some(true)) => {
                    return Err(problem(
                        format!("{at}/set-as-path-prepend/config"),
                        "asn and use-last-as exclude each other",
                    ))
                }
                (Some(a), _) => PrependAs::Asn(a),
                (None, Some(true)) => PrependAs::Last,
                (None, _) => PrependAs::Local,
            };
            out.push(Action::Prepend {
                asn,
                times: pp.repeat_n.unwrap_or(1).max(1),
            });
        }
        if let Some(a) =
            self.set_community(&format!("{at}/set-community"), &b.set_community, uses)?
        {
            out.push(a);
        }
        if let Some(a) = self.set_ext_community(
            &format!("{at}/set-ext-community"),
            &b.set_ext_community,
            uses,
        )? {
            out.push(a);
        }
        let lat = format!("{at}/ocbgp:set-large-community");
        if let Some(a) = self.set_large_community(&lat, &b.set_large_community, uses)? {
            out.push(a);
        }
        Ok(out)
    }

    fn set_community(
        &self,
        at: &str,
        s: &cfg::SetCommunity,
        uses: &mut Vec<Item>,
    ) -> Result<Option<Action>, Problem> {
        let Some(op) = set_op(at, s.config.method, s.config.options)? else {
            return Ok(None);
        };
        let sets = match s.config.method {
            Some(Method::Inline) => {
                let list = s
                    .inline
                    .as_ref()
                    .map(|i| i.config.communities.as_slice())
                    .unwrap_or_default();
                let std = list
                    .iter()
                    .map(|t| {
                        parse_std(t).ok_or_else(|| {
                            problem(
                                format!("{at}/inline/config/communities"),
                                format!("{t:?} is not a community"),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let set = CommunitySet::build("inline", std, Vec::new(), false)
                    .map_err(|e| problem(format!("{at}/inline"), e))?;
                vec![Arc::new(set)]
            }
            _ => {
                let r = s.reference.as_ref().map(|r| &r.config);
                let names = r.map(|r| {
                    r.community_set_refs
                        .iter()
                        .chain(&r.community_set_ref)
                        .collect::<Vec<_>>()
                });
                let mut sets = Vec::new();
                for n in names.unwrap_or_default() {
                    let set = self.lookup(
                        &self.sets.community_sets,
                        Item::CommunitySet(n.clone()),
                        at,
                        "reference/config/community-set-refs",
                        uses,
                    )?;
                    if op != SetOp::Remove && set.has_regexes() {
                        return Err(problem(
                            format!("{at}/reference/config/community-set-refs"),
                            format!("community set {n:?} has regular expressions, which ADD and REPLACE cannot use"),
                        ));
                    }
                    sets.push(set);
                }
                sets
            }
        };
        Ok(Some(Action::Community(op, sets)))
    }

    fn set_ext_community(
        &self,
        at: &str,
        s: &cfg::SetExtCommunity,
        uses: &mut Vec<Item>,
    ) -> Result<Option<Action>, Problem> {
        let Some(op) = set_op(at, s.config.method, s.config.options)? else {
            return Ok(None);
        };
        let sets = match s.config.method {
            Some(Method::Inline) => {
                let list = s
                    .inline
                    .as_ref()
                    .map(|i| i.config.communities.as_slice())
                    .unwrap_or_default();
                let mut lit = Vec::new();
                for t in list {
                    let why = if well_known(t).is_some() {
                        format!("{t} is a standard community, not an extended one")
                    } else {
                        format!("{t:?} is not an extended community")
                    };
                    lit.push(
                        parse_ext(t).ok_or_else(|| {
                            problem(format!("{at}/inline/config/communities"), why)
                        })?,
                    );
                }
                let set = ExtCommunitySet::build("inline", lit, Vec::new(), false)
                    .map_err(|e| problem(format!("{at}/inline"), e))?;
                vec![Arc::new(set)]
            }
            _ => {
                let r = s.reference.as_ref().map(|r| &r.config);
                let names = r.map(|r| {
                    r.ext_community_set_refs
                        .iter()
                        .chain(&r.ext_community_set_ref)
                        .collect::<Vec<_>>()
                });
                let mut sets = Vec::new();
                for n in names.unwrap_or_default() {
                    let set = self.lookup(
                        &self.sets.ext_community_sets,
                        Item::ExtCommunitySet(n.clone()),
                        at,
                        "reference/config/ext-community-set-refs",
                        uses,
                    )?;
                    if op != SetOp::Remove && set.has_regexes() {
                        return Err(problem(
                            format!("{at}/reference/config/ext-community-set-refs"),
                            format!(
                                "ext-community set {n:?} has regular expressions, which ADD and REPLACE cannot use"
                            ),
                        ));
                    }
                    sets.push(set);
                }
                sets
            }
        };
        Ok(Some(Action::ExtCommunity(op, sets)))
    }

    fn set_large_community(
        &self,
        at: &str,
        s: &cfg::SetLargeCommunity,
        uses: &mut Vec<Item>,
    ) -> Result<Option<Action>, Problem> {
        let method = s.config.method.map(|m| match m {
            LargeCommunityMethodType::Inline => Method::Inline,
            LargeCommunityMethodType::Reference => Method::Reference,
        });
        let Some(op) = set_op(at, method, s.config.options)? else {
            return Ok(None);
        };
        let sets = match method {
            Some(Method::Inline) => {
                let list = s
                    .inline
                    .as_ref()
                    .map(|i| i.config.communities.as_slice())
                    .unwrap_or_default();
                let lit = list
                    .iter()
                    .map(|t| {
                        parse_large(t).ok_or_else(|| {
                            problem(
                                format!("{at}/inline/config/communities"),
                                format!(
                                    "{t:?} is not a large community (parts at most 4294967295)"
                                ),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let set = LargeCommunitySet::build("inline", lit, Vec::new())
                    .map_err(|e| problem(format!("{at}/inline"), e))?;
                vec![Arc::new(set)]
            }
            _ => {
                let names = s
                    .reference
                    .as_ref()
                    .map(|r| r.config.large_community_set_refs.as_slice())
                    .unwrap_or_default();
                let mut sets = Vec::new();
                for n in names {
                    let set = self.lookup(
                        &self.sets.large_community_sets,
                        Item::LargeCommunitySet(n.clone()),
                        at,
                        "reference/config/large-community-set-refs",
                        uses,
                    )?;
                    if op != SetOp::Remove && set.has_regexes() {
                        return Err(problem(
                            format!("{at}/reference/config/large-community-set-refs"),
                            format!(
                                "large-community set {n:?} has regular expressions, which ADD and REPLACE cannot use"
                            ),
                        ));
                    }
                    sets.push(set);
                }
                sets
            }
        };
        Ok(Some(Action::LargeCommunity(op, sets)))
    }

    pub(super) fn set_tag(
        &self,
        at: &str,
        s: &cfg::SetTag,
        uses: &mut Vec<Item>,
    ) -> Result<Option<Vec<Tag>>, Problem> {
        match s.config.mode {
            None => Ok(None),
            Some(SetTagMode::Inline) => {
                let list = s
                    .inline
                    .as_ref()
                    .map(|i| i.config.tag.as_slice())
                    .unwrap_or_default();
                let tags = list
                    .iter()
                    .map(|t| {
                        Tag::parse(t).ok_or_else(|| {
                            problem(
                                format!("{at}/inline/config/tag"),
                                format!("{t:?} is not a tag"),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Some(tags))
            }
            Some(SetTagMode::Reference) => {
                let Some(n) = s.reference.as_ref().and_then(|r| r.config.tag_set.clone()) else {
                    return Ok(Some(Vec::new()));
                };
                let set = self.lookup(
                    &self.sets.tag_sets,
                    Item::TagSet(n),
                    at,
                    "reference/config/tag-set",
                    uses,
                )?;
                Ok(Some(set.tags.clone()))
            }
        }
    }
}

/// The operation of a set-community style action; `None` when the action
/// is not configured.
fn set_op(
    at: &str,
    method: Option<Method>,
    options: Option<BgpSetCommunityOptionType>,
) -> Result<Option<SetOp>, Problem> {
    match (method, options) {
        (None, None) => Ok(None),
        (Some(_), Some(o)) => Ok(Some(match o {
            BgpSetCommunityOptionType::Add => SetOp::Add,
            BgpSetCommunityOptionType::Remove => SetOp::Remove,
            BgpSetCommunityOptionType::Replace => SetOp::Replace,
        })),
        (None, Some(_)) => Err(problem(
            format!("{at}/config/method"),
            "options needs a method (INLINE or REFERENCE)",
        )),
        (Some(_), None) => Err(problem(
            format!("{at}/config/options"),
            "method needs options (ADD, REMOVE or REPLACE)",
        )),
    }
}
