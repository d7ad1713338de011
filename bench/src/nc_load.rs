//! Reading the whole table through the other doors (ocbgpd only), once
//! every sink has it:
//!
//! - `--mrt-dump`: `ocbgp mrt dump FILE` (a TABLE_DUMP_V2 snapshot written
//!   by the daemon); seconds, file size, the daemon's RSS before and peak
//!   during.
//! - `--bmp`: a BMP station ([`bmp_station`], `bgpbench bmp-station` in
//!   the daemon's namespace) is added with `ocbgp set` for the Loc-RIB
//!   only; seconds from the daemon's connection until the station has
//!   counted every prefix (Route Monitoring of the Loc-RIB instance peer,
//!   RFC 9069), messages and octets, the daemon's RSS rise.
//! - `--netconf-get`: a user is added with `ocbgp set` (NETCONF needs
//!   one; gNMI asks for credentials from then on, so this comes last),
//!   then `bgpbench netconf-get` ([`netconf_get`]) sends one `<get>` of
//!   the IPv4 Loc-RIB with a subtree filter and counts `<route>` elements
//!   as the reply streams in, keeping none of it; seconds, octets, routes,
//!   the daemon's RSS before and peak during.
//!
//! The daemon's peak is its VmHWM, reset just before each read
//! (`/proc/PID/clear_refs`), or the largest RSS sampled every 50 ms.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::BytesMut;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::event::{emit, parse};
use crate::measure::{self, mono_ns, seconds_between, RssSampler};
use crate::netns::Lab;

/// Options of `bgpbench run` for these reads.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NcArgs {
    /// After convergence, one NETCONF `<get>` of the IPv4 Loc-RIB
    /// (ocbgpd only; adds a NETCONF user through gNMI first).
    #[arg(long)]
    pub netconf_get: bool,
    /// After convergence, `ocbgp mrt dump` of the table (ocbgpd only).
    #[arg(long)]
    pub mrt_dump: bool,
    /// After convergence, add a BMP station for the Loc-RIB and time its
    /// initial dump (ocbgpd only).
    #[arg(long)]
    pub bmp: bool,
    /// While the table arrives, this many seconds after the first UPDATE,
    /// `ocbgp mrt dump` (ocbgpd only): does a dump disturb convergence?
    #[arg(long, value_name = "SECONDS")]
    pub mrt_dump_during: Option<f64>,
}

impl NcArgs {
    /// Whether any of them is asked for.
    pub fn any(&self) -> bool {
        self.netconf_get || self.mrt_dump || self.bmp || self.mrt_dump_during.is_some()
    }
}

/// NETCONF's user for the benchmark, and its password.
pub(crate) const NC_USER: &str = "admin";
pub(crate) const NC_PASSWORD: &str = "secret";
/// Where the BMP station listens, in the daemon's namespace.
const BMP_ADDR: &str = "127.0.0.1";
const BMP_PORT: u16 = 11019;

/// Runs what `args` asks for, in order MRT, BMP, NETCONF; each one's
/// result or error.
pub async fn run_all(
    args: &NcArgs,
    ns: &str,
    me: &str,
    pid: u32,
    prefixes: usize,
    dir: &Path,
) -> Value {
    let wrap = |r: Result<Value>| r.unwrap_or_else(|e| json!({"error": format!("{e:#}")}));
    let mut out = json!({});
    if args.mrt_dump {
        let r = wrap(mrt_dump(ns, pid, dir).await);
        eprintln!("bgpbench: MRT dump: {r}");
        out["mrt_dump"] = r;
    }
    if args.bmp {
        let r = wrap(bmp(ns, me, pid, prefixes, dir).await);
        eprintln!("bgpbench: BMP: {r}");
        out["bmp"] = r;
    }
    if args.netconf_get {
        let r = wrap(netconf(ns, me, pid, dir).await);
        eprintln!("bgpbench: NETCONF get: {r}");
        out["netconf_get"] = r;
    }
    out
}

/// MB of 10^6 bytes, one decimal.
fn mb(bytes: u64) -> f64 {
    (bytes as f64 / 1e5).round() / 10.0
}

/// Resets the daemon's VmHWM and starts sampling; its RSS now.
fn watch(pid: u32) -> (u64, RssSampler) {
    let before = measure::usage(pid).map(|u| u.rss).unwrap_or(0);
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    (before, RssSampler::start(pid, Duration::from_millis(50)))
}

/// The peak since [`watch`].
fn peak(pid: u32, sampler: RssSampler) -> u64 {
    let hwm = measure::usage(pid).map(|u| u.peak_rss).unwrap_or(0);
    hwm.max(sampler.max())
}

/// Runs `ocbgp ARGS` in the daemon's namespace; fails with its output.
pub(crate) async fn ocbgp(ns: &str, args: &[&str], limit: Duration) -> Result<String> {
    let bin = crate::cli_load::ocbgp_binary()?;
    let mut c = Lab::command(ns, &bin.display().to_string());
    c.args(args).kill_on_drop(true);
    let out = tokio::time::timeout(limit, c.output())
        .await
        .map_err(|_| anyhow!("ocbgp {} timed out", args.join(" ")))??;
    if !out.status.success() {
        bail!(
            "ocbgp {} failed ({}): {}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `ocbgp mrt dump` of the table.
async fn mrt_dump(ns: &str, pid: u32, dir: &Path) -> Result<Value> {
    let file = std::fs::canonicalize(dir)?.join("rib.mrt");
    let file_s = file.display().to_string();
    let (before, sampler) = watch(pid);
    let cpu0 = measure::usage(pid).map(|u| u.cpu_seconds).unwrap_or(0.0);
    let t0 = mono_ns();
    ocbgp(ns, &["mrt", "dump", &file_s], Duration::from_secs(600)).await?;
    let t1 = mono_ns();
    let peak = peak(pid, sampler);
    let cpu1 = measure::usage(pid).map(|u| u.cpu_seconds).unwrap_or(0.0);
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(&file);
    Ok(
        json!({"seconds": seconds_between(t0, t1), "file_bytes": size,
        "rss_before_mb": mb(before), "peak_rss_mb": mb(peak),
        "daemon_cpu_s": ((cpu1 - cpu0) * 100.0).round() / 100.0}),
    )
}

/// `ocbgp mrt dump` started while the table arrives; seconds from the
/// first UPDATE (`t0`) to the dump's start and end, the file's size.
pub async fn mrt_dump_during(ns: &str, dir: &Path, t0: u64) -> Result<Value> {
    let file = std::fs::canonicalize(dir)?.join("rib-during.mrt");
    let file_s = file.display().to_string();
    let t1 = mono_ns();
    ocbgp(ns, &["mrt", "dump", &file_s], Duration::from_secs(600)).await?;
    let t2 = mono_ns();
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(&file);
    Ok(
        json!({"start_s": seconds_between(t0, t1), "end_s": seconds_between(t0, t2),
        "seconds": seconds_between(t1, t2), "file_bytes": size}),
    )
}

/// The BMP station path of the Loc-RIB station.
fn bmp_path() -> String {
    format!("/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp/ocbgp:bmp/station[address={BMP_ADDR}][port={BMP_PORT}]")
}

/// Adds a Loc-RIB BMP station and times its initial dump.
async fn bmp(ns: &str, me: &str, pid: u32, prefixes: usize, dir: &Path) -> Result<Value> {
    let mut c = Lab::command(ns, me);
    c.args([
        "bmp-station",
        "--listen",
        &format!("{BMP_ADDR}:{BMP_PORT}"),
        "--expect",
        &prefixes.to_string(),
    ]);
    c.stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(dir.join("bmp-station.log"))?)
        .kill_on_drop(true);
    let mut station = c.spawn().context("starting bmp-station")?;
    let mut lines =
        BufReader::new(station.stdout.take().ok_or_else(|| anyhow!("no stdout"))?).lines();
    // Wait until it listens.
    loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("bmp-station did not start")??
            .ok_or_else(|| anyhow!("bmp-station exited"))?;
        if parse(&line).is_some_and(|e| e["event"] == "listening") {
            break;
        }
    }
    let (before, sampler) = watch(pid);
    let cpu0 = measure::usage(pid).map(|u| u.cpu_seconds).unwrap_or(0.0);
    let value = format!(
        r#"{{"address": "{BMP_ADDR}", "port": {BMP_PORT}, "config": {{"address": "{BMP_ADDR}", "port": {BMP_PORT}, "adj-rib-in-pre-policy": false, "loc-rib": true}}}}"#
    );
    let t_set = mono_ns();
    ocbgp(ns, &["set", &bmp_path(), &value], Duration::from_secs(120)).await?;
    let t_set_done = mono_ns();
    let mut connected = None;
    let result = loop {
        let line = tokio::time::timeout(Duration::from_secs(600), lines.next_line())
            .await
            .context("BMP dump not complete within 600 s")??
            .ok_or_else(|| anyhow!("bmp-station exited"))?;
        let Some(e) = parse(&line) else { continue };
        match e["event"].as_str() {
            Some("connected") => connected = e["t_ns"].as_u64(),
            Some("complete") => break e,
            _ => {}
        }
    };
    let peak = peak(pid, sampler);
    let cpu1 = measure::usage(pid).map(|u| u.cpu_seconds).unwrap_or(0.0);
    let t_done = result["t_ns"].as_u64().unwrap_or(0);
    let _ = station.start_kill();
    // Remove the station again (the next reads should not pay for it).
    let _ = ocbgp(ns, &["delete", &bmp_path()], Duration::from_secs(60)).await;
    Ok(json!({
        "set_s": seconds_between(t_set, t_set_done),
        "connect_after_set_s": connected.map(|c| seconds_between(t_set, c)),
        "seconds": connected.map(|c| seconds_between(c, t_done)),
        "routes": result["routes"], "messages": result["messages"], "bytes": result["bytes"],
        "route_monitoring": result["route_monitoring"],
        "rss_before_mb": mb(before), "peak_rss_mb": mb(peak),
        "daemon_cpu_s": ((cpu1 - cpu0) * 100.0).round() / 100.0,
    }))
}

/// Adds the NETCONF user, then times `bgpbench netconf-get`.
async fn netconf(ns: &str, me: &str, pid: u32, dir: &Path) -> Result<Value> {
    let user = format!(
        r#"{{"name": "{NC_USER}", "config": {{"name": "{NC_USER}", "password": "$0${NC_PASSWORD}"}}}}"#
    );
    ocbgp(
        ns,
        &[
            "set",
            &format!("/ocbgp:management/users/user[name={NC_USER}]"),
            &user,
        ],
        Duration::from_secs(60),
    )
    .await?;
    let (before, sampler) = watch(pid);
    let cpu0 = measure::usage(pid).map(|u| u.cpu_seconds).unwrap_or(0.0);
    let mut c = Lab::command(ns, me);
    c.args(["netconf-get"]);
    c.stderr(std::fs::File::create(dir.join("netconf-get.log"))?)
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(900), c.output())
        .await
        .context("netconf-get timed out")??;
    let peak = peak(pid, sampler);
    let cpu1 = measure::usage(pid).map(|u| u.cpu_seconds).unwrap_or(0.0);
    if !out.status.success() {
        bail!("netconf-get failed ({}); see netconf-get.log", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut event = text
        .lines()
        .find_map(parse)
        .ok_or_else(|| anyhow!("netconf-get printed no result"))?;
    event["rss_before_mb"] = json!(mb(before));
    event["peak_rss_mb"] = json!(mb(peak));
    event["daemon_cpu_s"] = json!(((cpu1 - cpu0) * 100.0).round() / 100.0);
    Ok(event)
}

/// Options of `bgpbench netconf-get`.
#[derive(Debug, Clone, clap::Args)]
pub struct NetconfGetArgs {
    /// The NETCONF server.
    #[arg(long, default_value = "127.0.0.1:830")]
    pub target: SocketAddr,
    /// User name.
    #[arg(long, default_value = NC_USER)]
    pub user: String,
    /// Password.
    #[arg(long, default_value = NC_PASSWORD)]
    pub password: String,
    /// What to read under `bgp` instead of the IPv4 Loc-RIB: the subtree
    /// filter's content there (`<rib/>`: every table and set).
    #[arg(long, value_name = "XML")]
    pub under_bgp: Option<String>,
}

/// The subtree filter of the IPv4 Loc-RIB.
const LOC_RIB_FILTER: &str = r#"<network-instances xmlns="http://openconfig.net/yang/network-instance"><network-instance><name>DEFAULT</name><protocols><protocol><bgp><rib><afi-safis><afi-safi><ipv4-unicast><loc-rib/></ipv4-unicast></afi-safi></afi-safis></rib></bgp></protocol></protocols></network-instance></network-instances>"#;

const NC_BASE: &str = "urn:ietf:params:xml:ns:netconf:base:1.0";

/// Accepts any host key (the daemon's namespace is ours).
struct AcceptAll;

impl russh::client::Handler for AcceptAll {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        _key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// Counts `<route>` (or `<route ...>`) start tags in a stream of pieces.
#[derive(Debug, Default)]
pub struct TagCounter {
    carry: Vec<u8>,
    /// Start tags seen.
    pub count: u64,
}

impl TagCounter {
    const TAG: &'static [u8] = b"<route";

    /// Feeds the next piece of the document.
    pub fn feed(&mut self, piece: &[u8]) {
        let mut data = std::mem::take(&mut self.carry);
        data.extend_from_slice(piece);
        let n = Self::TAG.len();
        // A match at i is decided once byte i + n is there.
        let mut i = 0;
        while i + n < data.len() {
            match data[i..data.len() - 1].iter().position(|&b| b == b'<') {
                None => break,
                Some(p) => i += p,
            }
            if i + n >= data.len() {
                break;
            }
            if &data[i..i + n] == Self::TAG && matches!(data[i + n], b'>' | b' ') {
                self.count += 1;
            }
            i += 1;
        }
        self.carry = data[i.min(data.len())..].to_vec();
        if self.carry.len() > n {
            let cut = self.carry.len() - n;
            self.carry.drain(..cut);
        }
    }
}

/// NETCONF 1.1 chunked framing (RFC 6242 4.2), decoded piece by piece.
#[derive(Debug, Default)]
pub struct Chunks {
    buf: BytesMut,
    /// Octets left in the current chunk.
    left: usize,
}

/// What [`Chunks::next`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece {
    /// Message content.
    Data(bytes::Bytes),
    /// The end of the message.
    End,
}

impl Chunks {
    /// Adds received octets.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next piece, or `None` until more octets arrive.
    pub fn next(&mut self) -> Result<Option<Piece>> {
        if self.left > 0 {
            if self.buf.is_empty() {
                return Ok(None);
            }
            let n = self.left.min(self.buf.len());
            self.left -= n;
            return Ok(Some(Piece::Data(self.buf.split_to(n).freeze())));
        }
        // A header: "\n#" then "#\n" (end) or digits and "\n".
        if self.buf.len() < 4 {
            return Ok(None);
        }
        if &self.buf[..2] != b"\n#" {
            bail!(
                "bad chunk header {:?}",
                String::from_utf8_lossy(&self.buf[..4])
            );
        }
        if &self.buf[2..4] == b"#\n" {
            let _ = self.buf.split_to(4);
            return Ok(Some(Piece::End));
        }
        let Some(nl) = self.buf[2..].iter().position(|&b| b == b'\n') else {
            if self.buf.len() > 14 {
                bail!("chunk header too long");
            }
            return Ok(None);
        };
        let size: usize = std::str::from_utf8(&self.buf[2..2 + nl])?
            .parse()
            .context("chunk size")?;
        let _ = self.buf.split_to(2 + nl + 1);
        self.left = size;
        self.next()
    }
}

/// A NETCONF 1.1 session's byte stream (chunked framing), hellos done.
pub type NcStream = russh::ChannelStream<russh::client::Msg>;

/// Logs in over SSH and exchanges hellos (base 1.1: chunked framing).
pub async fn nc_session(target: SocketAddr, user: &str, password: &str) -> Result<NcStream> {
    let config = Arc::new(russh::client::Config::default());
    let mut handle = russh::client::connect(config, target, AcceptAll)
        .await
        .context("SSH connect")?;
    let auth = handle.authenticate_password(user, password).await?;
    if !auth.success() {
        bail!("NETCONF login refused");
    }
    let channel = handle.channel_open_session().await?;
    channel.request_subsystem(true, "netconf").await?;
    let mut stream = channel.into_stream();
    // The server's hello, end-of-message framed.
    let mut hello = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    while !hello.windows(6).any(|w| w == b"]]>]]>") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("no server hello");
        }
        hello.extend_from_slice(&chunk[..n]);
    }
    let ours = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><hello xmlns=\"{NC_BASE}\"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability><capability>urn:ietf:params:netconf:base:1.1</capability></capabilities></hello>]]>]]>"
    );
    stream.write_all(ours.as_bytes()).await?;
    Ok(stream)
}

/// Sends one `<rpc>` (its content `body`) and reads the whole reply;
/// an `<rpc-error>` is an error.
pub async fn nc_rpc(stream: &mut NcStream, id: u64, body: &str) -> Result<String> {
    let rpc = format!("<rpc xmlns=\"{NC_BASE}\" message-id=\"{id}\">{body}</rpc>");
    stream
        .write_all(format!("\n#{}\n{rpc}\n##\n", rpc.len()).as_bytes())
        .await?;
    stream.flush().await?;
    let mut chunks = Chunks::default();
    let mut reply = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    'read: loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            bail!("the server closed the session before the reply ended");
        }
        chunks.push(&buf[..n]);
        while let Some(piece) = chunks.next()? {
            match piece {
                Piece::Data(data) => reply.extend_from_slice(&data),
                Piece::End => break 'read,
            }
        }
    }
    let reply = String::from_utf8_lossy(&reply).into_owned();
    if reply.contains("rpc-error") {
        bail!("rpc-error: {reply}");
    }
    Ok(reply)
}

/// Runs `bgpbench netconf-get`: event `netconf_get_done`.
pub async fn netconf_get(args: NetconfGetArgs) -> Result<()> {
    let t_login = mono_ns();
    let mut stream = nc_session(args.target, &args.user, &args.password).await?;
    let mut chunk = vec![0u8; 256 * 1024];
    let filter = match &args.under_bgp {
        Some(inner) => LOC_RIB_FILTER.replace(
            "<bgp><rib><afi-safis><afi-safi><ipv4-unicast><loc-rib/></ipv4-unicast></afi-safi></afi-safis></rib></bgp>",
            &format!("<bgp>{inner}</bgp>"),
        ),
        None => LOC_RIB_FILTER.to_string(),
    };
    let rpc = format!(
        "<rpc xmlns=\"{NC_BASE}\" message-id=\"1\"><get><filter type=\"subtree\">{filter}</filter></get></rpc>"
    );
    let framed = format!("\n#{}\n{rpc}\n##\n", rpc.len());
    let t0 = mono_ns();
    stream.write_all(framed.as_bytes()).await?;
    stream.flush().await?;
    let mut chunks = Chunks::default();
    let mut counter = TagCounter::default();
    let (mut wire_bytes, mut payload_bytes) = (0u64, 0u64);
    let mut first_byte = None;
    let mut head = Vec::new();
    let mut tail = Vec::new();
    'read: loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("the server closed the session before the reply ended");
        }
        first_byte.get_or_insert_with(mono_ns);
        wire_bytes += n as u64;
        chunks.push(&chunk[..n]);
        while let Some(piece) = chunks.next()? {
            match piece {
                Piece::Data(data) => {
                    payload_bytes += data.len() as u64;
                    if head.len() < 4096 {
                        head.extend_from_slice(&data[..data.len().min(4096 - head.len())]);
                    }
                    tail.extend_from_slice(&data);
                    if tail.len() > 8192 {
                        tail.drain(..tail.len() - 4096);
                    }
                    counter.feed(&data);
                }
                Piece::End => break 'read,
            }
        }
    }
    let t1 = mono_ns();
    let head_s = String::from_utf8_lossy(&head).into_owned();
    let tail_s = String::from_utf8_lossy(&tail).into_owned();
    if head_s.contains("rpc-error") || tail_s.contains("rpc-error") {
        eprintln!("netconf-get: head: {head_s}\ntail: {tail_s}");
        bail!("the reply is an rpc-error");
    }
    eprintln!("netconf-get: head: {}", &head_s[..head_s.len().min(600)]);
    emit(json!({"event": "netconf_get_done",
        "login_s": seconds_between(t_login, t0),
        "first_byte_s": first_byte.map(|t| seconds_between(t0, t)),
        "seconds": seconds_between(t0, t1),
        "routes": counter.count, "payload_bytes": payload_bytes, "wire_bytes": wire_bytes}));
    let _ = stream.shutdown().await;
    Ok(())
}

/// Options of `bgpbench bmp-station`.
#[derive(Debug, Clone, clap::Args)]
pub struct BmpStationArgs {
    /// Where to listen.
    #[arg(long)]
    pub listen: SocketAddr,
    /// Loc-RIB prefixes to count before `complete`.
    #[arg(long)]
    pub expect: usize,
}

/// Runs `bgpbench bmp-station`: accepts one connection and counts the
/// IPv4 prefixes of Route Monitoring messages from the Loc-RIB instance
/// peer (peer type 3) until `--expect` are held; events `listening`,
/// `connected`, `complete`.
pub async fn bmp_station(args: BmpStationArgs) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    emit(json!({"event": "listening", "t_ns": mono_ns()}));
    let (mut sock, peer) = listener.accept().await?;
    let t_conn = mono_ns();
    emit(json!({"event": "connected", "peer": peer.to_string(), "t_ns": t_conn}));
    let codec = ocbgp_engine::wire::CodecConfig {
        four_octet_as: true,
        ..Default::default()
    };
    let mut set = crate::sink::PrefixSet::new();
    let mut buf = BytesMut::with_capacity(1 << 20);
    let (mut messages, mut bytes, mut route_monitoring) = (0u64, 0u64, 0u64);
    let mut by_type = [0u64; 8];
    loop {
        // Common header: version, length (4), type.
        while buf.len() >= 6 {
            let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
            if buf[0] != 3 || len < 6 {
                bail!("bad BMP header: version {} length {len}", buf[0]);
            }
            if buf.len() < len {
                break;
            }
            let msg = buf.split_to(len);
            messages += 1;
            let kind = msg[5];
            by_type[usize::from(kind.min(7))] += 1;
            // Route Monitoring from the Loc-RIB instance peer: the
            // per-peer header (42 octets), then a BGP UPDATE (19-octet
            // header).
            if kind == 0 && msg.len() >= 6 + 42 + 19 && msg[6] == 3 {
                route_monitoring += 1;
                let update = &msg[6 + 42..];
                crate::sink::apply_update(&update[19..], &mut set, &codec)?;
            }
        }
        if set.len() >= args.expect {
            break;
        }
        let n = sock.read_buf(&mut buf).await?;
        if n == 0 {
            bail!(
                "the daemon closed the BMP session with {} prefixes",
                set.len()
            );
        }
        bytes += n as u64;
    }
    let t = mono_ns();
    eprintln!(
        "bmp-station: {} prefixes in {:.3} s, {messages} messages ({by_type:?} by type), {bytes} octets",
        set.len(),
        seconds_between(t_conn, t)
    );
    emit(
        json!({"event": "complete", "t_ns": t, "routes": set.len(), "messages": messages,
        "bytes": bytes, "route_monitoring": route_monitoring, "by_type": by_type}),
    );
    // Keep reading until stopped, so the daemon is not blocked by us.
    let mut sink = vec![0u8; 1 << 16];
    while sock.read(&mut sink).await.unwrap_or(0) > 0 {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_counted_across_pieces() {
        let doc = b"<routes><route><prefix>1</prefix></route><route xmlns=\"x\"><prefix>2</prefix></route><routes-x/><route>";
        for cut in 1..doc.len() {
            let mut c = TagCounter::default();
            for piece in doc.chunks(cut) {
                c.feed(piece);
            }
            c.feed(b" ");
            assert_eq!(c.count, 3, "pieces of {cut}");
        }
    }

    #[test]
    fn chunked_framing_is_decoded() {
        let mut c = Chunks::default();
        let mut got = Vec::new();
        let wire = b"\n#5\nhello\n#12\n, <route>s!!\n##\n";
        let mut ended = false;
        for b in wire.chunks(3) {
            c.push(b);
            while let Some(p) = c.next().unwrap() {
                match p {
                    Piece::Data(d) => got.extend_from_slice(&d),
                    Piece::End => ended = true,
                }
            }
        }
        assert!(ended);
        assert_eq!(got, b"hello, <route>s!!");
    }
}
