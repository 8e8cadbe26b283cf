//! Re-evaluation after a feed change (only what the change touched), catch-up, crash
//! recovery and the bulk count refreshes: [`Engine`] methods, written here.
//!
//! A feed import marks the (stream, package name) keys whose entries changed as stale.
//! [`Engine::reevaluate`] rebuilds the in-memory index, re-matches the stored package versions
//! with those names in those streams (and in the rebuild streams matched against them),
//! stores the answers, and refreshes the counts of the hosts that have them. Everything else
//! keeps its stored answer. [`Engine::catch_up`] does the same when ingest finds the
//! evaluator behind the store, and [`Engine::recover`] finishes what a crash left. Scheduling
//! (the 30 s tick, imports) is the server's.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use pakiti_core::stream::OsStream;
use pakiti_store::{ExposureCause, ExposureContext, HostCounts, InstalledSet, PackageFinding};
use rustc_hash::{FxHashMap, FxHashSet};
use time::OffsetDateTime;

use pakiti_core::package::InstalledPackage;
use pakiti_core::updates::HostPackages;

use crate::Engine;
use crate::evaluate::{self, Answer, CountItem};
use crate::updates::{counts_of, repo_arch};

/// What a re-evaluation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reevaluation {
    /// Stale keys processed.
    pub keys: usize,
    /// Package versions re-matched.
    pub package_versions: usize,
    /// Of which: whose answer changed (written to the store; their hosts get new counts).
    pub changed_answers: usize,
    /// Hosts whose counts changed (every host with a re-matched version is recomputed).
    pub hosts: usize,
    /// Wall time.
    pub took: Duration,
    /// Of which: rebuilding the in-memory index from the store.
    pub reload: Duration,
    /// Of which: re-matching and storing the answers.
    pub rematch: Duration,
    /// Of which: finding the hosts that have a re-matched package version.
    pub sets: Duration,
    /// Of which: refreshing the hosts' counts.
    pub counts: Duration,
}

impl Engine {
    /// Brings the evaluator up to the store's feed generation (reload and re-evaluate the
    /// stale keys) unless another task already did; ingest calls it when the store refused a
    /// report's answers as computed from older data.
    ///
    /// The work runs on a task of its own, not on the caller's: a request that gives up (its
    /// client went away) never cuts a re-evaluation short, and callers queue on the one
    /// re-evaluation lock, so at most one runs per server and the others find nothing left.
    ///
    /// # Errors
    /// The store fails.
    pub async fn catch_up(&self) -> anyhow::Result<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            let _guard = engine.reeval_lock().lock().await;
            if engine.evaluator_behind().await? {
                tracing::info!("a feed changed since the evaluator was built: catching up");
                engine.run_exclusive().await?;
            }
            anyhow::Ok(())
        })
        .await?
    }

    /// Finishes the work a crash can leave behind, in order: stale keys not yet re-evaluated
    /// (an import committed, then its process died), then hosts whose last saved report was never
    /// evaluated. A starting server and every 30 s tick run it. Returns the number of hosts
    /// evaluated from a pending report.
    ///
    /// # Errors
    /// The store fails.
    pub async fn recover(&self) -> anyhow::Result<usize> {
        if !self.store().stale_keys().await?.keys.is_empty() {
            let r = self.reevaluate().await?;
            tracing::info!(
                keys = r.keys,
                package_versions = r.package_versions,
                hosts = r.hosts,
                "finished an outstanding re-evaluation"
            );
        }
        self.finish_pending().await
    }

    /// Evaluates every host whose last saved report was never evaluated (the server died between
    /// saving and evaluating it, or the evaluation failed): all its package versions are matched
    /// with the index in force, and the answers, counts and processed mark written as ingest
    /// writes them. Returns the number of hosts evaluated.
    ///
    /// # Errors
    /// The store fails.
    pub async fn finish_pending(&self) -> anyhow::Result<usize> {
        let pending = self.store().pending_evaluations().await?;
        let mut done = 0;
        for (host, report) in pending {
            let Some(h) = self.store().get_host(host).await? else {
                continue;
            };
            let pkgs = self.store().host_packages(host).await?;
            let mut attempt = 0;
            loop {
                if self.finish_one(&h, report, &pkgs).await? {
                    done += 1;
                    break;
                }
                attempt += 1;
                if attempt >= 3 {
                    tracing::warn!(host, "the feeds kept changing; evaluation stays pending");
                    break;
                }
                self.catch_up().await?;
            }
        }
        if done > 0 {
            tracing::info!(hosts = done, "evaluated reports left pending");
            self.fleet_changed();
        }
        Ok(done)
    }

    /// Evaluates one pending host and writes the result; `false` when the store refused it as
    /// computed from an index older than its feeds.
    async fn finish_one(
        &self,
        h: &pakiti_store::Host,
        report: i64,
        pkgs: &[(i64, pakiti_core::package::InstalledPackage)],
    ) -> anyhow::Result<bool> {
        let evaluator = self.evaluator();
        let policy = self.policy();
        let now = OffsetDateTime::now_utc();
        let mut finish = pakiti_store::FinishReport {
            report,
            host: h.id,
            processed_at: now,
            counts: HostCounts::default(),
            stream: h.facts.stream.as_ref().map(ToString::to_string),
            evaluated: Vec::new(),
            findings: Vec::new(),
            updates: None,
            generation: Some(evaluator.generation()),
            exposures: Some(Vec::new()),
        };
        if let Some(stream) = &h.facts.stream {
            let key = stream.to_string();
            let items: Vec<(i64, &pakiti_core::package::InstalledPackage)> =
                pkgs.iter().map(|(id, p)| (*id, p)).collect();
            let ids: Vec<i64> = pkgs.iter().map(|(id, _)| *id).collect();
            let fresh = evaluator.evaluate(stream, &items);
            let answers = evaluator.put_answers(&key, &ids, &fresh);
            // Installed kernels older than the running one are not findings, as at ingest
            // (`Host::old_kernels`): without this a report finished here counted them (issue
            // 17's 100,000-host run: one host of 100,000, finished by the tick while its
            // ingest was still evaluating it, kept 34 CVEs of an old kernel-devel).
            let count_items: Vec<CountItem<'_>> = pkgs
                .iter()
                .filter(|(id, _)| !h.old_kernels.contains(id))
                .filter_map(|(id, p)| {
                    answers.get(id).map(|a| CountItem {
                        answer: a,
                        package: Some((p.name.as_str(), p.version.as_str())),
                    })
                })
                .collect();
            let (counts, exposures) = crate::history::host_counts_and_exposures(
                &evaluator,
                &policy,
                &key,
                &h.facts.modules,
                &count_items,
                now,
            );
            finish.counts = counts;
            finish.exposures = Some(exposures);
            finish.evaluated = ids;
            finish.findings = fresh;
        }
        let installed: Vec<pakiti_core::package::InstalledPackage> =
            pkgs.iter().map(|(_, p)| p.clone()).collect();
        let upgrades = crate::updates::host_lines(
            &evaluator.updates().get(),
            h.facts.stream.as_ref(),
            &h.facts.arch,
            &installed,
            &h.facts.modules,
        );
        let security = upgrades.iter().filter(|l| l.security).count();
        finish.updates = Some(pakiti_store::HostUpdateCounts {
            security: i64::try_from(security).unwrap_or(i64::MAX),
            other: i64::try_from(upgrades.len() - security).unwrap_or(i64::MAX),
        });
        Ok(self.writer().finish(finish).await?)
    }

    /// Re-evaluates what the stale keys name; call after feed imports.
    ///
    /// # Errors
    /// The store fails.
    pub async fn reevaluate(&self) -> anyhow::Result<Reevaluation> {
        let _guard = self.reeval_lock().lock().await;
        self.run_exclusive().await
    }

    /// [`run_locked`](Self::run_locked) under the store's cross-process re-evaluation lock
    /// ([`Store::lock_reevaluation`](pakiti_store::Store::lock_reevaluation)), for a caller
    /// that holds this server's lock: of several servers sharing the database that noticed
    /// the same import, one re-matches and the others, after it, find no stale key left and
    /// only reload their index.
    ///
    /// # Errors
    /// The store fails.
    async fn run_exclusive(&self) -> anyhow::Result<Reevaluation> {
        let waited = std::time::Instant::now();
        let lock = self.store().lock_reevaluation().await?;
        let waited = waited.elapsed();
        if waited > Duration::from_millis(100) {
            tracing::info!(
                waited_ms = waited.as_millis(),
                "waited for another process's re-evaluation"
            );
        }
        let result = self.run_locked().await;
        lock.release().await?;
        let r = result?;
        self.metrics().reevaluated(&r);
        Ok(r)
    }

    /// [`run_once`] for a caller that holds the server's re-evaluation lock.
    ///
    /// # Errors
    /// The store fails.
    async fn run_locked(&self) -> anyhow::Result<Reevaluation> {
        let start = Instant::now();
        self.reload_advisories().await?;
        let reload = start.elapsed();
        let stale = self.store().stale_keys().await?;
        if stale.keys.is_empty() {
            return Ok(Reevaluation {
                took: start.elapsed(),
                reload,
                ..Reevaluation::default()
            });
        }
        let evaluator = self.evaluator();
        let mut names_by_stream: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for k in &stale.keys {
            for hs in evaluate::host_streams(&k.stream) {
                names_by_stream
                    .entry(hs)
                    .or_default()
                    .insert(k.package.clone());
            }
        }
        // Binaries reported without a source name match source-package advisories through the
        // repositories' binary → source maps: a stale source key re-matches them too.
        let sources = self.updates().sources();
        for (stream_key, names) in &mut names_by_stream {
            let Some(map) = stream_key
                .parse::<OsStream>()
                .ok()
                .and_then(|s| sources.get(&s))
            else {
                continue;
            };
            let binaries: Vec<String> = map
                .iter()
                .filter(|(_, source)| names.contains(*source))
                .map(|(binary, _)| binary.clone())
                .collect();
            names.extend(binaries);
        }
        let mut result = Reevaluation {
            keys: stale.keys.len(),
            reload,
            ..Reevaluation::default()
        };
        let rematch_start = Instant::now();
        let mut rematched: BTreeMap<String, FxHashSet<i64>> = BTreeMap::new();
        for (stream_key, names) in names_by_stream {
            let names: Vec<String> = names.into_iter().collect();
            let pkgs = self
                .store()
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
            // Write only the package versions whose answer changed: a feed update usually moves a
            // few findings, and rewriting every answer would cost far more than comparing.
            let mut stored = Vec::new();
            for chunk in ids.chunks(20_000) {
                stored.extend(self.store().package_findings(&stream_key, chunk).await?);
            }
            let changed = changed_answers(&stored, &findings);
            if !changed.is_empty() {
                let fresh: Vec<PackageFinding> = findings
                    .iter()
                    .filter(|f| changed.contains(&f.package_version_id))
                    .copied()
                    .collect();
                let changed_ids: Vec<i64> = ids
                    .iter()
                    .copied()
                    .filter(|id| changed.contains(id))
                    .collect();
                self.store()
                    .store_package_findings(&stream_key, &changed_ids, &fresh)
                    .await?;
            }
            // Overwrite whatever a concurrent request cached from the store before the commit.
            evaluator.put_answers(&stream_key, &ids, &findings);
            result.package_versions += ids.len();
            result.changed_answers += changed.len();
            // Every host with a re-matched version gets new counts, not only those whose stored
            // answer changed here: the import that marked the keys already deleted the findings of
            // removed and changed advisories (so "stored" may equal "fresh" while the counts still
            // hold the old answer), and a run cut short by a crash after writing the answers but
            // before the counts must still refresh them when it runs again.
            rematched.insert(stream_key, ids.iter().copied().collect());
        }
        result.rematch = rematch_start.elapsed();
        let sets_start = Instant::now();
        // One read of the installed sets of the re-matched streams' hosts: those that have a
        // re-matched version get new counts.
        let streams: Vec<String> = rematched.keys().cloned().collect();
        let sets: Vec<InstalledSet> = self
            .store()
            .installed_sets_of_streams(&streams)
            .await?
            .into_iter()
            .filter(|set| {
                set.stream
                    .as_ref()
                    .and_then(|s| rematched.get(s))
                    .is_some_and(|ids| set.ids.iter().any(|id| ids.contains(id)))
            })
            .collect();
        result.sets = sets_start.elapsed();
        let counts_start = Instant::now();
        result.hosts = self.refresh_sets(&sets, ExposureCause::Feed).await?.1;
        result.counts = counts_start.elapsed();
        // Keys marked after the index was loaded were matched with older data: keep them for
        // the next run.
        self.store()
            .clear_stale_keys(stale.seq.min(evaluator.generation()))
            .await?;
        self.fleet_changed();
        result.took = start.elapsed();
        Ok(result)
    }

    /// Recomputes the cached counts of `hosts` (every host when `None`) from the evaluator's
    /// per-package-version answers and the policy in force, in bulk: the installed sets are read
    /// in chunks, answers come from memory (or one query per stream and chunk), and each chunk's
    /// counts are written in one transaction. Returns the number of hosts refreshed.
    ///
    /// # Errors
    /// The store fails.
    pub async fn refresh_counts(&self, hosts: Option<&[i64]>) -> anyhow::Result<usize> {
        self.refresh_counts_because(hosts, ExposureCause::Feed)
            .await
    }

    /// [`refresh_counts`](Engine::refresh_counts), recording `cause` for the exposures it
    /// begins and ends.
    ///
    /// # Errors
    /// The store fails.
    pub async fn refresh_counts_because(
        &self,
        hosts: Option<&[i64]>,
        cause: ExposureCause,
    ) -> anyhow::Result<usize> {
        let sets = match hosts {
            Some(h) => {
                let mut all = Vec::with_capacity(h.len());
                for chunk in h.chunks(REFRESH_CHUNK) {
                    all.extend(self.store().installed_sets(Some(chunk)).await?);
                }
                all
            }
            None => self.store().installed_sets(None).await?,
        };
        Ok(self.refresh_sets(&sets, cause).await?.0)
    }

    /// [`refresh_counts`] over installed sets already read: returns the number of hosts
    /// recomputed and of those whose counts changed (only those are written).
    async fn refresh_sets(
        &self,
        sets: &[InstalledSet],
        cause: ExposureCause,
    ) -> anyhow::Result<(usize, usize)> {
        let evaluator = self.evaluator();
        let policy = self.policy();
        let now = OffsetDateTime::now_utc();
        let mut refreshed = 0;
        let mut changed = 0;
        let (mut read, mut compute, mut write) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        for chunk in sets.chunks(REFRESH_CHUNK) {
            let t = Instant::now();
            let mut ids_by_stream: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
            for set in chunk {
                if let Some(s) = &set.stream {
                    ids_by_stream.entry(s).or_default().extend(&set.ids);
                }
            }
            let mut answers: BTreeMap<&str, FxHashMap<i64, Answer>> = BTreeMap::new();
            let mut names: FxHashMap<i64, (String, String)> = FxHashMap::default();
            for (stream, ids) in &mut ids_by_stream {
                ids.sort_unstable();
                ids.dedup();
                answers.insert(stream, evaluator.answers(self.store(), stream, ids).await?);
                if policy.has_exceptions() {
                    for (id, p) in self.store().package_versions(ids).await? {
                        names.insert(id, (p.name, p.version));
                    }
                }
            }
            read += t.elapsed();
            let t = Instant::now();
            let mut counts = Vec::with_capacity(chunk.len());
            let mut exposures = Vec::with_capacity(chunk.len());
            for set in chunk {
                let (c, e) = match &set.stream {
                    Some(stream) => {
                        let a = &answers[stream.as_str()];
                        let items: Vec<CountItem<'_>> = set
                            .ids
                            .iter()
                            .filter_map(|id| {
                                a.get(id).map(|answer| CountItem {
                                    answer,
                                    package: names.get(id).map(|(n, v)| (n.as_str(), v.as_str())),
                                })
                            })
                            .collect();
                        crate::history::host_counts_and_exposures(
                            &evaluator,
                            &policy,
                            stream,
                            &set.modules,
                            &items,
                            now,
                        )
                    }
                    None => (HostCounts::default(), Vec::new()),
                };
                refreshed += 1;
                if c != set.counts {
                    counts.push((set.host, c));
                }
                exposures.push((set.host, e));
            }
            // Counts and exposure history in one transaction (a host's CVE set can change
            // while its counts do not, so every recomputed host's history is brought up to
            // date).
            compute += t.elapsed();
            let t = Instant::now();
            let ctx = ExposureContext {
                at: now,
                cause,
                report: None,
                generation: evaluator.generation(),
            };
            self.store()
                .update_hosts_counts_and_exposures(&counts, &exposures, &ctx)
                .await?;
            changed += counts.len();
            write += t.elapsed();
        }
        tracing::debug!(
            hosts = refreshed,
            changed,
            answers_ms = read.as_millis(),
            compute_ms = compute.as_millis(),
            write_ms = write.as_millis(),
            "host counts refreshed"
        );
        Ok((refreshed, changed))
    }

    /// Recomputes one host's cached counts.
    ///
    /// # Errors
    /// The store fails.
    pub async fn refresh_host_counts(&self, host: i64) -> anyhow::Result<()> {
        self.refresh_counts(Some(&[host])).await?;
        Ok(())
    }

    /// After CVE tags or exceptions changed: reloads them and recomputes every host's counts.
    /// Returns the number of hosts refreshed.
    ///
    /// # Errors
    /// The store fails.
    pub async fn refresh_all_counts(&self) -> anyhow::Result<usize> {
        self.reload_policy().await?;
        let n = self
            .refresh_counts_because(None, ExposureCause::Policy)
            .await?;
        self.fleet_changed();
        Ok(n)
    }

    /// Recomputes and caches the update counts of every host of `stream` (after one of its
    /// repositories changed), evaluating each distinct package version once; returns how many
    /// hosts were refreshed.
    ///
    /// # Errors
    /// The store fails.
    pub async fn refresh_stream(&self, stream: &str) -> anyhow::Result<usize> {
        let hosts = self.store().stream_hosts(stream).await?;
        let mut inventories = Vec::with_capacity(hosts.len());
        for h in hosts {
            let pkgs: Vec<InstalledPackage> = self
                .store()
                .host_packages(h.id)
                .await?
                .into_iter()
                .map(|(_, p)| p)
                .collect();
            let arch = h
                .facts
                .stream
                .as_ref()
                .and_then(|s| repo_arch(s, &h.facts.arch));
            inventories.push((h, arch, pkgs));
        }
        let index = self.updates().get();
        let counts = tokio::task::spawn_blocking(move || {
            let hp: Vec<HostPackages<'_>> = inventories
                .iter()
                .map(|(h, arch, pkgs)| HostPackages {
                    stream: h.facts.stream.as_ref(),
                    arch: arch.as_deref(),
                    packages: pkgs,
                    modules: &h.facts.modules,
                })
                .collect();
            index
                .fleet_updates(&hp)
                .iter()
                .zip(&inventories)
                .map(|(r, (h, _, _))| (h.id, counts_of(r)))
                .collect::<Vec<_>>()
        })
        .await?;
        self.store().set_host_updates(&counts).await?;
        Ok(counts.len())
    }

    /// Re-matches the already-evaluated package versions of `stream` named `names` against the
    /// advisories (after an imported `Packages` index taught the matcher their source names), and
    /// refreshes the CVE counts of the hosts that have them; returns how many package versions
    /// were re-evaluated.
    ///
    /// # Errors
    /// The store fails.
    pub async fn reevaluate_binaries(
        &self,
        stream: &str,
        names: Vec<String>,
    ) -> anyhow::Result<usize> {
        let Ok(parsed) = stream.parse::<OsStream>() else {
            return Ok(0);
        };
        if names.is_empty() {
            return Ok(0);
        }
        let pkgs = self
            .store()
            .evaluated_package_versions(stream, &names)
            .await?;
        if pkgs.is_empty() {
            return Ok(0);
        }
        let evaluator = self.evaluator();
        let ids: Vec<i64> = pkgs.iter().map(|(id, _)| *id).collect();
        let items: Vec<(i64, &InstalledPackage)> = pkgs.iter().map(|(id, p)| (*id, p)).collect();
        let findings = evaluator.evaluate(&parsed, &items);
        self.store()
            .store_package_findings(stream, &ids, &findings)
            .await?;
        for host in self.store().hosts_with_packages(stream, &ids).await? {
            self.refresh_host_counts(host).await?;
        }
        Ok(ids.len())
    }
}

/// Hosts whose counts one store round trip refreshes.
const REFRESH_CHUNK: usize = 2_000;

/// The package versions whose set of (advisory, entry) findings differs between `stored` and
/// `fresh`.
fn changed_answers(stored: &[PackageFinding], fresh: &[PackageFinding]) -> FxHashSet<i64> {
    let key = |f: &PackageFinding| (f.package_version_id, f.advisory_id, f.affected_idx);
    let old: FxHashSet<(i64, i64, i64)> = stored.iter().map(key).collect();
    let new: FxHashSet<(i64, i64, i64)> = fresh.iter().map(key).collect();
    old.symmetric_difference(&new).map(|k| k.0).collect()
}
