//! The RPKI-to-Router protocol (RFC 8210 version 1, RFC 6810 version 0 if
//! the cache wants it): the PDUs a router sends and reads, and one cache's
//! session.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use ipnet::IpNet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::vrp::Vrp;

/// Largest PDU accepted (an Error Report may carry text and a PDU).
const MAX_PDU: usize = 1 << 16;

/// A cache's settings (`ocbgp:rpki/caches/cache/config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheSettings {
    /// Where the cache listens.
    pub address: SocketAddr,
    /// Lower is preferred (kept for the model; every cache counts).
    pub preference: u8,
    /// Seconds between Serial Queries unless the cache says.
    pub refresh: u32,
    /// Seconds before connecting again.
    pub retry: u32,
    /// Seconds the VRPs are kept without an update.
    pub expire: u32,
}

/// Why a session with a cache ended.
#[derive(Debug, thiserror::Error)]
pub enum RtrError {
    /// The connection failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The cache sent something this is not.
    #[error("malformed PDU: {0}")]
    Malformed(&'static str),
    /// The cache reported an error.
    #[error("cache error {code}: {text}")]
    Report {
        /// The error code (RFC 8210 12).
        code: u16,
        /// Its text.
        text: String,
    },
}

/// A PDU a cache sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pdu {
    /// New data: ask for it.
    SerialNotify {
        /// Session id.
        session: u16,
        /// The new serial.
        serial: u32,
    },
    /// Data follows.
    CacheResponse {
        /// Session id.
        session: u16,
    },
    /// A VRP announced (`true`) or withdrawn.
    Prefix(bool, Vrp),
    /// The data is complete.
    EndOfData {
        /// Session id.
        session: u16,
        /// Its serial.
        serial: u32,
        /// Timers (version 1): refresh, retry, expire.
        timers: Option<(u32, u32, u32)>,
    },
    /// The cache cannot give changes: ask for everything.
    CacheReset,
    /// Something this router does not use (Router Key).
    Ignored,
    /// An error.
    ErrorReport {
        /// The code.
        code: u16,
        /// The text.
        text: String,
    },
}

/// Reads one PDU from `buf` if it holds a whole one.
pub fn decode(buf: &mut BytesMut) -> Result<Option<Pdu>, RtrError> {
    if buf.len() < 8 {
        return Ok(None);
    }
    let kind = buf[1];
    let field = u16::from_be_bytes([buf[2], buf[3]]);
    let len = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]) as usize;
    if !(8..=MAX_PDU).contains(&len) {
        return Err(RtrError::Malformed("bad length"));
    }
    if buf.len() < len {
        return Ok(None);
    }
    let pdu = buf.split_to(len);
    let body = &pdu[8..];
    let u32_at = |i: usize| -> Result<u32, RtrError> {
        body.get(i..i + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or(RtrError::Malformed("short PDU"))
    };
    let exact = |n: usize| {
        if body.len() == n {
            Ok(())
        } else {
            Err(RtrError::Malformed("wrong length"))
        }
    };
    Ok(Some(match kind {
        0 => {
            exact(4)?;
            Pdu::SerialNotify {
                session: field,
                serial: u32_at(0)?,
            }
        }
        3 => {
            exact(0)?;
            Pdu::CacheResponse { session: field }
        }
        4 | 6 => {
            let addr_len = if kind == 4 { 4 } else { 16 };
            exact(4 + addr_len + 4)?;
            let (flags, plen, max) = (body[0], body[1], body[2]);
            let addr = &body[4..4 + addr_len];
            let ip: IpAddr = if kind == 4 {
                Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).into()
            } else {
                let mut a = [0u8; 16];
                a.copy_from_slice(addr);
                Ipv6Addr::from(a).into()
            };
            let prefix = IpNet::new(ip, plen).map_err(|_| RtrError::Malformed("prefix length"))?;
            if max < plen || max > prefix.max_prefix_len() {
                return Err(RtrError::Malformed("max length"));
            }
            Pdu::Prefix(
                flags & 1 == 1,
                Vrp {
                    prefix: prefix.trunc(),
                    max_len: max,
                    asn: u32_at(4 + addr_len)?,
                },
            )
        }
        7 => {
            let timers = match body.len() {
                4 => None,
                16 => Some((u32_at(4)?, u32_at(8)?, u32_at(12)?)),
                _ => return Err(RtrError::Malformed("End of Data length")),
            };
            Pdu::EndOfData {
                session: field,
                serial: u32_at(0)?,
                timers,
            }
        }
        8 => {
            exact(0)?;
            Pdu::CacheReset
        }
        9 => Pdu::Ignored,
        10 => {
            let inner = u32_at(0)? as usize;
            let text_at = 4 + inner;
            let text_len = u32_at(text_at)? as usize;
            let text = body
                .get(text_at + 4..text_at + 4 + text_len)
                .ok_or(RtrError::Malformed("Error Report text"))?;
            Pdu::ErrorReport {
                code: field,
                text: String::from_utf8_lossy(text).into_owned(),
            }
        }
        _ => return Err(RtrError::Malformed("unknown PDU type")),
    }))
}

/// A Reset Query.
pub fn reset_query(version: u8) -> [u8; 8] {
    [version, 2, 0, 0, 0, 0, 0, 8]
}

/// A Serial Query.
pub fn serial_query(version: u8, session: u16, serial: u32) -> [u8; 12] {
    let s = session.to_be_bytes();
    let n = serial.to_be_bytes();
    [version, 1, s[0], s[1], 0, 0, 0, 12, n[0], n[1], n[2], n[3]]
}

/// A session's state, for the model.
#[derive(Debug, Default)]
pub struct CacheState {
    /// Whether the VRPs are in sync with a connected cache.
    pub established: std::sync::atomic::AtomicBool,
    /// Session id and serial of the data in use.
    pub session: AtomicU32,
    /// Serial.
    pub serial: AtomicU32,
    /// IPv4 VRPs.
    pub v4: AtomicU64,
    /// IPv6 VRPs.
    pub v6: AtomicU64,
    /// Why the last connection ended.
    pub last_error: Mutex<Option<String>>,
}

/// A cache's VRPs changed: the whole set it gives now (the session's own,
/// shared: the union keeps no copy).
pub struct CacheUpdate {
    /// The cache.
    pub cache: SocketAddr,
    /// Its VRPs.
    pub vrps: Arc<HashSet<Vrp>>,
}

/// Runs the session with one cache until `stop`: connects, loads the VRPs,
/// follows them (Serial Notify, refresh), reconnects after failures, and
/// drops them when they are older than the expire interval.
pub async fn run(
    settings: CacheSettings,
    state: Arc<CacheState>,
    updates: mpsc::UnboundedSender<CacheUpdate>,
    mut stop: watch::Receiver<bool>,
) {
    let mut vrps: Arc<HashSet<Vrp>> = Arc::default();
    let mut version = 1u8;
    let mut last_ok: Option<Instant> = None;
    let mut since: Option<(u16, u32)> = None;
    loop {
        let outcome = tokio::select! {
            r = session(&settings, &state, &updates, &mut vrps, &mut version, &mut last_ok, &mut since) => r,
            _ = stop.changed() => return,
        };
        state.established.store(false, Ordering::Relaxed);
        if let Err(e) = outcome {
            tracing::info!(cache = %settings.address, error = %e, "RPKI cache session ended");
            *state.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
        }
        // Wait to connect again, dropping the VRPs if they expire meanwhile.
        let retry = Instant::now() + Duration::from_secs(u64::from(settings.retry));
        let expire = last_ok.map(|t| t + Duration::from_secs(u64::from(settings.expire)));
        loop {
            let wake = match expire {
                Some(e) if e < retry && !vrps.is_empty() => e,
                _ => retry,
            };
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                _ = stop.changed() => return,
            }
            if Some(wake) == expire && !vrps.is_empty() {
                tracing::warn!(cache = %settings.address, "RPKI cache's VRPs expired");
                vrps = Arc::default();
                since = None;
                publish(&settings, &state, &updates, &vrps);
            }
            if wake >= retry {
                break;
            }
        }
    }
}

fn publish(
    settings: &CacheSettings,
    state: &CacheState,
    updates: &mpsc::UnboundedSender<CacheUpdate>,
    vrps: &Arc<HashSet<Vrp>>,
) {
    let v4 = vrps.iter().filter(|v| v.prefix.addr().is_ipv4()).count() as u64;
    state.v4.store(v4, Ordering::Relaxed);
    state.v6.store(vrps.len() as u64 - v4, Ordering::Relaxed);
    let _ = updates.send(CacheUpdate {
        cache: settings.address,
        vrps: vrps.clone(),
    });
}

/// One connection to the cache.
#[allow(clippy::too_many_arguments)]
async fn session(
    settings: &CacheSettings,
    state: &CacheState,
    updates: &mpsc::UnboundedSender<CacheUpdate>,
    vrps: &mut Arc<HashSet<Vrp>>,
    version: &mut u8,
    last_ok: &mut Option<Instant>,
    since: &mut Option<(u16, u32)>,
) -> Result<(), RtrError> {
    let mut stream = tokio::time::timeout(
        Duration::from_secs(10),
        TcpStream::connect(settings.address),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    tracing::info!(cache = %settings.address, "RPKI cache connected");
    match *since {
        Some((session, serial)) => {
            stream
                .write_all(&serial_query(*version, session, serial))
                .await?
        }
        None => stream.write_all(&reset_query(*version)).await?,
    }
    let mut refresh = Duration::from_secs(u64::from(settings.refresh));
    let mut next_refresh = Instant::now() + refresh;
    let mut buf = BytesMut::with_capacity(64 * 1024);
    // A response in progress: (full reset, announced, withdrawn).
    let mut pending: Option<(bool, Vec<Vrp>, Vec<Vrp>)> = None;
    loop {
        while let Some(pdu) = decode(&mut buf)? {
            match pdu {
                Pdu::SerialNotify { .. } => {
                    if pending.is_none() {
                        if let Some((s, n)) = *since {
                            stream.write_all(&serial_query(*version, s, n)).await?;
                        }
                    }
                }
                Pdu::CacheResponse { session } => {
                    let full = since.is_none_or(|(s, _)| s != session);
                    pending = Some((full, Vec::new(), Vec::new()));
                }
                Pdu::Prefix(announce, vrp) => {
                    if let Some((_, add, del)) = &mut pending {
                        if announce {
                            add.push(vrp);
                        } else {
                            del.push(vrp);
                        }
                    }
                }
                Pdu::EndOfData {
                    session,
                    serial,
                    timers,
                } => {
                    if let Some((full, add, del)) = pending.take() {
                        if full {
                            // A new set: the one the union holds is left
                            // to it, not copied.
                            let mut set: HashSet<Vrp> = add.into_iter().collect();
                            for v in &del {
                                set.remove(v);
                            }
                            *vrps = Arc::new(set);
                        } else {
                            // Copied only while the union still holds the
                            // previous set (it drops it on this update).
                            let set = Arc::make_mut(vrps);
                            for v in &del {
                                set.remove(v);
                            }
                            set.extend(add);
                        }
                        *since = Some((session, serial));
                        *last_ok = Some(Instant::now());
                        state.session.store(u32::from(session), Ordering::Relaxed);
                        state.serial.store(serial, Ordering::Relaxed);
                        state.established.store(true, Ordering::Relaxed);
                        publish(settings, state, updates, vrps);
                        tracing::info!(cache = %settings.address, serial, vrps = vrps.len(), "RPKI cache data in sync");
                    }
                    if let Some((r, _, _)) = timers {
                        refresh = Duration::from_secs(u64::from(r.clamp(1, 86400)));
                    }
                    next_refresh = Instant::now() + refresh;
                }
                Pdu::CacheReset => {
                    *since = None;
                    stream.write_all(&reset_query(*version)).await?;
                }
                Pdu::Ignored => {}
                Pdu::ErrorReport { code, text } => {
                    if code == 4 && *version == 1 {
                        // Unsupported protocol version: version 0 (RFC 6810).
                        *version = 0;
                    }
                    return Err(RtrError::Report { code, text });
                }
            }
        }
        tokio::select! {
            n = stream.read_buf(&mut buf) => {
                if n? == 0 {
                    return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the cache closed the connection").into());
                }
            }
            _ = tokio::time::sleep_until(next_refresh) => {
                next_refresh = Instant::now() + refresh;
                if let (None, Some((s, n))) = (&pending, *since) {
                    stream.write_all(&serial_query(*version, s, n)).await?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_rfc8210_pdus_and_refuses_bad_ones() {
        let mut b = BytesMut::new();
        // Cache Response, IPv4 Prefix announce 192.0.2.0/24-24 AS 65001,
        // IPv6 withdraw 2001:db8::/32-48 AS 65002, End of Data v1.
        b.extend_from_slice(&[1, 3, 0, 7, 0, 0, 0, 8]);
        b.extend_from_slice(&[
            1, 4, 0, 0, 0, 0, 0, 20, 1, 24, 24, 0, 192, 0, 2, 0, 0, 0, 0xfd, 0xe9,
        ]);
        let mut v6 = vec![
            1, 6, 0, 0, 0, 0, 0, 32, 0, 32, 48, 0, 0x20, 0x01, 0x0d, 0xb8,
        ];
        v6.extend_from_slice(&[0; 12]);
        v6.extend_from_slice(&[0, 0, 0xfd, 0xea]);
        b.extend_from_slice(&v6);
        b.extend_from_slice(&[
            1, 7, 0, 7, 0, 0, 0, 24, 0, 0, 0, 5, 0, 0, 0, 60, 0, 0, 0, 60, 0, 0, 2, 88,
        ]);
        assert_eq!(
            decode(&mut b).unwrap(),
            Some(Pdu::CacheResponse { session: 7 })
        );
        let Some(Pdu::Prefix(true, v)) = decode(&mut b).unwrap() else {
            panic!()
        };
        assert_eq!(
            (v.prefix.to_string(), v.max_len, v.asn),
            ("192.0.2.0/24".into(), 24, 65001)
        );
        let Some(Pdu::Prefix(false, v)) = decode(&mut b).unwrap() else {
            panic!()
        };
        assert_eq!(
            (v.prefix.to_string(), v.max_len, v.asn),
            ("2001:db8::/32".into(), 48, 65002)
        );
        assert_eq!(
            decode(&mut b).unwrap(),
            Some(Pdu::EndOfData {
                session: 7,
                serial: 5,
                timers: Some((60, 60, 600))
            })
        );
        assert_eq!(decode(&mut b).unwrap(), None);
        // Truncated: wait; bad length, max below prefix length, unknown
        // type: refused.
        let mut t = BytesMut::from(&[1u8, 3, 0, 7, 0, 0][..]);
        assert_eq!(decode(&mut t).unwrap(), None);
        for bad in [
            &[1u8, 3, 0, 7, 0, 0, 0, 4][..],
            &[
                1, 4, 0, 0, 0, 0, 0, 20, 1, 24, 16, 0, 192, 0, 2, 0, 0, 0, 0, 1,
            ],
            &[
                1, 4, 0, 0, 0, 0, 0, 20, 1, 40, 40, 0, 192, 0, 2, 0, 0, 0, 0, 1,
            ],
            &[1, 77, 0, 0, 0, 0, 0, 8],
            &[1, 7, 0, 7, 0, 0, 0, 10, 0, 0],
        ] {
            let mut b = BytesMut::from(bad);
            assert!(decode(&mut b).is_err(), "{bad:?}");
        }
        assert_eq!(serial_query(1, 7, 5), [1, 1, 0, 7, 0, 0, 0, 12, 0, 0, 0, 5]);
        assert_eq!(reset_query(0), [0, 2, 0, 0, 0, 0, 0, 8]);
    }

    #[test]
    fn error_reports_carry_their_text() {
        let mut b = BytesMut::new();
        b.extend_from_slice(&[1, 10, 0, 4, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 4]);
        b.extend_from_slice(b"nope");
        assert_eq!(
            decode(&mut b).unwrap(),
            Some(Pdu::ErrorReport {
                code: 4,
                text: "nope".into()
            })
        );
    }
}
