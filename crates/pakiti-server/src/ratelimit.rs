//! Failed log-in limiting for built-in accounts: at most `max_failures` failed log-ins per
//! client address and per user name within a sliding `window`; past that, `POST /login`
//! answers 429 with `Retry-After` without looking at the password (no argon2 run, so a
//! blocked guesser costs no CPU either). A successful log-in clears its user name's failures.
//!
//! The counters live in memory, per process: several servers behind one load balancer each
//! allow `max_failures`, and a restart forgets them. That bounds guessing to a few attempts a
//! minute per server, which is what this is for; it is not an audit trail.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys kept before a sweep drops the ones with no failure left in the window.
const SWEEP_AT: usize = 10_000;

/// The failure counters (see the module docs).
#[derive(Debug)]
pub struct LoginLimiter {
    max_failures: usize,
    window: Duration,
    inner: Mutex<Inner>,
    /// Password verifications run (argon2), for the statistics and to show that blocked
    /// attempts run none.
    verifications: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    by_addr: HashMap<IpAddr, Vec<Instant>>,
    by_user: HashMap<String, Vec<Instant>>,
}

/// Drops the failures older than `window` and says how long until the oldest remaining one
/// expires, when `max` or more remain.
fn blocked(
    list: &mut Vec<Instant>,
    max: usize,
    window: Duration,
    now: Instant,
) -> Option<Duration> {
    list.retain(|t| now.saturating_duration_since(*t) < window);
    if max == 0 || list.len() < max {
        return None;
    }
    // The failure whose expiry brings the count under `max`.
    let oldest = list[list.len() - max];
    Some(
        (oldest + window)
            .saturating_duration_since(now)
            .max(Duration::from_secs(1)),
    )
}

impl LoginLimiter {
    /// A limiter of `max_failures` per `window`; `0` failures disables it.
    #[must_use]
    pub fn new(max_failures: u32, window: Duration) -> Self {
        LoginLimiter {
            max_failures: usize::try_from(max_failures).unwrap_or(usize::MAX),
            window,
            inner: Mutex::default(),
            verifications: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Counts a password verification (the log-in handler calls it before argon2).
    pub fn verifying(&self) {
        self.verifications
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many password verifications this process ran.
    #[must_use]
    pub fn verifications(&self) -> u64 {
        self.verifications
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts a log-in attempt: `Err(retry_after)` when the address or the user name has
    /// used up its failures; otherwise the attempt is counted as a failure right away (so
    /// that concurrent guesses cannot all pass the check before any is counted) until
    /// [`LoginLimiter::success`] takes it back.
    ///
    /// # Errors
    /// Blocked: how long until one more attempt is allowed.
    pub fn attempt(&self, addr: IpAddr, user: &str, now: Instant) -> Result<(), Duration> {
        if self.max_failures == 0 {
            return Ok(());
        }
        let (max, window) = (self.max_failures, self.window);
        let mut g = self.lock();
        let a = g
            .by_addr
            .get_mut(&addr)
            .and_then(|l| blocked(l, max, window, now));
        let u = g
            .by_user
            .get_mut(user)
            .and_then(|l| blocked(l, max, window, now));
        if let Some(wait) = a.max(u) {
            return Err(wait);
        }
        if g.by_addr.len() + g.by_user.len() > SWEEP_AT {
            let fresh = |l: &mut Vec<Instant>| {
                l.retain(|t| now.saturating_duration_since(*t) < window);
                !l.is_empty()
            };
            g.by_addr.retain(|_, l| fresh(l));
            g.by_user.retain(|_, l| fresh(l));
        }
        g.by_addr.entry(addr).or_default().push(now);
        g.by_user.entry(user.to_owned()).or_default().push(now);
        Ok(())
    }

    /// The attempt started at `started` succeeded: it no longer counts against the address,
    /// and the user name's failures are forgotten (the address's earlier ones are not, so one
    /// valid account does not reset a guesser's budget for the others).
    pub fn success(&self, addr: IpAddr, user: &str, started: Instant) {
        let mut g = self.lock();
        g.by_user.remove(user);
        if let Some(l) = g.by_addr.get_mut(&addr) {
            if let Some(i) = l.iter().rposition(|t| *t == started) {
                l.remove(i);
            }
            if l.is_empty() {
                g.by_addr.remove(&addr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_address_and_user_name() {
        let l = LoginLimiter::new(3, Duration::from_secs(900));
        let t0 = Instant::now();
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for i in 0..3 {
            assert_eq!(
                l.attempt(a, "root", t0 + Duration::from_secs(i)),
                Ok(()),
                "attempt {i}"
            );
        }
        // The address is blocked for every name, the name from every address.
        let now = t0 + Duration::from_secs(10);
        assert_eq!(l.attempt(a, "alice", now), Err(Duration::from_secs(890)));
        assert_eq!(l.attempt(b, "root", now), Err(Duration::from_secs(890)));
        // The oldest failure expires: one more attempt.
        let later = t0 + Duration::from_secs(900);
        assert_eq!(l.attempt(b, "root", later), Ok(()));
        // That one succeeds: the name is cleared, and b's count is back to none.
        l.success(b, "root", later);
        for _ in 0..3 {
            assert_eq!(l.attempt(b, "alice", now), Ok(()));
        }
        assert!(l.attempt(b, "bob", now).is_err());
        assert!(l.attempt(a, "root", now).is_err(), "a's failures stay");
        // 0 disables.
        let off = LoginLimiter::new(0, Duration::from_secs(900));
        for _ in 0..10 {
            assert_eq!(off.attempt(a, "root", t0), Ok(()));
        }
    }
}
