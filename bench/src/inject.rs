//! `bgpbench inject`: one eBGP session that sends a generated full table,
//! then End-of-RIB, then keeps the session up with keepalives.
//!
//! The table is generated and encoded before the connection is made, so
//! that the daemon receives it as fast as TCP carries it. Events on
//! standard output: `generated`, `established`, `first_update` (the
//! instant the first UPDATE is written, the start of the measurement),
//! `sent` (End-of-RIB written) and `stopped`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant as StdInstant};

use anyhow::{anyhow, bail, Context, Result};
use bytes::{Bytes, BytesMut};
use ipnet::IpNet;
use ocbgp_engine::wire::{
    CodecConfig, EncodedAttributes, Family, Message, NextHop, Nlri, Notification, UpdatePacker,
};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::event::emit;
use crate::gen::{Table, TableSpec, MAX_PREFIXES};
use crate::measure::{mono_ns, seconds_between};
use crate::speaker::{self, SpeakerConfig};

/// Options of `bgpbench inject`.
#[derive(Debug, Clone, clap::Args)]
pub struct InjectArgs {
    /// The daemon to connect to (port 179 unless given).
    #[arg(long, value_name = "ADDR[:PORT]", required_unless_present = "listen")]
    pub peer: Option<String>,
    /// Wait for the daemon to connect here instead of connecting.
    #[arg(long, value_name = "ADDR[:PORT]", conflicts_with = "peer")]
    pub listen: Option<String>,
    /// Source address of the connection.
    #[arg(long, value_name = "ADDR")]
    pub local: Option<IpAddr>,
    /// Our AS.
    #[arg(long, default_value_t = 65001)]
    pub local_as: u32,
    /// The daemon's AS (checked against its OPEN).
    #[arg(long)]
    pub peer_as: Option<u32>,
    /// Our BGP identifier (default: the connection's local address).
    #[arg(long)]
    pub router_id: Option<Ipv4Addr>,
    /// Number of prefixes to announce.
    #[arg(long, default_value_t = 1_000_000)]
    pub prefixes: usize,
    /// Number of distinct attribute sets (default: 3/20 of the prefixes).
    #[arg(long)]
    pub attr_sets: Option<usize>,
    /// NEXT_HOP of every route: put our own address on the shared subnet,
    /// which daemons accept as directly reachable.
    #[arg(long)]
    pub next_hop: Ipv4Addr,
    /// Seed of the generated table.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of injectors announcing the same prefixes (each with paths
    /// of its own, the best path of each prefix from one of them).
    #[arg(long, default_value_t = 1)]
    pub injectors: usize,
    /// This injector's index among --injectors (0 first).
    #[arg(long, default_value_t = 0)]
    pub index: usize,
    /// Proposed hold time, seconds.
    #[arg(long, default_value_t = 180)]
    pub hold_time: u16,
    /// Offer extended messages (RFC 8654); off by default, as in most
    /// deployments.
    #[arg(long)]
    pub extended_message: bool,
    /// Seconds to wait for the session to come up.
    #[arg(long, default_value_t = 600)]
    pub connect_timeout: u64,
    /// Seconds to keep the session up after End-of-RIB (default: until
    /// SIGTERM or SIGINT).
    #[arg(long)]
    pub duration: Option<u64>,
    /// Offer graceful restart (RFC 4724) with this restart time, and when
    /// the session is lost connect again (within --connect-timeout) and
    /// send the whole table and End-of-RIB again, as a helper does for a
    /// restarting peer.
    #[arg(long, value_name = "SECONDS")]
    pub graceful_restart: Option<u16>,
}

/// Adds port 179 to an address without one.
pub fn socket_addr(text: &str) -> Result<SocketAddr> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let ip: IpAddr = text
        .parse()
        .with_context(|| format!("{text:?} is not an address"))?;
    Ok(SocketAddr::new(ip, 179))
}

/// The table as UPDATE messages, in chunks of whole messages of about
/// 256 KiB (so that a keepalive can go between two chunks).
#[derive(Debug, Clone)]
pub struct EncodedTable {
    /// The chunks, in sending order.
    pub chunks: Vec<Bytes>,
    /// Number of UPDATE messages.
    pub updates: usize,
    /// Total octets.
    pub bytes: usize,
}

/// Size at which a chunk is closed.
const CHUNK: usize = 256 * 1024;

/// Encodes `table` set by set with [`UpdatePacker`] for a session with
/// `codec`'s settings, every route with `next_hop`.
pub fn encode_table(
    table: &Table,
    next_hop: Ipv4Addr,
    codec: &CodecConfig,
) -> Result<EncodedTable> {
    let packer = UpdatePacker::new(codec);
    let mut chunks = Vec::new();
    let mut buf = BytesMut::with_capacity(CHUNK + 8192);
    let mut updates = 0;
    let mut bytes = 0;
    let mut nlri = Vec::new();
    for (attrs, prefixes) in table.sets.iter().zip(table.groups()) {
        let encoded =
            EncodedAttributes::new(attrs, codec.four_octet_as).map_err(|e| anyhow!("{e}"))?;
        nlri.clear();
        nlri.extend(prefixes.into_iter().map(|p| Nlri::new(IpNet::V4(p))));
        updates += packer
            .announce(
                &encoded,
                Family::IPV4_UNICAST,
                NextHop::V4(next_hop),
                &nlri,
                &mut buf,
            )
            .map_err(|e| anyhow!("{e}"))?;
        if buf.len() >= CHUNK {
            bytes += buf.len();
            chunks.push(buf.split().freeze());
            buf.reserve(CHUNK + 8192);
        }
    }
    if !buf.is_empty() {
        bytes += buf.len();
        chunks.push(buf.freeze());
    }
    Ok(EncodedTable {
        chunks,
        updates,
        bytes,
    })
}

/// Runs `bgpbench inject`.
pub async fn run(args: InjectArgs) -> Result<()> {
    if args.prefixes == 0 || args.prefixes > MAX_PREFIXES {
        bail!("--prefixes must be between 1 and {MAX_PREFIXES}");
    }
    let mut spec = TableSpec::new(args.prefixes, args.seed, args.local_as);
    if let Some(sets) = args.attr_sets {
        spec.attr_sets = sets;
    }
    let started = StdInstant::now();
    if args.index >= args.injectors {
        bail!("--index must be below --injectors");
    }
    let table = Table::for_injector(&spec, args.index, args.injectors);
    // The codec settings of a session that negotiates what we offer.
    let expected_codec = CodecConfig {
        four_octet_as: true,
        extended_message: false,
        ..CodecConfig::default()
    };
    let mut encoded = encode_table(&table, args.next_hop, &expected_codec)?;
    eprintln!(
        "inject: generated {} prefixes in {} attribute sets: {} UPDATEs, {} bytes, in {:.2} s",
        table.prefixes.len(),
        table.sets.len(),
        encoded.updates,
        encoded.bytes,
        started.elapsed().as_secs_f64()
    );
    emit(json!({
        "event": "generated", "prefixes": table.prefixes.len(), "attr_sets": table.sets.len(),
        "updates": encoded.updates, "bytes": encoded.bytes, "seconds": started.elapsed().as_secs_f64(),
    }));

    let mut session_no = 0u32;
    let stop = crate::stop_signal(args.duration);
    tokio::pin!(stop);
    let mut lost_at: Option<Instant> = None;
    loop {
        session_no += 1;
        let ended = match one_session(
            &args,
            &table,
            &mut encoded,
            &expected_codec,
            session_no,
            &mut stop,
        )
        .await
        {
            Ok(ended) => ended,
            // While the daemon restarts, a connection may be refused or
            // reset before the OPEN exchange ends: try again.
            Err(e)
                if lost_at
                    .is_some_and(|t| t.elapsed() < Duration::from_secs(args.connect_timeout)) =>
            {
                eprintln!("inject: session {session_no} not set up ({e:#}); trying again");
                session_no -= 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        if ended.is_some() {
            lost_at = Some(Instant::now());
        }
        match ended {
            None => return Ok(()),
            Some(why) if args.graceful_restart.is_some() => {
                eprintln!("inject: session {session_no} lost ({why}); connecting again");
                emit(
                    json!({"event": "session_lost", "session": session_no, "error": why,
                    "t_ns": mono_ns()}),
                );
            }
            Some(why) => bail!("{why}"),
        }
    }
}

/// One session: connect, establish, send the table and End-of-RIB, then
/// keepalives. `None` when stopped by `stop`, the reason when the session
/// was lost.
async fn one_session(
    args: &InjectArgs,
    table: &Table,
    encoded: &mut EncodedTable,
    expected_codec: &CodecConfig,
    session_no: u32,
    stop: &mut (impl std::future::Future<Output = &'static str> + Unpin),
) -> Result<Option<String>> {
    let deadline = Instant::now() + Duration::from_secs(args.connect_timeout);
    let stream = match (&args.peer, &args.listen) {
        (Some(peer), _) => speaker::connect(socket_addr(peer)?, args.local, deadline).await?,
        (None, Some(listen)) => speaker::accept(socket_addr(listen)?, deadline).await?,
        (None, None) => bail!("give --peer or --listen"),
    };
    let config = SpeakerConfig {
        local_as: args.local_as,
        peer_as: args.peer_as,
        router_id: args.router_id,
        hold_time: args.hold_time,
        extended_message: args.extended_message,
        graceful_restart: args.graceful_restart,
    };
    let session = speaker::establish(stream, &config, deadline).await?;
    if session.codec.four_octet_as != expected_codec.four_octet_as
        || session.codec.extended_message != expected_codec.extended_message
    {
        *encoded = encode_table(table, args.next_hop, &session.codec)?;
    }
    let restarting = session
        .negotiated
        .graceful_restart
        .as_ref()
        .map(|g| g.restarting);
    eprintln!(
        "inject: session {session_no} with {} established",
        session.peer
    );
    emit(
        json!({"event": "established", "session": session_no, "peer": session.peer.to_string(),
        "restarting": restarting, "t_ns": mono_ns()}),
    );

    let mut reader = session.reader;
    reader.set_read_pause(Duration::from_millis(5));
    let mut drain = tokio::spawn(speaker::drain(reader));
    let mut writer = session.writer;
    let codec = session.codec.clone();
    let keepalive_every = speaker::keepalive_interval(&session.negotiated);

    let first_ns = mono_ns();
    emit(json!({"event": "first_update", "session": session_no, "t_ns": first_ns}));
    let send = async {
        let mut last_write = Instant::now();
        for chunk in &encoded.chunks {
            if last_write.elapsed() >= keepalive_every {
                speaker::send(&mut writer, &Message::Keepalive, &codec).await?;
            }
            writer.write_all(chunk).await?;
            last_write = Instant::now();
        }
        let mut eor = BytesMut::new();
        UpdatePacker::new(&codec)
            .end_of_rib(Family::IPV4_UNICAST, &mut eor)
            .map_err(|e| anyhow!("{e}"))?;
        writer.write_all(&eor).await?;
        anyhow::Ok(())
    };
    tokio::select! {
        sent = send => if let Err(e) = sent {
            return Ok(Some(format!("sending the table: {e:#}")));
        },
        ended = &mut drain => return Ok(Some(format!("session ended while sending: {}", describe_end(ended)))),
    }
    let sent_ns = mono_ns();
    eprintln!(
        "inject: finished sending {} prefixes in {} UPDATEs + End-of-RIB in {:.3} s",
        args.prefixes,
        encoded.updates,
        seconds_between(first_ns, sent_ns)
    );
    emit(json!({
        "event": "sent", "session": session_no, "t_ns": sent_ns,
        "seconds": seconds_between(first_ns, sent_ns),
        "prefixes": args.prefixes, "updates": encoded.updates,
    }));

    let keep = speaker::keepalives(&mut writer, keepalive_every, &codec);
    let reason = tokio::select! {
        reason = stop => reason,
        ended = &mut drain => return Ok(Some(format!("session ended: {}", describe_end(ended)))),
        failed = keep => return Ok(Some(format!("keepalive failed: {}", failed.err().map(|e| e.to_string()).unwrap_or_default()))),
    };
    let bye = Message::Notification(Notification::administrative_shutdown("benchmark over"));
    let _ = speaker::send(&mut writer, &bye, &codec).await;
    let _ = writer.shutdown().await;
    emit(json!({"event": "stopped", "reason": reason, "t_ns": mono_ns()}));
    Ok(None)
}

/// Words for how the drain task ended.
fn describe_end(ended: Result<Result<u64>, tokio::task::JoinError>) -> String {
    match ended {
        Ok(Ok(_)) => "the peer closed the connection".to_owned(),
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    }
}
