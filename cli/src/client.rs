//! The connection to ocbgpd: gNMI and gNOI clients on one channel, TLS and
//! credentials, and errors worded for the operator.

use std::path::PathBuf;
use std::time::Duration;

use ocbgp_gnmi::proto::gnmi::get_request::DataType;
use ocbgp_gnmi::proto::gnmi::gnmi_client::GnmiClient;
use ocbgp_gnmi::proto::gnmi::subscribe_request::Request as SubRequest;
pub use ocbgp_gnmi::proto::gnmi::subscribe_response::Response;
use ocbgp_gnmi::proto::gnmi::subscription_list::Mode as ListMode;
use ocbgp_gnmi::proto::gnmi::typed_value::Value as Typed;
use ocbgp_gnmi::proto::gnmi::{
    Encoding, GetRequest, GetResponse, Path, PathElem, SetRequest, SetResponse, SubscribeRequest,
    SubscribeResponse, Subscription, SubscriptionList, SubscriptionMode, TypedValue, Update,
};
use ocbgp_gnmi::proto::gnoi_bgp::bgp_client::BgpClient;
use ocbgp_gnmi::proto::gnoi_bgp::clear_bgp_neighbor_request::Mode as ClearMode;
use ocbgp_gnmi::proto::gnoi_bgp::ClearBgpNeighborRequest;
use serde_json::Value;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Request, Status, Streaming};

/// How long a unary call (Get, Set, gNOI) may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the daemon is and how to log in (the global options).
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectOptions {
    /// gNMI address of ocbgpd (host:port).
    #[arg(
        long,
        short = 't',
        global = true,
        default_value = "127.0.0.1:9339",
        env = "OCBGP_TARGET"
    )]
    pub target: String,

    /// PEM file of the CA that signed ocbgpd's certificate: connect with TLS.
    #[arg(long, global = true, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,

    /// Name ocbgpd's certificate must carry (default: the target's host).
    #[arg(long, global = true, value_name = "NAME")]
    pub tls_domain: Option<String>,

    /// PEM client certificate: log in as the user it names, without a
    /// password (ocbgpd with `tls-client-ca`); needs --tls-ca and
    /// --tls-key.
    #[arg(long, global = true, value_name = "FILE", requires_all = ["tls_ca", "tls_key"])]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, global = true, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// User name, when ocbgpd has users configured.
    #[arg(long, short = 'u', global = true, env = "OCBGP_USERNAME")]
    pub username: Option<String>,

    /// Password of --username.
    #[arg(
        long,
        short = 'p',
        global = true,
        env = "OCBGP_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
}

/// Why a request to ocbgpd failed, as the operator should read it.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answers at the target.
    #[error("cannot reach ocbgpd at {target}: is it running? ({reason})")]
    Unreachable {
        /// The target address.
        target: String,
        /// The transport's reason.
        reason: String,
    },
    /// Local settings are wrong (TLS files, metadata).
    #[error("{0}")]
    Setup(String),
    /// The credentials were refused.
    #[error("authentication failed: {0} (give --username and --password, or OCBGP_USERNAME / OCBGP_PASSWORD)")]
    Unauthenticated(String),
    /// The path is not in the model, or has no data.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request was malformed (path syntax, value).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// ocbgpd refused the change (validation, the engine, a lock).
    #[error("refused: {0}")]
    Refused(String),
    /// Any other status.
    #[error("{code:?}: {message}")]
    Other {
        /// The gRPC code.
        code: Code,
        /// The server's message.
        message: String,
    },
}

impl ClientError {
    /// The error for a failed call's status.
    pub fn from_status(target: &str, status: Status) -> ClientError {
        let message = status.message().to_string();
        match status.code() {
            Code::Unavailable => ClientError::Unreachable {
                target: target.to_string(),
                reason: message,
            },
            Code::Unauthenticated => ClientError::Unauthenticated(message),
            Code::NotFound => ClientError::NotFound(message),
            Code::InvalidArgument => ClientError::Invalid(message),
            Code::FailedPrecondition | Code::Aborted | Code::PermissionDenied => {
                ClientError::Refused(message)
            }
            code => ClientError::Other { code, message },
        }
    }
}

/// Result of a call.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// An open connection to ocbgpd.
pub struct Conn {
    target: String,
    gnmi: GnmiClient<Channel>,
    gnoi: BgpClient<Channel>,
    credentials: Option<(
        MetadataValue<tonic::metadata::Ascii>,
        MetadataValue<tonic::metadata::Ascii>,
    )>,
}

impl Conn {
    /// Connects as the options say.
    pub async fn open(o: &ConnectOptions) -> Result<Conn> {
        let read = |option: &str, file: &PathBuf| {
            std::fs::read(file).map_err(|e| {
                ClientError::Setup(format!("cannot read {option} {}: {e}", file.display()))
            })
        };
        let tls = match &o.tls_ca {
            Some(file) => {
                let ca = read("--tls-ca", file)?;
                let host = o
                    .target
                    .rsplit_once(':')
                    .map_or(o.target.as_str(), |(h, _)| h);
                let host = host
                    .trim_start_matches("https://")
                    .trim_start_matches('[')
                    .trim_end_matches(']');
                let domain = o.tls_domain.clone().unwrap_or_else(|| host.to_string());
                let tls = ocbgp_gnmi::tls_config(&ca, &domain);
                Some(match (&o.tls_cert, &o.tls_key) {
                    (Some(cert), Some(key)) => tls.identity(tonic::transport::Identity::from_pem(
                        read("--tls-cert", cert)?,
                        read("--tls-key", key)?,
                    )),
                    _ => tls,
                })
            }
            None => None,
        };
        let channel = ocbgp_gnmi::channel(&o.target, tls)
            .await
            .map_err(|e| match e {
                ocbgp_gnmi::ConnectError::InvalidTarget { .. } => ClientError::Setup(e.to_string()),
                ocbgp_gnmi::ConnectError::Connect { source, .. } => ClientError::Unreachable {
                    target: o.target.clone(),
                    reason: error_chain(&source),
                },
            })?;
        let credentials = match (&o.username, &o.password) {
            (Some(u), Some(p)) => {
                let bad =
                    |what: &str| ClientError::Setup(format!("the {what} must be printable ASCII"));
                Some((
                    u.parse().map_err(|_| bad("user name"))?,
                    p.parse().map_err(|_| bad("password"))?,
                ))
            }
            (Some(_), None) => {
                return Err(ClientError::Setup(
                    "--username needs --password (or OCBGP_PASSWORD)".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(ClientError::Setup(
                    "--password needs --username (or OCBGP_USERNAME)".into(),
                ))
            }
            (None, None) => None,
        };
        Ok(Conn {
            target: o.target.clone(),
            gnmi: ocbgp_gnmi::gnmi_client(channel.clone()),
            gnoi: BgpClient::new(channel),
            credentials,
        })
    }

    fn request<T>(&self, message: T, unary: bool) -> Request<T> {
        let mut r = Request::new(message);
        if let Some((u, p)) = &self.credentials {
            r.metadata_mut().insert("username", u.clone());
            r.metadata_mut().insert("password", p.clone());
        }
        if unary {
            r.set_timeout(CALL_TIMEOUT);
        }
        r
    }

    fn error(&self, status: Status) -> ClientError {
        ClientError::from_status(&self.target, status)
    }

    /// gNMI Capabilities.
    pub async fn capabilities(&mut self) -> Result<ocbgp_gnmi::proto::gnmi::CapabilityResponse> {
        let r = self.request(Default::default(), true);
        self.gnmi
            .capabilities(r)
            .await
            .map(|r| r.into_inner())
            .map_err(|s| self.error(s))
    }

    /// gNMI Get of one path (JSON_IETF): each update's path (text) and value.
    pub async fn get(&mut self, path: &str, kind: DataType) -> Result<Vec<(String, Value)>> {
        let request = GetRequest {
            path: vec![parse_path(path)?],
            r#type: kind as i32,
            encoding: Encoding::JsonIetf as i32,
            ..Default::default()
        };
        let r = self.request(request, true);
        let reply = self
            .gnmi
            .get(r)
            .await
            .map_err(|s| self.error(s))?
            .into_inner();
        let mut out = Vec::new();
        for n in reply.notification {
            for u in n.update {
                let full = ocbgp_gnmi::path::join(
                    n.prefix.as_ref(),
                    u.path.as_ref().unwrap_or(&Path::default()),
                )
                .map_err(|e| ClientError::Setup(format!("bad path in the reply: {e}")))?;
                out.push((ocbgp_gnmi::path::to_text(&full), value_of(u.val.as_ref())));
            }
        }
        Ok(out)
    }

    /// Like [`get`](Self::get), with a path that has no data as `None`.
    pub async fn get_opt(&mut self, path: &str, kind: DataType) -> Result<Option<Value>> {
        match self.get(path, kind).await {
            Ok(v) => Ok(v.into_iter().next().map(|(_, v)| v)),
            Err(ClientError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// gNMI Get of state at many paths below `prefix` in one request, as
    /// the server sent it (JSON_IETF values): for readers that decode
    /// values themselves.
    pub async fn get_state_raw(&mut self, prefix: &str, paths: &[String]) -> Result<GetResponse> {
        let request = GetRequest {
            prefix: Some(parse_path(prefix)?),
            path: paths.iter().map(|p| parse_path(p)).collect::<Result<_>>()?,
            r#type: DataType::State as i32,
            encoding: Encoding::JsonIetf as i32,
            ..Default::default()
        };
        let r = self.request(request, true);
        Ok(self
            .gnmi
            .get(r)
            .await
            .map_err(|s| self.error(s))?
            .into_inner())
    }

    /// gNMI Set: deletes, replaces, updates (values as JSON), one transaction.
    pub async fn set(
        &mut self,
        delete: &[&str],
        replace: &[(&str, Value)],
        update: &[(&str, Value)],
    ) -> Result<()> {
        let upd = |l: &[(&str, Value)]| -> Result<Vec<Update>> {
            l.iter()
                .map(|(p, v)| {
                    Ok(Update {
                        path: Some(parse_path(p)?),
                        val: Some(TypedValue {
                            value: Some(Typed::JsonIetfVal(v.to_string().into_bytes())),
                        }),
                        ..Default::default()
                    })
                })
                .collect()
        };
        let request = SetRequest {
            delete: delete
                .iter()
                .map(|p| parse_path(p))
                .collect::<Result<_>>()?,
            replace: upd(replace)?,
            update: upd(update)?,
            ..Default::default()
        };
        let r = self.request(request, true);
        self.gnmi
            .set(r)
            .await
            .map(|_| ())
            .map_err(|s| self.error(s))
    }

    /// gNMI Set of a whole request as given (extensions and all), for
    /// callers that need the response.
    pub async fn set_request(&mut self, request: SetRequest) -> Result<SetResponse> {
        let r = self.request(request, true);
        self.gnmi
            .set(r)
            .await
            .map(|r| r.into_inner())
            .map_err(|s| self.error(s))
    }

    /// Subscribes to `paths` (JSON_IETF values): ONCE, or STREAM with
    /// every path ON_CHANGE. Read it with [`Sub::next`].
    pub async fn subscribe(
        &mut self,
        paths: &[String],
        stream: bool,
        updates_only: bool,
    ) -> Result<Sub> {
        let subscription = paths
            .iter()
            .map(|p| {
                Ok(Subscription {
                    path: Some(parse_path(p)?),
                    mode: SubscriptionMode::OnChange as i32,
                    ..Default::default()
                })
            })
            .collect::<Result<_>>()?;
        let list = SubscriptionList {
            subscription,
            mode: if stream {
                ListMode::Stream
            } else {
                ListMode::Once
            } as i32,
            encoding: Encoding::JsonIetf as i32,
            updates_only,
            ..Default::default()
        };
        let first = SubscribeRequest {
            request: Some(SubRequest::Subscribe(list)),
            ..Default::default()
        };
        // The request stream stays open while the subscription runs (a
        // closed request stream may end it early on some servers).
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        tx.send(first)
            .await
            .map_err(|_| ClientError::Setup("subscription request lost".into()))?;
        let outbound = tokio_stream::wrappers::ReceiverStream::new(rx);
        let r = self.request(outbound, false);
        let stream = self
            .gnmi
            .subscribe(r)
            .await
            .map(|r| r.into_inner())
            .map_err(|s| self.error(s))?;
        Ok(Sub {
            target: self.target.clone(),
            stream,
            _requests: tx,
        })
    }

    /// gNOI BGP ClearBGPNeighbor.
    pub async fn clear_neighbor(&mut self, address: &str, mode: ClearMode) -> Result<()> {
        let request = ClearBgpNeighborRequest {
            address: address.to_string(),
            routing_instance: String::new(),
            mode: mode as i32,
        };
        let r = self.request(request, true);
        match self.gnoi.clear_bgp_neighbor(r).await {
            Ok(_) => Ok(()),
            Err(s) if s.code() == Code::Unimplemented => Err(ClientError::Refused(
                "this ocbgpd does not serve gNOI BGP (ClearBGPNeighbor)".into(),
            )),
            Err(s) => Err(self.error(s)),
        }
    }
}

/// One piece of a subscription's stream.
pub enum Event {
    /// A leaf (or subtree) value: its full path and JSON value.
    Update(Vec<PathElem>, Value),
    /// A deleted node's full path.
    Delete(Vec<PathElem>),
    /// The end of the current values.
    Sync,
}

/// A running subscription.
pub struct Sub {
    target: String,
    stream: Streaming<SubscribeResponse>,
    /// Kept open for the subscription's life.
    _requests: tokio::sync::mpsc::Sender<SubscribeRequest>,
}

impl Sub {
    /// The next message as events; `None` at the end of the stream.
    pub async fn next(&mut self) -> Result<Option<Vec<Event>>> {
        next_events(&self.target, &mut self.stream).await
    }

    /// The next message as the server sent it; `None` at the end of the
    /// stream. For readers that decode values themselves (big tables).
    pub async fn next_raw(&mut self) -> Result<Option<Response>> {
        #[allow(deprecated)]
        match self.stream.message().await {
            Err(s) => Err(ClientError::from_status(&self.target, s)),
            Ok(None) => Ok(None),
            Ok(Some(SubscribeResponse {
                response: Some(Response::Error(e)),
                ..
            })) => Err(ClientError::Other {
                code: Code::Unknown,
                message: e.message,
            }),
            Ok(Some(m)) => Ok(m.response),
        }
    }
}

async fn next_events(
    target: &str,
    stream: &mut Streaming<SubscribeResponse>,
) -> Result<Option<Vec<Event>>> {
    let Some(msg) = stream
        .message()
        .await
        .map_err(|s| ClientError::from_status(target, s))?
    else {
        return Ok(None);
    };
    let mut out = Vec::new();
    match msg.response {
        Some(Response::SyncResponse(_)) => out.push(Event::Sync),
        Some(Response::Update(n)) => {
            // Paths are moved, not copied: big tables send many leaves.
            let prefix = n.prefix.map(|p| p.elem).unwrap_or_default();
            let full = |p: Option<Path>| -> Vec<PathElem> {
                let elems = p.map(|p| p.elem).unwrap_or_default();
                if prefix.is_empty() {
                    return elems;
                }
                let mut e = prefix.clone();
                e.extend(elems);
                e
            };
            for d in n.delete {
                out.push(Event::Delete(full(Some(d))));
            }
            for u in n.update {
                let v = value_of(u.val.as_ref());
                let elems = full(u.path);
                if v.is_object() {
                    // A subtree (a server that aggregates): its leaves.
                    let mut leaves = Vec::new();
                    expand(&mut elems.clone(), v, &mut leaves);
                    out.extend(leaves.into_iter().map(|(e, v)| Event::Update(e, v)));
                } else {
                    out.push(Event::Update(elems, v));
                }
            }
        }
        #[allow(deprecated)]
        Some(Response::Error(e)) => {
            return Err(ClientError::Other {
                code: Code::Unknown,
                message: e.message,
            })
        }
        None => {}
    }
    Ok(Some(out))
}

/// List keys recognised when a subtree's list entries are turned into
/// path elements (the lists the CLI reads are keyed by these).
const KEY_NAMES: [&str; 7] = [
    "index",
    "prefix",
    "origin",
    "path-id",
    "neighbor-address",
    "afi-safi-name",
    "name",
];

/// The leaves of an RFC 7951 subtree at `at`, each with its full path.
pub(crate) fn expand(at: &mut Vec<PathElem>, v: Value, out: &mut Vec<(Vec<PathElem>, Value)>) {
    let Value::Object(members) = v else {
        out.push((at.clone(), v));
        return;
    };
    for (k, v) in members {
        let name = crate::table::bare(&k).to_string();
        match v {
            Value::Array(entries)
                if entries.iter().all(Value::is_object) && !entries.is_empty() =>
            {
                for e in entries {
                    let key = e
                        .as_object()
                        .map(|o| {
                            o.iter()
                                .filter(|(k, v)| {
                                    KEY_NAMES.contains(&crate::table::bare(k))
                                        && !v.is_object()
                                        && !v.is_array()
                                })
                                .map(|(k, v)| {
                                    (
                                        crate::table::bare(k).to_string(),
                                        crate::table::text(Some(v)).unwrap_or_default(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    at.push(PathElem {
                        name: name.clone(),
                        key,
                    });
                    expand(at, e, out);
                    at.pop();
                }
            }
            v => {
                at.push(PathElem {
                    name,
                    key: Default::default(),
                });
                expand(at, v, out);
                at.pop();
            }
        }
    }
}

/// A path in gNMI text form, checked.
pub fn parse_path(text: &str) -> Result<Path> {
    ocbgp_gnmi::path::parse_text(text).map_err(|e| ClientError::Invalid(e.to_string()))
}

/// The JSON text of a JSON or JSON_IETF value.
pub fn json_bytes(v: Option<&TypedValue>) -> Option<&[u8]> {
    match v?.value.as_ref()? {
        Typed::JsonIetfVal(b) | Typed::JsonVal(b) => Some(b),
        _ => None,
    }
}

/// A TypedValue as JSON.
pub fn value_of(v: Option<&TypedValue>) -> Value {
    let Some(v) = v.and_then(|v| v.value.as_ref()) else {
        return Value::Null;
    };
    match v {
        Typed::JsonIetfVal(b) | Typed::JsonVal(b) => serde_json::from_slice(b)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(b).into_owned())),
        Typed::StringVal(s) | Typed::AsciiVal(s) => Value::String(s.clone()),
        Typed::IntVal(i) => Value::from(*i),
        Typed::UintVal(u) => Value::from(*u),
        Typed::BoolVal(b) => Value::Bool(*b),
        Typed::DoubleVal(d) => Value::from(*d),
        #[allow(deprecated)]
        Typed::FloatVal(f) => Value::from(*f),
        Typed::LeaflistVal(l) => {
            Value::Array(l.element.iter().map(|e| value_of(Some(e))).collect())
        }
        _ => Value::Null,
    }
}

/// A transport error with its causes, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = c.source();
    }
    out
}

/// The DataType of `--type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReadType {
    /// Configuration and state.
    All,
    /// Configuration only.
    Config,
    /// State only.
    State,
}

impl From<ReadType> for DataType {
    fn from(t: ReadType) -> DataType {
        match t {
            ReadType::All => DataType::All,
            ReadType::Config => DataType::Config,
            ReadType::State => DataType::State,
        }
    }
}
