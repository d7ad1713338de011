//! The established session's writing side: drains the Outbox the RIB fills,
//! coalescing queued chunks into few `writev` calls, and sends KEEPALIVEs
//! when nothing else went out for the keepalive interval.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::conn::{write_notification, End};
use super::timers::CLOSE_TIMEOUT;
use crate::stats::{MessageCounters, PeerStats};
use crate::wire::{MessageType, Notification, HEADER_LEN};

/// Stop taking chunks from the Outbox while this much waits to be written:
/// the rest stays queued in the channel.
const HIGH_WATER: usize = 1 << 20;
/// Most buffers per `writev` (Linux allows 1024).
const MAX_IOV: usize = 256;

/// A KEEPALIVE (RFC 4271 4.4): a bare header.
const KEEPALIVE: [u8; HEADER_LEN] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0, 19, 4,
];

/// Messages of each type in a chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    open: u64,
    update: u64,
    notification: u64,
    keepalive: u64,
    route_refresh: u64,
}

impl Counts {
    /// Counts the whole messages in `bytes` by walking their headers. The
    /// RIB writes whole messages, so a chunk that does not end on a message
    /// boundary is a bug elsewhere; what can be read is counted.
    pub(crate) fn of(bytes: &[u8]) -> Counts {
        let mut c = Counts::default();
        let mut rest = bytes;
        while let Some(&[hi, lo, code]) = rest.get(16..HEADER_LEN) {
            let len = usize::from(u16::from_be_bytes([hi, lo]));
            if len < HEADER_LEN {
                break;
            }
            match MessageType::from_code(code) {
                Some(MessageType::Open) => c.open += 1,
                Some(MessageType::Update) => c.update += 1,
                Some(MessageType::Notification) => c.notification += 1,
                Some(MessageType::Keepalive) => c.keepalive += 1,
                Some(MessageType::RouteRefresh) => c.route_refresh += 1,
                None => {}
            }
            rest = rest.get(len..).unwrap_or_default();
        }
        c
    }

    fn total(&self) -> u64 {
        self.open + self.update + self.notification + self.keepalive + self.route_refresh
    }

    fn add_to(&self, m: &MessageCounters) {
        m.open.fetch_add(self.open, Ordering::Relaxed);
        m.update.fetch_add(self.update, Ordering::Relaxed);
        m.notification
            .fetch_add(self.notification, Ordering::Relaxed);
        m.keepalive.fetch_add(self.keepalive, Ordering::Relaxed);
        m.route_refresh
            .fetch_add(self.route_refresh, Ordering::Relaxed);
    }
}

/// Chunks taken from the Outbox, not yet fully written.
#[derive(Default)]
struct Queue {
    chunks: VecDeque<(Bytes, Counts)>,
    /// Octets of the front chunk already written.
    offset: usize,
    bytes: usize,
    messages: u64,
}

impl Queue {
    fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        let counts = Counts::of(&chunk);
        self.bytes += chunk.len();
        self.messages += counts.total();
        self.chunks.push_back((chunk, counts));
    }

    /// The unwritten octets, as buffers for one `writev`.
    fn slices(&self) -> Vec<IoSlice<'_>> {
        let mut out = Vec::with_capacity(self.chunks.len().min(MAX_IOV));
        for (i, (chunk, _)) in self.chunks.iter().take(MAX_IOV).enumerate() {
            let from = if i == 0 { self.offset } else { 0 };
            out.push(IoSlice::new(chunk.get(from..).unwrap_or_default()));
        }
        out
    }

    /// Marks `n` octets written; counts the messages of finished chunks.
    fn advance(&mut self, mut n: usize, sent: &MessageCounters) {
        self.bytes = self.bytes.saturating_sub(n);
        while let Some((chunk, counts)) = self.chunks.front() {
            let left = chunk.len() - self.offset;
            if n < left {
                self.offset += n;
                return;
            }
            n -= left;
            counts.add_to(sent);
            self.messages = self.messages.saturating_sub(counts.total());
            self.offset = 0;
            self.chunks.pop_front();
        }
    }
}

/// The fixed inputs of the writer.
pub(crate) struct Context {
    /// Counters and the output queue gauge.
    pub stats: Arc<PeerStats>,
    /// Send a KEEPALIVE when nothing was sent for this long.
    pub keepalive: Option<Duration>,
    /// The session's message size limit, for the closing NOTIFICATION.
    pub max_message_len: usize,
}

enum Wake {
    Close(Option<Notification>),
    Chunk(Option<Bytes>),
    Wrote(std::io::Result<usize>),
    Keepalive,
}

/// Writes until told to close or the connection fails; returns why it
/// stopped. `close` carries the NOTIFICATION to end with.
pub(crate) async fn run(
    mut wr: OwnedWriteHalf,
    mut outbox: mpsc::UnboundedReceiver<Bytes>,
    mut close: oneshot::Receiver<Option<Notification>>,
    ctx: Context,
) -> End {
    let mut queue = Queue::default();
    // The KEEPALIVE of OpenConfirm was just sent.
    let mut last_write = Instant::now();
    loop {
        let waiting = queue.messages + outbox.len() as u64;
        ctx.stats.output_queue.store(waiting, Ordering::Relaxed);
        let keepalive_at = ctx.keepalive.map(|k| last_write + k);
        let wake = {
            let slices = queue.slices();
            tokio::select! {
                biased;
                n = &mut close => Wake::Close(n.unwrap_or(None)),
                // Take what is queued before writing, to write it together.
                c = outbox.recv(), if queue.bytes < HIGH_WATER => Wake::Chunk(c),
                r = wr.write_vectored(&slices), if !slices.is_empty() => Wake::Wrote(r),
                _ = sleep_until_opt(keepalive_at), if queue.chunks.is_empty() => Wake::Keepalive,
            }
        };
        match wake {
            Wake::Close(n) => return finish(wr, queue, n, &ctx).await,
            Wake::Chunk(None) => return End::closed("outbox closed"),
            Wake::Chunk(Some(chunk)) => {
                queue.push(chunk);
                while queue.bytes < HIGH_WATER {
                    match outbox.try_recv() {
                        Ok(chunk) => queue.push(chunk),
                        Err(_) => break,
                    }
                }
            }
            Wake::Wrote(Ok(0)) => return End::closed("connection closed while writing"),
            Wake::Wrote(Ok(n)) => {
                queue.advance(n, &ctx.stats.sent);
                // RFC 4271 8.2.2: sending a message restarts the keepalive timer.
                last_write = Instant::now();
            }
            Wake::Wrote(Err(e)) => return End::closed(format!("write failed: {e}")),
            Wake::Keepalive => queue.push(Bytes::from_static(&KEEPALIVE)),
        }
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Ends the connection: completes a message cut in the middle (the peer
/// could not parse the NOTIFICATION otherwise), drops the rest of the
/// queue, sends `n` and shuts the connection down, within [`CLOSE_TIMEOUT`].
async fn finish(
    mut wr: OwnedWriteHalf,
    queue: Queue,
    n: Option<Notification>,
    ctx: &Context,
) -> End {
    let stats = &ctx.stats;
    let done = tokio::time::timeout(CLOSE_TIMEOUT, async {
        if queue.offset > 0 {
            if let Some((chunk, counts)) = queue.chunks.front() {
                wr.write_all(chunk.get(queue.offset..).unwrap_or_default())
                    .await?;
                counts.add_to(&stats.sent);
            }
        }
        if let Some(n) = &n {
            write_notification(&mut wr, n, ctx.max_message_len, stats).await?;
        }
        wr.shutdown().await
    })
    .await;
    stats.output_queue.store(0, Ordering::Relaxed);
    match done {
        Ok(Ok(())) => End::closed("closed by the session"),
        Ok(Err(e)) => End::closed(format!("write failed while closing: {e}")),
        Err(_) => End::closed("timed out while closing"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_walk_headers() {
        let mut chunk = Vec::new();
        chunk.extend_from_slice(&KEEPALIVE);
        let mut update = vec![0xff; 16];
        update.extend_from_slice(&[0, 23, 2, 0, 0, 0, 0]);
        chunk.extend_from_slice(&update);
        chunk.extend_from_slice(&update);
        let c = Counts::of(&chunk);
        assert_eq!((c.keepalive, c.update, c.total()), (1, 2, 3));
        // A truncated tail or a zero length stops the walk, never panics.
        assert_eq!(Counts::of(&chunk[..30]).total(), 1);
        assert_eq!(Counts::of(&[0xff; 18]).total(), 0);
        let mut zero = vec![0xff; 16];
        zero.extend_from_slice(&[0, 0, 2]);
        assert_eq!(Counts::of(&zero).total(), 0);
    }

    #[test]
    fn queue_advances_across_chunks() {
        let sent = MessageCounters::default();
        let mut q = Queue::default();
        q.push(Bytes::from_static(&KEEPALIVE));
        q.push(Bytes::from_static(&KEEPALIVE));
        assert_eq!((q.bytes, q.messages), (38, 2));
        q.advance(10, &sent);
        assert_eq!(q.slices()[0].len(), 9);
        q.advance(20, &sent);
        assert_eq!(sent.get(MessageType::Keepalive), 1);
        assert_eq!(q.slices()[0].len(), 8);
        q.advance(8, &sent);
        assert_eq!(sent.get(MessageType::Keepalive), 2);
        assert!(q.chunks.is_empty() && q.bytes == 0 && q.messages == 0);
    }
}
