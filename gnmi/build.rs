//! Generates the gNMI (and gNOI BGP) messages, servers and clients from `proto/` without a
//! system `protoc`: protox parses the files, tonic-prost-build emits Rust.

use std::path::PathBuf;

const PROTOS: [&str; 4] = [
    "gnmi.proto",
    "gnmi_ext.proto",
    "gnoi_bgp.proto",
    "ocbgp_ext.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("proto");
    for file in PROTOS {
        println!("cargo:rerun-if-changed={}", dir.join(file).display());
    }
    let fds = protox::compile(PROTOS, [&dir])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // Ordered key maps: deterministic path text and key order.
        .btree_map(".")
        .compile_fds(fds)?;
    Ok(())
}
