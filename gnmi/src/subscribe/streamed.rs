//! Subscriptions to streamed state (the RIB): read entry by entry from the
//! state provider's stream, never through a libyang tree, and sent as they
//! are read, waiting for the client (the subscriber's memory stays one
//! batch of the stream and its queue, however large the table).
//!
//! * ONCE, POLL, SAMPLE and heartbeats send the whole selection, one update
//!   per entry (route); `suppress_redundant` does not apply.
//! * ON_CHANGE over the Loc-RIB and Adj-RIBs-In uses the provider's change
//!   feed: updates for new or changed routes, deletes for routes that went.
//!   The feed is bounded; a subscriber that falls behind is marked lagged
//!   and resynchronised: a delete of the subscribed path, then the whole
//!   selection again.
//! * ON_CHANGE over streamed tables without a feed (attribute sets,
//!   Adj-RIBs-Out) re-reads them every `state_poll_interval` and sends the
//!   entries whose content changed (kept as one hash per entry) and deletes
//!   for entries that went.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use ocbgp_models::datastore::StreamChange;
use tokio::sync::mpsc;
use tonic::Status;

use super::{Sender, SubscribeOptions};
use crate::data::{now_ns, Query};
use crate::encode::ValueEncoding;
use crate::proto::gnmi::subscribe_response::Response;
use crate::proto::gnmi::{Notification, Path, PathElem, SubscribeResponse};
use crate::streamed::{entry_updates, meet, notifications, to_elem, Grouper, Meet};

/// Notifications of a streamed read queued towards the client at most:
/// each holds up to `max_updates` routes, so the subscription's full queue
/// (`queue_len` notifications) would hold a whole table.
pub(crate) const STREAMED_QUEUE: usize = 8;

/// Sends `r` once at most [`STREAMED_QUEUE`] responses wait in the queue;
/// false when the client went.
pub(crate) async fn send_bounded(tx: &Sender, r: SubscribeResponse) -> bool {
    let room = tx.max_capacity().saturating_sub(STREAMED_QUEUE);
    if room > 0 {
        match tx.reserve_many(room).await {
            // Waiting for the room is the point; the permits go back.
            Ok(permits) => drop(permits),
            Err(_) => return false,
        }
    }
    tx.send(Ok(r)).await.is_ok()
}

/// Content hashes of the entries a client has, by entry path text.
pub(crate) type Hashes = HashMap<String, u64>;

fn hash_of(json: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    json.hash(&mut h);
    h.finish()
}

fn path_text(elems: &[PathElem]) -> String {
    crate::path::to_text(&Path {
        elem: elems.to_vec(),
        ..Default::default()
    })
}

fn update(n: Notification) -> SubscribeResponse {
    SubscribeResponse {
        response: Some(Response::Update(n)),
        ..Default::default()
    }
}

/// What a streamed read found.
pub(crate) struct Sent {
    /// Whether the query reads streamed state at all.
    pub streamed: bool,
    /// The entries' hashes, when asked to track them.
    pub hashes: Option<Hashes>,
}

/// Reads `query` from the stream and sends it to the client, waiting for
/// it. With `old`, only entries whose content differs are sent, and
/// entries of `old` that are gone are sent as deletes; with `track`, the
/// new hashes are returned; `send` false records without sending.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn send(
    ctx: &super::Context,
    options: &SubscribeOptions,
    query: &Query,
    encoding: ValueEncoding,
    target: &Option<Path>,
    tx: &Sender,
    send: bool,
    old: Option<Hashes>,
    track: bool,
) -> Result<Sent, Status> {
    let (store, login, query, target, tx, max) = (
        ctx.store.clone(),
        ctx.login.clone(),
        query.clone(),
        target.clone(),
        tx.clone(),
        options.max_updates,
    );
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let access = store.access(login.judged());
        let Some(stream) = crate::streamed::open(&store, &query, &access) else {
            return Sent {
                streamed: false,
                hashes: None,
            };
        };
        let mut hashes = track.then(Hashes::new);
        let keep = |e: &ocbgp_models::datastore::StreamEntry| {
            if hashes.is_none() && old.is_none() {
                return send;
            }
            let elems: Vec<PathElem> = e.parent.iter().chain([&e.elem]).map(to_elem).collect();
            let key = path_text(&elems);
            let h = hash_of(&e.json());
            let same = old.as_ref().and_then(|o| o.get(&key)) == Some(&h);
            if let Some(m) = hashes.as_mut() {
                m.insert(key, h);
            }
            send && !same
        };
        let mut open = true;
        notifications(stream, &query, encoding, target.as_ref(), max, keep, |n| {
            open = runtime.block_on(send_bounded(&tx, update(n)));
            open
        });
        if let (Some(old), Some(new), true, true) = (&old, &hashes, send, open) {
            let gone: Vec<Path> = old
                .keys()
                .filter(|k| !new.contains_key(*k))
                .filter_map(|k| crate::path::parse_text(k).ok())
                .collect();
            for chunk in gone.chunks(max.max(1)) {
                let n = Notification {
                    timestamp: now_ns(),
                    prefix: target.clone(),
                    delete: chunk.to_vec(),
                    ..Default::default()
                };
                if !runtime.block_on(send_bounded(&tx, update(n))) {
                    break;
                }
            }
        }
        Sent {
            streamed: true,
            hashes,
        }
    })
    .await
    .map_err(|e| Status::internal(format!("subscription read failed: {e}")))
}

/// Opens the change feed of `query`'s streamed table, if it has one.
pub(crate) async fn changes(
    ctx: &super::Context,
    query: &Query,
) -> Option<mpsc::Receiver<StreamChange>> {
    if !query.has_state || !crate::streamed::streams_for(&ctx.access(), &query.stream_root()) {
        return None;
    }
    let (store, root) = (ctx.store.clone(), query.stream_root());
    tokio::task::spawn_blocking(move || store.stream_changes(&root))
        .await
        .ok()
        .flatten()
}

/// Merges the change feeds of several entries into one receiver of
/// (entry index, change).
pub(crate) fn merge(
    feeds: Vec<(usize, mpsc::Receiver<StreamChange>)>,
) -> mpsc::Receiver<(usize, StreamChange)> {
    let (tx, rx) = mpsc::channel(1024);
    for (i, mut feed) in feeds {
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(c) = feed.recv().await {
                if tx.send((i, c)).await.is_err() {
                    return;
                }
            }
        });
    }
    rx
}

/// The notifications for a run of changes of one subscribed query; `None`
/// for a lag notice (the caller resynchronises).
pub(crate) fn change_notifications(
    query: &Query,
    changes: &[StreamChange],
    encoding: ValueEncoding,
    target: &Option<Path>,
    max: usize,
) -> Option<Vec<SubscribeResponse>> {
    let mut out = Vec::new();
    let mut deletes = Vec::new();
    // Only the last change of each path counts (deletes go before updates
    // in a notification, so a path must appear once).
    let key = |p: &mut dyn Iterator<Item = &ocbgp_models::datastore::StreamElem>| {
        let mut h = std::hash::DefaultHasher::new();
        for e in p {
            e.name.hash(&mut h);
            e.keys.hash(&mut h);
        }
        h.finish()
    };
    let mut latest: HashMap<u64, usize> = HashMap::with_capacity(changes.len());
    let mut keys = Vec::with_capacity(changes.len());
    for (i, c) in changes.iter().enumerate() {
        let k = match c {
            StreamChange::Update(e) => key(&mut e.parent.iter().chain([&e.elem])),
            StreamChange::Delete(p) => key(&mut p.iter()),
            StreamChange::Lagged => return None,
        };
        latest.insert(k, i);
        keys.push(k);
    }
    let time = now_ns();
    let mut group = Grouper::new(target.as_ref(), max);
    let mut emit = |n: Notification| {
        out.push(update(n));
        true
    };
    let mut updates = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        if latest.get(&keys[i]) != Some(&i) {
            continue;
        }
        match c {
            StreamChange::Update(e) => {
                entry_updates(e, query, encoding, &mut updates);
                group.push(&e.parent, &mut updates, &mut emit);
            }
            StreamChange::Delete(path) => {
                if let Some(Meet::Whole) = meet(&query.elems, 0, path, 0) {
                    deletes.push(Path {
                        elem: path.iter().map(to_elem).collect(),
                        ..Default::default()
                    });
                }
            }
            StreamChange::Lagged => return None,
        }
    }
    group.finish(&mut emit);
    let mut with_deletes = Vec::new();
    for chunk in deletes.chunks(max.max(1)) {
        with_deletes.push(update(Notification {
            timestamp: time,
            prefix: target.clone(),
            delete: chunk.to_vec(),
            ..Default::default()
        }));
    }
    with_deletes.append(&mut out);
    out = with_deletes;
    Some(out)
}
