//! Connections that have not logged in yet, kept from starving logins:
//! one mechanism for both doors (NETCONF's SSH, gNMI's HTTP/2).
//!
//! Every accepted connection is admitted here until it logs in; when more
//! than the cap wait, the oldest is told to go (as OpenSSH's `MaxStartups`
//! drops them). Idle sockets, or clients stuck in a handshake, so hold at
//! most the cap, and a real login gets its turn however many such
//! connections an attacker opens: each new one pushes out an old one.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::oneshot;

/// Connections waiting to log in, oldest first.
#[derive(Debug)]
pub struct PreAuth {
    cap: usize,
    waiting: Mutex<VecDeque<oneshot::Sender<()>>>,
}

impl PreAuth {
    /// At most `cap` connections wait to log in (at least one).
    pub fn new(cap: usize) -> PreAuth {
        PreAuth {
            cap: cap.max(1),
            waiting: Mutex::new(VecDeque::new()),
        }
    }

    /// Admits a new connection; the receiver fires when it must go
    /// because newer ones pushed it out. Connections that logged in or
    /// ended meanwhile are passed over (their receivers are gone or no
    /// longer listened to).
    pub fn admit(&self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        waiting.retain(|w| !w.is_closed());
        while waiting.len() >= self.cap {
            if let Some(oldest) = waiting.pop_front() {
                let _ = oldest.send(());
            }
        }
        waiting.push_back(tx);
        rx
    }

    /// How many are waiting (for tests).
    pub fn waiting(&self) -> usize {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        waiting.retain(|w| !w.is_closed());
        waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_waiting_connection_is_pushed_out() {
        let p = PreAuth::new(2);
        let mut a = p.admit();
        let mut b = p.admit();
        assert!(a.try_recv().is_err() && b.try_recv().is_err());
        let mut c = p.admit();
        assert!(a.try_recv().is_ok(), "the oldest goes");
        assert!(b.try_recv().is_err() && c.try_recv().is_err());
        // A connection that ended (logged in and dropped its receiver)
        // frees its place: nobody is pushed out.
        drop(b);
        let mut d = p.admit();
        assert!(c.try_recv().is_err() && d.try_recv().is_err());
        assert_eq!(p.waiting(), 2);
    }
}
