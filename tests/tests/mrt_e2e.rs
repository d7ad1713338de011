//! MRT end to end: gobgpd r1 (AS 65010) announces routes to ocbgpd r2
//! (AS 65001), which has a route of its own. Dumps configured by gNMI Set
//! write a TABLE_DUMP_V2 snapshot and a BGP4MP update log; Debian's
//! `bgpdump` reads both and shows the prefixes, paths and attributes, and
//! GoBGP's MRT reader parses the table dump.

use std::path::Path;
use std::time::Duration;

use ocbgp_tests::lab::*;
use ocbgp_tests::{bin_path, wait_until};
use serde_json::{json, Value};

const UP: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(20);

const SRC_AS: u32 = 65010;
const OC_AS: u32 = 65001;

const A: &str = "10.1.0.0/16";
const B: &str = "10.2.0.0/24";
const C: &str = "10.3.0.0/24";
const OURS: &str = "192.0.2.128/25";

const BGP: &str =
    "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp";

fn dump_path(name: &str) -> String {
    format!("{BGP}/ocbgp:mrt/dump[name={name}]")
}

fn dump(name: &str, kind: &str, file: &Path, rotation: u32) -> Value {
    json!({"name": name, "config": {"name": name, "type": kind,
        "file-name": file.to_str().expect("utf-8"), "rotation-interval": rotation}})
}

/// `ocbgp ARGS` against `d`; panics unless it succeeds.
fn ocbgp(d: &Ocbgpd, args: &[&str]) -> String {
    let target = d.config().gnmi_addr().to_string();
    let mut all = vec!["--target", target.as_str()];
    all.extend_from_slice(args);
    let o = d
        .host()
        .try_run(bin_path("ocbgp").to_str().expect("utf-8"), &all);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "ocbgp {args:?}: {out} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// `bgpdump -m` lines of `file`, split on `|`.
fn bgpdump(file: &Path) -> Vec<Vec<String>> {
    let out = std::process::Command::new("bgpdump")
        .args(["-q", "-m"])
        .arg(file)
        .output()
        .expect("bgpdump");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

#[test]
fn table_and_update_dumps_read_by_bgpdump_and_gobgp() {
    let lab = Lab::new("mrt_e2e");
    let (r1, r2) = (lab.host("r1"), lab.host("r2"));
    let v4 = &[Family::Ipv4Unicast];
    let d = Ocbgpd::start(
        &r2,
        &OcbgpdConfig::new(
            BgpConfig::new(OC_AS, r2.ipv4())
                .neighbor(Neighbor::new(r1.ipv4(), SRC_AS).families(v4))
                .route(Originated::new(OURS).next_hop(r2.ipv4())),
        ),
    );
    let src = Gobgp::start(
        &r1,
        &BgpConfig::new(SRC_AS, r1.ipv4()).neighbor(Neighbor::new(r2.ipv4(), OC_AS).families(v4)),
    );
    src.add_route(&Originated::new(A).med(10).community("65010:7"));
    src.add_route(&Originated::new(B).med(20));
    d.wait_established(r1.ipv4(), UP);
    d.wait_route(B, STEP);
    d.wait_route(A, STEP);

    let dir = r2.dir();
    // A dump into a folder that does not exist is refused at commit.
    let bad = d.try_gnmi_set(
        &[],
        &[],
        &[(
            dump_path("bad"),
            dump("bad", "TABLE", &dir.join("missing/rib.mrt"), 0),
        )],
    );
    assert!(bad.is_err(), "a dump into a missing folder was accepted");

    let rib = dir.join("rib.mrt");
    let updates = dir.join("updates.mrt");
    d.try_gnmi_set(
        &[],
        &[],
        &[
            (dump_path("rib"), dump("rib", "TABLE", &rib, 0)),
            (dump_path("upd"), dump("upd", "UPDATES", &updates, 0)),
        ],
    )
    .unwrap_or_else(|e| d.fail(&e));

    // The table: every prefix with its path and attributes.
    assert!(
        wait_until(STEP, || rib.exists()),
        "no table dump: {}",
        d.process().log_tail(20)
    );
    let lines = bgpdump(&rib);
    let find = |lines: &[Vec<String>], kind: &str, prefix: &str| -> Option<Vec<String>> {
        lines
            .iter()
            .find(|l| l.len() > 5 && l[2] == kind && l[5] == prefix)
            .cloned()
    };
    let a = find(&lines, "B", A).unwrap_or_else(|| panic!("A not in the table dump: {lines:?}"));
    assert_eq!(a[0], "TABLE_DUMP2");
    assert_eq!(a[3], r1.ipv4().to_string(), "peer of A");
    assert_eq!(a[4], SRC_AS.to_string(), "peer AS of A");
    assert_eq!(a[6], SRC_AS.to_string(), "AS path of A");
    assert_eq!(a[8], r1.ipv4().to_string(), "next hop of A");
    assert_eq!(a[10], "10", "MED of A");
    assert!(a[11].contains("65010:7"), "communities of A: {a:?}");
    assert!(find(&lines, "B", B).is_some(), "B not in the table dump");
    let ours = find(&lines, "B", OURS).unwrap_or_else(|| panic!("our route not dumped: {lines:?}"));
    assert_eq!(ours[4], OC_AS.to_string());
    assert_eq!(ours[8], r2.ipv4().to_string());

    // The update log: a route announced and one withdrawn now.
    src.add_route(&Originated::new(C).med(30));
    src.delete_route(B);
    let logged = || {
        let l = bgpdump(&updates);
        find(&l, "A", C).is_some() && find(&l, "W", B).is_some()
    };
    assert!(
        wait_until(STEP, logged),
        "update log lacks C announced and B withdrawn: {:?}",
        bgpdump(&updates)
    );
    let c = find(&bgpdump(&updates), "A", C).unwrap_or_default();
    assert!(c[0].starts_with("BGP4MP"), "{c:?}");
    assert_eq!(c[3], r1.ipv4().to_string());
    assert_eq!(c[6], SRC_AS.to_string());
    // A session going down is a state change.
    src.cli(&["neighbor", &r2.ipv4().to_string(), "shutdown"]);
    let state = || {
        bgpdump(&updates)
            .iter()
            .any(|l| l.len() > 5 && l[2] == "STATE" && l[3] == r1.ipv4().to_string())
    };
    assert!(wait_until(STEP, state), "no state change logged");
    // The state shows the files being written.
    let current = d
        .try_gnmi_leaf(&format!("{}/state", dump_path("upd")), "current-file")
        .unwrap_or_else(|e| d.fail(&e));
    assert_eq!(current, Some(json!(updates.to_str().expect("utf-8"))));

    // Rotation: a new update file every second, named by its time.
    d.gnmi_update(
        &dump_path("rot"),
        dump("rot", "UPDATES", &dir.join("rot-%s.mrt"), 1),
    );
    let rotated = || {
        std::fs::read_dir(dir)
            .map(|e| {
                e.filter_map(Result::ok)
                    .filter(|f| f.file_name().to_string_lossy().starts_with("rot-"))
                    .count()
            })
            .unwrap_or(0)
            >= 2
    };
    assert!(wait_until(STEP, rotated), "update files not rotated");

    // GoBGP's MRT reader parses every record of our table dump (`gobgp
    // --debug mrt inject` prints each).
    let inject = src
        .try_cli(&[
            "--debug",
            "mrt",
            "inject",
            "global",
            rib.to_str().expect("utf-8"),
        ])
        .unwrap_or_else(|e| panic!("gobgp mrt inject: {e}"));
    for p in [A, B, OURS] {
        assert!(
            inject.contains(&format!("Prefix [{p}]")),
            "GoBGP did not parse {p}: {inject}"
        );
    }
    assert!(inject.contains("PEER_INDEX_TABLE"), "{inject}");
    gobgp_loads(&lab, &rib);

    // The CLI: the dumps, a one-off table dump, injecting files.
    let cli = |args: &[&str]| ocbgp(&d, args);
    let listed = cli(&["mrt"]);
    assert!(
        listed.contains("rib") && listed.contains("UPDATES"),
        "{listed}"
    );
    let oneoff = dir.join("oneoff.mrt");
    cli(&["mrt", "dump", oneoff.to_str().expect("utf-8")]);
    assert!(
        find(&bgpdump(&oneoff), "B", OURS).is_some(),
        "one-off dump lacks our route"
    );
    assert!(
        !cli(&["mrt"]).contains("ocbgp-cli"),
        "the one-off dump entry was left behind"
    );
    // Our table dump back in as originated routes (A with its MED and
    // community), and the update log's C, filtered by prefix.
    cli(&[
        "mrt",
        "inject",
        rib.to_str().expect("utf-8"),
        "--prefix",
        "10.1.0.0/16",
    ]);
    cli(&[
        "mrt",
        "inject",
        updates.to_str().expect("utf-8"),
        "--prefix",
        "10.3.0.0/16",
        "--count",
        "1",
    ]);
    let originated = d
        .try_gnmi_get(&format!("{BGP}/global/ocbgp:originated-routes"))
        .unwrap_or_else(|e| d.fail(&e));
    let text = serde_json::to_string(&originated).unwrap_or_default();
    assert!(
        text.contains(A) && text.contains("65010:7") && text.contains(C),
        "injected routes missing: {text}"
    );
    assert!(!text.contains(B), "the prefix filter let B through: {text}");
}

/// A gobgpd of its own (no neighbors) loads our table dump with `gobgp mrt
/// inject global`: its RIB has every prefix with its AS path and MED.
///
/// GoBGP 3.10's `gobgp mrt inject` exits without closing its gRPC stream
/// (fixed upstream in v4.0.0, "close the stream properly, otherwise the
/// last few paths are dropped"): the paths still in flight, up to the
/// stream's flow-control window (64 KiB), are lost, which for a file this
/// small is all of them. So the dump is given to it repeated to over 1 MiB:
/// the copies are identical, and every copy but the last few arrives.
fn gobgp_loads(lab: &Lab, rib: &Path) {
    let r3 = lab.host("r3");
    let sink = Gobgp::start(&r3, &BgpConfig::new(65030, r3.ipv4()));
    let one = std::fs::read(rib).expect("table dump");
    assert!(!one.is_empty(), "empty table dump");
    let copies = (1 << 20) / one.len() + 1;
    let repeated = r3.dir().join("rib-repeated.mrt");
    std::fs::write(&repeated, one.repeat(copies)).expect("write");
    sink.try_cli(&["mrt", "inject", "global", repeated.to_str().expect("utf-8")])
        .unwrap_or_else(|e| panic!("gobgp mrt inject: {e}"));
    sink.wait_as_path(A, Some(&[SRC_AS]), STEP, "injected A");
    sink.wait_as_path(B, Some(&[SRC_AS]), STEP, "injected B");
    sink.wait_as_path(OURS, Some(&[]), STEP, "injected own route");
    let a = sink.route(A).unwrap_or_else(|| sink.fail("A went"));
    assert_eq!(a.med, Some(10), "MED of injected A: {a:?}");
}

/// A table dump written by gobgpd r3 (routes it learned from gobgpd r1) is
/// injected into ocbgpd r2 with `ocbgp mrt inject`, which re-advertises
/// the routes to BIRD r4 as its own, attributes kept.
#[test]
fn gobgpd_table_dump_injected_and_readvertised_to_bird() {
    let lab = Lab::new("mrt_gobgp_dump");
    let (r1, r2, r3, r4) = (
        lab.host("r1"),
        lab.host("r2"),
        lab.host("r3"),
        lab.host("r4"),
    );
    const DUMPER_AS: u32 = 65020;
    const BIRD_AS: u32 = 65040;
    let v4 = &[Family::Ipv4Unicast];
    let file = r3.dir().join("gobgp-rib.mrt");
    // gobgpd's shortest table dump interval is 60 s (and its first dump
    // comes one interval after start).
    let dumper = Gobgp::start_with(
        &r3,
        &BgpConfig::new(DUMPER_AS, r3.ipv4())
            .neighbor(Neighbor::new(r1.ipv4(), SRC_AS).families(v4)),
        &format!(
            "\n[[mrt-dump]]\n  [mrt-dump.config]\n    dump-type = \"table\"\n    \
             file-name = \"{}\"\n    dump-interval = 60\n",
            file.display()
        ),
    );
    let _src = Gobgp::start(
        &r1,
        &BgpConfig::new(SRC_AS, r1.ipv4())
            .neighbor(Neighbor::new(r3.ipv4(), DUMPER_AS).families(v4))
            .route(Originated::new(A).med(10).community("65010:7"))
            .route(Originated::new(B).med(20)),
    );
    let d = Ocbgpd::start(
        &r2,
        &OcbgpdConfig::new(
            BgpConfig::new(OC_AS, r2.ipv4())
                .neighbor(Neighbor::new(r4.ipv4(), BIRD_AS).families(v4)),
        ),
    );
    let bird = Bird::start(
        &r4,
        &BgpConfig::new(BIRD_AS, r4.ipv4()).neighbor(Neighbor::new(r2.ipv4(), OC_AS).families(v4)),
    );
    dumper.wait_route(A, UP);
    dumper.wait_route(B, STEP);
    bird.wait_established(r2.ipv4(), UP);

    // bgpdump reads gobgpd's dump: both routes, from r1, with r1's path.
    let dumped = || {
        let lines = bgpdump(&file);
        [A, B].iter().all(|p| {
            lines
                .iter()
                .any(|l| l.len() > 6 && l[5] == *p && l[3] == r1.ipv4().to_string())
        })
    };
    assert!(
        wait_until(Duration::from_secs(100), dumped),
        "gobgpd wrote no table dump with A and B: {:?}",
        bgpdump(&file)
    );

    let out = ocbgp(&d, &["mrt", "inject", file.to_str().expect("utf-8")]);
    assert!(out.contains("2 routes"), "{out}");
    // BIRD gets them from ocbgpd: our AS alone in the path, the dump's
    // next hop, MED and community.
    bird.wait_as_path(A, Some(&[OC_AS]), STEP, "A from ocbgpd");
    bird.wait_as_path(B, Some(&[OC_AS]), STEP, "B from ocbgpd");
    let a = bird.route(A).unwrap_or_else(|| bird.fail("A went"));
    assert_eq!(a.from, Some(r2.ipv4()), "{a:?}");
    assert_eq!(a.next_hop, Some(r1.ipv4()), "{a:?}");
    assert_eq!(a.med, Some(10), "{a:?}");
    assert!(a.communities.iter().any(|c| c == "65010:7"), "{a:?}");
    let b = bird.route(B).unwrap_or_else(|| bird.fail("B went"));
    assert_eq!(b.med, Some(20), "{b:?}");
}
