//! Per-peer session state and counters, shared between the session that
//! updates them and management that reads them: atomics for counters, a
//! mutex for the few facts that change once per session.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast;

use crate::wire::{Capabilities, MessageType, Negotiated};

/// RFC 4271 8.2.2 session states (OpenConfig `session-state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SessionState {
    /// No session, none being attempted (or admin down).
    Idle = 0,
    /// Waiting for the TCP connection.
    Connect = 1,
    /// Listening for the peer to connect.
    Active = 2,
    /// OPEN sent, waiting for the peer's.
    OpenSent = 3,
    /// OPEN received, waiting for KEEPALIVE.
    OpenConfirm = 4,
    /// Up.
    Established = 5,
}

impl SessionState {
    /// The OpenConfig enumeration name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Idle => "IDLE",
            SessionState::Connect => "CONNECT",
            SessionState::Active => "ACTIVE",
            SessionState::OpenSent => "OPENSENT",
            SessionState::OpenConfirm => "OPENCONFIRM",
            SessionState::Established => "ESTABLISHED",
        }
    }

    fn from_u8(v: u8) -> SessionState {
        match v {
            1 => SessionState::Connect,
            2 => SessionState::Active,
            3 => SessionState::OpenSent,
            4 => SessionState::OpenConfirm,
            5 => SessionState::Established,
            _ => SessionState::Idle,
        }
    }
}

/// Messages of each type, one direction.
#[derive(Debug, Default)]
pub struct MessageCounters {
    /// OPEN messages.
    pub open: AtomicU64,
    /// UPDATE messages.
    pub update: AtomicU64,
    /// NOTIFICATION messages.
    pub notification: AtomicU64,
    /// KEEPALIVE messages.
    pub keepalive: AtomicU64,
    /// ROUTE-REFRESH messages.
    pub route_refresh: AtomicU64,
}

impl MessageCounters {
    fn counter(&self, kind: MessageType) -> &AtomicU64 {
        match kind {
            MessageType::Open => &self.open,
            MessageType::Update => &self.update,
            MessageType::Notification => &self.notification,
            MessageType::Keepalive => &self.keepalive,
            MessageType::RouteRefresh => &self.route_refresh,
        }
    }

    /// Counts one message of `kind`.
    pub fn count(&self, kind: MessageType) {
        self.counter(kind).fetch_add(1, Ordering::Relaxed);
    }

    /// Reads one counter.
    pub fn get(&self, kind: MessageType) -> u64 {
        self.counter(kind).load(Ordering::Relaxed)
    }
}

/// A NOTIFICATION's code and subcode, as OpenConfig reports the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationCode {
    /// Error code.
    pub code: u8,
    /// Error subcode.
    pub subcode: u8,
}

/// Facts of the current (or last) session that change only at its
/// transitions.
#[derive(Debug, Clone, Default)]
pub struct SessionFacts {
    /// What the OPEN exchange agreed, while established.
    pub negotiated: Option<Negotiated>,
    /// The capabilities the peer sent.
    pub remote_capabilities: Option<Capabilities>,
    /// Local and remote socket addresses, while connected.
    pub local_address: Option<std::net::SocketAddr>,
    /// The peer's end.
    pub remote_address: Option<std::net::SocketAddr>,
    /// The peer's BGP identifier.
    pub remote_router_id: Option<std::net::Ipv4Addr>,
    /// Last NOTIFICATION we sent.
    pub last_sent_notification: Option<NotificationCode>,
    /// Last NOTIFICATION we received.
    pub last_received_notification: Option<NotificationCode>,
    /// Why the last session ended, in words.
    pub last_error: Option<String>,
}

/// A session's move from one state to another, as
/// [`PeerStats::set_state`] publishes it to the engine's state watchers
/// ([`Engine::watch_states`](crate::engine::Engine::watch_states)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateChange {
    /// The neighbor's address.
    pub peer: IpAddr,
    /// The state it left.
    pub previous: SessionState,
    /// The state it is in now.
    pub state: SessionState,
}

/// Where a peer's state changes go.
#[derive(Debug)]
struct StateSink {
    peer: IpAddr,
    tx: broadcast::Sender<StateChange>,
}

/// Everything management reads about one peer's session.
#[derive(Debug, Default)]
pub struct PeerStats {
    state: AtomicU8,
    /// Told of every state change, when someone may listen.
    sink: Option<StateSink>,
    /// Times the session reached Established.
    pub established_transitions: AtomicU64,
    /// Unix time (seconds) the session last reached Established.
    pub last_established: AtomicU64,
    /// Messages received.
    pub received: MessageCounters,
    /// Messages sent.
    pub sent: MessageCounters,
    /// Messages waiting to be written (output queue).
    pub output_queue: AtomicU64,
    /// UPDATEs received with RFC 7606 problems.
    pub malformed_updates: AtomicU64,
    facts: Mutex<SessionFacts>,
}

impl PeerStats {
    /// Stats of `peer` whose state changes are sent to `tx` (never
    /// waiting: a watcher that falls behind misses changes and is told so
    /// by its receiver).
    pub fn watched(peer: IpAddr, tx: broadcast::Sender<StateChange>) -> PeerStats {
        PeerStats {
            sink: Some(StateSink { peer, tx }),
            ..PeerStats::default()
        }
    }

    /// The session state.
    pub fn state(&self) -> SessionState {
        SessionState::from_u8(self.state.load(Ordering::Relaxed))
    }

    /// Records a state change; counts transitions to Established and
    /// tells the watchers.
    pub fn set_state(&self, state: SessionState) {
        let old = self.state.swap(state as u8, Ordering::Relaxed);
        if old != state as u8 {
            if let Some(sink) = &self.sink {
                // Err only when nobody watches.
                let _ = sink.tx.send(StateChange {
                    peer: sink.peer,
                    previous: SessionState::from_u8(old),
                    state,
                });
            }
        }
        if state == SessionState::Established && old != SessionState::Established as u8 {
            self.established_transitions.fetch_add(1, Ordering::Relaxed);
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            self.last_established.store(now, Ordering::Relaxed);
        }
    }

    /// A copy of the session facts.
    pub fn facts(&self) -> SessionFacts {
        self.facts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Changes the session facts.
    pub fn update_facts(&self, f: impl FnOnce(&mut SessionFacts)) {
        f(&mut self.facts.lock().unwrap_or_else(|e| e.into_inner()));
    }
}
