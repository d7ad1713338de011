//! A minimal BGP session: TCP set-up, the OPEN exchange, keepalives and
//! reading frames. The injector and the sinks build on it; neither keeps a
//! finite state machine beyond "established or gone".

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::BytesMut;
use ocbgp_engine::wire::{
    negotiate, Capabilities, CodecConfig, ErrorKind, Family, Frame, GracefulRestart,
    GracefulRestartFamily, Message, MessageType, Negotiated, Notification, Open, OpenSubcode,
    PeerKind, Received,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::Instant;

/// What we say in our OPEN.
#[derive(Debug, Clone)]
pub struct SpeakerConfig {
    /// Our AS.
    pub local_as: u32,
    /// The AS the peer must announce; any if `None`.
    pub peer_as: Option<u32>,
    /// Our BGP identifier; the local address of the connection if `None`.
    pub router_id: Option<Ipv4Addr>,
    /// Proposed hold time, seconds.
    pub hold_time: u16,
    /// Whether to offer extended messages (RFC 8654).
    pub extended_message: bool,
    /// Offer graceful restart (RFC 4724) with this restart time: IPv4
    /// unicast, forwarding state preserved, Restart State bit clear (we
    /// are a helper, never the restarting side).
    pub graceful_restart: Option<u16>,
}

/// An established session, split in halves so that reading and writing can
/// go on in different tasks.
#[derive(Debug)]
pub struct Session {
    /// Reads frames from the peer.
    pub reader: FrameReader,
    /// Our side of the connection.
    pub writer: OwnedWriteHalf,
    /// What the OPEN exchange settled.
    pub negotiated: Negotiated,
    /// The codec settings that follow from it.
    pub codec: CodecConfig,
    /// The peer's address.
    pub peer: SocketAddr,
    /// Our address.
    pub local: SocketAddr,
}

impl Session {
    /// The connection as a blocking std socket, with the bytes already
    /// read but not yet taken as messages, for a reader on its own thread.
    pub fn into_blocking(self) -> Result<(std::net::TcpStream, BytesMut)> {
        let FrameReader { read, buf, .. } = self.reader;
        let stream = read
            .reunite(self.writer)
            .map_err(|e| anyhow!("{e}"))?
            .into_std()?;
        stream.set_nonblocking(false)?;
        Ok((stream, buf))
    }
}

/// Connects to `peer` (from `local` if given), retrying every 200 ms until
/// `deadline`: the daemon may not be listening yet.
pub async fn connect(
    peer: SocketAddr,
    local: Option<IpAddr>,
    deadline: Instant,
) -> Result<TcpStream> {
    loop {
        let socket = match peer {
            SocketAddr::V4(_) => TcpSocket::new_v4(),
            SocketAddr::V6(_) => TcpSocket::new_v6(),
        }?;
        if let Some(addr) = local {
            socket.set_reuseaddr(true)?;
            socket
                .bind(SocketAddr::new(addr, 0))
                .with_context(|| format!("binding {addr}"))?;
        }
        let attempt = tokio::time::timeout_at(deadline, socket.connect(peer)).await;
        match attempt {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) if Instant::now() + Duration::from_millis(200) < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(Err(e)) => return Err(e).with_context(|| format!("connecting to {peer}")),
            Err(_) => bail!("no connection to {peer} before the deadline"),
        }
    }
}

/// Accepts the first connection on `listen` before `deadline`.
pub async fn accept(listen: SocketAddr, deadline: Instant) -> Result<TcpStream> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    match tokio::time::timeout_at(deadline, listener.accept()).await {
        Ok(accepted) => Ok(accepted?.0),
        Err(_) => bail!("no connection on {listen} before the deadline"),
    }
}

/// Sends our OPEN, reads the peer's, confirms with KEEPALIVE and waits for
/// the peer's KEEPALIVE, all before `deadline`. IPv4 unicast only, 4-octet
/// AS numbers always offered.
pub async fn establish(
    stream: TcpStream,
    config: &SpeakerConfig,
    deadline: Instant,
) -> Result<Session> {
    stream.set_nodelay(true)?;
    let peer = stream.peer_addr()?;
    let local = stream.local_addr()?;
    let router_id = match (config.router_id, local.ip()) {
        (Some(id), _) => id,
        (None, IpAddr::V4(v4)) => v4,
        (None, IpAddr::V6(_)) => bail!("an IPv6 session needs --router-id"),
    };
    let capabilities = Capabilities {
        multiprotocol: vec![Family::IPV4_UNICAST],
        route_refresh: true,
        four_octet_as: Some(config.local_as),
        extended_message: config.extended_message,
        graceful_restart: config.graceful_restart.map(|restart_time| GracefulRestart {
            restarting: false,
            notification: false,
            restart_time,
            families: vec![GracefulRestartFamily {
                family: Family::IPV4_UNICAST,
                forwarding_preserved: true,
            }],
        }),
        ..Capabilities::default()
    };
    let ours = Open::new(config.local_as, config.hold_time, router_id, capabilities);
    let (read, mut writer) = stream.into_split();
    let mut reader = FrameReader::new(read);
    send(
        &mut writer,
        &Message::Open(ours.clone()),
        &CodecConfig::default(),
    )
    .await?;

    let theirs = match next_before(&mut reader, deadline).await? {
        Received::Open(open) => open,
        other => bail!("{peer} sent {:?} instead of OPEN", other.kind()),
    };
    if let Some(expected) = config.peer_as {
        if theirs.asn() != expected {
            let _ = send(
                &mut writer,
                &Message::Notification(bad_peer_as()),
                &CodecConfig::default(),
            )
            .await;
            bail!("{peer} is AS {}, expected AS {expected}", theirs.asn());
        }
    }
    let negotiated = negotiate(&ours, &theirs);
    if !negotiated.families.contains(&Family::IPV4_UNICAST) {
        bail!("{peer} does not do IPv4 unicast");
    }
    let codec = negotiated.codec_config(PeerKind::External);
    reader.set_max_len(codec.max_message_len());
    send(&mut writer, &Message::Keepalive, &codec).await?;
    match next_before(&mut reader, deadline).await? {
        Received::Keepalive => {}
        other => bail!("{peer} sent {:?} instead of KEEPALIVE", other.kind()),
    }
    Ok(Session {
        reader,
        writer,
        negotiated,
        codec,
        peer,
        local,
    })
}

/// The NOTIFICATION for an unexpected peer AS.
fn bad_peer_as() -> Notification {
    Notification::new(ErrorKind::Open(OpenSubcode::BadPeerAs), bytes::Bytes::new())
}

/// Reads the next message before `deadline`; a NOTIFICATION or the end of
/// the stream is an error.
async fn next_before(reader: &mut FrameReader, deadline: Instant) -> Result<Received> {
    let frame = tokio::time::timeout_at(deadline, reader.next())
        .await
        .map_err(|_| anyhow!("OPEN exchange not finished before the deadline"))??
        .ok_or_else(|| anyhow!("connection closed during the OPEN exchange"))?;
    let received = Received::decode(&frame, &CodecConfig::default()).map_err(|e| anyhow!("{e}"))?;
    if let Received::Notification(n) = &received {
        bail!("peer sent NOTIFICATION: {n}");
    }
    Ok(received)
}

/// Writes End-of-RIB for IPv4 unicast (RFC 4724 2): what a graceful
/// restart helper with nothing to announce sends after the session comes
/// up, so that a restarting peer need not wait for its deferral timer.
pub async fn send_end_of_rib(writer: &mut OwnedWriteHalf, codec: &CodecConfig) -> Result<()> {
    let mut out = BytesMut::new();
    ocbgp_engine::wire::UpdatePacker::new(codec)
        .end_of_rib(Family::IPV4_UNICAST, &mut out)
        .map_err(|e| anyhow!("{e}"))?;
    writer.write_all(&out).await?;
    Ok(())
}

/// Writes one message.
pub async fn send(
    writer: &mut OwnedWriteHalf,
    message: &Message,
    codec: &CodecConfig,
) -> Result<()> {
    let mut out = BytesMut::with_capacity(64);
    message
        .encode(codec, &mut out)
        .map_err(|e| anyhow!("encoding {:?}: {e}", message.kind()))?;
    writer.write_all(&out).await?;
    Ok(())
}

/// Sends a KEEPALIVE every `interval` (at least a second) forever; returns
/// when writing fails.
pub async fn keepalives(
    writer: &mut OwnedWriteHalf,
    interval: Duration,
    codec: &CodecConfig,
) -> Result<()> {
    let interval = interval.max(Duration::from_secs(1));
    loop {
        tokio::time::sleep(interval).await;
        send(writer, &Message::Keepalive, codec).await?;
    }
}

/// The keepalive interval of a session: a third of the hold time, or none
/// (an hour) when the hold time is 0.
pub fn keepalive_interval(negotiated: &Negotiated) -> Duration {
    match negotiated.keepalive_interval() {
        0 => Duration::from_secs(3600),
        secs => Duration::from_secs(u64::from(secs)),
    }
}

/// Cuts whole messages off a TCP stream, reading in large chunks.
#[derive(Debug)]
pub struct FrameReader {
    read: OwnedReadHalf,
    buf: BytesMut,
    max_len: usize,
    /// Wait before a read that follows a short one, if set.
    pause: Option<Duration>,
    /// The last read was short.
    last_read_short: bool,
}

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 256 * 1024;

impl FrameReader {
    /// A reader for messages of at most 4096 octets until told otherwise.
    pub fn new(read: OwnedReadHalf) -> Self {
        FrameReader {
            read,
            buf: BytesMut::with_capacity(READ_CHUNK),
            max_len: 4096,
            pause: None,
            last_read_short: false,
        }
    }

    /// After a read that returned less than a quarter of a chunk, wait
    /// `pause` before the next one, so that data piles up in the socket
    /// and is fetched in one call, for a peer that sends many small
    /// messages; the price is at most `pause` of extra delay.
    pub fn set_read_pause(&mut self, pause: Duration) {
        self.pause = Some(pause);
    }

    /// Sets the longest message accepted.
    pub fn set_max_len(&mut self, max_len: usize) {
        self.max_len = max_len;
    }

    /// The next whole message; `None` when the peer closed the connection
    /// cleanly between messages.
    pub async fn next(&mut self) -> Result<Option<Frame>> {
        loop {
            if let Some(frame) =
                Frame::split(&mut self.buf, self.max_len).map_err(|e| anyhow!("{e}"))?
            {
                return Ok(Some(frame));
            }
            if let (Some(pause), true) = (self.pause, self.last_read_short) {
                tokio::time::sleep(pause).await;
            }
            if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
                self.buf.reserve(READ_CHUNK);
            }
            let n = self.read.read_buf(&mut self.buf).await?;
            if n == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                bail!("connection closed inside a message");
            }
            self.last_read_short = n < READ_CHUNK / 4;
        }
    }
}

/// Reads and drops everything the peer sends, failing on a NOTIFICATION or
/// a broken stream; returns when the peer closes. Keeps the peer's
/// writes flowing for a speaker that only sends.
pub async fn drain(mut reader: FrameReader) -> Result<u64> {
    let mut updates = 0;
    while let Some(frame) = reader.next().await? {
        match frame.kind() {
            MessageType::Update => updates += 1,
            MessageType::Notification => {
                let n = Notification::decode(&frame.body()).map_err(|e| anyhow!("{e}"))?;
                bail!("peer sent NOTIFICATION: {n}");
            }
            _ => {}
        }
    }
    Ok(updates)
}
