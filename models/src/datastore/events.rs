//! Change notifications: what a commit changed, leaf by leaf, for gNMI
//! Subscribe ON_CHANGE and NETCONF notifications.

use std::time::{Duration, SystemTime};

use yang2::data::{DataDiff, DataDiffOp};
use yang2::schema::SchemaNodeKind;

use super::{Origin, Requester};

/// One changed node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafChange {
    /// Data path of the node.
    pub path: String,
    /// The new canonical value of a leaf or leaf-list entry; `None` when the
    /// node (leaf or whole subtree) was deleted, or when the value is longer
    /// than [`MAX_EVENT_VALUE`] (`value_left_out`).
    pub value: Option<String>,
    /// The value is longer than [`MAX_EVENT_VALUE`] bytes and left out (read
    /// it at `path`): events are kept and passed to every subscriber, a
    /// copy of a 64 MB value in each is too much.
    pub value_left_out: bool,
}

/// Longest value an event carries, in bytes.
pub const MAX_EVENT_VALUE: usize = 4096;

impl LeafChange {
    fn of(node: &yang2::data::DataNodeRef<'_, '_>, deleted: bool) -> LeafChange {
        let value = if deleted {
            None
        } else {
            node.value_canonical()
        };
        let left_out = value.as_ref().is_some_and(|v| v.len() > MAX_EVENT_VALUE);
        LeafChange {
            path: crate::ly::node_path(node),
            value: value.filter(|_| !left_out),
            value_left_out: left_out,
        }
    }
}

/// Everything one commit changed, in diff order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitEvent {
    /// The commit id.
    pub id: u64,
    /// When it was applied.
    pub time: SystemTime,
    /// Which door it came through.
    pub origin: Origin,
    /// Who made it, when known.
    pub user: Option<String>,
    /// The changes: new and replaced leaves with their values, deleted nodes
    /// without.
    pub changes: Vec<LeafChange>,
    /// How long the transaction took, from its start to running swapped
    /// (validation, consumers' prepare and apply, saving).
    pub duration: Duration,
}

impl CommitEvent {
    /// Lists the changes of a libyang diff. A created subtree is reported
    /// leaf by leaf; a deleted one as the one node that went.
    pub(super) fn from_diff(
        id: u64,
        time: SystemTime,
        who: &Requester,
        diff: &DataDiff<'static>,
        duration: Duration,
    ) -> CommitEvent {
        let mut changes = Vec::new();
        for (op, node) in diff.iter() {
            match op {
                DataDiffOp::Delete => changes.push(LeafChange::of(&node, true)),
                DataDiffOp::Replace => changes.push(LeafChange::of(&node, false)),
                DataDiffOp::Create => {
                    for n in node.traverse() {
                        if matches!(
                            n.schema().kind(),
                            SchemaNodeKind::Leaf | SchemaNodeKind::LeafList
                        ) {
                            changes.push(LeafChange::of(&n, false));
                        }
                    }
                }
            }
        }
        CommitEvent {
            id,
            time,
            origin: who.origin,
            user: who.user.clone(),
            changes,
            duration,
        }
    }
}
