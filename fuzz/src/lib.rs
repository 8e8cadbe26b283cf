//! The bodies of pakiti's fuzz targets: one function per parser of outside input.
//!
//! Each `fuzz_targets/<name>.rs` binary is a thin `afl::fuzz!` loop around the function of the
//! same name here, so that the seeds can also be replayed by `cargo test` (without AFL's
//! instrumentation) and every target is checked by clippy like the rest of the code. A function
//! here must never panic on any input: a parser that returns an error is doing its job, a panic
//! (index out of range, overflow, `unwrap`) is a bug. The version targets also check the
//! properties a comparator must have for sorting and matching to be sound.
//!
//! The list of targets is [`TARGETS`]; `fuzz/run` and the replay test take it from there.

use std::cmp::Ordering;
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::LazyLock;

use pakiti_api::listing::{self, ListingFormat};
use pakiti_api::{json, protocol4, protocol5};
use pakiti_core::version::Scheme;
use pakiti_feeds::debian::{index, list, tracker};
use pakiti_feeds::repo::{apk, apt, modulemd, rpmmd};
use pakiti_feeds::{FeedKind, ParseOptions, alpine, csaf, epss, kev, osv};

/// A fuzz target: its name (the binary's and the seed directory's) and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target, in the order `fuzz/run` runs them (highest risk first: what any client on the
/// network can send, then what vendors send).
pub const TARGETS: &[Target] = &[
    ("protocol4", protocol4),
    ("protocol5", protocol5),
    ("json_report", json_report),
    ("smime", smime),
    ("listing", listing),
    ("version_rpm", version_rpm),
    ("version_deb", version_deb),
    ("version_apk", version_apk),
    ("oval", oval),
    ("debian_tracker", debian_tracker),
    ("apkindex", apkindex),
    ("csaf", csaf),
    ("osv", osv),
    ("alpine_secdb", alpine_secdb),
    ("debian_list", debian_list),
    ("apt_release", apt_release),
    ("apt_packages", apt_packages),
    ("apt_sources", apt_sources),
    ("rpmmd_repomd", rpmmd_repomd),
    ("rpmmd_primary", rpmmd_primary),
    ("rpmmd_updateinfo", rpmmd_updateinfo),
    ("modules_yaml", modules_yaml),
    ("config", config),
    ("cisa_kev", cisa_kev),
    ("epss", epss),
];

/// The input as text, the way the callers turn bytes into text (invalid UTF-8 replaced).
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Protocol 4 (Pakiti 2): the `x-www-form-urlencoded` body, the multipart fields (one
/// `name=value` per line here, values percent-decoded as the server does) and the
/// `stdout`/proxy text format.
pub fn protocol4(data: &[u8]) {
    let _ = protocol4::parse_urlencoded(data);
    let text = text(data);
    let fields: Vec<(&str, &str)> = text
        .split('\n')
        .map(|line| line.split_once('=').unwrap_or((line, "")))
        .collect();
    let _ = protocol4::parse_form_data(&fields);
    let _ = protocol4::parse_stdout(&text);
}

/// Protocol 5 (Pakiti 3): the text body and the `mode`/`protocol` query string.
pub fn protocol5(data: &[u8]) {
    let _ = protocol5::parse(data);
    let _ = protocol5::parse_query_string(&text(data));
}

/// Our JSON report, and the JSON reply the agent reads back from a server.
pub fn json_report(data: &[u8]) {
    let _ = json::parse(data);
    let _ = json::JsonReply::parse(data);
}

/// The key the S/MIME target decrypts with: a throw-away 2048-bit test key committed beside
/// the seeds (`fuzz/keys/report.pem`), which encrypted them.
static REPORT_KEY: LazyLock<pakiti_smime::ReportKey> = LazyLock::new(|| {
    pakiti_smime::ReportKey::from_pem(include_str!("../keys/report.pem"))
        .expect("the committed fuzz key parses")
});

/// The S/MIME envelope of an encrypted report (the server's sniffing and decryption).
pub fn smime(data: &[u8]) {
    let _ = pakiti_smime::looks_encrypted(data);
    let _ = pakiti_smime::decrypt(data, &REPORT_KEY);
}

/// Package listings (`rpm -qa`, `dpkg-query -W`, apk): detected, and read as each format.
pub fn listing(data: &[u8]) {
    let text = text(data);
    let _ = listing::parse(&text);
    for format in [
        ListingFormat::RpmQa,
        ListingFormat::RpmQuoted,
        ListingFormat::DpkgQuery,
        ListingFormat::ApkList,
        ListingFormat::ApkInfo,
    ] {
        let _ = listing::parse_as(&text, format);
    }
}

/// Splits the input into up to three versions at newlines (a missing one is empty).
fn three_versions(data: &[u8]) -> [String; 3] {
    let text = text(data);
    let mut parts = text.splitn(3, '\n');
    std::array::from_fn(|_| parts.next().unwrap_or_default().to_owned())
}

/// Validates three versions and checks that `compare` is a total order on them: reflexive,
/// antisymmetric and transitive. Panics (a finding) when it is not.
fn check_scheme(scheme: Scheme, data: &[u8]) {
    let [a, b, c] = three_versions(data);
    for v in [&a, &b, &c] {
        let _ = scheme.validate(v);
        assert_eq!(
            scheme.compare(v, v),
            Ordering::Equal,
            "{scheme}: {v:?} != itself"
        );
    }
    for (x, y) in [(&a, &b), (&b, &c), (&a, &c)] {
        assert_eq!(
            scheme.compare(x, y),
            scheme.compare(y, x).reverse(),
            "{scheme}: compare({x:?}, {y:?}) is not the reverse of compare({y:?}, {x:?})"
        );
    }
    let ab = scheme.compare(&a, &b);
    let bc = scheme.compare(&b, &c);
    if ab == bc || bc == Ordering::Equal {
        assert_eq!(
            scheme.compare(&a, &c),
            ab,
            "{scheme}: not transitive on {a:?}, {b:?}, {c:?}"
        );
    } else if ab == Ordering::Equal {
        assert_eq!(
            scheme.compare(&a, &c),
            bc,
            "{scheme}: not transitive on {a:?}, {b:?}, {c:?}"
        );
    }
}

/// rpm versions (`[epoch:]version[-release]`).
pub fn version_rpm(data: &[u8]) {
    check_scheme(Scheme::Rpm, data);
}

/// Debian versions.
pub fn version_deb(data: &[u8]) {
    check_scheme(Scheme::Deb, data);
}

/// apk-tools versions.
pub fn version_apk(data: &[u8]) {
    check_scheme(Scheme::Apk, data);
}

/// OVAL: the vendor the document names (as an import detects it), else all three readers.
pub fn oval(data: &[u8]) {
    let opts = ParseOptions::default();
    match FeedKind::detect(data) {
        Some(kind @ (FeedKind::RedhatOval | FeedKind::UbuntuOval | FeedKind::SuseOval)) => {
            let _ = kind.parse(data, &opts);
        }
        _ => {
            for kind in [
                FeedKind::RedhatOval,
                FeedKind::UbuntuOval,
                FeedKind::SuseOval,
            ] {
                let _ = kind.parse(data, &opts);
            }
        }
    }
}

/// CSAF advisories, CSAF VEX and Ubuntu OpenVEX.
pub fn csaf(data: &[u8]) {
    let _ = csaf::parse(data, &ParseOptions::default());
}

/// OSV records.
pub fn osv(data: &[u8]) {
    let _ = osv::parse(data, &ParseOptions::default());
}

/// Alpine secdb JSON.
pub fn alpine_secdb(data: &[u8]) {
    let _ = alpine::parse(data, &ParseOptions::default());
}

/// The Debian security tracker JSON.
pub fn debian_tracker(data: &[u8]) {
    let _ = tracker::parse(data, &ParseOptions::default());
}

/// The Debian DSA/DLA list text.
pub fn debian_list(data: &[u8]) {
    let _ = list::parse(data, &ParseOptions::default());
}

/// APT `Release`/`InRelease` (with its clear-signature stripped as the sync does).
pub fn apt_release(data: &[u8]) {
    let _ = apt::parse_release(data);
    let _ = apt::strip_clearsign(&text(data));
}

/// APT `Packages` indexes.
pub fn apt_packages(data: &[u8]) {
    let _ = index::parse_packages(data);
}

/// APT `Sources` indexes.
pub fn apt_sources(data: &[u8]) {
    let _ = index::parse_sources(data);
}

/// rpm-md `repomd.xml`.
pub fn rpmmd_repomd(data: &[u8]) {
    let _ = rpmmd::parse_repomd_full(data);
}

/// rpm-md `primary.xml`.
pub fn rpmmd_primary(data: &[u8]) {
    let _ = rpmmd::parse_primary(data);
}

/// rpm-md `updateinfo.xml`.
pub fn rpmmd_updateinfo(data: &[u8]) {
    let _ = rpmmd::parse_updateinfo(data);
}

/// rpm-md `modules.yaml`.
pub fn modules_yaml(data: &[u8]) {
    let _ = modulemd::parse_modules(data);
}

/// `APKINDEX`: the archive (tar, gzip-compressed or not) and the index text inside it.
pub fn apkindex(data: &[u8]) {
    let _ = apk::parse_apkindex_tar(data);
    let _ = apk::parse_apkindex_text(&text(data));
}

/// The server's configuration file (TOML → `Settings`), read from a file as `pakiti serve
/// --config` does.
pub fn config(data: &[u8]) {
    static FILE: LazyLock<PathBuf> = LazyLock::new(|| {
        std::env::temp_dir().join(format!("pakiti-fuzz-config-{}.toml", std::process::id()))
    });
    if std::fs::write(&*FILE, data).is_ok() {
        let _ = pakiti_config::settings::Settings::load(Some(&FILE), std::iter::empty());
    }
}

/// The CISA KEV catalogue JSON.
pub fn cisa_kev(data: &[u8]) {
    let _ = kev::parse(Cursor::new(data));
    let _ = FeedKind::CisaKev.parse_facts(data);
}

/// FIRST EPSS CSV.
pub fn epss(data: &[u8]) {
    let _ = epss::parse(data);
}

#[cfg(test)]
mod tests {
    //! Without AFL: every seed goes through its target (so a seed that crashes is caught by
    //! `cargo test` too), and the target list, the binaries and the seed directories agree.

    use std::path::Path;

    use super::TARGETS;

    const MANIFEST: &str = include_str!("../Cargo.toml");

    #[test]
    fn every_seed_runs_through_its_target() {
        let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
        for (name, target) in TARGETS {
            let dir = seeds.join(name);
            let mut n = 0;
            for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}")) {
                let path = entry.unwrap().path();
                target(&std::fs::read(&path).unwrap());
                n += 1;
            }
            assert!(n > 0, "{name} has no seed");
        }
    }

    #[test]
    fn targets_binaries_and_seeds_agree() {
        let mut bins: Vec<&str> = MANIFEST
            .split("[[bin]]")
            .skip(1)
            .filter_map(|b| b.lines().find_map(|l| l.strip_prefix("name = ")))
            .map(|n| n.trim_matches('"'))
            .collect();
        bins.sort_unstable();
        let mut targets: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
        targets.sort_unstable();
        assert_eq!(bins, targets);
        let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
        for t in targets {
            let bin = std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fuzz_targets/{t}.rs")),
            )
            .unwrap();
            assert!(
                bin.contains(&format!("pakiti_fuzz::{t}(data)")),
                "fuzz_targets/{t}.rs"
            );
            assert!(seeds.join(t).is_dir(), "no seeds/{t}");
        }
    }
}
