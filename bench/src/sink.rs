//! `bgpbench sink`: N passive BGP speakers in one process, each counting
//! the distinct IPv4 prefixes its peer currently announces.
//!
//! Sessions are set up on the async runtime; then each sink reads on a
//! thread of its own with a blocking socket ([`Counter`]), pausing briefly
//! after short reads so that a daemon that sends many small UPDATEs does
//! not make the sinks steal its CPU. A sink walks the Withdrawn Routes
//! and NLRI fields itself and skips the attributes, falling back to the
//! engine's full decoder only for an UPDATE that carries MP_REACH_NLRI or
//! MP_UNREACH_NLRI. It trusts the daemon's attributes (no RFC 7606
//! treat-as-withdraw): the daemons under test send good ones.
//!
//! Events on standard output: `established` per sink, `complete` when a
//! sink first holds `--expect` prefixes (with the absolute time and the
//! seconds since the start signal), `incomplete` if it drops below again,
//! `failed` if its session fails, and `summary` at exit. The start signal
//! is SIGUSR1 if the process gets one, otherwise the first UPDATE any sink
//! receives.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use ipnet::IpNet;
use ocbgp_engine::wire::{CodecConfig, DecodedUpdate, Family, MessageType, Notification};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::event::emit;
use crate::inject::socket_addr;
use crate::measure::{mono_ns, seconds_between};
use crate::speaker::{self, SpeakerConfig};

/// Options of `bgpbench sink`.
#[derive(Debug, Clone, clap::Args)]
pub struct SinkArgs {
    /// Connect to this daemon (port 179 unless given).
    #[arg(long, value_name = "ADDR[:PORT]", required_unless_present = "listen")]
    pub peer: Option<String>,
    /// Source address of the first sink's connection; sink i uses this
    /// address plus i.
    #[arg(long, value_name = "ADDR", requires = "peer")]
    pub local: Option<Ipv4Addr>,
    /// Wait for the daemon on this address instead; sink i listens on the
    /// address plus i (or the port plus i with --port-step).
    #[arg(long, value_name = "ADDR[:PORT]", conflicts_with = "peer")]
    pub listen: Option<String>,
    /// With --listen: step the port, not the address, from sink to sink.
    #[arg(long, requires = "listen")]
    pub port_step: bool,
    /// Number of sinks.
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    /// AS of the first sink; sink i is in this AS plus i.
    #[arg(long, default_value_t = 65100)]
    pub local_as: u32,
    /// The daemon's AS (checked against its OPEN).
    #[arg(long)]
    pub peer_as: Option<u32>,
    /// Prefixes each sink must hold to be complete.
    #[arg(long)]
    pub expect: Option<usize>,
    /// The number of injectors sending the table: above 1, a sink holds a
    /// prefix only while the daemon's route to it is the one of the
    /// prefix's winning injector (see `bgpbench inject --injectors`).
    #[arg(long, default_value_t = 1)]
    pub injectors: usize,
    /// With --injectors: the seed of the injectors' table.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// With --injectors: the first injector's AS (injector i is in this
    /// AS plus i).
    #[arg(long, default_value_t = 65001)]
    pub injector_as: u32,
    /// Proposed hold time, seconds.
    #[arg(long, default_value_t = 180)]
    pub hold_time: u16,
    /// Offer extended messages (RFC 8654).
    #[arg(long)]
    pub extended_message: bool,
    /// Seconds to wait for the sessions to come up.
    #[arg(long, default_value_t = 600)]
    pub connect_timeout: u64,
    /// Exit once every sink is complete.
    #[arg(long, requires = "expect")]
    pub exit_when_complete: bool,
    /// Seconds to run at most (default: until SIGTERM or SIGINT).
    #[arg(long)]
    pub duration: Option<u64>,
    /// Print every sink's count on standard error every this many seconds.
    #[arg(long)]
    pub progress: Option<u64>,
    /// Act as a graceful restart helper (RFC 4724): offer the capability
    /// with this restart time (IPv4 unicast, F bit set), send End-of-RIB
    /// once a session is up, and when a session is lost keep the table,
    /// connect again, and at the daemon's next End-of-RIB drop the
    /// prefixes it did not send again. Withdrawals are counted per
    /// session either way.
    #[arg(long, value_name = "SECONDS", requires = "peer")]
    pub graceful_restart: Option<u16>,
}

/// The distinct IPv4 prefixes a sink holds.
///
/// Prefixes up to /24 live in one bitmap per length (4 MiB for all of
/// them, allocated per length on first use), longer ones in a hash set:
/// inserting and removing cost a few instructions and no allocation.
#[derive(Debug, Clone, Default)]
pub struct PrefixSet {
    bitmaps: Vec<Vec<u64>>,
    long: HashSet<u64>,
    len: usize,
}

/// The longest prefix length kept in a bitmap.
const BITMAP_MAX_LEN: u8 = 24;

impl PrefixSet {
    /// An empty set.
    pub fn new() -> Self {
        PrefixSet {
            bitmaps: vec![Vec::new(); usize::from(BITMAP_MAX_LEN) + 1],
            long: HashSet::new(),
            len: 0,
        }
    }

    /// Number of prefixes held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Adds `addr/len` (host bits ignored); true if it was not there.
    pub fn insert(&mut self, addr: u32, len: u8) -> bool {
        let added = match self.slot(addr, len) {
            Slot::Bit(words, i) => {
                let before = words[i / 64];
                words[i / 64] |= 1 << (i % 64);
                before != words[i / 64]
            }
            Slot::Long(key) => self.long.insert(key),
        };
        self.len += usize::from(added);
        added
    }

    /// Removes `addr/len`; true if it was there.
    pub fn remove(&mut self, addr: u32, len: u8) -> bool {
        let removed = match self.slot(addr, len) {
            Slot::Bit(words, i) => {
                let before = words[i / 64];
                words[i / 64] &= !(1 << (i % 64));
                before != words[i / 64]
            }
            Slot::Long(key) => self.long.remove(&key),
        };
        self.len -= usize::from(removed);
        removed
    }

    /// Where `addr/len` is kept.
    fn slot(&mut self, addr: u32, len: u8) -> Slot<'_> {
        let len = len.min(32);
        if len > BITMAP_MAX_LEN {
            return Slot::Long((u64::from(addr & mask(len)) << 8) | u64::from(len));
        }
        let index = if len == 0 {
            0
        } else {
            (addr >> (32 - u32::from(len))) as usize
        };
        let words = &mut self.bitmaps[usize::from(len)];
        if words.is_empty() {
            *words = vec![0; (1usize << len).div_ceil(64)];
        }
        Slot::Bit(words, index)
    }
}

/// A prefix's place in a [`PrefixSet`].
enum Slot<'a> {
    /// Bit `.1` of the bitmap `.0`.
    Bit(&'a mut Vec<u64>, usize),
    /// Key in the hash set of long prefixes.
    Long(u64),
}

/// Somewhere UPDATEs are applied.
pub trait Prefixes {
    /// Adds `addr/len`.
    fn insert(&mut self, addr: u32, len: u8);
    /// Removes `addr/len`.
    fn remove(&mut self, addr: u32, len: u8);
}

impl Prefixes for PrefixSet {
    fn insert(&mut self, addr: u32, len: u8) {
        PrefixSet::insert(self, addr, len);
    }
    fn remove(&mut self, addr: u32, len: u8) {
        PrefixSet::remove(self, addr, len);
    }
}

/// A sink's table across sessions: during a graceful restart of the
/// daemon, `refreshed` holds what the daemon sent again since the new
/// session came up; the rest of `table` is stale until End-of-RIB.
#[derive(Debug)]
struct Rib {
    table: PrefixSet,
    refreshed: Option<PrefixSet>,
}

impl Prefixes for Rib {
    fn insert(&mut self, addr: u32, len: u8) {
        self.table.insert(addr, len);
        if let Some(r) = &mut self.refreshed {
            r.insert(addr, len);
        }
    }
    fn remove(&mut self, addr: u32, len: u8) {
        self.table.remove(addr, len);
        if let Some(r) = &mut self.refreshed {
            r.remove(addr, len);
        }
    }
}

impl Rib {
    /// The session is lost: every prefix held is stale from now on.
    fn mark_stale(&mut self) {
        self.refreshed = Some(PrefixSet::new());
    }

    /// End-of-RIB: drops the stale prefixes (those not sent again);
    /// returns how many.
    fn sweep(&mut self) -> usize {
        match self.refreshed.take() {
            Some(refreshed) => {
                // `refreshed` is a subset of `table`: every insert and
                // remove went to both.
                let swept = self.table.len() - refreshed.len();
                self.table = refreshed;
                swept
            }
            None => 0,
        }
    }
}

/// What one UPDATE did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Prefixes in its withdrawn fields (held or not).
    pub withdrawn: usize,
    /// It was End-of-RIB for IPv4 unicast.
    pub end_of_rib: bool,
}

/// The netmask of a prefix length.
fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    }
}

/// Calls `f(address, length)` for each IPv4 prefix of a Withdrawn Routes
/// or NLRI field (no add-path).
fn walk_prefixes(field: &[u8], mut f: impl FnMut(u32, u8)) -> Result<()> {
    let mut i = 0;
    while i < field.len() {
        let len = field[i];
        if len > 32 {
            bail!("prefix length {len} in an IPv4 field");
        }
        let n = usize::from(len).div_ceil(8);
        let octets = field
            .get(i + 1..i + 1 + n)
            .ok_or_else(|| anyhow!("truncated prefix"))?;
        let mut addr = [0u8; 4];
        addr[..n].copy_from_slice(octets);
        f(u32::from_be_bytes(addr) & mask(len), len);
        i += 1 + n;
    }
    Ok(())
}

/// What a sink looks for in a path attribute field.
#[derive(Debug, Default)]
struct Scan<'a> {
    /// It holds MP_REACH_NLRI or MP_UNREACH_NLRI.
    mp: bool,
    /// The AS_PATH attribute's value.
    as_path: Option<&'a [u8]>,
}

/// Walks a path attribute field.
fn scan_attributes(mut attrs: &[u8]) -> Result<Scan<'_>> {
    let mut scan = Scan::default();
    while !attrs.is_empty() {
        let (flags, code) = match attrs {
            [flags, code, ..] => (*flags, *code),
            _ => bail!("truncated attribute header"),
        };
        let (header, len) = if flags & 0x10 != 0 {
            let len = attrs
                .get(2..4)
                .ok_or_else(|| anyhow!("truncated attribute header"))?;
            (4, usize::from(u16::from_be_bytes([len[0], len[1]])))
        } else {
            (
                3,
                usize::from(
                    *attrs
                        .get(2)
                        .ok_or_else(|| anyhow!("truncated attribute header"))?,
                ),
            )
        };
        let value = attrs
            .get(header..header + len)
            .ok_or_else(|| anyhow!("attribute overruns the field"))?;
        match code {
            2 => scan.as_path = Some(value),
            14 | 15 => scan.mp = true,
            _ => {}
        }
        attrs = &attrs[header + len..];
    }
    Ok(scan)
}

/// With several injectors: which path of each prefix the daemon must end
/// up sending, the one of its [`winner`](crate::gen::winner). A sink then
/// holds a prefix only while the daemon's route to it is that one.
#[derive(Debug, Clone, Copy)]
pub struct Winners {
    /// Seed of the injectors' table.
    pub seed: u64,
    /// Number of injectors.
    pub injectors: usize,
    /// The first injector's AS; injector i is in this plus i.
    pub first_as: u32,
}

impl Winners {
    /// The injector a route came from: the first of their ASes in its
    /// AS_PATH (`as4`: 4-octet AS numbers on the session).
    fn injector_of(&self, as_path: &[u8], as4: bool) -> Option<usize> {
        let width = if as4 { 4 } else { 2 };
        let mut rest = as_path;
        while let [_kind, count, tail @ ..] = rest {
            let n = usize::from(*count) * width;
            let asns = tail.get(..n)?;
            for asn in asns.chunks_exact(width) {
                let asn = match *asn {
                    [a, b, c, d] => u32::from_be_bytes([a, b, c, d]),
                    [a, b] => u32::from(u16::from_be_bytes([a, b])),
                    _ => return None,
                };
                let i = asn.wrapping_sub(self.first_as) as usize;
                if i < self.injectors {
                    return Some(i);
                }
            }
            rest = &tail[n..];
        }
        None
    }

    /// Whether a route to `addr/len` from `injector` is the final one.
    fn is_final(&self, addr: u32, len: u8, injector: Option<usize>) -> bool {
        let Ok(net) = ipnet::Ipv4Net::new(Ipv4Addr::from(addr), len) else {
            return false;
        };
        injector == Some(crate::gen::winner(self.seed, net, self.injectors))
    }
}

/// Applies one UPDATE body (the octets after the header) to `set`:
/// withdrawn prefixes leave it, announced ones join it. IPv4 unicast only;
/// other families are ignored.
pub fn apply_update(body: &[u8], set: &mut impl Prefixes, codec: &CodecConfig) -> Result<Applied> {
    apply_update_judged(body, set, codec, None)
}

/// [`apply_update`]; with `winners`, an announced prefix joins the set
/// only if its route is the final one, and leaves it otherwise.
pub fn apply_update_judged(
    body: &[u8],
    set: &mut impl Prefixes,
    codec: &CodecConfig,
    winners: Option<&Winners>,
) -> Result<Applied> {
    if body == [0, 0, 0, 0] {
        return Ok(Applied {
            withdrawn: 0,
            end_of_rib: true,
        });
    }
    let field_len = |at: usize| -> Result<usize> {
        let b = body
            .get(at..at + 2)
            .ok_or_else(|| anyhow!("UPDATE too short"))?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    };
    let withdrawn_len = field_len(0)?;
    let withdrawn = body
        .get(2..2 + withdrawn_len)
        .ok_or_else(|| anyhow!("withdrawn routes overrun"))?;
    let attrs_at = 2 + withdrawn_len;
    let attrs_len = field_len(attrs_at)?;
    let attrs = body
        .get(attrs_at + 2..attrs_at + 2 + attrs_len)
        .ok_or_else(|| anyhow!("attributes overrun"))?;
    let scan = scan_attributes(attrs)?;
    if scan.mp {
        return apply_decoded(body, set, codec, winners);
    }
    let mut applied = Applied::default();
    walk_prefixes(withdrawn, |addr, len| {
        applied.withdrawn += 1;
        set.remove(addr, len);
    })?;
    let from = winners.map(|w| {
        let from = scan
            .as_path
            .and_then(|p| w.injector_of(p, codec.four_octet_as));
        (w, from)
    });
    walk_prefixes(&body[attrs_at + 2 + attrs_len..], |addr, len| match from {
        Some((w, from)) if !w.is_final(addr, len, from) => set.remove(addr, len),
        _ => set.insert(addr, len),
    })?;
    Ok(applied)
}

/// [`apply_update`] through the engine's full decoder.
fn apply_decoded(
    body: &[u8],
    set: &mut impl Prefixes,
    codec: &CodecConfig,
    winners: Option<&Winners>,
) -> Result<Applied> {
    let decoded = DecodedUpdate::decode(body, codec);
    if let ocbgp_engine::wire::Verdict::SessionReset(n) = &decoded.verdict {
        bail!("malformed UPDATE: {n}");
    }
    let v4 = |prefix: &IpNet| match prefix {
        IpNet::V4(p) => Some((u32::from(p.network()), p.prefix_len())),
        IpNet::V6(_) => None,
    };
    let mut applied = Applied {
        withdrawn: 0,
        end_of_rib: decoded.end_of_rib() == Some(Family::IPV4_UNICAST),
    };
    for (family, nlri) in decoded.withdrawn() {
        if family == Family::IPV4_UNICAST {
            nlri.iter()
                .filter_map(|n| v4(&n.prefix))
                .for_each(|(a, l)| {
                    applied.withdrawn += 1;
                    set.remove(a, l);
                });
        }
    }
    let from = winners.map(|w| {
        let path = decoded.update.attributes.as_path.as_ref();
        let asns = path
            .into_iter()
            .flat_map(|p| &p.segments)
            .flat_map(|s| &s.asns);
        let from = asns
            .map(|asn| asn.wrapping_sub(w.first_as) as usize)
            .find(|&i| i < w.injectors);
        (w, from)
    });
    for announced in decoded.announced() {
        if announced.family == Family::IPV4_UNICAST {
            announced
                .nlri
                .iter()
                .filter_map(|n| v4(&n.prefix))
                .for_each(|(a, l)| match from {
                    Some((w, from)) if !w.is_final(a, l, from) => set.remove(a, l),
                    _ => set.insert(a, l),
                });
        }
    }
    Ok(applied)
}

/// The address of sink `i`, stepping the address or the port.
fn nth_addr(base: SocketAddr, i: usize, port_step: bool) -> Result<SocketAddr> {
    let step = u32::try_from(i)?;
    if port_step {
        let port = u16::try_from(u32::from(base.port()) + step)?;
        return Ok(SocketAddr::new(base.ip(), port));
    }
    match base.ip() {
        IpAddr::V4(v4) => Ok(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) + step)),
            base.port(),
        )),
        IpAddr::V6(v6) => Ok(SocketAddr::new(
            IpAddr::V6((u128::from(v6) + u128::from(step)).into()),
            base.port(),
        )),
    }
}

/// What a sink task tells the reporter.
#[derive(Debug)]
enum Report {
    /// The session is up (`session` counts from 1).
    Established {
        sink: usize,
        session: u32,
        peer: SocketAddr,
        local: SocketAddr,
        /// The daemon's Restart State bit, when it offered graceful restart.
        restarting: Option<bool>,
    },
    /// A session was lost and the sink keeps its table (graceful restart).
    Lost {
        sink: usize,
        session: u32,
        error: String,
        count: usize,
    },
    /// End-of-RIB for IPv4 unicast arrived.
    EndOfRib {
        sink: usize,
        session: u32,
        t_ns: u64,
        /// Prefixes held after stale ones were dropped.
        count: usize,
        /// Prefixes withdrawn in this session so far.
        withdrawn: u64,
        /// Stale prefixes dropped (not sent again before End-of-RIB).
        swept: usize,
    },
    /// The sink holds the expected count.
    Complete {
        sink: usize,
        t_ns: u64,
        count: usize,
    },
    /// The sink dropped below it.
    Incomplete { sink: usize, count: usize },
    /// The session failed.
    Failed { sink: usize, error: String },
}

/// State the sinks share.
#[derive(Debug)]
struct Shared {
    /// Start of the measurement on the monotonic clock, 0 until known.
    start_ns: AtomicU64,
    /// Each sink's current count, one cache line each: sinks on other
    /// threads update theirs all the time.
    counts: Vec<Padded>,
}

/// An atomic counter alone on its cache line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Padded(AtomicUsize);

impl Shared {
    /// Marks the start now unless it is already set; cheap once it is.
    fn start_now(&self) {
        if self.start_ns.load(Ordering::Relaxed) == 0 {
            let _ =
                self.start_ns
                    .compare_exchange(0, mono_ns(), Ordering::AcqRel, Ordering::Acquire);
        }
    }
}

/// How long a sink waits after a short read: see [`Counter`].
const READ_PAUSE: Duration = Duration::from_millis(10);

/// Runs `bgpbench sink`.
pub async fn run(args: SinkArgs) -> Result<()> {
    if args.count == 0 {
        bail!("--count must be at least 1");
    }
    let shared = Arc::new(Shared {
        start_ns: AtomicU64::new(0),
        counts: (0..args.count).map(|_| Padded::default()).collect(),
    });
    let (tx, mut rx) = mpsc::unbounded_channel();
    let deadline = Instant::now() + Duration::from_secs(args.connect_timeout);
    let winners = (args.injectors > 1).then_some(Winners {
        seed: args.seed,
        injectors: args.injectors,
        first_as: args.injector_as,
    });
    for i in 0..args.count {
        let endpoint = match (&args.peer, &args.listen) {
            (Some(peer), _) => {
                let local = args
                    .local
                    .map(|l| nth_addr(SocketAddr::new(IpAddr::V4(l), 0), i, false))
                    .transpose()?;
                Endpoint::Connect(socket_addr(peer)?, local.map(|l| l.ip()))
            }
            (None, Some(listen)) => {
                Endpoint::Listen(nth_addr(socket_addr(listen)?, i, args.port_step)?)
            }
            (None, None) => bail!("give --peer or --listen"),
        };
        let config = SpeakerConfig {
            local_as: args.local_as + u32::try_from(i)?,
            peer_as: args.peer_as,
            router_id: None,
            hold_time: args.hold_time,
            extended_message: args.extended_message,
            graceful_restart: args.graceful_restart,
        };
        let (tx, shared) = (tx.clone(), shared.clone());
        let goal = Goal {
            expect: args.expect,
            winners,
        };
        tokio::spawn(async move {
            if let Err(e) = one_sink(i, endpoint, config, deadline, goal, shared, tx.clone()).await
            {
                let _ = tx.send(Report::Failed {
                    sink: i,
                    error: format!("{e:#}"),
                });
            }
        });
    }
    drop(tx);

    let mut usr1 = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())?;
    let stop = crate::stop_signal(args.duration);
    tokio::pin!(stop);
    let mut progress =
        tokio::time::interval(Duration::from_secs(args.progress.unwrap_or(3600).max(1)));
    progress.tick().await;
    let mut complete: Vec<Option<u64>> = vec![None; args.count];
    let mut failed = 0;
    let reason = loop {
        tokio::select! {
            reason = &mut stop => break reason,
            _ = usr1.recv() => {
                shared.start_ns.store(mono_ns(), Ordering::Release);
                emit(json!({"event": "start", "t_ns": shared.start_ns.load(Ordering::Acquire)}));
            }
            _ = progress.tick(), if args.progress.is_some() => {
                let counts: Vec<usize> = shared.counts.iter().map(|c| c.0.load(Ordering::Relaxed)).collect();
                eprintln!("sink: counts {counts:?}");
            }
            report = rx.recv() => match report {
                None => break "every sink ended",
                Some(Report::Established { sink, session, peer, local, restarting }) => {
                    eprintln!("sink {sink}: session {session} {local} -> {peer} established");
                    emit(json!({"event": "established", "sink": sink, "session": session,
                        "peer": peer.to_string(), "local": local.to_string(),
                        "restarting": restarting, "t_ns": mono_ns()}));
                }
                Some(Report::Lost { sink, session, error, count }) => {
                    eprintln!("sink {sink}: session {session} lost ({error}); keeping {count} prefixes");
                    emit(json!({"event": "session_lost", "sink": sink, "session": session,
                        "error": error, "count": count, "t_ns": mono_ns()}));
                }
                Some(Report::EndOfRib { sink, session, t_ns, count, withdrawn, swept }) => {
                    eprintln!("sink {sink}: End-of-RIB in session {session}: {count} prefixes, {withdrawn} withdrawn, {swept} stale dropped");
                    emit(json!({"event": "end_of_rib", "sink": sink, "session": session,
                        "t_ns": t_ns, "count": count, "withdrawn": withdrawn, "swept": swept}));
                }
                Some(Report::Complete { sink, t_ns, count }) => {
                    complete[sink] = Some(t_ns);
                    let start = shared.start_ns.load(Ordering::Acquire);
                    let seconds = seconds_between(start, t_ns);
                    eprintln!("sink {sink}: complete with {count} prefixes, {seconds:.3} s after the start");
                    emit(json!({"event": "complete", "sink": sink, "count": count, "t_ns": t_ns,
                        "seconds": seconds}));
                    if args.exit_when_complete && complete.iter().all(Option::is_some) {
                        break "every sink complete";
                    }
                }
                Some(Report::Incomplete { sink, count }) => {
                    complete[sink] = None;
                    emit(json!({"event": "incomplete", "sink": sink, "count": count, "t_ns": mono_ns()}));
                }
                Some(Report::Failed { sink, error }) => {
                    failed += 1;
                    eprintln!("sink {sink}: failed: {error}");
                    emit(json!({"event": "failed", "sink": sink, "error": error, "t_ns": mono_ns()}));
                }
            }
        }
    };
    let start = shared.start_ns.load(Ordering::Acquire);
    let sinks: Vec<_> = (0..args.count)
        .map(|i| {
            json!({"sink": i, "count": shared.counts[i].0.load(Ordering::Relaxed),
                "complete_s": complete[i].map(|t| seconds_between(start, t))})
        })
        .collect();
    emit(
        json!({"event": "summary", "reason": reason, "failed": failed,
        "all_complete": complete.iter().all(Option::is_some), "sinks": sinks}),
    );
    Ok(())
}

/// How a sink reaches its daemon.
#[derive(Debug, Clone, Copy)]
enum Endpoint {
    /// Connect to the address, from the source address if given.
    Connect(SocketAddr, Option<IpAddr>),
    /// Accept one connection on the address.
    Listen(SocketAddr),
}

/// When a sink is complete.
#[derive(Debug, Clone, Copy)]
struct Goal {
    /// Prefixes it must hold.
    expect: Option<usize>,
    /// With several injectors, which route of each prefix counts.
    winners: Option<Winners>,
}

/// One sink: set up the session, then count on a thread of its own until
/// the session ends. With graceful restart, a lost session is set up
/// again (within `--connect-timeout`) and counting goes on with the same
/// table.
async fn one_sink(
    i: usize,
    endpoint: Endpoint,
    config: SpeakerConfig,
    mut deadline: Instant,
    goal: Goal,
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Report>,
) -> Result<()> {
    let reconnect_within = deadline.saturating_duration_since(Instant::now());
    let mut counter = Counter {
        sink: i,
        session: 0,
        codec: CodecConfig::default(),
        keepalive_every: Duration::from_secs(60),
        expect: goal.expect,
        winners: goal.winners,
        shared,
        tx: tx.clone(),
        rib: Rib {
            table: PrefixSet::new(),
            refreshed: None,
        },
        is_complete: false,
        withdrawn: 0,
        notified: false,
    };
    loop {
        let setup = async {
            let stream = match endpoint {
                Endpoint::Connect(peer, local) => speaker::connect(peer, local, deadline).await?,
                Endpoint::Listen(addr) => speaker::accept(addr, deadline).await?,
            };
            let mut session = speaker::establish(stream, &config, deadline).await?;
            if config.graceful_restart.is_some() {
                speaker::send_end_of_rib(&mut session.writer, &session.codec).await?;
            }
            anyhow::Ok(session)
        };
        let session = match setup.await {
            Ok(session) => session,
            // While the daemon restarts, a connection may be refused or
            // reset before the OPEN exchange ends: try again.
            Err(e) if counter.session > 0 && Instant::now() < deadline => {
                eprintln!("sink {i}: session not set up again ({e:#}); trying again");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        counter.session += 1;
        counter.withdrawn = 0;
        counter.codec = session.codec.clone();
        counter.keepalive_every = speaker::keepalive_interval(&session.negotiated);
        let _ = tx.send(Report::Established {
            sink: i,
            session: counter.session,
            peer: session.peer,
            local: session.local,
            restarting: session
                .negotiated
                .graceful_restart
                .as_ref()
                .map(|g| g.restarting),
        });
        let (stream, leftover) = session.into_blocking()?;
        let thread = std::thread::Builder::new()
            .name(format!("sink{i}"))
            .spawn(move || {
                let result = counter.run(stream, leftover);
                (counter, result)
            })?;
        // Wait for the thread without blocking the runtime.
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = done_tx.send(thread.join());
        });
        let result;
        (counter, result) = match done_rx.await {
            Ok(Ok(done)) => done,
            Ok(Err(_)) => bail!("sink thread panicked"),
            Err(_) => bail!("sink thread vanished"),
        };
        let error = match result {
            Ok(()) => return Ok(()),
            Err(e) if config.graceful_restart.is_some() && !counter.notified => e,
            Err(e) => return Err(e),
        };
        counter.rib.mark_stale();
        let _ = tx.send(Report::Lost {
            sink: i,
            session: counter.session,
            error: format!("{error:#}"),
            count: counter.rib.table.len(),
        });
        deadline = Instant::now() + reconnect_within;
    }
}

/// The counting loop of one established sink.
///
/// It runs on its own thread with a blocking socket: after a read that
/// brought little it sleeps [`READ_PAUSE`], so that a daemon sending one
/// small UPDATE at a time (gobgpd) costs the sink one wake-up per pause
/// rather than one per TCP segment. With an async reactor every arriving
/// segment woke the process even while the reader paused, and 10 sinks
/// took an eighth of the CPU away from the daemon under test.
struct Counter {
    sink: usize,
    /// Sessions so far, this one included.
    session: u32,
    codec: CodecConfig,
    keepalive_every: Duration,
    expect: Option<usize>,
    /// With several injectors, which route of each prefix counts.
    winners: Option<Winners>,
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Report>,
    /// The table, kept across sessions.
    rib: Rib,
    is_complete: bool,
    /// Prefixes withdrawn in this session.
    withdrawn: u64,
    /// The session ended with the daemon's NOTIFICATION (no graceful
    /// restart then).
    notified: bool,
}

impl Counter {
    /// Reads, counts and sends keepalives until the session fails.
    fn run(&mut self, mut stream: std::net::TcpStream, mut buf: bytes::BytesMut) -> Result<()> {
        use std::io::{ErrorKind, Read, Write};
        // Wake up at least once a second to send keepalives when due.
        stream.set_read_timeout(Some(Duration::from_secs(1)))?;
        let mut keepalive = bytes::BytesMut::new();
        ocbgp_engine::wire::Message::Keepalive
            .encode(&self.codec, &mut keepalive)
            .map_err(|e| anyhow!("{e}"))?;
        let mut next_keepalive = std::time::Instant::now() + self.keepalive_every;
        let mut chunk = vec![0u8; READ_CHUNK];
        loop {
            while let Some(frame) =
                ocbgp_engine::wire::Frame::split(&mut buf, self.codec.max_message_len())
                    .map_err(|e| anyhow!("{e}"))?
            {
                match frame.kind() {
                    MessageType::Update => {
                        self.shared.start_now();
                        let applied = apply_update_judged(
                            &frame.body(),
                            &mut self.rib,
                            &self.codec,
                            self.winners.as_ref(),
                        )?;
                        self.withdrawn += applied.withdrawn as u64;
                        if applied.end_of_rib {
                            let swept = self.rib.sweep();
                            let _ = self.tx.send(Report::EndOfRib {
                                sink: self.sink,
                                session: self.session,
                                t_ns: mono_ns(),
                                count: self.rib.table.len(),
                                withdrawn: self.withdrawn,
                                swept,
                            });
                        }
                    }
                    MessageType::Notification => {
                        self.notified = true;
                        let n = Notification::decode(&frame.body()).map_err(|e| anyhow!("{e}"))?;
                        bail!("the daemon sent NOTIFICATION: {n}");
                    }
                    MessageType::Open => bail!("OPEN on an established session"),
                    MessageType::Keepalive | MessageType::RouteRefresh => {}
                }
            }
            let len = self.rib.table.len();
            self.shared.counts[self.sink]
                .0
                .store(len, Ordering::Relaxed);
            if let Some(expect) = self.expect {
                if !self.is_complete && len >= expect {
                    self.is_complete = true;
                    let _ = self.tx.send(Report::Complete {
                        sink: self.sink,
                        t_ns: mono_ns(),
                        count: len,
                    });
                } else if self.is_complete && len < expect {
                    self.is_complete = false;
                    let _ = self.tx.send(Report::Incomplete {
                        sink: self.sink,
                        count: len,
                    });
                }
            }
            if std::time::Instant::now() >= next_keepalive {
                stream.write_all(&keepalive)?;
                next_keepalive = std::time::Instant::now() + self.keepalive_every;
            }
            let n = match stream.read(&mut chunk) {
                Ok(0) => bail!("the daemon closed the session"),
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(e.into()),
            };
            buf.extend_from_slice(&chunk[..n]);
            if n < READ_CHUNK / 4 {
                std::thread::sleep(READ_PAUSE);
            }
        }
    }
}

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 256 * 1024;

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use ocbgp_engine::wire::{
        AsPath, Attributes, EncodedAttributes, Frame, NextHop, Nlri, Origin, UpdatePacker,
        MAX_MESSAGE_LEN,
    };

    use super::*;

    fn net(s: &str) -> (u32, u8) {
        let p: ipnet::Ipv4Net = s.parse().unwrap();
        (u32::from(p.network()), p.prefix_len())
    }

    #[test]
    fn counts_distinct_prefixes_through_announce_and_withdraw() {
        let mut set = PrefixSet::new();
        for p in [
            "192.0.2.0/24",
            "198.51.100.0/24",
            "198.51.100.0/25",
            "0.0.0.0/0",
            "203.0.113.7/32",
        ] {
            let (a, l) = net(p);
            assert!(set.insert(a, l), "{p}");
        }
        assert_eq!(set.len(), 5);
        let (a, l) = net("192.0.2.0/24");
        assert!(!set.insert(a, l), "a re-announcement changes nothing");
        assert!(!set.insert(a | 0x42, l), "host bits are ignored");
        assert_eq!(set.len(), 5);
        assert!(set.remove(a, l));
        assert!(!set.remove(a, l), "withdrawing twice");
        let (a, l) = net("203.0.113.7/32");
        assert!(set.remove(a, l));
        let (a, l) = net("10.0.0.0/8");
        assert!(!set.remove(a, l), "withdrawing what was never announced");
        assert_eq!(set.len(), 3);
    }

    fn attrs() -> EncodedAttributes {
        let attributes = Attributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence([65000, 65001, 3356])),
            ..Attributes::default()
        };
        EncodedAttributes::new(&attributes, true).unwrap()
    }

    fn nlri(prefixes: impl IntoIterator<Item = ipnet::Ipv4Net>) -> Vec<Nlri> {
        prefixes
            .into_iter()
            .map(|p| Nlri::new(IpNet::V4(p)))
            .collect()
    }

    /// Applies every UPDATE in `buf` to `set`.
    fn apply_all(mut buf: BytesMut, set: &mut impl Prefixes, codec: &CodecConfig) {
        while let Some(frame) = Frame::split(&mut buf, MAX_MESSAGE_LEN).unwrap() {
            apply_update(&frame.body(), set, codec).unwrap();
        }
        assert!(buf.is_empty());
    }

    #[test]
    fn with_several_injectors_only_the_winners_routes_count() {
        let winners = Winners {
            seed: 9,
            injectors: 3,
            first_as: 65001,
        };
        let prefixes: Vec<ipnet::Ipv4Net> = (0..300u32)
            .map(|i| ipnet::Ipv4Net::new(Ipv4Addr::from((11 << 24) | (i << 8)), 24).unwrap())
            .collect();
        let won = |i: usize| {
            prefixes
                .iter()
                .filter(|p| crate::gen::winner(9, **p, 3) == i)
                .count()
        };
        for as4 in [true, false] {
            let codec = CodecConfig {
                four_octet_as: as4,
                ..CodecConfig::default()
            };
            let mut set = PrefixSet::new();
            // Each injector's routes as the daemon sends them on, in turn;
            // the set holds those of the last one that won.
            for injector in 0..3u32 {
                let attributes = Attributes {
                    origin: Some(Origin::Igp),
                    as_path: Some(AsPath::from_sequence([65000, 65001 + injector, 3356])),
                    ..Attributes::default()
                };
                let encoded = EncodedAttributes::new(&attributes, as4).unwrap();
                let mut buf = BytesMut::new();
                UpdatePacker::new(&codec)
                    .announce(
                        &encoded,
                        Family::IPV4_UNICAST,
                        NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)),
                        &nlri(prefixes.iter().copied()),
                        &mut buf,
                    )
                    .unwrap();
                while let Some(frame) = Frame::split(&mut buf, MAX_MESSAGE_LEN).unwrap() {
                    apply_update_judged(&frame.body(), &mut set, &codec, Some(&winners)).unwrap();
                }
                assert_eq!(set.len(), won(injector as usize), "injector {injector}");
            }
        }
        assert!((0..3).all(|i| won(i) > 50));
    }

    #[test]
    fn packed_updates_and_withdraws_are_counted() {
        let codec = CodecConfig {
            four_octet_as: true,
            ..CodecConfig::default()
        };
        let packer = UpdatePacker::new(&codec);
        let prefixes: Vec<ipnet::Ipv4Net> = (0..5_000u32)
            .map(|i| ipnet::Ipv4Net::new(Ipv4Addr::from((11 << 24) | (i << 8)), 24).unwrap())
            .collect();
        let mut buf = BytesMut::new();
        let messages = packer
            .announce(
                &attrs(),
                Family::IPV4_UNICAST,
                NextHop::V4(Ipv4Addr::new(192, 0, 2, 2)),
                &nlri(prefixes.clone()),
                &mut buf,
            )
            .unwrap();
        assert!(messages > 1, "several full messages");
        let mut set = PrefixSet::new();
        apply_all(buf, &mut set, &codec);
        assert_eq!(set.len(), 5_000);

        let mut buf = BytesMut::new();
        packer
            .withdraw(
                Family::IPV4_UNICAST,
                &nlri(prefixes[..1_000].iter().copied()),
                &mut buf,
            )
            .unwrap();
        packer.end_of_rib(Family::IPV4_UNICAST, &mut buf).unwrap();
        apply_all(buf, &mut set, &codec);
        assert_eq!(set.len(), 4_000);
    }

    #[test]
    fn mp_reach_falls_back_to_the_full_decoder() {
        let codec = CodecConfig {
            four_octet_as: true,
            ..CodecConfig::default()
        };
        let packer = UpdatePacker::new(&codec);
        let prefixes: Vec<ipnet::Ipv4Net> = ["11.0.0.0/8", "12.1.0.0/16"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let next_hop = NextHop::V6 {
            global: "2001:db8::2".parse().unwrap(),
            link_local: None,
        };
        let mut buf = BytesMut::new();
        packer
            .announce(
                &attrs(),
                Family::IPV4_UNICAST,
                next_hop,
                &nlri(prefixes),
                &mut buf,
            )
            .unwrap();
        let mut set = PrefixSet::new();
        apply_all(buf, &mut set, &codec);
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn graceful_restart_keeps_the_table_until_end_of_rib() {
        let codec = CodecConfig {
            four_octet_as: true,
            ..CodecConfig::default()
        };
        let packer = UpdatePacker::new(&codec);
        let prefixes: Vec<ipnet::Ipv4Net> = (0..100u32)
            .map(|i| ipnet::Ipv4Net::new(Ipv4Addr::from((11 << 24) | (i << 8)), 24).unwrap())
            .collect();
        let announce = |p: &[ipnet::Ipv4Net]| {
            let mut buf = BytesMut::new();
            packer
                .announce(
                    &attrs(),
                    Family::IPV4_UNICAST,
                    NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)),
                    &nlri(p.iter().copied()),
                    &mut buf,
                )
                .unwrap();
            buf
        };
        let mut rib = Rib {
            table: PrefixSet::new(),
            refreshed: None,
        };
        apply_all(announce(&prefixes), &mut rib, &codec);
        assert_eq!(rib.table.len(), 100);
        // The session is lost; the new one sends 90 of them, withdraws one.
        rib.mark_stale();
        apply_all(announce(&prefixes[..90]), &mut rib, &codec);
        let mut buf = BytesMut::new();
        packer
            .withdraw(Family::IPV4_UNICAST, &nlri([prefixes[0]]), &mut buf)
            .unwrap();
        let mut frame = Frame::split(&mut buf, MAX_MESSAGE_LEN).unwrap().unwrap();
        let applied = apply_update(&frame.body(), &mut rib, &codec).unwrap();
        assert_eq!(applied.withdrawn, 1);
        assert!(!applied.end_of_rib);
        assert_eq!(rib.table.len(), 99, "stale routes stay until End-of-RIB");
        packer.end_of_rib(Family::IPV4_UNICAST, &mut buf).unwrap();
        frame = Frame::split(&mut buf, MAX_MESSAGE_LEN).unwrap().unwrap();
        let applied = apply_update(&frame.body(), &mut rib, &codec).unwrap();
        assert!(applied.end_of_rib);
        assert_eq!(rib.sweep(), 10, "the ten not sent again");
        assert_eq!(rib.table.len(), 89);
        assert_eq!(rib.sweep(), 0, "nothing stale any more");
    }

    #[test]
    fn malformed_fields_are_errors() {
        let codec = CodecConfig::default();
        let mut set = PrefixSet::new();
        assert!(apply_update(&[0], &mut set, &codec).is_err());
        assert!(apply_update(&[0, 5, 24, 1], &mut set, &codec).is_err());
        assert!(apply_update(&[0, 0, 0, 0, 33, 1, 2, 3, 4, 5], &mut set, &codec).is_err());
        assert!(apply_update(&[0, 0, 0, 0, 24, 1, 2], &mut set, &codec).is_err());
        assert!(apply_update(&[0, 0, 0, 0, 24, 11, 2, 3], &mut set, &codec).is_ok());
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn sink_addresses_step() {
        let base: SocketAddr = "192.0.2.10:179".parse().unwrap();
        assert_eq!(
            nth_addr(base, 3, false).unwrap(),
            "192.0.2.13:179".parse().unwrap()
        );
        assert_eq!(
            nth_addr(base, 3, true).unwrap(),
            "192.0.2.10:182".parse().unwrap()
        );
    }
}
