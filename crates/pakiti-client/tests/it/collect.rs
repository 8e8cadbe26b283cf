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

/// Builds a package with the real rpmbuild and installs it into the rpm database at `db`.
fn build_and_install(
    dir: &std::path::Path,
    db: &std::path::Path,
    name: &str,
    epoch: Option<u32>,
    version: &str,
    release: &str,
    arch: &str,
) {
    let spec = dir.join(format!("{name}.spec"));
    let epoch_line = epoch.map(|e| format!("Epoch: {e}\n")).unwrap_or_default();
    std::fs::write(
        &spec,
        format!("Name: {name}\nVersion: {version}\nRelease: {release}\n{epoch_line}Summary: t\nLicense: MIT\nBuildArch: {arch}\n%description\nt\n%files\n"),
    )
    .unwrap();
    let top = dir.join("top");
    let out = dir.join("out");
    let st = Command::new("rpmbuild")
        .arg("--define")
        .arg(format!("_topdir {}", top.display()))
        .arg("--define")
        .arg(format!("_rpmdir {}", out.display()))
        .args(["--quiet", "-bb"])
        .arg(&spec)
        .status()
        .expect("rpmbuild is installed (apt-get install rpm)");
    assert!(st.success());
    let file = out
        .join(arch)
        .join(format!("{name}-{version}-{release}.{arch}.rpm"));
    let st = Command::new("rpm")
        .arg("--dbpath")
        .arg(db)
        .args([
            "-i",
            "--justdb",
            "--nodeps",
            "--ignorearch",
            "--ignoreos",
            "--quiet",
        ])
        .arg(&file)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "installing {}", file.display());
}

/// Builds a real rpm database at `db` holding three packages (one with an epoch, one noarch).
pub(crate) fn rpm_database(dir: &std::path::Path, db: &std::path::Path) {
    std::fs::create_dir(db).unwrap();
    let st = Command::new("rpm")
        .arg("--dbpath")
        .arg(db)
        .arg("--initdb")
        .status()
        .unwrap();
    assert!(st.success());
    build_and_install(
        dir,
        db,
        "openssl-libs",
        Some(1),
        "1.1.1k",
        "9.el8_7",
        "x86_64",
    );
    build_and_install(dir, db, "bash", None, "4.4.20", "4.el8_6", "x86_64");
    build_and_install(dir, db, "tzdata", None, "2023c", "1.el8", "noarch");
}

/// rpm collection against a real rpm database built here with rpmbuild and rpm --justdb.
#[test]
fn rpm_collection_from_a_real_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    rpm_database(dir.path(), &db);
    let src = Sources {
        rpm_dbpath: Some(db),
        ..Sources::default()
    };
    let pkgs = collect::packages(Packager::Rpm, &src).unwrap();
    let got: Vec<(&str, &str, &str, Option<&str>)> = pkgs
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.version.as_str(),
                p.arch.as_str(),
                p.source.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("bash", "0:4.4.20-4.el8_6", "x86_64", Some("bash")),
            (
                "openssl-libs",
                "1:1.1.1k-9.el8_7",
                "x86_64",
                Some("openssl-libs")
            ),
            ("tzdata", "0:2023c-1.el8", "noarch", Some("tzdata")),
        ]
    );
}
