//! Host facts from a fake root (release files, /proc) and from this machine.

use pakiti_client::collect::{self, Sources};

fn root_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

#[test]
fn rhel_uses_redhat_release_and_os_release_ids() {
    let root = root_with(&[
        (
            "etc/redhat-release",
            "Red Hat Enterprise Linux release 8.9 (Ootpa)\n",
        ),
        (
            "etc/os-release",
            "NAME=\"Red Hat Enterprise Linux\"\nVERSION=\"8.9 (Ootpa)\"\nID=\"rhel\"\n\
             VERSION_ID=\"8.9\"\nPRETTY_NAME=\"Red Hat Enterprise Linux 8.9 (Ootpa)\"\n",
        ),
        ("proc/sys/kernel/hostname", "wn042.example.org\n"),
        ("proc/sys/kernel/osrelease", "4.18.0-513.5.1.el8_9.x86_64\n"),
        ("proc/sys/kernel/arch", "x86_64\n"),
        (
            "proc/cpuinfo",
            "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz\n\n\
             processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz\n",
        ),
    ]);
    let f = collect::host_facts(&Sources {
        root: Some(root.path().to_owned()),
        ..Sources::default()
    });
    assert_eq!(f.os, "Red Hat Enterprise Linux release 8.9 (Ootpa)");
    assert_eq!(f.os_id.as_deref(), Some("rhel"));
    assert_eq!(f.os_version_id.as_deref(), Some("8.9"));
    assert_eq!(f.hostname, "wn042.example.org");
    assert_eq!(f.kernel, "4.18.0-513.5.1.el8_9.x86_64");
    assert_eq!(f.arch, "x86_64");
    assert_eq!(
        f.cpu.as_deref(),
        Some("Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz")
    );
}

#[test]
fn os_release_then_old_release_files() {
    let deb = root_with(&[(
        "etc/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n",
    )]);
    let src = |d: &tempfile::TempDir| Sources {
        root: Some(d.path().to_owned()),
        ..Sources::default()
    };
    let f = collect::host_facts(&src(&deb));
    assert_eq!(f.os, "Debian GNU/Linux 12 (bookworm)");
    assert_eq!(f.os_id.as_deref(), Some("debian"));
    assert_eq!(f.cpu, None);

    let alpine = root_with(&[(
        "etc/os-release",
        "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\n",
    )]);
    assert_eq!(collect::host_facts(&src(&alpine)).os, "Alpine Linux 3.19.1");

    let sles11 = root_with(&[(
        "etc/SuSE-release",
        "SUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\nPATCHLEVEL = 4\n",
    )]);
    let f = collect::host_facts(&src(&sles11));
    assert_eq!(f.os, "SUSE Linux Enterprise Server 11 (x86_64)");
    assert_eq!(f.os_id, None);

    let squeeze = root_with(&[("etc/debian_version", "6.0.10\n")]);
    assert_eq!(collect::host_facts(&src(&squeeze)).os, "Debian 6.0.10");

    let nothing = root_with(&[]);
    let f = collect::host_facts(&src(&nothing));
    assert_eq!(f.os, "unknown");
    assert_eq!(f.hostname, "localhost");
}

/// This machine: the kernel is /proc's, the OS string is os-release's PRETTY_NAME.
#[test]
fn this_machine() {
    let f = collect::host_facts(&Sources::default());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(f.kernel, kernel.trim());
    let osr = collect::parse_os_release(&std::fs::read_to_string("/etc/os-release").unwrap());
    assert_eq!(f.os, osr.pretty_name);
    assert_eq!(f.os_id.as_deref(), Some(osr.id.as_str()));
    assert!(!f.hostname.is_empty() && !f.hostname.contains(' '));
    let uname = std::process::Command::new("uname")
        .arg("-m")
        .output()
        .unwrap();
    assert_eq!(f.arch, String::from_utf8(uname.stdout).unwrap().trim());
}
