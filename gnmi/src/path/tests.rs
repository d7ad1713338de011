//! Path tests: text form, and schema conversion against a small inline
//! schema (always available) and against ocbgp's embedded schema.

use std::collections::HashMap;
use std::sync::OnceLock;

use tonic::Code;
use yang2::context::{Context, ContextFlags, EmbeddedModuleKey, EmbeddedModules};
use yang2::data::{Data, DataTree};

use super::*;

const T_BASE: &str = r#"
module t-base {
  yang-version 1.1;
  namespace "urn:t-base";
  prefix tb;
  identity PROTO;
  identity BGP { base PROTO; }
  container top {
    list item {
      key "name";
      leaf name { type leafref { path "../config/name"; } }
      container config { leaf name { type string; } }
    }
    list proto {
      key "identifier name";
      leaf identifier { type leafref { path "../config/identifier"; } }
      leaf name { type leafref { path "../config/name"; } }
      container config {
        leaf identifier { type identityref { base PROTO; } }
        leaf name { type string; }
      }
    }
    list log { config false; leaf msg { type string; } }
    choice mode {
      case a { leaf alpha { type string; } }
      case b { leaf beta { type string; } }
    }
    leaf-list tags { type string; }
  }
}
"#;

const T_EXT: &str = r#"
module t-ext {
  yang-version 1.1;
  namespace "urn:t-ext";
  prefix te;
  import t-base { prefix tb; }
  identity OSPF { base tb:PROTO; }
  augment "/tb:top/tb:item" { container extra { leaf x { type string; } } }
  augment "/tb:top" { container shared { leaf y { type string; } } }
}
"#;

const T_CLASH: &str = r#"
module t-clash {
  yang-version 1.1;
  namespace "urn:t-clash";
  prefix tc;
  import t-base { prefix tb; }
  augment "/tb:top" { container shared { leaf z { type string; } } }
}
"#;

/// A context with the three test modules.
fn test_ctx() -> &'static Context {
    static CTX: OnceLock<Context> = OnceLock::new();
    static MODULES: OnceLock<EmbeddedModules> = OnceLock::new();
    CTX.get_or_init(|| {
        let modules = MODULES.get_or_init(|| {
            let mut map = HashMap::new();
            for (name, text) in [("t-base", T_BASE), ("t-ext", T_EXT), ("t-clash", T_CLASH)] {
                map.insert(EmbeddedModuleKey::new(name, None, None, None), text);
            }
            map
        });
        let mut ctx = Context::new(
            ContextFlags::ALL_IMPLEMENTED
                | ContextFlags::DISABLE_SEARCHDIRS
                | ContextFlags::NO_YANGLIBRARY,
        )
        .expect("context");
        ctx.set_embedded_modules(modules);
        for name in ["t-base", "t-ext", "t-clash"] {
            ctx.load_module(name, None, &[]).expect("test module loads");
        }
        ctx
    })
}

fn p(text: &str) -> Path {
    parse_text(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn data(ctx: &Context, text: &str) -> Result<String, PathError> {
    to_data_path(ctx, None, &p(text))
}

fn xpath(ctx: &Context, text: &str) -> Result<String, PathError> {
    to_xpath(ctx, None, &p(text))
}

fn back(ctx: &Context, data_path: &str) -> String {
    to_text(&from_data_path(ctx, data_path).unwrap_or_else(|e| panic!("{data_path}: {e}")))
}

// ---- text form ----

#[test]
fn text_round_trips() {
    for text in [
        "/top/item[name=a]/config/name",
        "/a/b[k1=v1][k2=v2]/c",
        "openconfig:/network-instances",
        "/",
        "/interfaces/interface[name=Ethernet1/2]/state",
        "/a/*/b[k=*]/.../c",
        "/a/mod:b",
    ] {
        assert_eq!(to_text(&p(text)), text);
    }
}

#[test]
fn text_parses_elements_and_keys() {
    let path = p("/interfaces/interface[name=Ethernet1/2/3]/state");
    let names: Vec<&str> = path.elem.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["interfaces", "interface", "state"]);
    assert_eq!(path.elem[1].key["name"], "Ethernet1/2/3");
    assert_eq!(path.origin, "");

    let rel = p("config/name");
    assert_eq!(rel.elem.len(), 2);
    assert!(p("").elem.is_empty());
    assert!(p("/").elem.is_empty());
    assert_eq!(p("/a/b/").elem.len(), 2);
    assert_eq!(p("rfc7951:/a").origin, "rfc7951");
    assert_eq!(p("openconfig:").origin, "openconfig");
}

#[test]
fn text_escapes_key_values() {
    let path = p(r"/a/b[k=x\]y\\z\nw]");
    assert_eq!(path.elem[1].key["k"], "x]y\\z\nw");
    assert_eq!(to_text(&path), r"/a/b[k=x\]y\\z\nw]");
    // Other characters, '[' and '=' included, need no escape.
    assert_eq!(p("/a[k=x[y=z]").elem[0].key["k"], "x[y=z");
}

#[test]
fn text_sorts_keys() {
    assert_eq!(to_text(&p("/a[z=1][b=2]")), "/a[b=2][z=1]");
}

#[test]
fn malformed_text_is_invalid_argument() {
    for text in [
        "/a[k=v", "/a//b", "/a[=v]", "/a[k]", "/a]b", "/a b", "//", "/a[k=v]x", "/1a", r"/a[k=v\",
        "/m:*", "/a:b:c",
    ] {
        let err = parse_text(text).expect_err(text);
        assert!(
            matches!(err, PathError::Malformed { .. }),
            "{text}: {err:?}"
        );
        assert_eq!(err.code(), Code::InvalidArgument);
        assert_eq!(tonic::Status::from(err).code(), Code::InvalidArgument);
    }
    let err = parse_text("/a[k=1][k=2]").unwrap_err();
    assert!(matches!(err, PathError::Malformed { .. }));
}

#[test]
fn deprecated_element_field_is_read() {
    #[allow(deprecated)]
    let path = Path {
        element: vec!["top".into(), "item[name=a]".into()],
        ..Default::default()
    };
    assert_eq!(data(test_ctx(), "/").unwrap(), "/");
    assert_eq!(
        to_data_path(test_ctx(), None, &path).unwrap(),
        "/t-base:top/item[name='a']"
    );
}

// ---- gNMI path to libyang path, inline schema ----

#[test]
fn qualifies_first_element_and_module_changes() {
    let ctx = test_ctx();
    assert_eq!(
        data(ctx, "/top/item[name=a]/config/name").unwrap(),
        "/t-base:top/item[name='a']/config/name"
    );
    assert_eq!(
        data(ctx, "/top/item[name=a]/extra/x").unwrap(),
        "/t-base:top/item[name='a']/t-ext:extra/x"
    );
    // Client-qualified elements are accepted, redundant or not.
    assert_eq!(
        data(ctx, "/t-base:top/item[name=a]/t-ext:extra").unwrap(),
        "/t-base:top/item[name='a']/t-ext:extra"
    );
    // Choice and case do not appear in data paths.
    assert_eq!(data(ctx, "/top/alpha").unwrap(), "/t-base:top/alpha");
    assert_eq!(data(ctx, "/").unwrap(), "/");
}

#[test]
fn same_name_from_two_modules_needs_qualification() {
    let ctx = test_ctx();
    let err = data(ctx, "/top/shared").unwrap_err();
    assert!(
        matches!(&err, PathError::Ambiguous { modules, .. } if modules == &["t-clash", "t-ext"]),
        "{err:?}"
    );
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        data(ctx, "/top/t-clash:shared/z").unwrap(),
        "/t-base:top/t-clash:shared/z"
    );
    assert_eq!(
        data(ctx, "/top/t-ext:shared/y").unwrap(),
        "/t-base:top/t-ext:shared/y"
    );
}

#[test]
fn identity_keys_get_their_module() {
    let ctx = test_ctx();
    assert_eq!(
        data(ctx, "/top/proto[identifier=BGP][name=b]").unwrap(),
        "/t-base:top/proto[identifier='t-base:BGP'][name='b']"
    );
    assert_eq!(
        data(ctx, "/top/proto[name=b][identifier=OSPF]/config").unwrap(),
        "/t-base:top/proto[identifier='t-ext:OSPF'][name='b']/config"
    );
    // Already qualified values are kept.
    assert_eq!(
        data(ctx, "/top/proto[identifier=t-ext:OSPF][name=b]").unwrap(),
        "/t-base:top/proto[identifier='t-ext:OSPF'][name='b']"
    );
}

#[test]
fn key_values_are_quoted() {
    let ctx = test_ctx();
    assert_eq!(
        data(ctx, "/top/item[name=it's]").unwrap(),
        "/t-base:top/item[name=\"it's\"]"
    );
    assert_eq!(
        data(ctx, "/top/item[name=say \"hi\"]").unwrap(),
        "/t-base:top/item[name='say \"hi\"']"
    );
    let err = data(ctx, "/top/item[name=it's \"x\"]").unwrap_err();
    assert!(matches!(err, PathError::Unrepresentable { .. }), "{err:?}");
    let mut path = p("/top/item[name=a]");
    path.elem[1].key.insert("name".into(), "a\0b".into());
    let err = to_data_path(ctx, None, &path).unwrap_err();
    assert!(matches!(err, PathError::Unrepresentable { .. }), "{err:?}");
}

#[test]
fn unknown_elements_are_not_found() {
    let ctx = test_ctx();
    for text in [
        "/nope",
        "/top/nope",
        "/top/item[name=a]/config/nope",
        "/t-ext:top",
        "/top/item[name=a]/config/name/deeper",
    ] {
        let err = data(ctx, text).expect_err(text);
        assert!(matches!(err, PathError::NotFound { .. }), "{text}: {err:?}");
        assert_eq!(err.code(), Code::NotFound);
        assert_eq!(tonic::Status::from(err).code(), Code::NotFound);
    }
    let err = data(ctx, "/top/nope").unwrap_err();
    assert_eq!(
        err,
        PathError::NotFound {
            path: "/top".into(),
            name: "nope".into()
        }
    );
}

#[test]
fn bad_keys_are_invalid_argument() {
    let ctx = test_ctx();
    for text in [
        "/top/item[nam=a]",
        "/top[k=v]",
        "/top/item[name=a]/config[name=x]",
        "/top/*[k=v]",
    ] {
        let err = xpath(ctx, text).expect_err(text);
        assert!(matches!(err, PathError::BadKey { .. }), "{text}: {err:?}");
        assert_eq!(err.code(), Code::InvalidArgument);
    }
}

#[test]
fn wildcards_are_refused_for_one_node() {
    let ctx = test_ctx();
    for text in [
        "/top/item",
        "/top/item[name=*]",
        "/top/*",
        "/.../name",
        "/top/proto[name=b]",
        "/top/log",
    ] {
        let err = data(ctx, text).expect_err(text);
        assert!(matches!(err, PathError::Wildcard { .. }), "{text}: {err:?}");
        assert_eq!(err.code(), Code::InvalidArgument);
    }
    assert!(has_wildcards(&p("/top/item[name=*]")));
    assert!(has_wildcards(&p("/top/.../x")));
    assert!(!has_wildcards(&p("/top/item[name=a]")));
}

#[test]
fn wildcards_become_xpath() {
    let ctx = test_ctx();
    assert_eq!(xpath(ctx, "/").unwrap(), "/*");
    assert_eq!(xpath(ctx, "/top/item").unwrap(), "/t-base:top/item");
    assert_eq!(
        xpath(ctx, "/top/item[name=*]/extra").unwrap(),
        "/t-base:top/item/t-ext:extra"
    );
    assert_eq!(
        xpath(ctx, "/top/proto[identifier=BGP]/config").unwrap(),
        "/t-base:top/proto[identifier='t-base:BGP']/config"
    );
    // After a wildcard the parent module is unknown: qualify again.
    assert_eq!(
        xpath(ctx, "/top/*/config/name").unwrap(),
        "/t-base:top/*/t-base:config/name"
    );
    assert_eq!(xpath(ctx, "/.../x").unwrap(), "//t-ext:x");
    assert_eq!(xpath(ctx, "/top/...").unwrap(), "/t-base:top");
    assert_eq!(
        xpath(ctx, "/top/.../config/name").unwrap(),
        "/t-base:top//t-base:config/name"
    );
    assert!(matches!(
        xpath(ctx, "/top/*/nope"),
        Err(PathError::NotFound { .. })
    ));
    // The queries are valid libyang XPath.
    let mut tree = DataTree::new(ctx);
    tree.new_path("/t-base:top/item[name='a']/t-ext:extra/x", Some("1"), false)
        .unwrap();
    for text in [
        "/",
        "/top/item[name=*]/extra",
        "/top/*/config/name",
        "/.../x",
        "/top/.../config/name",
    ] {
        let query = xpath(ctx, text).unwrap();
        tree.find_xpath(&query)
            .unwrap_or_else(|e| panic!("{query}: {e}"));
    }
}

#[test]
fn origins() {
    let ctx = test_ctx();
    assert_eq!(
        data(ctx, "openconfig:/top/alpha").unwrap(),
        "/t-base:top/alpha"
    );
    assert_eq!(data(ctx, "t-base:/top/alpha").unwrap(), "/t-base:top/alpha");
    assert_eq!(
        data(ctx, "rfc7951:/t-base:top/alpha").unwrap(),
        "/t-base:top/alpha"
    );
    let err = data(ctx, "cli:/top").unwrap_err();
    assert_eq!(err, PathError::UnsupportedOrigin("cli".into()));
    assert!(matches!(
        data(ctx, "t-ext:/top"),
        Err(PathError::NotFound { .. })
    ));
    let err = to_data_path(ctx, Some(&p("openconfig:/top")), &p("t-base:/alpha")).unwrap_err();
    assert!(matches!(err, PathError::OriginMismatch { .. }), "{err:?}");
}

#[test]
fn prefix_and_path_are_joined() {
    let ctx = test_ctx();
    let mut prefix = p("openconfig:/top/item[name=a]");
    prefix.target = "r1".into();
    let joined = join(Some(&prefix), &p("config/name")).unwrap();
    assert_eq!(to_text(&joined), "openconfig:/top/item[name=a]/config/name");
    assert_eq!(joined.target, "r1");
    assert_eq!(
        to_data_path(ctx, Some(&prefix), &p("extra/x")).unwrap(),
        "/t-base:top/item[name='a']/t-ext:extra/x"
    );
    assert_eq!(
        to_data_path(ctx, None, &p("top/alpha")).unwrap(),
        "/t-base:top/alpha"
    );
}

#[test]
fn data_paths_are_accepted_by_libyang() {
    let ctx = test_ctx();
    let mut tree = DataTree::new(ctx);
    for (text, value) in [
        ("/top/item[name=it's]/config/name", Some("it's")),
        ("/top/item[name=a]/extra/x", Some("1")),
        ("/top/proto[identifier=OSPF][name=b]/config/name", Some("b")),
        ("/top/t-clash:shared/z", Some("2")),
    ] {
        let path = data(ctx, text).unwrap();
        tree.new_path(&path, value, false)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}

// ---- libyang path to gNMI path, inline schema ----

#[test]
fn data_paths_convert_back() {
    let ctx = test_ctx();
    assert_eq!(
        back(ctx, "/t-base:top/item[name='a']/t-ext:extra/x"),
        "/top/item[name=a]/extra/x"
    );
    assert_eq!(
        back(ctx, "/t-base:top/t-clash:shared/z"),
        "/top/t-clash:shared/z"
    );
    assert_eq!(
        back(
            ctx,
            "/t-base:top/proto[identifier='t-ext:OSPF'][name=\"b\"]"
        ),
        "/top/proto[identifier=OSPF][name=b]"
    );
    assert_eq!(
        back(ctx, "/t-base:top/item[name=\"it's\"]"),
        "/top/item[name=it's]"
    );
    assert_eq!(back(ctx, "/"), "/");
    for text in [
        "/top/item[name=a]/config/name",
        "/top/item[name=a]/extra/x",
        "/top/proto[identifier=BGP][name=b]/config",
        "/top/t-ext:shared/y",
        "/top/alpha",
    ] {
        assert_eq!(back(ctx, &data(ctx, text).unwrap()), text);
    }
    // Paths that libyang prints for real data come back too.
    let mut tree = DataTree::new(ctx);
    let node = tree
        .new_path(
            "/t-base:top/proto[identifier='t-ext:OSPF'][name='b']/config/name",
            Some("b"),
            false,
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        back(ctx, &node.path()),
        "/top/proto[identifier=OSPF][name=b]/config/name"
    );
}

#[test]
fn bad_data_paths_are_refused() {
    let ctx = test_ctx();
    type Check = fn(&PathError) -> bool;
    let cases: [(&str, Check); 7] = [
        ("top", |e| matches!(e, PathError::Malformed { .. })),
        ("/top", |e| matches!(e, PathError::Malformed { .. })),
        ("/t-base:top/log[1]", |e| {
            matches!(e, PathError::Unrepresentable { .. })
        }),
        ("/t-base:top/tags[.='x']", |e| {
            matches!(e, PathError::Unrepresentable { .. })
        }),
        ("/t-base:top/nope", |e| {
            matches!(e, PathError::NotFound { .. })
        }),
        ("/t-base:top/item[nam='a']", |e| {
            matches!(e, PathError::BadKey { .. })
        }),
        ("/t-base:top/item[name='a]", |e| {
            matches!(e, PathError::Malformed { .. })
        }),
    ];
    for (text, check) in cases {
        let err = from_data_path(ctx, text).expect_err(text);
        assert!(check(&err), "{text}: {err:?}");
    }
}

// ---- ocbgp's embedded schema ----

#[test]
fn openconfig_bgp_paths() {
    let ctx = ocbgp_models::schema::context();
    let path = data(ctx, "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp/global/config/as").unwrap();
    assert_eq!(
        path,
        "/openconfig-network-instance:network-instances/network-instance[name='DEFAULT']/protocols/\
         protocol[identifier='openconfig-policy-types:BGP'][name='BGP']/bgp/global/config/as"
    );
    let mut tree = DataTree::new(ctx);
    tree.new_path(&path, Some("65001"), false)
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(
        back(ctx, &path),
        "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp/global/config/as"
    );
}

#[test]
fn openconfig_bgp_policy_augment_is_qualified() {
    let ctx = ocbgp_models::schema::context();
    let text = "/routing-policy/defined-sets/bgp-defined-sets/community-sets/community-set[community-set-name=X]";
    let path = data(ctx, text).unwrap();
    assert_eq!(
        path,
        "/openconfig-routing-policy:routing-policy/defined-sets/openconfig-bgp-policy:bgp-defined-sets/\
         community-sets/community-set[community-set-name='X']"
    );
    assert_eq!(back(ctx, &path), text);
    let mut tree = DataTree::new(ctx);
    tree.new_path(
        &format!("{path}/config/community-set-name"),
        Some("X"),
        false,
    )
    .unwrap_or_else(|e| panic!("{path}: {e}"));
}

#[test]
fn ocbgp_augment_is_qualified() {
    let ctx = ocbgp_models::schema::context();
    let text = "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp/global/listen/config/port";
    let path = data(ctx, text).unwrap();
    assert!(
        path.ends_with("/bgp/global/ocbgp:listen/config/port"),
        "{path}"
    );
    assert_eq!(back(ctx, &path), text);
    let err = data(
        ctx,
        "/network-instances/network-instance[name=DEFAULT]/nope",
    )
    .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}
