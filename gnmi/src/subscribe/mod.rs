//! Subscribe: ONCE, POLL and STREAM subscriptions.
//!
//! Updates are per leaf (the specification's default without aggregation):
//! each update is one leaf's path and value (a leaf-list's as one array).
//! JSON and JSON_IETF carry the RFC 7951 value, PROTO a scalar TypedValue.
//!
//! * ONCE: current values, `sync_response`, end of stream.
//! * POLL: current values and `sync_response` at the start and after every
//!   Poll message.
//! * STREAM: current values, `sync_response`, then per path as its mode
//!   says: ON_CHANGE (`on_change.rs`), SAMPLE and TARGET_DEFINED
//!   (`sample.rs`). `updates_only` skips the current values.
//!
//! A path with no data yet stays subscribed; its values come when it
//! appears. Each subscription runs in its own task with a bounded queue
//! towards the client ([`SubscribeOptions::queue_len`], 1024 responses by
//! default): the datastore never waits for a subscriber. When the queue is
//! full, the values of that round are not queued and not recorded as sent;
//! the path is read again shortly and the client then gets the latest
//! values (changes in between are coalesced, never lost as a final state).
//! A subscriber that falls behind the datastore's commit events (their
//! channel reports it lagged) has every on-change path read again.

mod on_change;
mod sample;
mod stream;
mod streamed;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ocbgp_models::datastore::Datastore;
use tokio::sync::{mpsc, watch};
use tonic::{Status, Streaming};

use crate::data::{now_ns, select, Part, Query, Snapshots};
use crate::encode::{Leaf, Leaves, Namer, ValueEncoding};
use crate::get::response_prefix;
use crate::proto::gnmi::subscribe_request::Request;
use crate::proto::gnmi::subscribe_response::Response;
use crate::proto::gnmi::subscription_list::Mode;
use crate::proto::gnmi::{
    Notification, Path, SubscribeRequest, SubscribeResponse, SubscriptionList, Update,
};

/// Limits and intervals of subscriptions.
#[derive(Debug, Clone)]
pub struct SubscribeOptions {
    /// Smallest sample and heartbeat interval served; smaller ones are
    /// refused with `InvalidArgument`, 0 means this one. Default 1 s.
    pub min_sample_interval: Duration,
    /// How often ON_CHANGE subscriptions to paths with state read the state
    /// to find changes. Default 1 s.
    pub state_poll_interval: Duration,
    /// The sample interval TARGET_DEFINED gives counters. Default 10 s.
    pub target_defined_sample: Duration,
    /// Responses queued per subscription before it counts as slow.
    /// Default 1024.
    pub queue_len: usize,
    /// Most updates in one notification. Default 1000.
    pub max_updates: usize,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        SubscribeOptions {
            min_sample_interval: Duration::from_secs(1),
            state_poll_interval: Duration::from_secs(1),
            target_defined_sample: Duration::from_secs(10),
            queue_len: 1024,
            max_updates: 1000,
        }
    }
}

/// What makes a subscribed path send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// Changes (and the heartbeat).
    OnChange,
    /// A timer.
    Sample(Duration),
}

/// Which leaves of the path an entry sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filter {
    /// All.
    All,
    /// TARGET_DEFINED's on-change half: all but counters.
    Events,
    /// TARGET_DEFINED's sampled half: counters.
    Counters,
}

impl Filter {
    fn keeps(self, leaf: &Leaf) -> bool {
        match self {
            Filter::All => true,
            Filter::Events => leaf.config || !leaf.counter,
            Filter::Counters => !leaf.config && leaf.counter,
        }
    }

    fn apply(self, all: &Leaves) -> Leaves {
        all.iter()
            .filter(|(_, l)| self.keeps(l))
            .map(|(k, l)| (k.clone(), l.clone()))
            .collect()
    }
}

/// One subscribed path with its trigger, and what its client was sent.
pub(crate) struct Entry {
    pub query: Query,
    pub trigger: Trigger,
    pub filter: Filter,
    pub suppress_redundant: bool,
    pub heartbeat: Option<Duration>,
    /// The values the client has, as last sent.
    pub last: Leaves,
    /// When the next sample is due.
    pub next_sample: Option<Instant>,
    /// When the next heartbeat is due.
    pub next_heartbeat: Option<Instant>,
    /// Read again at the next round (a commit concerned it, its state is
    /// polled, or its last round did not fit in the queue).
    pub stale: bool,
    /// Whether the path reads streamed state (the RIB; see `streamed.rs`).
    pub streamed: bool,
    /// Streamed and on change with the provider's change feed.
    pub feed: bool,
    /// Streamed and on change without a feed: the content hashes of the
    /// entries the client has.
    pub hashes: Option<streamed::Hashes>,
}

impl Entry {
    pub(crate) fn new(
        query: Query,
        trigger: Trigger,
        filter: Filter,
        suppress_redundant: bool,
        heartbeat: Option<Duration>,
    ) -> Entry {
        Entry {
            query,
            trigger,
            filter,
            suppress_redundant,
            heartbeat,
            last: Leaves::new(),
            next_sample: None,
            next_heartbeat: None,
            stale: false,
            streamed: false,
            feed: false,
            hashes: None,
        }
    }
}

/// What a subscription's task needs.
#[derive(Clone)]
pub(crate) struct Context {
    pub store: Arc<Datastore>,
    pub options: SubscribeOptions,
    /// Becomes true when the server stops, or the subscription must end.
    pub stop: watch::Receiver<bool>,
    /// Why the subscription ended, when not because the server stops.
    pub ended: Arc<std::sync::OnceLock<Status>>,
    /// Who subscribed: every read is judged by the access rules in force.
    pub login: crate::auth::Login,
}

impl Context {
    /// The status the subscription ends with once `stop` turned true.
    pub(crate) fn stop_status(&self) -> Status {
        self.ended.get().cloned().unwrap_or_else(shutting_down)
    }

    /// The subscriber's access under the rules in force now.
    pub(crate) fn access(&self) -> ocbgp_models::nacm::Access {
        self.store.access(self.login.judged())
    }

    /// Completes when the server stops (never, if it cannot tell).
    pub(crate) async fn stopped(&mut self) {
        if self.stop.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The status subscriptions end with when the server stops.
pub(crate) fn shutting_down() -> Status {
    Status::unavailable("the gNMI server is shutting down")
}

/// The sending side of a subscription's response stream.
pub(crate) type Sender = mpsc::Sender<Result<SubscribeResponse, Status>>;

/// Runs one Subscribe RPC: reads the subscription, answers it, and ends
/// with an error status on the stream when something is wrong.
pub(crate) async fn run(ctx: Context, mut inbound: Streaming<SubscribeRequest>, tx: Sender) {
    let list = match inbound.message().await {
        Ok(Some(SubscribeRequest {
            request: Some(Request::Subscribe(list)),
            ..
        })) => list,
        Ok(Some(_)) => {
            let _ = tx
                .send(Err(Status::invalid_argument(
                    "the first message of a Subscribe must be a SubscriptionList: there is no subscription to poll",
                )))
                .await;
            return;
        }
        Ok(None) | Err(_) => return,
    };
    if let Err(status) = serve(ctx, list, inbound, &tx).await {
        let _ = tx.send(Err(status)).await;
    }
}

/// A subscription, checked.
pub(crate) struct Subscription {
    pub mode: Mode,
    pub encoding: ValueEncoding,
    pub prefix: Option<Path>,
    pub updates_only: bool,
    pub entries: Vec<Entry>,
}

fn parse(list: SubscriptionList, options: &SubscribeOptions) -> Result<Subscription, Status> {
    let mode = Mode::try_from(list.mode).map_err(|_| {
        Status::invalid_argument(format!("unknown subscription list mode {}", list.mode))
    })?;
    let encoding = ValueEncoding::from_request(list.encoding)?;
    if list.subscription.is_empty() {
        return Err(Status::invalid_argument(
            "the subscription list has no subscription",
        ));
    }
    let prefix = list.prefix.as_ref();
    let mut entries = Vec::new();
    for sub in &list.subscription {
        let path = sub.path.clone().unwrap_or_default();
        let query = Query::new(prefix, &path)?;
        if mode == Mode::Stream {
            entries.extend(sample::stream_entries(sub, query, options)?);
        } else {
            entries.push(Entry::new(
                query,
                Trigger::OnChange,
                Filter::All,
                false,
                None,
            ));
        }
    }
    Ok(Subscription {
        mode,
        encoding,
        prefix: response_prefix(prefix),
        updates_only: list.updates_only,
        entries,
    })
}

async fn serve(
    mut ctx: Context,
    list: SubscriptionList,
    mut inbound: Streaming<SubscribeRequest>,
    tx: &Sender,
) -> Result<(), Status> {
    let mut sub = parse(list, &ctx.options)?;
    match sub.mode {
        Mode::Once => {
            if !sub.updates_only {
                send_current(&ctx, &mut sub, tx).await?;
            }
            let _ = tx.send(Ok(sync_response())).await;
            Ok(())
        }
        Mode::Poll => {
            if !sub.updates_only {
                send_current(&ctx, &mut sub, tx).await?;
            }
            if tx.send(Ok(sync_response())).await.is_err() {
                return Ok(());
            }
            loop {
                let message = tokio::select! {
                    m = inbound.message() => m,
                    _ = ctx.stopped() => return Err(ctx.stop_status()),
                };
                match message {
                    Ok(Some(SubscribeRequest {
                        request: Some(Request::Poll(_)),
                        ..
                    })) => {
                        send_current(&ctx, &mut sub, tx).await?;
                        if tx.send(Ok(sync_response())).await.is_err() {
                            return Ok(());
                        }
                    }
                    Ok(Some(_)) => {
                        return Err(Status::invalid_argument(
                            "a POLL subscription takes Poll messages only; it cannot be changed",
                        ))
                    }
                    Ok(None) | Err(_) => return Ok(()),
                }
            }
        }
        Mode::Stream => stream::run(ctx, sub, inbound, tx).await,
    }
}

fn sync_response() -> SubscribeResponse {
    SubscribeResponse {
        response: Some(Response::SyncResponse(true)),
        ..Default::default()
    }
}

/// One reading of some entries: for each, its leaves (unfiltered) and when
/// they were read.
pub(crate) struct Reading {
    pub index: usize,
    pub time: i64,
    pub leaves: Leaves,
}

/// Reads the entries at `indexes` (blocking work, off the runtime). The
/// namer travels with the call so its cache lasts the subscription.
pub(crate) async fn read(
    ctx: &Context,
    entries: &[Entry],
    indexes: Vec<usize>,
    namer: Namer,
) -> Result<(Namer, Vec<Reading>), Status> {
    let store = ctx.store.clone();
    let login = ctx.login.clone();
    let queries: Vec<(usize, Query)> = indexes
        .into_iter()
        .map(|i| (i, entries[i].query.clone()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut namer = namer;
        // The rules in force at this reading.
        let access = store.access(login.judged());
        let mut snapshots = Snapshots::new(&access);
        let mut out = Vec::with_capacity(queries.len());
        for (index, query) in queries {
            let time = now_ns();
            let snapshot = snapshots.get(&store, &query, Part::All)?;
            let mut leaves = Leaves::new();
            for s in select(snapshot.tree(), &query, Part::All)? {
                s.leaves(&mut namer, &mut leaves);
            }
            out.push(Reading {
                index,
                time,
                leaves,
            });
        }
        Ok((namer, out))
    })
    .await
    .map_err(|e| Status::internal(format!("subscription read failed: {e}")))?
}

/// The notifications for some updates and deletes, split so none has more
/// than `max` updates (deletes go first).
pub(crate) fn notifications(
    encoding: ValueEncoding,
    prefix: &Option<Path>,
    time: i64,
    updates: &[&Leaf],
    deletes: Vec<Path>,
    max: usize,
) -> Vec<SubscribeResponse> {
    let mut out = Vec::new();
    let mut chunks = updates.chunks(max.max(1));
    let mut deletes = Some(deletes).filter(|d| !d.is_empty());
    loop {
        let chunk = chunks.next();
        if chunk.is_none() && deletes.is_none() {
            break;
        }
        let update = chunk
            .unwrap_or_default()
            .iter()
            .map(|leaf| Update {
                path: Some(leaf.path.clone()),
                val: Some(leaf.value(encoding)),
                ..Default::default()
            })
            .collect();
        out.push(SubscribeResponse {
            response: Some(Response::Update(Notification {
                timestamp: time,
                prefix: prefix.clone(),
                update,
                delete: deletes.take().unwrap_or_default(),
                ..Default::default()
            })),
            ..Default::default()
        });
    }
    out
}

/// Sends every entry's current values, waiting for the client (ONCE, POLL
/// and the start of STREAM), and records them as sent.
pub(crate) async fn send_current(
    ctx: &Context,
    sub: &mut Subscription,
    tx: &Sender,
) -> Result<(), Status> {
    let mut indexes = Vec::new();
    for i in 0..sub.entries.len() {
        if !streamed_current(ctx, sub, i, tx, true).await? {
            indexes.push(i);
        }
    }
    let (_, readings) = read(ctx, &sub.entries, indexes, Namer::default()).await?;
    for r in readings {
        let leaves = sub.entries[r.index].filter.apply(&r.leaves);
        let all: Vec<&Leaf> = leaves.values().collect();
        for n in notifications(
            sub.encoding,
            &sub.prefix,
            r.time,
            &all,
            Vec::new(),
            ctx.options.max_updates,
        ) {
            if tx.send(Ok(n)).await.is_err() {
                return Ok(());
            }
        }
        sub.entries[r.index].last = leaves;
    }
    Ok(())
}

/// Reads entry `i` as streamed state if it is (sending its values when
/// `send`); false if it is not streamed. On-change entries without a feed
/// keep the hashes of what was read.
pub(crate) async fn streamed_current(
    ctx: &Context,
    sub: &mut Subscription,
    i: usize,
    tx: &Sender,
    send: bool,
) -> Result<bool, Status> {
    let e = &sub.entries[i];
    if !e.query.has_state {
        return Ok(false);
    }
    let track = sub.mode == Mode::Stream && e.trigger == Trigger::OnChange && !e.feed;
    let sent = streamed::send(
        ctx,
        &ctx.options,
        &e.query,
        sub.encoding,
        &sub.prefix,
        tx,
        send,
        None,
        track,
    )
    .await?;
    let e = &mut sub.entries[i];
    e.streamed = sent.streamed;
    e.hashes = sent.hashes;
    Ok(sent.streamed)
}
