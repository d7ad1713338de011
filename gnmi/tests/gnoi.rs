//! gNOI BGP ClearBGPNeighbor on the gNMI server: requests reach the
//! speaker's `BgpControl` with the right mode, errors map to gRPC codes,
//! and the gNMI server's authentication applies.

mod common;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use common::{TempDir, START};
use ocbgp_gnmi::proto::gnoi_bgp::bgp_client::BgpClient;
use ocbgp_gnmi::proto::gnoi_bgp::clear_bgp_neighbor_request::Mode;
use ocbgp_gnmi::proto::gnoi_bgp::ClearBgpNeighborRequest;
use ocbgp_gnmi::{Authenticator, BgpControl, ClearError, ClearMode, GnmiServerConfig, GnmiService};
use ocbgp_models::config::{Config, Encoding};
use ocbgp_models::datastore::{Datastore, Options};
use tonic::metadata::MetadataValue;
use tonic::{Code, Request};

/// Records clears; knows one neighbor.
#[derive(Default)]
struct Recorder(Mutex<Vec<(IpAddr, ClearMode)>>);

impl BgpControl for Recorder {
    fn clear_neighbor(&self, address: IpAddr, mode: ClearMode) -> Result<(), ClearError> {
        if address != "192.0.2.2".parse::<IpAddr>().unwrap() {
            return Err(ClearError::UnknownNeighbor(address));
        }
        self.0.lock().unwrap().push((address, mode));
        Ok(())
    }
}

fn request(
    address: &str,
    mode: Mode,
    login: Option<(&str, &str)>,
) -> Request<ClearBgpNeighborRequest> {
    let mut r = Request::new(ClearBgpNeighborRequest {
        address: address.into(),
        routing_instance: String::new(),
        mode: mode as i32,
    });
    if let Some((u, p)) = login {
        r.metadata_mut()
            .insert("username", MetadataValue::try_from(u).unwrap());
        r.metadata_mut()
            .insert("password", MetadataValue::try_from(p).unwrap());
    }
    r
}

#[tokio::test]
async fn clear_neighbor_reaches_the_speaker() {
    let dir = TempDir::new("gnoi");
    let config = Config::parse(START, Encoding::Json).unwrap();
    let (store, _) = Datastore::open(Options::new(&dir.0), config, false).unwrap();
    let recorder = Arc::new(Recorder::default());
    let users: Arc<dyn Authenticator> = Arc::new(|u: &str, p: &str| u == "ops" && p == "pw");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = GnmiService::new(Arc::new(store)).with_bgp_control(recorder.clone());
    let config = GnmiServerConfig {
        addr,
        tls: None,
        tls_client_ca: None,
        users: Some(users),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(ocbgp_gnmi::serve_listener(
        service,
        listener,
        config,
        async {
            let _ = stopped.await;
        },
    ));

    let channel = ocbgp_gnmi::channel(&addr.to_string(), None).await.unwrap();
    let mut client = BgpClient::new(channel);
    let login = Some(("ops", "pw"));
    for mode in [Mode::Soft, Mode::Softin, Mode::Hard] {
        client
            .clear_bgp_neighbor(request("192.0.2.2", mode, login))
            .await
            .unwrap();
    }
    let a: IpAddr = "192.0.2.2".parse().unwrap();
    assert_eq!(
        *recorder.0.lock().unwrap(),
        vec![
            (a, ClearMode::Soft),
            (a, ClearMode::SoftIn),
            (a, ClearMode::Hard)
        ]
    );

    let code = |r: Result<_, tonic::Status>| r.map(|_| ()).unwrap_err().code();
    assert_eq!(
        code(
            client
                .clear_bgp_neighbor(request("192.0.2.9", Mode::Hard, login))
                .await
        ),
        Code::NotFound
    );
    assert_eq!(
        code(
            client
                .clear_bgp_neighbor(request("nope", Mode::Hard, login))
                .await
        ),
        Code::InvalidArgument
    );
    assert_eq!(
        code(
            client
                .clear_bgp_neighbor(request("192.0.2.2", Mode::Hard, None))
                .await
        ),
        Code::Unauthenticated
    );
    assert_eq!(
        code(
            client
                .clear_bgp_neighbor(request("192.0.2.2", Mode::Hard, Some(("ops", "bad"))))
                .await
        ),
        Code::Unauthenticated
    );
    let mut r = request("192.0.2.2", Mode::Hard, login);
    r.get_mut().routing_instance = "RED".into();
    assert_eq!(code(client.clear_bgp_neighbor(r).await), Code::NotFound);
    assert_eq!(
        recorder.0.lock().unwrap().len(),
        3,
        "refused requests reached the speaker"
    );

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
