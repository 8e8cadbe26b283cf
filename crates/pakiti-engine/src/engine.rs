//! [`Engine`]: the one owner of the server's in-memory state.
//!
//! It holds the indexes that are rebuilt from the store and swapped whole — the
//! [`Evaluator`] (advisories, with the binary → source maps), the [`Policy`] (CVE tags and
//! exceptions), the update index ([`UpdatesHandle`]) and the fleet index ([`FleetCell`]) — with
//! the fingerprints of the data each was built from, and the per-host memory of ingest (last
//! report hash, last body digest). Swaps are lock-free ([`ArcSwap`]): a reader takes a snapshot
//! (`Arc`) and keeps it for the whole request, whatever is swapped in meanwhile.
//!
//! Reloads, "did something change elsewhere" checks (another server sharing the database
//! imported a feed or synced a repository) and the fleet index's rebuilds are methods here;
//! re-evaluation, catch-up and the count refreshes are methods too, written in
//! [`crate::reevaluate`], and report ingest in [`crate::ingest`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use arc_swap::ArcSwap;
use pakiti_core::risk::CveFactsIndex;
use pakiti_store::HostIdentity;
use pakiti_store::Store;
use parking_lot::Mutex;

use crate::evaluate::{Evaluator, Policy};
use crate::fleet::{Built, Fleet, FleetCell};
use crate::metrics::EngineMetrics;
use crate::osrules::OsRules;
use crate::updates::UpdatesHandle;
use crate::writer::Writer;

/// The server's engine: cheap to clone (one `Arc` inside), shared by every request and job.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    writer: Writer,
    os_rules: OsRules,
    evaluator: ArcSwap<Evaluator>,
    policy: ArcSwap<Policy>,
    /// What the prioritisation feeds (CISA KEV, FIRST EPSS, CVSS) say about each CVE.
    cve_facts: ArcSwap<CveFactsIndex>,
    /// What the feeds looked like when the CVE facts were loaded
    /// ([`crate::cvefacts::facts_fingerprint`]).
    facts_fingerprint: ArcSwap<String>,
    updates: UpdatesHandle,
    fleet: FleetCell,
    /// What the feeds looked like when the evaluator was built ([`feeds_fingerprint`]).
    feeds_fingerprint: ArcSwap<String>,
    /// What the repositories looked like when the update index was built
    /// ([`repos_fingerprint`]).
    repos_fingerprint: ArcSwap<String>,
    /// The streams last warned about for lacking a binary → source map (warned once each).
    source_gaps: Mutex<Vec<String>>,
    /// The last saved report hash of each host this server saw: the unchanged test without a
    /// read (the store re-checks the hash when it records the touch).
    hashes: Mutex<HashCache>,
    /// Raw-body digests of the last plain stored report of each host ([`SeenBody`]).
    bodies: Mutex<BodyCache>,
    /// What `/metrics` reports of ingest, the writer and the evaluator.
    metrics: EngineMetrics,
    /// Held by a re-evaluation: one at a time per server, and ingest waits on it when it must
    /// catch up ([`Engine::catch_up`]).
    reeval: tokio::sync::Mutex<()>,
}

/// What a server remembers of a host's last stored report body, to recognise the same bytes.
#[derive(Clone, Debug)]
pub struct SeenBody {
    /// The host's identity.
    pub identity: HostIdentity,
    /// Its id.
    pub host: i64,
    /// The canonical hash of that report.
    pub hash: String,
    /// The host name as reported.
    pub hostname: String,
    /// Site and tag sent with it.
    pub site: Option<String>,
    /// Tag sent with it.
    pub tag: Option<String>,
}

/// Body digest → what it was; identity → its current digest (one entry per host).
#[derive(Default)]
struct BodyCache {
    by_digest: rustc_hash::FxHashMap<[u8; 32], SeenBody>,
    by_identity: rustc_hash::FxHashMap<HostIdentity, [u8; 32]>,
}

/// Identity → (host id, last saved hash, stream).
type HashCache = rustc_hash::FxHashMap<(String, Option<String>), (i64, String, Option<String>)>;

/// A summary of the feeds' state that changes whenever their advisories can have changed
/// (an import, an enable/disable, a removal), so that a server sharing a database with others
/// notices another server's import.
async fn feeds_fingerprint(store: &Store) -> anyhow::Result<String> {
    use std::fmt::Write as _;
    let mut out = String::new();
    // A prioritisation feed gives no advisories: its imports must not look like an advisory
    // change (that would re-evaluate every host); a feed that never imported anything gives none.
    for f in store.list_feeds().await? {
        if f.is_prioritisation() || (f.content.is_none() && f.advisory_count == 0) {
            continue;
        }
        let _ = write!(
            out,
            "{}:{}:{}:{}:{};",
            f.id,
            f.enabled,
            f.advisory_count,
            f.affected_count,
            f.last_sync
                .as_ref()
                .and_then(|s| s.checksum.as_deref())
                .unwrap_or("")
        );
    }
    Ok(out)
}

/// The same for repositories: a sync that changed a repository's content, or a change of its
/// settings, changes it; another server's sync is noticed on the next 30 s tick.
async fn repos_fingerprint(store: &Store) -> anyhow::Result<String> {
    use std::fmt::Write as _;
    let mut out = String::new();
    for r in store.list_repositories().await? {
        let _ = write!(
            out,
            "{}:{}:{}:{:?}:{:?}:{:?}:{}:{};",
            r.id,
            r.enabled,
            r.stream,
            r.arch,
            r.security,
            r.priority,
            r.package_count,
            r.last_sync
                .as_ref()
                .and_then(|s| s.checksum.as_deref())
                .unwrap_or("")
        );
    }
    Ok(out)
}

impl Engine {
    /// The engine over `store`: starts the group-commit writer, then loads the repositories
    /// (update index and source maps), the advisories and the policy. Needs a Tokio runtime.
    ///
    /// # Errors
    /// The store fails.
    pub async fn new(store: Store, os_rules: OsRules) -> anyhow::Result<Self> {
        let metrics = EngineMetrics::default();
        let engine = Engine {
            inner: Arc::new(Inner {
                writer: Writer::start(store.clone(), &metrics),
                metrics,
                store,
                os_rules,
                evaluator: ArcSwap::from_pointee(Evaluator::empty()),
                policy: ArcSwap::from_pointee(Policy::default()),
                cve_facts: ArcSwap::from_pointee(CveFactsIndex::default()),
                facts_fingerprint: ArcSwap::default(),
                updates: UpdatesHandle::default(),
                fleet: FleetCell::default(),
                feeds_fingerprint: ArcSwap::default(),
                repos_fingerprint: ArcSwap::default(),
                source_gaps: Mutex::default(),
                hashes: Mutex::default(),
                bodies: Mutex::default(),
                reeval: tokio::sync::Mutex::default(),
            }),
        };
        // Repositories first: the evaluator is built once, with their source maps.
        engine.load_repositories().await?;
        engine.reload_advisories().await?;
        engine.reload_policy().await?;
        engine.reload_cve_facts().await?;
        Ok(engine)
    }

    /// What this engine counts for `/metrics`.
    #[must_use]
    pub fn metrics(&self) -> &EngineMetrics {
        &self.inner.metrics
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The group-commit write queues of report ingest.
    #[must_use]
    pub fn writer(&self) -> &Writer {
        &self.inner.writer
    }

    /// OS strings → streams (site rules, then the built-in ones).
    #[must_use]
    pub fn os_rules(&self) -> &OsRules {
        &self.inner.os_rules
    }

    /// The evaluator in force (requests keep the one they started with).
    #[must_use]
    pub fn evaluator(&self) -> Arc<Evaluator> {
        self.inner.evaluator.load_full()
    }

    /// The CVE tags and exceptions in force.
    #[must_use]
    pub fn policy(&self) -> Arc<Policy> {
        self.inner.policy.load_full()
    }

    /// What the prioritisation feeds say about each CVE (KEV, EPSS, CVSS), for the risk order
    /// ([`pakiti_core::risk::Risk`]).
    #[must_use]
    pub fn cve_facts(&self) -> Arc<CveFactsIndex> {
        self.inner.cve_facts.load_full()
    }

    /// Swaps in new CVE facts (after a prioritisation feed import).
    pub fn set_cve_facts(&self, facts: CveFactsIndex) {
        self.inner.cve_facts.store(Arc::new(facts));
    }

    /// The fingerprint the CVE facts were loaded at ([`crate::cvefacts`]).
    pub(crate) fn inner_facts_fingerprint(&self) -> &ArcSwap<String> {
        &self.inner.facts_fingerprint
    }

    /// The repository index handle (update detection).
    #[must_use]
    pub fn updates(&self) -> &UpdatesHandle {
        &self.inner.updates
    }

    /// Rebuilds the evaluator from the store (after a feed changed) and swaps it in; returns
    /// the number of advisories it holds. Only the advisories the evaluator in force does not
    /// hold with the same content digest are read; the rest are shared with it
    /// ([`Evaluator::updated`]).
    ///
    /// # Errors
    /// The advisories cannot be loaded.
    pub async fn reload_advisories(&self) -> anyhow::Result<usize> {
        let store = self.store();
        let started = std::time::Instant::now();
        // The generation first: the advisories loaded after it are at least that new, so a
        // write checked against it is never accepted from older data.
        let generation = store.feed_generation().await?;
        let fingerprint = feeds_fingerprint(store).await?;
        // Only the advisories the evaluator in force does not hold as they are now: after an
        // import, those it added or changed (issue 17: a 1% feed update re-read all 57,000).
        let old = self.evaluator();
        let load = store.load_advisories_changed(&old.held()).await?;
        let stale = store.stale_keys().await?;
        let n = load.listing.len();
        let read = load.loaded.len();
        let read_took = started.elapsed();
        let updates = self.updates().clone();
        let ev = tokio::task::spawn_blocking(move || -> anyhow::Result<Evaluator> {
            let t = std::time::Instant::now();
            let sources = updates.sources();
            let mut ev = old
                .updated(load)?
                .with_updates(updates)
                .with_generation(generation, &stale.keys);
            let index_took = t.elapsed();
            ev.add_source_maps(&sources);
            tracing::debug!(
                advisories = n,
                read,
                read_ms = read_took.as_millis(),
                index_ms = index_took.as_millis(),
                source_maps_ms = (t.elapsed() - index_took).as_millis(),
                "advisories reloaded"
            );
            Ok(ev)
        })
        .await??;
        let gaps = ev.source_map_gaps();
        self.inner.evaluator.store(Arc::new(ev));
        let run = if gaps.is_empty() {
            Vec::new()
        } else {
            self.inner.store.streams_with_hosts().await?
        };
        self.inner.metrics.evaluator_loaded();
        {
            let mut last = self.inner.source_gaps.lock();
            if *last != gaps {
                for stream in gaps.iter().filter(|g| !last.contains(g)) {
                    // A stream no host runs (a DSA list also names older releases) is no
                    // problem yet: the host page flags hosts whose source names are unknown.
                    if run.contains(stream) {
                        tracing::warn!(
                            %stream,
                            "advisories of this stream name source packages, but no APT repository of it is imported: hosts reporting binary names only (protocol 4/5 agents) miss them; add the release's repositories with `pakiti repo add` or `pakiti repo import …_source_Sources`"
                        );
                    } else {
                        tracing::debug!(%stream, "no binary → source map for a stream no host runs");
                    }
                }
                last.clone_from(&gaps);
            }
        }
        self.inner.feeds_fingerprint.store(Arc::new(fingerprint));
        // Coverage flags, the CVE list and the CVE search read the fleet index, which is
        // built with the evaluator: rebuild it, even when no stale key is left to re-match
        // (another process's import re-evaluated them already).
        self.fleet_changed();
        Ok(n)
    }

    /// Whether the feeds changed (here or in another server sharing the database) since the
    /// evaluator was built.
    ///
    /// # Errors
    /// The store fails.
    pub async fn feeds_changed(&self) -> anyhow::Result<bool> {
        let now = feeds_fingerprint(self.store()).await?;
        Ok(**self.inner.feeds_fingerprint.load() != now)
    }

    /// Whether a feed change committed after the evaluator in force was built (here or in
    /// another server sharing the database).
    ///
    /// # Errors
    /// The store fails.
    pub async fn evaluator_behind(&self) -> anyhow::Result<bool> {
        Ok(self.store().feed_generation().await? > self.evaluator().generation())
    }

    /// Reloads the CVE tags and exceptions from the store; when they changed (here or on
    /// another server), the fleet index, which shows them, is marked stale.
    ///
    /// # Errors
    /// The store fails.
    pub async fn reload_policy(&self) -> anyhow::Result<()> {
        let tags = self.store().list_cve_tags().await?;
        let exceptions = self.store().list_exceptions().await?;
        if self.policy().built_from(&tags, &exceptions) {
            return Ok(());
        }
        self.inner
            .policy
            .store(Arc::new(Policy::new(tags, exceptions)));
        self.fleet_changed();
        Ok(())
    }

    /// Rebuilds the repository index from the store (after a repository changed) and swaps
    /// it in; returns the number of repositories loaded.
    ///
    /// # Errors
    /// The repositories cannot be loaded.
    pub async fn reload_repositories(&self) -> anyhow::Result<usize> {
        let (n, changed) = self.load_repositories().await?;
        if changed {
            // The advisory matcher uses the binary → source maps: rebuild it.
            self.reload_advisories().await?;
        }
        Ok(n)
    }

    /// Rebuilds the repository index and source maps; says how many repositories were
    /// loaded and whether the source maps changed.
    async fn load_repositories(&self) -> anyhow::Result<(usize, bool)> {
        let fingerprint = repos_fingerprint(self.store()).await?;
        let loaded = self.store().load_repository_packages().await?;
        let n = loaded.len();
        let (index, sources) = tokio::task::spawn_blocking(move || {
            (
                crate::updates::build_index(&loaded),
                crate::updates::source_maps(&loaded),
            )
        })
        .await?;
        let changed = self.updates().set(index, sources);
        self.inner.repos_fingerprint.store(Arc::new(fingerprint));
        Ok((n, changed))
    }

    /// Whether the repositories changed (here or in another server sharing the database)
    /// since the update index was built.
    ///
    /// # Errors
    /// The store fails.
    pub async fn repositories_changed(&self) -> anyhow::Result<bool> {
        let now = repos_fingerprint(self.store()).await?;
        Ok(**self.inner.repos_fingerprint.load() != now)
    }

    /// The host id, last saved report hash and stream this server remembers for `identity`.
    #[must_use]
    pub fn last_hash(&self, identity: &HostIdentity) -> Option<(i64, String, Option<String>)> {
        self.inner
            .hashes
            .lock()
            .get(&(identity.hostname.clone(), identity.client_id.clone()))
            .cloned()
    }

    /// Remembers a host's last saved report hash.
    pub fn remember_hash(
        &self,
        identity: &HostIdentity,
        host: i64,
        hash: &str,
        stream: Option<&str>,
    ) {
        self.inner.hashes.lock().insert(
            (identity.hostname.clone(), identity.client_id.clone()),
            (host, hash.to_owned(), stream.map(str::to_owned)),
        );
    }

    /// What the body with this digest was, if this server stored it as some host's last
    /// report.
    #[must_use]
    pub fn seen_body(&self, digest: &[u8; 32]) -> Option<SeenBody> {
        self.inner.bodies.lock().by_digest.get(digest).cloned()
    }

    /// Every remembered body digest with what it was: what a server saves when it stops, so
    /// that the nightly unchanged reports right after a restart skip parsing as before it
    /// (`pakiti serve`, `seen_bodies.rs`).
    #[must_use]
    pub fn seen_bodies(&self) -> Vec<([u8; 32], SeenBody)> {
        self.inner
            .bodies
            .lock()
            .by_digest
            .iter()
            .map(|(d, s)| (*d, s.clone()))
            .collect()
    }

    /// Remembers a host's last stored body digest (forgetting its previous one).
    pub fn remember_body(&self, digest: [u8; 32], seen: SeenBody) {
        let mut g = self.inner.bodies.lock();
        if let Some(old) = g.by_identity.insert(seen.identity.clone(), digest)
            && old != digest
        {
            g.by_digest.remove(&old);
        }
        g.by_digest.insert(digest, seen);
    }

    /// The re-evaluation lock (see [`Engine::catch_up`]).
    pub(crate) fn reeval_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.inner.reeval
    }

    /// Marks the fleet index stale: hosts, findings, tags or exceptions changed.
    pub fn fleet_changed(&self) {
        self.inner.fleet.mark_stale();
    }

    /// The fleet index: built on the first call; afterwards a stale index is answered at
    /// once while one background rebuild runs (stale-while-revalidate).
    ///
    /// # Errors
    /// The first build fails.
    pub async fn fleet(&self) -> anyhow::Result<Arc<Fleet>> {
        let cell = &self.inner.fleet;
        let Some(built) = cell.current.load_full() else {
            return self.rebuild_fleet(false).await;
        };
        if built.generation != cell.generation.load(Ordering::SeqCst)
            && !cell.rebuilding.swap(true, Ordering::SeqCst)
        {
            let engine = self.clone();
            tokio::spawn(async move {
                if let Err(e) = engine.rebuild_fleet(true).await {
                    tracing::warn!(error = format!("{e:#}"), "fleet index rebuild failed");
                }
                engine.inner.fleet.rebuilding.store(false, Ordering::SeqCst);
            });
        }
        Ok(built.fleet.clone())
    }

    /// The fleet index if one was built (never starts a build): what `/metrics` reports.
    #[must_use]
    pub fn fleet_built(&self) -> Option<Arc<Fleet>> {
        self.inner
            .fleet
            .current
            .load_full()
            .map(|b| b.fleet.clone())
    }

    /// The fleet index as of now: rebuilt before returning when something it reflects
    /// changed since it was built (unlike [`Engine::fleet`], which answers a stale index at
    /// once). Tests and commands that must read what the store holds use it.
    ///
    /// # Errors
    /// The store fails.
    pub async fn fleet_up_to_date(&self) -> anyhow::Result<Arc<Fleet>> {
        self.rebuild_fleet(false).await
    }

    /// Marks the fleet index stale and rebuilds it before returning (after tag and exception
    /// changes, so that the next page shows them). The policy is reloaded first: the index
    /// takes tags and exceptions from it.
    ///
    /// # Errors
    /// The store fails.
    pub async fn refresh_fleet_now(&self) -> anyhow::Result<Arc<Fleet>> {
        self.reload_policy().await?;
        self.fleet_changed();
        self.rebuild_fleet(false).await
    }

    /// Rebuilds the fleet index unless it is current: hosts and findings from the store,
    /// advisories from the evaluator in force, tags and exceptions from the policy in force.
    async fn rebuild_fleet(&self, debounce: bool) -> anyhow::Result<Arc<Fleet>> {
        let cell = &self.inner.fleet;
        let mut last = cell.build.lock().await;
        if debounce && let Some(t) = *last {
            let wait = crate::fleet::DEBOUNCE.saturating_sub(t.elapsed());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        let generation = cell.generation.load(Ordering::SeqCst);
        if let Some(built) = cell.current.load_full()
            && built.generation == generation
        {
            return Ok(built.fleet.clone());
        }
        *last = Some(Instant::now());
        let fleet = Arc::new(Fleet::load(self.store(), &self.evaluator(), &self.policy()).await?);
        // Only the holder of `build` stores: no newer index can be overwritten.
        cell.current.store(Some(Arc::new(Built {
            generation,
            fleet: fleet.clone(),
        })));
        Ok(fleet)
    }
}
