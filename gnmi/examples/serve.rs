//! Runs the gNMI server alone, for trying clients against it:
//! `cargo run -p ocbgp-gnmi --example serve -- 127.0.0.1:50051` (Ctrl-C stops).

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .as_deref()
        .unwrap_or("127.0.0.1:50051")
        .parse()?;
    ocbgp_gnmi::serve(addr, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
