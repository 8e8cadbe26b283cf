//! `packaging/server/`: the shipped settings start the real binary, and systemd accepts the
//! unit and rates its sandbox (`systemd-analyze verify` and `security --offline`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use pakiti_server::settings::{AuthMode, Settings};

fn packaging() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../packaging/server"
    ))
}

/// The packaged `/etc/pakiti/pakiti.toml` is valid, keeps its state where the unit's
/// `StateDirectory` is, and `pakiti serve --config` with it answers on its address.
#[test]
fn packaged_settings_serve() {
    let toml = packaging().join("pakiti.toml");
    let s = Settings::load(Some(&toml), Vec::new()).unwrap();
    assert_eq!(s.data_dir, PathBuf::from("/var/lib/pakiti"));
    assert!(
        s.listen.ip().is_loopback(),
        "behind a front proxy by default"
    );
    assert_eq!(
        s.auth.mode,
        AuthMode::Accounts,
        "never single-user when packaged"
    );
    assert!(!s.tls.enabled());
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pakiti"))
        .arg("--data-dir")
        .arg(data.path())
        .args(["serve", "--config"])
        .arg(&toml)
        .args(["--listen", "127.0.0.1:0"])
        .env("PAKITI_SYNC_FEEDS", "false")
        .env("PAKITI_SYNC_REPOS", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let url = loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "pakiti serve exited"
        );
        if let Some(rest) = line.split("open ").nth(1) {
            break rest.split(' ').next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let healthz = || {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            reqwest::get(format!("{url}/healthz"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    };
    assert_eq!(healthz(), "ok\n");
    let pid = child.id().to_string();
    // `systemctl reload pakiti` (ExecReload) without [tls]: the server stays up.
    let st = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    assert!(st.success());
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP ended the server"
    );
    assert_eq!(healthz(), "ok\n");
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(child.wait().unwrap().success());
}

/// `systemd-analyze verify` accepts `pakiti.service` (with `ExecStart` pointing at the
/// binary just built) and `systemd-analyze security` rates its exposure below 2 ("OK").
#[test]
fn systemd_unit_verifies_and_is_sandboxed() {
    let unit = std::fs::read_to_string(packaging().join("pakiti.service")).unwrap();
    for line in [
        "User=pakiti",
        "StateDirectory=pakiti",
        "ExecStart=/usr/bin/pakiti serve --config /etc/pakiti/pakiti.toml",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "LimitNOFILE=65536",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pakiti.service");
    std::fs::write(
        &path,
        unit.replace("/usr/bin/pakiti", env!("CARGO_BIN_EXE_pakiti")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze is needed to check the unit (apt-get install systemd)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "{err}");
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let level: f64 = text
        .lines()
        .find_map(|l| l.split("pakiti.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in {text}"));
    assert!(level < 2.0, "exposure {level}: {text}");
}
