//! Session timers: connect-retry back-off with jitter, keepalive interval
//! and hold time.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use super::config::PeerConfig;

/// The hold timer in OpenSent, before the hold time is negotiated: RFC
/// 4271 8.2.2 suggests 4 minutes.
pub const OPEN_HOLD: Duration = Duration::from_secs(240);
/// The longest wait between connection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(120);
/// Longest random delay of a session's first connection attempt.
pub const FIRST_ATTEMPT_JITTER: Duration = Duration::from_millis(100);
/// Bound on writing a NOTIFICATION to a connection being closed.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// A random factor in [lo, hi): timers are jittered so that peers do not
/// act in lockstep (RFC 4271 10 suggests 0.75 to 1.0).
pub fn jitter(d: Duration, lo: f64, hi: f64) -> Duration {
    // RandomState is seeded per instance from the system's randomness.
    let mut h = RandomState::new().build_hasher();
    h.write_u64(d.as_nanos() as u64);
    let unit = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
    d.mul_f64(lo + (hi - lo) * unit)
}

/// Delays between connection attempts: the connect-retry time after the
/// first failure, doubling with each further failure up to the larger of
/// `MAX_BACKOFF` and the connect-retry time, each jittered; back to the
/// start once a session is established.
#[derive(Debug, Clone, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The wait after one more failure.
    pub fn next(&mut self, config: &PeerConfig) -> Duration {
        let base = config.connect_timeout();
        let cap = MAX_BACKOFF.max(base);
        let delay = base.saturating_mul(1u32 << self.failures.min(16)).min(cap);
        self.failures = self.failures.saturating_add(1);
        jitter(delay, 0.75, 1.0)
    }

    /// Forgets past failures.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// The keepalive interval for a negotiated hold time: the configured one
/// bounded by a third of the hold time (RFC 4271 4.4, 10), at least a
/// second; `None` when the hold time is 0.
pub fn keepalive_interval(config: &PeerConfig, hold_time: u16) -> Option<Duration> {
    if hold_time == 0 {
        return None;
    }
    let third = hold_time / 3;
    let secs = match config.timers.keepalive {
        0 => third,
        k => k.min(third),
    };
    Some(Duration::from_secs(u64::from(secs.max(1))))
}

/// The hold timer for a negotiated hold time; `None` when it is 0.
pub fn hold_duration(hold_time: u16) -> Option<Duration> {
    (hold_time > 0).then(|| Duration::from_secs(u64::from(hold_time)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(connect_retry: u16) -> PeerConfig {
        let mut c = PeerConfig::new(
            "192.0.2.2".parse().unwrap(),
            1,
            2,
            "192.0.2.1".parse().unwrap(),
        );
        c.timers.connect_retry = connect_retry;
        c
    }

    #[test]
    fn backoff_grows_to_a_cap_with_jitter() {
        let c = config(30);
        let mut b = Backoff::default();
        let waits: Vec<Duration> = (0..6).map(|_| b.next(&c)).collect();
        for (w, max) in waits.iter().zip([30, 60, 120, 120, 120, 120]) {
            let max = Duration::from_secs(max);
            assert!(*w <= max && *w >= max.mul_f64(0.75), "{w:?} vs {max:?}");
        }
        b.reset();
        assert!(b.next(&c) <= Duration::from_secs(30));
        // A connect-retry above the cap is the cap.
        let mut b = Backoff::default();
        assert!(b.next(&config(300)) > Duration::from_secs(200));
    }

    #[test]
    fn keepalive_follows_hold_time() {
        let c = config(30);
        assert_eq!(keepalive_interval(&c, 90), Some(Duration::from_secs(30)));
        assert_eq!(keepalive_interval(&c, 9), Some(Duration::from_secs(3)));
        assert_eq!(keepalive_interval(&c, 0), None);
        assert_eq!(keepalive_interval(&c, 3), Some(Duration::from_secs(1)));
        assert_eq!(hold_duration(0), None);
    }
}
