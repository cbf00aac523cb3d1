//! Per-address rate limits: a token bucket per limiter and client address group
//! ([`keyport_domain::rate_limit`] has the arithmetic).
//!
//! - Only counted events reach a limiter: calls to the login endpoints, and failed authentications (counted
//!   *after* authenticating, so a request with a valid credential is never refused because of failures
//!   from its address, see `authz.rs`).
//! - Addresses are grouped: an IPv4 address is its own group, an IPv6 address counts for its /64 (one
//!   subscriber's network, which an attacker can fill with addresses at will), an IPv4-mapped IPv6 address
//!   (`::ffff:a.b.c.d`, how a dual-stack listener sees IPv4 clients) as the IPv4 address.
//! - With a [`RateLimitStore`] (PostgreSQL) the buckets are shared by every replica. An address the store
//!   has refused is remembered here until its next token is due, so a flood from a waiting address costs
//!   no query. When the store fails or answers too slowly, the limiter falls back to its own in-memory
//!   buckets (the limit then holds per process, as without a store) and logs it.
//! - In memory, at most [`MAX_TRACKED`] groups are kept; a new group beyond that evicts the least recently
//!   updated ones, one at a time. Counters are never reset wholesale.

use keyport_domain::identity::RateLimitStore;
use keyport_domain::identity::{retry_after_secs, RateDecision, RateLimit};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Address groups kept in memory per limiter (buckets, and refusals remembered from the store).
pub const MAX_TRACKED: usize = 10_000;

/// How long a limiter waits for the shared store before deciding with its in-memory buckets.
const STORE_TIMEOUT: Duration = Duration::from_secs(1);

/// How often a failing store is logged at most (a flood of failures during an outage is one line a minute).
const STORE_WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// What a limit counts: an IPv4 address, or the /64 network of an IPv6 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressGroup {
    V4(Ipv4Addr),
    /// The first 64 bits of the address.
    V6Net(u64),
}

impl AddressGroup {
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4),
                None => Self::V6Net((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

/// `198.51.100.7`, `2001:db8:1:2::/64`: the key under which the shared store keeps the bucket.
impl fmt::Display for AddressGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4(v4) => write!(f, "{v4}"),
            Self::V6Net(net) => write!(f, "{}/64", Ipv6Addr::from(u128::from(*net) << 64)),
        }
    }
}

/// A map of at most `capacity` groups that forgets the least recently updated one to make room.
#[derive(Debug)]
struct Table<V> {
    capacity: usize,
    /// Each group's value and the stamp of its last update.
    entries: HashMap<AddressGroup, (V, u64)>,
    /// Stamps in update order (oldest first), to find the group to evict without a scan.
    order: BTreeMap<u64, AddressGroup>,
    next_stamp: u64,
}

impl<V> Table<V> {
    fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next_stamp: 0,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn get(&self, group: &AddressGroup) -> Option<&V> {
        self.entries.get(group).map(|(v, _)| v)
    }

    fn remove(&mut self, group: &AddressGroup) {
        if let Some((_, stamp)) = self.entries.remove(group) {
            self.order.remove(&stamp);
        }
    }

    /// The group's value, created by `fresh` if absent, marked as the most recently updated. A new group in
    /// a full table first evicts the least recently updated one.
    fn update(&mut self, group: AddressGroup, fresh: impl FnOnce() -> V) -> &mut V {
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        match self.entries.get(&group).map(|(_, s)| *s) {
            Some(old) => {
                self.order.remove(&old);
            }
            None => {
                while self.entries.len() >= self.capacity {
                    let Some((_, oldest)) = self.order.pop_first() else {
                        break;
                    };
                    self.entries.remove(&oldest);
                }
            }
        }
        self.order.insert(stamp, group);
        let entry = self
            .entries
            .entry(group)
            .or_insert_with(|| (fresh(), stamp));
        entry.1 = stamp;
        &mut entry.0
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// One limit (the login endpoints, or failed authentications): a token bucket per address group.
pub struct Limiter {
    /// The limiter's name in the shared store: `login`, `auth_failures`.
    name: &'static str,
    limit: RateLimit,
    /// The buckets of this process: all of them without a store, the fallback when the store fails.
    local: Mutex<Table<Bucket>>,
    /// With a store: groups it refused, until their next token is due.
    refused: Mutex<Table<Instant>>,
    store: Option<Arc<dyn RateLimitStore>>,
    last_warning: Mutex<Option<Instant>>,
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("name", &self.name)
            .field("limit", &self.limit)
            .field("shared", &self.store.is_some())
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// A limiter of this process alone, keeping at most [`MAX_TRACKED`] groups.
    pub fn new(name: &'static str, limit: RateLimit) -> Self {
        Self::with_capacity(name, limit, MAX_TRACKED)
    }

    fn with_capacity(name: &'static str, limit: RateLimit, capacity: usize) -> Self {
        Self {
            name,
            limit,
            local: Mutex::new(Table::new(capacity)),
            refused: Mutex::new(Table::new(capacity)),
            store: None,
            last_warning: Mutex::new(None),
        }
    }

    /// The same limiter with its buckets in `store`, shared with every process that uses it.
    pub fn shared(mut self, store: Arc<dyn RateLimitStore>) -> Self {
        self.store = Some(store);
        self
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Counts one event from `addr`: `Err(seconds to wait)` when the address group has no token left.
    /// Requests without an address, and every request when the limit is off, pass.
    pub async fn hit(&self, addr: Option<IpAddr>) -> Result<(), u64> {
        let (Some(addr), true) = (addr, self.limit.enabled()) else {
            return Ok(());
        };
        let group = AddressGroup::of(addr);
        let Some(store) = &self.store else {
            return self.take_local(group, Instant::now());
        };
        if let Some(wait) = self.still_refused(group, Instant::now()) {
            return Err(retry_after_secs(wait));
        }
        let key = group.to_string();
        let answer =
            actix_web::rt::time::timeout(STORE_TIMEOUT, store.take(self.name, &key, self.limit))
                .await;
        match answer {
            Ok(Ok(RateDecision::Granted)) => Ok(()),
            Ok(Ok(RateDecision::Refused { retry_after })) => {
                let until = Instant::now() + retry_after;
                *lock(&self.refused).update(group, || until) = until;
                Err(retry_after_secs(retry_after))
            }
            Ok(Err(error)) => {
                self.warn(&error.to_string());
                self.take_local(group, Instant::now())
            }
            Err(_elapsed) => {
                self.warn("no answer within 1 s");
                self.take_local(group, Instant::now())
            }
        }
    }

    /// How long the store's last refusal of `group` still holds, if it does.
    fn still_refused(&self, group: AddressGroup, now: Instant) -> Option<Duration> {
        let mut refused = lock(&self.refused);
        let until = *refused.get(&group)?;
        if until > now {
            return Some(until - now);
        }
        refused.remove(&group);
        None
    }

    /// One take from this process's bucket of `group` at `now`.
    fn take_local(&self, group: AddressGroup, now: Instant) -> Result<(), u64> {
        let limit = self.limit;
        let mut local = lock(&self.local);
        let bucket = local.update(group, || Bucket {
            tokens: limit.capacity(),
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        let (tokens, decision) = limit.take(bucket.tokens, elapsed);
        *bucket = Bucket {
            tokens,
            updated: now.max(bucket.updated),
        };
        match decision {
            RateDecision::Granted => Ok(()),
            RateDecision::Refused { retry_after } => Err(retry_after_secs(retry_after)),
        }
    }

    fn warn(&self, error: &str) {
        let now = Instant::now();
        let mut last = lock(&self.last_warning);
        if last.is_some_and(|at| now.saturating_duration_since(at) < STORE_WARNING_INTERVAL) {
            return;
        }
        *last = Some(now);
        tracing::warn!(
            limiter = self.name,
            error,
            "the shared rate-limit store failed; limiting in this process only"
        );
    }

    /// Forgets the shared buckets that are full again; answers how many.
    pub async fn prune(&self) -> Result<u64, keyport_domain::StoreError> {
        match &self.store {
            Some(store) if self.limit.enabled() => {
                store.prune(self.name, self.limit.full_after()).await
            }
            _ => Ok(0),
        }
    }
}

/// The limits the API applies.
#[derive(Debug)]
pub struct Limits {
    /// Calls to the login endpoints (start, callback, development login).
    pub login: Limiter,
    /// Failed authentications (unknown, expired or malformed tokens and session cookies), counted after
    /// authenticating: valid credentials are never refused by this limit.
    pub failures: Limiter,
}

impl Limits {
    /// Limits kept in this process's memory; each `per_minute` is also the burst (0: off).
    pub fn new(login_per_minute: u32, failures_per_minute: u32) -> Self {
        Self {
            login: Limiter::new("login", RateLimit::new(login_per_minute, login_per_minute)),
            failures: Limiter::new(
                "auth_failures",
                RateLimit::new(failures_per_minute, failures_per_minute),
            ),
        }
    }

    /// The same limits with their buckets in `store`, shared by every replica.
    pub fn shared(self, store: Arc<dyn RateLimitStore>) -> Self {
        Self {
            login: self.login.shared(store.clone()),
            failures: self.failures.shared(store),
        }
    }

    /// Forgets the shared buckets that are full again (meant for a periodic task); answers how many.
    pub async fn prune(&self) -> Result<u64, keyport_domain::StoreError> {
        Ok(self.login.prune().await? + self.failures.prune().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyport_domain::identity::MockRateLimitStore;
    use keyport_domain::StoreError;

    fn v4(n: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, n]))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_addresses_count_per_64_and_mapped_ipv4_as_ipv4() {
        let a = AddressGroup::of(ip("2001:db8:1:2::1"));
        let b = AddressGroup::of(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        let other = AddressGroup::of(ip("2001:db8:1:3::1"));
        assert_eq!(a, b, "one /64, one group");
        assert_ne!(a, other);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        assert_eq!(
            AddressGroup::of(ip("::ffff:198.51.100.7")),
            AddressGroup::of(ip("198.51.100.7"))
        );
        assert_eq!(
            AddressGroup::of(ip("::ffff:198.51.100.7")).to_string(),
            "198.51.100.7"
        );
        assert_ne!(
            AddressGroup::of(ip("198.51.100.7")),
            AddressGroup::of(ip("198.51.100.8")),
            "IPv4 addresses are not grouped"
        );
        assert_eq!(AddressGroup::of(ip("::1")).to_string(), "::/64");
    }

    #[tokio::test]
    async fn addresses_of_one_64_share_a_bucket() {
        let limiter = Limiter::new("auth_failures", RateLimit::new(6, 2));
        assert_eq!(limiter.hit(Some(ip("2001:db8::1"))).await, Ok(()));
        assert_eq!(limiter.hit(Some(ip("2001:db8::2"))).await, Ok(()));
        assert!(limiter.hit(Some(ip("2001:db8::3"))).await.is_err());
        assert_eq!(limiter.hit(Some(ip("2001:db8:0:1::1"))).await, Ok(()));
    }

    #[tokio::test]
    async fn a_burst_passes_then_the_address_waits_while_others_do_not() {
        let limiter = Limiter::new("login", RateLimit::new(6, 3));
        for _ in 0..3 {
            assert_eq!(limiter.hit(v4(1)).await, Ok(()));
        }
        // One token comes back every 10 s at 6 per minute.
        let wait = limiter.hit(v4(1)).await.unwrap_err();
        assert!((1..=10).contains(&wait), "{wait}");
        assert_eq!(limiter.hit(v4(2)).await, Ok(()));
        assert_eq!(limiter.hit(None).await, Ok(()));
        let off = Limiter::new("login", RateLimit::new(0, 1));
        for _ in 0..100 {
            assert_eq!(off.hit(v4(1)).await, Ok(()));
        }
    }

    #[test]
    fn a_full_table_evicts_the_least_recently_updated_group_and_keeps_the_rest() {
        let limiter = Limiter::with_capacity("auth_failures", RateLimit::new(1, 2), 3);
        let t0 = Instant::now();
        let group = |n: u8| AddressGroup::of(IpAddr::from([10, 0, 0, n]));
        // Groups 1, 2, 3 each spend their two tokens; 1 is then touched again, so 2 is the oldest.
        for n in 1..=3 {
            assert_eq!(limiter.take_local(group(n), t0), Ok(()));
            assert_eq!(limiter.take_local(group(n), t0), Ok(()));
        }
        assert!(limiter.take_local(group(1), t0).is_err());
        // A fourth group makes room by evicting group 2 alone.
        assert_eq!(limiter.take_local(group(4), t0), Ok(()));
        let local = lock(&limiter.local);
        assert_eq!(local.len(), 3);
        assert!(local.get(&group(2)).is_none(), "the oldest went");
        for n in [1, 3] {
            assert_eq!(
                local.get(&group(n)).map(|b| b.tokens),
                Some(0.0),
                "group {n} keeps its count"
            );
        }
        drop(local);
        assert!(limiter.take_local(group(1), t0).is_err());
        assert!(limiter.take_local(group(3), t0).is_err());
        // The evicted group starts full, as an address never seen.
        assert_eq!(limiter.take_local(group(2), t0), Ok(()));
    }

    #[test]
    fn a_flood_of_new_groups_never_resets_the_recent_ones() {
        let capacity = 100;
        let limiter = Limiter::with_capacity("auth_failures", RateLimit::new(1, 1), capacity);
        let t0 = Instant::now();
        let guesser = AddressGroup::of(ip("198.51.100.7"));
        assert_eq!(limiter.take_local(guesser, t0), Ok(()));
        assert!(limiter.take_local(guesser, t0).is_err());
        // Half a table of other addresses later, the guesser is still counted.
        for n in 0..(capacity as u32 / 2) {
            let _ = limiter.take_local(AddressGroup::V4(Ipv4Addr::from(n)), t0);
        }
        assert!(limiter.take_local(guesser, t0).is_err());
        // Its refusals keep it recent: the table never holds more than its capacity.
        for n in 0..(capacity as u32 * 5) {
            let _ = limiter.take_local(AddressGroup::V4(Ipv4Addr::from(1_000 + n)), t0);
            if n % 10 == 0 {
                assert!(limiter.take_local(guesser, t0).is_err(), "after {n}");
            }
        }
        assert_eq!(lock(&limiter.local).len(), capacity);
    }

    #[test]
    fn local_buckets_refill_with_time() {
        let limiter = Limiter::new("auth_failures", RateLimit::new(60, 2));
        let t0 = Instant::now();
        let group = AddressGroup::of(ip("198.51.100.7"));
        assert_eq!(limiter.take_local(group, t0), Ok(()));
        assert_eq!(limiter.take_local(group, t0), Ok(()));
        assert_eq!(limiter.take_local(group, t0), Err(1));
        assert_eq!(
            limiter.take_local(group, t0 + Duration::from_millis(1_000)),
            Ok(())
        );
        assert_eq!(
            limiter.take_local(group, t0 + Duration::from_millis(1_500)),
            Err(1)
        );
    }

    #[tokio::test]
    async fn the_shared_store_decides_and_a_refusal_is_remembered_until_it_expires() {
        let mut store = MockRateLimitStore::new();
        store
            .expect_take()
            .withf(|limiter, group, limit| {
                limiter == "auth_failures" && group == "2001:db8:1:2::/64" && limit.burst == 5
            })
            .times(2)
            .returning({
                let mut calls = 0;
                move |_, _, _| {
                    calls += 1;
                    Ok(if calls == 1 {
                        RateDecision::Granted
                    } else {
                        RateDecision::Refused {
                            retry_after: Duration::from_secs(30),
                        }
                    })
                }
            });
        let limiter = Limiter::new("auth_failures", RateLimit::new(5, 5)).shared(Arc::new(store));
        let addr = Some(ip("2001:db8:1:2::9"));
        assert_eq!(limiter.hit(addr).await, Ok(()));
        assert_eq!(limiter.hit(addr).await, Err(30));
        // Remembered: no third call reaches the store (`times(2)`).
        let wait = limiter.hit(addr).await.unwrap_err();
        assert!((29..=30).contains(&wait), "{wait}");
    }

    #[tokio::test]
    async fn when_the_store_fails_the_limit_holds_in_this_process() {
        let mut store = MockRateLimitStore::new();
        store
            .expect_take()
            .returning(|_, _, _| Err(StoreError::Unavailable("down".to_owned())));
        let limiter = Limiter::new("auth_failures", RateLimit::new(6, 2)).shared(Arc::new(store));
        assert_eq!(limiter.hit(v4(1)).await, Ok(()));
        assert_eq!(limiter.hit(v4(1)).await, Ok(()));
        assert!(limiter.hit(v4(1)).await.is_err());
        assert_eq!(limiter.hit(v4(2)).await, Ok(()));
    }

    #[tokio::test]
    async fn pruning_asks_the_store_for_buckets_idle_until_full() {
        let mut store = MockRateLimitStore::new();
        store
            .expect_prune()
            .withf(|limiter, idle| limiter == "login" && *idle == Duration::from_secs(60))
            .times(1)
            .returning(|_, _| Ok(3));
        store
            .expect_prune()
            .withf(|limiter, idle| limiter == "auth_failures" && *idle == Duration::from_secs(60))
            .times(1)
            .returning(|_, _| Ok(4));
        let limits = Limits::new(30, 60).shared(Arc::new(store));
        assert_eq!(limits.prune().await, Ok(7));
        assert_eq!(Limits::new(30, 60).prune().await, Ok(0));
    }
}
