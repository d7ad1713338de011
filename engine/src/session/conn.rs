//! What the connection-level pieces share: how a connection ended, and
//! sending a NOTIFICATION with the bookkeeping it needs.

use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::timers::CLOSE_TIMEOUT;
use crate::stats::{NotificationCode, PeerStats};
use crate::wire::{MessageType, Notification, MAX_MESSAGE_LEN};

/// How a connection (or one task of it) ended.
#[derive(Debug, Clone)]
pub(crate) struct End {
    /// Why, in words, for logs and `last_error`.
    pub reason: String,
    /// The NOTIFICATION to send before closing, if any.
    pub send: Option<Notification>,
    /// The session closed this connection itself (collision, shutdown):
    /// not a failure to report.
    pub dumped: bool,
    /// The NOTIFICATION the peer closed it with, if it did.
    pub received: Option<Notification>,
}

impl End {
    /// Closed without a NOTIFICATION either way.
    pub fn closed(reason: impl Into<String>) -> End {
        End {
            reason: reason.into(),
            send: None,
            dumped: false,
            received: None,
        }
    }

    /// Closed by an error of ours to report with `n`.
    pub fn send(reason: impl Into<String>, n: Notification) -> End {
        End {
            reason: reason.into(),
            send: Some(n),
            dumped: false,
            received: None,
        }
    }

    /// Closed by the peer's NOTIFICATION (never answered with another).
    pub fn received(n: Notification) -> End {
        End {
            reason: format!("peer sent NOTIFICATION: {n}"),
            send: None,
            dumped: false,
            received: Some(n),
        }
    }
}

fn code(n: &Notification) -> NotificationCode {
    NotificationCode {
        code: n.kind.code(),
        subcode: n.kind.subcode(),
    }
}

/// Records a NOTIFICATION we sent.
pub(crate) fn note_sent(stats: &PeerStats, n: &Notification) {
    stats.sent.count(MessageType::Notification);
    stats.update_facts(|f| f.last_sent_notification = Some(code(n)));
}

/// Records a NOTIFICATION the peer sent.
pub(crate) fn note_received(stats: &PeerStats, n: &Notification) {
    stats.update_facts(|f| f.last_received_notification = Some(code(n)));
}

/// Writes `n` (cut to `max_len`) and records it.
pub(crate) async fn write_notification<W: AsyncWrite + Unpin>(
    w: &mut W,
    n: &Notification,
    max_len: usize,
    stats: &PeerStats,
) -> std::io::Result<()> {
    let mut buf = BytesMut::new();
    n.encode(max_len, &mut buf).map_err(std::io::Error::other)?;
    w.write_all(&buf).await?;
    note_sent(stats, n);
    Ok(())
}

/// Closes a connection in the background, first sending `n` if given;
/// bounded by [`CLOSE_TIMEOUT`] so a peer that reads nothing cannot hold it.
pub(crate) fn close_with(mut stream: TcpStream, n: Option<Notification>, stats: Arc<PeerStats>) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            if let Some(n) = &n {
                let _ = write_notification(&mut stream, n, MAX_MESSAGE_LEN, &stats).await;
            }
            let _ = stream.shutdown().await;
        })
        .await;
    });
}
