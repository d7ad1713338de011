use yang2::schema::SchemaNodeKind;
fn main() {
    let ctx = ocbgp_models::schema::context();
    let n = ctx.find_path("/openconfig-network-instance:network-instances/network-instance/protocols/protocol/bgp/neighbors/neighbor").unwrap();
    for s in n.traverse() {
        if matches!(s.kind(), SchemaNodeKind::Leaf | SchemaNodeKind::LeafList) && !s.is_config() {
            let t = s.leaf_type().unwrap();
            println!("{} {:?} {:?}", s.path(yang2::schema::SchemaPathFormat::DATA).replace("/openconfig-network-instance:network-instances/network-instance/protocols/protocol/bgp/neighbors/neighbor", ""), t.base_type(), t.typedef_name());
        }
    }
}
