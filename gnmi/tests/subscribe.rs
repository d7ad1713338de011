//! Subscribe over gRPC: ONCE, POLL, STREAM with ON_CHANGE, SAMPLE and
//! TARGET_DEFINED, updates_only, heartbeats and interval checks.

mod common;

use std::time::{Duration, Instant};

use common::{fast_options, json_ietf, json_of, path, text, Harness, BGP_GNMI};
use ocbgp_gnmi::proto::gnmi::subscribe_request::Request;
use ocbgp_gnmi::proto::gnmi::subscribe_response::Response;
use ocbgp_gnmi::proto::gnmi::subscription_list::Mode;
use ocbgp_gnmi::proto::gnmi::typed_value::Value;
use ocbgp_gnmi::proto::gnmi::{
    Encoding, Notification, Poll, SetRequest, SubscribeRequest, SubscribeResponse, Subscription,
    SubscriptionList, SubscriptionMode, Update,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tonic::{Code, Streaming};

fn subscription(p: &str, mode: SubscriptionMode, sample_ns: u64) -> Subscription {
    Subscription {
        path: Some(path(p)),
        mode: mode as i32,
        sample_interval: sample_ns,
        ..Default::default()
    }
}

fn list(mode: Mode, subs: Vec<Subscription>) -> SubscriptionList {
    SubscriptionList {
        mode: mode as i32,
        subscription: subs,
        encoding: Encoding::JsonIetf as i32,
        ..Default::default()
    }
}

/// An open Subscribe: the sender for further requests and the responses.
struct Sub {
    tx: mpsc::Sender<SubscribeRequest>,
    rx: Streaming<SubscribeResponse>,
}

async fn open(h: &Harness, list: SubscriptionList) -> Sub {
    let (tx, rx) = mpsc::channel(8);
    tx.send(SubscribeRequest {
        request: Some(Request::Subscribe(list)),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut client = h.client().await;
    let rx = client
        .subscribe(ReceiverStream::new(rx))
        .await
        .expect("Subscribe")
        .into_inner();
    Sub { tx, rx }
}

enum Got {
    Update(Notification),
    Sync,
}

impl Sub {
    async fn next(&mut self) -> Result<Got, tonic::Status> {
        let r = tokio::time::timeout(Duration::from_secs(10), self.rx.next())
            .await
            .expect("a response within 10 s")
            .expect("the stream goes on")?;
        match r.response {
            Some(Response::Update(n)) => Ok(Got::Update(n)),
            Some(Response::SyncResponse(true)) => Ok(Got::Sync),
            other => panic!("unexpected response {other:?}"),
        }
    }

    /// Notifications up to the next sync_response.
    async fn until_sync(&mut self) -> Vec<Notification> {
        let mut out = Vec::new();
        loop {
            match self.next().await.expect("response") {
                Got::Update(n) => out.push(n),
                Got::Sync => return out,
            }
        }
    }

    async fn notification(&mut self) -> Notification {
        match self.next().await.expect("response") {
            Got::Update(n) => n,
            Got::Sync => panic!("unexpected sync_response"),
        }
    }

    /// The next notification with an update or delete whose path contains
    /// `needle`, skipping others.
    async fn wait_for(&mut self, needle: &str) -> Notification {
        loop {
            let n = self.notification().await;
            let hit = n
                .update
                .iter()
                .any(|u| text(u.path.as_ref().unwrap()).contains(needle))
                || n.delete.iter().any(|d| text(d).contains(needle));
            if hit {
                return n;
            }
        }
    }
}

fn updates(ns: &[Notification]) -> Vec<(String, serde_json::Value)> {
    ns.iter().flat_map(|n| &n.update).map(pair).collect()
}

fn pair(u: &Update) -> (String, serde_json::Value) {
    (
        text(u.path.as_ref().unwrap()),
        json_of(u.val.as_ref().unwrap()),
    )
}

fn neighbor(addr: &str) -> String {
    format!("{BGP_GNMI}/neighbors/neighbor[neighbor-address={addr}]")
}

#[tokio::test]
async fn once_sends_current_values_then_closes() {
    let h = Harness::start("sub-once").await;
    let mut sub = open(
        &h,
        list(
            Mode::Once,
            vec![subscription(
                &format!("{}/config", neighbor("192.0.2.2")),
                SubscriptionMode::TargetDefined,
                0,
            )],
        ),
    )
    .await;
    let got = updates(&sub.until_sync().await);
    // Per leaf.
    assert!(
        got.contains(&(
            format!("{}/config/peer-as", neighbor("192.0.2.2")),
            serde_json::json!(65002)
        )),
        "{got:?}"
    );
    assert!(got.contains(&(
        format!("{}/config/description", neighbor("192.0.2.2")),
        serde_json::json!("first")
    )));
    assert!(
        tokio::time::timeout(Duration::from_secs(5), sub.rx.next())
            .await
            .unwrap()
            .is_none(),
        "stream ends"
    );
    drop(sub.tx);
    h.stop().await;
}

#[tokio::test]
async fn poll_answers_each_poll() {
    let h = Harness::start("sub-poll").await;
    let p = format!("{}/state/session-state", neighbor("192.0.2.2"));
    let mut sub = open(
        &h,
        list(
            Mode::Poll,
            vec![subscription(&p, SubscriptionMode::TargetDefined, 0)],
        ),
    )
    .await;
    assert_eq!(
        updates(&sub.until_sync().await),
        vec![(p.clone(), serde_json::json!("ESTABLISHED"))]
    );
    h.state.set("192.0.2.2", "IDLE", 1, 10);
    sub.tx
        .send(SubscribeRequest {
            request: Some(Request::Poll(Poll {})),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        updates(&sub.until_sync().await),
        vec![(p.clone(), serde_json::json!("IDLE"))]
    );
    sub.tx
        .send(SubscribeRequest {
            request: Some(Request::Poll(Poll {})),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(updates(&sub.until_sync().await).len(), 1);
    // A second subscription on the same stream is an error.
    sub.tx
        .send(SubscribeRequest {
            request: Some(Request::Subscribe(list(Mode::Poll, vec![]))),
            ..Default::default()
        })
        .await
        .unwrap();
    let err = sub.next().await.err().expect("error status");
    assert_eq!(err.code(), Code::InvalidArgument);
    h.stop().await;
}

#[tokio::test]
async fn on_change_sees_another_clients_set_and_delete() {
    let h = Harness::start("sub-onchange").await;
    let pattern = format!("{BGP_GNMI}/neighbors/neighbor[neighbor-address=*]/config");
    let mut sub = open(
        &h,
        list(
            Mode::Stream,
            vec![subscription(&pattern, SubscriptionMode::OnChange, 0)],
        ),
    )
    .await;
    let initial = updates(&sub.until_sync().await);
    assert!(
        initial.iter().any(|(p, _)| p.contains("192.0.2.3")),
        "{initial:?}"
    );

    // Another client changes one leaf: one update, that leaf only.
    let mut other = h.client().await;
    other
        .set(SetRequest {
            update: vec![Update {
                path: Some(path(&format!(
                    "{}/config/description",
                    neighbor("192.0.2.2")
                ))),
                val: Some(json_ietf(r#""changed""#)),
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .expect("Set");
    let n = sub.notification().await;
    assert_eq!(
        n.update.iter().map(pair).collect::<Vec<_>>(),
        vec![(
            format!("{}/config/description", neighbor("192.0.2.2")),
            serde_json::json!("changed")
        )]
    );
    assert!(n.delete.is_empty());

    // A new neighbor appears (a path that did not exist before).
    other
        .set(SetRequest {
            update: vec![Update {
                path: Some(path(&neighbor("192.0.2.9"))),
                val: Some(json_ietf(
                    r#"{"config": {"neighbor-address": "192.0.2.9", "peer-group": "ix"}}"#,
                )),
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .expect("Set");
    let n = sub.wait_for("192.0.2.9").await;
    assert!(n
        .update
        .iter()
        .any(|u| text(u.path.as_ref().unwrap()).ends_with("192.0.2.9]/config/peer-group")));

    // A delete: reported as the deletion of the subscribed node.
    other
        .set(SetRequest {
            delete: vec![path(&neighbor("192.0.2.3"))],
            ..Default::default()
        })
        .await
        .expect("Set");
    let n = sub.wait_for("192.0.2.3").await;
    let deletes: Vec<String> = n.delete.iter().map(text).collect();
    assert_eq!(deletes, vec![format!("{}/config", neighbor("192.0.2.3"))]);
    h.stop().await;
}

#[tokio::test]
async fn on_change_of_state_is_polled() {
    let h = Harness::start_with("sub-state", fast_options(), None).await;
    let p = format!("{}/state/session-state", neighbor("*"));
    let mut sub = open(
        &h,
        list(
            Mode::Stream,
            vec![subscription(&p, SubscriptionMode::OnChange, 0)],
        ),
    )
    .await;
    assert_eq!(updates(&sub.until_sync().await).len(), 1);
    h.state.set("192.0.2.2", "IDLE", 1, 10);
    let n = sub.notification().await;
    assert_eq!(
        n.update.iter().map(pair).collect::<Vec<_>>(),
        vec![(
            format!("{}/state/session-state", neighbor("192.0.2.2")),
            serde_json::json!("IDLE")
        )]
    );
    // State that appears, then goes.
    h.state.set("192.0.2.3", "CONNECT", 0, 0);
    let n = sub.wait_for("192.0.2.3").await;
    assert_eq!(n.update.len(), 1);
    h.state.remove("192.0.2.3");
    let n = sub.wait_for("192.0.2.3").await;
    let deletes: Vec<String> = n.delete.iter().map(text).collect();
    assert_eq!(
        deletes,
        vec![format!("{}/state/session-state", neighbor("192.0.2.3"))]
    );
    h.stop().await;
}

#[tokio::test]
async fn sample_interval_is_respected() {
    let h = Harness::start_with("sub-sample", fast_options(), None).await;
    let p = format!("{}/state/messages/received/UPDATE", neighbor("192.0.2.2"));
    let mut sub = open(
        &h,
        list(
            Mode::Stream,
            vec![subscription(&p, SubscriptionMode::Sample, 300_000_000)],
        ),
    )
    .await;
    assert_eq!(
        updates(&sub.until_sync().await),
        vec![(p.clone(), serde_json::json!("10"))]
    );
    let start = Instant::now();
    let mut times = Vec::new();
    for i in 0..3u64 {
        h.state.set("192.0.2.2", "ESTABLISHED", 1, 20 + i);
        let n = sub.notification().await;
        times.push(start.elapsed());
        // Sampled values are sent whether they changed or not, one per sample.
        assert_eq!(n.update.len(), 1);
    }
    // Three samples 300 ms apart: about 0.9 s, not faster.
    assert!(times[2] >= Duration::from_millis(750), "{times:?}");
    assert!(times[2] <= Duration::from_millis(3000), "{times:?}");
    h.stop().await;
}

#[tokio::test]
async fn too_small_sample_interval_is_refused() {
    let h = Harness::start("sub-small").await;
    let p = format!("{}/state", neighbor("192.0.2.2"));
    // The default minimum is 1 s.
    let mut sub = open(
        &h,
        list(
            Mode::Stream,
            vec![subscription(&p, SubscriptionMode::Sample, 10_000_000)],
        ),
    )
    .await;
    let err = sub.next().await.err().expect("refused");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("sample_interval"),
        "{}",
        err.message()
    );
    // So is a heartbeat below it.
    let mut s = subscription(&p, SubscriptionMode::OnChange, 0);
    s.heartbeat_interval = 1_000;
    let mut sub = open(&h, list(Mode::Stream, vec![s])).await;
    assert_eq!(
        sub.next().await.err().expect("refused").code(),
        Code::InvalidArgument
    );
    // A path the schema lacks.
    let mut sub = open(
        &h,
        list(
            Mode::Stream,
            vec![subscription(
                &format!("{BGP_GNMI}/colour"),
                SubscriptionMode::OnChange,
                0,
            )],
        ),
    )
    .await;
    assert_eq!(
        sub.next().await.err().expect("refused").code(),
        Code::NotFound
    );
    h.stop().await;
}

#[tokio::test]
async fn suppress_redundant_and_heartbeat() {
    let h = Harness::start_with("sub-suppress", fast_options(), None).await;
    let p = format!("{}/state/session-state", neighbor("192.0.2.2"));
    let mut s = subscription(&p, SubscriptionMode::Sample, 200_000_000);
    s.suppress_redundant = true;
    s.heartbeat_interval = 1_000_000_000;
    let mut sub = open(&h, list(Mode::Stream, vec![s])).await;
    sub.until_sync().await;
    // Nothing changes: nothing until the heartbeat (1 s), not every 200 ms.
    let start = Instant::now();
    let n = sub.notification().await;
    assert!(
        start.elapsed() >= Duration::from_millis(700),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(n.update.len(), 1);
    // A change comes with the next sample.
    h.state.set("192.0.2.2", "ACTIVE", 1, 10);
    let start = Instant::now();
    let n = sub.notification().await;
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        json_of(n.update[0].val.as_ref().unwrap()),
        serde_json::json!("ACTIVE")
    );
    h.stop().await;
}

#[tokio::test]
async fn updates_only_skips_current_values() {
    let h = Harness::start("sub-updates-only").await;
    let p = format!("{}/config", neighbor("192.0.2.2"));
    let mut l = list(
        Mode::Stream,
        vec![subscription(&p, SubscriptionMode::OnChange, 0)],
    );
    l.updates_only = true;
    let mut sub = open(&h, l).await;
    assert!(matches!(sub.next().await.expect("sync"), Got::Sync));
    let mut other = h.client().await;
    other
        .set(SetRequest {
            update: vec![Update {
                path: Some(path(&format!("{p}/peer-as"))),
                val: Some(json_ietf("65099")),
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .expect("Set");
    let n = sub.notification().await;
    assert_eq!(
        n.update.iter().map(pair).collect::<Vec<_>>(),
        vec![(format!("{p}/peer-as"), serde_json::json!(65099))]
    );
    h.stop().await;
}

#[tokio::test]
async fn target_defined_and_proto_encoding() {
    let h = Harness::start_with("sub-target", fast_options(), None).await;
    let p = format!("{}/state", neighbor("192.0.2.2"));
    let mut l = list(
        Mode::Stream,
        vec![subscription(&p, SubscriptionMode::TargetDefined, 0)],
    );
    l.encoding = Encoding::Proto as i32;
    let mut sub = open(&h, l).await;
    let initial = sub.until_sync().await;
    let typed: Vec<(String, Option<Value>)> = initial
        .iter()
        .flat_map(|n| &n.update)
        .map(|u| (text(u.path.as_ref().unwrap()), u.val.clone().unwrap().value))
        .collect();
    assert!(
        typed.contains(&(
            format!("{p}/session-state"),
            Some(Value::StringVal("ESTABLISHED".into()))
        )),
        "{typed:?}"
    );
    assert!(
        typed.contains(&(
            format!("{p}/messages/received/UPDATE"),
            Some(Value::UintVal(10))
        )),
        "{typed:?}"
    );
    // session-state is on change (state polled every 100 ms here); the
    // UPDATE counter is sampled (every 600 ms here).
    h.state.set("192.0.2.2", "IDLE", 2, 11);
    let start = Instant::now();
    let mut seen_state = None;
    let mut seen_counter = None;
    while seen_state.is_none() || seen_counter.is_none() {
        let n = sub.notification().await;
        for u in &n.update {
            let at = text(u.path.as_ref().unwrap());
            if at.ends_with("/session-state") {
                seen_state.get_or_insert(start.elapsed());
            }
            if at.ends_with("/UPDATE") {
                seen_counter.get_or_insert(start.elapsed());
            }
        }
    }
    assert!(
        seen_state.unwrap() <= seen_counter.unwrap(),
        "{seen_state:?} {seen_counter:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn many_subscribers_and_a_slow_one() {
    let mut options = fast_options();
    options.queue_len = 4;
    let h = Harness::start_with("sub-many", options, None).await;
    let leaf = format!("{}/config/description", neighbor("192.0.2.2"));
    let mut subs = Vec::new();
    for _ in 0..4 {
        let mut s = open(
            &h,
            list(
                Mode::Stream,
                vec![subscription(&leaf, SubscriptionMode::OnChange, 0)],
            ),
        )
        .await;
        s.until_sync().await;
        subs.push(s);
    }
    // The last one does not read while commits with big values fill its
    // queue and the transport's buffers.
    let mut other = h.client().await;
    let commits = 150;
    let value = |i: usize| format!("{i:04}{}", "x".repeat(100_000));
    let last = value(commits - 1);
    let fast = subs.len() - 1;
    let mut seen = vec![0usize; fast];
    for i in 0..commits {
        other
            .set(SetRequest {
                update: vec![Update {
                    path: Some(path(&leaf)),
                    val: Some(json_ietf(&serde_json::to_string(&value(i)).unwrap())),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .await
            .expect("Set: a slow subscriber does not block commits");
        // The others keep up: every commit reaches them.
        for (k, s) in subs.iter_mut().take(fast).enumerate() {
            let n = s.notification().await;
            assert_eq!(
                json_of(n.update[0].val.as_ref().unwrap()),
                serde_json::json!(value(i))
            );
            seen[k] += 1;
        }
    }
    assert_eq!(seen, vec![commits; fast]);
    // The slow one: it gets what was queued, then (coalesced) the latest.
    let slow = subs.last_mut().unwrap();
    let mut received = 0;
    loop {
        let n = slow.notification().await;
        received += 1;
        if json_of(n.update[0].val.as_ref().unwrap()) == serde_json::json!(last) {
            break;
        }
    }
    assert!(
        received < commits,
        "the slow subscriber's values were coalesced ({received} of {commits})"
    );
    drop(subs);
    h.stop().await;
}
