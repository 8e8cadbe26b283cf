//! Issue 12 (items 1, 2, 5, 7, 8): findings on the paths real sites take — module streams,
//! rebuild release tags, kpatch equality, unknown epochs — on the real Red Hat OVAL files and
//! host lists in `shared/data`.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use pakiti_core::advisory::Advisory;
use pakiti_core::matcher::{AdvisoryIndex, HostInventory, rebuild_compare};
use pakiti_core::package::InstalledPackage;
use pakiti_core::stream::OsStream;
use pakiti_core::version::Scheme;
use pakiti_feeds::{ParseOptions, oval};

use crate::oval::load;

const HOSTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/hosts/lists/"
);

fn parse(rel: &str) -> Vec<Advisory> {
    oval::redhat::parse(&load(rel)[..], &ParseOptions::default())
        .unwrap()
        .records
}

static RHEL8: LazyLock<AdvisoryIndex> =
    LazyLock::new(|| AdvisoryIndex::new(parse("redhat/rhel-8-including-unpatched.oval.xml.bz2")));
static RHEL7: LazyLock<AdvisoryIndex> =
    LazyLock::new(|| AdvisoryIndex::new(parse("redhat/rhel-7-including-unpatched.oval.xml.bz2")));

/// `name epoch version release arch candidate` rows; `with_epoch: false` drops the epoch as
/// `rpm -qa` does (the version is then `V-R`, epoch unknown).
fn host(file: &str, with_epoch: bool) -> Vec<InstalledPackage> {
    let text = std::fs::read_to_string(format!("{HOSTS}{file}")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let e = if c[1].is_empty() { "0" } else { c[1] };
            let v = if with_epoch {
                format!("{e}:{}-{}", c[2], c[3])
            } else {
                format!("{}-{}", c[2], c[3])
            };
            InstalledPackage::new(c[0], v, c[4])
        })
        .collect()
}

/// (package, advisory) pairs and the distinct CVEs of a host.
fn matched(
    index: &AdvisoryIndex,
    stream: &str,
    pkgs: &[InstalledPackage],
    modules: &[String],
) -> (BTreeSet<(String, String)>, BTreeSet<String>) {
    let stream: OsStream = stream.parse().unwrap();
    let r = index.match_host(&HostInventory {
        stream: Some(&stream),
        packages: pkgs,
        modules,
    });
    assert!(r.covered);
    let pairs = r
        .findings
        .iter()
        .map(|f| (pkgs[f.package].name.clone(), f.advisory.id.clone()))
        .collect();
    let cves = r
        .findings
        .iter()
        .flat_map(|f| f.advisory.cves.iter().cloned())
        .collect();
    (pairs, cves)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// Issue 12 item 1: CVE-2021-27290's first module branch names `nodejs:14`; a host with
/// `nodejs:10` and nodejs 10.14.1 must still get it (the per-advisory de-duplication ran before
/// the module check and kept only the `nodejs:14` entry).
#[test]
fn issue_12_module_branch_after_another_stream() {
    let mut pkgs = host("rhel_80.tsv", true);
    pkgs.push(InstalledPackage::new(
        "nodejs",
        "1:10.14.1-1.module+el8.0.0+2632+6c5111ed",
        "x86_64",
    ));
    for stream in ["nodejs:10", "nodejs:12", "nodejs:14"] {
        let (pairs, _) = matched(&RHEL8, "rhel:8", &pkgs, &strings(&[stream]));
        assert!(
            pairs.contains(&("nodejs".to_owned(), "CVE-2021-27290".to_owned())),
            "{stream}"
        );
    }
    let (pairs, _) = matched(&RHEL8, "rhel:8", &pkgs, &strings(&["nodejs:16"]));
    assert!(!pairs.contains(&("nodejs".to_owned(), "CVE-2021-27290".to_owned())));
}

/// The RHEL 8.0 host with nodejs:10, mariadb:10.3 and postgresql:10 packages at versions the
/// advisories list for those streams.
fn modular_host() -> Vec<InstalledPackage> {
    let mut pkgs = host("rhel_80.tsv", true);
    for (name, version) in [
        ("nodejs", "1:10.16.3-2.module+el8.0.0+4214+49953fda"),
        // Same module build as nodejs: attributed through the build tag.
        ("npm", "1:6.9.0-1.10.16.3.2.module+el8.0.0+4214+49953fda"),
        ("mariadb", "3:10.3.17-1.module+el8.1.0+3974+90eded84"),
        ("mariadb-server", "3:10.3.17-1.module+el8.1.0+3974+90eded84"),
        ("postgresql", "0:10.14-1.module+el8.2.0+7801+be0fed80"),
        (
            "postgresql-server",
            "0:10.14-1.module+el8.2.0+7801+be0fed80",
        ),
    ] {
        pkgs.push(InstalledPackage::new(name, version, "x86_64"));
    }
    pkgs
}

/// Issue 12 item 2: a host that sends no module streams (every Pakiti 2/3 client) gets them
/// inferred from its module packages and the same findings as one that reports them.
#[test]
fn issue_12_module_streams_inferred() {
    let pkgs = modular_host();
    let stream: OsStream = "rhel:8".parse().unwrap();
    let inferred = RHEL8.infer_modules(&stream, &pkgs);
    // Red Hat lists mariadb's builds under `mariadb-devel:10.3` too: both are taken.
    assert_eq!(
        inferred.streams,
        [
            "mariadb-devel:10.3",
            "mariadb:10.3",
            "nodejs:10",
            "postgresql:10"
        ]
    );
    assert!(inferred.unknown.is_empty(), "{:?}", inferred.unknown);
    let reported = matched(&RHEL8, "rhel:8", &pkgs, &inferred.streams);
    let explicit = matched(
        &RHEL8,
        "rhel:8",
        &pkgs,
        &strings(&["nodejs:10", "mariadb:10.3", "postgresql:10"]),
    );
    assert!(reported.0.is_superset(&explicit.0));
    assert!(reported.1.is_superset(&explicit.1));
    // Without them every module advisory was skipped without a word.
    let (_, none) = matched(&RHEL8, "rhel:8", &pkgs, &[]);
    let missed = explicit.1.difference(&none).count();
    eprintln!("module CVEs missed without module streams: {missed}");
    assert_eq!(missed, 49);
    // A build whose version no advisory lists is unknown, never "no module".
    let mut odd = host("rhel_80.tsv", true);
    odd.push(InstalledPackage::new(
        "nodejs",
        "1:10.14.1-1.module+el8.0.0+2632+6c5111ed",
        "x86_64",
    ));
    let inferred = RHEL8.infer_modules(&stream, &odd);
    assert!(inferred.streams.is_empty());
    assert_eq!(inferred.unknown, ["nodejs"]);
}

/// Issue 12 item 5: a Rocky host is matched against RHEL's data with rebuild tags undone, but
/// the order of two versions without such tags is rpm's: Rocky's libnghttp2
/// `1.33.0-3.el8_1.2` is older than RHSA-2020:2755's fix `0:1.33.0-3.el8_2.1`.
#[test]
fn issue_12_rebuild_tags_keep_rpm_order() {
    let pkgs = [InstalledPackage::new(
        "libnghttp2",
        "0:1.33.0-3.el8_1.2",
        "x86_64",
    )];
    for stream in ["rhel:8", "rocky:8", "alma:8", "centos:8"] {
        let (pairs, _) = matched(&RHEL8, stream, &pkgs, &[]);
        assert!(
            pairs.contains(&("libnghttp2".to_owned(), "RHSA-2020:2755".to_owned())),
            "{stream}: {pairs:?}"
        );
    }
    // Every RHEL 8 vendor version against every installed version of the real Rocky, Alma
    // and Oracle 8 hosts: where neither carries a rebuild tag, rebuild mode is rpm's order.
    let mut vendor: std::collections::BTreeMap<&str, BTreeSet<&str>> = Default::default();
    for a in RHEL8.advisories() {
        for e in &a.affected {
            vendor
                .entry(e.package.as_str())
                .or_default()
                .extend(e.status.fixed_version());
        }
    }
    let tagged = |v: &str| [".centos", ".rocky", ".alma"].iter().any(|t| v.contains(t));
    let mut checked = 0;
    for file in ["rocky_8.tsv", "alma_8.tsv", "oracle_8.tsv", "rhel_80.tsv"] {
        for p in host(file, true) {
            if tagged(&p.version) {
                continue;
            }
            let Some(versions) = vendor.get(p.name.as_str()) else {
                continue;
            };
            for v in versions.iter().filter(|v| !tagged(v)) {
                assert_eq!(
                    rebuild_compare(&p.version, v),
                    Scheme::Rpm.compare(&p.version, v),
                    "{} vs {v}",
                    p.version
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 1_000, "{checked}");
}

/// Issue 12 item 7: kpatch definitions say `kernel equals X`; a fully patched
/// 3.10.0-1160.83.1.el7 kernel was flagged by 8 kpatch advisories read as "X and later".
#[test]
fn issue_12_kpatch_equals_is_equality() {
    let kpatch = |kernel: &str| -> BTreeSet<String> {
        let pkgs = [InstalledPackage::new("kernel", kernel, "x86_64")];
        let stream: OsStream = "rhel:7".parse().unwrap();
        let r = RHEL7.match_host(&HostInventory {
            stream: Some(&stream),
            packages: &pkgs,
            modules: &[],
        });
        r.findings
            .iter()
            .filter(|f| f.affected.last_affected.is_some())
            .map(|f| f.advisory.id.clone())
            .collect()
    };
    assert_eq!(kpatch("0:3.10.0-1160.83.1.el7"), BTreeSet::new());
    // The kernel a live patch is for still gets it: RHSA-2020:5050 names 0:3.10.0-1160.el7.
    assert!(kpatch("0:3.10.0-1160.el7").contains("RHSA-2020:5050"));
    // Every equality entry of the file is one version wide.
    let mut exact = 0;
    for a in RHEL7.advisories() {
        for e in a.affected.iter().filter(|e| e.last_affected.is_some()) {
            assert_eq!(e.introduced, e.last_affected, "{}", a.id);
            exact += 1;
        }
    }
    assert!(exact > 0);
}

/// Issue 12 item 8: an `rpm -qa` list carries no epochs. Compared with the advisory's epoch,
/// it gets the findings of the same host listed with its epochs; taking 0 flagged every
/// package with an epoch (bind, openssl, NetworkManager, perl…) for every advisory.
#[test]
fn issue_12_unknown_epochs_take_the_advisorys() {
    for (index, file, stream) in [
        (&*RHEL7, "rhel_73.tsv", "rhel:7"),
        (&*RHEL8, "rhel_80.tsv", "rhel:8"),
    ] {
        let (with, _) = matched(index, stream, &host(file, true), &[]);
        let (without, _) = matched(index, stream, &host(file, false), &[]);
        // As 0 was taken before: epoch packages flagged by every advisory naming them.
        let zero: Vec<InstalledPackage> = host(file, false)
            .into_iter()
            .map(|p| InstalledPackage::new(p.name, format!("0:{}", p.version), p.arch))
            .collect();
        let (as_zero, _) = matched(index, stream, &zero, &[]);
        eprintln!(
            "{file}: {} findings with epochs, {} without (vendor's epoch), {} with epoch 0",
            with.len(),
            without.len(),
            as_zero.len()
        );
        assert_eq!(with, without, "{file}");
        assert!(as_zero.is_superset(&with), "{file}");
        if file == "rhel_73.tsv" {
            assert!(as_zero.len() > with.len(), "{file}");
        }
    }
}
