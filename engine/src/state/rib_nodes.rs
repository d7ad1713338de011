//! The nodes of the RIB's sets (attribute sets, communities, extended
//! communities) and the value texts routes and sets share, for the
//! streamed RIB (`rib_stream.rs`).
//!
//! Attribute and community sets are identified by a hash of their content
//! (`attr-index`, `community-index`), so the same set has the same index
//! in every read.

use ocbgp_models::datastore::{Scalar, StreamNode};

use crate::rib::Attrs;
use crate::wire::{Community, ExtCommunity, NextHop, SegmentType};

/// The origin of routes we originate (no neighbor).
pub(super) const LOCAL_ORIGIN: &str = "openconfig-policy-types:STATIC";

pub(super) use crate::rib::state_index as index_of;

fn origin_name(code: u8) -> &'static str {
    ["IGP", "EGP", "INCOMPLETE"][usize::from(code.min(2))]
}

fn segment_name(kind: SegmentType) -> &'static str {
    match kind {
        SegmentType::Sequence => "AS_SEQ",
        SegmentType::Set => "AS_SET",
        SegmentType::ConfedSequence => "AS_CONFED_SEQUENCE",
        SegmentType::ConfedSet => "AS_CONFED_SET",
    }
}

fn community_text(c: Community) -> String {
    format!("{}:{}", c.0 >> 16, c.0 & 0xffff)
}

/// An extended community as the model's `bgp-ext-community-recv-type`:
/// the text form when the type has one, else the eight octets (binary).
pub(super) fn ext_text(c: ExtCommunity) -> Scalar {
    let mut text = String::new();
    crate::policy::sets::community::write_ext(c, &mut text);
    if text.starts_with("0x") {
        Scalar::Binary(base64(&c.0))
    } else {
        Scalar::Str(text)
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An attribute set entry's children.
pub(super) fn attr_set_nodes(index: u64, a: &Attrs) -> Vec<StreamNode> {
    let attrs = &a.attrs;
    let mut state = vec![StreamNode::Leaf("index", Scalar::U64(index))];
    if let Some(o) = attrs.origin {
        state.push(StreamNode::Leaf(
            "origin",
            Scalar::Str(origin_name(o.code()).into()),
        ));
    }
    state.push(StreamNode::Leaf(
        "atomic-aggregate",
        Scalar::Bool(attrs.atomic_aggregate),
    ));
    if let Some(nh) = a.next_hop {
        let text = match nh {
            NextHop::V4(v4) => v4.to_string(),
            NextHop::V6 { global, .. } => global.to_string(),
        };
        state.push(StreamNode::Leaf("next-hop", Scalar::Str(text)));
    }
    if let Some(med) = attrs.med {
        state.push(StreamNode::Leaf("med", Scalar::U32(med)));
    }
    if let Some(lp) = attrs.local_pref {
        state.push(StreamNode::Leaf("local-pref", Scalar::U32(lp)));
    }
    if let Some(id) = attrs.originator_id {
        state.push(StreamNode::Leaf(
            "originator-id",
            Scalar::Str(id.to_string()),
        ));
    }
    let mut children = vec![
        StreamNode::Leaf("index", Scalar::U64(index)),
        StreamNode::Container("state", state),
    ];
    let segments: Vec<Vec<StreamNode>> = attrs
        .as_path
        .iter()
        .flat_map(|p| p.segments.iter())
        .enumerate()
        .map(|(i, seg)| {
            let mut state = vec![
                StreamNode::Leaf("index", Scalar::U32(i as u32)),
                StreamNode::Leaf("type", Scalar::Str(segment_name(seg.kind).into())),
            ];
            if !seg.asns.is_empty() {
                state.push(StreamNode::LeafList(
                    "member",
                    seg.asns.iter().map(|a| Scalar::U32(*a)).collect(),
                ));
            }
            vec![
                StreamNode::Leaf("index", Scalar::U32(i as u32)),
                StreamNode::Container("state", state),
            ]
        })
        .collect();
    if !segments.is_empty() {
        children.push(StreamNode::Container(
            "as-path",
            vec![StreamNode::List("as-segment", &["index"], segments)],
        ));
    }
    children
}

/// A community set entry's children.
pub(super) fn community_nodes(index: u64, communities: &[Community]) -> Vec<StreamNode> {
    let list = communities
        .iter()
        .map(|c| Scalar::Str(community_text(*c)))
        .collect();
    vec![
        StreamNode::Leaf("index", Scalar::U64(index)),
        StreamNode::Container(
            "state",
            vec![
                StreamNode::Leaf("index", Scalar::U64(index)),
                StreamNode::LeafList("community", list),
            ],
        ),
    ]
}

/// An extended community set entry's children.
pub(super) fn ext_community_nodes(index: u64, ext: &[ExtCommunity]) -> Vec<StreamNode> {
    let list = ext.iter().map(|c| ext_text(*c)).collect();
    vec![
        StreamNode::Leaf("index", Scalar::U64(index)),
        StreamNode::Container(
            "state",
            vec![
                StreamNode::Leaf("index", Scalar::U64(index)),
                StreamNode::LeafList("ext-community", list),
            ],
        ),
    ]
}
