//! ADD-PATH sending (RFC 7911): ocbgpd learns one prefix from three gobgpd
//! sources in different ASes and passes several paths for it on:
//!
//! - to a gobgpd that receives with add-path, limited by `send-max 2`: the
//!   two best paths, each under its own path id;
//! - to BIRD receiving with add-path, with `send` but no `send-max`: every
//!   path (three);
//! - to a gobgpd without add-path: the best path alone;
//! - when a source withdraws a path that was sent, the receivers drop that
//!   path alone and, where the limit allowed only two, get the path that
//!   now ranks second in its place;
//! - an `eligible-prefix-policy` set by a gNMI commit narrows the extra
//!   paths to the prefixes it accepts: another prefix drops to its best.

use std::collections::BTreeSet;
use std::time::Duration;

use ocbgp_tests::lab::*;
use ocbgp_tests::wait_until;
use serde_json::json;

const UP: Duration = Duration::from_secs(30);
const ROUTE: Duration = Duration::from_secs(15);

const OC_AS: u32 = 65000;
const SOURCES: [u32; 3] = [65101, 65102, 65103];
const LIMITED_AS: u32 = 65201;
const BIRD_AS: u32 = 65202;
const PLAIN_AS: u32 = 65203;
const PREFIX: &str = "198.51.100.0/24";
/// Announced by every source too; not in the eligible-prefix policy.
const OTHER: &str = "203.0.113.0/24";
const BGP: &str = "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp";

/// The source AS of each path `speaker` holds for `prefix` from ocbgpd
/// (the AS after ocbgpd's own).
fn sources_for(speaker: &impl BgpSpeaker, prefix: &str) -> Vec<u32> {
    let mut out: Vec<u32> = speaker
        .try_routes(Family::Ipv4Unicast)
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.prefix == prefix && r.as_path.first() == Some(&OC_AS))
        .filter_map(|r| r.as_path.get(1).copied())
        .collect();
    out.sort();
    out
}

fn sources_of(speaker: &impl BgpSpeaker) -> Vec<u32> {
    sources_for(speaker, PREFIX)
}

/// Waits until the sources of what `speaker` holds satisfy `check`.
fn wait_sources(speaker: &impl BgpSpeaker, what: &str, check: impl Fn(&[u32]) -> bool) -> Vec<u32> {
    if !wait_until(ROUTE, || check(&sources_of(speaker))) {
        speaker.fail(&format!(
            "{what}; the paths it has come from {:?}",
            sources_of(speaker)
        ));
    }
    sources_of(speaker)
}

#[test]
fn several_paths_per_prefix_go_to_add_path_receivers_up_to_send_max() {
    let lab = Lab::new("addpath");
    let oc_host = lab.host("oc");
    let oc = oc_host.ipv4();
    let v4 = [Family::Ipv4Unicast];
    let src_hosts: Vec<Host> = ["a", "b", "c"].iter().map(|n| lab.host(n)).collect();
    let (lim_host, bird_host, plain_host) = (lab.host("lim"), lab.host("bird"), lab.host("plain"));

    let sources: Vec<Gobgp> = src_hosts
        .iter()
        .zip(SOURCES)
        .map(|(h, asn)| {
            let cfg = BgpConfig::new(asn, h.ipv4())
                .neighbor(Neighbor::new(oc, OC_AS).families(&v4))
                .route(Originated::new(PREFIX))
                .route(Originated::new(OTHER));
            Gobgp::start(h, &cfg)
        })
        .collect();
    let limited = Gobgp::start(
        &lim_host,
        &BgpConfig::new(LIMITED_AS, lim_host.ipv4()).neighbor(
            Neighbor::new(oc, OC_AS)
                .families(&v4)
                .add_paths(AddPaths::receive()),
        ),
    );
    let bird = Bird::start(
        &bird_host,
        &BgpConfig::new(BIRD_AS, bird_host.ipv4()).neighbor(
            Neighbor::new(oc, OC_AS)
                .families(&v4)
                .add_paths(AddPaths::receive()),
        ),
    );
    let plain = Gobgp::start(
        &plain_host,
        &BgpConfig::new(PLAIN_AS, plain_host.ipv4())
            .neighbor(Neighbor::new(oc, OC_AS).families(&v4)),
    );

    let mut bgp = BgpConfig::new(OC_AS, oc);
    for (h, asn) in src_hosts.iter().zip(SOURCES) {
        bgp = bgp.neighbor(Neighbor::new(h.ipv4(), asn).families(&v4));
    }
    bgp = bgp
        .neighbor(
            Neighbor::new(lim_host.ipv4(), LIMITED_AS)
                .families(&v4)
                .add_paths(AddPaths::send(2)),
        )
        .neighbor(
            Neighbor::new(bird_host.ipv4(), BIRD_AS)
                .families(&v4)
                .add_paths(AddPaths::send_all()),
        )
        .neighbor(Neighbor::new(plain_host.ipv4(), PLAIN_AS).families(&v4));
    let ocbgpd = Ocbgpd::start(&oc_host, &OcbgpdConfig::new(bgp).no_netconf());
    for s in &sources {
        s.wait_established(oc, UP);
    }
    limited.wait_established(oc, UP);
    bird.wait_established(oc, UP);
    plain.wait_established(oc, UP);

    let all: Vec<u32> = SOURCES.to_vec();
    let first = wait_sources(&limited, "send-max 2: two paths", |s| {
        s.len() == 2 && s[0] != s[1]
    });
    wait_sources(&bird, "no send-max: every path", |s| s == all);
    wait_sources(&plain, "no add-path: the best path alone", |s| s.len() == 1);

    // send-max reads back in the neighbor's state.
    let add_paths = format!(
        "{BGP}/neighbors/neighbor[neighbor-address={}]/afi-safis/afi-safi[afi-safi-name=IPV4_UNICAST]/add-paths",
        lim_host.ipv4()
    );
    let state_path = format!("{add_paths}/state");
    let state =
        serde_json::to_string(&ocbgpd.try_gnmi_get(&state_path).expect("gNMI Get")).unwrap();
    assert!(state.contains(r#""send-max":2"#), "{state_path}: {state}");

    // One of the two paths sent under the limit goes: its id is withdrawn
    // and the third source's path takes its place.
    let gone = first[0];
    let at = SOURCES.iter().position(|&a| a == gone).unwrap();
    sources[at].delete_route(PREFIX);
    let rest: Vec<u32> = SOURCES.iter().copied().filter(|&a| a != gone).collect();
    wait_sources(&limited, "the other two sources' paths", |s| s == rest);
    wait_sources(&bird, "the remaining two paths", |s| s == rest);
    let plain_now = wait_sources(&plain, "one path", |s| s.len() == 1);
    assert!(rest.contains(&plain_now[0]), "{plain_now:?}");

    // The source comes back: BIRD has three paths again, the limited
    // receiver still two, distinct.
    sources[at].add_route(&Originated::new(PREFIX));
    wait_sources(&bird, "every path again", |s| s == all);
    let again = wait_sources(&limited, "two paths", |s| s.len() == 2);
    let distinct: BTreeSet<u32> = again.iter().copied().collect();
    assert_eq!(distinct.len(), 2, "{again:?}");

    // Extra paths for PREFIX only: OTHER drops to its best path, PREFIX
    // keeps two.
    let two = |s: &[u32]| s.len() == 2;
    if !wait_until(ROUTE, || two(&sources_for(&limited, OTHER))) {
        limited.fail(&format!("{OTHER}: two paths before the policy"));
    }
    let ps = json!({"name": "ELIGIBLE", "config": {"name": "ELIGIBLE", "mode": "IPV4"},
        "prefixes": {"prefix": [{"ip-prefix": PREFIX, "masklength-range": "exact",
                                  "config": {"ip-prefix": PREFIX, "masklength-range": "exact"}}]}});
    let policy = json!({"name": "MANY", "config": {"name": "MANY"}, "statements": {"statement": [
        {"name": "10", "config": {"name": "10"},
         "conditions": {"match-prefix-set": {"config": {"prefix-set": "ELIGIBLE", "match-set-options": "ANY"}}},
         "actions": {"config": {"policy-result": "ACCEPT_ROUTE"}}},
    ]}});
    ocbgpd
        .try_gnmi_set(
            &[],
            &[],
            &[
                (
                    "/routing-policy".into(),
                    json!({"defined-sets": {"prefix-sets": {"prefix-set": [ps]}},
                           "policy-definitions": {"policy-definition": [policy]}}),
                ),
                (
                    format!("{add_paths}/config/eligible-prefix-policy"),
                    json!("MANY"),
                ),
            ],
        )
        .unwrap_or_else(|e| ocbgpd.fail(&e));
    if !wait_until(ROUTE, || sources_for(&limited, OTHER).len() == 1) {
        limited.fail(&format!(
            "{OTHER}: the best path alone under the policy; it has {:?}",
            sources_for(&limited, OTHER)
        ));
    }
    assert_eq!(sources_of(&limited).len(), 2, "{PREFIX} keeps two paths");
    // BIRD's session has no such policy: every path of both prefixes.
    wait_sources(&bird, "every path", |s| s == all);
    assert_eq!(sources_for(&bird, OTHER), all, "{OTHER} at BIRD");
}
