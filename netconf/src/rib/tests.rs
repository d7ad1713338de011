//! The direct writer against the element tree it replaces: the same
//! text for entries with tricky values and filters that select all, one
//! or part of the routes.

use std::sync::Arc;

use ocbgp_models::datastore::{Scalar, StreamElem, StreamEntry, StreamNode};

use super::*;
use crate::filter::Filter;
use crate::xml;

const BT: &str = "http://openconfig.net/yang/bgp-types";

fn rib_path() -> Vec<StreamElem> {
    vec![
        StreamElem::node("network-instances"),
        StreamElem::entry("network-instance", &[("name", "DEFAULT".into())]),
        StreamElem::node("protocols"),
        StreamElem::entry(
            "protocol",
            &[("identifier", "BGP".into()), ("name", "BGP".into())],
        ),
        StreamElem::node("bgp"),
        StreamElem::node("rib"),
    ]
}

fn with(base: &[StreamElem], more: &[StreamElem]) -> Vec<StreamElem> {
    base.iter().chain(more).cloned().collect()
}

fn family() -> Vec<StreamElem> {
    with(
        &rib_path(),
        &[
            StreamElem::node("afi-safis"),
            StreamElem::entry("afi-safi", &[("afi-safi-name", "IPV4_UNICAST".into())]),
        ],
    )
}

fn route(prefix: &str, origin: Scalar, extra: Vec<StreamNode>) -> Vec<StreamNode> {
    let mut state = vec![
        StreamNode::Leaf("prefix", Scalar::Str(prefix.into())),
        StreamNode::Leaf("origin", origin.clone()),
        StreamNode::Leaf("path-id", Scalar::U32(0)),
        StreamNode::Leaf("attr-index", Scalar::U64(u64::MAX)),
        StreamNode::Leaf("valid-route", Scalar::Bool(true)),
    ];
    state.extend(extra);
    vec![
        StreamNode::Leaf("prefix", Scalar::Str(prefix.into())),
        StreamNode::Leaf("origin", origin),
        StreamNode::Leaf("path-id", Scalar::U32(0)),
        StreamNode::Container("state", state),
    ]
}

/// A table in document order: the family entry, Loc-RIB routes (one
/// local with an identity origin, values to escape, leaves of another
/// module), a neighbor's Adj-RIB-In, then a set with lists.
fn entries() -> Vec<StreamEntry> {
    let af = family();
    let name = StreamNode::Leaf(
        "afi-safi-name",
        Scalar::Identity("openconfig-bgp-types:IPV4_UNICAST".into()),
    );
    let loc: Arc<[StreamElem]> = with(
        &af,
        &[
            StreamElem::node("ipv4-unicast"),
            StreamElem::node("loc-rib"),
            StreamElem::node("routes"),
        ],
    )
    .into();
    let loc_route = |children: Vec<StreamNode>| StreamEntry {
        parent: loc.clone(),
        elem: StreamElem {
            name: "route".into(),
            keys: ocbgp_models::datastore::entry_keys(&["prefix", "origin", "path-id"], &children),
        },
        children,
    };
    let nbr = with(
        &af,
        &[
            StreamElem::node("ipv4-unicast"),
            StreamElem::node("neighbors"),
            StreamElem::entry("neighbor", &[("neighbor-address", "192.0.2.2".into())]),
        ],
    );
    let adj: Arc<[StreamElem]> = with(
        &nbr,
        &[
            StreamElem::node("adj-rib-in-pre"),
            StreamElem::node("routes"),
        ],
    )
    .into();
    let addr = StreamNode::Leaf("neighbor-address", Scalar::Str("192.0.2.2".into()));
    let mut out = vec![StreamEntry::at(
        af.clone(),
        vec![name.clone(), StreamNode::Container("state", vec![name])],
    )];
    out.push(loc_route(route(
        "10.0.0.0/8",
        Scalar::Identity("openconfig-policy-types:STATIC".into()),
        vec![StreamNode::Leaf("ocbgp:stale", Scalar::Bool(true))],
    )));
    out.push(loc_route(route(
        "192.0.2.0/24",
        Scalar::Str("192.0.2.2".into()),
        vec![StreamNode::Leaf(
            "ocbgp:rpki-validation",
            Scalar::Str("<&'\"> x".into()),
        )],
    )));
    out.push(loc_route(route(
        "198.51.100.0/24",
        Scalar::Str("192.0.2.2".into()),
        vec![],
    )));
    out.push(StreamEntry::at(
        nbr,
        vec![addr.clone(), StreamNode::Container("state", vec![addr])],
    ));
    out.push(StreamEntry {
        parent: adj.clone(),
        elem: StreamElem {
            name: "route".into(),
            keys: vec![
                ("prefix".into(), "192.0.2.0/24".into()),
                ("path-id".into(), "0".into()),
            ],
        },
        children: vec![
            StreamNode::Leaf("prefix", Scalar::Str("192.0.2.0/24".into())),
            StreamNode::Leaf("path-id", Scalar::U32(0)),
        ],
    });
    out.push(StreamEntry::at(
        with(
            &rib_path(),
            &[
                StreamElem::node("attr-sets"),
                StreamElem::entry("attr-set", &[("index", "7".into())]),
            ],
        ),
        vec![
            StreamNode::Leaf("index", Scalar::U64(7)),
            StreamNode::Container(
                "state",
                vec![
                    StreamNode::Leaf("index", Scalar::U64(7)),
                    StreamNode::Leaf(
                        "origin",
                        Scalar::Identity("openconfig-bgp-types:IGP".into()),
                    ),
                    StreamNode::LeafList(
                        "cluster-list",
                        vec![Scalar::Str("1.1.1.1".into()), Scalar::Str("2.2.2.2".into())],
                    ),
                    StreamNode::Leaf("aggregator-address", Scalar::Binary("AAE=".into())),
                ],
            ),
            StreamNode::Container(
                "as-path",
                vec![StreamNode::List(
                    "as-segment",
                    &["index"],
                    vec![
                        vec![StreamNode::Leaf("index", Scalar::U32(0))],
                        vec![StreamNode::Leaf("index", Scalar::U32(1))],
                    ],
                )],
            ),
            StreamNode::Container("empty", vec![]),
        ],
    ));
    out
}

/// The reply's RIB part for `filter` (inside `bgp`): with the plans, and
/// with every entry through the filter as a tree (the former writer).
fn written(filter: &str) -> (String, String) {
    let f = xml::parse(&format!(
        "<filter xmlns:bt=\"{BT}\"><network-instances xmlns=\"{NI_NS}\"><network-instance>\
         <name>DEFAULT</name><protocols><protocol><bgp>{filter}</bgp></protocol></protocols>\
         </network-instance></network-instances></filter>"
    ))
    .expect("filter parses");
    let run = |planned: bool| {
        let mut stream = entries().into_iter();
        let first = stream.next().expect("entries");
        let mut w = Writer::new(
            rib_path()[..5].to_vec(),
            f.clone(),
            first,
            Box::new(stream),
            KeyKinds::default(),
        );
        w.planned = planned;
        let mut out = String::new();
        while w.fill(&mut out) {}
        out
    };
    (run(true), run(false))
}

#[test]
fn writes_what_the_element_tree_wrote() {
    for filter in [
        "<rib/>",
        "<rib><afi-safis><afi-safi><ipv4-unicast><loc-rib/></ipv4-unicast></afi-safi></afi-safis></rib>",
        "<rib><afi-safis><afi-safi><afi-safi-name>bt:IPV4_UNICAST</afi-safi-name><ipv4-unicast>\
         <loc-rib><routes><route><prefix>192.0.2.0/24</prefix></route></routes></loc-rib>\
         </ipv4-unicast></afi-safi></afi-safis></rib>",
        "<rib><afi-safis><afi-safi><afi-safi-name>bt:IPV6_UNICAST</afi-safi-name></afi-safi></afi-safis></rib>",
        "<rib><afi-safis><afi-safi><ipv4-unicast><loc-rib><routes><route>\
         <origin xmlns:pt=\"http://openconfig.net/yang/policy-types\">pt:STATIC</origin>\
         </route></routes></loc-rib></ipv4-unicast></afi-safi></afi-safis></rib>",
        "<rib><afi-safis><afi-safi><ipv4-unicast><loc-rib><routes><route><prefix/></route>\
         </routes></loc-rib></ipv4-unicast></afi-safi></afi-safis></rib>",
        "<rib><afi-safis><afi-safi><ipv4-unicast><neighbors><neighbor><neighbor-address>192.0.2.2\
         </neighbor-address><adj-rib-in-pre/></neighbor></neighbors></ipv4-unicast></afi-safi>\
         </afi-safis></rib>",
        "<rib><afi-safis><afi-safi><ipv4-unicast><neighbors><neighbor><neighbor-address>192.0.2.9\
         </neighbor-address></neighbor></neighbors></ipv4-unicast></afi-safi></afi-safis></rib>",
        "<rib><attr-sets/></rib>",
        "<rib><attr-sets><attr-set><index>7</index></attr-set></attr-sets></rib>",
        "<rib><attr-sets><attr-set><state><origin/></state></attr-set></attr-sets></rib>",
    ] {
        let (planned, tree) = written(filter);
        assert_eq!(planned, tree, "filter {filter}");
    }
    let (whole, _) = written("<rib/>");
    for part in [
        "<origin xmlns:openconfig-policy-types=\"http://openconfig.net/yang/policy-types\">\
         openconfig-policy-types:STATIC</origin>",
        "<stale xmlns=\"urn:ocbgp:yang:ocbgp\">true</stale>",
        "&lt;&amp;&apos;&quot;&gt; x",
        "<cluster-list>1.1.1.1</cluster-list><cluster-list>2.2.2.2</cluster-list>",
        "<attr-index>18446744073709551615</attr-index>",
        "<empty></empty>",
    ] {
        assert!(whole.contains(part), "{part} not in {whole}");
    }
    let (one, _) = written(
        "<rib><afi-safis><afi-safi><ipv4-unicast><loc-rib><routes><route><prefix>192.0.2.0/24\
         </prefix></route></routes></loc-rib></ipv4-unicast></afi-safi></afi-safis></rib>",
    );
    assert!(
        one.contains("192.0.2.0/24") && !one.contains("10.0.0.0/8"),
        "{one}"
    );
}

#[test]
fn reads_only_the_tables_the_filter_reaches() {
    let below = |inner: &str| {
        let f = xml::parse(&format!(
            "<filter><network-instances xmlns=\"{NI_NS}\"><network-instance><name>DEFAULT</name>\
             <protocols><protocol><bgp>{inner}</bgp></protocol></protocols></network-instance>\
             </network-instances></filter>"
        ))
        .expect("filter parses");
        request(&Filter::Subtree(f)).map(|r| r.below)
    };
    assert_eq!(below("<neighbors/>"), None);
    assert_eq!(below("<rib/>").as_deref(), Some(""));
    assert_eq!(
        below("<rib><afi-safis><afi-safi><ipv4-unicast><loc-rib/></ipv4-unicast></afi-safi></afi-safis></rib>")
            .as_deref(),
        Some("/afi-safis/afi-safi/ipv4-unicast/loc-rib")
    );
    assert_eq!(
        below(
            "<rib><afi-safis><afi-safi><afi-safi-name>x:IPV4_UNICAST</afi-safi-name><ipv4-unicast>\
             <neighbors><neighbor><neighbor-address>192.0.2.2</neighbor-address><adj-rib-in-pre/>\
             <adj-rib-out-post/></neighbor></neighbors></ipv4-unicast></afi-safi></afi-safis></rib>"
        )
        .as_deref(),
        Some(
            "/afi-safis/afi-safi[afi-safi-name='x:IPV4_UNICAST']/ipv4-unicast/neighbors\
             /neighbor[neighbor-address='192.0.2.2']"
        )
    );
}
