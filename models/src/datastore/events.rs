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
    /// node (leaf or whole subtree) was deleted.
    pub value: Option<String>,
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
                DataDiffOp::Delete => changes.push(LeafChange {
                    path: crate::ly::node_path(&node),
                    value: None,
                }),
                DataDiffOp::Replace => changes.push(LeafChange {
                    path: crate::ly::node_path(&node),
                    value: node.value_canonical(),
                }),
                DataDiffOp::Create => {
                    for n in node.traverse() {
                        if matches!(
                            n.schema().kind(),
                            SchemaNodeKind::Leaf | SchemaNodeKind::LeafList
                        ) {
                            changes.push(LeafChange {
                                path: crate::ly::node_path(&n),
                                value: n.value_canonical(),
                            });
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
