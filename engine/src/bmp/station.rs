//! One BMP station: a task that connects (with backoff), sends Initiation,
//! Peer Up for every established session and a dump of the tables it
//! asked for, then follows the RIB's change feed until it is stopped
//! (Termination) or the connection fails.
//!
//! The RIB task only ever `try_send`s into the station's bounded feed
//! queue. When the queue overflows the feed marks it lagged; the station
//! then closes the connection (counted in `drops`) and, on reconnect,
//! starts over with a fresh dump: the station's view is never silently
//! incomplete, and BGP never waits for it.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::BytesMut;
use ipnet::IpNet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::encode::{self, PeerHeader, Stat, UpdateEncoder};
use super::pack::{Pending, Route, View};
use super::{RibSource, StationSettings, StationStats};
use crate::rib::{Advertised, Attrs, PeerIdx, Rib, RouteChange, RouteKey, SessionUp};
use crate::rib_task::RibHandle;
use crate::wire::{Capabilities, CodecConfig, Family, Open, PeerKind};

/// Changes queued for a station before it counts as overflowed.
pub const QUEUE: usize = 262_144;
/// Prefixes read from the RIB task per step of the initial dump.
const DUMP_BATCH: usize = 2048;
/// Route reports the initial dump holds back for packing (about 64 MB).
const DUMP_PACK: usize = 1 << 20;
/// Longest wait for a connection to a station.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a write may stall before the station counts as dead.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Reconnect backoff bounds.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Output buffered before it is written.
const FLUSH_AT: usize = 64 * 1024;
/// The families reported.
const FAMILIES: [Family; 2] = [Family::IPV4_UNICAST, Family::IPV6_UNICAST];

/// Why a connection ended.
#[derive(Debug)]
enum End {
    /// Told to stop: Termination was sent.
    Stopped,
    /// Failed or closed; retry.
    Failed(String),
}

/// An established session as the station reports it.
struct Peer {
    header: PeerHeader,
    encoder: UpdateEncoder,
    /// For what we send it (the Adj-RIB-Out dump).
    out_encoder: UpdateEncoder,
}

impl Peer {
    fn of(s: &SessionUp) -> Peer {
        let n = &s.info.negotiated;
        let codec = CodecConfig {
            four_octet_as: n.four_octet_as,
            extended_message: n.extended_message,
            // What the peer sends carries path ids where we receive them.
            add_path_send: n.add_path_receive.clone(),
            add_path_receive: Vec::new(),
            peer: PeerKind::External,
        };
        let out_codec = CodecConfig {
            add_path_send: n.add_path_send.clone(),
            ..codec.clone()
        };
        let flags = if n.four_octet_as { 0 } else { encode::FLAG_A };
        Peer {
            header: PeerHeader {
                kind: encode::PEER_GLOBAL,
                flags,
                address: s.info.remote.ip(),
                asn: s.asn,
                bgp_id: s.info.remote_router_id,
                time: s.since,
            },
            encoder: UpdateEncoder::new(codec),
            out_encoder: UpdateEncoder::new(out_codec),
        }
    }
}

/// The connection's state: who is up, and what is being written.
struct Conn {
    settings: StationSettings,
    stats: Arc<StationStats>,
    peers: HashMap<PeerIdx, Peer>,
    /// The Loc-RIB instance peer (RFC 9069).
    loc: Peer,
    out: BytesMut,
    scratch: BytesMut,
    messages: u64,
    /// Route reports not yet encoded (packed by attribute set).
    pending: Pending,
    /// Pre-policy Adj-RIB-Out: prefixes whose best path changed, and
    /// peers that came up, since it was last brought up to date.
    pre_touched: HashSet<(Family, IpNet)>,
    pre_new: Vec<PeerIdx>,
}

fn restarted() -> End {
    End::Failed("BGP restarted".into())
}

/// Runs a station until `stop` turns true.
pub(crate) async fn run(
    settings: StationSettings,
    stats: Arc<StationStats>,
    source: RibSource,
    mut stop: watch::Receiver<bool>,
) {
    let addr = SocketAddr::new(settings.address, settings.port);
    let mut backoff = BACKOFF_MIN;
    loop {
        if *stop.borrow() {
            return;
        }
        let connect = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr));
        let result = tokio::select! {
            r = connect => r,
            _ = stop.changed() => return,
        };
        let error = match result {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                stats.connections.fetch_add(1, Ordering::Relaxed);
                stats.up.store(true, Ordering::Relaxed);
                tracing::info!(station = %addr, "BMP station connected");
                let began = Instant::now();
                let end = session(stream, &settings, &stats, &source, &mut stop).await;
                stats.up.store(false, Ordering::Relaxed);
                match end {
                    End::Stopped => return,
                    End::Failed(e) => {
                        if began.elapsed() > BACKOFF_MAX {
                            backoff = BACKOFF_MIN;
                        }
                        e
                    }
                }
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "connection timed out".to_string(),
        };
        tracing::info!(station = %addr, error = %error, retry_in = ?backoff, "BMP station down");
        stats.set_error(error);
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// One connection, from Initiation to its end.
async fn session(
    stream: TcpStream,
    settings: &StationSettings,
    stats: &Arc<StationStats>,
    source: &RibSource,
    stop: &mut watch::Receiver<bool>,
) -> End {
    let (mut rd, mut wr) = stream.into_split();
    let mut conn = Conn::new(settings.clone(), stats.clone());
    encode::initiation(&mut conn.out, &sys_name(), &sys_descr());
    conn.messages += 1;
    if let Err(e) = conn.write(&mut wr, stop).await {
        return e;
    }
    // Stations only listen; anything they send is read and ignored, and
    // the end of their stream is the end of the connection.
    let mut sink = [0u8; 512];
    let rib = loop {
        if let Some(rib) = source() {
            break rib;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return conn.terminate(&mut wr).await,
            r = rd.read(&mut sink) => if matches!(r, Ok(0) | Err(_)) {
                return End::Failed("station closed the connection".into());
            },
        }
    };
    let sent = settings.out_post_policy;
    let Some((mut feed, sessions, local)) = rib
        .query(move |rib: &mut Rib| {
            (
                rib.listen_routes_with(QUEUE, sent),
                rib.sessions_up(),
                rib.local(),
            )
        })
        .await
    else {
        return End::Failed("BGP restarted".into());
    };
    conn.loc = loc_peer(local.asn, local.router_id);
    if settings.loc_rib {
        let open = fabricated_open(local.asn, local.router_id);
        let unspecified = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
        if encode::peer_up(
            &mut conn.out,
            &conn.loc.header,
            unspecified,
            0,
            &open,
            &open,
            // RFC 9069 4.2's VRF/Table Name TLV is left out: Debian 12's
            // Wireshark decodes Peer Up information TLVs as BGP messages
            // (malformed), and pmacct does not need it.
            None,
        )
        .is_ok()
        {
            conn.messages += 1;
        }
    }
    for s in &sessions {
        conn.peer_up(s);
    }
    if let Err(e) = dump(&mut conn, &rib, &mut wr, stop).await {
        return e;
    }
    let mut tick = (settings.statistics_interval > 0).then(|| {
        let every = Duration::from_secs(settings.statistics_interval.into());
        tokio::time::interval_at(tokio::time::Instant::now() + every, every)
    });
    let mut batch = Vec::with_capacity(1024);
    // A handle keeps its RIB task alive: when BGP restarts (new AS or
    // router id) the station must let go of the old one and start over.
    let mut check = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = check.tick() => {
                if !source().is_some_and(|r| r.same(&rib)) {
                    return End::Failed("BGP restarted".into());
                }
            }
            n = feed.recv_many(&mut batch, 1024) => {
                if n == 0 {
                    return End::Failed("BGP restarted".into());
                }
                if let Err(e) = conn.changes(&mut batch) {
                    return e;
                }
                if let Err(e) = follow_out_pre(&mut conn, &rib, &mut wr, stop).await {
                    return e;
                }
            }
            _ = async {
                match tick.as_mut() {
                    Some(t) => {
                        t.tick().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            } => {
                conn.statistics(&rib).await;
            }
            _ = stop.changed() => return conn.terminate(&mut wr).await,
            r = rd.read(&mut sink) => if matches!(r, Ok(0) | Err(_)) {
                return End::Failed("station closed the connection".into());
            },
        }
        if let Err(e) = conn.write(&mut wr, stop).await {
            return e;
        }
    }
}

/// The initial dump: every prefix of both tables, read from the RIB task a
/// batch at a time (changes meanwhile queue in the feed and follow).
async fn dump(
    conn: &mut Conn,
    rib: &RibHandle,
    wr: &mut OwnedWriteHalf,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), End> {
    let s = &conn.settings;
    if !(s.pre_policy || s.post_policy || s.loc_rib || s.out_pre_policy || s.out_post_policy) {
        return conn.write(wr, stop).await;
    }
    for family in FAMILIES {
        let mut from: Option<IpNet> = None;
        loop {
            let start = from;
            let Some((routes, next)) = rib
                .query(move |rib: &mut Rib| {
                    if family == Family::IPV4_UNICAST {
                        read_batch(rib.v4(), start)
                    } else {
                        read_batch(rib.v6(), start)
                    }
                })
                .await
            else {
                return Err(restarted());
            };
            for (net, paths) in routes {
                conn.dump_prefix(family, net, &paths);
            }
            // Prefixes of one attribute set lie all over the table: they
            // are packed across batches, up to a bound on memory.
            if conn.pending.len() >= DUMP_PACK {
                conn.drain(wr, stop).await?;
            }
            match next {
                Some(n) => from = Some(n),
                None => break,
            }
        }
        conn.drain(wr, stop).await?;
        // End-of-RIB per peer and view (RFC 7854 5: the dump is done).
        let peers: Vec<PeerIdx> = conn.peers.keys().copied().collect();
        for p in peers {
            if conn.settings.pre_policy {
                conn.end_of_rib(Some(p), family, 0);
            }
            if conn.settings.post_policy {
                conn.end_of_rib(Some(p), family, encode::FLAG_L);
            }
        }
        if conn.settings.loc_rib {
            conn.end_of_rib(None, family, 0);
        }
        conn.write(wr, stop).await?;
        if conn.settings.out_post_policy {
            let peers: Vec<PeerIdx> = conn.peers.keys().copied().collect();
            for p in peers {
                let Some(routes) = rib
                    .query(move |rib: &mut Rib| rib.advertised(p, family))
                    .await
                else {
                    return Err(restarted());
                };
                conn.dump_adj_out(p, family, &routes);
                conn.drain(wr, stop).await?;
                conn.end_of_rib(Some(p), family, encode::FLAG_O | encode::FLAG_L);
                conn.write(wr, stop).await?;
            }
        }
        if conn.settings.out_pre_policy {
            let peers: Vec<PeerIdx> = conn.peers.keys().copied().collect();
            dump_out_pre(conn, rib, &peers, family, wr, stop).await?;
        }
    }
    Ok(())
}

/// The pre-policy Adj-RIB-Out (RFC 8671, O flag) of `peers` for `family`,
/// whole, each ended by End-of-RIB.
async fn dump_out_pre(
    conn: &mut Conn,
    rib: &RibHandle,
    peers: &[PeerIdx],
    family: Family,
    wr: &mut OwnedWriteHalf,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), End> {
    for &p in peers {
        let routes = rib
            .query(move |rib: &mut Rib| rib.advertised_pre_policy(p, family, None))
            .await
            .ok_or_else(restarted)?;
        conn.out_pre(p, family, routes, true);
        conn.drain(wr, stop).await?;
        conn.end_of_rib(Some(p), family, encode::FLAG_O);
        conn.write(wr, stop).await?;
    }
    Ok(())
}

/// Brings the pre-policy Adj-RIB-Out up to date after a batch of changes:
/// peers that came up get theirs whole; for the others the prefixes whose
/// best path changed are read again (as they are now: a state read later
/// than the feed is never older than what the feed said).
async fn follow_out_pre(
    conn: &mut Conn,
    rib: &RibHandle,
    wr: &mut OwnedWriteHalf,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), End> {
    if !conn.settings.out_pre_policy {
        return Ok(());
    }
    let mut new = std::mem::take(&mut conn.pre_new);
    new.retain(|p| conn.peers.contains_key(p));
    let touched = std::mem::take(&mut conn.pre_touched);
    for family in FAMILIES {
        dump_out_pre(conn, rib, &new, family, wr, stop).await?;
    }
    let peers: Vec<PeerIdx> = conn
        .peers
        .keys()
        .filter(|p| !new.contains(p))
        .copied()
        .collect();
    if touched.is_empty() || peers.is_empty() {
        return Ok(());
    }
    for family in FAMILIES {
        let nets: Vec<IpNet> = touched
            .iter()
            .filter(|(f, _)| *f == family)
            .map(|(_, n)| *n)
            .collect();
        if nets.is_empty() {
            continue;
        }
        let asked = peers.clone();
        let states = rib
            .query(move |rib: &mut Rib| {
                asked
                    .iter()
                    .map(|&p| (p, rib.advertised_pre_policy(p, family, Some(&nets))))
                    .collect::<Vec<_>>()
            })
            .await
            .ok_or_else(restarted)?;
        for (p, routes) in states {
            conn.out_pre(p, family, routes, false);
        }
    }
    conn.flush_pending();
    Ok(())
}

/// One path of a prefix, as a dump reads it: source, path id, received
/// and accepted attributes, whether it is the best.
pub(crate) type DumpPath = (PeerIdx, u32, Attrs, Option<Attrs>, bool);

/// Up to [`DUMP_BATCH`] prefixes from `from` on, and where to go on.
#[allow(clippy::type_complexity)]
pub(crate) fn read_batch<K: RouteKey>(
    table: &crate::rib::Table<K>,
    from: Option<IpNet>,
) -> (Vec<(IpNet, Vec<DumpPath>)>, Option<IpNet>) {
    let mut out = Vec::with_capacity(DUMP_BATCH);
    let start = from.and_then(K::from_net);
    for (key, dest) in table.range_from(start) {
        if out.len() == DUMP_BATCH {
            return (out, Some(key.to_net()));
        }
        let best = dest.best().map(|b| (b.peer, b.path_id));
        let paths = dest
            .paths()
            .iter()
            .map(|p| {
                (
                    p.peer,
                    p.path_id,
                    p.received.clone(),
                    p.accepted.clone(),
                    best == Some((p.peer, p.path_id)),
                )
            })
            .collect();
        out.push((key.to_net(), paths));
    }
    (out, None)
}

impl Conn {
    fn new(settings: StationSettings, stats: Arc<StationStats>) -> Conn {
        Conn {
            settings,
            stats,
            peers: HashMap::new(),
            loc: loc_peer(0, Ipv4Addr::UNSPECIFIED),
            out: BytesMut::with_capacity(FLUSH_AT * 2),
            scratch: BytesMut::new(),
            messages: 0,
            pending: Pending::default(),
            pre_touched: HashSet::new(),
            pre_new: Vec::new(),
        }
    }

    /// Writes what is buffered; a stop meanwhile ends it with Termination.
    async fn write(
        &mut self,
        wr: &mut OwnedWriteHalf,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), End> {
        if self.out.is_empty() {
            return Ok(());
        }
        let write = tokio::time::timeout(WRITE_TIMEOUT, wr.write_all(&self.out));
        let r = tokio::select! {
            r = write => r,
            _ = stop.changed() => {
                // The station is not reading: nothing more is sent.
                return Err(End::Stopped);
            }
        };
        match r {
            Ok(Ok(())) => {
                self.out.clear();
                self.stats
                    .messages_sent
                    .fetch_add(std::mem::take(&mut self.messages), Ordering::Relaxed);
                Ok(())
            }
            Ok(Err(e)) => Err(End::Failed(format!("write failed: {e}"))),
            Err(_) => Err(End::Failed("station stalled: write timed out".into())),
        }
    }

    /// Sends Termination and closes.
    async fn terminate(&mut self, wr: &mut OwnedWriteHalf) -> End {
        self.out.clear();
        encode::termination(&mut self.out, "ocbgpd stops reporting to this station");
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            if wr.write_all(&self.out).await.is_ok() {
                self.stats.messages_sent.fetch_add(1, Ordering::Relaxed);
            }
            let _ = wr.shutdown().await;
        })
        .await;
        End::Stopped
    }

    fn peer_up(&mut self, s: &SessionUp) {
        let peer = Peer::of(s);
        let ok = encode::peer_up(
            &mut self.out,
            &peer.header,
            s.info.local,
            s.info.remote.port(),
            &s.info.sent_open,
            &s.info.received_open,
            None,
        );
        if ok.is_ok() {
            self.messages += 1;
        }
        self.peers.insert(s.peer, peer);
    }

    /// Turns a batch of feed changes into messages.
    fn changes(&mut self, batch: &mut Vec<RouteChange>) -> Result<(), End> {
        let mut loc: Option<(Family, IpNet, Option<Attrs>)> = None;
        let out_pre = self.settings.out_pre_policy;
        for change in batch.drain(..) {
            // The Loc-RIB view of a prefix is known once all its touched
            // paths (published together, in key order) have been seen.
            let key = match &change {
                RouteChange::Set { family, net, .. } | RouteChange::Gone { family, net, .. } => {
                    Some((*family, *net))
                }
                _ => None,
            };
            if let Some((f, n, best)) = loc.take() {
                if key == Some((f, n)) {
                    loc = Some((f, n, best));
                } else {
                    self.loc_rib(f, n, best.as_ref(), false);
                }
            }
            if let (true, Some(k)) = (out_pre, key) {
                self.pre_touched.insert(k);
            }
            match change {
                RouteChange::Lagged => {
                    self.stats.drops.fetch_add(1, Ordering::Relaxed);
                    return Err(End::Failed(
                        "queue overflow: the station reads too slowly; resynchronising".into(),
                    ));
                }
                RouteChange::PeerUp(s) => {
                    self.flush_pending();
                    self.peer_up(&s);
                    if out_pre {
                        self.pre_new.push(s.peer);
                    }
                }
                RouteChange::Sent { peer, bytes } => self.adj_out(peer, &bytes),
                // Not asked for.
                RouteChange::Installed { .. } | RouteChange::Forwarding { .. } => {}
                RouteChange::PeerDown { peer, reason } => {
                    // Its routes reported so far go before its Peer Down.
                    self.flush_pending();
                    if let Some(p) = self.peers.remove(&peer) {
                        let header = PeerHeader {
                            time: SystemTime::now(),
                            ..p.header
                        };
                        encode::peer_down(&mut self.out, &header, &reason);
                        self.messages += 1;
                    }
                }
                RouteChange::Set {
                    family,
                    net,
                    peer,
                    path_id,
                    received,
                    accepted,
                    best,
                    ..
                } => {
                    self.adj_in(
                        family,
                        (net, path_id),
                        peer,
                        Some(&received),
                        accepted.as_ref(),
                        false,
                    );
                    let entry = loc.get_or_insert((family, net, None));
                    if best {
                        entry.2 = accepted;
                    }
                }
                RouteChange::Gone {
                    family,
                    net,
                    peer,
                    path_id,
                } => {
                    self.adj_in(family, (net, path_id), peer, None, None, false);
                    loc.get_or_insert((family, net, None));
                }
            }
        }
        if let Some((f, n, best)) = loc {
            self.loc_rib(f, n, best.as_ref(), false);
        }
        self.flush_pending();
        Ok(())
    }

    fn dump_prefix(&mut self, family: Family, net: IpNet, paths: &[DumpPath]) {
        let mut best = None;
        for (peer, path_id, received, accepted, is_best) in paths {
            self.adj_in(
                family,
                (net, *path_id),
                *peer,
                Some(received),
                accepted.as_ref(),
                true,
            );
            if *is_best {
                best = accepted.as_ref();
            }
        }
        if let Some(b) = best {
            self.loc_rib(family, net, Some(b), true);
        }
    }

    /// Notes a report; those of a dump (`dump`) that announce go to the
    /// pending store's lean side (each route once).
    fn report(
        &mut self,
        view: View,
        family: Family,
        route: Route,
        attrs: Option<&Attrs>,
        dump: bool,
    ) {
        match (dump, attrs) {
            (true, Some(a)) => self.pending.put_dumped(view, family, route, a),
            _ => self.pending.put(view, family, route, attrs.cloned()),
        }
    }

    /// Adj-RIB-In pre- and post-policy reports of one path (`None`: gone).
    fn adj_in(
        &mut self,
        family: Family,
        route: Route,
        peer: PeerIdx,
        received: Option<&Attrs>,
        accepted: Option<&Attrs>,
        dump: bool,
    ) {
        if peer == PeerIdx::LOCAL || !self.peers.contains_key(&peer) {
            return;
        }
        let view = |flags| View {
            peer: Some(peer),
            flags,
        };
        if self.settings.pre_policy {
            self.report(view(0), family, route, received, dump);
        }
        if self.settings.post_policy {
            let accepted = accepted.filter(|_| received.is_some());
            self.report(view(encode::FLAG_L), family, route, accepted, dump);
        }
    }

    /// What a peer was sent (post-policy Adj-RIB-Out): its UPDATEs as
    /// written, in Route Monitoring messages with the O and L flags.
    fn adj_out(&mut self, peer: PeerIdx, bytes: &[u8]) {
        if !self.settings.out_post_policy {
            return;
        }
        let Some(p) = self.peers.get(&peer) else {
            return;
        };
        let header = PeerHeader {
            flags: p.header.flags | encode::FLAG_O | encode::FLAG_L,
            time: SystemTime::now(),
            ..p.header
        };
        for msg in encode::split_messages(bytes) {
            // UPDATEs only: refresh markers are no route information.
            if msg.get(18) == Some(&2) {
                encode::route_monitoring(&mut self.out, &header, msg);
                self.messages += 1;
            }
        }
    }

    /// The post-policy Adj-RIB-Out dump of one peer and family: what export
    /// sends it, with export's path id when add-path send is on (one path).
    fn dump_adj_out(&mut self, peer: PeerIdx, family: Family, routes: &[Advertised]) {
        let view = View {
            peer: Some(peer),
            flags: encode::FLAG_O | encode::FLAG_L,
        };
        for Advertised { net, post, .. } in routes {
            self.pending.put_dumped(view, family, (*net, 1), post);
        }
    }

    /// Pre-policy Adj-RIB-Out reports of one peer (`None`: not sent), with
    /// the path id export would give the best path; `dump`: its whole table.
    fn out_pre(
        &mut self,
        peer: PeerIdx,
        family: Family,
        routes: Vec<(IpNet, Option<Attrs>)>,
        dump: bool,
    ) {
        let view = View {
            peer: Some(peer),
            flags: encode::FLAG_O,
        };
        for (net, attrs) in routes {
            self.report(view, family, (net, 1), attrs.as_ref(), dump);
        }
    }

    /// The Loc-RIB report of a prefix: its best path, or withdrawn.
    fn loc_rib(&mut self, family: Family, net: IpNet, best: Option<&Attrs>, dump: bool) {
        if !self.settings.loc_rib {
            return;
        }
        let view = View {
            peer: None,
            flags: 0,
        };
        self.report(view, family, (net, 0), best, dump);
    }

    /// Encodes the pending reports: per view and family the withdrawals,
    /// then an UPDATE run per attribute set, each UPDATE in a Route
    /// Monitoring message. Views of peers that went are dropped.
    fn flush_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let now = SystemTime::now();
        for packed in self.pending.take() {
            self.encode_part(packed.view, packed.family, None, &packed.withdrawn, now);
            for (attrs, routes) in &packed.announced {
                self.encode_part(packed.view, packed.family, Some(attrs), routes, now);
            }
        }
    }

    /// [`Conn::flush_pending`] for what a dump holds back (a whole table
    /// may wait): written as it is encoded, not encoded whole first.
    async fn drain(
        &mut self,
        wr: &mut OwnedWriteHalf,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), End> {
        let now = SystemTime::now();
        for packed in self.pending.take() {
            self.encode_part(packed.view, packed.family, None, &packed.withdrawn, now);
            for (attrs, routes) in packed.announced {
                self.encode_part(packed.view, packed.family, Some(&attrs), &routes, now);
                if self.out.len() >= FLUSH_AT {
                    self.write(wr, stop).await?;
                }
            }
        }
        self.write(wr, stop).await
    }

    /// Route Monitoring messages for `routes` of a view: announced with
    /// `attrs`, or withdrawn.
    fn encode_part(
        &mut self,
        view: View,
        family: Family,
        attrs: Option<&Attrs>,
        routes: &[Route],
        now: SystemTime,
    ) {
        if routes.is_empty() {
            return;
        }
        let (base, encoder) = match view.peer {
            None => (&self.loc.header, &self.loc.encoder),
            Some(idx) => match self.peers.get(&idx) {
                Some(p) if view.flags & encode::FLAG_O != 0 => (&p.header, &p.out_encoder),
                Some(p) => (&p.header, &p.encoder),
                None => return,
            },
        };
        let header = PeerHeader {
            flags: base.flags | view.flags,
            time: now,
            ..*base
        };
        self.scratch.clear();
        let encoded = match attrs {
            Some(a) => encoder.announce(family, routes, a, &mut self.scratch),
            None => encoder.withdraw(family, routes, &mut self.scratch),
        };
        if let Err(e) = encoded {
            tracing::debug!(error = %e, "routes not reported to BMP");
            return;
        }
        for msg in encode::split_messages(&self.scratch) {
            encode::route_monitoring(&mut self.out, &header, msg);
            self.messages += 1;
        }
    }

    fn end_of_rib(&mut self, peer: Option<PeerIdx>, family: Family, flag: u8) {
        let p = match peer {
            Some(idx) => match self.peers.get(&idx) {
                Some(p) => p,
                None => return,
            },
            None => &self.loc,
        };
        let header = PeerHeader {
            flags: p.header.flags | flag,
            time: SystemTime::now(),
            ..p.header
        };
        self.scratch.clear();
        if p.encoder.end_of_rib(family, &mut self.scratch).is_ok() {
            encode::route_monitoring(&mut self.out, &header, &self.scratch);
            self.messages += 1;
        }
    }

    /// A Statistics Report per established peer (and the Loc-RIB's).
    async fn statistics(&mut self, rib: &RibHandle) {
        let peers: Vec<PeerIdx> = self.peers.keys().copied().collect();
        let Some((counts, loc)) = rib
            .query(move |rib: &mut Rib| {
                let counts: Vec<_> = peers
                    .iter()
                    .map(|p| {
                        (
                            *p,
                            rib.counts(*p, Family::IPV4_UNICAST),
                            rib.counts(*p, Family::IPV6_UNICAST),
                        )
                    })
                    .collect();
                (counts, (rib.v4().len() as u64, rib.v6().len() as u64))
            })
            .await
        else {
            return;
        };
        let now = SystemTime::now();
        for (idx, v4, v6) in counts {
            let Some(p) = self.peers.get(&idx) else {
                continue;
            };
            let header = PeerHeader {
                time: now,
                ..p.header
            };
            let mut stats = vec![
                Stat::Gauge(encode::STAT_ADJ_RIB_IN, v4.received + v6.received),
                Stat::Gauge(encode::STAT_LOC_RIB, v4.installed + v6.installed),
                Stat::FamilyGauge(
                    encode::STAT_ADJ_RIB_IN_AF,
                    Family::IPV4_UNICAST,
                    v4.received,
                ),
                Stat::FamilyGauge(
                    encode::STAT_ADJ_RIB_IN_AF,
                    Family::IPV6_UNICAST,
                    v6.received,
                ),
                Stat::FamilyGauge(encode::STAT_LOC_RIB_AF, Family::IPV4_UNICAST, v4.installed),
                Stat::FamilyGauge(encode::STAT_LOC_RIB_AF, Family::IPV6_UNICAST, v6.installed),
            ];
            if self.settings.out_post_policy {
                stats.extend([
                    Stat::Gauge(encode::STAT_ADJ_RIB_OUT_POST, v4.sent + v6.sent),
                    Stat::FamilyGauge(
                        encode::STAT_ADJ_RIB_OUT_POST_AF,
                        Family::IPV4_UNICAST,
                        v4.sent,
                    ),
                    Stat::FamilyGauge(
                        encode::STAT_ADJ_RIB_OUT_POST_AF,
                        Family::IPV6_UNICAST,
                        v6.sent,
                    ),
                ]);
            }
            encode::statistics(&mut self.out, &header, &stats);
            self.messages += 1;
        }
        if self.settings.loc_rib {
            let header = PeerHeader {
                time: now,
                ..self.loc.header
            };
            let stats = [
                Stat::Gauge(encode::STAT_LOC_RIB, loc.0 + loc.1),
                Stat::FamilyGauge(encode::STAT_LOC_RIB_AF, Family::IPV4_UNICAST, loc.0),
                Stat::FamilyGauge(encode::STAT_LOC_RIB_AF, Family::IPV6_UNICAST, loc.1),
            ];
            encode::statistics(&mut self.out, &header, &stats);
            self.messages += 1;
        }
    }
}

fn loc_peer(asn: u32, router_id: Ipv4Addr) -> Peer {
    Peer {
        header: PeerHeader {
            kind: encode::PEER_LOC_RIB,
            flags: 0,
            address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            asn,
            bgp_id: router_id,
            time: SystemTime::now(),
        },
        encoder: UpdateEncoder::new(CodecConfig {
            four_octet_as: true,
            extended_message: true,
            ..CodecConfig::default()
        }),
        out_encoder: UpdateEncoder::new(CodecConfig::default()),
    }
}

/// The OPEN that describes the Loc-RIB (RFC 9069 5.3): 4-octet AS numbers,
/// IPv4 and IPv6 unicast, extended messages.
fn fabricated_open(asn: u32, router_id: Ipv4Addr) -> Open {
    let caps = Capabilities {
        multiprotocol: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
        four_octet_as: Some(asn),
        extended_message: true,
        ..Capabilities::default()
    };
    Open::new(asn, 0, router_id, caps)
}

fn sys_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "ocbgpd".into())
}

fn sys_descr() -> String {
    format!("ocbgpd {}", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rib::PathAttrs;
    use crate::wire::{AsPath, Attributes, NextHop, Origin};

    fn conn(settings: StationSettings) -> Conn {
        let mut c = Conn::new(settings, Arc::new(StationStats::default()));
        c.loc = loc_peer(65001, Ipv4Addr::new(192, 0, 2, 1));
        c
    }

    fn settings() -> StationSettings {
        StationSettings {
            address: "192.0.2.9".parse().unwrap(),
            port: 11019,
            pre_policy: true,
            post_policy: true,
            loc_rib: true,
            out_pre_policy: false,
            out_post_policy: false,
            statistics_interval: 0,
        }
    }

    fn attrs(med: u32) -> Attrs {
        Arc::new(PathAttrs {
            attrs: Attributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::default()),
                med: Some(med),
                ..Attributes::default()
            },
            next_hop: Some(NextHop::V4(Ipv4Addr::new(192, 0, 2, 2))),
        })
    }

    /// (message type, peer type, flags) of every BMP message written.
    fn written(out: &[u8]) -> Vec<(u8, u8, u8)> {
        let mut v = Vec::new();
        let mut at = 0;
        while at + 6 <= out.len() {
            let len = u32::from_be_bytes([out[at + 1], out[at + 2], out[at + 3], out[at + 4]]);
            v.push((out[at + 5], out[at + 6], out[at + 7]));
            at += len as usize;
        }
        v
    }

    #[test]
    fn an_overflow_ends_the_connection_and_counts_a_drop() {
        let mut c = conn(settings());
        let r = c.changes(&mut vec![RouteChange::Lagged]);
        assert!(matches!(r, Err(End::Failed(e)) if e.contains("overflow")));
        assert_eq!(c.stats.drops.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn loc_rib_follows_the_best_path_of_each_prefix() {
        let mut c = conn(StationSettings {
            pre_policy: false,
            post_policy: false,
            ..settings()
        });
        let net: IpNet = "10.0.0.0/8".parse().unwrap();
        let set = |peer, best| RouteChange::Set {
            family: Family::IPV4_UNICAST,
            net,
            peer: PeerIdx(peer),
            path_id: 0,
            received: attrs(1),
            accepted: Some(attrs(1)),
            best,
            multipath: best,
            stale: false,
            validation: None,
        };
        // Two paths touched, one best: one announcement.
        c.changes(&mut vec![set(1, true), set(2, false)]).unwrap();
        let w = written(&c.out);
        assert_eq!(w, vec![(0, encode::PEER_LOC_RIB, 0)]);
        // The prefix has no best path left: a withdrawal (an UPDATE with
        // withdrawn routes, no attributes).
        c.out.clear();
        c.changes(&mut vec![
            set(2, false),
            RouteChange::Gone {
                family: Family::IPV4_UNICAST,
                net,
                peer: PeerIdx(1),
                path_id: 0,
            },
        ])
        .unwrap();
        assert_eq!(written(&c.out).len(), 1);
        let update = &c.out[6 + 42..];
        // Withdrawn routes length 2 (one /8), then no attributes.
        assert_eq!(&update[19..21], &[0, 2]);
    }

    #[test]
    fn prefixes_sharing_attributes_share_a_message() {
        let mut c = conn(StationSettings {
            pre_policy: false,
            post_policy: false,
            ..settings()
        });
        let (one, other) = (attrs(1), attrs(2));
        let set = |net: &str, a: &Attrs| RouteChange::Set {
            family: Family::IPV4_UNICAST,
            net: net.parse().unwrap(),
            peer: PeerIdx(1),
            path_id: 0,
            received: a.clone(),
            accepted: Some(a.clone()),
            best: true,
            multipath: true,
            stale: false,
            validation: None,
        };
        c.changes(&mut vec![
            set("10.0.0.0/8", &one),
            set("11.0.0.0/8", &other),
            set("12.0.0.0/8", &one),
        ])
        .unwrap();
        // Two attribute sets: two messages, the first with both prefixes
        // (two 2-octet NLRI at the end of its UPDATE).
        assert_eq!(written(&c.out).len(), 2);
        let first_len = u32::from_be_bytes([c.out[1], c.out[2], c.out[3], c.out[4]]) as usize;
        assert!(c.out[..first_len].ends_with(&[8, 10, 8, 12]));
    }

    #[test]
    fn routes_of_peers_not_up_are_not_reported() {
        let mut c = conn(settings());
        c.changes(&mut vec![RouteChange::Gone {
            family: Family::IPV4_UNICAST,
            net: "10.0.0.0/8".parse().unwrap(),
            peer: PeerIdx(7),
            path_id: 0,
        }])
        .unwrap();
        // Only the Loc-RIB view of the prefix.
        assert_eq!(written(&c.out), vec![(0, encode::PEER_LOC_RIB, 0)]);
    }
}
