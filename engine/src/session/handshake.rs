//! One connection's OPEN exchange (RFC 4271 8.2.2, OpenSent and
//! OpenConfirm), on a task of its own so that two connections to the same
//! peer can be in it at once and collide (RFC 4271 6.8).
//!
//! The task sends our OPEN, reads the peer's and checks it, then asks the
//! peer task whether to go on (collision resolution happens there). If so
//! it sends KEEPALIVE and waits for the peer's; then it hands the
//! connection back, read buffer included, to become the session.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::config::PeerConfig;
use super::conn::{note_received, write_notification, End};
use super::open::check_open;
use super::timers::{hold_duration, keepalive_interval, OPEN_HOLD};
use crate::stats::PeerStats;
use crate::wire::{
    negotiate, ErrorKind, FsmSubcode, Message, MessageDecoder, MessageType, Negotiated,
    Notification, Open, Received, MAX_MESSAGE_LEN,
};

/// What the peer task tells a connection in the OPEN exchange.
#[derive(Debug)]
pub(crate) enum Control {
    /// The peer's OPEN is accepted: confirm it.
    Proceed,
    /// Close with this NOTIFICATION (collision, shutdown, removal).
    Dump(Option<Notification>),
}

/// A connection that finished the exchange.
#[derive(Debug)]
pub(crate) struct Ready {
    /// The connection.
    pub stream: TcpStream,
    /// Bytes read past the peer's KEEPALIVE.
    pub buf: BytesMut,
    /// The peer's OPEN.
    pub remote_open: Open,
    /// Our OPEN, as sent.
    pub local_open: Open,
    /// What both OPENs agreed.
    pub negotiated: Negotiated,
}

/// What a connection in the exchange reports to the peer task.
#[derive(Debug)]
pub(crate) enum Event {
    /// The peer's OPEN arrived and passed the checks; the connection waits
    /// for [`Control`].
    OpenReceived(Box<Open>),
    /// The exchange is done.
    Ready(Box<Ready>),
    /// The connection is closed (boxed: the peer task's channel holds
    /// 32 events in every block, for each of a thousand peers).
    Closed(Box<End>),
}

/// The fixed inputs of one exchange.
pub(crate) struct Context {
    /// The connection's number within the peer task.
    pub id: u64,
    /// The configuration at the time the connection started.
    pub config: Arc<PeerConfig>,
    /// Our OPEN.
    pub open: Open,
    /// Where counters go.
    pub stats: Arc<PeerStats>,
    /// Where events go.
    pub events: mpsc::UnboundedSender<(u64, Event)>,
}

/// Runs the exchange on `stream` and reports the outcome.
pub(crate) async fn run(
    mut stream: TcpStream,
    ctx: Context,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let mut buf = BytesMut::with_capacity(4096);
    let event = match exchange(&mut stream, &mut buf, &ctx, &mut control).await {
        Ok((remote_open, negotiated)) => Event::Ready(Box::new(Ready {
            stream,
            buf,
            remote_open,
            local_open: ctx.open.clone(),
            negotiated,
        })),
        Err(end) => {
            if let Some(n) = &end.send {
                let _ = tokio::time::timeout(super::timers::CLOSE_TIMEOUT, async {
                    let _ = write_notification(&mut stream, n, MAX_MESSAGE_LEN, &ctx.stats).await;
                    let _ = stream.shutdown().await;
                })
                .await;
            }
            Event::Closed(Box::new(end))
        }
    };
    let _ = ctx.events.send((ctx.id, event));
}

/// OpenSent and OpenConfirm.
async fn exchange(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    ctx: &Context,
    control: &mut mpsc::UnboundedReceiver<Control>,
) -> Result<(Open, Negotiated), End> {
    let mut decoder = MessageDecoder::default();
    send(stream, &Message::Open(ctx.open.clone()), &ctx.stats).await?;

    // OpenSent: the peer's OPEN, under the large hold timer.
    let mut reading = Reading {
        stream,
        buf,
        decoder: &mut decoder,
        control,
        stats: &ctx.stats,
    };
    let remote = match reading.next(Instant::now() + OPEN_HOLD, None).await? {
        Received::Open(open) => open,
        Received::Notification(n) => return Err(End::received(n)),
        other => {
            return Err(unexpected(
                other.kind(),
                FsmSubcode::UnexpectedMessageInOpenSent,
            ))
        }
    };
    if let Err(n) = check_open(&ctx.config, &remote) {
        return Err(End::send(format!("peer's OPEN refused: {n}"), n));
    }
    let _ = ctx
        .events
        .send((ctx.id, Event::OpenReceived(Box::new(remote.clone()))));
    match reading.control.recv().await {
        Some(Control::Proceed) => {}
        Some(Control::Dump(n)) => return Err(dumped(n)),
        None => return Err(End::closed("peer task ended")),
    }

    // OpenConfirm: the peer's KEEPALIVE, under the negotiated hold time.
    let negotiated = negotiate(&ctx.open, &remote);
    reading
        .decoder
        .set_config(negotiated.codec_config(ctx.config.peer_kind()));
    send(reading.stream, &Message::Keepalive, &ctx.stats).await?;
    let hold = hold_duration(negotiated.hold_time).unwrap_or(OPEN_HOLD);
    let keepalive = keepalive_interval(&ctx.config, negotiated.hold_time);
    match reading.next(Instant::now() + hold, keepalive).await? {
        Received::Keepalive => Ok((remote, negotiated)),
        Received::Notification(n) => Err(End::received(n)),
        other => Err(unexpected(
            other.kind(),
            FsmSubcode::UnexpectedMessageInOpenConfirm,
        )),
    }
}

fn unexpected(kind: MessageType, subcode: FsmSubcode) -> End {
    // RFC 6608: the data is the type of the unexpected message.
    let n = Notification::new(
        ErrorKind::Fsm(subcode),
        Bytes::copy_from_slice(&[kind.code()]),
    );
    End::send(format!("unexpected {kind:?} message: {subcode}"), n)
}

fn dumped(n: Option<Notification>) -> End {
    End {
        reason: "closed by the session".into(),
        send: n,
        dumped: true,
        received: None,
    }
}

/// Encodes, writes and counts one message.
async fn send(stream: &mut TcpStream, m: &Message, stats: &PeerStats) -> Result<(), End> {
    let mut out = BytesMut::new();
    m.encode(&Default::default(), &mut out)
        .map_err(|e| End::closed(format!("cannot encode {:?}: {e}", m.kind())))?;
    stream
        .write_all(&out)
        .await
        .map_err(|e| End::closed(format!("write failed: {e}")))?;
    stats.sent.count(m.kind());
    Ok(())
}

/// The reading side of the exchange.
struct Reading<'a> {
    stream: &'a mut TcpStream,
    buf: &'a mut BytesMut,
    decoder: &'a mut MessageDecoder,
    control: &'a mut mpsc::UnboundedReceiver<Control>,
    stats: &'a PeerStats,
}

impl Reading<'_> {
    /// The next message, before `deadline` (else Hold Timer Expired),
    /// sending KEEPALIVEs every `keepalive` meanwhile. A dump order from the
    /// peer task ends the wait.
    async fn next(
        &mut self,
        deadline: Instant,
        keepalive: Option<Duration>,
    ) -> Result<Received, End> {
        let mut next_keepalive = keepalive.map(|k| Instant::now() + k);
        loop {
            match self.decoder.decode(self.buf) {
                Ok(Some(m)) => {
                    self.stats.received.count(m.kind());
                    if let Received::Notification(n) = &m {
                        note_received(self.stats, n);
                    }
                    return Ok(m);
                }
                Ok(None) => {}
                Err(e) => return Err(End::send(e.to_string(), e.notification)),
            }
            let far = deadline + OPEN_HOLD;
            tokio::select! {
                r = self.stream.read_buf(self.buf) => match r {
                    Ok(0) => return Err(End::closed("connection closed by the peer")),
                    Ok(_) => {}
                    Err(e) => return Err(End::closed(format!("read failed: {e}"))),
                },
                _ = tokio::time::sleep_until(deadline) => {
                    let n = Notification::new(ErrorKind::HoldTimerExpired, Bytes::new());
                    return Err(End::send("hold timer expired", n));
                }
                _ = tokio::time::sleep_until(next_keepalive.unwrap_or(far)), if next_keepalive.is_some() => {
                    send(self.stream, &Message::Keepalive, self.stats).await?;
                    next_keepalive = keepalive.map(|k| Instant::now() + k);
                }
                c = self.control.recv() => match c {
                    Some(Control::Dump(n)) => return Err(dumped(n)),
                    Some(Control::Proceed) => {}
                    None => return Err(End::closed("peer task ended")),
                },
            }
        }
    }
}
