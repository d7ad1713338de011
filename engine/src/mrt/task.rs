//! One MRT dump's task: an update log that follows the change feed, or
//! table snapshots read from the RIB a batch at a time.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::BytesMut;
use ipnet::IpNet;
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::sync::watch;

use super::encode::{self, Ends, IndexPeer, RibEntry};
use super::{expand, DumpKind, DumpSettings, DumpStats};
use crate::bmp::encode::{split_messages, UpdateEncoder};
use crate::bmp::{read_batch, DumpPath, RibSource};
use crate::rib::{PeerIdx, Rib, RouteChange, SessionUp, FEED_CAPACITY};
use crate::rib_task::RibHandle;
use crate::wire::{CodecConfig, Family};

type File = BufWriter<tokio::fs::File>;

/// Runs a dump until `stop` turns true.
pub(super) async fn run(
    settings: DumpSettings,
    stats: Arc<DumpStats>,
    source: RibSource,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let rib = loop {
            if *stop.borrow() {
                return;
            }
            if let Some(r) = source() {
                break r;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => return,
            }
        };
        let r = match settings.kind {
            DumpKind::Updates => updates(&settings, &stats, &source, &rib, &mut stop).await,
            DumpKind::Table => tables(&settings, &stats, &source, &rib, &mut stop).await,
        };
        match r {
            Ok(true) => return,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(dump = %settings.name, error = %e, "MRT dump failed; retrying in 5 s");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = stop.changed() => return,
                }
            }
        }
    }
}

async fn open(settings: &DumpSettings, stats: &DumpStats, name: &str) -> std::io::Result<File> {
    let f = tokio::fs::File::create(name).await?;
    stats.set_current(name.to_string());
    tracing::info!(dump = %settings.name, file = %name, "MRT file opened");
    Ok(BufWriter::with_capacity(256 * 1024, f))
}

/// A session as the update log names it.
struct Peer {
    ends: Ends,
    encoder: UpdateEncoder,
    add_path: Vec<Family>,
}

fn peer_of(s: &SessionUp, local_as: u32) -> Peer {
    let n = &s.info.negotiated;
    Peer {
        ends: Ends {
            peer_as: s.asn,
            local_as,
            peer: s.info.remote.ip(),
            local: s.info.local.ip(),
        },
        // BGP4MP_MESSAGE_AS4: AS numbers in 4 octets, path ids as received.
        encoder: UpdateEncoder::new(CodecConfig {
            four_octet_as: true,
            extended_message: n.extended_message,
            add_path_send: n.add_path_receive.clone(),
            ..CodecConfig::default()
        }),
        add_path: n.add_path_receive.clone(),
    }
}

/// The update log: until stopped (`Ok(true)`) or BGP restarted
/// (`Ok(false)`).
async fn updates(
    settings: &DumpSettings,
    stats: &DumpStats,
    source: &RibSource,
    rib: &RibHandle,
    stop: &mut watch::Receiver<bool>,
) -> std::io::Result<bool> {
    let Some((mut feed, sessions, local)) = rib
        .query(|rib: &mut Rib| {
            (
                rib.listen_routes_with(FEED_CAPACITY, false),
                rib.sessions_up(),
                rib.local(),
            )
        })
        .await
    else {
        return Ok(false);
    };
    let mut peers: HashMap<PeerIdx, Peer> = sessions
        .iter()
        .map(|s| (s.peer, peer_of(s, local.asn)))
        .collect();
    let mut file = open(
        settings,
        stats,
        &expand(&settings.file_name, SystemTime::now()),
    )
    .await?;
    let mut rotate = (settings.rotation_interval > 0).then(|| {
        let every = Duration::from_secs(settings.rotation_interval.into());
        tokio::time::interval_at(tokio::time::Instant::now() + every, every)
    });
    let mut check = tokio::time::interval(Duration::from_secs(1));
    let mut batch = Vec::with_capacity(1024);
    let mut out = BytesMut::new();
    let mut scratch = BytesMut::new();
    loop {
        tokio::select! {
            n = feed.recv_many(&mut batch, 1024) => {
                if n == 0 {
                    file.flush().await?;
                    return Ok(false);
                }
                let now = SystemTime::now();
                for c in batch.drain(..) {
                    let records = record(c, now, local.asn, &mut peers, &mut out, &mut scratch);
                    if records == u64::MAX {
                        stats.lost.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(dump = %settings.name, "MRT update log fell behind the RIB: changes are missing");
                        continue;
                    }
                    stats.records.fetch_add(records, Ordering::Relaxed);
                }
                file.write_all(&out).await?;
                out.clear();
                file.flush().await?;
            }
            _ = async {
                match rotate.as_mut() {
                    Some(t) => {
                        t.tick().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            } => {
                file.flush().await?;
                file = open(settings, stats, &expand(&settings.file_name, SystemTime::now())).await?;
            }
            _ = check.tick() => {
                if !source().is_some_and(|r| r.same(rib)) {
                    file.flush().await?;
                    return Ok(false);
                }
            }
            _ = stop.changed() => {
                file.flush().await?;
                return Ok(true);
            }
        }
    }
}

/// Appends the records of one change; returns how many (`u64::MAX`: the
/// feed lost changes).
fn record(
    change: RouteChange,
    now: SystemTime,
    local_as: u32,
    peers: &mut HashMap<PeerIdx, Peer>,
    out: &mut BytesMut,
    scratch: &mut BytesMut,
) -> u64 {
    let (family, net, peer, path_id, attrs) = match change {
        RouteChange::Lagged => return u64::MAX,
        RouteChange::Sent { .. }
        | RouteChange::Installed { .. }
        | RouteChange::Forwarding { .. } => return 0,
        RouteChange::PeerUp(s) => {
            let p = peer_of(&s, local_as);
            encode::state_change(
                out,
                now,
                &p.ends,
                encode::STATE_OPENCONFIRM,
                encode::STATE_ESTABLISHED,
            );
            peers.insert(s.peer, p);
            return 1;
        }
        RouteChange::PeerDown { peer, .. } => {
            let Some(p) = peers.remove(&peer) else {
                return 0;
            };
            encode::state_change(
                out,
                now,
                &p.ends,
                encode::STATE_ESTABLISHED,
                encode::STATE_IDLE,
            );
            return 1;
        }
        RouteChange::Set {
            family,
            net,
            peer,
            path_id,
            received,
            ..
        } => (family, net, peer, path_id, Some(received)),
        RouteChange::Gone {
            family,
            net,
            peer,
            path_id,
        } => (family, net, peer, path_id, None),
    };
    let Some(p) = peers.get(&peer) else {
        return 0;
    };
    scratch.clear();
    let r = match &attrs {
        Some(a) => p.encoder.announce(family, &[(net, path_id)], a, scratch),
        None => p.encoder.withdraw(family, &[(net, path_id)], scratch),
    };
    if r.is_err() {
        return 0;
    }
    let add_path = p.add_path.contains(&family);
    let mut n = 0;
    for msg in split_messages(scratch) {
        encode::message(out, now, &p.ends, add_path, msg);
        n += 1;
    }
    n
}

/// Table snapshots: one, or one per rotation interval, until stopped
/// (`Ok(true)`) or BGP restarted (`Ok(false)`).
async fn tables(
    settings: &DumpSettings,
    stats: &DumpStats,
    source: &RibSource,
    rib: &RibHandle,
    stop: &mut watch::Receiver<bool>,
) -> std::io::Result<bool> {
    loop {
        let name = expand(&settings.file_name, SystemTime::now());
        let records = snapshot(rib, &name, settings, stats).await?;
        stats.records.fetch_add(records, Ordering::Relaxed);
        let wait = match settings.rotation_interval {
            0 => None,
            s => Some(Duration::from_secs(s.into())),
        };
        let deadline = wait.map(|w| tokio::time::Instant::now() + w);
        loop {
            tokio::select! {
                _ = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending::<()>().await,
                    }
                } => break,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {
                    if !source().is_some_and(|r| r.same(rib)) {
                        return Ok(false);
                    }
                }
                _ = stop.changed() => return Ok(true),
            }
        }
    }
}

/// Writes one TABLE_DUMP_V2 snapshot to `name` (through a temporary file
/// renamed at the end, so readers never see half a table); returns the
/// records written.
pub(crate) async fn snapshot(
    rib: &RibHandle,
    name: &str,
    settings: &DumpSettings,
    stats: &DumpStats,
) -> std::io::Result<u64> {
    let gone = || std::io::Error::other("BGP restarted during the dump");
    let (sessions, local) = rib
        .query(|rib: &mut Rib| (rib.sessions_up(), rib.local()))
        .await
        .ok_or_else(gone)?;
    let now = SystemTime::now();
    // Index 0 is this speaker (its own routes), then the sessions.
    let mut index: HashMap<PeerIdx, u16> = HashMap::from([(PeerIdx::LOCAL, 0)]);
    let mut table = vec![IndexPeer {
        bgp_id: local.router_id,
        address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        asn: local.asn,
    }];
    for s in sessions.iter().take(usize::from(u16::MAX) - 1) {
        index.insert(s.peer, table.len() as u16);
        table.push(IndexPeer {
            bgp_id: s.info.remote_router_id,
            address: s.info.remote.ip(),
            asn: s.asn,
        });
    }
    let tmp = format!("{name}.tmp");
    let mut file = open(settings, stats, &tmp).await?;
    let mut out = BytesMut::new();
    encode::peer_index_table(&mut out, now, local.router_id, &settings.name, &table);
    let mut records = 1u64;
    let mut sequence = 0u32;
    for family in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
        let mut from: Option<IpNet> = None;
        loop {
            let start = from;
            let (routes, next) = rib
                .query(move |rib: &mut Rib| {
                    if family == Family::IPV4_UNICAST {
                        read_batch(rib.v4(), start)
                    } else {
                        read_batch(rib.v6(), start)
                    }
                })
                .await
                .ok_or_else(gone)?;
            for (net, paths) in &routes {
                if table_record(&mut out, now, sequence, *net, paths, &index) {
                    sequence = sequence.wrapping_add(1);
                    records += 1;
                }
            }
            file.write_all(&out).await?;
            out.clear();
            match next {
                Some(n) => from = Some(n),
                None => break,
            }
        }
    }
    file.flush().await?;
    drop(file);
    tokio::fs::rename(&tmp, name).await?;
    stats.set_current(name.to_string());
    tracing::info!(dump = %settings.name, file = %name, records, "MRT table dump written");
    Ok(records)
}

/// The RIB record of one prefix: every accepted path of a known source.
fn table_record(
    out: &mut BytesMut,
    now: SystemTime,
    sequence: u32,
    net: IpNet,
    paths: &[DumpPath],
    index: &HashMap<PeerIdx, u16>,
) -> bool {
    let entries: Vec<RibEntry<'_>> = paths
        .iter()
        .filter_map(|(peer, path_id, _, accepted, _)| {
            Some(RibEntry {
                peer: *index.get(peer)?,
                originated: now,
                path_id: *path_id,
                attrs: accepted.as_deref()?,
            })
        })
        .collect();
    if entries.is_empty() {
        return false;
    }
    let add_path = entries.iter().any(|e| e.path_id != 0);
    encode::rib_entries(out, now, sequence, net, add_path, &entries);
    true
}
