//! Loading the CVE facts (CISA KEV, FIRST EPSS, CVSS) into the engine: at start, after an
//! import here, and when another server sharing the database imported (the 30 s tick asks
//! [`Engine::cve_facts_changed`]). Facts only order findings; loading them re-evaluates
//! nothing and marks only the fleet index stale (it carries each CVE's risk).

use std::sync::Arc;

use pakiti_store::Store;

use crate::Engine;

/// A summary of every feed's state that changes whenever its CVE facts can have changed: an
/// import (checksum, count), an enable/disable, a removal.
pub(crate) async fn facts_fingerprint(store: &Store) -> anyhow::Result<String> {
    use std::fmt::Write as _;
    let mut out = String::new();
    for f in store.list_feeds().await? {
        let _ = write!(
            out,
            "{}:{}:{}:{};",
            f.id,
            f.enabled,
            f.advisory_count,
            f.last_sync
                .as_ref()
                .and_then(|s| s.checksum.as_deref())
                .unwrap_or("")
        );
    }
    Ok(out)
}

impl Engine {
    /// Loads the CVE facts of the enabled feeds from the store and swaps them in; returns how
    /// many CVEs have facts.
    ///
    /// # Errors
    /// The store fails.
    pub async fn reload_cve_facts(&self) -> anyhow::Result<usize> {
        let fingerprint = facts_fingerprint(self.store()).await?;
        let facts = self.store().load_cve_facts().await?;
        let n = facts.len();
        self.set_cve_facts(facts);
        self.inner_facts_fingerprint().store(Arc::new(fingerprint));
        self.fleet_changed();
        Ok(n)
    }

    /// Whether the feeds changed (here or in another server) since the CVE facts were loaded.
    ///
    /// # Errors
    /// The store fails.
    pub async fn cve_facts_changed(&self) -> anyhow::Result<bool> {
        let now = facts_fingerprint(self.store()).await?;
        Ok(**self.inner_facts_fingerprint().load() != now)
    }
}
