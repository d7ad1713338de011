//! A raw BGP speaker for sending what no real daemon sends: a small Python
//! program in a lab host that opens a session (OPEN, KEEPALIVE), then sends
//! whatever messages the test hands it byte for byte, and reports every
//! message it receives (NOTIFICATIONs decoded) and the connection's end.
//!
//! ```no_run
//! use std::time::Duration;
//! use ocbgp_tests::lab::*;
//! use ocbgp_tests::lab::raw::{msg, RawSpeaker};
//!
//! let lab = Lab::new("raw");
//! let (r1, r2) = (lab.host("r1"), lab.host("r2"));
//! let raw = RawSpeaker::connect(&r2, r1.ipv4(), 65002, r2.ipv4(), 30, &[Family::Ipv4Unicast]);
//! raw.wait_established(Duration::from_secs(20));
//! raw.send_update(&msg::update(
//!     &[],
//!     &[msg::origin(0), msg::as_path(&[65002]), msg::next_hop(r2.ipv4())],
//!     &["203.0.113.0/24"],
//! ));
//! ```
//!
//! The program's events, one JSON object a line in `<host dir>/raw-<n>.jsonl`:
//! `{"event":"connected"}`, `{"event":"message","type":T,"hex":…}` (plus
//! `"code"` and `"subcode"` for a NOTIFICATION), `{"event":"established"}`
//! after the peer's OPEN and first KEEPALIVE, `{"event":"closed"}` when the
//! peer closes the connection. KEEPALIVEs go out every hold/3 seconds once
//! established.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use super::netns::Host;
use super::route::Family;
use crate::wait_until;

const SCRIPT: &str = r#"
import json, socket, struct, sys, threading, time
peer, local_as, router_id, hold, fams, out = sys.argv[1:7]
local_as, hold = int(local_as), int(hold)
fams = [tuple(int(x) for x in f.split('/')) for f in fams.split(',') if f]
lock = threading.Lock()
log = open(out, 'a')
def event(**e):
    with lock:
        log.write(json.dumps(e) + '\n')
        log.flush()
def frame(t, body):
    return b'\xff' * 16 + struct.pack('!HB', 19 + len(body), t) + body
caps = b''
for afi, safi in fams:
    caps += bytes([1, 4]) + struct.pack('!HBB', afi, 0, safi)
caps += bytes([65, 4]) + struct.pack('!I', local_as) + bytes([2, 0])
opt = bytes([2, len(caps)]) + caps
my_as = local_as if local_as < 65536 else 23456
open_body = struct.pack('!BHH4sB', 4, my_as, hold, socket.inet_aton(router_id), len(opt)) + opt
deadline = time.time() + 30
while True:
    try:
        sock = socket.create_connection((peer, 179), timeout=2)
        break
    except OSError as e:
        if time.time() > deadline:
            event(event='connect-failed', error=str(e))
            sys.exit(1)
        time.sleep(0.2)
sock.settimeout(None)
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
event(event='connected', local=sock.getsockname()[0])
send_lock = threading.Lock()
def send(t, body=b''):
    with send_lock:
        sock.sendall(frame(t, body))
state = {'established': False, 'closed': False}
def keepalives():
    while not state['closed']:
        time.sleep(max(1, hold // 3) if hold else 10)
        try:
            send(4)
        except OSError:
            return
def reader():
    buf = b''
    while True:
        try:
            data = sock.recv(65536)
        except OSError as e:
            data = b''
        if not data:
            state['closed'] = True
            event(event='closed')
            return
        buf += data
        while len(buf) >= 19:
            length, t = struct.unpack('!HB', buf[16:19])
            if len(buf) < length:
                break
            body, buf = buf[19:length], buf[length:]
            e = {'event': 'message', 'type': t, 'hex': body.hex()}
            if t == 3 and len(body) >= 2:
                e['code'], e['subcode'] = body[0], body[1]
            event(**e)
            if t == 1:
                send(4)
            elif t == 4 and not state['established']:
                state['established'] = True
                event(event='established')
                threading.Thread(target=keepalives, daemon=True).start()
send(1, open_body)
threading.Thread(target=reader, daemon=True).start()
for line in sys.stdin:
    parts = line.split()
    if not parts:
        continue
    if parts[0] == 'send':
        try:
            send(int(parts[1]), bytes.fromhex(parts[2] if len(parts) > 2 else ''))
            event(event='sent', type=int(parts[1]), hex=parts[2] if len(parts) > 2 else '')
        except OSError as e:
            event(event='send-failed', error=str(e))
    elif parts[0] == 'close':
        sock.close()
while not state['closed']:
    time.sleep(0.2)
"#;

/// A raw BGP speaker in a lab host; see the module docs. Killed when
/// dropped.
pub struct RawSpeaker {
    host: Host,
    peer: IpAddr,
    child: Mutex<Child>,
    stdin: Mutex<Option<ChildStdin>>,
    events: PathBuf,
    log: PathBuf,
}

impl RawSpeaker {
    /// Starts the speaker in `host`: it connects to `peer` port 179 (trying
    /// for 30 s), sends an OPEN for `asn` with `router_id`, `hold` and the
    /// multiprotocol capabilities of `families` (plus 4-octet AS and route
    /// refresh), and answers the peer's OPEN with a KEEPALIVE.
    pub fn connect(
        host: &Host,
        peer: IpAddr,
        asn: u32,
        router_id: IpAddr,
        hold: u16,
        families: &[Family],
    ) -> RawSpeaker {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let events = host.dir().join(format!("raw-{n}.jsonl"));
        let log = host.dir().join(format!("raw-{n}.log"));
        let fams: Vec<&str> = families
            .iter()
            .map(|f| match f {
                Family::Ipv4Unicast => "1/1",
                Family::Ipv6Unicast => "2/1",
            })
            .collect();
        let out = std::fs::File::create(&log).expect("create raw speaker log");
        let err = out.try_clone().expect("duplicate log handle");
        let mut child = host
            .command("python3")
            .arg("-u")
            .arg("-c")
            .arg(SCRIPT)
            .arg(peer.to_string())
            .arg(asn.to_string())
            .arg(router_id.to_string())
            .arg(hold.to_string())
            .arg(fams.join(","))
            .arg(&events)
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start the raw speaker");
        let stdin = child.stdin.take();
        RawSpeaker {
            host: host.clone(),
            peer,
            child: Mutex::new(child),
            stdin: Mutex::new(stdin),
            events,
            log,
        }
    }

    /// The host it runs in.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Sends one message of type `kind` (1 OPEN, 2 UPDATE, 3 NOTIFICATION,
    /// 4 KEEPALIVE) with this body; the header is added.
    pub fn send(&self, kind: u8, body: &[u8]) {
        let mut stdin = self.stdin.lock().unwrap();
        let pipe = stdin.as_mut().expect("raw speaker input closed");
        let line = format!("send {kind} {}\n", hex(body));
        pipe.write_all(line.as_bytes())
            .and_then(|_| pipe.flush())
            .unwrap_or_else(|e| {
                panic!("raw speaker gone ({e}); its log:\n{}", self.describe_log())
            });
    }

    /// Sends an UPDATE with this body (see [`msg::update`]).
    pub fn send_update(&self, body: &[u8]) {
        self.send(2, body);
    }

    /// Every event reported so far.
    pub fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.events)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The (code, subcode) of every NOTIFICATION received.
    pub fn notifications(&self) -> Vec<(u8, u8)> {
        self.events()
            .iter()
            .filter(|e| e["event"] == "message" && e["type"] == 3)
            .map(|e| {
                (
                    e["code"].as_u64().unwrap_or(0) as u8,
                    e["subcode"].as_u64().unwrap_or(0) as u8,
                )
            })
            .collect()
    }

    /// Whether the peer has closed the connection.
    pub fn closed(&self) -> bool {
        self.events().iter().any(|e| e["event"] == "closed")
    }

    /// Whether the program still runs.
    pub fn running(&self) -> bool {
        matches!(self.child.lock().unwrap().try_wait(), Ok(None))
    }

    /// Waits until an event satisfies `check`; returns it, or panics with
    /// the events and the program's output after `timeout`.
    pub fn wait_event(
        &self,
        what: &str,
        timeout: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let mut found = None;
        wait_until(timeout, || {
            found = self.events().into_iter().find(|e| check(e));
            found.is_some()
        });
        found.unwrap_or_else(|| {
            panic!(
                "raw speaker to {}: no {what} within {timeout:?}\n{}",
                self.peer,
                self.describe_log()
            )
        })
    }

    /// Waits for the OPEN exchange to finish.
    pub fn wait_established(&self, timeout: Duration) {
        self.wait_event("established session", timeout, |e| {
            e["event"] == "established"
        });
    }

    /// Waits for a NOTIFICATION; returns its (code, subcode).
    pub fn wait_notification(&self, timeout: Duration) -> (u8, u8) {
        let e = self.wait_event("NOTIFICATION", timeout, |e| {
            e["event"] == "message" && e["type"] == 3
        });
        (
            e["code"].as_u64().unwrap_or(0) as u8,
            e["subcode"].as_u64().unwrap_or(0) as u8,
        )
    }

    /// Waits until the peer closes the connection.
    pub fn wait_closed(&self, timeout: Duration) {
        self.wait_event("connection close", timeout, |e| e["event"] == "closed");
    }

    /// Events and program output, for panic messages.
    pub fn describe_log(&self) -> String {
        let events = std::fs::read_to_string(&self.events).unwrap_or_default();
        let out = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!("--- events ---\n{events}--- output ---\n{out}--- end ---")
    }
}

impl Drop for RawSpeaker {
    fn drop(&mut self) {
        self.stdin.lock().unwrap().take();
        let mut child = self.child.lock().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Builders for UPDATE bodies and path attributes, well-formed or not
/// (RFC 4271 4.3; AS numbers are 4 octets, as the speaker announces the
/// capability).
pub mod msg {
    use std::net::{IpAddr, Ipv4Addr};

    /// Attribute flag: optional.
    pub const OPTIONAL: u8 = 0x80;
    /// Attribute flag: transitive.
    pub const TRANSITIVE: u8 = 0x40;
    /// Attribute flag: extended length (set by [`attr`] when needed).
    pub const EXTENDED: u8 = 0x10;

    /// A path attribute with `flags`, type code `ty` and `value` as given;
    /// the extended-length flag is added when the value needs it.
    pub fn attr(flags: u8, ty: u8, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(value.len() + 4);
        if value.len() > 255 || flags & EXTENDED != 0 {
            out.extend([flags | EXTENDED, ty]);
            out.extend((value.len() as u16).to_be_bytes());
        } else {
            out.extend([flags, ty, value.len() as u8]);
        }
        out.extend_from_slice(value);
        out
    }

    /// ORIGIN (well-known) with this code (0 IGP, 1 EGP, 2 INCOMPLETE).
    pub fn origin(code: u8) -> Vec<u8> {
        attr(TRANSITIVE, 1, &[code])
    }

    /// AS_PATH of one AS_SEQUENCE of 4-octet AS numbers.
    pub fn as_path(asns: &[u32]) -> Vec<u8> {
        let mut v = vec![2, asns.len() as u8];
        for a in asns {
            v.extend(a.to_be_bytes());
        }
        attr(TRANSITIVE, 2, &v)
    }

    /// NEXT_HOP.
    pub fn next_hop(addr: IpAddr) -> Vec<u8> {
        let IpAddr::V4(v4) = addr else {
            panic!("NEXT_HOP must be IPv4, not {addr}")
        };
        attr(TRANSITIVE, 3, &v4.octets())
    }

    /// MULTI_EXIT_DISC.
    pub fn med(value: u32) -> Vec<u8> {
        attr(OPTIONAL, 4, &value.to_be_bytes())
    }

    /// COMMUNITIES from "high:low" strings.
    pub fn communities(list: &[&str]) -> Vec<u8> {
        let mut v = Vec::new();
        for c in list {
            let (hi, lo) = c.split_once(':').expect("community high:low");
            v.extend(hi.parse::<u16>().expect("community high").to_be_bytes());
            v.extend(lo.parse::<u16>().expect("community low").to_be_bytes());
        }
        attr(OPTIONAL | TRANSITIVE, 8, &v)
    }

    /// ATOMIC_AGGREGATE (empty value).
    pub fn atomic_aggregate() -> Vec<u8> {
        attr(TRANSITIVE, 6, &[])
    }

    /// AGGREGATOR with a 4-octet AS.
    pub fn aggregator(asn: u32, address: Ipv4Addr) -> Vec<u8> {
        let mut v = asn.to_be_bytes().to_vec();
        v.extend(address.octets());
        attr(OPTIONAL | TRANSITIVE, 7, &v)
    }

    /// MP_REACH_NLRI with a raw value (AFI, SAFI, next hop length, next
    /// hop, reserved octet, NLRI), for building malformed ones.
    pub fn mp_reach_raw(value: &[u8]) -> Vec<u8> {
        attr(OPTIONAL, 14, value)
    }

    /// A prefix ("203.0.113.0/24", "2001:db8::/32") in NLRI encoding.
    pub fn prefix(text: &str) -> Vec<u8> {
        let (addr, len) = text.split_once('/').expect("prefix/len");
        let len: u8 = len.parse().expect("prefix length");
        let octets: Vec<u8> = match addr.parse::<IpAddr>().expect("prefix address") {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        let mut v = vec![len];
        v.extend_from_slice(&octets[..usize::from(len).div_ceil(8)]);
        v
    }

    /// An UPDATE body: withdrawn IPv4 prefixes, attributes (concatenated as
    /// given) and IPv4 NLRI.
    pub fn update(withdrawn: &[&str], attrs: &[Vec<u8>], nlri: &[&str]) -> Vec<u8> {
        let w: Vec<u8> = withdrawn.iter().flat_map(|p| prefix(p)).collect();
        let a: Vec<u8> = attrs.concat();
        let mut body = Vec::new();
        body.extend((w.len() as u16).to_be_bytes());
        body.extend(w);
        body.extend((a.len() as u16).to_be_bytes());
        body.extend(a);
        for p in nlri {
            body.extend(prefix(p));
        }
        body
    }
}
