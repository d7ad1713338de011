//! One test (or more) per error-handling rule of RFC 7606 and the RFCs it
//! points to.

use std::net::Ipv4Addr;

use super::*;
use crate::wire::config::{CodecConfig, PeerKind};
use crate::wire::family::Family;
use crate::wire::notification::{ErrorKind, UpdateSubcode};
use crate::wire::prefix::NlriError;
use crate::wire::update::{Action, AsPathError, AttrType, MpError, Origin, ProblemKind, Verdict};

const T: Action = Action::TreatAsWithdraw;
const D: Action = Action::AttributeDiscard;
const R: Action = Action::SessionReset;

fn internal() -> CodecConfig {
    CodecConfig {
        peer: PeerKind::Internal,
        ..CodecConfig::default()
    }
}

fn four_octet() -> CodecConfig {
    CodecConfig {
        four_octet_as: true,
        ..CodecConfig::default()
    }
}

/// The problems of a decode, as (kind, action) pairs.
fn problems(d: &DecodedUpdate) -> Vec<(ProblemKind, Action)> {
    d.problems
        .iter()
        .map(|p| (p.kind.clone(), p.action))
        .collect()
}

/// Asserts a single problem of `kind` with `action`, and the matching
/// verdict.
#[track_caller]
fn expect(d: &DecodedUpdate, kind: ProblemKind, action: Action) {
    assert_eq!(problems(d), [(kind, action)]);
    match action {
        D => assert_eq!(d.verdict, Verdict::AttributesDiscarded),
        T => assert_eq!(d.verdict, Verdict::TreatAsWithdraw),
        R => assert!(matches!(d.verdict, Verdict::SessionReset(_))),
    }
}

#[track_caller]
fn reset_notification(d: &DecodedUpdate) -> &crate::wire::notification::Notification {
    match &d.verdict {
        Verdict::SessionReset(n) => n,
        other => panic!("expected a session reset, got {other:?}"),
    }
}

/// An announcement of NLRI with the mandatory attributes plus `extra`.
fn announce_with(extra: Vec<u8>) -> Vec<u8> {
    let mut attrs = mandatory();
    attrs.push(extra);
    body(&[], &attrs, NLRI)
}

#[test]
fn a_clean_update() {
    let d = decode(&body(&[], &mandatory(), NLRI));
    assert_eq!(d.verdict, Verdict::Clean);
    assert!(d.problems.is_empty());
    assert_eq!(d.announced().count(), 1);
    assert_eq!(d.withdrawn().count(), 0);
}

// RFC 7606 3.b / RFC 4271 6.3: section lengths that overrun the message.
#[test]
fn section_lengths_past_the_message_reset() {
    let d = decode(&[0, 10, 1, 2]);
    expect(&d, ProblemKind::SectionLengths, R);
    assert_eq!(
        reset_notification(&d).kind,
        ErrorKind::Update(UpdateSubcode::MalformedAttributeList)
    );
    let d = decode(&[0, 0, 0, 9, 0x40, 1, 1, 0]);
    expect(&d, ProblemKind::SectionLengths, R);
    expect(&decode(&[0]), ProblemKind::SectionLengths, R);
}

// RFC 7606 3.i: the Withdrawn Routes field is checked like the NLRI field.
#[test]
fn malformed_withdrawn_routes_reset() {
    let d = decode(&body(&[33, 10, 0, 0, 0, 0], &[], &[]));
    expect(
        &d,
        ProblemKind::WithdrawnField(NlriError::PrefixTooLong(33)),
        R,
    );
    assert_eq!(
        reset_notification(&d).kind,
        ErrorKind::Update(UpdateSubcode::InvalidNetworkField)
    );
}

// RFC 7606 3.j, 5.3: an NLRI field that cannot be parsed resets.
#[test]
fn malformed_nlri_field_resets() {
    expect(
        &decode(&body(&[], &mandatory(), &[24, 10, 1])),
        ProblemKind::NlriField(NlriError::Truncated),
        R,
    );
    let add_path = CodecConfig {
        add_path_receive: vec![Family::IPV4_UNICAST],
        ..CodecConfig::default()
    };
    // Without the path identifier the NLRI field is misread: truncated.
    let d = decode_with(&body(&[], &mandatory(), NLRI), &add_path);
    expect(&d, ProblemKind::NlriField(NlriError::Truncated), R);
}

// RFC 7606 4: an attribute that overruns the attribute field makes the
// rest unreadable; the NLRI field is still found, so treat-as-withdraw.
#[test]
fn attribute_overrun_treats_as_withdraw() {
    let mut attrs = mandatory();
    attrs.push(vec![0xc0, 8, 8, 0, 0, 0, 1]); // COMMUNITIES claims 8, has 4
    let d = decode(&body(&[], &attrs, NLRI));
    expect(&d, ProblemKind::AttributeOverrun, T);
    assert_eq!(d.announced().count(), 0);
    let withdrawn: Vec<_> = d.withdrawn().collect();
    assert_eq!(withdrawn.len(), 1);
    assert_eq!(withdrawn[0].0, Family::IPV4_UNICAST);
    assert_eq!(withdrawn[0].1[0].prefix.to_string(), "10.1.2.0/24");
    // The notification data is what was left of the attribute field.
    let problem = &d.problems[0];
    assert_eq!(
        problem.notification.kind,
        ErrorKind::Update(UpdateSubcode::AttributeLengthError)
    );
    assert_eq!(
        &problem.notification.data[..],
        [0xc0, 8, 8, 0, 0, 0, 1].as_slice()
    );
}

// RFC 7606 4, second case: too few octets left for an attribute header.
#[test]
fn truncated_attribute_header_treats_as_withdraw() {
    let mut attrs = mandatory();
    attrs.push(vec![0x90, 16, 0]); // extended length with one length octet
    expect(
        &decode(&body(&[], &attrs, NLRI)),
        ProblemKind::AttributeOverrun,
        T,
    );
    let mut attrs = mandatory();
    attrs.push(vec![0x40]);
    expect(
        &decode(&body(&[], &attrs, NLRI)),
        ProblemKind::AttributeOverrun,
        T,
    );
}

// RFC 7606 4 with 5.1: MP_REACH_NLRI read before the overrun is still
// located, and its routes are withdrawn too.
#[test]
fn attribute_overrun_withdraws_mp_routes_read_before_it() {
    let mut mp = vec![0, 2, 1, 16];
    mp.extend_from_slice(
        &"2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    mp.extend_from_slice(&[0, 32, 0x20, 0x01, 0x0d, 0xb8]);
    let attrs = vec![attr(0x80, 14, &mp), origin(), vec![0x40, 2, 9, 2]];
    let d = decode(&body(&[], &attrs, &[]));
    expect(&d, ProblemKind::AttributeOverrun, T);
    let withdrawn: Vec<_> = d.withdrawn().map(|(f, n)| (f, n.len())).collect();
    assert_eq!(withdrawn, [(Family::IPV6_UNICAST, 1)]);
}

// RFC 7606 5.2: treat-as-withdraw with nothing announced resets.
#[test]
fn attribute_error_without_reachable_nlri_resets() {
    let d = decode(&body(&[8, 10], &[attr(0x40, 1, &[7])], &[]));
    assert_eq!(
        problems(&d),
        [
            (ProblemKind::UndefinedOrigin(7), T),
            (ProblemKind::NothingToWithdraw, R)
        ]
    );
    let n = reset_notification(&d);
    assert_eq!(
        n.kind,
        ErrorKind::Update(UpdateSubcode::InvalidOriginAttribute)
    );
    assert_eq!(
        d.withdrawn().count(),
        0,
        "nothing is acted on after a reset"
    );

    // An overrun in an UPDATE without NLRI: nothing can be located.
    let d = decode(&body(&[], &[origin(), vec![0x40, 2, 9]], &[]));
    assert!(matches!(d.verdict, Verdict::SessionReset(_)));

    // Attribute discard never escalates.
    let d = decode(&body(&[8, 10], &[attr(0x40, 6, &[1])], &[]));
    assert_eq!(d.verdict, Verdict::AttributesDiscarded);
}

// RFC 7606 3.g: a repeated attribute is dropped, the first one kept.
#[test]
fn duplicate_attribute_keeps_the_first() {
    assert_eq!(
        decode(&announce_with(attr(0x80, 4, &[0, 0, 0, 9]))).verdict,
        Verdict::Clean
    );
    let mut attrs = mandatory();
    attrs.push(attr(0x80, 4, &[0, 0, 0, 9]));
    attrs.push(attr(0x80, 4, &[0, 0, 0, 7]));
    let d = decode(&body(&[], &attrs, NLRI));
    expect(&d, ProblemKind::Duplicate(AttrType::MULTI_EXIT_DISC), D);
    assert_eq!(d.update.attributes.med, Some(9));
    assert_eq!(d.announced().count(), 1);
    // The first occurrence counts even when it was malformed.
    let mut attrs = mandatory();
    attrs.push(attr(0x80, 4, &[0, 0, 9]));
    attrs.push(attr(0x80, 4, &[0, 0, 0, 7]));
    let d = decode(&body(&[], &attrs, NLRI));
    assert_eq!(
        problems(&d),
        [
            (ProblemKind::Length(AttrType::MULTI_EXIT_DISC, 3), T),
            (ProblemKind::Duplicate(AttrType::MULTI_EXIT_DISC), D)
        ]
    );
    assert_eq!(d.verdict, Verdict::TreatAsWithdraw);
}

// RFC 7606 3.g: a repeated MP attribute resets.
#[test]
fn duplicate_mp_attribute_resets() {
    let unreach = attr(0x80, 15, &[0, 2, 1]);
    let d = decode(&body(&[], &[unreach.clone(), unreach], &[]));
    expect(&d, ProblemKind::DuplicateMp(AttrType::MP_UNREACH_NLRI), R);
    assert_eq!(
        reset_notification(&d).kind,
        ErrorKind::Update(UpdateSubcode::MalformedAttributeList)
    );
}

// RFC 7606 3.c: wrong optional/transitive bits, handled by each
// attribute's own rule.
#[test]
fn wrong_flags_follow_the_attribute_rule() {
    let mut attrs = mandatory();
    attrs[0] = attr(0xc0, 1, &[0]); // ORIGIN marked optional
    let d = decode(&body(&[], &attrs, NLRI));
    expect(
        &d,
        ProblemKind::Flags(AttrType::ORIGIN, crate::wire::AttrFlags(0xc0)),
        T,
    );
    assert_eq!(
        d.problems[0].notification.kind,
        ErrorKind::Update(UpdateSubcode::AttributeFlagsError)
    );
    assert_eq!(
        &d.problems[0].notification.data[..],
        [0xc0, 1, 1, 0].as_slice()
    );

    // AGGREGATOR marked well-known: discard (RFC 7606 7.7).
    let d = decode(&announce_with(attr(0x40, 7, &[0, 1, 1, 2, 3, 4])));
    expect(
        &d,
        ProblemKind::Flags(AttrType::AGGREGATOR, crate::wire::AttrFlags(0x40)),
        D,
    );

    // MED marked transitive: treat-as-withdraw (RFC 7606 7.4).
    let d = decode(&announce_with(attr(0xc0, 4, &[0, 0, 0, 1])));
    expect(
        &d,
        ProblemKind::Flags(AttrType::MULTI_EXIT_DISC, crate::wire::AttrFlags(0xc0)),
        T,
    );

    // MP_UNREACH_NLRI marked transitive: reset (RFC 7606 5.3).
    let d = decode(&body(&[], &[attr(0xc0, 15, &[0, 2, 1])], &[]));
    expect(
        &d,
        ProblemKind::Flags(AttrType::MP_UNREACH_NLRI, crate::wire::AttrFlags(0xc0)),
        R,
    );

    // The partial and extended length bits are no error.
    let d = decode(&announce_with(vec![0xf0, 8, 0, 4, 0, 0, 0, 1]));
    assert_eq!(d.verdict, Verdict::Clean);
}

// RFC 7606 3.d: missing mandatory attributes while routes are announced.
#[test]
fn missing_mandatory_attributes_treat_as_withdraw() {
    let d = decode(&body(&[], &[as_path(&[1]), next_hop([192, 0, 2, 1])], NLRI));
    expect(&d, ProblemKind::Missing(AttrType::ORIGIN), T);
    assert_eq!(
        d.problems[0].notification.kind,
        ErrorKind::Update(UpdateSubcode::MissingWellKnownAttribute)
    );
    assert_eq!(&d.problems[0].notification.data[..], [1].as_slice());

    let d = decode(&body(&[], &[origin(), next_hop([192, 0, 2, 1])], NLRI));
    expect(&d, ProblemKind::Missing(AttrType::AS_PATH), T);

    let d = decode(&body(&[], &[origin(), as_path(&[1])], NLRI));
    expect(&d, ProblemKind::Missing(AttrType::NEXT_HOP), T);

    // RFC 4760 3: MP_REACH_NLRI alone needs no NEXT_HOP.
    let mut mp = vec![0, 2, 1, 16];
    mp.extend_from_slice(&[
        0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 32, 0x20, 1, 0xd, 0xb8,
    ]);
    let d = decode(&body(
        &[],
        &[attr(0x80, 14, &mp), origin(), as_path(&[1])],
        &[],
    ));
    assert_eq!(d.verdict, Verdict::Clean);
    let d = decode(&body(&[], &[attr(0x80, 14, &mp), origin()], &[]));
    expect(&d, ProblemKind::Missing(AttrType::AS_PATH), T);

    // Withdrawals alone need nothing.
    assert_eq!(decode(&body(NLRI, &[], &[])).verdict, Verdict::Clean);
}

// RFC 7606 7.1: ORIGIN.
#[test]
fn malformed_origin() {
    let mut attrs = mandatory();
    attrs[0] = attr(0x40, 1, &[3]);
    expect(
        &decode(&body(&[], &attrs, NLRI)),
        ProblemKind::UndefinedOrigin(3),
        T,
    );
    attrs[0] = attr(0x40, 1, &[0, 0]);
    expect(
        &decode(&body(&[], &attrs, NLRI)),
        ProblemKind::Length(AttrType::ORIGIN, 2),
        T,
    );
    attrs[0] = attr(0x40, 1, &[]);
    expect(
        &decode(&body(&[], &attrs, NLRI)),
        ProblemKind::Length(AttrType::ORIGIN, 0),
        T,
    );
}

// RFC 7606 7.2 and RFC 7607 2: AS_PATH.
#[test]
fn malformed_as_path() {
    let cases: [(&[u8], AsPathError); 5] = [
        (&[2, 0], AsPathError::EmptySegment),
        (&[9, 1, 0, 1], AsPathError::UnknownSegmentType(9)),
        (&[2, 2, 0, 1], AsPathError::Truncated),
        (&[2, 1, 0, 1, 2], AsPathError::Truncated),
        (&[2, 1, 0, 0], AsPathError::ZeroAsn),
    ];
    for (value, error) in cases {
        let mut attrs = mandatory();
        attrs[1] = attr(0x40, 2, value);
        let d = decode(&body(&[], &attrs, NLRI));
        expect(&d, ProblemKind::AsPath(AttrType::AS_PATH, error), T);
        assert_eq!(
            d.problems[0].notification.kind,
            ErrorKind::Update(UpdateSubcode::MalformedAsPath)
        );
    }
    // A 2-octet path read on a 4-octet session has the wrong length.
    let d = decode_with(&body(&[], &mandatory(), NLRI), &four_octet());
    expect(
        &d,
        ProblemKind::AsPath(AttrType::AS_PATH, AsPathError::Truncated),
        T,
    );
}

// RFC 9774 3: AS_SET and AS_CONFED_SET are treated as withdrawn, also when
// the AS4_PATH merge brings one in; a withdrawal alone is unaffected.
#[test]
fn as_sets_treat_as_withdraw() {
    // AS_SET {1, 2} after AS_SEQUENCE 1; AS_CONFED_SET {1}.
    for value in [&[2u8, 1, 0, 1, 1, 2, 0, 1, 0, 2][..], &[4, 1, 0, 1][..]] {
        let mut attrs = mandatory();
        attrs[1] = attr(0x40, 2, value);
        let d = decode(&body(&[], &attrs, NLRI));
        expect(
            &d,
            ProblemKind::AsPath(AttrType::AS_PATH, AsPathError::SetSegment),
            T,
        );
        assert_eq!(d.announced().count(), 0);
        assert_eq!(
            d.problems[0].notification.kind,
            ErrorKind::Update(UpdateSubcode::MalformedAsPath)
        );
    }
    // AS_PATH 23456 with AS4_PATH holding a set, on a 2-octet session.
    let as4 = attr(0xc0, 17, &[1, 2, 0, 0, 0, 7, 0, 0, 0, 8]);
    let mut attrs = mandatory();
    attrs[1] = attr(0x40, 2, &[2, 1, 0x5b, 0xa0]);
    attrs.push(as4);
    let d = decode(&body(&[], &attrs, NLRI));
    expect(
        &d,
        ProblemKind::AsPath(AttrType::AS_PATH, AsPathError::SetSegment),
        T,
    );
}

// RFC 7606 7.3 and RFC 4271 6.3: NEXT_HOP.
#[test]
fn malformed_next_hop() {
    let mut attrs = mandatory();
    attrs[2] = attr(0x40, 3, &[192, 0, 2, 1, 0]);
    expect(
        &decode(&body(&[], &attrs, NLRI)),
        ProblemKind::Length(AttrType::NEXT_HOP, 5),
        T,
    );
    for bad in [
        [0, 0, 0, 0],
        [224, 0, 0, 5],
        [255, 255, 255, 255],
        [240, 0, 0, 1],
    ] {
        attrs[2] = next_hop(bad);
        let d = decode(&body(&[], &attrs, NLRI));
        expect(&d, ProblemKind::InvalidNextHop(Ipv4Addr::from(bad)), T);
        assert_eq!(
            d.problems[0].notification.kind,
            ErrorKind::Update(UpdateSubcode::InvalidNextHopAttribute)
        );
    }
    // Without NLRI-field routes the address is not judged (RFC 4760 3).
    let d = decode(&body(&[], &[next_hop([0, 0, 0, 0])], &[]));
    assert_eq!(d.verdict, Verdict::Clean);
}

// RFC 7606 7.4: MULTI_EXIT_DISC.
#[test]
fn malformed_med() {
    expect(
        &decode(&announce_with(attr(0x80, 4, &[0, 0, 1]))),
        ProblemKind::Length(AttrType::MULTI_EXIT_DISC, 3),
        T,
    );
}

// RFC 7606 7.5: LOCAL_PREF.
#[test]
fn local_pref_from_external_and_internal_peers() {
    let good = attr(0x40, 5, &[0, 0, 0, 100]);
    let d = decode(&announce_with(good.clone()));
    expect(&d, ProblemKind::InternalOnly(AttrType::LOCAL_PREF), D);
    assert_eq!(d.update.attributes.local_pref, None);
    assert_eq!(d.announced().count(), 1);
    let d = decode_with(&announce_with(good), &internal());
    assert_eq!(d.verdict, Verdict::Clean);
    assert_eq!(d.update.attributes.local_pref, Some(100));
    let d = decode_with(&announce_with(attr(0x40, 5, &[0, 100])), &internal());
    expect(&d, ProblemKind::Length(AttrType::LOCAL_PREF, 2), T);
}

// RFC 7606 7.6: ATOMIC_AGGREGATE.
#[test]
fn malformed_atomic_aggregate() {
    let d = decode(&announce_with(attr(0x40, 6, &[1])));
    expect(&d, ProblemKind::Length(AttrType::ATOMIC_AGGREGATE, 1), D);
    assert!(!d.update.attributes.atomic_aggregate);
    assert!(
        decode(&announce_with(attr(0x40, 6, &[])))
            .update
            .attributes
            .atomic_aggregate
    );
}

// RFC 7606 7.7 and RFC 7607 2: AGGREGATOR.
#[test]
fn malformed_aggregator() {
    let d = decode(&announce_with(attr(0xc0, 7, &[0, 1, 1, 2, 3, 4, 5])));
    expect(&d, ProblemKind::Length(AttrType::AGGREGATOR, 7), D);
    assert_eq!(d.update.attributes.aggregator, None);
    assert_eq!(d.announced().count(), 1);

    // 6 octets is right for 2-octet sessions only.
    let six = attr(0xc0, 7, &[0, 1, 1, 2, 3, 4]);
    assert_eq!(decode(&announce_with(six.clone())).verdict, Verdict::Clean);
    let mut attrs = vec![
        origin(),
        attr(0x40, 2, &[2, 1, 0, 0, 0, 1]),
        next_hop([192, 0, 2, 1]),
        six,
    ];
    let d = decode_with(&body(&[], &attrs, NLRI), &four_octet());
    expect(&d, ProblemKind::Length(AttrType::AGGREGATOR, 6), D);
    attrs[3] = attr(0xc0, 7, &[0, 0, 0, 1, 1, 2, 3, 4]);
    assert_eq!(
        decode_with(&body(&[], &attrs, NLRI), &four_octet()).verdict,
        Verdict::Clean
    );

    let d = decode(&announce_with(attr(0xc0, 7, &[0, 0, 1, 2, 3, 4])));
    expect(&d, ProblemKind::ZeroAggregatorAs(AttrType::AGGREGATOR), D);
}

// RFC 7606 7.8: COMMUNITIES.
#[test]
fn malformed_communities() {
    expect(
        &decode(&announce_with(attr(0xc0, 8, &[]))),
        ProblemKind::Length(AttrType::COMMUNITIES, 0),
        T,
    );
    let d = decode(&announce_with(attr(0xc0, 8, &[0, 0, 0, 1, 0])));
    expect(&d, ProblemKind::Length(AttrType::COMMUNITIES, 5), T);
    assert_eq!(
        d.problems[0].notification.kind,
        ErrorKind::Update(UpdateSubcode::OptionalAttributeError)
    );
}

// RFC 7606 7.9: ORIGINATOR_ID.
#[test]
fn originator_id_rules() {
    let good = attr(0x80, 9, &[10, 0, 0, 1]);
    expect(
        &decode(&announce_with(good.clone())),
        ProblemKind::InternalOnly(AttrType::ORIGINATOR_ID),
        D,
    );
    let d = decode_with(&announce_with(good), &internal());
    assert_eq!(
        d.update.attributes.originator_id,
        Some(Ipv4Addr::new(10, 0, 0, 1))
    );
    let d = decode_with(&announce_with(attr(0x80, 9, &[10, 0, 0])), &internal());
    expect(&d, ProblemKind::Length(AttrType::ORIGINATOR_ID, 3), T);
}

// RFC 7606 7.10: CLUSTER_LIST.
#[test]
fn cluster_list_rules() {
    let good = attr(0x80, 10, &[10, 0, 0, 1, 10, 0, 0, 2]);
    expect(
        &decode(&announce_with(good.clone())),
        ProblemKind::InternalOnly(AttrType::CLUSTER_LIST),
        D,
    );
    assert_eq!(
        decode_with(&announce_with(good), &internal())
            .update
            .attributes
            .cluster_list
            .len(),
        2
    );
    let d = decode_with(
        &announce_with(attr(0x80, 10, &[10, 0, 0, 1, 10, 0])),
        &internal(),
    );
    expect(&d, ProblemKind::Length(AttrType::CLUSTER_LIST, 6), T);
}

fn mp_reach_v6(nh_len: u8, nlri: &[u8]) -> Vec<u8> {
    let mut value = vec![0, 2, 1, nh_len];
    value.extend(std::iter::repeat_n(0x20, usize::from(nh_len)));
    value.push(0);
    value.extend_from_slice(nlri);
    attr(0x80, 14, &value)
}

// RFC 7606 7.11 and 5.3: MP_REACH_NLRI.
#[test]
fn malformed_mp_reach_resets() {
    let attrs = |mp| vec![mp, origin(), as_path(&[1])];
    let good = decode(&body(
        &[],
        &attrs(mp_reach_v6(16, &[32, 0x20, 1, 0xd, 0xb8])),
        &[],
    ));
    assert_eq!(good.verdict, Verdict::Clean);
    let ll = decode(&body(&[], &attrs(mp_reach_v6(32, &[])), &[]));
    assert_eq!(ll.verdict, Verdict::Clean);

    let d = decode(&body(&[], &attrs(mp_reach_v6(4, &[])), &[]));
    expect(
        &d,
        ProblemKind::Mp(AttrType::MP_REACH_NLRI, MpError::NextHopLength(4)),
        R,
    );
    let n = reset_notification(&d);
    assert_eq!(
        n.kind,
        ErrorKind::Update(UpdateSubcode::OptionalAttributeError)
    );
    assert_eq!(n.data[1], 14, "the data is the attribute");

    let d = decode(&body(&[], &attrs(mp_reach_v6(16, &[129])), &[]));
    expect(
        &d,
        ProblemKind::Mp(
            AttrType::MP_REACH_NLRI,
            MpError::Nlri(NlriError::PrefixTooLong(129)),
        ),
        R,
    );
    let d = decode(&body(&[], &attrs(mp_reach_v6(16, &[64, 0x20])), &[]));
    expect(
        &d,
        ProblemKind::Mp(AttrType::MP_REACH_NLRI, MpError::Nlri(NlriError::Truncated)),
        R,
    );
    let d = decode(&body(&[], &attrs(attr(0x80, 14, &[0, 2, 1, 0])), &[]));
    expect(
        &d,
        ProblemKind::Mp(AttrType::MP_REACH_NLRI, MpError::TooShort),
        R,
    );
    let d = decode(&body(&[], &attrs(attr(0x80, 14, &[0, 2, 1, 16, 0])), &[]));
    expect(
        &d,
        ProblemKind::Mp(AttrType::MP_REACH_NLRI, MpError::NextHopLength(16)),
        R,
    );
}

// RFC 7606 5.3: MP_UNREACH_NLRI.
#[test]
fn malformed_mp_unreach_resets() {
    let d = decode(&body(&[], &[attr(0x80, 15, &[0, 2])], &[]));
    expect(
        &d,
        ProblemKind::Mp(AttrType::MP_UNREACH_NLRI, MpError::TooShort),
        R,
    );
    let d = decode(&body(
        &[],
        &[attr(0x80, 15, &[0, 1, 1, 33, 1, 1, 1, 1, 1])],
        &[],
    ));
    expect(
        &d,
        ProblemKind::Mp(
            AttrType::MP_UNREACH_NLRI,
            MpError::Nlri(NlriError::PrefixTooLong(33)),
        ),
        R,
    );
}

// MP attributes of families the codec cannot read are dropped.
#[test]
fn unsupported_families_are_dropped() {
    let vpn = attr(
        0x80,
        14,
        &[0, 1, 128, 12, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0x70],
    );
    let d = decode(&body(&[], &[vpn, origin(), as_path(&[1])], &[]));
    let family = Family::new(crate::wire::family::Afi(1), crate::wire::family::Safi(128));
    expect(
        &d,
        ProblemKind::UnsupportedFamily(AttrType::MP_REACH_NLRI, family),
        D,
    );
    assert_eq!(d.update.mp_reach, None);
    let d = decode(&body(&[], &[attr(0x80, 15, &[0, 1, 128, 0x70, 1])], &[]));
    expect(
        &d,
        ProblemKind::UnsupportedFamily(AttrType::MP_UNREACH_NLRI, family),
        D,
    );
}

// RFC 7606 7.14: EXTENDED COMMUNITIES.
#[test]
fn malformed_extended_communities() {
    expect(
        &decode(&announce_with(attr(0xc0, 16, &[0, 2, 0, 0]))),
        ProblemKind::Length(AttrType::EXTENDED_COMMUNITIES, 4),
        T,
    );
    // Unknown types are no error.
    let d = decode(&announce_with(attr(
        0xc0,
        16,
        &[0x8f, 0xee, 1, 2, 3, 4, 5, 6],
    )));
    assert_eq!(d.verdict, Verdict::Clean);
}

// RFC 8092 5, 6: LARGE_COMMUNITY.
#[test]
fn large_community_rules() {
    let d = decode(&announce_with(attr(0xc0, 32, &[0; 13])));
    expect(&d, ProblemKind::Length(AttrType::LARGE_COMMUNITY, 13), T);
    let one = [0, 0, 0xfd, 0xe9, 0, 0, 0, 1, 0, 0, 0, 2];
    let d = decode(&announce_with(attr(0xc0, 32, &[one, one].concat())));
    assert_eq!(d.verdict, Verdict::Clean);
    assert_eq!(
        d.update.attributes.large_communities.len(),
        1,
        "duplicates are removed"
    );
}

// RFC 6793 6: malformed AS4_PATH / AS4_AGGREGATOR are discarded.
#[test]
fn malformed_as4_attributes_are_discarded() {
    let d = decode(&announce_with(attr(0xc0, 17, &[2, 2, 0, 0, 0, 1])));
    expect(
        &d,
        ProblemKind::AsPath(AttrType::AS4_PATH, AsPathError::Truncated),
        D,
    );
    assert_eq!(d.announced().count(), 1);
    let d = decode(&announce_with(attr(0xc0, 18, &[0, 0, 0, 1, 1, 1, 1])));
    expect(&d, ProblemKind::Length(AttrType::AS4_AGGREGATOR, 7), D);
    let d = decode(&announce_with(attr(0xc0, 18, &[0, 0, 0, 0, 1, 1, 1, 1])));
    expect(
        &d,
        ProblemKind::ZeroAggregatorAs(AttrType::AS4_AGGREGATOR),
        D,
    );
}

// RFC 6793 3: AS4 attributes between 4-octet speakers are discarded.
#[test]
fn as4_attributes_on_4_octet_sessions_are_discarded() {
    let attrs = vec![
        origin(),
        attr(0x40, 2, &[2, 1, 0, 0, 0, 1]),
        next_hop([192, 0, 2, 1]),
        attr(0xc0, 17, &[2, 1, 0, 0, 0, 9]),
    ];
    let d = decode_with(&body(&[], &attrs, NLRI), &four_octet());
    expect(&d, ProblemKind::UnexpectedAs4(AttrType::AS4_PATH), D);
    assert_eq!(
        d.update.attributes.as_path.as_ref().unwrap().first_as(),
        Some(1)
    );
}

// RFC 6793 4.2.3 in the decoder: merge, and the AGGREGATOR rule.
#[test]
fn as4_merge_on_2_octet_sessions() {
    let attrs = vec![
        origin(),
        as_path(&[100, 23456]),
        next_hop([192, 0, 2, 1]),
        attr(0xc0, 7, &[0x5b, 0xa0, 1, 2, 3, 4]),
        attr(0xc0, 17, &[2, 1, 0xfa, 0x56, 0xea, 0x01]),
        attr(0xc0, 18, &[0xfa, 0x56, 0xea, 0x02, 1, 2, 3, 4]),
    ];
    let d = decode(&body(&[], &attrs, NLRI));
    assert_eq!(d.verdict, Verdict::Clean);
    let a = &d.update.attributes;
    assert_eq!(
        a.as_path,
        Some(crate::wire::AsPath::from_sequence([100, 4_200_000_001]))
    );
    assert_eq!(a.aggregator.unwrap().asn, 4_200_000_002);

    // AGGREGATOR not AS_TRANS: both AS4 attributes are ignored.
    let mut attrs = attrs;
    attrs[3] = attr(0xc0, 7, &[0, 7, 1, 2, 3, 4]);
    let d = decode(&body(&[], &attrs, NLRI));
    assert_eq!(
        d.update.attributes.as_path,
        Some(crate::wire::AsPath::from_sequence([100, 23456]))
    );
    assert_eq!(d.update.attributes.aggregator.unwrap().asn, 7);
}

// RFC 4271 6.3: an unrecognized well-known attribute resets; unknown
// optional ones are kept for propagation.
#[test]
fn unknown_attributes() {
    let d = decode(&announce_with(attr(0x40, 99, &[1])));
    expect(&d, ProblemKind::UnrecognizedWellKnown(AttrType(99)), R);
    assert_eq!(
        reset_notification(&d).kind,
        ErrorKind::Update(UpdateSubcode::UnrecognizedWellKnownAttribute)
    );
    assert_eq!(
        &reset_notification(&d).data[..],
        [0x40, 99, 1, 1].as_slice()
    );

    let d = decode(&announce_with(attr(0xc0, 99, &[1, 2])));
    assert_eq!(d.verdict, Verdict::Clean);
    let raw = &d.update.attributes.unknown[0];
    assert_eq!(
        (raw.type_code(), &raw.value()[..]),
        (AttrType(99), [1u8, 2].as_slice())
    );
    assert_eq!(raw.propagated().unwrap().flags().0, 0xe0);
}

// RFC 7606 3.h: the strongest approach wins.
#[test]
fn the_strongest_action_wins() {
    let mut attrs = mandatory();
    attrs.push(attr(0x40, 6, &[1])); // discard
    attrs.push(attr(0xc0, 8, &[1])); // treat-as-withdraw
    let d = decode(&body(&[], &attrs, NLRI));
    assert_eq!(
        problems(&d),
        [
            (ProblemKind::Length(AttrType::ATOMIC_AGGREGATE, 1), D),
            (ProblemKind::Length(AttrType::COMMUNITIES, 1), T)
        ]
    );
    assert_eq!(d.verdict, Verdict::TreatAsWithdraw);

    attrs.push(attr(0x80, 15, &[0]));
    let d = decode(&body(&[], &attrs, NLRI));
    assert_eq!(d.problems.len(), 3);
    assert!(matches!(d.verdict, Verdict::SessionReset(_)));
    assert_eq!(
        reset_notification(&d).kind,
        ErrorKind::Update(UpdateSubcode::OptionalAttributeError)
    );
}

#[test]
fn decoded_attributes() {
    let d = decode(&announce_with(attr(0x80, 4, &[0, 0, 0, 5])));
    let a = &d.update.attributes;
    assert_eq!(a.origin, Some(Origin::Igp));
    assert_eq!(a.med, Some(5));
    assert_eq!(d.update.next_hop, Some(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(d.problems.first().map(|p| p.kind.attribute()), None);
    assert_eq!(
        ProblemKind::UndefinedOrigin(9).attribute(),
        Some(AttrType::ORIGIN)
    );
    assert_eq!(
        ProblemKind::Duplicate(AttrType::MULTI_EXIT_DISC).to_string(),
        "duplicate MULTI_EXIT_DISC"
    );
}
