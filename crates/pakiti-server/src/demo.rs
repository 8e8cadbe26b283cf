//! `pakiti serve --demo`: a populated store from real data shipped in the repository.
//!
//! Feeds: trimmed real vendor files in `fixtures/demo/` (Red Hat OVAL for RHEL 7 and 8, Ubuntu
//! focal OVAL, the Debian DSA list's bullseye entries, AlmaLinux OSV records, the CISA KEV
//! catalogue and a FIRST EPSS excerpt; see
//! `fixtures/demo/make.py`), and a `Sources` excerpt for bullseye registered as a local apt
//! repository, so that the Debian hosts (whose reports, like those of protocol 4 and 5 agents,
//! carry no source names) match the DSAs through binary → source names. Hosts: real package lists of RHEL, CentOS, Rocky, Alma, Ubuntu,
//! Debian and Alpine machines, each reported several times under different names with a few
//! versions moved, plus the machine the demo runs on, collected by the real agent code. Every
//! report goes through the same ingest path as a real one.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use pakiti_api::report::{Mode, Packager, Report};
use pakiti_store::NewFeed;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::OffsetDateTime;

use crate::jobs::feeds;
use crate::sample;
use crate::state::AppState;
use pakiti_engine::ingest::{self, Origin};

struct DemoFeed {
    name: &'static str,
    kind: &'static str,
    file: &'static str,
    data: &'static [u8],
}

const FEEDS: &[DemoFeed] = &[
    DemoFeed {
        name: "demo-rhel-8-oval",
        kind: "redhat-oval",
        file: "rhel-8.oval.xml.bz2",
        data: include_bytes!("../../../fixtures/demo/rhel-8.oval.xml.bz2"),
    },
    DemoFeed {
        name: "demo-rhel-7-oval",
        kind: "redhat-oval",
        file: "rhel-7.oval.xml.bz2",
        data: include_bytes!("../../../fixtures/demo/rhel-7.oval.xml.bz2"),
    },
    DemoFeed {
        name: "demo-ubuntu-focal-oval",
        kind: "ubuntu-oval",
        file: "focal.oval.xml.bz2",
        data: include_bytes!("../../../fixtures/demo/focal.oval.xml.bz2"),
    },
    DemoFeed {
        name: "demo-debian-dsa",
        kind: "debian-list",
        file: "dsa-bullseye.list",
        data: include_bytes!("../../../fixtures/demo/dsa-bullseye.list"),
    },
    DemoFeed {
        name: "demo-alma-osv",
        kind: "osv",
        file: "alma.osv.json",
        data: include_bytes!("../../../fixtures/demo/alma.osv.json"),
    },
    // Prioritisation: the full real CISA KEV catalogue (2025-08-25) and the real FIRST EPSS
    // excerpt (its CVEs are mostly not the demo hosts'; a full daily file scores them all).
    DemoFeed {
        name: "cisa-kev",
        kind: "cisa-kev",
        file: "known_exploited_vulnerabilities.json.xz",
        data: include_bytes!("../../../fixtures/demo/kev.json.xz"),
    },
    DemoFeed {
        name: "first-epss",
        kind: "epss",
        file: "epss_scores.csv",
        data: include_bytes!("../../../fixtures/demo/epss.csv"),
    },
];

/// The bullseye `Sources` excerpt (derived from the real bullseye Packages indexes, see
/// `fixtures/demo/make.py`): (repository name, file name, stream, data).
const SOURCES: (&str, &str, &str, &[u8]) = (
    "demo-bullseye-sources",
    "demo-bullseye_main_source_Sources.xz",
    "debian:bullseye",
    include_bytes!("../../../fixtures/demo/demo-bullseye_main_source_Sources.xz"),
);

/// (list name, list text, host name prefix, site, tag, copies)
const HOSTS: &[(&str, &str, &str, &str, &str, usize)] = &[
    (
        "rhel_80",
        include_str!("../../../fixtures/demo/hosts/rhel_80.tsv"),
        "web",
        "prague",
        "web",
        6,
    ),
    (
        "rocky_8",
        include_str!("../../../fixtures/demo/hosts/rocky_8.tsv"),
        "wn",
        "prague",
        "workers",
        8,
    ),
    (
        "alma_8",
        include_str!("../../../fixtures/demo/hosts/alma_8.tsv"),
        "db",
        "brno",
        "db",
        4,
    ),
    (
        "alma_9",
        include_str!("../../../fixtures/demo/hosts/alma_9.tsv"),
        "app",
        "brno",
        "web",
        4,
    ),
    (
        "centos_7",
        include_str!("../../../fixtures/demo/hosts/centos_7.tsv"),
        "legacy",
        "brno",
        "workers",
        5,
    ),
    (
        "rhel_73",
        include_str!("../../../fixtures/demo/hosts/rhel_73.tsv"),
        "batch",
        "cern-lab",
        "workers",
        3,
    ),
    (
        "ubuntu_2004",
        include_str!("../../../fixtures/demo/hosts/ubuntu_2004.tsv"),
        "ui",
        "cern-lab",
        "web",
        5,
    ),
    (
        "debian_11",
        include_str!("../../../fixtures/demo/hosts/debian_11.tsv"),
        "mail",
        "prague",
        "infra",
        4,
    ),
    (
        "alpine_319",
        include_str!("../../../fixtures/demo/hosts/alpine_319.tsv"),
        "edge",
        "cern-lab",
        "infra",
        2,
    ),
];

fn demo_report(
    list: &sample::HostList,
    hostname: String,
    site: &str,
    tag: &str,
    rng: &mut StdRng,
) -> Report {
    let packager = match list.stream().map(|s| s.scheme()) {
        Some(pakiti_core::version::Scheme::Deb) => Packager::Dpkg,
        Some(pakiti_core::version::Scheme::Apk) => Packager::Apk,
        _ => Packager::Rpm,
    };
    let packages = list
        .packages
        .iter()
        .map(|p| {
            let version = if rng.random_bool(0.05) {
                sample::jitter_version(&p.version, rng.random_range(-1..=1))
            } else {
                p.version.clone()
            };
            pakiti_api::report::Package::new(p.name.clone(), version, p.arch.clone())
        })
        .collect();
    Report {
        hostname,
        os: list.os_name(),
        arch: "x86_64".into(),
        kernel: list.kernel.clone(),
        site: Some(site.to_owned()),
        tag: Some(tag.to_owned()),
        packager,
        mode: Mode::StoreOnly,
        packages,
        ..Report::default()
    }
}

/// The report of the machine the demo runs on, collected by the agent's own code.
fn this_machine() -> Result<Report> {
    use pakiti_client::collect;
    let sources = collect::Sources::default();
    let (packager, pkgs) = collect::collect_packages(&sources)?;
    let facts = collect::host_facts(&sources);
    Ok(Report {
        hostname: facts.hostname,
        os: facts.os,
        os_release: facts.os_id.map(|id| pakiti_api::report::OsRelease {
            id,
            version_id: facts.os_version_id.unwrap_or_default(),
        }),
        arch: facts.arch,
        cpu: facts.cpu,
        kernel: facts.kernel,
        site: Some("local".into()),
        tag: Some("demo".into()),
        packager: Packager::from_name(packager.name()),
        mode: Mode::StoreOnly,
        packages: pkgs
            .into_iter()
            .map(|p| pakiti_api::report::Package {
                name: p.name,
                version: p.version,
                arch: p.arch,
                source: p.source,
            })
            .collect(),
        ..Report::default()
    })
}

/// Writes the demo feed files into `dir`; returns (kind, path) for each.
///
/// # Errors
/// A file cannot be written.
pub fn write_feed_files(dir: &std::path::Path) -> Result<Vec<(String, std::path::PathBuf)>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut out = Vec::new();
    for f in FEEDS {
        let path = dir.join(f.file);
        std::fs::write(&path, f.data).with_context(|| format!("writing {}", path.display()))?;
        out.push((f.kind.to_owned(), path));
    }
    Ok(out)
}

/// Fills an empty store with the demo feeds and hosts; leaves a store with data alone.
///
/// # Errors
/// The store fails or the shipped data does not parse.
pub async fn populate(state: &AppState) -> Result<String> {
    let existing = state.store.list_feeds().await?;
    let hosts = state
        .store
        .list_hosts(
            &Default::default(),
            Default::default(),
            pakiti_store::Page {
                offset: 0,
                limit: 1,
            },
        )
        .await?;
    if !existing.is_empty() || hosts.total > 0 {
        return Ok(format!(
            "demo: the store already has {} feeds and {} hosts; nothing added",
            existing.len(),
            hosts.total
        ));
    }
    let mut summary = String::from("demo:");
    let dir = state.settings.data_dir.join("demo-feeds");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // Binary → source names for the Debian hosts, before the feeds (so that the DSA list's
    // bullseye advisories are mapped at once) and before the hosts report.
    let (name, file, stream, data) = SOURCES;
    let path = dir.join(file);
    std::fs::write(&path, data).with_context(|| format!("writing {}", path.display()))?;
    let repo = state
        .store
        .create_repository(&pakiti_store::NewRepository {
            name: name.into(),
            kind: "apt".into(),
            url: path.display().to_string(),
            stream: stream.into(),
            arch: None,
            security: None,
            priority: None,
            enabled: true,
            interval_secs: 86_400,
        })
        .await?;
    let out = crate::jobs::repos::sync(state, &repo, false, &feeds::NoProgress).await?;
    if let Some(e) = out.error {
        anyhow::bail!("demo repository {name} failed: {e}");
    }
    write!(summary, " {name} ({} source names);", out.source_pairs)?;
    for f in FEEDS {
        // The feed's source is a real local file, so scheduled syncs find it unchanged.
        let path = dir.join(f.file);
        std::fs::write(&path, f.data).with_context(|| format!("writing {}", path.display()))?;
        let feed = state
            .store
            .create_feed(&NewFeed {
                name: f.name.into(),
                kind: f.kind.into(),
                url: path.display().to_string(),
                stream: None,
                enabled: true,
                interval_secs: 86_400,
            })
            .await?;
        let fetched = feeds::Fetched {
            body: Some(f.data.to_vec()),
            ..feeds::Fetched::default()
        };
        let out = feeds::import(state, &feed, fetched, false, &feeds::NoProgress).await?;
        write!(summary, " {} ({} advisories);", f.name, out.advisories)?;
        if let Some(e) = out.error {
            anyhow::bail!("demo feed {} failed: {e}", f.name);
        }
    }
    state.engine.reevaluate().await?;
    let mut rng = StdRng::seed_from_u64(7);
    let mut n = 0;
    for (name, text, prefix, site, tag, copies) in HOSTS {
        let list = sample::parse_list(name, text)?;
        for i in 1..=*copies {
            let hostname = format!("{prefix}{i:02}.{site}.example.org");
            // Some history: two earlier reports (a few versions moved each time, so that
            // exposures begin and end), then the current one. The last host of each kind
            // stopped reporting 4 days ago.
            let quiet = i == *copies && *copies > 3;
            let now = OffsetDateTime::now_utc();
            let days = if quiet { [12, 8, 4] } else { [9, 4, 0] };
            for (k, ago) in days.into_iter().enumerate() {
                let report = demo_report(&list, hostname.clone(), site, tag, &mut rng);
                let hours = if k == 2 && !quiet {
                    rng.random_range(0..30)
                } else {
                    rng.random_range(0..12)
                };
                let origin = Origin {
                    received_at: now - time::Duration::days(ago) - time::Duration::hours(hours),
                    peer: None,
                    client_dn: None,
                    trusted_proxy: false,
                };
                ingest::process(&state.engine, &report, &origin)
                    .await
                    .map_err(|e| anyhow::anyhow!("demo host {name}: {e}"))?;
            }
            n += 1;
        }
    }
    match this_machine() {
        Ok(report) => {
            let origin = Origin {
                received_at: OffsetDateTime::now_utc(),
                peer: None,
                client_dn: None,
                trusted_proxy: false,
            };
            ingest::process(&state.engine, &report, &origin)
                .await
                .map_err(|e| anyhow::anyhow!("this machine: {e}"))?;
            n += 1;
        }
        Err(e) => tracing::warn!(
            error = format!("{e:#}"),
            "could not collect this machine's packages"
        ),
    }
    state.engine.fleet_changed();
    write!(summary, " {n} hosts")?;
    Ok(summary)
}

/// What `pakiti serve --demo` loads: [`populate`], then (into a store it filled) the site
/// policy a security officer would add ([`site_policy`]: CVE tags, an exception).
///
/// # Errors
/// See [`populate`].
pub async fn populate_with_policy(state: &AppState) -> Result<String> {
    let mut summary = populate(state).await?;
    if !summary.contains("nothing added") {
        let (tags, exceptions) = site_policy(state).await?;
        write!(summary, "; {tags} CVE tags, {exceptions} exception")?;
    }
    Ok(summary)
}

/// CVEs a site watches (as a Pakiti 3 site tags them), created when the demo data has them.
const TAGS: &[(&str, &str, &str)] = &[
    (
        "CVE-2021-3156",
        "Critical",
        "sudo heap overflow (Baron Samedit): local root; in CISA KEV",
    ),
    (
        "CVE-2020-15999",
        "Critical",
        "FreeType heap overflow through crafted fonts, exploited in the wild; in CISA KEV",
    ),
    (
        "CVE-2019-13272",
        "EGI-critical",
        "Linux kernel ptrace (PTRACE_TRACEME) local root on worker nodes; in CISA KEV",
    ),
    (
        "CVE-2021-4034",
        "Critical",
        "polkit pkexec (PwnKit): local root; in CISA KEV",
    ),
];

/// Tags the `TAGS` CVEs (well-known, in CISA KEV) and accepts one finding of the first as an exception, the way a site
/// security officer would; returns (tags, exceptions) created. Counts and the fleet index are
/// refreshed as after an administrator's change.
///
/// # Errors
/// The store fails.
pub async fn site_policy(state: &AppState) -> Result<(usize, usize)> {
    let fleet = state.engine.refresh_fleet_now().await?;
    let all = pakiti_store::HostScope::All;
    let (mut tags, mut exceptions) = (0, 0);
    for (cve, tag, reason) in TAGS {
        let Some(detail) = fleet.cve(cve, &all) else {
            continue;
        };
        state
            .store
            .create_cve_tag(&pakiti_store::NewCveTag {
                cve: (*cve).into(),
                tag: (*tag).into(),
                reason: (*reason).into(),
                info_url: Some(format!("https://www.cve.org/CVERecord?id={cve}")),
                enabled: true,
                author: "demo".into(),
            })
            .await?;
        tags += 1;
        if exceptions > 0 {
            continue;
        }
        let found = detail.hosts.iter().find_map(|h| {
            Some((
                h.stream.clone()?,
                h.packages.first()?.clone(),
                h.hostname.clone(),
            ))
        });
        if let Some((stream, p, host)) = found {
            state
                .store
                .create_exception(&pakiti_store::NewException {
                    cve: (*cve).into(),
                    package: p.package.clone(),
                    version: p.version.clone(),
                    stream,
                    reason: format!(
                        "{host}: {} is not reachable by users on this node; accepted until the next maintenance window",
                        p.package
                    ),
                    author: "demo".into(),
                    expires_at: Some(OffsetDateTime::now_utc() + time::Duration::days(30)),
                })
                .await?;
            exceptions += 1;
        }
    }
    state.engine.reload_policy().await?;
    state.engine.refresh_all_counts().await?;
    state.engine.refresh_fleet_now().await?;
    Ok((tags, exceptions))
}
