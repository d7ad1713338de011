//! gNMI load on ocbgpd during and after a full-table run (ocbgpd only):
//!
//! - `--gnmi-subscribers N`: before the table is injected, N gNMI clients
//!   (one `bgpbench gnmi-sub` process in the daemon's namespace) subscribe
//!   STREAM ON_CHANGE to the IPv4 Loc-RIB routes. Measured: when each has
//!   seen every prefix, how many updates it received and at what rate, and
//!   how often it was resynchronised (lagged behind the route feed).
//! - `--gnmi-get`: once every sink (and subscriber) is complete, a Get of
//!   the whole IPv4 Loc-RIB (`bgpbench gnmi-get`): its time, size, and the
//!   daemon's peak RSS while it runs.
//!
//! The clients are ocbgp's own Rust gNMI client (`ocbgp_gnmi::connect`).

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use ocbgp_gnmi::proto::gnmi::subscribe_request::Request;
use ocbgp_gnmi::proto::gnmi::subscribe_response::Response;
use ocbgp_gnmi::proto::gnmi::subscription_list::Mode as ListMode;
use ocbgp_gnmi::proto::gnmi::{
    Encoding, GetRequest, Notification, Path as GPath, PathElem, SubscribeRequest, Subscription,
    SubscriptionList, SubscriptionMode,
};
use serde_json::{json, Value};

use crate::event::emit;
use crate::measure::{mono_ns, seconds_between, RssSampler};

/// The gNMI address ocbgpd listens on in the benchmark's configuration.
pub const TARGET: &str = "127.0.0.1:9339";

/// gNMI options of `bgpbench run`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GnmiArgs {
    /// Number of gNMI ON_CHANGE subscribers to the IPv4 Loc-RIB while the
    /// table arrives (ocbgpd only).
    #[arg(long, default_value_t = 0)]
    pub gnmi_subscribers: usize,
    /// After convergence, time a gNMI Get of the whole IPv4 Loc-RIB and the
    /// daemon's peak RSS meanwhile (ocbgpd only).
    #[arg(long)]
    pub gnmi_get: bool,
}

/// Options of `bgpbench gnmi-sub`.
#[derive(Debug, Clone, clap::Args)]
pub struct SubArgs {
    /// gNMI target.
    #[arg(long, default_value = TARGET)]
    pub target: String,
    /// Number of subscriptions.
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    /// Prefixes each must see to be complete.
    #[arg(long)]
    pub expect: usize,
    /// Seconds allowed to connect.
    #[arg(long, default_value_t = 60)]
    pub connect_timeout: u64,
}

/// Options of `bgpbench gnmi-get`.
#[derive(Debug, Clone, clap::Args)]
pub struct GetArgs {
    /// gNMI target.
    #[arg(long, default_value = TARGET)]
    pub target: String,
}

fn elem(name: &str, keys: &[(&str, &str)]) -> PathElem {
    PathElem {
        name: name.into(),
        key: keys
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// `.../bgp/rib/afi-safis/afi-safi[IPV4_UNICAST]/ipv4-unicast/loc-rib/routes`.
fn loc_rib_routes() -> GPath {
    GPath {
        elem: vec![
            elem("network-instances", &[]),
            elem("network-instance", &[("name", "DEFAULT")]),
            elem("protocols", &[]),
            elem("protocol", &[("identifier", "BGP"), ("name", "BGP")]),
            elem("bgp", &[]),
            elem("rib", &[]),
            elem("afi-safis", &[]),
            elem("afi-safi", &[("afi-safi-name", "IPV4_UNICAST")]),
            elem("ipv4-unicast", &[]),
            elem("loc-rib", &[]),
            elem("routes", &[]),
        ],
        ..Default::default()
    }
}

async fn connect(
    target: &str,
    limit: Duration,
) -> Result<ocbgp_gnmi::proto::gnmi::gnmi_client::GnmiClient<tonic::transport::Channel>> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match ocbgp_gnmi::connect(target).await {
            Ok(c) => return Ok(c),
            Err(e) if tokio::time::Instant::now() > deadline => return Err(anyhow!("{e}")),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// The IPv4 prefix of a route path's last element, packed.
fn route_key(path: Option<&GPath>) -> Option<u64> {
    let last = path?.elem.last()?;
    let p = last.key.get("prefix")?;
    let (addr, len) = p.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    Some(u64::from(u32::from(addr)) << 8 | len.parse::<u64>().ok()?)
}

/// What one subscriber saw.
#[derive(Default)]
struct Seen {
    prefixes: HashSet<u64>,
    updates: u64,
    deletes: u64,
    resyncs: u64,
    first_ns: Option<u64>,
}

impl Seen {
    fn take(&mut self, n: &Notification, table_depth: usize) {
        for d in &n.delete {
            self.deletes += 1;
            if d.elem.len() <= table_depth {
                // A delete of the subscribed table: a resynchronisation.
                self.resyncs += 1;
                self.prefixes.clear();
            } else if let Some(k) = route_key(Some(d)) {
                self.prefixes.remove(&k);
            }
        }
        for u in &n.update {
            self.updates += 1;
            if let Some(k) = route_key(u.path.as_ref()) {
                self.prefixes.insert(k);
            }
        }
    }
}

/// Runs `bgpbench gnmi-sub`: `count` ON_CHANGE subscriptions; events
/// `sub_synced`, `sub_complete` (with counts) and, at the end, `sub_summary`.
pub async fn run_sub(args: SubArgs) -> Result<()> {
    let limit = Duration::from_secs(args.connect_timeout);
    let mut tasks = Vec::new();
    for i in 0..args.count {
        let mut client = connect(&args.target, limit).await?;
        let expect = args.expect;
        tasks.push(tokio::spawn(async move {
            let list = SubscriptionList {
                subscription: vec![Subscription {
                    path: Some(loc_rib_routes()),
                    mode: SubscriptionMode::OnChange as i32,
                    ..Default::default()
                }],
                mode: ListMode::Stream as i32,
                encoding: Encoding::JsonIetf as i32,
                ..Default::default()
            };
            let req = SubscribeRequest { request: Some(Request::Subscribe(list)), ..Default::default() };
            // Keep the request side open: the stream ends with the process.
            let (tx, rx) = tokio::sync::mpsc::channel(1);
            tx.send(req).await.ok();
            let outbound = tokio_stream::wrappers::ReceiverStream::new(rx);
            let mut stream = client.subscribe(outbound).await.context("Subscribe")?.into_inner();
            let depth = loc_rib_routes().elem.len();
            let mut seen = Seen::default();
            let mut complete = false;
            while let Some(msg) = stream.message().await.context("subscription stream")? {
                match msg.response {
                    Some(Response::SyncResponse(_)) => emit(json!({"event": "sub_synced", "sub": i, "t_ns": mono_ns()})),
                    Some(Response::Update(n)) => {
                        seen.first_ns.get_or_insert_with(mono_ns);
                        seen.take(&n, depth);
                        if !complete && seen.prefixes.len() >= expect {
                            complete = true;
                            let t = mono_ns();
                            emit(json!({"event": "sub_complete", "sub": i, "t_ns": t, "updates": seen.updates,
                                "deletes": seen.deletes, "resyncs": seen.resyncs,
                                "seconds_from_first_update": seen.first_ns.map(|f| seconds_between(f, t))}));
                        } else if complete && seen.prefixes.len() < expect {
                            complete = false;
                        }
                    }
                    _ => {}
                }
            }
            drop(tx);
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| anyhow!("subscriber task: {e}"))??;
    }
    Ok(())
}

/// Runs `bgpbench gnmi-get`: one Get of the IPv4 Loc-RIB; event `get_done`.
pub async fn run_get(args: GetArgs) -> Result<()> {
    let mut client = connect(&args.target, Duration::from_secs(30)).await?;
    let req = GetRequest {
        path: vec![loc_rib_routes()],
        encoding: Encoding::JsonIetf as i32,
        ..Default::default()
    };
    let t0 = mono_ns();
    let resp = client.get(req).await.context("Get")?.into_inner();
    let t1 = mono_ns();
    let updates: usize = resp.notification.iter().map(|n| n.update.len()).sum();
    let bytes = prost::Message::encoded_len(&resp);
    emit(
        json!({"event": "get_done", "seconds": seconds_between(t0, t1), "updates": updates,
        "notifications": resp.notification.len(), "bytes": bytes}),
    );
    Ok(())
}

/// Tracks the subscribers' events during `bgpbench run`.
#[derive(Debug, Default)]
pub struct Load {
    complete: Vec<Option<Value>>,
    synced: usize,
}

impl Load {
    /// For `n` subscribers.
    pub fn new(n: usize) -> Load {
        Load {
            complete: vec![None; n],
            synced: 0,
        }
    }

    /// Whether every subscriber has every prefix.
    pub fn done(&self) -> bool {
        self.complete.iter().all(Option::is_some)
    }

    /// Whether every subscriber has had its sync_response.
    pub fn synced(&self) -> bool {
        self.synced >= self.complete.len()
    }

    /// Takes one event of `bgpbench gnmi-sub`.
    pub fn on_event(&mut self, event: &Value) {
        match event["event"].as_str() {
            Some("sub_synced") => self.synced += 1,
            Some("sub_complete") => {
                if let Some(slot) = event["sub"]
                    .as_u64()
                    .and_then(|i| self.complete.get_mut(i as usize))
                {
                    *slot = Some(event.clone());
                }
            }
            _ => {}
        }
    }

    /// The result: per subscriber seconds from the first UPDATE injected
    /// (`t0`) to complete, updates received and rate.
    pub fn result(&self, t0: Option<u64>) -> Value {
        let subs: Vec<Value> = self
            .complete
            .iter()
            .map(|c| match (c, t0) {
                (Some(e), Some(t0)) => {
                    let t = e["t_ns"].as_u64().unwrap_or(t0);
                    let secs = seconds_between(t0, t);
                    let updates = e["updates"].as_u64().unwrap_or(0);
                    json!({"seconds": secs, "updates": updates, "resyncs": e["resyncs"],
                        "updates_per_s": (updates as f64 / secs.max(1e-9)).round()})
                }
                _ => Value::Null,
            })
            .collect();
        json!({"subscribers": subs.len(), "per_subscriber": subs})
    }
}

/// The `gnmi-sub` command line for `bgpbench run`.
pub fn sub_command(ns: &str, me: &str, n: usize, expect: usize) -> tokio::process::Command {
    let mut c = crate::netns::Lab::command(ns, me);
    c.args([
        "gnmi-sub",
        "--count",
        &n.to_string(),
        "--expect",
        &expect.to_string(),
    ]);
    c
}

/// Runs `gnmi-get` in the daemon's namespace while sampling the daemon's
/// RSS; the get's event plus `rss_before_mb` and `peak_rss_mb`.
pub async fn timed_get(ns: &str, me: &str, daemon_pid: u32, dir: &Path) -> Result<Value> {
    let before = crate::measure::usage(daemon_pid)
        .map(|u| u.rss)
        .unwrap_or(0);
    // Reset the kernel's peak (VmHWM) so that it is the Get's peak after.
    let _ = std::fs::write(format!("/proc/{daemon_pid}/clear_refs"), "5");
    let sampler = RssSampler::start(daemon_pid, Duration::from_millis(50));
    let mut c = crate::netns::Lab::command(ns, me);
    c.args(["gnmi-get"]);
    c.stderr(std::fs::File::create(dir.join("gnmi-get.log"))?);
    let out = tokio::time::timeout(Duration::from_secs(600), c.output())
        .await
        .context("gnmi-get timed out")??;
    let peak = sampler.max();
    drop(sampler);
    if !out.status.success() {
        bail!("gnmi-get failed ({}); see gnmi-get.log", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut event = text
        .lines()
        .find_map(crate::event::parse)
        .ok_or_else(|| anyhow!("gnmi-get printed no result"))?;
    event["rss_before_mb"] = json!((before as f64 / 1e5).round() / 10.0);
    event["peak_rss_mb"] = json!((peak as f64 / 1e5).round() / 10.0);
    Ok(event)
}
