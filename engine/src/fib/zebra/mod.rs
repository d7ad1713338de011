//! The zebra backend: best paths handed to FRR's zebra over its ZAPI
//! socket (as GoBGP does), and routes of other protocols taken from it.
//!
//! A task follows the RIB's change feed as the netlink backend does, and
//! keeps a connection to zebra: HELLO as route type BGP, ROUTER_ID_ADD,
//! INTERFACE_ADD, REDISTRIBUTE_ADD per configured protocol and family,
//! then the whole table as ROUTE_ADDs; afterwards only the differences.
//! Zebra resolves the next hops (recursively) and installs the routes;
//! its route owner notifications are the installed / failed counts.
//!
//! Zebra absent or gone is no error of the configuration: the task tries
//! again with a growing back-off (1 s to 30 s) and the state says it is
//! connecting and why the last try failed. The feed is read all along, so
//! BGP never waits for zebra; writes have a deadline, and a connection
//! that misses it is dropped. Zebra removes a client's routes when the
//! client goes, so every (re)connection sends the whole table again.
//!
//! Redistributed routes are originated in the RIB (origin INCOMPLETE,
//! zebra's metric as MED, next hop self) and withdrawn when zebra
//! withdraws them, when the connection ends (zebra sends them all again
//! on the next) and when the backend stops.

pub mod codec;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, watch};

use super::{
    forwarded, forwarding_changes, next_hops_of, FibStats, Gateways, RedistributionPolicy,
    LOOKUP_CHUNK,
};
use crate::policy::DefaultPolicy;
use crate::rib::{Interner, PathAttrs, PeerInfo, PolicyRoute, RouteChange, RoutePolicy};
use crate::rib_task::{RibCommand, RibHandle};
use crate::rpki::Vrps;
use crate::wire::{AsPath, Attributes, Origin};

/// A protocol whose routes are taken from zebra.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Connected routes.
    Connected,
    /// Static routes.
    Static,
    /// Kernel routes of other programs.
    Kernel,
    /// OSPFv2 (IPv4) and OSPFv3 (IPv6).
    Ospf,
}

impl Protocol {
    /// Its name in the model.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Connected => "CONNECTED",
            Protocol::Static => "STATIC",
            Protocol::Kernel => "KERNEL",
            Protocol::Ospf => "OSPF",
        }
    }

    /// The protocol of a ZAPI route type, if it is one of these.
    fn of_route_type(t: u8) -> Option<Protocol> {
        [
            Protocol::Connected,
            Protocol::Static,
            Protocol::Kernel,
            Protocol::Ospf,
        ]
        .into_iter()
        .find(|p| p.route_types().iter().any(|(_, r)| *r == t))
    }

    /// Its ZAPI route types for IPv4 and IPv6.
    fn route_types(self) -> [(u8, u8); 2] {
        use codec::{afi, route_type as t};
        match self {
            Protocol::Connected => [(afi::IP, t::CONNECT), (afi::IP6, t::CONNECT)],
            Protocol::Static => [(afi::IP, t::STATIC), (afi::IP6, t::STATIC)],
            Protocol::Kernel => [(afi::IP, t::KERNEL), (afi::IP6, t::KERNEL)],
            Protocol::Ospf => [(afi::IP, t::OSPF), (afi::IP6, t::OSPF6)],
        }
    }
}

/// The zebra backend's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZebraSettings {
    /// zebra's ZAPI socket.
    pub socket: PathBuf,
    /// Protocols redistributed into BGP.
    pub redistribute: Vec<Redistribute>,
}

/// One protocol redistributed into BGP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redistribute {
    /// The protocol.
    pub protocol: Protocol,
    /// The policy its routes go through (by name); `None`: all, as they
    /// are.
    pub import_policy: Option<String>,
}

/// The first wait before connecting again.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
/// The longest.
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How long connecting, or writing a batch, may take.
const DEADLINE: Duration = Duration::from_secs(10);
/// Messages read from zebra waiting for the task.
const INBOX: usize = 1024;

/// Why a connection to zebra failed or ended.
#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("zebra sent a malformed message: {0}")]
    Decode(#[from] codec::DecodeError),
    #[error("zebra did not take our messages within {0:?}")]
    Timeout(Duration),
    #[error("zebra closed the connection")]
    Closed,
}

/// A message from zebra: its command and body.
type Inbound = Result<(u16, Vec<u8>), LinkError>;

/// Reads messages until the connection fails, then reports why.
async fn reader(mut rd: OwnedReadHalf, tx: mpsc::Sender<Inbound>) {
    loop {
        let mut head = [0u8; codec::HEADER];
        let r = async {
            match rd.read_exact(&mut head).await {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Err(LinkError::Closed)
                }
                Err(e) => return Err(e.into()),
            }
            let h = codec::decode_header(&head)?;
            let mut body = vec![0u8; usize::from(h.length) - codec::HEADER];
            rd.read_exact(&mut body).await?;
            Ok((h.command, body))
        }
        .await;
        let end = r.is_err();
        if tx.send(r).await.is_err() || end {
            return;
        }
    }
}

/// A connection to zebra.
struct Link {
    wr: BufWriter<OwnedWriteHalf>,
    rx: mpsc::Receiver<Inbound>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Link {
    async fn connect(settings: &ZebraSettings) -> Result<Link, LinkError> {
        let stream = tokio::time::timeout(DEADLINE, UnixStream::connect(&settings.socket))
            .await
            .map_err(|_| LinkError::Timeout(DEADLINE))??;
        let (rd, wr) = stream.into_split();
        let (tx, rx) = mpsc::channel(INBOX);
        let mut link = Link {
            wr: BufWriter::with_capacity(64 * 1024, wr),
            rx,
            reader: tokio::spawn(reader(rd, tx)),
        };
        let mut hello = vec![
            codec::hello(codec::route_type::BGP, 0),
            codec::router_id_add(codec::afi::IP),
            codec::interface_add(),
        ];
        for r in &settings.redistribute {
            for (afi, t) in r.protocol.route_types() {
                hello.push(codec::redistribute_add(afi, t));
            }
        }
        link.send(hello).await?;
        Ok(link)
    }

    /// Writes messages, within the deadline.
    async fn send(&mut self, msgs: impl IntoIterator<Item = Vec<u8>>) -> Result<(), LinkError> {
        let wr = &mut self.wr;
        let write = async move {
            for m in msgs {
                wr.write_all(&m).await?;
            }
            wr.flush().await
        };
        tokio::time::timeout(DEADLINE, write)
            .await
            .map_err(|_| LinkError::Timeout(DEADLINE))?
            .map_err(LinkError::from)
    }
}

/// The next message from zebra, or never without a connection.
async fn next_inbound(link: &mut Option<Link>) -> Inbound {
    match link {
        Some(l) => l.rx.recv().await.unwrap_or(Err(LinkError::Closed)),
        None => std::future::pending().await,
    }
}

/// The table and the link.
struct Zebra {
    settings: ZebraSettings,
    metric: u32,
    rib: RibHandle,
    stats: Arc<FibStats>,
    /// What was sent over the current connection.
    sent: HashMap<IpNet, Gateways>,
    /// What zebra refused (what it installed is in `stats`).
    failed: HashSet<IpNet>,
    /// Next-hop tracking: the forwarding paths' next hops registered with
    /// zebra, and whether zebra last said it resolves each.
    tracked: HashMap<IpAddr, bool>,
    /// Routes taken from zebra: their protocol and attributes before
    /// the import policy.
    redistributed: HashMap<IpNet, (Protocol, PathAttrs)>,
    /// Those originated in the RIB (what their policy accepted).
    originated: HashSet<IpNet>,
    /// Routing policy, for the redistributed routes' import policies.
    policy: watch::Receiver<RedistributionPolicy>,
    interner: Interner,
    link: Option<Link>,
}

impl Zebra {
    fn publish(&self) {
        self.stats
            .failed
            .store(self.failed.len() as u64, Ordering::Relaxed);
        self.stats
            .connected
            .store(self.link.is_some(), Ordering::Relaxed);
    }

    fn set_error(&self, e: &LinkError) {
        *self
            .stats
            .last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
    }

    /// The connection ended: zebra dropped our routes, and its routes
    /// are withdrawn until it sends them again.
    fn disconnected(&mut self, e: &LinkError) {
        tracing::warn!(error = %e, "forwarding table: lost zebra; connecting again");
        self.set_error(e);
        self.link = None;
        self.sent.clear();
        let gone = self.stats.installed.prefixes();
        self.stats.installed.clear();
        self.stats.tell(&self.rib, gone);
        self.failed.clear();
        self.withdraw_redistributed();
        self.forget_next_hops();
        self.publish();
    }

    /// Without zebra nobody judges next hops: those it called unreachable
    /// no longer make their paths ineligible (registered again on the
    /// next connection).
    fn forget_next_hops(&mut self) {
        let back: Vec<IpAddr> = self
            .tracked
            .iter_mut()
            .filter(|(_, reachable)| !**reachable)
            .map(|(nh, reachable)| {
                *reachable = true;
                *nh
            })
            .collect();
        if !back.is_empty() {
            self.rib.send(RibCommand::NextHops(Vec::new(), back));
        }
    }

    /// Next hops of these forwarding paths not registered yet: now they
    /// are (zebra answers each with a NEXTHOP_UPDATE).
    fn track(&mut self, looked: &[(IpNet, Gateways)]) -> Option<Vec<u8>> {
        let new: Vec<IpAddr> = looked
            .iter()
            .flat_map(|(_, hops)| hops.iter().copied())
            .filter(|g| !self.tracked.contains_key(g))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        for g in &new {
            self.tracked.insert(*g, true);
        }
        (!new.is_empty()).then(|| codec::nexthop_register(true, &new))
    }

    fn withdraw_redistributed(&mut self) {
        self.redistributed.clear();
        for net in self.originated.drain() {
            self.rib.send(RibCommand::WithdrawOriginated(net));
        }
    }

    /// Originates `net` as its protocol's import policy says (or withdraws
    /// it, if the policy rejects it or zebra withdrew it).
    fn originate(&mut self, net: IpNet) {
        let out = self.redistributed.get(&net).and_then(|(protocol, attrs)| {
            let name = self
                .settings
                .redistribute
                .iter()
                .find(|r| r.protocol == *protocol)?
                .import_policy
                .as_ref();
            let Some(name) = name else {
                return Some(attrs.clone());
            };
            let ctx = self.policy.borrow();
            let chain = match ctx.policies.chain(std::slice::from_ref(name), DefaultPolicy::Reject) {
                Ok(c) => c,
                Err(e) => {
                    // Checked at commit: a chain that still fails keeps
                    // the routes out rather than let them in by mistake.
                    tracing::error!(error = %e, "redistribution: import policy unusable, rejecting");
                    return None;
                }
            };
            let source = PeerInfo::local(ctx.asn, ctx.router_id);
            let route = PolicyRoute {
                prefix: net,
                attrs: &Arc::new(attrs.clone()),
                source: &source,
                target: None,
                local_asn: ctx.asn,
                vrps: &Vrps::default(),
            };
            chain
                .apply(&route, &mut self.interner)
                .map(|a| (*a).clone())
        });
        match out {
            Some(attrs) => {
                self.originated.insert(net);
                self.rib.send(RibCommand::Originate(net, Box::new(attrs)));
            }
            None => {
                if self.originated.remove(&net) {
                    self.rib.send(RibCommand::WithdrawOriginated(net));
                }
            }
        }
    }

    /// Sends the differences for `nets` (nothing without a connection:
    /// the next one sends everything).
    async fn sync(&mut self, nets: impl IntoIterator<Item = IpNet>) {
        if self.link.is_none() {
            return;
        }
        let nets: Vec<IpNet> = nets.into_iter().collect();
        for chunk in nets.chunks(LOOKUP_CHUNK) {
            let Some(looked) = next_hops_of(&self.rib, chunk.to_vec()).await else {
                return;
            };
            self.sync_chunk(looked).await;
        }
    }

    /// [`Zebra::sync`] for prefixes looked up in the RIB.
    async fn sync_chunk(&mut self, looked: Vec<(IpNet, Gateways)>) {
        let mut msgs: Vec<Vec<u8>> = self.track(&looked).into_iter().collect();
        let mut changes = Vec::new();
        for (net, next_hops) in looked {
            let want = (!next_hops.is_empty()).then_some(next_hops);
            if want.as_ref() == self.sent.get(&net) {
                continue;
            }
            match &want {
                Some(gws) => msgs.push(codec::route_add(net, gws, self.metric)),
                None => msgs.push(codec::route_delete(net)),
            }
            changes.push((net, want));
        }
        if msgs.is_empty() {
            return;
        }
        let Some(link) = self.link.as_mut() else {
            return;
        };
        match link.send(msgs).await {
            Ok(()) => {
                let nets = changes.iter().map(|(n, _)| *n).collect();
                for (net, want) in changes {
                    match want {
                        Some(g) => {
                            self.sent.insert(net, g);
                        }
                        None => {
                            self.sent.remove(&net);
                            self.stats.installed.remove(&net);
                            self.failed.remove(&net);
                        }
                    }
                }
                self.publish();
                self.stats.tell(&self.rib, nets);
            }
            Err(e) => self.disconnected(&e),
        }
    }

    /// One message from zebra.
    fn handle(&mut self, command: u16, body: &[u8]) -> Result<(), codec::DecodeError> {
        match command {
            codec::cmd::ROUTE_NOTIFY_OWNER => {
                let (note, net) = codec::decode_notify_owner(body)?;
                match note {
                    codec::note::INSTALLED => {
                        if let Some(gateways) = self.sent.get(&net) {
                            self.stats.installed.insert(net, gateways.clone());
                        }
                        self.failed.remove(&net);
                    }
                    codec::note::FAIL_INSTALL | codec::note::BETTER_ADMIN_WON => {
                        tracing::debug!(%net, note, "forwarding table: zebra did not install a route");
                        self.stats.installed.remove(&net);
                        // Only a route still wanted counts as failed.
                        if self.sent.contains_key(&net) {
                            self.failed.insert(net);
                        }
                    }
                    codec::note::REMOVED => {
                        self.stats.installed.remove(&net);
                    }
                    _ => {}
                }
                self.publish();
                self.stats.tell(&self.rib, vec![net]);
            }
            codec::cmd::NEXTHOP_UPDATE => {
                let (nh, resolved_by) = codec::decode_nexthop_update(body)?;
                let reachable = resolved_by > 0;
                if let Some(was) = self.tracked.get_mut(&nh) {
                    if *was != reachable {
                        *was = reachable;
                        tracing::info!(next_hop = %nh, reachable, "next-hop tracking: zebra says the next hop changed");
                        let (lost, back) = if reachable {
                            (Vec::new(), vec![nh])
                        } else {
                            (vec![nh], Vec::new())
                        };
                        self.rib.send(RibCommand::NextHops(lost, back));
                    }
                }
            }
            codec::cmd::REDISTRIBUTE_ROUTE_ADD => {
                let r = codec::decode_route(body)?;
                let attrs = PathAttrs {
                    attrs: Attributes {
                        origin: Some(Origin::Incomplete),
                        as_path: Some(AsPath::default()),
                        med: r.metric,
                        ..Attributes::default()
                    },
                    next_hop: None,
                };
                tracing::debug!(prefix = %r.prefix, route_type = r.route_type, "forwarding table: route redistributed from zebra");
                if let Some(protocol) = Protocol::of_route_type(r.route_type) {
                    self.redistributed.insert(r.prefix, (protocol, attrs));
                    self.originate(r.prefix);
                }
            }
            codec::cmd::REDISTRIBUTE_ROUTE_DEL => {
                let r = codec::decode_route(body)?;
                self.redistributed.remove(&r.prefix);
                self.originate(r.prefix);
            }
            // Interfaces, router id, capabilities: nothing here needs
            // them.
            _ => {}
        }
        Ok(())
    }

    /// Connects and sends the whole table; on failure the error is kept
    /// for the state.
    async fn connect(&mut self) -> bool {
        match Link::connect(&self.settings).await {
            Ok(link) => {
                tracing::info!(socket = %self.settings.socket.display(), "forwarding table: connected to zebra");
                self.link = Some(link);
                self.sent.clear();
                // Every next hop is registered again on this connection.
                self.tracked.clear();
                let all = forwarded(&self.rib).await.unwrap_or_default();
                self.sync(all).await;
                self.publish();
                self.link.is_some()
            }
            Err(e) => {
                tracing::debug!(socket = %self.settings.socket.display(), error = %e, "forwarding table: cannot reach zebra");
                self.set_error(&e);
                false
            }
        }
    }
}

/// Follows `rib` into zebra until `stop` says so (true: delete our routes
/// first).
pub(super) async fn run(
    settings: ZebraSettings,
    metric: u32,
    rib: RibHandle,
    stats: Arc<FibStats>,
    mut stop: watch::Receiver<bool>,
    policy: watch::Receiver<RedistributionPolicy>,
) {
    let Some(mut feed) = rib
        .query(|rib| rib.listen_forwarding(super::FIB_FEED_CAPACITY))
        .await
    else {
        return;
    };
    let mut z = Zebra {
        settings,
        metric,
        rib: rib.clone(),
        stats,
        sent: HashMap::new(),
        failed: HashSet::new(),
        tracked: HashMap::new(),
        redistributed: HashMap::new(),
        originated: HashSet::new(),
        policy,
        interner: Interner::default(),
        link: None,
    };
    z.publish();
    let mut backoff = BACKOFF_MIN;
    let attempt = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(attempt);
    let mut batch: Vec<RouteChange> = Vec::with_capacity(1024);
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => {
                if *stop.borrow() {
                    let all: Vec<IpNet> = z.sent.keys().copied().collect();
                    if let Some(link) = z.link.as_mut() {
                        let _ = link.send(all.into_iter().map(codec::route_delete)).await;
                    }
                }
                z.withdraw_redistributed();
                z.forget_next_hops();
                return;
            }
            Ok(()) = z.policy.changed() => {
                // New routing policy: every redistributed route again.
                let nets: Vec<IpNet> = z.redistributed.keys().copied().collect();
                for net in nets {
                    z.originate(net);
                }
            }
            m = next_inbound(&mut z.link) => {
                let r = m.and_then(|(c, body)| z.handle(c, &body).map_err(LinkError::from));
                if let Err(e) = r {
                    z.disconnected(&e);
                    attempt.as_mut().reset(tokio::time::Instant::now() + backoff);
                }
            }
            n = feed.recv_many(&mut batch, 1024) => {
                if n == 0 {
                    return;
                }
                let (now, lagged) = forwarding_changes(&mut batch);
                if lagged {
                    tracing::info!("forwarding table: fell behind the RIB, reading it again");
                    let mut all: HashSet<IpNet> = z.sent.keys().copied().collect();
                    all.extend(forwarded(&rib).await.unwrap_or_default());
                    z.sync(all).await;
                } else if z.link.is_some() {
                    z.sync_chunk(now).await;
                }
                if z.link.is_none() && attempt.is_elapsed() {
                    attempt.as_mut().reset(tokio::time::Instant::now() + backoff);
                }
            }
            _ = &mut attempt, if z.link.is_none() => {
                if z.connect().await {
                    backoff = BACKOFF_MIN;
                } else {
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    attempt.as_mut().reset(tokio::time::Instant::now() + backoff);
                }
            }
        }
    }
}
