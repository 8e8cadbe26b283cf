//! Re-evaluation after a feed change: only what the change touched.
//!
//! A feed import marks the (stream, package name) keys whose entries changed as stale. This
//! step rebuilds the in-memory index, re-matches the stored package versions with those names
//! in those streams (and in the rebuild streams matched against them), stores the answers, and
//! refreshes the counts of the hosts that have them. Everything else keeps its stored answer.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use pakiti_core::stream::{Distro, OsStream};
use pakiti_store::Store;

use crate::evaluate;
use crate::state::AppState;

/// What a re-evaluation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reevaluation {
    /// Stale keys processed.
    pub keys: usize,
    /// Package versions re-matched.
    pub package_versions: usize,
    /// Hosts whose counts were refreshed.
    pub hosts: usize,
    /// Wall time.
    pub took: Duration,
}

/// The host streams whose data comes from `data_stream`: itself, and for RHEL its rebuilds.
fn host_streams(data_stream: &str) -> Vec<String> {
    let mut out = vec![data_stream.to_owned()];
    if let Ok(s) = data_stream.parse::<OsStream>()
        && s.distro() == Distro::Rhel
    {
        for d in [Distro::Centos, Distro::Alma, Distro::Rocky, Distro::Oracle] {
            out.push(OsStream::new(d, s.release()).to_string());
        }
    }
    out
}

/// Re-evaluates what the stale keys name; call after feed imports.
///
/// # Errors
/// The store fails.
pub async fn run_once(state: &AppState) -> anyhow::Result<Reevaluation> {
    let start = Instant::now();
    state.reload_advisories().await?;
    let stale = state.store.stale_keys().await?;
    if stale.keys.is_empty() {
        return Ok(Reevaluation {
            took: start.elapsed(),
            ..Reevaluation::default()
        });
    }
    let evaluator = state.evaluator();
    let mut names_by_stream: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for k in &stale.keys {
        for hs in host_streams(&k.stream) {
            names_by_stream
                .entry(hs)
                .or_default()
                .insert(k.package.clone());
        }
    }
    let mut result = Reevaluation {
        keys: stale.keys.len(),
        ..Reevaluation::default()
    };
    let mut hosts = BTreeSet::new();
    for (stream_key, names) in names_by_stream {
        let names: Vec<String> = names.into_iter().collect();
        let pkgs = state
            .store
            .evaluated_package_versions(&stream_key, &names)
            .await?;
        if pkgs.is_empty() {
            continue;
        }
        let Ok(stream) = stream_key.parse::<OsStream>() else {
            continue;
        };
        let ids: Vec<i64> = pkgs.iter().map(|(id, _)| *id).collect();
        let items: Vec<(i64, &pakiti_core::package::InstalledPackage)> =
            pkgs.iter().map(|(id, p)| (*id, p)).collect();
        let findings = evaluator.evaluate(&stream, &items);
        state
            .store
            .store_package_findings(&stream_key, &ids, &findings)
            .await?;
        result.package_versions += ids.len();
        hosts.extend(state.store.hosts_with_packages(&stream_key, &ids).await?);
    }
    for host in &hosts {
        refresh_host(state, *host).await?;
    }
    result.hosts = hosts.len();
    state.store.clear_stale_keys(stale.seq).await?;
    result.took = start.elapsed();
    Ok(result)
}

/// Recomputes one host's cached counts from its findings.
///
/// # Errors
/// The store fails.
pub async fn refresh_host(state: &AppState, host: i64) -> anyhow::Result<()> {
    let Some(h) = state.store.get_host(host).await? else {
        return Ok(());
    };
    let findings = evaluate::applicable(state.store.host_findings(host).await?, &h.facts.modules);
    state
        .store
        .update_host_counts(host, &evaluate::counts(&findings))
        .await?;
    Ok(())
}
