//! The state every handler shares.

use std::sync::{Arc, RwLock};

use pakiti_store::HostIdentity;
use pakiti_store::Store;

use crate::evaluate::{Evaluator, Policy};
use crate::fleet::FleetCell;
use crate::osrules::OsRules;
use crate::settings::Settings;
use crate::smime::ReportKey;
use crate::writer::Writer;

/// Shared server state: cheap to clone (everything behind `Arc`s).
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Store,
    /// The settings the server started with.
    pub settings: Arc<Settings>,
    /// The key that decrypts S/MIME reports, when configured.
    pub report_key: Option<Arc<ReportKey>>,
    /// OS strings → streams (site rules, then the built-in ones).
    pub os_rules: Arc<OsRules>,
    /// The group-commit write queues of report ingest.
    pub writer: Writer,
    /// What requests may hold at once: report bodies in memory, S/MIME decryptions.
    pub budgets: Arc<crate::limits::Budgets>,
    /// Failed log-in counters (`accounts` mode).
    pub login_limiter: Arc<crate::ratelimit::LoginLimiter>,
    /// The HTTP client of feed and repository syncs (one, shared).
    pub fetcher: crate::jobs::fetch::Fetcher,
    evaluator: Arc<RwLock<Arc<Evaluator>>>,
    policy: Arc<RwLock<Arc<Policy>>>,
    fleet: Arc<FleetCell>,
    updates: crate::updates::UpdatesHandle,
    /// What the feeds looked like when the evaluator was built ([`feeds_fingerprint`]).
    fingerprint: Arc<Fingerprint>,
    /// What the repositories looked like when the update index was built
    /// ([`repos_fingerprint`]).
    repo_fingerprint: Arc<Fingerprint>,
    /// The streams last warned about for lacking a binary → source map (warned once each).
    source_gaps: Arc<std::sync::Mutex<Vec<String>>>,
    /// The last saved report hash of each host this server saw: the unchanged test without a
    /// read (the store re-checks the hash when it records the touch).
    hashes: Arc<std::sync::Mutex<HashCache>>,
    /// Raw-body digests of the last plain stored report of each host ([`SeenBody`]).
    bodies: Arc<std::sync::Mutex<BodyCache>>,
    /// Held by a re-evaluation ([`crate::jobs::reevaluate::run_once`]): one at a time per
    /// server, and ingest waits on it when it must catch up ([`AppState::catch_up`]).
    pub(crate) reeval: Arc<tokio::sync::Mutex<()>>,
    /// The key CSRF tokens of proxy/certificate users (and of mode `none`) are derived from:
    /// one per database, so a form rendered by one server posts to any other behind the same
    /// load balancer, and survives restarts.
    pub(crate) csrf_secret: Arc<str>,
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

/// The fingerprint ([`feeds_fingerprint`], [`repos_fingerprint`]) of the data an in-memory index
/// was built from.
#[derive(Default)]
struct Fingerprint(RwLock<String>);

impl Fingerprint {
    fn set(&self, now: String) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = now;
    }

    fn is(&self, now: &str) -> bool {
        *self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            == now
    }
}

/// A summary of the feeds' state that changes whenever their advisories can have changed
/// (an import, an enable/disable, a removal), so that a server sharing a database with others
/// notices another server's import.
async fn feeds_fingerprint(store: &Store) -> anyhow::Result<String> {
    use std::fmt::Write as _;
    let mut out = String::new();
    for f in store.list_feeds().await? {
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

impl AppState {
    /// State over `store`, with an evaluator built from the store's advisories.
    ///
    /// # Errors
    /// The advisories cannot be loaded.
    pub async fn new(
        store: Store,
        settings: Settings,
        report_key: Option<ReportKey>,
    ) -> anyhow::Result<Self> {
        let os_rules = Arc::new(OsRules::new(&settings.os_rules)?);
        let fetcher = crate::jobs::fetch::Fetcher::new(settings.outgoing_proxy.as_deref())?;
        let csrf_secret: Arc<str> = store
            .shared_secret("csrf", &crate::auth::random_token())
            .await?
            .into();
        let state = AppState {
            csrf_secret,
            fetcher,
            os_rules,
            writer: Writer::start(store.clone()),
            budgets: Arc::new(crate::limits::Budgets::new(&settings.limits)),
            login_limiter: Arc::new(crate::ratelimit::LoginLimiter::new(
                settings.auth.login_max_failures,
                std::time::Duration::from_secs(settings.auth.login_window_secs),
            )),
            policy: Arc::new(RwLock::new(Arc::new(Policy::default()))),
            fingerprint: Arc::default(),
            repo_fingerprint: Arc::default(),
            source_gaps: Arc::default(),
            hashes: Arc::default(),
            bodies: Arc::default(),
            reeval: Arc::default(),
            store,
            settings: Arc::new(settings),
            report_key: report_key.map(Arc::new),
            evaluator: Arc::new(RwLock::new(Arc::new(Evaluator::empty()))),
            fleet: Arc::new(FleetCell::default()),
            updates: crate::updates::UpdatesHandle::default(),
        };
        // Repositories first: the evaluator is built once, with their source maps.
        state.load_repositories().await?;
        state.reload_advisories().await?;
        state.reload_policy().await?;
        Ok(state)
    }

    /// The evaluator in force (requests keep the one they started with).
    #[must_use]
    pub fn evaluator(&self) -> Arc<Evaluator> {
        self.evaluator
            .read()
            .map_or_else(|p| p.into_inner().clone(), |g| g.clone())
    }

    /// Rebuilds the evaluator from the store (after a feed changed) and swaps it in.
    ///
    /// # Errors
    /// The advisories cannot be loaded.
    pub async fn reload_advisories(&self) -> anyhow::Result<usize> {
        // The generation first: the advisories loaded after it are at least that new, so a
        // write checked against it is never accepted from older data.
        let generation = self.store.feed_generation().await?;
        let fingerprint = feeds_fingerprint(&self.store).await?;
        let stored = self.store.load_advisories().await?;
        let stale = self.store.stale_keys().await?;
        let n = stored.len();
        let updates = self.updates.clone();
        let ev = tokio::task::spawn_blocking(move || {
            let sources = updates.sources();
            let mut ev = Evaluator::new(stored)
                .with_updates(updates)
                .with_generation(generation, &stale.keys);
            ev.add_source_maps(&sources);
            ev
        })
        .await?;
        let gaps = ev.source_map_gaps();
        match self.evaluator.write() {
            Ok(mut g) => *g = Arc::new(ev),
            Err(p) => *p.into_inner() = Arc::new(ev),
        }
        {
            let mut last = self
                .source_gaps
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if *last != gaps {
                for stream in gaps.iter().filter(|g| !last.contains(g)) {
                    tracing::warn!(
                        %stream,
                        "advisories of this stream name source packages, but no APT repository of it is imported: hosts reporting binary names only (protocol 4/5 agents) miss them; add the release's repositories with `pakiti repo add` or `pakiti repo import …_source_Sources`"
                    );
                }
                last.clone_from(&gaps);
            }
        }
        self.fingerprint.set(fingerprint);
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
        Ok(!self.fingerprint.is(&feeds_fingerprint(&self.store).await?))
    }

    /// Whether a feed change committed after the evaluator in force was built (here or in
    /// another server sharing the database).
    ///
    /// # Errors
    /// The store fails.
    pub async fn evaluator_behind(&self) -> anyhow::Result<bool> {
        Ok(self.store.feed_generation().await? > self.evaluator().generation())
    }

    /// Brings the evaluator up to the store's feed generation (reload and re-evaluate the
    /// stale keys) unless another task already did; ingest calls it when the store refused a
    /// report's answers as computed from older data.
    ///
    /// # Errors
    /// The store fails.
    pub async fn catch_up(&self) -> anyhow::Result<()> {
        let _guard = self.reeval.lock().await;
        if self.evaluator_behind().await? {
            tracing::info!("a feed changed since the evaluator was built: catching up");
            crate::jobs::reevaluate::run_locked(self).await?;
        }
        Ok(())
    }

    /// The CVE tags and exceptions in force.
    #[must_use]
    pub fn policy(&self) -> Arc<Policy> {
        self.policy
            .read()
            .map_or_else(|p| p.into_inner().clone(), |g| g.clone())
    }

    /// Reloads the CVE tags and exceptions from the store.
    ///
    /// # Errors
    /// The store fails.
    pub async fn reload_policy(&self) -> anyhow::Result<()> {
        let tags = self.store.list_cve_tags().await?;
        let exceptions = self.store.list_exceptions().await?;
        let p = Arc::new(Policy::new(&tags, &exceptions));
        match self.policy.write() {
            Ok(mut g) => *g = p,
            Err(e) => *e.into_inner() = p,
        }
        Ok(())
    }

    /// The host id, last saved report hash and stream this server remembers for `identity`.
    #[must_use]
    pub fn last_hash(&self, identity: &HostIdentity) -> Option<(i64, String, Option<String>)> {
        let g = self
            .hashes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.get(&(identity.hostname.clone(), identity.client_id.clone()))
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
        let mut g = self
            .hashes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.insert(
            (identity.hostname.clone(), identity.client_id.clone()),
            (host, hash.to_owned(), stream.map(str::to_owned)),
        );
    }

    /// What the body with this digest was, if this server stored it as some host's last
    /// report.
    #[must_use]
    pub fn seen_body(&self, digest: &[u8; 32]) -> Option<SeenBody> {
        let g = self
            .bodies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.by_digest.get(digest).cloned()
    }

    /// Remembers a host's last stored body digest (forgetting its previous one).
    pub fn remember_body(&self, digest: [u8; 32], seen: SeenBody) {
        let mut g = self
            .bodies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(old) = g.by_identity.insert(seen.identity.clone(), digest)
            && old != digest
        {
            g.by_digest.remove(&old);
        }
        g.by_digest.insert(digest, seen);
    }

    /// The fleet index cell (see [`crate::fleet::current`]).
    #[must_use]
    pub fn fleet_cell(&self) -> &FleetCell {
        &self.fleet
    }

    /// Marks the fleet index stale: hosts, findings, tags or exceptions changed.
    pub fn fleet_changed(&self) {
        self.fleet.mark_stale();
    }

    /// The repository index handle (update detection).
    #[must_use]
    pub fn updates(&self) -> &crate::updates::UpdatesHandle {
        &self.updates
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
        let fingerprint = repos_fingerprint(&self.store).await?;
        let loaded = self.store.load_repository_packages().await?;
        let n = loaded.len();
        let (index, sources) = tokio::task::spawn_blocking(move || {
            (
                crate::updates::build_index(&loaded),
                crate::updates::source_maps(&loaded),
            )
        })
        .await?;
        let changed = self.updates.set(index, sources);
        self.repo_fingerprint.set(fingerprint);
        Ok((n, changed))
    }

    /// Whether the repositories changed (here or in another server sharing the database)
    /// since the update index was built.
    ///
    /// # Errors
    /// The store fails.
    pub async fn repositories_changed(&self) -> anyhow::Result<bool> {
        Ok(!self
            .repo_fingerprint
            .is(&repos_fingerprint(&self.store).await?))
    }
}
