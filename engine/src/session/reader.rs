//! The established session's reading side: decodes messages as they
//! arrive, sends UPDATEs and refresh requests straight to the RIB task,
//! and runs the hold timer.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::time::Instant;

use super::conn::{note_received, End};
use crate::event::{InFlight, RibEvent, RibSender};
use crate::rib::PeerIdx;
use crate::stats::PeerStats;
use crate::wire::{
    ErrorKind, FsmSubcode, HeaderSubcode, MessageDecoder, MessageType, Negotiated, Notification,
    Received, RouteRefreshSubtype, Verdict,
};

/// Room made in the read buffer before each read: enough for many
/// messages per system call.
const READ_CHUNK: usize = 64 * 1024;

/// The fixed inputs of the reader.
pub(crate) struct Context {
    /// The peer, as the RIB knows it.
    pub idx: PeerIdx,
    /// The peer's address, for logs.
    pub peer: IpAddr,
    /// Where received routes go.
    pub rib: RibSender,
    /// Counters.
    pub stats: Arc<PeerStats>,
    /// What the OPEN exchange agreed.
    pub negotiated: Negotiated,
    /// The hold time; `None` for none.
    pub hold: Option<Duration>,
}

/// Reads until the connection ends; returns why.
pub(crate) async fn run(
    mut rd: OwnedReadHalf,
    mut buf: BytesMut,
    mut decoder: MessageDecoder,
    ctx: Context,
) -> End {
    let mut deadline = ctx.hold.map(|h| Instant::now() + h);
    let queue = InFlight::queue();
    loop {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(m)) => {
                    ctx.stats.received.count(m.kind());
                    // RFC 4271 8.2.2: each message restarts the hold timer.
                    deadline = ctx.hold.map(|h| Instant::now() + h);
                    let credit = match m {
                        Received::Update(_) => InFlight::take(&queue).await,
                        _ => InFlight::NONE,
                    };
                    if let Some(end) = ctx.handle(m, credit) {
                        return end;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(peer = %ctx.peer, error = %e, "undecodable message");
                    return End::send(e.to_string(), e.notification);
                }
            }
        }
        if buf.capacity().saturating_sub(buf.len()) < READ_CHUNK / 2 {
            buf.reserve(READ_CHUNK);
        }
        let read = match deadline {
            Some(at) => match tokio::time::timeout_at(at, rd.read_buf(&mut buf)).await {
                Ok(r) => r,
                Err(_) => {
                    let n = Notification::new(ErrorKind::HoldTimerExpired, Bytes::new());
                    return End::send("hold timer expired", n);
                }
            },
            None => rd.read_buf(&mut buf).await,
        };
        match read {
            Ok(0) => return End::closed("connection closed by the peer"),
            Ok(_) => {}
            Err(e) => return End::closed(format!("read failed: {e}")),
        }
    }
}

impl Context {
    /// Acts on one message (`credit`: its place in the RIB task's queue, for
    /// an UPDATE); `Some` ends the session.
    fn handle(&self, m: Received, credit: InFlight) -> Option<End> {
        match m {
            Received::Update(update) => {
                if !update.problems.is_empty() {
                    self.stats.malformed_updates.fetch_add(1, Ordering::Relaxed);
                    for p in &update.problems {
                        tracing::warn!(peer = %self.peer, problem = %p.kind, action = ?p.action, "malformed UPDATE");
                    }
                }
                if let Verdict::SessionReset(n) = &update.verdict {
                    return Some(End::send(format!("malformed UPDATE: {n}"), n.clone()));
                }
                let _ = self.rib.send(RibEvent::Update {
                    peer: self.idx,
                    update,
                    credit,
                });
                None
            }
            Received::Keepalive => None,
            Received::Notification(n) => {
                note_received(&self.stats, &n);
                Some(End::received(n))
            }
            Received::RouteRefresh(rr) => {
                if !self.negotiated.route_refresh {
                    // Without the capability the type is not one the peer
                    // may send (RFC 2918 4): a bad message type.
                    let n = Notification::new(
                        ErrorKind::MessageHeader(HeaderSubcode::BadMessageType),
                        Bytes::copy_from_slice(&[MessageType::RouteRefresh.code()]),
                    );
                    return Some(End::send("ROUTE-REFRESH without the capability", n));
                }
                match rr.subtype {
                    // RFC 2918 4: a family not negotiated is ignored.
                    RouteRefreshSubtype::Normal
                        if self.negotiated.families.contains(&rr.family) =>
                    {
                        let _ = self.rib.send(RibEvent::RouteRefresh {
                            peer: self.idx,
                            family: rr.family,
                        });
                    }
                    // RFC 7313 4.2: the peer re-sends a family between
                    // BoRR and EoRR; what it does not re-send goes at EoRR.
                    RouteRefreshSubtype::BeginningOfRefresh | RouteRefreshSubtype::EndOfRefresh
                        if self.negotiated.enhanced_route_refresh
                            && self.negotiated.families.contains(&rr.family) =>
                    {
                        let begin = rr.subtype == RouteRefreshSubtype::BeginningOfRefresh;
                        let _ = self.rib.send(RibEvent::RefreshBoundary {
                            peer: self.idx,
                            family: rr.family,
                            begin,
                        });
                    }
                    subtype => {
                        tracing::debug!(peer = %self.peer, family = %rr.family, ?subtype, "ROUTE-REFRESH ignored");
                    }
                }
                None
            }
            Received::Open(_) => {
                let data = Bytes::copy_from_slice(&[MessageType::Open.code()]);
                let n = Notification::new(
                    ErrorKind::Fsm(FsmSubcode::UnexpectedMessageInEstablished),
                    data,
                );
                Some(End::send("OPEN in Established", n))
            }
        }
    }
}
