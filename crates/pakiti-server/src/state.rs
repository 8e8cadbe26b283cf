//! The state every handler shares: the store, the settings, the HTTP edge's own parts
//! (S/MIME key, budgets, log-in limiter, CSRF secret) and the [`Engine`], which owns every
//! in-memory index.
//!
//! # Compatibility surface
//!
//! The methods below that only delegate to [`Engine`] (`evaluator`, `policy`, `updates`,
//! `reload_*`, `*_changed`, `evaluator_behind`, `catch_up`, `last_hash`, `remember_hash`,
//! `seen_body`, `remember_body`, `fleet_changed`) keep the call shapes handlers used before
//! the engine had a crate of its own; so do the re-exports and wrappers at the old module
//! paths (`crate::{evaluate, updates, fleet, ingest, writer, osrules, crashpoint}` and
//! `crate::jobs::reevaluate`). New code may call `state.engine` directly.

use std::sync::Arc;

use pakiti_engine::evaluate::{Evaluator, Policy};
use pakiti_engine::osrules::OsRules;
use pakiti_engine::updates::UpdatesHandle;
use pakiti_store::HostIdentity;
use pakiti_store::Store;

use crate::settings::Settings;
use crate::smime::ReportKey;

pub use pakiti_engine::{Engine, SeenBody};

/// Shared server state: cheap to clone (everything behind `Arc`s).
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Store,
    /// The settings the server started with.
    pub settings: Arc<Settings>,
    /// The key that decrypts S/MIME reports, when configured.
    pub report_key: Option<Arc<ReportKey>>,
    /// What requests may hold at once: report bodies in memory, S/MIME decryptions.
    pub budgets: Arc<crate::limits::Budgets>,
    /// Failed log-in counters (`accounts` mode).
    pub login_limiter: Arc<crate::ratelimit::LoginLimiter>,
    /// The HTTP client of feed and repository syncs (one, shared).
    pub fetcher: crate::jobs::fetch::Fetcher,
    /// The in-memory indexes, report ingest and re-evaluation.
    pub engine: Engine,
    /// The key CSRF tokens of proxy/certificate users (and of mode `none`) are derived from:
    /// one per database, so a form rendered by one server posts to any other behind the same
    /// load balancer, and survives restarts.
    pub(crate) csrf_secret: Arc<str>,
}

/// 32 random bytes as hex: the CSRF secret this server proposes (the store keeps the first
/// one any server proposed).
fn random_secret() -> anyhow::Result<String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("the OS random source: {e}"))?;
    Ok(hex::encode(b))
}

impl AppState {
    /// State over `store`, with an engine whose indexes are loaded from the store.
    ///
    /// # Errors
    /// The OS rules do not compile, or the store fails.
    pub async fn new(
        store: Store,
        settings: Settings,
        report_key: Option<ReportKey>,
    ) -> anyhow::Result<Self> {
        let os_rules = OsRules::new(&settings.os_rules)?;
        let csrf_secret: Arc<str> = store.shared_secret("csrf", &random_secret()?).await?.into();
        let fetcher = crate::jobs::fetch::Fetcher::new(settings.outgoing_proxy.as_deref())?;
        let engine = Engine::new(store.clone(), os_rules).await?;
        Ok(AppState {
            csrf_secret,
            fetcher,
            budgets: Arc::new(crate::limits::Budgets::new(&settings.limits)),
            login_limiter: Arc::new(crate::ratelimit::LoginLimiter::new(
                settings.auth.login_max_failures,
                std::time::Duration::from_secs(settings.auth.login_window_secs),
            )),
            store,
            settings: Arc::new(settings),
            report_key: report_key.map(Arc::new),
            engine,
        })
    }

    /// The evaluator in force ([`Engine::evaluator`]).
    #[must_use]
    pub fn evaluator(&self) -> Arc<Evaluator> {
        self.engine.evaluator()
    }

    /// The CVE tags and exceptions in force ([`Engine::policy`]).
    #[must_use]
    pub fn policy(&self) -> Arc<Policy> {
        self.engine.policy()
    }

    /// The repository index handle ([`Engine::updates`]).
    #[must_use]
    pub fn updates(&self) -> &UpdatesHandle {
        self.engine.updates()
    }

    /// [`Engine::reload_advisories`].
    ///
    /// # Errors
    /// The advisories cannot be loaded.
    pub async fn reload_advisories(&self) -> anyhow::Result<usize> {
        self.engine.reload_advisories().await
    }

    /// [`Engine::feeds_changed`].
    ///
    /// # Errors
    /// The store fails.
    pub async fn feeds_changed(&self) -> anyhow::Result<bool> {
        self.engine.feeds_changed().await
    }

    /// [`Engine::evaluator_behind`].
    ///
    /// # Errors
    /// The store fails.
    pub async fn evaluator_behind(&self) -> anyhow::Result<bool> {
        self.engine.evaluator_behind().await
    }

    /// [`Engine::catch_up`].
    ///
    /// # Errors
    /// The store fails.
    pub async fn catch_up(&self) -> anyhow::Result<()> {
        self.engine.catch_up().await
    }

    /// [`Engine::reload_policy`].
    ///
    /// # Errors
    /// The store fails.
    pub async fn reload_policy(&self) -> anyhow::Result<()> {
        self.engine.reload_policy().await
    }

    /// [`Engine::reload_repositories`].
    ///
    /// # Errors
    /// The repositories cannot be loaded.
    pub async fn reload_repositories(&self) -> anyhow::Result<usize> {
        self.engine.reload_repositories().await
    }

    /// [`Engine::repositories_changed`].
    ///
    /// # Errors
    /// The store fails.
    pub async fn repositories_changed(&self) -> anyhow::Result<bool> {
        self.engine.repositories_changed().await
    }

    /// [`Engine::last_hash`].
    #[must_use]
    pub fn last_hash(&self, identity: &HostIdentity) -> Option<(i64, String, Option<String>)> {
        self.engine.last_hash(identity)
    }

    /// [`Engine::remember_hash`].
    pub fn remember_hash(
        &self,
        identity: &HostIdentity,
        host: i64,
        hash: &str,
        stream: Option<&str>,
    ) {
        self.engine.remember_hash(identity, host, hash, stream);
    }

    /// [`Engine::seen_body`].
    #[must_use]
    pub fn seen_body(&self, digest: &[u8; 32]) -> Option<SeenBody> {
        self.engine.seen_body(digest)
    }

    /// [`Engine::remember_body`].
    pub fn remember_body(&self, digest: [u8; 32], seen: SeenBody) {
        self.engine.remember_body(digest, seen);
    }

    /// [`Engine::fleet_changed`].
    pub fn fleet_changed(&self) {
        self.engine.fleet_changed();
    }
}
