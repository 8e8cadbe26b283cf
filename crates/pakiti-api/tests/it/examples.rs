//! The worked examples of the Pakiti research report (pakiti.md §1.5), parsed to exact values.

use pakiti_api::{Mode, Package, Packager, protocol4, protocol5};

const P5_BODY: &str = "#
arch: x86_64
cpu: Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz
host: wn042.example.org
kernel: 3.10.0-1160.el7.x86_64
packager: rpm
site: PRAGUE-LCG2
system: CentOS Linux release 7.9.2009 (Core)
tag: workers
version: 1
#
bash\t0:4.2.46-34.el7\tx86_64
kernel\t0:3.10.0-1160.el7\tx86_64
kernel\t0:3.10.0-957.el7\tx86_64
openssl-libs\t1:1.0.2k-19.el7\tx86_64
#
";

#[test]
fn protocol5_worked_example() {
    let q = protocol5::parse_query_string("mode=store-and-report&protocol=5").unwrap();
    assert_eq!(q.mode, Some(Mode::StoreAndReport));
    assert_eq!(q.protocol_or_default(), "5");

    let r = protocol5::parse(P5_BODY.as_bytes()).unwrap();
    assert_eq!(r.hostname, "wn042.example.org");
    assert_eq!(r.arch, "x86_64");
    assert_eq!(
        r.cpu.as_deref(),
        Some("Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz")
    );
    assert_eq!(r.kernel, "3.10.0-1160.el7.x86_64");
    assert_eq!(r.packager, Packager::Rpm);
    assert_eq!(r.site.as_deref(), Some("PRAGUE-LCG2"));
    assert_eq!(r.os, "CentOS Linux release 7.9.2009 (Core)");
    assert_eq!(r.tag.as_deref(), Some("workers"));
    assert_eq!(r.ip, None);
    assert_eq!(r.mode, Mode::StoreOnly);
    assert_eq!(
        r.packages,
        vec![
            Package::new("bash", "0:4.2.46-34.el7", "x86_64"),
            Package::new("kernel", "0:3.10.0-1160.el7", "x86_64"),
            Package::new("kernel", "0:3.10.0-957.el7", "x86_64"),
            Package::new("openssl-libs", "1:1.0.2k-19.el7", "x86_64"),
        ]
    );
    // The Perl client's layout is reproduced byte for byte.
    assert_eq!(protocol5::render(&r), P5_BODY);
    assert_eq!(
        protocol5::query_string(Mode::StoreAndReport),
        "mode=store-and-report&protocol=5"
    );
}

#[test]
fn protocol5_debian_example() {
    let body = "#\nhost: deb.example.org\npackager: dpkg\nsystem: Debian GNU/Linux 12\n#\n\
                libc6\t2.36-9+deb12u4\tamd64\nopenssh-server\t1:9.2p1-2+deb12u2\tamd64\n#\n";
    let r = protocol5::parse(body.as_bytes()).unwrap();
    assert_eq!(r.packager, Packager::Dpkg);
    assert_eq!(r.os, "Debian GNU/Linux 12");
    assert_eq!(r.arch, "unknown");
    assert_eq!(r.kernel, "unknown");
    assert_eq!(
        r.packages,
        vec![
            Package::new("libc6", "2.36-9+deb12u4", "amd64"),
            Package::new("openssh-server", "1:9.2p1-2+deb12u2", "amd64"),
        ]
    );
}

#[test]
fn protocol5_quirks() {
    // `(none):` → `0:`, gpg-pubkey dropped, CERN's extra header keys ignored, only the first
    // host name kept, a missing epoch made explicit for rpm, space-separated lines accepted.
    let body = "#\nip: 128.142.145.197\nts: 1412031358\nhost: dpm01.cern.ch dpm01.ipv6.cern.ch\n\
                packager: rpm\n#\nCERN-CA-certs 0:20140325-2.slc6 noarch\nfoo\t(none):1.0-1\tx86_64\n\
                bar\t2.0-3\tnoarch\ngpg-pubkey\t(none):c2a1e572-668fe8ef\t(none)\n#\n";
    let r = protocol5::parse(body.as_bytes()).unwrap();
    assert_eq!(r.hostname, "dpm01.cern.ch");
    assert_eq!(r.ip.as_deref(), Some("128.142.145.197"));
    assert_eq!(
        r.packages,
        vec![
            Package::new("CERN-CA-certs", "0:20140325-2.slc6", "noarch"),
            Package::new("foo", "0:1.0-1", "x86_64"),
            Package::new("bar", "0:2.0-3", "noarch"),
        ]
    );
}

#[test]
fn protocol5_query_modes() {
    for (q, mode) in [
        ("mode=0", Mode::StoreOnly),
        ("mode=1", Mode::StoreAndReport),
        ("mode=2", Mode::ReportOnly),
        ("mode=store-only", Mode::StoreOnly),
        ("mode=report-only&protocol=5", Mode::ReportOnly),
        ("report=1", Mode::StoreAndReport),
        ("?mode=2&report=1", Mode::ReportOnly),
    ] {
        assert_eq!(
            protocol5::parse_query_string(q).unwrap().mode,
            Some(mode),
            "{q}"
        );
    }
    let none = protocol5::parse_query_string("protocol=5").unwrap();
    assert_eq!((none.mode, none.mode_or_default()), (None, Mode::StoreOnly));
    let legacy = protocol5::parse_query_string("version=4").unwrap();
    assert_eq!(legacy.protocol.as_deref(), Some("4"));
    assert_eq!(
        protocol5::parse_query_string("")
            .unwrap()
            .protocol_or_default(),
        "5"
    );
}

const P4_PKGS: &str =
    "'bash' '0:4.2.46' '34.el7' 'x86_64'\n'openssl-libs' '1:1.0.2k' '19.el7' 'x86_64'\n";

fn p4_fields() -> Vec<(&'static str, &'static str)> {
    vec![
        ("type", "rpm"),
        ("host", "wn042.example.org"),
        ("os", "CentOS Linux release 7.9.2009 (Core)"),
        ("arch", "x86_64"),
        ("tag", "workers"),
        ("kernel", "3.10.0-1160.el7.x86_64"),
        ("version", "4"),
        ("report", "1"),
        ("proxy", "0"),
        ("site", "PRAGUE-LCG2"),
        ("pkgs", P4_PKGS),
    ]
}

#[test]
fn protocol4_worked_example() {
    let r = protocol4::parse_fields(&p4_fields()).unwrap();
    assert_eq!(r.hostname, "wn042.example.org");
    assert_eq!(r.os, "CentOS Linux release 7.9.2009 (Core)");
    assert_eq!(r.arch, "x86_64");
    assert_eq!(r.tag.as_deref(), Some("workers"));
    assert_eq!(r.kernel, "3.10.0-1160.el7.x86_64");
    assert_eq!(r.site.as_deref(), Some("PRAGUE-LCG2"));
    assert_eq!(r.packager, Packager::Rpm);
    assert_eq!(r.mode, Mode::StoreAndReport);
    assert!(!r.proxy);
    assert_eq!(
        r.packages,
        vec![
            Package::new("bash", "0:4.2.46-34.el7", "x86_64"),
            Package::new("openssl-libs", "1:1.0.2k-19.el7", "x86_64"),
        ]
    );
    assert_eq!(protocol4::render_pkgs(&r.packages, &r.packager), P4_PKGS);
}

#[test]
fn protocol4_aliases_and_defaults() {
    let fields = [
        ("h", "old.example.org"),
        ("o", "Scientific Linux SL release 5.5 (Boron)"),
        ("p", "'zlib' '0:1.2.3' '3' 'x86_64'"),
        ("verbose", "1"),
    ];
    let r = protocol4::parse_fields(&fields).unwrap();
    assert_eq!(r.hostname, "old.example.org");
    assert_eq!(r.os, "Scientific Linux SL release 5.5 (Boron)");
    assert_eq!((r.arch.as_str(), r.kernel.as_str()), ("unknown", "unknown"));
    assert_eq!((r.tag.clone(), r.site.clone()), (None, None));
    assert_eq!(r.packager, Packager::Rpm);
    assert_eq!(r.mode, Mode::StoreOnly);
    assert_eq!(
        r.packages,
        vec![Package::new("zlib", "0:1.2.3-3", "x86_64")]
    );

    let rpms = [
        ("host", "x"),
        ("rpms", "'a' '1.0' '1' 'noarch'"),
        ("r", "2"),
        ("proxy", "1"),
        ("ip", "192.0.2.1"),
    ];
    let r = protocol4::parse_fields(&rpms).unwrap();
    assert_eq!(r.packages, vec![Package::new("a", "0:1.0-1", "noarch")]);
    assert_eq!(
        (r.mode, r.proxy, r.ip.as_deref()),
        (Mode::ReportOnly, true, Some("192.0.2.1"))
    );
}

#[test]
fn protocol4_dpkg_keeps_the_debian_version_whole() {
    let fields = [
        ("host", "deb.example.org"),
        ("type", "dpkg"),
        (
            "pkgs",
            "'libc6' '2.36-9+deb12u4' '' 'amd64'\n'openssh-server' '1:9.2p1-2+deb12u2' '' 'amd64'\n",
        ),
    ];
    let r = protocol4::parse_fields(&fields).unwrap();
    assert_eq!(
        r.packages,
        vec![
            Package::new("libc6", "2.36-9+deb12u4", "amd64"),
            Package::new("openssh-server", "1:9.2p1-2+deb12u2", "amd64"),
        ]
    );
    assert_eq!(
        protocol4::render_pkgs(&r.packages, &r.packager),
        "'libc6' '2.36-9+deb12u4' '' 'amd64'\n'openssh-server' '1:9.2p1-2+deb12u2' '' 'amd64'\n"
    );
}

#[test]
fn protocol4_bash_openssl_body_exact() {
    // Built as the bash client does: raw spaces and `&`, `+` escaped as `%2b`, newline after
    // `pkgs=`, backslashes in the package file stripped by the server.
    let body = "type=rpm&host=wn042.example.org&os=Foo & Bar Linux 1 (Core)&arch=x86_64&tag=workers\
                &kernel=5.14.0-1%2bdebug&version=4&report=2&proxy=0&site=&pkgs=\n\
                'libstdc%2b%2b' '0:8.5.0' '18.el8' 'x86_64'\n'we\\ird' '0:1' '1' 'noarch'\n\n\n";
    let r = protocol4::parse_urlencoded(body.as_bytes()).unwrap();
    assert_eq!(r.os, "Foo & Bar Linux 1 (Core)");
    assert_eq!(r.kernel, "5.14.0-1+debug");
    assert_eq!(r.mode, Mode::ReportOnly);
    assert_eq!(r.site, None);
    assert_eq!(
        r.packages,
        vec![
            Package::new("libstdc++", "0:8.5.0-18.el8", "x86_64"),
            Package::new("weird", "0:1-1", "noarch"),
        ]
    );
}

#[test]
fn protocol4_legacy_formats() {
    let v3 = [
        ("host", "h"),
        ("version", "3"),
        ("pkgs", "'zsh' '4.2.6' '1'\n"),
    ];
    assert_eq!(
        protocol4::parse_fields(&v3).unwrap().packages,
        vec![Package::new("zsh", "0:4.2.6-1", "")]
    );
    let v1 = [
        ("host", "h"),
        ("v", "1"),
        ("p", "<N='zsh' V='4.2.6' R='1'/><N='vim' V='2:7.0' R='5'/>"),
    ];
    assert_eq!(
        protocol4::parse_fields(&v1).unwrap().packages,
        vec![
            Package::new("zsh", "0:4.2.6-1", ""),
            Package::new("vim", "2:7.0-5", "")
        ]
    );
    let v2 = [
        ("host", "h"),
        ("v", "2"),
        ("p", "<N=\"zsh\" V=\"4.2.6\" R=\"1\"/>"),
    ];
    assert_eq!(
        protocol4::parse_fields(&v2).unwrap().packages,
        vec![Package::new("zsh", "0:4.2.6-1", "")]
    );
    let v2xy = [
        ("host", "h"),
        ("v", "2.1.0"),
        ("p", "NEWPAKITIRPM=zsh 4.2.6-1 NEWPAKITIRPM=vim 7.0-5'"),
    ];
    assert_eq!(
        protocol4::parse_fields(&v2xy).unwrap().packages,
        vec![
            Package::new("zsh", "0:4.2.6-1", ""),
            Package::new("vim", "0:7.0-5", "")
        ]
    );
}

#[test]
fn stdout_format_exact() {
    let r = protocol4::parse_fields(&p4_fields()).unwrap();
    let text = protocol4::render_stdout(&r);
    assert_eq!(
        text,
        "type=\"rpm\",host=\"wn042.example.org\",os=\"CentOS Linux release 7.9.2009 (Core)\",tag=\"workers\",\
         kernel=\"3.10.0-1160.el7.x86_64\",arch=\"x86_64\",site=\"PRAGUE-LCG2\",version=\"4\",report=\"1\"\n\n\
         'bash' '0:4.2.46' '34.el7' 'x86_64'\n'openssl-libs' '1:1.0.2k' '19.el7' 'x86_64'\n"
    );
    // A value holding `,` and `"` still parses (the bash proxy would split it).
    let tricky = "type=\"dpkg\",host=\"h\",os=\"Foo, \"Bar\" 1\",version=\"4\",report=\"0\"\n\n'a' '1.0-1' '' 'all'\n";
    let t = protocol4::parse_stdout(tricky).unwrap();
    assert_eq!(t.os, "Foo, \"Bar\" 1");
    assert_eq!(t.packages, vec![Package::new("a", "1.0-1", "all")]);
}
