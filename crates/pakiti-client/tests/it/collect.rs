//! Collection on this machine, checked against the package manager's own listing.

use std::process::Command;

use pakiti_client::collect::{self, Packager, Sources};

/// The packages the agent reads equal what `dpkg-query -W` lists as installed, exactly.
#[test]
fn dpkg_collection_equals_dpkg_query() {
    let src = Sources::default();
    let ours =
        collect::packages(Packager::Dpkg, &src).expect("dpkg-query runs on this Debian machine");
    let out = Command::new("dpkg-query")
        .args([
            "-W",
            "-f",
            "${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n",
        ])
        .output()
        .expect("dpkg-query is installed");
    assert!(out.status.success());
    let mut theirs: Vec<(String, String, String)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.as_bytes().get(1) == Some(&b'i'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[1].to_owned(), f[2].to_owned(), f[3].to_owned())
        })
        .collect();
    theirs.sort();
    let mut ours: Vec<(String, String, String)> = ours
        .into_iter()
        .map(|p| (p.name, p.version, p.arch))
        .collect();
    ours.sort();
    assert!(
        ours.len() > 100,
        "a real machine has more than 100 packages"
    );
    assert_eq!(ours, theirs);
}

/// A failing package manager's stderr reaches the user.
#[test]
fn dpkg_failure_shows_stderr() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("status"),
        "Package: broken\nthis is not a field\n",
    )
    .unwrap();
    let src = Sources {
        dpkg_admindir: Some(dir.path().to_owned()),
        ..Sources::default()
    };
    let err = collect::packages(Packager::Dpkg, &src)
        .unwrap_err()
        .to_string();
    assert!(err.contains("dpkg-query"), "{err}");
    assert!(err.contains("failed"), "{err}");
    assert!(
        err.len() > "dpkg-query failed".len() + 20,
        "stderr is included: {err}"
    );
}

/// A package manager that lists nothing is an error, never an empty (clean-looking) report.
#[test]
fn empty_listing_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("status"), "").unwrap();
    let src = Sources {
        dpkg_admindir: Some(dir.path().to_owned()),
        ..Sources::default()
    };
    let err = collect::packages(Packager::Dpkg, &src)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "dpkg listed no installed packages");
}
