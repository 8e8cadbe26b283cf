//! Group commit: concurrent requests' writes share transactions.
//!
//! SQLite has one writer and every commit is an fsync; PostgreSQL pays a WAL flush per
//! commit. A request that stores a report hands its write to one of the [`Writer`]'s queues
//! and waits; the queue's task takes everything waiting (up to [`MAX_BATCH`]), writes it in one
//! transaction and answers each request after the commit. Under load many reports share one
//! fsync; alone, a report waits for nothing but its own commit. A request is answered only
//! after the transaction holding its write committed (so an acknowledged report is durable),
//! and a failing batch is retried one write at a time so that one bad write fails alone.

use pakiti_core::package::InstalledPackage;
use pakiti_store::Store;

use crate::metrics::EngineMetrics;
use pakiti_store::{
    FinishReport, HostFacts, HostId, HostIdentity, NewReport, ReportId, ReportMeta, SavedReport,
    StoreError,
};
use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, oneshot};

/// The most writes one transaction takes.
pub const MAX_BATCH: usize = 64;

/// A changed report to save, owned (it crosses a task boundary).
#[derive(Clone, Debug)]
pub struct OwnedReport {
    /// Who sent it.
    pub identity: HostIdentity,
    /// Host facts.
    pub facts: HostFacts,
    /// Report metadata.
    pub meta: ReportMeta,
    /// Installed packages.
    pub packages: std::sync::Arc<Vec<InstalledPackage>>,
}

impl OwnedReport {
    fn as_new(&self) -> NewReport<'_> {
        NewReport {
            identity: &self.identity,
            facts: &self.facts,
            meta: &self.meta,
            packages: &self.packages,
        }
    }
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;
/// A queue's receiving end, shared by its runners.
type Shared<Q, T> = Arc<Mutex<mpsc::Receiver<(Q, Reply<T>)>>>;
/// An unchanged report: its host and metadata.
type Touch = (HostId, ReportMeta);

/// The write queues.
#[derive(Clone, Debug)]
pub struct Writer {
    save: mpsc::Sender<(OwnedReport, Reply<SavedReport>)>,
    finish: mpsc::Sender<(FinishReport, Reply<bool>)>,
    touch: mpsc::Sender<(Touch, Reply<Option<ReportId>>)>,
}

fn closed() -> StoreError {
    StoreError::Invalid("the server is shutting down".into())
}

async fn ask<Q, T>(tx: &mpsc::Sender<(Q, Reply<T>)>, q: Q) -> Result<T, StoreError> {
    let (reply, answer) = oneshot::channel();
    tx.send((q, reply)).await.map_err(|_| closed())?;
    answer.await.map_err(|_| closed())?
}

/// Runs one queue: batches what is waiting, writes it with `many`, and on failure retries
/// each item alone. Several runners may share a queue (PostgreSQL takes concurrent
/// transactions); each takes a batch under the lock and writes it outside.
async fn run<Q, T, F, Fut>(rx: Shared<Q, T>, many: F, queue: &'static str, metrics: EngineMetrics)
where
    F: Fn(Vec<Q>) -> Fut,
    Fut: std::future::Future<Output = (Vec<Q>, Result<Vec<T>, StoreError>)>,
{
    loop {
        let items = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            let mut items = vec![first];
            while items.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(x) => items.push(x),
                    Err(_) => break,
                }
            }
            items
        };
        let (qs, replies): (Vec<Q>, Vec<Reply<T>>) = items.into_iter().unzip();
        let n = qs.len();
        metrics.batch(queue, n);
        let (qs, result) = with_retries(&many, qs).await;
        match result {
            Ok(outs) => {
                for (r, o) in replies.into_iter().zip(outs) {
                    let _ = r.send(Ok(o));
                }
            }
            Err(e) if n == 1 => {
                if let Some(r) = replies.into_iter().next() {
                    let _ = r.send(Err(e));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, writes = n, "batched write failed; retrying one by one");
                for (q, r) in qs.into_iter().zip(replies) {
                    let (_, res) = with_retries(&many, vec![q]).await;
                    let _ = r.send(res.and_then(|mut v| {
                        v.pop()
                            .ok_or_else(|| StoreError::Invalid("empty batch answer".into()))
                    }));
                }
            }
        }
    }
}

/// How often a write that failed transiently is tried again before its error is answered
/// (as 503 with `Retry-After`, never 500: see `AppError::status`).
const TRANSIENT_RETRIES: u64 = 8;

/// Runs `many(qs)`, again after a transient failure: PostgreSQL breaks a deadlock or a
/// serialization conflict between concurrent batches by aborting one of them, and the
/// aborted one simply runs again, after a growing pause with jitter so that the two do not
/// meet again at once.
async fn with_retries<Q, T, F, Fut>(many: &F, qs: Vec<Q>) -> (Vec<Q>, Result<Vec<T>, StoreError>)
where
    F: Fn(Vec<Q>) -> Fut,
    Fut: std::future::Future<Output = (Vec<Q>, Result<Vec<T>, StoreError>)>,
{
    let (mut qs, mut result) = many(qs).await;
    for attempt in 1..=TRANSIENT_RETRIES {
        match &result {
            Err(e) if e.is_transient() => {
                tracing::debug!(error = %e, attempt, "transient write conflict; retrying");
                let jitter = rand::random_range(0..=10 * attempt);
                tokio::time::sleep(std::time::Duration::from_millis(10 * attempt + jitter)).await;
                (qs, result) = many(qs).await;
            }
            _ => break,
        }
    }
    (qs, result)
}

/// Concurrent writers per queue: SQLite has one writer connection, PostgreSQL runs
/// transactions side by side.
fn runners(store: &Store) -> usize {
    if store.is_sqlite() { 1 } else { 4 }
}

impl Writer {
    /// Starts the queue tasks on the current tokio runtime; they end when every `Writer`
    /// clone is dropped.
    #[must_use]
    pub fn start(store: Store, metrics: &EngineMetrics) -> Self {
        let (save, save_rx) = mpsc::channel::<(OwnedReport, Reply<SavedReport>)>(1024);
        let (finish, finish_rx) = mpsc::channel::<(FinishReport, Reply<bool>)>(1024);
        let (touch, touch_rx) = mpsc::channel(1024);
        let (save_rx, finish_rx, touch_rx) = (
            Arc::new(Mutex::new(save_rx)),
            Arc::new(Mutex::new(finish_rx)),
            Arc::new(Mutex::new(touch_rx)),
        );
        for _ in 0..runners(&store) {
            let s = store.clone();
            tokio::spawn(run(
                save_rx.clone(),
                move |qs: Vec<OwnedReport>| {
                    let s = s.clone();
                    async move {
                        let news: Vec<NewReport<'_>> = qs.iter().map(OwnedReport::as_new).collect();
                        let r = s.save_reports(&news).await;
                        drop(news);
                        (qs, r)
                    }
                },
                "save",
                metrics.clone(),
            ));
            let s = store.clone();
            tokio::spawn(run(
                finish_rx.clone(),
                move |qs: Vec<FinishReport>| {
                    let s = s.clone();
                    async move {
                        let r = s.finish_reports(&qs).await;
                        (qs, r)
                    }
                },
                "finish",
                metrics.clone(),
            ));
            let s = store.clone();
            tokio::spawn(run(
                touch_rx.clone(),
                move |qs: Vec<Touch>| {
                    let s = s.clone();
                    async move {
                        let r = s.touch_unchanged_reports(&qs).await;
                        (qs, r)
                    }
                },
                "touch",
                metrics.clone(),
            ));
        }
        Writer {
            save,
            finish,
            touch,
        }
    }

    /// Writes waiting in each queue (`save`, `finish`, `touch`), for `/metrics`.
    #[must_use]
    pub fn queue_lengths(&self) -> [(&'static str, usize); 3] {
        [
            ("save", self.save.max_capacity() - self.save.capacity()),
            (
                "finish",
                self.finish.max_capacity() - self.finish.capacity(),
            ),
            ("touch", self.touch.max_capacity() - self.touch.capacity()),
        ]
    }

    /// Saves a changed report (see [`Store::save_report`]).
    ///
    /// # Errors
    /// The store fails.
    pub async fn save(&self, report: OwnedReport) -> Result<SavedReport, StoreError> {
        ask(&self.save, report).await
    }

    /// Writes an evaluated report's results (see [`Store::finish_reports`]); `false` when the
    /// store refused them as computed from an index older than its feeds (nothing written).
    ///
    /// # Errors
    /// The store fails.
    pub async fn finish(&self, item: FinishReport) -> Result<bool, StoreError> {
        ask(&self.finish, item).await
    }

    /// Records an unchanged report; `None` when the host no longer exists.
    ///
    /// # Errors
    /// The store fails.
    pub async fn touch(
        &self,
        host: HostId,
        meta: ReportMeta,
    ) -> Result<Option<ReportId>, StoreError> {
        ask(&self.touch, (host, meta)).await
    }
}
