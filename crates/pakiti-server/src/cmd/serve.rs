//! `pakiti serve`: open the store, start workers and the feed scheduler, serve HTTP.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::net::TcpListener;

use crate::settings::{Evaluation, Settings};
use crate::state::AppState;

/// Opens the store named by the settings (creating the data directory for SQLite) and builds
/// the shared state.
///
/// # Errors
/// The store cannot be opened or migrated, or the report key cannot be read.
pub async fn open_state(settings: Settings) -> Result<AppState> {
    let url = settings.database_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating {}", settings.data_dir.display()))?;
    }
    let store = pakiti_store::open(&url)
        .await
        .with_context(|| format!("opening the store {}", redact(&url)))?;
    let key = match &settings.report_key {
        Some(path) => {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Some(
                crate::smime::ReportKey::from_pem(&pem)
                    .with_context(|| format!("loading {}", path.display()))?,
            )
        }
        None => None,
    };
    AppState::new(store, settings, key).await
}

/// A database URL with any password replaced, for logs and errors.
#[must_use]
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Runs the server until Ctrl-C or SIGTERM.
///
/// # Errors
/// The store cannot be opened or the address cannot be bound.
pub async fn run(settings: Settings, demo: bool) -> Result<()> {
    let listen = settings.listen;
    crate::listen::raise_open_files_limit();
    let state = open_state(settings).await?;
    // Held until the server stops: `pakiti restore` refuses to replace the file meanwhile.
    let _store_file = hold_store_file(&state.settings.database_url())?;
    // The report bodies the last clean stop remembered (`seen_bodies.rs`): a cache.
    let seen = crate::seen_bodies::path(&state.settings.data_dir);
    match crate::seen_bodies::load(&state.engine, &seen) {
        Ok(0) => {}
        Ok(n) => tracing::info!(bodies = n, "remembered report bodies read back"),
        Err(e) => tracing::warn!(error = format!("{e:#}"), "remembered report bodies ignored"),
    }
    if demo {
        let summary = crate::demo::populate_with_policy(&state)
            .await
            .context("filling the demo store")?;
        tracing::info!("{summary}");
    }
    // `[tls]`: HTTPS on `listen`, or on `tls.listen` beside plain HTTP on `listen`.
    let tls = if state.settings.tls.enabled() {
        let reloader = crate::tls::TlsReloader::new(&state.settings.tls)
            .context("loading the TLS certificate and key ([tls], --tls-cert, --tls-key)")?;
        Some(Arc::new(reloader))
    } else {
        None
    };
    let (http_addr, https_addr) = match (&tls, state.settings.tls.listen) {
        (None, _) => (Some(listen), None),
        (Some(_), None) => (None, Some(listen)),
        (Some(_), Some(l)) => (Some(listen), Some(l)),
    };
    let http = match http_addr {
        Some(a) => Some(
            crate::listen::bind(a, state.settings.limits.max_connections)
                .with_context(|| format!("binding {a}"))?,
        ),
        None => None,
    };
    let https = match https_addr {
        Some(a) => Some(
            crate::listen::bind(a, state.settings.limits.max_connections)
                .with_context(|| format!("binding {a} (HTTPS)"))?,
        ),
        None => None,
    };
    let mut urls = Vec::new();
    if let Some(l) = &http {
        urls.push(format!("http://{}", l.local_addr()?));
    }
    if let Some(l) = &https {
        urls.push(format!("https://{}", l.local_addr()?));
    }
    let url = urls.join(" and ");
    let public = [http_addr, https_addr]
        .into_iter()
        .flatten()
        .find(|a| !a.ip().is_loopback());
    if state.store.autovacuum_off().await.unwrap_or(false) {
        tracing::warn!(
            "PostgreSQL runs with autovacuum off: pakiti analyzes the database every \
             [housekeeping] analyze_hours, but nothing vacuums it (dead rows of hosts and \
             findings pile up); turn autovacuum on or VACUUM regularly"
        );
    }
    if state.settings.auth.mode == crate::settings::AuthMode::None
        && let Some(listen) = public
    {
        tracing::warn!(%listen, "auth.mode is \"none\": EVERYONE who reaches this address is an administrator");
        if state.settings.log.format == crate::settings::LogFormat::Text {
            eprintln!(
                "WARNING: pakiti listens on {listen} with auth.mode = \"none\": everyone who can reach it \
             sees every host and administers the server. Set [auth] mode (accounts, proxy, tls)."
            );
        }
    }
    tracing::info!(
        store = state.store.backend(),
        advisories = state.engine.evaluator().advisory_count(),
        "pakiti listening on {url}"
    );
    // JSON logs stay one object per line: the log lines above say the same.
    let text = state.settings.log.format == crate::settings::LogFormat::Text;
    if text {
        eprintln!("pakiti is running: open {url} in a browser (Ctrl-C stops it)");
    }
    {
        // Build the fleet index now rather than in the first page that needs it (issue 17:
        // seconds at 30,000 hosts); a page that comes earlier waits for this build.
        let engine = state.engine.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            match engine.fleet().await {
                Ok(f) => tracing::info!(
                    hosts = f.host_count(),
                    findings = f.finding_count(),
                    seconds = started.elapsed().as_secs_f64(),
                    "fleet index built"
                ),
                Err(e) => tracing::warn!(error = format!("{e:#}"), "fleet index build failed"),
            }
        });
    }
    let mut tasks = tokio::task::JoinSet::new();
    if state.settings.evaluation == Evaluation::Async {
        for i in 0..2 {
            let st = state.clone();
            let name = format!("{}-{}-{i}", hostname(), std::process::id());
            tasks.spawn(async move {
                crate::worker::run(st, name).await;
                "worker"
            });
        }
    }
    {
        // Every 30 s: sync due feeds, pick up what other servers changed (`jobs::tick`).
        let st = state.clone();
        tasks.spawn(async move {
            loop {
                crate::jobs::tick(&st).await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        });
    }
    {
        // Notifications: deliver the outbox (`notify::run`; detection is in `jobs::tick`).
        let st = state.clone();
        tasks.spawn(async move {
            crate::notify::run(st).await;
            "notification sender"
        });
    }
    if state.settings.sync_repos {
        let st = state.clone();
        tasks.spawn(async move {
            loop {
                if let Err(e) = crate::jobs::repos::sync_due(&st).await {
                    tracing::error!(error = format!("{e:#}"), "repository scheduler step failed");
                }
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
        });
    }
    // Report retention is part of housekeeping, on the tick above (`jobs::housekeeping`).
    if let Some(reloader) = &tls {
        let r = reloader.clone();
        tasks.spawn(async move {
            r.watch().await;
            "TLS certificate watch"
        });
    } else {
        // `systemctl reload pakiti` sends SIGHUP; without TLS there is nothing to re-read,
        // and the signal's default action would end the server.
        #[cfg(unix)]
        if let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            tasks.spawn(async move {
                while hup.recv().await.is_some() {
                    tracing::info!("SIGHUP: no [tls] certificate to re-read");
                }
                "SIGHUP handler"
            });
        }
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = move || {
        let mut rx = stopped.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let mut servers = tokio::task::JoinSet::new();
    if let Some(listener) = http {
        let (st, done) = (state.clone(), until_stopped());
        servers.spawn(async move { (crate::serve(listener, st, done).await, "HTTP") });
    }
    if let Some(addr) = state.settings.metrics.listen {
        // `[metrics] listen`: /metrics, /healthz and /readyz only.
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr} ([metrics] listen)"))?;
        tracing::info!(%addr, "metrics listener");
        let (st, done) = (state.clone(), until_stopped());
        servers.spawn(async move {
            (
                crate::handlers::ops::serve_metrics(listener, st, done).await,
                "metrics",
            )
        });
    }
    if let (Some(listener), Some(reloader)) = (https, tls) {
        let (st, done) = (state.clone(), until_stopped());
        servers.spawn(async move {
            (
                crate::tls::serve_tls(listener, st, reloader, done).await,
                "HTTPS",
            )
        });
    }
    tokio::select! {
        Some(done) = servers.join_next() => {
            let (result, which) = done.context("a listener task panicked")?;
            result.with_context(|| format!("serving {which}"))?;
        }
        () = shutdown_signal() => {
            tracing::info!("shutting down");
        }
        Some(done) = tasks.join_next() => {
            tracing::error!(task = ?done, "a background task exited");
        }
    }
    let _ = stop.send(true);
    while servers.join_next().await.is_some() {}
    match crate::seen_bodies::save(&state.engine, &seen) {
        Ok(n) => tracing::info!(bodies = n, path = %seen.display(), "report bodies remembered"),
        Err(e) => tracing::warn!(error = format!("{e:#}"), "report bodies not remembered"),
    }
    state.store.close().await;
    Ok(())
}

/// The advisory lock (`flock`, independent of SQLite's own `fcntl` locks) that tells a
/// restore from a running server on an SQLite store file: `pakiti serve` holds it shared while
/// it runs (several servers on one file can), `pakiti restore` takes it exclusively before it
/// replaces the file. `Ok(None)`: no such file, or a file system without locks (unprotected,
/// as before); `Err(())`: the other side holds it.
pub(crate) fn lock_store_file(
    path: &std::path::Path,
    exclusive: bool,
) -> std::result::Result<Option<std::fs::File>, ()> {
    let Ok(file) = std::fs::File::open(path) else {
        return Ok(None);
    };
    let locked = if exclusive {
        file.try_lock()
    } else {
        file.try_lock_shared()
    };
    match locked {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(()),
        Err(std::fs::TryLockError::Error(_)) => Ok(None),
    }
}

/// What `pakiti serve` holds on its SQLite store file while it runs ([`lock_store_file`],
/// shared); `None` for PostgreSQL.
///
/// # Errors
/// A restore holds the file (the server must not start under it).
fn hold_store_file(url: &str) -> Result<Option<std::fs::File>> {
    let Some(path) = pakiti_store::sqlite_file(url)? else {
        return Ok(None);
    };
    lock_store_file(&path, false).or_else(|()| {
        bail!(
            "{} is being restored (pakiti restore): try again when it is done",
            path.display()
        )
    })
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "pakiti".to_owned())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
