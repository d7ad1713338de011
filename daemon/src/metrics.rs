//! The Prometheus metrics endpoint: `GET /metrics` over HTTP, in the
//! OpenMetrics text format Prometheus scrapes.
//!
//! Sessions, prefixes, messages and RIB sizes are read from the engine at
//! each scrape (nothing is kept between scrapes); commit counts and
//! latencies are accumulated from the datastore's commit events. The
//! endpoint follows `/ocbgp:management/metrics/config` (off by default)
//! as part of every commit, like the other management servers
//! ([`crate::servers::Management`]): its socket is bound in the commit's
//! prepare step, so an address or port that cannot be bound refuses the
//! commit, and it is started, stopped or moved in apply.

use std::future::IntoFuture as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;
use ocbgp_engine::engine::Engine;
use ocbgp_engine::rib::PrefixCounts;
use ocbgp_engine::stats::{MessageCounters, SessionState};
use ocbgp_engine::wire::{Family, MessageType};
use ocbgp_models::config::Config;
use ocbgp_models::datastore::{CommitEvent, Datastore};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family as MetricFamily;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tokio::sync::{broadcast, watch};

const METRICS_CONFIG: &str = "/ocbgp:management/metrics/config";

/// The content type of the OpenMetrics text format.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Label pairs of one series.
type Labels = Vec<(&'static str, String)>;

/// A per-neighbor, per-family prefix gauge: name, help, the gauge and
/// which count it shows.
type PrefixGauge = (
    &'static str,
    &'static str,
    MetricFamily<Labels, Gauge>,
    fn(&PrefixCounts) -> u64,
);

/// Every session state, for the state-set style `session_state` series.
const STATES: [SessionState; 6] = [
    SessionState::Idle,
    SessionState::Connect,
    SessionState::Active,
    SessionState::OpenSent,
    SessionState::OpenConfirm,
    SessionState::Established,
];

/// Message types with their label values.
const MESSAGE_TYPES: [(MessageType, &str); 5] = [
    (MessageType::Open, "open"),
    (MessageType::Update, "update"),
    (MessageType::Notification, "notification"),
    (MessageType::Keepalive, "keepalive"),
    (MessageType::RouteRefresh, "route_refresh"),
];

/// How long a scrape waits for the RIB task.
const RIB_WAIT: Duration = Duration::from_secs(10);

/// What the endpoint serves: the engine's state read at scrape time, and
/// commit statistics kept since start-up.
pub struct Metrics {
    engine: Engine,
    store: Arc<Datastore>,
    commits: MetricFamily<Labels, Counter>,
    commit_duration: Histogram,
}

impl Metrics {
    /// Metrics of `engine` and `store`.
    pub fn new(engine: Engine, store: Arc<Datastore>) -> Metrics {
        Metrics {
            engine,
            store,
            commits: MetricFamily::default(),
            // 100 µs .. about 3.3 s.
            commit_duration: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
        }
    }

    /// Counts one commit.
    pub fn record(&self, event: &CommitEvent) {
        self.commits
            .get_or_create(&vec![("origin", event.origin.as_str().to_string())])
            .inc();
        self.commit_duration.observe(event.duration.as_secs_f64());
    }

    /// The text a scrape returns.
    pub async fn render(&self) -> String {
        let mut registry = Registry::with_prefix("ocbgp");
        self.register_bgp(&mut registry).await;

        registry.register(
            "config_commits",
            "Commits to the running configuration, by origin",
            self.commits.clone(),
        );
        let failed = Counter::<u64>::default();
        failed.inc_by(self.store.failed_commits());
        registry.register(
            "config_commit_failures",
            "Transactions refused (running left unchanged)",
            failed,
        );
        registry.register(
            "config_commit_duration_seconds",
            "Time from the start of a transaction to running swapped",
            self.commit_duration.clone(),
        );

        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &registry);
        out
    }

    async fn register_bgp(&self, registry: &mut Registry) {
        let neighbors = self.engine.neighbors();
        let rib = self.engine.rib();
        let wanted: Vec<_> = neighbors
            .iter()
            .flat_map(|(_, n)| n.config.families.iter().map(move |f| (n.idx, f.family)))
            .collect();
        let (counts, table) = match &rib {
            Some(r) => {
                let read = r.query(move |rib| {
                    let counts: Vec<PrefixCounts> =
                        wanted.iter().map(|(idx, f)| rib.counts(*idx, *f)).collect();
                    (
                        wanted,
                        counts,
                        (rib.v4().len(), rib.v6().len(), rib.paths()),
                    )
                });
                match tokio::time::timeout(RIB_WAIT, read).await {
                    Ok(Some((wanted, counts, table))) => {
                        (wanted.into_iter().zip(counts).collect(), Some(table))
                    }
                    _ => (Vec::new(), None),
                }
            }
            None => (Vec::new(), None),
        };

        let configured = Gauge::<i64>::default();
        let established = Gauge::<i64>::default();
        let up = MetricFamily::<Labels, Gauge>::default();
        let state = MetricFamily::<Labels, Gauge>::default();
        let transitions = MetricFamily::<Labels, Counter>::default();
        let received = MetricFamily::<Labels, Counter>::default();
        let sent = MetricFamily::<Labels, Counter>::default();
        let prefixes: [PrefixGauge; 4] = [
            (
                "bgp_prefixes_received",
                "Paths received from the neighbor (before import policy)",
                MetricFamily::default(),
                |c| c.received,
            ),
            (
                "bgp_prefixes_accepted",
                "Paths from the neighbor accepted by import policy",
                MetricFamily::default(),
                |c| c.accepted,
            ),
            (
                "bgp_prefixes_installed",
                "Paths from the neighbor that are best in the Loc-RIB",
                MetricFamily::default(),
                |c| c.installed,
            ),
            (
                "bgp_prefixes_sent",
                "Prefixes advertised to the neighbor",
                MetricFamily::default(),
                |c| c.sent,
            ),
        ];

        for (addr, n) in &neighbors {
            let neighbor = addr.to_string();
            let peer = || {
                vec![
                    ("neighbor", neighbor.clone()),
                    ("peer_as", n.config.peer_as.to_string()),
                ]
            };
            let now = n.stats.state();
            configured.inc();
            let is_up = now == SessionState::Established;
            if is_up {
                established.inc();
            }
            up.get_or_create(&peer()).set(i64::from(is_up));
            for s in STATES {
                let mut labels = peer();
                labels.push(("state", s.as_str().to_string()));
                state.get_or_create(&labels).set(i64::from(s == now));
            }
            transitions
                .get_or_create(&peer())
                .inc_by(n.stats.established_transitions.load(Ordering::Relaxed));
            let messages = |family: &MetricFamily<Labels, Counter>, counters: &MessageCounters| {
                for (kind, name) in MESSAGE_TYPES {
                    let mut labels = peer();
                    labels.push(("type", name.to_string()));
                    family.get_or_create(&labels).inc_by(counters.get(kind));
                }
            };
            messages(&received, &n.stats.received);
            messages(&sent, &n.stats.sent);
        }
        for ((idx, family), c) in &counts {
            let Some((addr, _)) = neighbors.iter().find(|(_, n)| n.idx == *idx) else {
                continue;
            };
            let labels = vec![
                ("neighbor", addr.to_string()),
                ("afi_safi", family.to_string()),
            ];
            for (_, _, metric, value) in &prefixes {
                metric.get_or_create(&labels).set(saturating_i64(value(c)));
            }
        }

        registry.register("bgp_neighbors", "Configured neighbors", configured);
        registry.register(
            "bgp_sessions_established",
            "Neighbors whose session is established",
            established,
        );
        registry.register(
            "bgp_session_up",
            "1 while the session with the neighbor is established",
            up,
        );
        registry.register(
            "bgp_session_state",
            "1 for the session's current state, 0 for the others",
            state,
        );
        registry.register(
            "bgp_session_established_transitions",
            "Times the session reached Established",
            transitions,
        );
        registry.register(
            "bgp_messages_received",
            "BGP messages received, by type",
            received,
        );
        registry.register("bgp_messages_sent", "BGP messages sent, by type", sent);
        for (name, help, metric, _) in prefixes {
            registry.register(name, help, metric);
        }
        if let Some((v4, v6, paths)) = table {
            let rib_prefixes = MetricFamily::<Labels, Gauge>::default();
            rib_prefixes
                .get_or_create(&vec![("afi_safi", Family::IPV4_UNICAST.to_string())])
                .set(saturating_i64(v4 as u64));
            rib_prefixes
                .get_or_create(&vec![("afi_safi", Family::IPV6_UNICAST.to_string())])
                .set(saturating_i64(v6 as u64));
            registry.register(
                "bgp_rib_prefixes",
                "Prefixes in the RIB, by family",
                rib_prefixes,
            );
            let rib_paths = Gauge::<i64>::default();
            rib_paths.set(saturating_i64(paths as u64));
            registry.register(
                "bgp_rib_paths",
                "Paths in the RIB (every peer's, all families)",
                rib_paths,
            );
        }
    }
}

fn saturating_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Where the endpoint should listen according to `config`, if enabled.
pub fn endpoint(config: &Config) -> Option<SocketAddr> {
    let leaf = |name: &str| config.value(&format!("{METRICS_CONFIG}/{name}"));
    if leaf("enabled").as_deref() != Some("true") {
        return None;
    }
    // The schema checked both; the defaults are the model's.
    let ip: IpAddr = leaf("address")
        .and_then(|a| a.parse().ok())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let port: u16 = leaf("port").and_then(|p| p.parse().ok()).unwrap_or(9179);
    Some(SocketAddr::new(ip, port))
}

/// Serves `GET /metrics` on a bound listener until `shutdown` completes
/// (a scrape in progress finishes, bounded by 5 s).
pub async fn serve(
    metrics: Arc<Metrics>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let addr = listener.local_addr().ok();
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move { ([(CONTENT_TYPE, OPENMETRICS)], metrics.render().await) }
        }),
    );
    tracing::info!(?addr, "metrics endpoint listening");
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown.await;
        let _ = stopped_tx.send(());
    };
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .into_future();
    tokio::pin!(server);
    let result = tokio::select! {
        r = &mut server => r,
        // A scrape that hangs is not waited for past 5 s after the stop.
        _ = async {
            let _ = stopped_rx.await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        } => Ok(()),
    };
    match result {
        Ok(()) => tracing::info!(?addr, "metrics endpoint stopped"),
        Err(e) => tracing::error!(?addr, error = %e, "metrics server failed"),
    }
}

/// Counts commits until `stop` turns true. (The endpoint itself follows
/// the configuration as part of each commit: see
/// [`crate::servers::Management`].)
pub async fn run(metrics: Arc<Metrics>, store: Arc<Datastore>, mut stop: watch::Receiver<bool>) {
    let mut events = store.subscribe();
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            event = events.recv() => match event {
                Ok(event) => metrics.record(&event),
                // Some commits went uncounted.
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "metrics fell behind the commit events");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
}
