//! Issue 12 item 6: installed kernels older than the running one are not findings ("old
//! kernel installed"); a newer installed kernel that does not run yet still is, and the host
//! needs a reboot. The real rhel_73 list against the full RHEL 7 OVAL, on every backend.

use pakiti_api::report::{Package, Report};
use pakiti_test_support::{databases, shared_data};

use crate::support::{TestServer, report};

/// The kernel a yum update brought: newer than every kernel fix in the 2021-05-21 OVAL.
const NEW: &str = "3.10.0-1160.31.1.el7";
const OLD: &str = "3.10.0-514.el7";

async fn import_rhel7(s: &TestServer) {
    let path = shared_data().join("oval/redhat/rhel-7-including-unpatched.oval.xml.bz2");
    s.import_feed_file("rhel-7-oval", "auto", &path).await;
}

/// rhel_73 after `yum update kernel`: the new kernel and kernel-devel installed beside the
/// old ones, kernel-headers and kernel-tools (not installonly) upgraded in place.
fn updated(hostname: &str, running: &str, keep_old: bool) -> Report {
    let mut r = report("rhel_73", hostname);
    r.kernel = format!("{running}.x86_64");
    let from_kernel = |n: &str| n.starts_with("kernel") || n == "python-perf";
    r.packages.retain(|p| {
        !from_kernel(&p.name) || (keep_old && matches!(&*p.name, "kernel" | "kernel-devel"))
    });
    for name in [
        "kernel",
        "kernel-devel",
        "kernel-headers",
        "kernel-tools",
        "kernel-tools-libs",
        "python-perf",
    ] {
        r.packages
            .push(Package::new(name, format!("0:{NEW}"), "x86_64"));
    }
    r
}

fn kernel_findings(host: &serde_json::Value, version: &str) -> usize {
    host["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["package"].as_str().unwrap().starts_with("kernel")
                && f["installed_version"].as_str().unwrap().contains(version)
        })
        .count()
}

/// A rebooted RHEL 7 host that keeps its old kernel package: that package's CVEs (335 extra
/// on main with this data) are not the host's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_12_old_kernel_installed_is_not_a_finding() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        import_rhel7(&s).await;
        let be = s.backend();
        // Rebooted into the new kernel, old one still installed.
        let (status, text) = s
            .post_protocol4(&updated("rebooted.example.org", NEW, true))
            .await;
        assert_eq!(status, 200, "{be}: {text}");
        // The same host had the old kernel been removed: what it really runs.
        let (status, text) = s
            .post_protocol4(&updated("clean.example.org", NEW, false))
            .await;
        assert_eq!(status, 200, "{be}: {text}");
        // Updated but not rebooted: the old kernel runs, so its CVEs are the host's.
        let (status, text) = s
            .post_protocol4(&updated("pending.example.org", OLD, true))
            .await;
        assert_eq!(status, 200, "{be}: {text}");
        // Never updated: the old kernel only.
        let (status, text) = s
            .post_protocol4(&report("rhel_73", "old.example.org"))
            .await;
        assert_eq!(status, 200, "{be}: {text}");

        let (_, rebooted) = s.get_json("/api/v1/hosts/rebooted.example.org").await;
        let (_, clean) = s.get_json("/api/v1/hosts/clean.example.org").await;
        let (_, pending) = s.get_json("/api/v1/hosts/pending.example.org").await;
        let (_, old) = s.get_json("/api/v1/hosts/old.example.org").await;
        let cves = |h: &serde_json::Value| h["cve_count"].as_i64().unwrap();
        let vulnerable = |h: &serde_json::Value| h["vulnerable_packages"].as_i64().unwrap();
        let findings = |h: &serde_json::Value| h["findings"].as_array().unwrap().len();
        eprintln!(
            "{be}: CVEs / vulnerable packages / findings: rebooted {} / {} / {}, clean {} / {} / {}, pending {} / {} / {}, old {} / {} / {}",
            cves(&rebooted),
            vulnerable(&rebooted),
            findings(&rebooted),
            cves(&clean),
            vulnerable(&clean),
            findings(&clean),
            cves(&pending),
            vulnerable(&pending),
            findings(&pending),
            cves(&old),
            vulnerable(&old),
            findings(&old),
        );
        assert_eq!(cves(&rebooted), cves(&clean), "{be}");
        assert_eq!(vulnerable(&rebooted), vulnerable(&clean), "{be}");
        assert_eq!(findings(&rebooted), findings(&clean), "{be}");
        assert_eq!(kernel_findings(&rebooted, OLD), 0, "{be}");
        assert_eq!(rebooted["reboot_needed"], false, "{be}");
        let old_kernels: Vec<String> = rebooted["old_kernels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                format!(
                    "{} {}",
                    p["name"].as_str().unwrap(),
                    p["version"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(
            old_kernels,
            [format!("kernel 0:{OLD}"), format!("kernel-devel 0:{OLD}")],
            "{be}"
        );
        // The old kernel still shows among the installed packages.
        assert!(
            rebooted["installed"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "kernel" && p["version"] == format!("0:{OLD}")),
            "{be}"
        );
        // Not rebooted: the running old kernel's findings count, and a reboot is needed.
        assert_eq!(pending["reboot_needed"], true, "{be}");
        assert!(kernel_findings(&pending, OLD) > 0, "{be}");
        assert_eq!(pending["old_kernels"].as_array().unwrap().len(), 0, "{be}");
        assert_eq!(vulnerable(&pending), vulnerable(&clean) + 2, "{be}");
        assert!(findings(&pending) > findings(&clean), "{be}");

        // The CVE pages agree: for a CVE fixed in a kernel between the two (RHSA-2019:2829),
        // the pending host is listed through its running old kernel, the rebooted host never
        // through its old one.
        let (_, d) = s.get_json("/api/v1/cves/CVE-2019-14835").await;
        let through_old = |host: &str| {
            d["hosts"].as_array().unwrap().iter().any(|h| {
                h["hostname"] == host
                    && h["packages"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|p| p["version"] == format!("0:{OLD}"))
            })
        };
        assert!(through_old("pending.example.org"), "{be}: {d}");
        assert!(!through_old("rebooted.example.org"), "{be}: {d}");

        // A re-evaluation after a feed change keeps old kernels out of the counts.
        s.state.engine.refresh_all_counts().await.unwrap();
        let (_, again) = s.get_json("/api/v1/hosts/rebooted.example.org").await;
        assert_eq!(cves(&again), cves(&clean), "{be}");
        s.finish().await;
    }
}
