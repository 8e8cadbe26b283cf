//! Failed log-in limiting for built-in accounts: at most `max_failures` failed log-ins per
//! client address and per user name within a sliding `window`; past that, `POST /login`
//! answers 429 with `Retry-After` without looking at the password (no argon2 run, so a
//! blocked guesser costs no CPU either). A successful log-in clears its user name's failures.
//!
//! The counters live in memory, per process: several servers behind one load balancer each
//! allow `max_failures`, and a restart forgets them. That bounds guessing to a few attempts a
//! minute per server, which is what this is for; it is not an audit trail.
//!
//! [`KeyedLimiter`] is the rate limit of `POST /feed/` (per client address) and of API
//! tokens (per token): a token bucket per key, kept as GCRA's one "theoretical arrival time",
//! so `burst` requests pass at once and then one per `60 s / rate_per_minute`. It is written
//! here rather than taken from `governor` because it needs an injected clock for the tests,
//! bounded memory under a flood of new keys, and the "first refusal of an episode" signal
//! (`Limited::first`) that lets `/feed/` record one refused report per episode instead of one
//! store write per refused request; ~100 lines did not justify a crate with its own clock and
//! lock-free map (and their duplicates in the lock file).
//!
//! [`feed_key`] decides whose bucket a report request takes: the TCP peer's, or, for a peer
//! that is a trusted proxy, the address it forwards (`[limits] feed_rate_forwarded_for`) or
//! none at all (a proxy relaying a whole site's reports is not limited as one client).

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

/// Keys a [`KeyedLimiter`] holds before a sweep drops those whose bucket is full again.
const KEYED_SWEEP_AT: usize = 10_000;
/// Keys a [`KeyedLimiter`] holds at most: past it (after a sweep), the half closest to a full
/// bucket is forgotten, which only ever makes the limit more lenient for them.
const KEYED_MAX: usize = 100_000;

/// A refusal by a [`KeyedLimiter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    /// How long until one more request passes.
    pub retry_after: Duration,
    /// The first refusal since this key's last admitted request (record it; the rest of the
    /// episode is only counted).
    pub first: bool,
}

impl Limited {
    /// `Retry-After` in whole seconds, at least 1.
    #[must_use]
    pub fn retry_after_secs(&self) -> u64 {
        let d = self.retry_after;
        (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// GCRA's theoretical arrival time: the bucket is full again at `tat`.
    tat: Instant,
    /// Refused since the last admitted request.
    limited: bool,
}

/// A token bucket per key: `burst` requests at once, refilled at `rate_per_minute` (see the
/// module docs). A rate of 0 admits everything and keeps nothing.
#[derive(Debug)]
pub struct KeyedLimiter<K> {
    /// Time one token takes to come back; `None`: off.
    interval: Option<Duration>,
    /// `burst × interval`: how far ahead of now the arrival time may run.
    tolerance: Duration,
    rate_per_minute: u32,
    burst: u32,
    buckets: Mutex<Buckets<K>>,
}

#[derive(Debug)]
struct Buckets<K> {
    map: HashMap<K, Bucket>,
    /// The size at which the next sweep runs (doubling, so sweeps cost O(1) per new key).
    sweep_at: usize,
}

impl<K: std::hash::Hash + Eq + Clone> KeyedLimiter<K> {
    /// `rate_per_minute` requests a minute per key after a `burst` (at least 1); a rate of 0
    /// disables the limiter.
    #[must_use]
    pub fn new(rate_per_minute: u32, burst: u32) -> Self {
        let burst = burst.max(1);
        let interval = (rate_per_minute > 0).then(|| Duration::from_secs(60) / rate_per_minute);
        KeyedLimiter {
            interval,
            tolerance: interval.map_or(Duration::ZERO, |i| i * burst),
            rate_per_minute,
            burst,
            buckets: Mutex::new(Buckets {
                map: HashMap::new(),
                sweep_at: KEYED_SWEEP_AT,
            }),
        }
    }

    /// Whether the limiter limits anything.
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.interval.is_some()
    }

    /// The rate, per minute (0: off).
    #[must_use]
    pub fn rate_per_minute(&self) -> u32 {
        self.rate_per_minute
    }

    /// The burst (at least 1).
    #[must_use]
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Keys held now (what the memory bound bounds).
    #[must_use]
    pub fn keys(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .map
            .len()
    }

    /// Takes one token of `key`'s bucket at `now`.
    ///
    /// # Errors
    /// The bucket is empty: how long until a token is back, and whether this is the first
    /// refusal of the episode.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Limited> {
        let Some(interval) = self.interval else {
            return Ok(());
        };
        let mut guard = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Buckets { map, sweep_at } = &mut *guard;
        if let Some(b) = map.get_mut(key) {
            let next = b.tat.max(now) + interval;
            if next.saturating_duration_since(now) > self.tolerance {
                let first = !b.limited;
                b.limited = true;
                return Err(Limited {
                    retry_after: next.saturating_duration_since(now) - self.tolerance,
                    first,
                });
            }
            *b = Bucket {
                tat: next,
                limited: false,
            };
            return Ok(());
        }
        if map.len() >= *sweep_at {
            // A full bucket is the same as no bucket.
            map.retain(|_, b| b.tat > now);
            if map.len() >= KEYED_MAX {
                let mut tats: Vec<Instant> = map.values().map(|b| b.tat).collect();
                let mid = tats.len() / 2;
                let (_, median, _) = tats.select_nth_unstable(mid);
                let median = *median;
                map.retain(|_, b| b.tat > median);
            }
            *sweep_at = (map.len() * 2).clamp(KEYED_SWEEP_AT, KEYED_MAX);
        }
        map.insert(
            key.clone(),
            Bucket {
                tat: now + interval,
                limited: false,
            },
        );
        Ok(())
    }
}

/// The key of a report request for the `/feed/` limiter: the peer's address, or, when the peer
/// is a trusted proxy (`[proxies] addresses` or `dn_header_from`, `[auth] proxy_addresses`, or
/// a client certificate in `[proxies] certificate_dns`), the last `X-Forwarded-For` address
/// when `[limits] feed_rate_forwarded_for` believes it, else `None`: not limited. Proxies
/// trusted only by host name (`[proxies] hostnames`) are not recognised here (that needs a DNS
/// lookup, the cost a limit is meant to spare) and are limited like any client.
#[must_use]
pub fn feed_key(
    settings: &crate::settings::Settings,
    peer: IpAddr,
    client_cert_trusted: bool,
    headers: &axum::http::HeaderMap,
) -> Option<IpAddr> {
    let p = &settings.proxies;
    let in_any = |list: &[crate::net::Cidr]| {
        list.iter()
            .any(|spec| crate::net::cidr_contains(spec, peer))
    };
    let trusted = client_cert_trusted
        || in_any(&p.addresses)
        || in_any(&p.dn_header_from)
        || in_any(&settings.auth.proxy_addresses);
    if !trusted {
        return Some(peer);
    }
    if !settings.limits.feed_rate_forwarded_for {
        return None;
    }
    crate::net::last_forwarded_for(headers)
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

    #[test]
    fn keyed_buckets_pass_the_burst_then_the_rate() {
        let l = KeyedLimiter::new(6, 3); // one token every 10 s, 3 at once
        let t0 = Instant::now();
        let (a, b) = ("a".to_owned(), "b".to_owned());
        for i in 0..3 {
            assert_eq!(l.check(&a, t0), Ok(()), "burst {i}");
        }
        let e = l.check(&a, t0).unwrap_err();
        assert_eq!(e.retry_after, Duration::from_secs(10));
        assert!(e.first);
        assert_eq!(e.retry_after_secs(), 10);
        let e = l.check(&a, t0 + Duration::from_secs(4)).unwrap_err();
        assert_eq!(e.retry_after, Duration::from_secs(6));
        assert!(!e.first, "the same episode");
        // Another key has its own bucket.
        assert_eq!(l.check(&b, t0), Ok(()));
        // A token is back after 10 s, one only.
        assert_eq!(l.check(&a, t0 + Duration::from_secs(10)), Ok(()));
        let e = l.check(&a, t0 + Duration::from_secs(10)).unwrap_err();
        assert!(e.first, "a new episode after an admitted request");
        // A minute of silence refills the burst.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(l.check(&a, later), Ok(()));
        }
        assert!(l.check(&a, later).is_err());
        // Rate 0: off, nothing kept.
        let off = KeyedLimiter::new(0, 1);
        for _ in 0..100 {
            assert_eq!(off.check(&a, t0), Ok(()));
        }
        assert!(!off.enabled());
        assert_eq!(off.keys(), 0);
    }

    #[test]
    fn keyed_memory_is_bounded() {
        let t0 = Instant::now();
        // Full buckets are swept away.
        let l = KeyedLimiter::new(1, 1);
        for i in 0..KEYED_SWEEP_AT as u64 {
            assert_eq!(l.check(&i, t0), Ok(()));
        }
        assert_eq!(l.keys(), KEYED_SWEEP_AT);
        assert_eq!(l.check(&u64::MAX, t0 + Duration::from_secs(120)), Ok(()));
        assert_eq!(l.keys(), 1, "every bucket was full again");
        // Empty ones past the bound: half are forgotten.
        let l = KeyedLimiter::new(1, 1);
        for i in 0..(KEYED_MAX as u64 + 10) {
            assert_eq!(l.check(&i, t0 + Duration::from_micros(i)), Ok(()));
        }
        assert!(l.keys() <= KEYED_MAX, "{} keys", l.keys());
        // The newest keys are kept: still limited.
        assert!(
            l.check(&(KEYED_MAX as u64 + 9), t0 + Duration::from_secs(1))
                .is_err()
        );
    }
}
