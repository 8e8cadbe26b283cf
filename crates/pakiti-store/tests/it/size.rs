//! The store size per 1,000 hosts, on SQLite, from the real package lists.

use pakiti_core::package::InstalledPackage;
use pakiti_store::{HostFacts, HostIdentity, NewReport, ReportMeta};

use crate::support::{at, sqlite, stream};

const LISTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/hosts/lists"
);

/// (stream, packages) for each `*.tsv` list: `name epoch version release arch ...`.
fn load_lists() -> Vec<(String, Vec<InstalledPackage>)> {
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(LISTS)
        .expect("host lists directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "tsv"))
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("read list");
        let family = text
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().find_map(|w| w.strip_prefix("family=")))
            .unwrap_or("redhat");
        let s = match family {
            "debian" => "debian:12",
            "ubuntu" => "ubuntu:22.04",
            "alpine" => "alpine:3.19",
            "suse" => "sles:15",
            _ => "rhel:9",
        };
        let pkgs: Vec<InstalledPackage> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                let (name, epoch, version, release, arch) =
                    (*f.first()?, *f.get(1)?, *f.get(2)?, *f.get(3)?, *f.get(4)?);
                let mut v = String::new();
                if !epoch.is_empty() && epoch != "0" && epoch != "(none)" {
                    v.push_str(epoch);
                    v.push(':');
                }
                v.push_str(version);
                if !release.is_empty() {
                    v.push('-');
                    v.push_str(release);
                }
                Some(InstalledPackage::new(name, v, arch))
            })
            .collect();
        out.push((s.to_owned(), pkgs));
    }
    out
}

/// Packages per host: the lists hold 20–800 (473 on average), so each host is its list topped
/// up from the next lists to this many, which makes the dictionary bigger than a real
/// fleet's (more distinct versions): a pessimistic measure.
const TARGET_PACKAGES: usize = 800;

/// 1,000 hosts built round-robin from the lists; about 1 package in 10 gets one of three
/// jittered versions per host, as in a fleet patched at different times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_hosts_fit_in_12_mib() {
    let lists = load_lists();
    assert!(
        lists.len() >= 40,
        "expected the 41 host lists, found {}",
        lists.len()
    );
    let db = sqlite().await;
    let s = &db.store;
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut total_pkgs = 0usize;
    let started = std::time::Instant::now();
    for h in 0..1000 {
        let st = &lists[h % lists.len()].0;
        let mut names = std::collections::HashSet::new();
        let packages: Vec<InstalledPackage> = (0..4)
            .flat_map(|k| lists[(h + k) % lists.len()].1.iter())
            .filter(|p| names.insert(p.name.as_str()))
            .take(TARGET_PACKAGES)
            .map(|p| {
                let mut p = p.clone();
                if next() % 10 == 0 {
                    p.version = format!("{}.{}", p.version, next() % 3);
                }
                p
            })
            .collect();
        total_pkgs += packages.len();
        let facts = HostFacts {
            os_name: st.clone(),
            stream: Some(stream(st)),
            arch: "x86_64".into(),
            kernel: "6.1.0".into(),
            packager: "rpm".into(),
            ..HostFacts::default()
        };
        let saved = s
            .save_report(NewReport {
                identity: &HostIdentity {
                    hostname: format!("host-{h:04}.example.org"),
                    client_id: Some(format!(
                        "{:032x}",
                        u128::from(next()) << 64 | u128::from(next())
                    )),
                },
                facts: &facts,
                meta: &ReportMeta {
                    received_at: at(h as i64),
                    hash: format!("{:016x}", next()),
                    via_proxy: false,
                    proxy_name: None,
                    site: None,
                    tag: None,
                },
                packages: &packages,
            })
            .await
            .unwrap();
        s.store_package_findings(st, &saved.unevaluated, &[])
            .await
            .unwrap();
    }
    let elapsed = started.elapsed();
    s.close().await;
    let dir = db.url.strip_prefix("sqlite://").unwrap();
    let sizes: Vec<u64> = ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| std::fs::metadata(format!("{dir}{suffix}")).map_or(0, |m| m.len()))
        .collect();
    eprintln!("db, wal, shm bytes: {sizes:?}");
    let size: u64 = sizes.iter().sum();
    if let Ok(keep) = std::env::var("PAKITI_SIZE_KEEP") {
        std::fs::copy(dir, keep).expect("keep database copy");
    }
    let avg = total_pkgs as f64 / 1000.0;
    eprintln!(
        "1000 hosts, {avg:.0} packages each on average: {:.2} MiB on disk ({:.0} bytes/host); \
         saved in {elapsed:?}",
        size as f64 / 1_048_576.0,
        size as f64 / 1000.0
    );
    assert!(
        size < 12 * 1024 * 1024,
        "store is {size} bytes for 1,000 hosts"
    );
    db.finish().await;
}
