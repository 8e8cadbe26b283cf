//! The state every handler shares: the store, the settings, the HTTP edge's own parts
//! (S/MIME key, budgets, log-in limiter, CSRF secret) and the [`Engine`], which owns every
//! in-memory index. Handlers, jobs and commands call the engine directly (`state.engine.…`).

use std::sync::Arc;

use pakiti_engine::osrules::OsRules;
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
    /// The `POST /feed/` rate limit, per client address (`[limits] feed_rate_per_minute`).
    pub feed_limiter: Arc<crate::ratelimit::KeyedLimiter<std::net::IpAddr>>,
    /// The API token rate limit, per token digest (`[limits] api_token_rate_per_minute`).
    pub token_limiter: Arc<crate::ratelimit::KeyedLimiter<[u8; 32]>>,
    /// The HTTP client of feed and repository syncs (one, shared).
    pub fetcher: crate::jobs::fetch::Fetcher,
    /// The in-memory indexes, report ingest and re-evaluation.
    pub engine: Engine,
    /// The Prometheus registry of `/metrics` (`metrics.rs`).
    pub metrics: Arc<crate::metrics::Metrics>,
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
            metrics: Arc::new(crate::metrics::Metrics::new(&engine)),
            csrf_secret,
            fetcher,
            budgets: Arc::new(crate::limits::Budgets::new(&settings.limits)),
            login_limiter: Arc::new(crate::ratelimit::LoginLimiter::new(
                settings.auth.login_max_failures,
                std::time::Duration::from_secs(settings.auth.login_window_secs),
            )),
            feed_limiter: Arc::new(crate::ratelimit::KeyedLimiter::new(
                settings.limits.feed_rate_per_minute,
                settings.limits.feed_burst,
            )),
            token_limiter: Arc::new(crate::ratelimit::KeyedLimiter::new(
                settings.limits.api_token_rate_per_minute,
                settings.limits.api_token_burst,
            )),
            store,
            settings: Arc::new(settings),
            report_key: report_key.map(Arc::new),
            engine,
        })
    }
}
