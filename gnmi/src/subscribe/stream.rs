//! The STREAM loop: waits for commits, timers and the client, reads what is
//! due, and queues what changed without ever waiting for the client.

use std::sync::Arc;
use std::time::Instant;

use ocbgp_models::datastore::CommitEvent;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tonic::{Status, Streaming};

use super::on_change::{changed, concerns, delete_floor, deletes};
use super::{
    notifications, read, send_current, streamed, streamed_current, sync_response, Context, Sender,
    Subscription, Trigger,
};
use crate::encode::{Leaf, Namer};
use crate::proto::gnmi::SubscribeRequest;
use ocbgp_models::datastore::StreamChange;
use tokio::sync::mpsc;

/// Why an entry is read this round.
#[derive(Debug, Clone, Copy, Default)]
struct Due {
    sample: bool,
    heartbeat: bool,
    stale: bool,
}

impl Due {
    fn any(self) -> bool {
        self.sample || self.heartbeat || self.stale
    }
}

async fn next_event(
    events: &mut Option<broadcast::Receiver<Arc<CommitEvent>>>,
) -> Result<Arc<CommitEvent>, RecvError> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The next time after `now` on the schedule that was due at `at`.
fn advance(at: Instant, every: std::time::Duration, now: Instant) -> Instant {
    let mut next = at + every;
    if next <= now {
        // Missed rounds are skipped, not sent in a burst.
        next = now + every;
    }
    next
}

/// Marks the on-change entries a commit concerns (all of them when
/// events were missed).
fn mark(sub: &mut Subscription, event: Option<&CommitEvent>) {
    for e in sub
        .entries
        .iter_mut()
        .filter(|e| e.trigger == Trigger::OnChange)
    {
        if event.is_none_or(|ev| concerns(ev, &e.query.elems)) {
            e.stale = true;
        }
    }
}

/// Runs a STREAM subscription until the client goes.
pub(super) async fn run(
    mut ctx: Context,
    mut sub: Subscription,
    mut inbound: Streaming<SubscribeRequest>,
    tx: &Sender,
) -> Result<(), Status> {
    // Listen before the first read, so no commit (or route change) falls
    // in between.
    let mut events = Some(ctx.store.subscribe());
    let mut feeds = Vec::new();
    for (i, e) in sub.entries.iter_mut().enumerate() {
        if e.trigger == Trigger::OnChange {
            if let Some(rx) = streamed::changes(&ctx, &e.query).await {
                e.feed = true;
                feeds.push((i, rx));
            }
        }
    }
    let mut feed = (!feeds.is_empty()).then(|| streamed::merge(feeds));
    if sub.updates_only {
        let mut indexes = Vec::new();
        for i in 0..sub.entries.len() {
            if !streamed_current(&ctx, &mut sub, i, tx, false).await? {
                indexes.push(i);
            }
        }
        let (_, readings) = read(&ctx, &sub.entries, indexes, Namer::default()).await?;
        for r in readings {
            let entry = &mut sub.entries[r.index];
            entry.last = entry.filter.apply(&r.leaves);
        }
    } else {
        send_current(&ctx, &mut sub, tx).await?;
    }
    if tx.send(Ok(sync_response())).await.is_err() {
        return Ok(());
    }

    let options = ctx.options.clone();
    let start = Instant::now();
    for e in &mut sub.entries {
        if let Trigger::Sample(every) = e.trigger {
            e.next_sample = Some(start + every);
        }
        e.next_heartbeat = e.heartbeat.map(|h| start + h);
    }
    let polls_state = sub
        .entries
        .iter()
        .any(|e| e.trigger == Trigger::OnChange && e.query.has_state && !e.feed);
    let mut next_poll = polls_state.then(|| start + options.state_poll_interval);
    let mut retry_at: Option<Instant> = None;
    let mut inbound_open = true;
    let mut namer = Namer::default();
    let encoding = sub.encoding;
    let prefix = sub.prefix.clone();

    loop {
        let deadline = sub
            .entries
            .iter()
            .flat_map(|e| [e.next_sample, e.next_heartbeat])
            .chain([next_poll, retry_at])
            .flatten()
            .min();
        tokio::select! {
            _ = tx.closed() => return Ok(()),
            _ = ctx.stopped() => return Err(ctx.stop_status()),
            event = next_event(&mut events) => match event {
                Ok(event) => {
                    mark(&mut sub, Some(&event));
                    // Commits in a burst make one round.
                    if let Some(rx) = events.as_mut() {
                        loop {
                            match rx.try_recv() {
                                Ok(more) => mark(&mut sub, Some(&more)),
                                Err(TryRecvError::Lagged(_)) => mark(&mut sub, None),
                                Err(_) => break,
                            }
                        }
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "gNMI subscriber missed commit events; reading its paths again");
                    mark(&mut sub, None);
                }
                Err(RecvError::Closed) => events = None,
            },
            message = inbound.message(), if inbound_open => match message {
                Ok(Some(_)) => {
                    return Err(Status::invalid_argument(
                        "a STREAM subscription cannot be polled or changed: open another Subscribe",
                    ))
                }
                // The client closed its side; the subscription goes on.
                Ok(None) => inbound_open = false,
                Err(_) => return Ok(()),
            },
            change = next_change(&mut feed) => match change {
                Some(first) => {
                    if !send_changes(&ctx, &mut sub, &mut feed, first, tx).await? {
                        return Ok(());
                    }
                }
                None => feed = None,
            },
            _ = sleep_until(deadline) => {}
        }

        let now = Instant::now();
        if next_poll.is_some_and(|t| t <= now) {
            for e in sub.entries.iter_mut() {
                if e.trigger == Trigger::OnChange && e.query.has_state && !e.feed {
                    e.stale = true;
                }
            }
            next_poll = Some(now + options.state_poll_interval);
        }
        if retry_at.is_some_and(|t| t <= now) {
            retry_at = None;
        }
        let due: Vec<(usize, Due)> = sub
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let due = Due {
                    sample: e.next_sample.is_some_and(|t| t <= now),
                    heartbeat: e.next_heartbeat.is_some_and(|t| t <= now),
                    stale: e.stale,
                };
                (i, due)
            })
            .filter(|(_, d)| d.any())
            .collect();
        if due.is_empty() {
            continue;
        }
        // The timers move on whether or not this round's read succeeds.
        for (i, why) in &due {
            let entry = &mut sub.entries[*i];
            if why.sample {
                if let (Some(at), Trigger::Sample(every)) = (entry.next_sample, entry.trigger) {
                    entry.next_sample = Some(advance(at, every, now));
                }
            }
            if why.heartbeat {
                if let (Some(at), Some(every)) = (entry.next_heartbeat, entry.heartbeat) {
                    entry.next_heartbeat = Some(advance(at, every, now));
                }
            }
        }
        // Streamed state (the RIB) is read and sent entry by entry.
        let mut due = due;
        let mut streamed_due = Vec::new();
        due.retain(|(i, why)| {
            if sub.entries[*i].streamed {
                streamed_due.push((*i, *why));
                false
            } else {
                true
            }
        });
        for (i, why) in streamed_due {
            let e = &mut sub.entries[i];
            e.stale = false;
            let full = why.sample || why.heartbeat;
            if e.feed && !full {
                continue;
            }
            let old = if full { None } else { e.hashes.take() };
            let track =
                e.hashes.is_some() || old.is_some() || (e.trigger == Trigger::OnChange && !e.feed);
            let sent = streamed::send(
                &ctx, &options, &e.query, encoding, &prefix, tx, true, old, track,
            )
            .await?;
            sub.entries[i].hashes = sent.hashes;
            if tx.is_closed() {
                return Ok(());
            }
        }
        if due.is_empty() {
            continue;
        }
        let indexes = due.iter().map(|(i, _)| *i).collect();
        let readings = match read(&ctx, &sub.entries, indexes, std::mem::take(&mut namer)).await {
            Ok((kept, readings)) => {
                namer = kept;
                readings
            }
            Err(status) => {
                // A failed read (say, of the state provider) skips this
                // round; the paths are read again at the next one.
                tracing::warn!(error = %status.message(), "gNMI subscription read failed");
                retry_at.get_or_insert(now + options.state_poll_interval);
                continue;
            }
        };
        for (reading, (_, why)) in readings.into_iter().zip(due) {
            let entry = &mut sub.entries[reading.index];
            let current = entry.filter.apply(&reading.leaves);
            let full = why.heartbeat || (why.sample && !entry.suppress_redundant);
            let responses = {
                let updates: Vec<&Leaf> = if full {
                    current.values().collect()
                } else {
                    changed(&entry.last, &current)
                };
                let gone = deletes(
                    &entry.last,
                    &reading.leaves,
                    delete_floor(&entry.query.elems),
                );
                if updates.is_empty() && gone.is_empty() {
                    Vec::new()
                } else {
                    notifications(
                        encoding,
                        &prefix,
                        reading.time,
                        &updates,
                        gone,
                        options.max_updates,
                    )
                }
            };
            let entry = &mut sub.entries[reading.index];
            if responses.len() > tx.capacity() {
                // The client is behind: keep what it has as the base and
                // read again later; it then gets the latest values.
                entry.stale = true;
                retry_at.get_or_insert(now + options.state_poll_interval);
                continue;
            }
            for r in responses {
                if tx.try_send(Ok(r)).is_err() {
                    return Ok(());
                }
            }
            entry.last = current;
            entry.stale = false;
        }
    }
}

async fn next_change(
    feed: &mut Option<mpsc::Receiver<(usize, StreamChange)>>,
) -> Option<(usize, StreamChange)> {
    match feed {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Changes read from the feed in one go at most.
const CHANGE_BATCH: usize = 4096;

/// Sends `first` and the changes already queued after it, waiting for the
/// client; an entry whose feed lagged is resynchronised (a delete of its
/// path, then everything again). False when the client went.
async fn send_changes(
    ctx: &super::Context,
    sub: &mut Subscription,
    feed: &mut Option<mpsc::Receiver<(usize, StreamChange)>>,
    first: (usize, StreamChange),
    tx: &Sender,
) -> Result<bool, Status> {
    let mut by_entry: std::collections::BTreeMap<usize, Vec<StreamChange>> = Default::default();
    by_entry.entry(first.0).or_default().push(first.1);
    if let Some(rx) = feed.as_mut() {
        for _ in 0..CHANGE_BATCH {
            match rx.try_recv() {
                Ok((i, c)) => by_entry.entry(i).or_default().push(c),
                Err(_) => break,
            }
        }
    }
    let max = ctx.options.max_updates;
    for (i, changes) in by_entry {
        let e = &sub.entries[i];
        let responses =
            streamed::change_notifications(&e.query, &changes, sub.encoding, &sub.prefix, max);
        match responses {
            Some(responses) => {
                for r in responses {
                    if !streamed::send_bounded(tx, r).await {
                        return Ok(false);
                    }
                }
            }
            None => {
                tracing::debug!(path = %e.query.text(), "gNMI subscriber lagged behind the route feed; resynchronising");
                let gone = crate::proto::gnmi::Notification {
                    timestamp: crate::data::now_ns(),
                    prefix: sub.prefix.clone(),
                    delete: vec![crate::proto::gnmi::Path {
                        elem: e.query.elems.clone(),
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                let gone = crate::proto::gnmi::SubscribeResponse {
                    response: Some(crate::proto::gnmi::subscribe_response::Response::Update(
                        gone,
                    )),
                    ..Default::default()
                };
                if tx.send(Ok(gone)).await.is_err() {
                    return Ok(false);
                }
                streamed::send(
                    ctx,
                    &ctx.options,
                    &e.query,
                    sub.encoding,
                    &sub.prefix,
                    tx,
                    true,
                    None,
                    false,
                )
                .await?;
            }
        }
    }
    Ok(!tx.is_closed())
}
