//! The peer task: RFC 4271 section 8's state machine for one neighbor.
//!
//! The task owns the neighbor's connections. Outgoing attempts run on a
//! task of their own (Connect); between attempts the peer waits with a
//! jittered, growing back-off (Active), accepting the peer's connections
//! meanwhile. Each connection does its OPEN exchange on its own task
//! ([`handshake`](super::handshake)), so that an incoming and an outgoing
//! one can collide: collisions are resolved here when an OPEN arrives
//! (RFC 4271 6.8). The connection that finishes becomes the session: a
//! reader task feeding the RIB and a writer task draining the Outbox.

use std::future::pending;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::config::PeerConfig;
use super::conn::{close_with, End};
use super::handshake::{self, Control, Event, Ready};
use super::open::{our_open, outgoing_wins};
use super::timers::{hold_duration, jitter, keepalive_interval, Backoff};
use super::{reader, writer};
use crate::event::{DownReason, RibEvent, RibSender, SessionInfo};
use crate::restart::RestartState;
use crate::rib::{Outbox, PeerIdx};
use crate::stats::{PeerStats, SessionState};
use crate::transport::{self, TransportError};
use crate::wire::{
    CeaseSubcode, ErrorKind, Family, Message, MessageDecoder, Negotiated, Notification, Open,
    RouteRefresh,
};

/// What a [`PeerHandle`](super::PeerHandle) asks of the peer task.
#[derive(Debug)]
pub(crate) enum Command {
    /// A connection from the peer, accepted by the listener.
    Accept(TcpStream),
    /// New configuration.
    SetConfig(Box<PeerConfig>),
    /// Administrative shutdown with an optional message (RFC 9003).
    Shutdown(Option<String>),
    /// Undo a shutdown.
    Enable,
    /// Administrative reset.
    Reset,
    /// Ask the peer to resend a family.
    RouteRefresh(Family),
    /// The peer sent more prefixes of a family than its limit allows:
    /// close with Cease/Maximum Number of Prefixes Reached (RFC 4486) and
    /// stay down for the configured restart time.
    PrefixLimit {
        /// The family.
        family: Family,
        /// The limit exceeded.
        limit: u32,
    },
    /// Remove the peer: close and end the task.
    Stop,
    /// The speaker stops to restart: a session with graceful restart
    /// closes without a NOTIFICATION (the peer keeps our routes), others
    /// as for `Stop`; then the task ends.
    StopGraceful,
}

/// Where a restarting peer's stale routes are (RFC 4724 4.2, RFC 9494 4.2);
/// the RIB keeps them, the peer task times them.
#[derive(Debug)]
enum GrPhase {
    /// The session went down: it should be back before `until` (the
    /// peer's restart time).
    Restarting {
        until: Instant,
        families: Vec<Family>,
        /// Families with a long-lived stale period after `until`.
        long_lived: Vec<(Family, Duration)>,
    },
    /// Past the restart time: families in their long-lived stale period.
    LongLived { until: Vec<(Family, Instant)> },
    /// The session is back: stale routes wait for End-of-RIB, at most
    /// until `until` (our stale routes time).
    Resumed { until: Instant },
}

impl GrPhase {
    fn deadline(&self) -> Option<Instant> {
        match self {
            GrPhase::Restarting { until, .. } | GrPhase::Resumed { until } => Some(*until),
            GrPhase::LongLived { until } => until.iter().map(|(_, t)| *t).min(),
        }
    }
}

/// Whether the end of a session with these parameters keeps the peer's
/// routes: graceful restart negotiated, and the connection lost without a
/// NOTIFICATION, or (both sides set the N bit, RFC 8538) with one that is
/// not a Hard Reset.
fn ends_gracefully(
    n: &Negotiated,
    sent: Option<&Notification>,
    received: Option<&Notification>,
) -> bool {
    let Some(gr) = &n.graceful_restart else {
        return false;
    };
    match sent.or(received) {
        None => true,
        Some(x) => gr.notification && x.kind != ErrorKind::Cease(CeaseSubcode::HardReset),
    }
}

/// Where a connection in the OPEN exchange is.
#[derive(Debug)]
enum Stage {
    OpenSent,
    /// The peer's OPEN was accepted; KEEPALIVE sent.
    OpenConfirm,
    /// Told to close; kept until its task reports, in case it finished the
    /// exchange before it heard (then it is closed here with this).
    Dumping(Option<Notification>),
}

#[derive(Debug)]
struct Candidate {
    id: u64,
    outgoing: bool,
    control: mpsc::UnboundedSender<Control>,
    stage: Stage,
}

/// The established session.
struct Session {
    outgoing: bool,
    reader: Option<JoinHandle<End>>,
    writer: Option<JoinHandle<End>>,
    close: Option<oneshot::Sender<Option<Notification>>>,
    outbox: Outbox,
    negotiated: Negotiated,
}

enum Wake {
    Command(Option<Command>),
    Handshake(u64, Event),
    Connected(Result<Result<TcpStream, TransportError>, tokio::task::JoinError>),
    Retry,
    SessionEnd(End),
    GrTimer,
}

/// The state of one neighbor's session.
pub(crate) struct Peer {
    idx: PeerIdx,
    config: Arc<PeerConfig>,
    rib: RibSender,
    stats: Arc<PeerStats>,
    commands: mpsc::UnboundedReceiver<Command>,
    events_tx: mpsc::UnboundedSender<(u64, Event)>,
    events: mpsc::UnboundedReceiver<(u64, Event)>,
    /// Administratively up.
    enabled: bool,
    candidates: Vec<Candidate>,
    connecting: Option<JoinHandle<Result<TcpStream, TransportError>>>,
    retry_at: Option<Instant>,
    backoff: Backoff,
    session: Option<Session>,
    next_id: u64,
    /// Longest wait before the first attempt.
    first_attempt: Duration,
    /// A connection was accepted (what a dynamic neighbor lives for).
    accepted: bool,
    /// Held down after a prefix limit closed the session: until the
    /// instant, or (`Some(None)`) until an operator or configuration acts.
    held: Option<Option<Instant>>,
    /// The speaker's own restart (the Restart State bit of our OPENs).
    restart: Arc<RestartState>,
    /// The peer's restart, while its routes are kept stale.
    gr: Option<GrPhase>,
    /// Set when the connection ended the session (with the NOTIFICATION
    /// the peer sent, if any), for the Down event's reason.
    closed_by: Option<Option<Notification>>,
}

impl Peer {
    pub(crate) fn new(
        idx: PeerIdx,
        config: PeerConfig,
        rib: RibSender,
        stats: Arc<PeerStats>,
        commands: mpsc::UnboundedReceiver<Command>,
        first_attempt: Duration,
        restart: Arc<RestartState>,
    ) -> Peer {
        let (events_tx, events) = mpsc::unbounded_channel();
        Peer {
            idx,
            enabled: config.enabled,
            config: Arc::new(config),
            rib,
            stats,
            commands,
            events_tx,
            events,
            candidates: Vec::new(),
            connecting: None,
            retry_at: None,
            backoff: Backoff::default(),
            session: None,
            next_id: 0,
            first_attempt,
            accepted: false,
            held: None,
            restart,
            gr: None,
            closed_by: None,
        }
    }

    /// Runs until stopped or every handle is dropped.
    pub(crate) async fn run(mut self) {
        if let Err(e) = self.config.validate() {
            self.fail_config(&e.to_string());
        }
        // ManualStart: the first attempt goes out at once (jittered a little
        // so that two speakers started together rarely collide).
        self.retry_at = Some(Instant::now() + jitter(self.first_attempt, 0.0, 1.0));
        self.publish();
        loop {
            let wake = tokio::select! {
                c = self.commands.recv() => Wake::Command(c),
                Some((id, e)) = self.events.recv() => Wake::Handshake(id, e),
                r = join_opt(&mut self.connecting) => Wake::Connected(r),
                _ = sleep_opt(self.retry_at) => Wake::Retry,
                end = session_end(&mut self.session) => Wake::SessionEnd(end),
                _ = sleep_opt(self.gr.as_ref().and_then(GrPhase::deadline)) => Wake::GrTimer,
            };
            match wake {
                Wake::Command(None | Some(Command::Stop)) => {
                    // Nothing runs again: the state goes from what it was
                    // straight to Idle (not through Active).
                    self.enabled = false;
                    let n = Notification::cease(CeaseSubcode::PeerDeconfigured);
                    self.close_all(Some(n), "peer removed from the configuration")
                        .await;
                    self.stats.set_state(SessionState::Idle);
                    return;
                }
                Wake::Command(Some(Command::StopGraceful)) => {
                    self.enabled = false;
                    let graceful = self
                        .session
                        .as_ref()
                        .is_some_and(|s| s.negotiated.graceful_restart.is_some());
                    if graceful {
                        self.close_session(None, "speaker restarting (graceful restart)", true)
                            .await;
                    }
                    let n = Notification::cease(CeaseSubcode::AdministrativeShutdown);
                    self.close_all(Some(n), "speaker stopping").await;
                    self.stats.set_state(SessionState::Idle);
                    return;
                }
                Wake::GrTimer => self.gr_timer(),
                Wake::Command(Some(c)) => self.command(c).await,
                Wake::Handshake(id, e) => self.handshake_event(id, e).await,
                Wake::Connected(r) => self.connected(r),
                Wake::Retry => self.retry(),
                Wake::SessionEnd(end) => {
                    let reason = end.reason.clone();
                    let graceful = self.session.as_ref().is_some_and(|s| {
                        ends_gracefully(&s.negotiated, end.send.as_ref(), end.received.as_ref())
                    });
                    self.closed_by = Some(end.received);
                    self.close_session(end.send, &reason, graceful).await;
                    self.schedule_retry();
                }
            }
            if self.config.dynamic && self.accepted && self.quiet() {
                // A dynamic neighbor's connection is gone: so is it.
                tracing::info!(peer = %self.config.remote, "dynamic neighbor gone");
                self.stats.set_state(SessionState::Idle);
                return;
            }
            self.publish();
        }
    }

    fn fail_config(&self, error: &str) {
        tracing::warn!(peer = %self.config.remote, %error, "invalid peer configuration; session stays idle");
        self.stats
            .update_facts(|f| f.last_error = Some(format!("invalid configuration: {error}")));
    }

    /// Whether the session may run at all.
    fn runnable(&self) -> bool {
        let held = match self.held {
            None => false,
            Some(None) => true,
            Some(Some(until)) => Instant::now() < until,
        };
        self.enabled && !held && self.config.validate().is_ok()
    }

    /// Whether nothing is under way: no session, no connection, no attempt.
    fn quiet(&self) -> bool {
        self.session.is_none()
            && self.connecting.is_none()
            && self
                .candidates
                .iter()
                .all(|c| matches!(c.stage, Stage::Dumping(_)))
    }

    /// Reports the state: the most advanced of what is under way.
    fn publish(&self) {
        let live = |s: fn(&Stage) -> bool| self.candidates.iter().any(|c| s(&c.stage));
        let state = if self.session.is_some() {
            SessionState::Established
        } else if live(|s| matches!(s, Stage::OpenConfirm)) {
            SessionState::OpenConfirm
        } else if live(|s| matches!(s, Stage::OpenSent)) {
            SessionState::OpenSent
        } else if self.connecting.is_some() {
            SessionState::Connect
        } else if self.runnable() {
            SessionState::Active
        } else {
            SessionState::Idle
        };
        if self.stats.state() != state {
            tracing::debug!(peer = %self.config.remote, state = state.as_str(), "session state");
            self.stats.set_state(state);
        }
    }

    /// Plans the next outgoing attempt after a failure, if one is due.
    fn schedule_retry(&mut self) {
        if self.runnable() && !self.config.passive && self.quiet() {
            let wait = self.backoff.next(&self.config);
            self.retry_at = Some(Instant::now() + wait);
        }
    }

    /// Plans an attempt soon, after a reset or an enable.
    fn retry_soon(&mut self) {
        self.backoff.reset();
        self.retry_at = Some(Instant::now() + jitter(Duration::from_secs(1), 0.0, 1.0));
    }

    fn retry(&mut self) {
        self.retry_at = None;
        if matches!(self.held, Some(Some(until)) if Instant::now() >= until) {
            tracing::info!(peer = %self.config.remote, "prefix limit restart timer expired");
            self.held = None;
        }
        if !self.runnable() || self.config.passive || self.config.dynamic || !self.quiet() {
            return;
        }
        let config = self.config.clone();
        tracing::debug!(peer = %config.remote, "connecting");
        self.connecting = Some(tokio::spawn(
            async move { transport::connect(&config).await },
        ));
    }

    fn connected(&mut self, r: Result<Result<TcpStream, TransportError>, tokio::task::JoinError>) {
        match r {
            Ok(Ok(stream)) => {
                if !self.runnable() || self.session.is_some() {
                    close_with(stream, None, self.stats.clone());
                } else {
                    self.start_candidate(stream, true);
                }
            }
            Ok(Err(e)) => {
                tracing::debug!(peer = %self.config.remote, error = %e, "connection attempt failed");
                self.stats
                    .update_facts(|f| f.last_error = Some(e.to_string()));
                self.schedule_retry();
            }
            // Aborted on purpose.
            Err(_) => {}
        }
    }

    fn start_candidate(&mut self, stream: TcpStream, outgoing: bool) {
        let id = self.next_id;
        self.next_id += 1;
        let (control, control_rx) = mpsc::unbounded_channel();
        let ctx = handshake::Context {
            id,
            config: self.config.clone(),
            open: our_open(&self.config, self.restart.restarting()),
            stats: self.stats.clone(),
            events: self.events_tx.clone(),
        };
        tokio::spawn(handshake::run(stream, ctx, control_rx));
        self.candidates.push(Candidate {
            id,
            outgoing,
            control,
            stage: Stage::OpenSent,
        });
    }

    fn dump(&mut self, id: u64, n: Option<Notification>) {
        if let Some(c) = self.candidates.iter_mut().find(|c| c.id == id) {
            let _ = c.control.send(Control::Dump(n.clone()));
            c.stage = Stage::Dumping(n);
        }
    }

    fn collision() -> Option<Notification> {
        Some(Notification::cease(
            CeaseSubcode::ConnectionCollisionResolution,
        ))
    }

    fn accept(&mut self, stream: TcpStream) {
        if !self.runnable() {
            tracing::debug!(peer = %self.config.remote, "connection refused: peer disabled");
            let n = Notification::cease(CeaseSubcode::ConnectionRejected);
            close_with(stream, Some(n), self.stats.clone());
            return;
        }
        if let Err(e) = transport::prepare_accepted(&stream, &self.config) {
            tracing::warn!(peer = %self.config.remote, error = %e, "cannot set up accepted connection");
            return;
        }
        // A newer connection from the peer replaces one still in the OPEN
        // exchange: the peer gave up on the older.
        let older: Vec<u64> = self
            .candidates
            .iter()
            .filter(|c| !c.outgoing && !matches!(c.stage, Stage::Dumping(_)))
            .map(|c| c.id)
            .collect();
        for id in older {
            self.dump(id, Self::collision());
        }
        self.accepted = true;
        self.start_candidate(stream, false);
    }

    async fn handshake_event(&mut self, id: u64, e: Event) {
        match e {
            Event::OpenReceived(open) => self.open_received(id, &open).await,
            Event::Ready(ready) => self.ready(id, *ready).await,
            Event::Closed(end) => {
                self.candidates.retain(|c| c.id != id);
                if !end.dumped {
                    tracing::info!(peer = %self.config.remote, reason = %end.reason, "connection failed in OPEN exchange");
                    self.stats
                        .update_facts(|f| f.last_error = Some(end.reason.clone()));
                }
                self.schedule_retry();
            }
        }
    }

    /// Collision detection (RFC 4271 6.8) once the peer's identifier is
    /// known from its OPEN on connection `id`.
    async fn open_received(&mut self, id: u64, open: &Open) {
        let Some(outgoing) = self
            .candidates
            .iter()
            .find(|c| c.id == id && matches!(c.stage, Stage::OpenSent))
            .map(|c| c.outgoing)
        else {
            return;
        };
        let ours_win = outgoing_wins(
            self.config.router_id,
            self.config.local_asn(),
            open.bgp_id,
            open.asn(),
        );
        // The direction that survives a collision; both sides agree on it.
        let survives = |outgoing: bool| outgoing == ours_win;

        if let Some(s) = &self.session {
            let restarted = self.config.graceful_restart.is_some()
                && open.capabilities.graceful_restart.is_some();
            if restarted {
                // RFC 4724 4.2: a new connection from a graceful-restart
                // peer means it restarted; the old session is gone.
                self.close_session(
                    None,
                    "peer restarted (new connection with graceful restart)",
                    true,
                )
                .await;
            } else if s.outgoing != outgoing && survives(outgoing) {
                // Collision detection in Established: without it two
                // speakers that connected at once could each keep a
                // different connection.
                self.close_session(
                    Self::collision(),
                    "connection collision: the other connection wins",
                    false,
                )
                .await;
            } else {
                self.dump(id, Self::collision());
                return;
            }
        }
        let rivals: Vec<(u64, bool)> = self
            .candidates
            .iter()
            .filter(|c| c.id != id && matches!(c.stage, Stage::OpenConfirm))
            .map(|c| (c.id, c.outgoing))
            .collect();
        for (other, other_outgoing) in rivals {
            // Same direction cannot collide by identifier: the newer wins.
            let new_wins = other_outgoing == outgoing || survives(outgoing);
            if new_wins {
                self.dump(other, Self::collision());
            } else {
                self.dump(id, Self::collision());
                return;
            }
        }
        if let Some(c) = self.candidates.iter_mut().find(|c| c.id == id) {
            c.stage = Stage::OpenConfirm;
            let _ = c.control.send(Control::Proceed);
        }
    }

    async fn ready(&mut self, id: u64, ready: Ready) {
        let pos = self.candidates.iter().position(|c| c.id == id);
        let Some(c) = pos.map(|p| self.candidates.remove(p)) else {
            close_with(ready.stream, Self::collision(), self.stats.clone());
            return;
        };
        if let Stage::Dumping(n) = c.stage {
            close_with(ready.stream, n, self.stats.clone());
            return;
        }
        if self.session.is_some() || !self.runnable() {
            close_with(ready.stream, Self::collision(), self.stats.clone());
            return;
        }
        self.establish(ready, c.outgoing);
    }

    fn establish(&mut self, ready: Ready, outgoing: bool) {
        let Ready {
            stream,
            buf,
            remote_open,
            local_open,
            negotiated,
        } = ready;
        let addrs = stream
            .local_addr()
            .and_then(|l| stream.peer_addr().map(|r| (l, r)));
        // A dual-stack listener's IPv4 connections have IPv4-mapped
        // addresses: state and next hops want the IPv4 ones.
        let plain = |a: SocketAddr| SocketAddr::new(transport::unmap(a.ip()), a.port());
        let (local, remote): (SocketAddr, SocketAddr) = match addrs {
            Ok((l, r)) => (plain(l), plain(r)),
            Err(e) => {
                tracing::warn!(peer = %self.config.remote, error = %e, "connection lost on establishing");
                self.schedule_retry();
                return;
            }
        };
        let (rd, wr) = stream.into_split();
        let (outbox, outbox_rx) = mpsc::unbounded_channel();
        let codec = negotiated.codec_config(self.config.peer_kind());
        let info = SessionInfo {
            negotiated: negotiated.clone(),
            local,
            remote,
            remote_router_id: remote_open.bgp_id,
            sent_open: local_open,
            received_open: remote_open.clone(),
        };
        // Management sees the session up no later than the RIB does.
        self.stats.update_facts(|f| {
            f.negotiated = Some(negotiated.clone());
            f.remote_capabilities = Some(remote_open.capabilities.clone());
            f.local_address = Some(local);
            f.remote_address = Some(remote);
            f.remote_router_id = Some(remote_open.bgp_id);
        });
        self.stats.set_state(SessionState::Established);
        let _ = self.rib.send(RibEvent::Established {
            peer: self.idx,
            info: Box::new(info),
            out: outbox.clone(),
        });

        let reader = tokio::spawn(reader::run(
            rd,
            buf,
            MessageDecoder::new(codec.clone()),
            reader::Context {
                idx: self.idx,
                peer: self.config.remote,
                rib: self.rib.clone(),
                stats: self.stats.clone(),
                negotiated: negotiated.clone(),
                hold: hold_duration(negotiated.hold_time),
            },
        ));
        let (close, close_rx) = oneshot::channel();
        let writer = tokio::spawn(writer::run(
            wr,
            outbox_rx,
            close_rx,
            writer::Context {
                stats: self.stats.clone(),
                keepalive: keepalive_interval(&self.config, negotiated.hold_time),
                max_message_len: codec.max_message_len(),
            },
        ));
        tracing::info!(
            peer = %self.config.remote,
            asn = negotiated.peer_asn,
            hold_time = negotiated.hold_time,
            families = ?negotiated.families,
            "session established"
        );
        self.session = Some(Session {
            outgoing,
            reader: Some(reader),
            writer: Some(writer),
            close: Some(close),
            outbox,
            negotiated,
        });
        self.backoff.reset();
        self.retry_at = None;
        if let Some(c) = self.connecting.take() {
            c.abort();
        }
        if self.gr.is_some() {
            // The peer is back: its stale routes wait for its End-of-RIB
            // (the RIB drops those its new OPEN no longer covers).
            let wait = self
                .config
                .graceful_restart
                .as_ref()
                .map_or(0, |gr| gr.stale_routes_time);
            tracing::info!(peer = %self.config.remote, stale_routes_time = wait, "graceful restart: peer back, waiting for its End-of-RIB");
            self.gr = Some(GrPhase::Resumed {
                until: Instant::now() + Duration::from_secs(u64::from(wait)),
            });
        }
    }

    /// What the end of a session with `n` keeps of the peer's routes, and
    /// how long: the families of its graceful restart capability (and of
    /// its long-lived one) that the session carried.
    fn retained(&self, n: &Negotiated) -> Option<(Vec<Family>, GrPhase)> {
        let gr = n.graceful_restart.as_ref()?;
        let ours = self.config.graceful_restart.as_ref()?;
        let mut families: Vec<Family> = gr
            .families
            .iter()
            .map(|f| f.family)
            .filter(|f| n.families.contains(f))
            .collect();
        let long_lived: Vec<(Family, Duration)> = n
            .long_lived_graceful_restart
            .iter()
            .flatten()
            .filter(|f| n.families.contains(&f.family))
            .map(|f| {
                let secs = f.stale_time.min(ours.long_lived_stale_time);
                (f.family, Duration::from_secs(u64::from(secs)))
            })
            .filter(|(_, d)| !d.is_zero())
            .collect();
        for (f, _) in &long_lived {
            if !families.contains(f) {
                families.push(*f);
            }
        }
        if families.is_empty() {
            return None;
        }
        let phase = GrPhase::Restarting {
            until: Instant::now() + Duration::from_secs(u64::from(gr.restart_time)),
            families: families.clone(),
            long_lived,
        };
        Some((families, phase))
    }

    /// A graceful restart timer ran out.
    fn gr_timer(&mut self) {
        let now = Instant::now();
        let peer = self.idx;
        let remote = self.config.remote;
        match self.gr.take() {
            Some(GrPhase::Restarting {
                until,
                families,
                long_lived,
            }) if now >= until => {
                let ll: Vec<Family> = long_lived.iter().map(|(f, _)| *f).collect();
                let gone: Vec<Family> = families.into_iter().filter(|f| !ll.contains(f)).collect();
                if !gone.is_empty() {
                    tracing::info!(peer = %remote, families = ?gone, "graceful restart: restart time over, stale routes removed");
                    let _ = self.rib.send(RibEvent::StaleExpired {
                        peer,
                        families: Some(gone),
                    });
                }
                if !ll.is_empty() {
                    tracing::info!(peer = %remote, families = ?ll, "long-lived graceful restart: stale routes kept, marked LLGR_STALE");
                    let _ = self
                        .rib
                        .send(RibEvent::LongLivedStale { peer, families: ll });
                    self.gr = Some(GrPhase::LongLived {
                        until: long_lived.into_iter().map(|(f, d)| (f, now + d)).collect(),
                    });
                }
            }
            Some(GrPhase::LongLived { until }) => {
                let (done, left): (Vec<_>, Vec<_>) =
                    until.into_iter().partition(|(_, t)| *t <= now);
                if !done.is_empty() {
                    let families: Vec<Family> = done.into_iter().map(|(f, _)| f).collect();
                    tracing::info!(peer = %remote, families = ?families, "long-lived graceful restart: stale time over, stale routes removed");
                    let _ = self.rib.send(RibEvent::StaleExpired {
                        peer,
                        families: Some(families),
                    });
                }
                if !left.is_empty() {
                    self.gr = Some(GrPhase::LongLived { until: left });
                }
            }
            Some(GrPhase::Resumed { until }) if now >= until => {
                tracing::info!(peer = %remote, "graceful restart: no End-of-RIB within the stale routes time, stale routes removed");
                let _ = self.rib.send(RibEvent::StaleExpired {
                    peer,
                    families: None,
                });
            }
            other => self.gr = other,
        }
    }

    /// Ends the session, sending `n` first; the RIB hears Down after every
    /// UPDATE the reader passed on. `graceful`: the peer's routes are kept
    /// over its restart where graceful restart was negotiated; otherwise
    /// they go, and a NOTIFICATION we send is a Hard Reset when both sides
    /// set the N bit (RFC 8538 3), so the peer drops ours too.
    async fn close_session(&mut self, n: Option<Notification>, reason: &str, graceful: bool) {
        let closed_by = self.closed_by.take();
        let Some(mut s) = self.session.take() else {
            return;
        };
        let n = match n {
            Some(n)
                if !graceful
                    && s.negotiated
                        .graceful_restart
                        .as_ref()
                        .is_some_and(|gr| gr.notification) =>
            {
                Some(Notification::hard_reset(&n))
            }
            n => n,
        };
        // The NOTIFICATION we send, as code/subcode (RFC 4271 4.5), for the
        // log; one the peer sent is named in `reason`.
        let notification = n
            .as_ref()
            .map(|n| format!("{}/{}", n.kind.code(), n.kind.subcode()));
        let down = match (&n, closed_by) {
            (Some(n), _) => DownReason::LocalNotification(n.clone()),
            (None, Some(Some(r))) => DownReason::RemoteNotification(r),
            (None, Some(None)) => DownReason::RemoteNoNotification,
            // We closed it without a NOTIFICATION (the peer restarted).
            (None, None) => DownReason::LocalNoNotification,
        };
        if let Some(r) = s.reader.take() {
            r.abort();
            let _ = r.await;
        }
        if let Some(close) = s.close.take() {
            let _ = close.send(n);
        }
        // The writer finishes by itself, bounded by its close timeout.
        drop(s.writer.take());
        self.stats.update_facts(|f| {
            f.negotiated = None;
            f.local_address = None;
            f.remote_address = None;
            f.last_error = Some(reason.to_owned());
        });
        // Management sees the session down no later than the RIB does.
        self.publish();
        let kept = if graceful {
            self.retained(&s.negotiated)
        } else {
            None
        };
        let retain = match kept {
            Some((families, phase)) => {
                tracing::info!(peer = %self.config.remote, families = ?families, "graceful restart: peer restarting, its routes kept as stale");
                self.gr = Some(phase);
                families
            }
            None => {
                self.gr = None;
                Vec::new()
            }
        };
        let _ = self.rib.send(RibEvent::Down {
            peer: self.idx,
            reason: down,
            retain,
        });
        tracing::info!(
            peer = %self.config.remote,
            asn = self.config.peer_as,
            reason,
            notification_sent = notification.as_deref(),
            "session down"
        );
    }

    /// Closes the session and every connection with `n`; stops attempts.
    async fn close_all(&mut self, n: Option<Notification>, reason: &str) {
        self.close_session(n.clone(), reason, false).await;
        let ids: Vec<u64> = self
            .candidates
            .iter()
            .filter(|c| !matches!(c.stage, Stage::Dumping(_)))
            .map(|c| c.id)
            .collect();
        for id in ids {
            self.dump(id, n.clone());
        }
        if let Some(c) = self.connecting.take() {
            c.abort();
        }
        self.retry_at = None;
    }

    async fn command(&mut self, c: Command) {
        match c {
            Command::Accept(stream) => self.accept(stream),
            Command::SetConfig(new) => self.set_config(*new).await,
            Command::Shutdown(message) => self.shutdown(message).await,
            Command::Enable => self.enable(),
            Command::Reset => {
                self.held = None;
                let n = Notification::cease(CeaseSubcode::AdministrativeReset);
                self.close_all(Some(n), "administrative reset").await;
                if self.runnable() && !self.config.passive {
                    self.retry_soon();
                }
            }
            Command::RouteRefresh(family) => self.route_refresh(family),
            Command::PrefixLimit { family, limit } => self.prefix_limit(family, limit).await,
            // Handled by the loop.
            Command::Stop | Command::StopGraceful => {}
        }
    }

    async fn shutdown(&mut self, message: Option<String>) {
        self.enabled = false;
        let n = match &message {
            Some(text) => Notification::administrative_shutdown(text),
            None => Notification::cease(CeaseSubcode::AdministrativeShutdown),
        };
        let reason = match &message {
            Some(text) => format!("administrative shutdown: {text}"),
            None => "administrative shutdown".to_owned(),
        };
        self.close_all(Some(n), &reason).await;
    }

    /// Closes the session over a prefix limit and holds it down.
    async fn prefix_limit(&mut self, family: Family, limit: u32) {
        if self.session.is_none() {
            return;
        }
        // RFC 4486 4: AFI, SAFI and the upper bound.
        let mut data = Vec::with_capacity(7);
        data.extend_from_slice(&family.afi.0.to_be_bytes());
        data.push(family.safi.0);
        data.extend_from_slice(&limit.to_be_bytes());
        let n = Notification::new(
            ErrorKind::Cease(CeaseSubcode::MaximumPrefixesReached),
            Bytes::from(data),
        );
        let restart = self.config.prefix_limit_restart;
        self.held = Some(restart.map(|d| Instant::now() + d));
        let reason = format!("maximum number of prefixes reached ({family}, limit {limit})");
        self.close_all(Some(n), &reason).await;
        // Tried again once the hold is over (the retry clears it).
        self.retry_at = restart.map(|d| Instant::now() + d);
    }

    fn enable(&mut self) {
        if self.enabled {
            return;
        }
        self.enabled = true;
        if self.runnable() && !self.config.passive {
            self.retry_soon();
        }
    }

    async fn set_config(&mut self, new: PeerConfig) {
        if self.held.is_some() && *self.config != new {
            // An operator acted on the peer: the hold is over.
            self.held = None;
            if self.quiet() && !new.passive && self.retry_at.is_none() {
                self.retry_at = Some(Instant::now());
            }
        }
        let reset = self.config.needs_reset(&new);
        let enabled_changed = self.config.enabled != new.enabled;
        let became_passive = new.passive && !self.config.passive;
        let became_active = !new.passive && self.config.passive;
        self.config = Arc::new(new);
        if let Err(e) = self.config.validate() {
            self.fail_config(&e.to_string());
            let n = Notification::cease(CeaseSubcode::OtherConfigurationChange);
            self.close_all(Some(n), "configuration changed").await;
            return;
        }
        if enabled_changed {
            if self.config.enabled {
                self.enable();
            } else {
                self.shutdown(None).await;
                return;
            }
        }
        if reset && (!self.quiet() || self.retry_at.is_some()) {
            let n = Notification::cease(CeaseSubcode::OtherConfigurationChange);
            self.close_all(Some(n), "configuration changed").await;
            if self.runnable() && !self.config.passive {
                self.retry_soon();
            }
        }
        if became_passive {
            if let Some(c) = self.connecting.take() {
                c.abort();
            }
            self.retry_at = None;
        }
        if became_active && self.runnable() && self.quiet() && self.retry_at.is_none() {
            self.retry_soon();
        }
    }

    fn route_refresh(&mut self, family: Family) {
        let Some(s) = &self.session else {
            tracing::debug!(peer = %self.config.remote, %family, "route refresh: session not established");
            return;
        };
        if !s.negotiated.route_refresh || !s.negotiated.families.contains(&family) {
            tracing::warn!(peer = %self.config.remote, %family, "route refresh not negotiated for the family");
            return;
        }
        let mut out = BytesMut::new();
        let m = Message::RouteRefresh(RouteRefresh::request(family));
        if m.encode(&Default::default(), &mut out).is_ok() {
            let _ = s.outbox.send(out.freeze());
        }
    }
}

async fn join_opt<T>(h: &mut Option<JoinHandle<T>>) -> Result<T, tokio::task::JoinError> {
    match h {
        Some(j) => {
            let r = j.await;
            *h = None;
            r
        }
        None => pending().await,
    }
}

async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => pending().await,
    }
}

/// Waits for the session's reader or writer to end.
async fn session_end(s: &mut Option<Session>) -> End {
    let Some(s) = s else { return pending().await };
    let joined = tokio::select! {
        r = join_opt(&mut s.reader), if s.reader.is_some() => r,
        r = join_opt(&mut s.writer), if s.writer.is_some() => r,
        else => return pending().await,
    };
    joined.unwrap_or_else(|e| End::closed(format!("session task failed: {e}")))
}
