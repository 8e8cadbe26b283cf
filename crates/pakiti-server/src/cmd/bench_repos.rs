//! `pakiti bench repos`: import time of the bookworm `Packages` index (63,000 stanzas) into a
//! real store through `repo import`'s code path, and the time to compute the updates of a
//! fleet built from the real host lists against every apt fixture suite loaded from the store.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use pakiti_core::updates::HostPackages;
use pakiti_feeds::repo::bench::{APT_SUITES, jittered_fleet, parse_host_list};
use pakiti_store::{NewRepository, SyncStatus};

use crate::jobs::feeds::NoProgress;
use crate::settings::Settings;

/// Runs the benchmark with a fleet of `hosts` hosts; SQLite in a temp directory.
///
/// # Errors
/// A data file is missing, an import fails, the store fails.
pub async fn run(data: &Path, hosts: usize, out: &mut impl Write) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("pakiti-bench-repos-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let settings = Settings {
        data_dir: dir.clone(),
        sync_feeds: false,
        sync_repos: false,
        ..Settings::default()
    };
    let state = crate::cmd::serve::open_state(settings).await?;
    let apt = data.join("repos/apt");
    let mut bookworm = None;
    let t_all = Instant::now();
    for &(distro, release, prefix) in APT_SUITES {
        let stream = pakiti_core::stream::OsStream::new(distro, release);
        let path = apt.join(format!("{prefix}_main_binary-amd64_Packages.xz"));
        let repo = state
            .store
            .create_repository(&NewRepository {
                name: prefix.to_owned(),
                kind: "apt".into(),
                url: path.to_string_lossy().into_owned(),
                stream: stream.to_string(),
                arch: Some("amd64".into()),
                security: None,
                priority: None,
                enabled: true,
                interval_secs: 86_400,
            })
            .await?;
        let t = Instant::now();
        let o = crate::jobs::repos::sync(&state, &repo, false, &NoProgress).await?;
        let took = t.elapsed();
        if o.status != SyncStatus::Ok {
            bail!("importing {}: {:?}", path.display(), o.error);
        }
        if prefix == "deb.debian.org_debian_dists_bookworm" {
            bookworm = Some((o.packages, took));
        }
    }
    let all = t_all.elapsed();
    let (stanzas, import) = bookworm.context("no bookworm suite")?;
    writeln!(
        out,
        "import bookworm main amd64 Packages.xz: {stanzas} stanzas in {:.3} s (read, verify, \
         decompress, parse, store in one transaction, rebuild the index)",
        import.as_secs_f64()
    )?;
    writeln!(
        out,
        "import all {} apt suites: {:.3} s",
        APT_SUITES.len(),
        all.as_secs_f64()
    )?;
    let t = Instant::now();
    let n = state.engine.reload_repositories().await?;
    writeln!(
        out,
        "rebuild the in-memory index from the store ({n} repositories): {:.3} s",
        t.elapsed().as_secs_f64()
    )?;

    let lists_dir = data.join("hosts/lists");
    let mut lists = Vec::new();
    for n in [
        "debian_11",
        "debian_12",
        "debian_13",
        "ubuntu_2004",
        "ubuntu_2404",
    ] {
        let p = lists_dir.join(format!("{n}.tsv"));
        let text = std::fs::read_to_string(&p).with_context(|| format!("{}", p.display()))?;
        lists.push(parse_host_list(&text)?);
    }
    let fleet = jittered_fleet(&lists, hosts);
    let index = state.engine.updates().get();
    let inventories: Vec<HostPackages<'_>> = fleet
        .iter()
        .map(|(s, p)| HostPackages {
            stream: Some(s),
            arch: Some("amd64"),
            packages: p,
            modules: &[],
        })
        .collect();
    let t = Instant::now();
    let results = index.fleet_updates(&inventories);
    let fleet_time = t.elapsed();
    let updates: usize = results.iter().map(|r| r.updates.len()).sum();
    let security: usize = results.iter().map(|r| r.security_count()).sum();
    writeln!(
        out,
        "updates for {} hosts ({} installed packages): {:.3} s, {updates} updates ({security} security)",
        fleet.len(),
        fleet.iter().map(|(_, p)| p.len()).sum::<usize>(),
        fleet_time.as_secs_f64()
    )?;
    state.store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
