//! `local-as` both ways, with real peers in network namespaces (issue #13):
//! gobgpd believes it talks to AS 65010 (ocbgpd's `local-as` toward it),
//! BIRD talks to ocbgpd's real AS 64512. Routes from gobgpd reach BIRD with
//! the local-as in their path unless `ocbgp:local-as-no-prepend`; routes
//! from BIRD reach gobgpd with the local-as and then 64512 unless
//! `ocbgp:local-as-replace-as`. Every wait is bounded.

use std::time::Duration;

use ocbgp_tests::lab::*;
use serde_json::json;

const UP: Duration = Duration::from_secs(30);
const ROUTE: Duration = Duration::from_secs(20);
const OC_AS: u32 = 64512;
const LOCAL_AS: u32 = 65010;
const GOBGP_AS: u32 = 65001;
const BIRD_AS: u32 = 64499;
const FROM_GOBGP: &str = "10.60.0.0/24";
const FROM_BIRD: &str = "10.61.0.0/24";
const BGP: &str = "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp";

#[test]
fn local_as_no_prepend_and_replace_as() {
    let lab = Lab::new("local_as");
    let (oc, gh, bh) = (lab.host("oc"), lab.host("g"), lab.host("bird"));
    let v4 = &[Family::Ipv4Unicast];
    let (ga, ba) = (gh.ipv4(), bh.ipv4());
    let d = Ocbgpd::start(
        &oc,
        &OcbgpdConfig::new(
            BgpConfig::new(OC_AS, oc.ipv4())
                .neighbor(Neighbor::new(ga, GOBGP_AS).families(v4))
                .neighbor(Neighbor::new(ba, BIRD_AS).families(v4)),
        )
        .no_netconf(),
    );
    let neighbor = format!("{BGP}/neighbors/neighbor[neighbor-address={ga}]/config");
    d.gnmi_update(&neighbor, json!({"local-as": LOCAL_AS}));
    let g = Gobgp::start(
        &gh,
        &BgpConfig::new(GOBGP_AS, ga)
            .neighbor(Neighbor::new(oc.ipv4(), LOCAL_AS).families(v4))
            .route(Originated::new(FROM_GOBGP)),
    );
    let b = Bird::start(
        &bh,
        &BgpConfig::new(BIRD_AS, ba)
            .neighbor(Neighbor::new(oc.ipv4(), OC_AS).families(v4))
            .route(Originated::new(FROM_BIRD)),
    );
    d.wait_established(ga, UP);
    d.wait_established(ba, UP);

    // By default: received paths get the local-as in front; sent ones the
    // local-as, then our real AS.
    b.wait_as_path(
        FROM_GOBGP,
        Some(&[OC_AS, LOCAL_AS, GOBGP_AS]),
        ROUTE,
        "default, at BIRD",
    );
    let transitions = |addr| {
        d.try_gnmi_get(&format!(
            "{BGP}/neighbors/neighbor[neighbor-address={addr}]/state/established-transitions"
        ))
        .ok()
        .and_then(|v| v.first().cloned())
    };
    let before = transitions(ga);
    g.wait_as_path(
        FROM_BIRD,
        Some(&[LOCAL_AS, OC_AS, BIRD_AS]),
        ROUTE,
        "default, at gobgpd",
    );

    // no-prepend: BIRD sees the path as gobgpd sent it, behind our AS.
    d.gnmi_update(&neighbor, json!({"ocbgp:local-as-no-prepend": true}));
    b.wait_as_path(
        FROM_GOBGP,
        Some(&[OC_AS, GOBGP_AS]),
        ROUTE,
        "local-as-no-prepend, at BIRD",
    );

    // replace-as: gobgpd sees only the AS it talks to.
    d.gnmi_update(&neighbor, json!({"ocbgp:local-as-replace-as": true}));
    g.wait_as_path(
        FROM_BIRD,
        Some(&[LOCAL_AS, BIRD_AS]),
        ROUTE,
        "local-as-replace-as, at gobgpd",
    );
    // Neither option resets the session.
    assert_eq!(transitions(ga), before, "the session with gobgpd was reset");
    d.process().assert_running();
}
