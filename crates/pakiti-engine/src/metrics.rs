//! What the engine counts for `/metrics`: reports processed by result, the time one report's
//! processing takes, the group-commit batch sizes, and when the evaluator was last loaded.
//!
//! The values are `prometheus-client` metrics (shared handles: a clone counts into the same
//! value); the server registers them in its one registry (`pakiti-server`'s `metrics.rs`). They
//! live here, one set per [`Engine`](crate::Engine), not in a process-wide recorder, so that
//! two engines in one process (tests, a server and a command) never count into each other.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

/// The label of a processed report: what happened to it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// `saved` (a changed report was stored), `unchanged` (same packages as the last one),
    /// `report_only` (evaluated, not stored), `queued` (for the asynchronous workers), `held`
    /// (an identity conflict, kept for an administrator).
    pub result: &'static str,
}

/// The label of a group-commit queue.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabel {
    /// `save`, `finish` or `touch` (see `writer.rs`).
    pub queue: &'static str,
}

fn batch_histogram() -> Histogram {
    // 1, 2, 4, … 256: the writer takes at most `MAX_BATCH` writes at once.
    Histogram::new(exponential_buckets(1.0, 2.0, 9))
}

/// The engine's metrics (cheap to clone: every field is a shared handle).
#[derive(Clone, Debug)]
pub struct EngineMetrics {
    /// Reports through `ingest::process`, by result.
    pub processed: Family<ResultLabel, Counter>,
    /// Seconds one `ingest::process` call took (parse excluded: the report is already read).
    pub ingest_seconds: Histogram,
    /// Writes per group-commit batch, by queue.
    pub batch_size: Family<QueueLabel, Histogram, fn() -> Histogram>,
    /// Unix time the advisories were last loaded into the evaluator (0: never).
    evaluator_loaded_at: std::sync::Arc<AtomicI64>,
    /// Re-evaluations that re-matched something (stale keys were left when this process got
    /// the lock): with several servers on one database, one of them per import.
    pub reevaluations: Counter,
    /// Package versions those re-matched.
    pub reevaluated_package_versions: Counter,
    /// Hosts whose counts they refreshed.
    pub reevaluated_hosts: Counter,
    /// Seconds they took, in all.
    pub reevaluation_seconds: Counter<f64, AtomicU64>,
    /// Of those seconds, by part: `reload` (advisories into the evaluator), `rematch`
    /// (stale package versions matched and their answers stored), `sets` (finding the hosts
    /// that have them), `counts` (their counts and exposure history).
    pub reevaluation_part_seconds: Family<PartLabel, Counter<f64, AtomicU64>>,
}

/// The label of a part of a re-evaluation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartLabel {
    /// `reload`, `rematch`, `sets` or `counts`.
    pub part: &'static str,
}

impl Default for EngineMetrics {
    fn default() -> Self {
        EngineMetrics {
            processed: Family::default(),
            // 1 ms … about 33 s.
            ingest_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            batch_size: Family::new_with_constructor(batch_histogram),
            evaluator_loaded_at: std::sync::Arc::default(),
            reevaluations: Counter::default(),
            reevaluated_package_versions: Counter::default(),
            reevaluated_hosts: Counter::default(),
            reevaluation_seconds: Counter::default(),
            reevaluation_part_seconds: Family::default(),
        }
    }
}

impl EngineMetrics {
    /// Starts timing one report's processing: the time is observed when the guard drops.
    #[must_use]
    pub fn ingest_timer(&self) -> IngestTimer {
        IngestTimer {
            histogram: self.ingest_seconds.clone(),
            start: Instant::now(),
        }
    }

    /// Counts one report that ended with `result` (see [`ResultLabel`]).
    pub fn processed(&self, result: &'static str) {
        self.processed.get_or_create(&ResultLabel { result }).inc();
    }

    /// How many reports ended with `result`.
    #[must_use]
    pub fn processed_count(&self, result: &'static str) -> u64 {
        self.processed.get_or_create(&ResultLabel { result }).get()
    }

    /// Records one group-commit batch of `n` writes on `queue`.
    pub fn batch(&self, queue: &'static str, n: usize) {
        #[allow(clippy::cast_precision_loss)]
        self.batch_size
            .get_or_create(&QueueLabel { queue })
            .observe(n as f64);
    }

    /// Records that the evaluator was (re)loaded now.
    pub fn evaluator_loaded(&self) {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.evaluator_loaded_at.store(now, Ordering::Relaxed);
    }

    /// Counts a re-evaluation that re-matched something (one with no stale key left, after
    /// another process did the work, is not counted).
    pub fn reevaluated(&self, r: &crate::reevaluate::Reevaluation) {
        if r.keys == 0 {
            return;
        }
        self.reevaluations.inc();
        self.reevaluated_package_versions
            .inc_by(u64::try_from(r.package_versions).unwrap_or(u64::MAX));
        self.reevaluated_hosts
            .inc_by(u64::try_from(r.hosts).unwrap_or(u64::MAX));
        self.reevaluation_seconds.inc_by(r.took.as_secs_f64());
        for (part, d) in [
            ("reload", r.reload),
            ("rematch", r.rematch),
            ("sets", r.sets),
            ("counts", r.counts),
        ] {
            self.reevaluation_part_seconds
                .get_or_create(&PartLabel { part })
                .inc_by(d.as_secs_f64());
        }
    }

    /// Unix time the evaluator was last loaded (0: never).
    #[must_use]
    pub fn evaluator_loaded_at(&self) -> i64 {
        self.evaluator_loaded_at.load(Ordering::Relaxed)
    }
}

/// Times one report's processing (see [`EngineMetrics::ingest_timer`]).
pub struct IngestTimer {
    histogram: Histogram,
    start: Instant,
}

impl Drop for IngestTimer {
    fn drop(&mut self) {
        self.histogram.observe(self.start.elapsed().as_secs_f64());
    }
}
