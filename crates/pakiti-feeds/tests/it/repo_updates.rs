//! Newest available versions on the real apt indexes of `shared/data/repos/apt/` for the
//! real host lists of `shared/data/hosts/lists/`, and the same computation against this
//! machine's own apt state compared with `apt list --upgradable`.

use std::collections::HashMap;
use std::process::Command;

use pakiti_core::package::InstalledPackage;
use pakiti_core::stream::{Distro, OsStream};
use pakiti_core::updates::{AvailableIndex, HostPackages};
use pakiti_core::version::Scheme;
use pakiti_feeds::debian::index;
use pakiti_feeds::repo::{self, apt, bench};

use crate::debian_data::data;

fn shared() -> std::path::PathBuf {
    data("")
}

fn host_list(name: &str) -> bench::HostList {
    let text = std::fs::read_to_string(data(&format!("hosts/lists/{name}.tsv"))).unwrap();
    bench::parse_host_list(&text).unwrap()
}

struct Outcome {
    /// (name, installed, candidate, security)
    updates: Vec<(String, String, String, bool)>,
    /// Packages whose scan saw an update that we do not confirm (name, installed, scan's).
    contradicted: Vec<(String, String, String)>,
    /// Packages whose scan saw an update to a version higher than any the loaded indexes
    /// carry (it came from a pocket these fixtures lack, such as `noble-updates`).
    unverifiable: usize,
}

/// Computes a host list's updates and checks them against the scan's `candidate_update`.
///
/// What the TSV column can prove: when the scan saw a candidate newer than the installed
/// version, an update existed then; the indexes here are newer than every scan and a suite
/// never goes back in version, so an update at least that new must exist now (unless the
/// scan's candidate came from a suite these fixtures lack, e.g. `-updates` or `universe`:
/// those are counted as unverifiable: checked only when the loaded indexes carry a version
/// at least as high as the scan's candidate). What it cannot prove: the
/// exact candidate (later point releases and security updates replaced it), nor that a
/// package the scan saw as current has no update now. Those are asserted on a hand-checked
/// sample below.
fn outcome(
    idx: &AvailableIndex,
    list: &bench::HostList,
    highest: &HashMap<String, String>,
) -> Outcome {
    let scheme = list.stream.scheme();
    let pkgs: Vec<InstalledPackage> = list.packages.iter().map(|(p, _)| p.clone()).collect();
    let res = idx.host_updates(&HostPackages {
        stream: Some(&list.stream),
        arch: Some("amd64"),
        packages: &pkgs,
        modules: &[],
    });
    assert!(res.covered);
    let found: std::collections::HashMap<usize, _> = res.updates.iter().copied().collect();
    let mut contradicted = Vec::new();
    let mut unverifiable = 0;
    for (i, (p, cand)) in list.packages.iter().enumerate() {
        let Some(cand) = cand else { continue };
        if scheme.compare(cand, &p.version).is_le() {
            continue;
        }
        if !highest
            .get(&p.name)
            .is_some_and(|h| scheme.compare(h, cand).is_ge())
        {
            unverifiable += 1;
            continue;
        }
        let ok = found
            .get(&i)
            .is_some_and(|u| scheme.compare(u.version, cand).is_ge());
        if !ok {
            contradicted.push((p.name.clone(), p.version.clone(), cand.clone()));
        }
    }
    Outcome {
        updates: res
            .updates
            .iter()
            .map(|(i, u)| {
                (
                    pkgs[*i].name.clone(),
                    pkgs[*i].version.clone(),
                    u.version.to_owned(),
                    u.security,
                )
            })
            .collect(),
        contradicted,
        unverifiable,
    }
}

/// The index of `streams`, and each name's highest version over the loaded indexes.
fn load_with_versions(streams: &[OsStream]) -> (AvailableIndex, HashMap<String, String>) {
    let mut idx = AvailableIndex::new();
    let repos = bench::load_apt_fixtures(&shared(), streams, &mut idx).unwrap();
    let mut highest: HashMap<String, String> = HashMap::new();
    for p in repos.iter().flat_map(|(_, pkgs)| pkgs) {
        let e = highest
            .entry(p.package.clone())
            .or_insert_with(|| p.version.clone());
        if Scheme::Deb.compare(&p.version, e).is_gt() {
            e.clone_from(&p.version);
        }
    }
    (idx, highest)
}

#[track_caller]
fn check_list(
    list: &str,
    stream: OsStream,
    expect_updates: usize,
    expect_security: usize,
    expect_unverifiable: usize,
    samples: &[(&str, &str, bool)],
) {
    let (idx, versions) = load_with_versions(std::slice::from_ref(&stream));
    let l = host_list(list);
    assert_eq!(l.stream, stream);
    let o = outcome(&idx, &l, &versions);
    assert!(o.contradicted.is_empty(), "{list}: {:?}", o.contradicted);
    assert_eq!(o.unverifiable, expect_unverifiable, "{list}");
    let by_name: HashMap<&str, (&str, bool)> = o
        .updates
        .iter()
        .map(|(n, _, v, s)| (n.as_str(), (v.as_str(), *s)))
        .collect();
    for &(name, version, security) in samples {
        assert_eq!(
            by_name.get(name),
            Some(&(version, security)),
            "{list}: {name}"
        );
    }
    // Regression figures: the number of upgradable packages and of security upgrades.
    assert_eq!(
        (o.updates.len(), o.updates.iter().filter(|u| u.3).count()),
        (expect_updates, expect_security),
        "{list}"
    );
}

#[test]
fn debian_12_against_bookworm() {
    // Hand-checked in the three Packages files (`xz -dc … | grep -A1 '^Package: NAME$'`):
    // - libc6 2.36-9+deb12u13: main has +deb12u14, security only the older +deb12u7 → ORD.
    // - openssh-server 1:9.2p1-2+deb12u7: main +deb12u10, updates +deb12u7, security
    //   +deb12u9 — the candidate is main's, and the security fix u9 lies on the way → SEC.
    // - tzdata 2024b-0+deb12u1: main 2026b, updates 2025b, security 2026f → 2026f, SEC.
    // - linux-base 4.9: 4.12.1~deb12u1 in both main and security → SEC.
    // - apt 2.6.1: main 2.6.1, security 2.6.2 → SEC; dpkg 1.21.22 → main's 1.21.23, ORD.
    // - qemu-utils: main's binNMU 1:7.2+dfsg-7+deb12u18+b3 beats security's +deb12u15.
    check_list(
        "debian_12",
        OsStream::new(Distro::Debian, "bookworm"),
        114,
        67,
        0,
        &[
            ("libc6", "2.36-9+deb12u14", false),
            ("openssh-server", "1:9.2p1-2+deb12u10", true),
            ("tzdata", "2026f-0+deb12u1", true),
            ("linux-base", "4.12.1~deb12u1", true),
            ("apt", "2.6.2", true),
            ("dpkg", "1.21.23", false),
            ("qemu-utils", "1:7.2+dfsg-7+deb12u18+b3", true),
            ("libbpf1", "1:1.1.2-0+deb12u1", false),
        ],
    );
}

#[test]
fn debian_11_against_bullseye() {
    // Hand-checked: systemd 247.3-6 → bullseye 247.3-7+deb11u5, bullseye-security
    // 247.3-7+deb11u8 (same priority, higher version wins) → SEC; bash only in bullseye
    // (5.1-2+deb11u1) → ORD; libc6: bullseye u11, security u14 → u14 SEC.
    check_list(
        "debian_11",
        OsStream::new(Distro::Debian, "bullseye"),
        151,
        120,
        0,
        &[
            ("systemd", "247.3-7+deb11u8", true),
            ("bash", "5.1-2+deb11u1", false),
            ("libc6", "2.31-13+deb11u14", true),
            ("openssl", "1.1.1w-0+deb11u8", true),
        ],
    );
}

#[test]
fn debian_13_against_trixie() {
    // Hand-checked: libc6 and sudo only in trixie (2.41-12+deb13u5, 1.9.16p2-3+deb13u5) →
    // ORD; zlib1g 1:1.3.dfsg+really1.3.1-1+deb13u1 in both trixie and trixie-security →
    // SEC; tzdata 2026f-0+deb13u1 only in trixie → ORD. The one unverifiable scan
    // candidate comes from trixie-updates, which the fixtures lack.
    check_list(
        "debian_13",
        OsStream::new(Distro::Debian, "trixie"),
        147,
        67,
        1,
        &[
            ("libc6", "2.41-12+deb13u5", false),
            ("sudo", "1.9.16p2-3+deb13u5", false),
            ("zlib1g", "1:1.3.dfsg+really1.3.1-1+deb13u1", true),
            ("tzdata", "2026f-0+deb13u1", false),
        ],
    );
}

#[test]
fn ubuntu_focal_and_noble() {
    // Only the release and -security pockets of `main` are fixtures, so every update found
    // comes from -security. Hand-checked: sudo focal 1.8.31-1ubuntu1, focal-security
    // 1.8.31-1ubuntu1.5; tzdata focal-security 2025b-0ubuntu0.20.04.1; zlib1g
    // noble-security 1:1.3.dfsg-3.1ubuntu2.3. The focal scan recorded no candidates; the
    // noble scan's 128 unverifiable candidates come from noble-updates.
    check_list(
        "ubuntu_2004",
        OsStream::new(Distro::Ubuntu, "focal"),
        158,
        158,
        0,
        &[
            ("sudo", "1.8.31-1ubuntu1.5", true),
            ("tzdata", "2025b-0ubuntu0.20.04.1", true),
        ],
    );
    check_list(
        "ubuntu_2404",
        OsStream::new(Distro::Ubuntu, "noble"),
        240,
        240,
        128,
        &[
            ("sudo", "1.9.15p5-3ubuntu5.24.04.4", true),
            ("zlib1g", "1:1.3.dfsg-3.1ubuntu2.3", true),
        ],
    );
}

#[test]
fn fleet_equals_per_host_and_benchmark_entry_point_runs() {
    let (idx, _) = load_with_versions(&[]);
    let lists: Vec<bench::HostList> = [
        "debian_11",
        "debian_12",
        "debian_13",
        "ubuntu_2004",
        "ubuntu_2404",
    ]
    .iter()
    .map(|n| host_list(n))
    .collect();
    let fleet = bench::jittered_fleet(&lists, 40);
    let hosts: Vec<HostPackages<'_>> = fleet
        .iter()
        .map(|(s, p)| HostPackages {
            stream: Some(s),
            arch: Some("amd64"),
            packages: p,
            modules: &[],
        })
        .collect();
    let all = idx.fleet_updates(&hosts);
    for (h, r) in hosts.iter().zip(&all) {
        assert_eq!(idx.host_updates(h).updates, r.updates);
    }
    // Jittered versions (`~jN`) sort before the real ones, so hosts have at least as many
    // updates as their list minus the dropped packages.
    assert!(all.iter().all(|r| r.covered && !r.updates.is_empty()));
    let report = bench::bench_repos(&shared(), 20).unwrap();
    assert_eq!(report.stanzas, 63_440);
    assert_eq!(report.hosts, 20);
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// This machine's apt state against our model: the apt lists in `/var/lib/apt/lists/` (their
/// `Release` files for the suite flags), the installed packages from `dpkg-query`, and the
/// upgradable set from `apt list --upgradable` and `apt-get -s dist-upgrade`.
#[test]
fn this_machine_matches_apt() {
    let lists = std::path::Path::new("/var/lib/apt/lists");
    if !std::path::Path::new("/usr/bin/apt-get").exists() {
        // Not a Debian-family machine: there is no apt to compare with.
        return;
    }
    let mut packages_files: Vec<std::path::PathBuf> = std::fs::read_dir(lists)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    packages_files.retain(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.contains("_binary-") && n.contains("_Packages"))
    });
    packages_files.sort();
    assert!(
        !packages_files.is_empty(),
        "/var/lib/apt/lists has no Packages index: run `apt-get update` first"
    );
    let native = run("dpkg", &["--print-architecture"]).trim().to_owned();
    let pins = std::fs::read_dir("/etc/apt/preferences.d")
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
        + &std::fs::read_to_string("/etc/apt/preferences").unwrap_or_default();

    let stream = OsStream::new(Distro::Debian, "this-machine");
    let mut idx = AvailableIndex::new();
    for path in &packages_files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap();
        // `host_path_dists_SUITE_COMPONENT_binary-ARCH_Packages[.lz4]`: the Release file
        // is `host_path_dists_SUITE_InRelease` (or `_Release`).
        let dists = name.find("_dists_").unwrap();
        let suite_end = dists + 7 + name[dists + 7..].find('_').unwrap();
        let base = &name[..suite_end];
        let host = &name[..name.find('_').unwrap()];
        // Pins are not modelled: make sure none applies to a loaded list.
        assert!(
            !pins
                .lines()
                .any(|l| l.trim() == format!("Pin: origin {host}")
                    || l.trim().starts_with("Pin: release")),
            "an apt pin applies to {name}: not modelled by this comparison"
        );
        let release = ["_InRelease", "_Release"]
            .iter()
            .map(|s| lists.join(format!("{base}{s}")))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("no Release file for {name}"));
        let release = apt::parse_release(&std::fs::read(&release).unwrap()).unwrap();
        let arch = name
            .split("_binary-")
            .nth(1)
            .unwrap()
            .split('_')
            .next()
            .unwrap();
        // apt stores its lists compressed (lz4 here); apt-helper decompresses any of them.
        let text = run(
            "/usr/lib/apt/apt-helper",
            &["cat-file", path.to_str().unwrap()],
        );
        let parsed = index::parse_packages(text.as_bytes()).unwrap();
        assert!(parsed.problems.is_empty(), "{name}: {:?}", parsed.problems);
        let mut r = repo::apt_repo(name, &stream, arch, &release);
        // `binary-all` lists serve the native arch.
        r.arch = Some(if arch == "all" {
            native.clone()
        } else {
            arch.to_owned()
        });
        let id = idx.add_repo(r);
        repo::add_apt_packages(&mut idx, id, &parsed.records);
    }

    let installed: Vec<InstalledPackage> = run(
        "dpkg-query",
        &[
            "-W",
            "-f",
            "${Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}\n",
        ],
    )
    .lines()
    .filter_map(|l| {
        let f: Vec<&str> = l.split('\t').collect();
        // The second letter of the status is the current state: `n` not installed, `c`
        // only config files left; anything else has an installed version.
        let state = f.get(3)?.as_bytes().get(1).copied()?;
        (state != b'n' && state != b'c').then(|| InstalledPackage::new(f[0], f[1], f[2]))
    })
    .collect();
    assert!(
        installed.len() > 100,
        "dpkg-query listed {} packages",
        installed.len()
    );
    let res = idx.host_updates(&HostPackages {
        stream: Some(&stream),
        arch: Some(&native),
        packages: &installed,
        modules: &[],
    });
    let ours: std::collections::BTreeSet<(String, String, String)> = res
        .updates
        .iter()
        .map(|(i, u)| {
            let p = &installed[*i];
            (p.name.clone(), p.arch.clone(), u.version.to_owned())
        })
        .collect();

    // `name/suite[,suite] version arch [upgradable from: old]`
    let apt_list: std::collections::BTreeSet<(String, String, String)> =
        run("apt", &["list", "--upgradable"])
            .lines()
            .filter(|l| l.contains("[upgradable from:"))
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                let name = w[0].split('/').next().unwrap().to_owned();
                (name, w[2].to_owned(), w[1].to_owned())
            })
            .collect();
    assert_eq!(
        ours.difference(&apt_list).collect::<Vec<_>>(),
        Vec::<&(String, String, String)>::new(),
        "upgradable by our model but not by apt"
    );
    assert_eq!(
        apt_list.difference(&ours).collect::<Vec<_>>(),
        Vec::<&(String, String, String)>::new(),
        "upgradable by apt but not by our model"
    );

    // `Inst name [old] (new suite[, suite] [arch]) [broken]`: every upgrade apt would perform (new packages
    // pulled in by dependencies have no `[old]` and are not upgrades).
    let sim = run(
        "apt-get",
        &["-s", "-o", "Debug::NoLocking=1", "dist-upgrade"],
    );
    let mut inst = 0;
    for l in sim.lines().filter(|l| l.starts_with("Inst ")) {
        let w: Vec<&str> = l.split_whitespace().collect();
        if !w[2].starts_with('[') {
            continue;
        }
        inst += 1;
        let version = w[3].trim_start_matches('(');
        // The arch is the last `[...]` inside the parenthesis; a trailing `[]` lists broken
        // dependencies.
        let paren = &l[l.find('(').unwrap()..l.rfind(')').unwrap()];
        let arch = paren.rsplit('[').next().unwrap().trim_end_matches(']');
        assert!(
            ours.contains(&(w[1].to_owned(), arch.to_owned(), version.to_owned())),
            "apt-get would upgrade {} to {version} ({arch}); our model does not say so",
            w[1]
        );
    }
    assert!(inst <= ours.len());
}

/// rpm-md end to end on the real Rocky 8 AppStream files: modules.yaml + updateinfo. The
/// fixtures carry no primary.xml, so the package list is the modules' artifact list (what
/// primary.xml lists for modular packages), source rpms left out by `add_rpm_repo`.
#[test]
fn rocky_appstream_modular_security_updates() {
    use pakiti_feeds::repo::{modulemd, rpmmd};
    let read = |rel: &str| {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut crate::debian_data::open(rel), &mut v).unwrap();
        v
    };
    let stream = OsStream::new(Distro::Rocky, "8.4");
    let mut idx = AvailableIndex::new();
    for (modules, updateinfo) in [
        (
            "repos/rpm-md/rocky-8.4-AppStream-x86_64/repodata/3-modules.yaml.xz",
            "repos/rpm-md/rocky-8.4-AppStream-x86_64/repodata/3-updateinfo.xml.gz",
        ),
        (
            "repos/rpm-md/rocky-AppStream-x86_64/repodata/modules.yaml.xz",
            "repos/rpm-md/rocky-AppStream-x86_64/repodata/updateinfo.xml.gz",
        ),
    ] {
        let modules = modulemd::parse_modules(&read(modules))
            .unwrap()
            .records
            .remove(0);
        let updates = rpmmd::parse_updateinfo(crate::debian_data::open(updateinfo))
            .unwrap()
            .records;
        let primary: Vec<rpmmd::RpmPackage> = modules
            .streams
            .iter()
            .flat_map(|m| &m.artifacts)
            .map(|a| {
                let (rest, arch) = a.rsplit_once('.').unwrap();
                let (rest, release) = rest.rsplit_once('-').unwrap();
                let (name, ev) = rest.rsplit_once('-').unwrap();
                let (epoch, version) = ev.split_once(':').unwrap();
                rpmmd::RpmPackage {
                    name: name.into(),
                    arch: arch.into(),
                    epoch: epoch.into(),
                    version: version.into(),
                    release: release.into(),
                    sourcerpm: None,
                }
            })
            .collect();
        let id = idx.add_repo(pakiti_core::updates::Repo {
            name: updateinfo.into(),
            stream: stream.clone(),
            arch: Some("x86_64".into()),
            priority: -99,
            security: false,
        });
        repo::add_rpm_repo(&mut idx, id, &primary, &updates, Some(&modules));
    }
    let newest = |name: &str, version: &str, modules: &[String]| {
        let scope = pakiti_core::updates::Scope {
            stream: &stream,
            arch: Some("x86_64"),
            modules,
        };
        idx.newest(&scope, &InstalledPackage::new(name, version, "x86_64"))
            .map(|u| (u.version.to_owned(), u.security, u.candidate_security))
    };
    // nodejs:12 has builds 12.22.3 and 12.22.5; RLSA-2021:3666 lists 12.22.5.
    let node12 = ["nodejs:12".to_owned()];
    assert_eq!(
        newest("nodejs", "1:12.22.3-2.module+el8.4.0+638+5344c6f7", &node12),
        Some(("1:12.22.5-1.module+el8.4.0+647+e905fa21".into(), true, true))
    );
    assert_eq!(
        newest("nodejs", "1:12.22.5-1.module+el8.4.0+647+e905fa21", &node12),
        None
    );
    // nodejs:14 (written `stream: 14` unquoted in one document) → 14.17.5, also in RLSA-2021:3666.
    assert_eq!(
        newest(
            "nodejs",
            "1:14.17.3-2.module+el8.4.0+639+18660d0d",
            &["nodejs:14".to_owned()]
        ),
        Some(("1:14.17.5-1.module+el8.4.0+654+17ff1d38".into(), true, true))
    );
    // No stream enabled: modular builds are invisible, as dnf hides them.
    assert_eq!(
        newest("nodejs", "1:12.22.3-2.module+el8.4.0+638+5344c6f7", &[]),
        None
    );
    // squid:4: libecap 1.0.1-2 is listed by RLSA-2021:1979 → SEC; squid 7:4.15-1 is not
    // listed by any advisory here → ORD.
    let squid = ["squid:4".to_owned()];
    assert_eq!(
        newest("libecap", "1.0.1-1.module+el8.4.0+404+316a0dc5", &squid),
        Some(("1.0.1-2.module+el8.4.0+404+316a0dc5".into(), true, true))
    );
    assert_eq!(
        newest("squid", "7:4.14-1.module+el8.4.0+404+316a0dc5", &squid),
        Some(("7:4.15-1.module+el8.5.0+705+218dec94".into(), false, false))
    );
    // The epoch decides: squid 4.20 without epoch is older than 7:4.15.
    assert_eq!(
        newest("squid", "4.20-1.module+el8.4.0+404+316a0dc5", &squid),
        Some(("7:4.15-1.module+el8.5.0+705+218dec94".into(), false, false))
    );
}
