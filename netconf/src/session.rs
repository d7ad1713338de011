//! One NETCONF session over any byte stream (the SSH channel in the
//! server): the hello exchange, framing, and the RPC loop.
//!
//! RPCs are handled one at a time, in order (RFC 6241 4.1), each off the
//! async runtime's threads since datastore transactions block.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use crate::capabilities::{server_capabilities, BASE_1_0, BASE_1_1};
use crate::error::{ErrorInfo, ErrorTag, ErrorType, RpcError};
use crate::framing::{self, Decoder, Framing};
use crate::rib::{self, Streamed};
use crate::rpc::{self, Body, RpcContext};
use crate::shared::{SessionInfo, Shared};
use crate::xml::{self, escape, Element, NC_NS};

const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// close-session.
    Closed,
    /// The client went away (end of stream).
    Eof,
    /// kill-session, or server shutdown.
    Killed,
    /// No hello, a bad hello, or a hello after the session started.
    BadHello(String),
    /// The framing was broken or a message too large: RFC 6242 says close.
    Framing(String),
    /// Nothing received for the idle timeout.
    Idle,
    /// Reading or writing failed.
    Io(String),
}

/// The server's `<hello>`.
pub fn server_hello(session_id: u64) -> String {
    let mut out = format!("{XML_DECL}<hello xmlns=\"{NC_NS}\"><capabilities>");
    for c in server_capabilities() {
        let _ = write!(out, "<capability>{}</capability>", escape(&c));
    }
    let _ = write!(
        out,
        "</capabilities><session-id>{session_id}</session-id></hello>"
    );
    out
}

/// Reads a client `<hello>`: whether it announces base:1.1 (then chunked
/// framing follows). A hello without base:1.0 or base:1.1, or with a
/// session-id, is refused.
pub fn client_hello(message: &[u8]) -> Result<bool, String> {
    let text = std::str::from_utf8(message).map_err(|_| "hello is not UTF-8".to_string())?;
    let hello = xml::parse(text).map_err(|e| e.to_string())?;
    if !hello.is(NC_NS, "hello") {
        return Err(format!("expected a hello, got {}", hello.name));
    }
    if hello.child(NC_NS, "session-id").is_some() {
        return Err("a client hello must not carry a session-id".into());
    }
    let caps: Vec<&str> = hello
        .child(NC_NS, "capabilities")
        .map(|c| {
            c.children
                .iter()
                .filter(|e| e.is(NC_NS, "capability"))
                .map(Element::value)
                .collect()
        })
        .unwrap_or_default();
    let v11 = caps.contains(&BASE_1_1);
    if !v11 && !caps.contains(&BASE_1_0) {
        return Err("the hello announces neither base:1.0 nor base:1.1".into());
    }
    Ok(v11)
}

/// Called on the thread that wrote a streamed reply, once it is done.
static AFTER_STREAMED: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Registers `f`, called on the thread that wrote a streamed reply (a
/// RIB read) once it is done: the program can hand back to the system
/// the memory the read's entries and pieces took (ocbgpd: mimalloc's
/// `mi_collect`, which works on the calling thread's heap). Set once;
/// later calls are ignored.
pub fn set_after_streamed(f: fn()) {
    let _ = AFTER_STREAMED.set(f);
}

struct Io<R, W> {
    reader: R,
    writer: W,
    decoder: Decoder,
    buf: BytesMut,
    killed: watch::Receiver<bool>,
}

enum Read {
    Message(Bytes),
    End(End),
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Io<R, W> {
    async fn read(&mut self) -> Read {
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(m)) => return Read::Message(m),
                Ok(None) => {}
                Err(e) => return Read::End(End::Framing(e.to_string())),
            }
            if *self.killed.borrow() {
                return Read::End(End::Killed);
            }
            tokio::select! {
                _ = self.killed.changed() => return Read::End(End::Killed),
                n = self.reader.read_buf(&mut self.buf) => match n {
                    Ok(0) => return Read::End(End::Eof),
                    Ok(_) => {}
                    Err(e) => return Read::End(End::Io(e.to_string())),
                },
            }
        }
    }

    /// Writes a streamed reply: its head, the RIB pieces as a thread
    /// writes them (at most a few pieces buffered), its tail. A client
    /// that goes away stops the thread (and the RIB read) at the next
    /// piece.
    async fn write_streamed(&mut self, mut s: Box<Streamed>) -> Result<(), End> {
        let framing = self.decoder.framing();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(4);
        let producer = tokio::task::spawn_blocking(move || {
            let head = std::mem::take(&mut s.head);
            if tx.blocking_send(head).is_err() {
                return;
            }
            loop {
                let mut piece = String::with_capacity(rib::PIECE + 4096);
                let more = s.fill(&mut piece);
                if tx.blocking_send(piece).is_err() {
                    return;
                }
                if !more {
                    break;
                }
            }
            let _ = tx.blocking_send(std::mem::take(&mut s.tail));
            drop(s);
            if let Some(after) = AFTER_STREAMED.get() {
                after();
            }
        });
        let mut out = BytesMut::new();
        while let Some(piece) = rx.recv().await {
            out.clear();
            framing::encode_piece(framing, piece.as_bytes(), &mut out);
            self.send(&out).await?;
        }
        if producer.await.is_err() {
            // Half a reply went out: the session cannot go on.
            return Err(End::Io("internal error while writing a reply".into()));
        }
        out.clear();
        framing::encode_end(framing, &mut out);
        self.send(&out).await
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), End> {
        self.writer
            .write_all(bytes)
            .await
            .map_err(|e| End::Io(e.to_string()))?;
        self.writer
            .flush()
            .await
            .map_err(|e| End::Io(e.to_string()))
    }

    async fn write(&mut self, message: &str) -> Result<(), End> {
        let mut out = BytesMut::with_capacity(message.len() + 32);
        framing::encode(self.decoder.framing(), message.as_bytes(), &mut out);
        self.send(&out).await
    }
}

/// Runs a session to its end. `info` is registered with `shared`; the
/// caller unregisters it afterwards (which releases its locks).
pub async fn run<S>(
    stream: S,
    shared: Arc<Shared>,
    info: Arc<SessionInfo>,
    killed: watch::Receiver<bool>,
) -> End
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (reader, writer) = tokio::io::split(stream);
    let mut io = Io {
        reader,
        writer,
        decoder: Decoder::new(shared.limits.max_message),
        buf: BytesMut::new(),
        killed,
    };
    if let Err(end) = io.write(&server_hello(info.id.0)).await {
        return end;
    }
    let hello = match tokio::time::timeout(shared.limits.hello_timeout, io.read()).await {
        Err(_) => Err("no hello in time".to_string()),
        Ok(Read::End(end)) => return end,
        Ok(Read::Message(m)) => client_hello(&m),
    };
    match hello {
        Ok(true) => io.decoder.set_framing(Framing::Chunked),
        Ok(false) => {}
        Err(why) => {
            shared.stats.in_bad_hellos.fetch_add(1, Ordering::Relaxed);
            tracing::info!(session = info.id.0, "NETCONF hello refused: {why}");
            return End::BadHello(why);
        }
    }
    loop {
        let read = match shared.limits.idle_timeout {
            Some(idle) => match tokio::time::timeout(idle, io.read()).await {
                Ok(r) => r,
                Err(_) => return End::Idle,
            },
            None => io.read().await,
        };
        let message = match read {
            Read::Message(m) => m,
            Read::End(end) => return end,
        };
        let (sh, si) = (shared.clone(), info.clone());
        let outcome = tokio::task::spawn_blocking(move || process(&sh, &si, &message)).await;
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                // A panic in a handler: the session cannot know what it did.
                tracing::error!(session = info.id.0, "NETCONF request handler failed: {e}");
                return End::Io("internal error".into());
            }
        };
        match outcome {
            Outcome::Reply(reply, close) => {
                if let Err(end) = io.write(&reply).await {
                    return end;
                }
                if close {
                    let _ = io.writer.shutdown().await;
                    return End::Closed;
                }
            }
            Outcome::Streamed(s) => {
                if let Err(end) = io.write_streamed(s).await {
                    return end;
                }
            }
            Outcome::End(end) => return end,
        }
    }
}

enum Outcome {
    /// A reply; `true`: the session ends after it.
    Reply(String, bool),
    /// A reply whose head and tail hold the rest of the message.
    Streamed(Box<Streamed>),
    /// The session ends without a reply.
    End(End),
}

fn bad_rpc(shared: &Shared, info: &SessionInfo, rpc: Option<&Element>, e: RpcError) -> Outcome {
    shared.stats.in_bad_rpcs.fetch_add(1, Ordering::Relaxed);
    info.in_bad_rpcs.fetch_add(1, Ordering::Relaxed);
    shared.stats.out_rpc_errors.fetch_add(1, Ordering::Relaxed);
    info.out_rpc_errors.fetch_add(1, Ordering::Relaxed);
    Outcome::Reply(reply(rpc, &Err(e)), false)
}

/// Handles one message after the hello.
fn process(shared: &Arc<Shared>, info: &Arc<SessionInfo>, message: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(message) else {
        return bad_rpc(
            shared,
            info,
            None,
            RpcError::malformed("the message is not UTF-8"),
        );
    };
    let root = match xml::parse(text) {
        Ok(root) => root,
        Err(e) => return bad_rpc(shared, info, None, RpcError::malformed(e.to_string())),
    };
    if root.is(NC_NS, "hello") {
        return Outcome::End(End::BadHello("a hello after the session started".into()));
    }
    if !root.is(NC_NS, "rpc") {
        return bad_rpc(
            shared,
            info,
            None,
            RpcError::malformed(format!(
                "expected an rpc element in the NETCONF base namespace, got {}",
                root.name
            )),
        );
    }
    if root.attr("message-id").is_none() {
        let e = RpcError::new(
            ErrorType::Rpc,
            ErrorTag::MissingAttribute,
            "the rpc has no message-id",
        )
        .with_info(ErrorInfo::BadAttribute("message-id".into()))
        .with_info(ErrorInfo::BadElement("rpc".into()));
        return bad_rpc(shared, info, Some(&root), e);
    }
    let op = match root.children.as_slice() {
        [op] => op,
        [] => {
            let e = RpcError::new(
                ErrorType::Rpc,
                ErrorTag::MissingElement,
                "the rpc holds no operation",
            )
            .with_info(ErrorInfo::BadElement("rpc".into()));
            return bad_rpc(shared, info, Some(&root), e);
        }
        _ => {
            let e = RpcError::malformed("an rpc holds exactly one operation");
            return bad_rpc(shared, info, Some(&root), e);
        }
    };
    shared.stats.in_rpcs.fetch_add(1, Ordering::Relaxed);
    info.in_rpcs.fetch_add(1, Ordering::Relaxed);
    let ctx = RpcContext {
        shared,
        session: info,
    };
    let result = rpc::dispatch(&ctx, op);
    match &result {
        Ok(_) => tracing::debug!(session = info.id.0, op = %op.name, "NETCONF rpc"),
        Err(e) => {
            shared.stats.out_rpc_errors.fetch_add(1, Ordering::Relaxed);
            info.out_rpc_errors.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(session = info.id.0, op = %op.name, "NETCONF rpc failed: {e}");
        }
    }
    match result {
        Ok(Body::Streamed(mut s)) => {
            let start = reply_start(Some(&root));
            s.head = format!("{start}<data>{}", s.head);
            s.tail.push_str("</data></rpc-reply>");
            Outcome::Streamed(s)
        }
        result => {
            let close = matches!(result, Ok(Body::Close));
            Outcome::Reply(reply(Some(&root), &result), close)
        }
    }
}

/// An `<rpc-reply>` carrying every attribute of the `<rpc>` (RFC 6241
/// 4.2), message-id included.
pub fn reply(rpc: Option<&Element>, result: &Result<Body, RpcError>) -> String {
    let mut out = reply_start(rpc);
    match result {
        Ok(Body::Ok | Body::Close) => out.push_str("<ok/>"),
        Ok(Body::Data(content)) => {
            let _ = write!(out, "<data>{content}</data>");
        }
        Ok(Body::Streamed(s)) => {
            // Only the parts around the RIB: sessions write the RIB with
            // `write_streamed`.
            let _ = write!(out, "<data>{}{}</data>", s.head, s.tail);
        }
        Ok(Body::Raw(content)) => out.push_str(content),
        Err(e) => e.write(&mut out),
    }
    out.push_str("</rpc-reply>");
    out
}

/// The XML declaration and `<rpc-reply>` start tag answering `rpc`.
fn reply_start(rpc: Option<&Element>) -> String {
    let mut out = format!("{XML_DECL}<rpc-reply xmlns=\"{NC_NS}\"");
    if let Some(rpc) = rpc {
        let mut declared: Vec<&str> = Vec::new();
        for a in &rpc.attrs {
            match (&a.prefix, &a.ns) {
                (Some(p), Some(ns)) => {
                    if p != "xml" && !declared.contains(&p.as_str()) {
                        let _ = write!(out, " xmlns:{p}=\"{}\"", escape(ns));
                        declared.push(p);
                    }
                    let _ = write!(out, " {p}:{}=\"{}\"", a.name, escape(&a.value));
                }
                _ => {
                    let _ = write!(out, " {}=\"{}\"", a.name, escape(&a.value));
                }
            }
        }
    }
    out.push('>');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hellos() {
        let h = format!(
            "<nc:hello xmlns:nc=\"{NC_NS}\"><nc:capabilities><nc:capability>{BASE_1_0}</nc:capability>\
             <nc:capability>{BASE_1_1}</nc:capability></nc:capabilities></nc:hello>"
        );
        assert_eq!(client_hello(h.as_bytes()), Ok(true));
        let h = format!("<hello xmlns=\"{NC_NS}\"><capabilities><capability>{BASE_1_0}</capability></capabilities></hello>");
        assert_eq!(client_hello(h.as_bytes()), Ok(false));
        let h =
            format!("<hello xmlns=\"{NC_NS}\"><capabilities/><session-id>4</session-id></hello>");
        assert!(client_hello(h.as_bytes()).is_err());
        assert!(client_hello(b"<rpc/>").is_err());
        let ours = server_hello(7);
        assert!(ours.contains("<session-id>7</session-id>") && ours.contains(BASE_1_1));
    }

    #[test]
    fn replies_echo_rpc_attributes() {
        let rpc = xml::parse(&format!(
            "<rpc xmlns=\"{NC_NS}\" xmlns:ex=\"urn:ex\" message-id=\"101\" ex:user=\"fred\"><get/></rpc>"
        ))
        .unwrap();
        let r = reply(Some(&rpc), &Ok(Body::Ok));
        let parsed = xml::parse(&r).unwrap();
        assert!(parsed.is(NC_NS, "rpc-reply"));
        assert_eq!(parsed.attr("message-id"), Some("101"));
        assert_eq!(parsed.attr_ns("urn:ex", "user"), Some("fred"));
        assert!(parsed.child(NC_NS, "ok").is_some());
    }
}
