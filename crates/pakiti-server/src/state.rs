//! The state every handler shares.

use std::sync::{Arc, RwLock};

use pakiti_store::{AnyStore, Store};

use crate::evaluate::Evaluator;
use crate::osrules::OsRules;
use crate::settings::Settings;
use crate::smime::ReportKey;

/// Shared server state: cheap to clone (everything behind `Arc`s).
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: AnyStore,
    /// The settings the server started with.
    pub settings: Arc<Settings>,
    /// The key that decrypts S/MIME reports, when configured.
    pub report_key: Option<Arc<ReportKey>>,
    /// OS strings → streams (site rules, then the built-in ones).
    pub os_rules: Arc<OsRules>,
    evaluator: Arc<RwLock<Arc<Evaluator>>>,
}

impl AppState {
    /// State over `store`, with an evaluator built from the store's advisories.
    ///
    /// # Errors
    /// The advisories cannot be loaded.
    pub async fn new(
        store: AnyStore,
        settings: Settings,
        report_key: Option<ReportKey>,
    ) -> anyhow::Result<Self> {
        let os_rules = Arc::new(OsRules::new(&settings.os_rules)?);
        let state = AppState {
            os_rules,
            store,
            settings: Arc::new(settings),
            report_key: report_key.map(Arc::new),
            evaluator: Arc::new(RwLock::new(Arc::new(Evaluator::empty()))),
        };
        state.reload_advisories().await?;
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
        let stored = self.store.load_advisories().await?;
        let n = stored.len();
        let ev = tokio::task::spawn_blocking(move || Evaluator::new(stored)).await?;
        match self.evaluator.write() {
            Ok(mut g) => *g = Arc::new(ev),
            Err(p) => *p.into_inner() = Arc::new(ev),
        }
        Ok(n)
    }
}
