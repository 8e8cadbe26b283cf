//! Issue 11: read what the Pakiti 2 servers read of the real bash clients' requests — bodies
//! shaped exactly as `pakiti2-client` and `pakiti-client-3.0.0-egi` build them (see
//! `../shared/peers/pakiti2-client/`), from every real rpm and dpkg host list.

use pakiti_api::{LineProblem, Package, Packager, Report, Unreadable, protocol4};

use crate::support::{curl_method_fields, host_lists, openssl_method};

/// The host lists the bash clients can send (they read rpm or dpkg, never apk), with a kernel
/// carrying a `+` as Raspberry Pi kernels do.
fn bash_reports() -> Vec<Report> {
    let reports: Vec<Report> = host_lists()
        .into_iter()
        .filter(|l| l.packager() != Packager::Apk)
        .map(|l| {
            let mut r = l.report();
            r.kernel = format!("{}+", r.kernel);
            r
        })
        .collect();
    let has = |f: &dyn Fn(&Package) -> bool| reports.iter().any(|r| r.packages.iter().any(f));
    assert!(has(&|p| p.name == "libstdc++"), "an rpm list has libstdc++");
    assert!(
        has(&|p| p.version.contains("+deb")),
        "a dpkg list has +debNuM versions"
    );
    reports
}

#[track_caller]
fn check_header(back: &Report, sent: &Report, site: Option<&str>) {
    assert_eq!(back.hostname, sent.hostname);
    assert_eq!(back.os, sent.os);
    assert_eq!(back.kernel, sent.kernel, "the kernel's + is decoded");
    assert!(back.kernel.ends_with('+'));
    assert_eq!(back.arch, sent.arch);
    assert_eq!(back.tag, sent.tag);
    assert_eq!(back.site.as_deref(), site);
    assert_eq!(back.packager, sent.packager);
    assert_eq!(back.mode, sent.mode);
}

/// `connection_method = openssl`: the announced Content-Length is two bytes short, so the
/// server reads the body without the last line's closing quote and newline. Every package of
/// the list is still stored, the last one included, with `+` decoded from `%2b`.
#[test]
fn issue_11_openssl_method_cut_final_line_is_read_whole() {
    for site in [None, Some("PRAGUE-LCG2")] {
        for mut sent in bash_reports() {
            // Spaces and `&` in the OS string arrive raw.
            sent.os = format!("{} & Co Linux release 1 (Core)", sent.os);
            let (body, announced) = openssl_method(&sent, site);
            assert_eq!(announced, body.len() - 2, "two bytes short");
            let received = &body[..announced];
            assert!(!received.ends_with(b"'\n"));
            let back = protocol4::parse_urlencoded(received)
                .unwrap_or_else(|e| panic!("{}: {e}", sent.hostname));
            check_header(&back, &sent, site);
            assert_eq!(back.packages, sent.packages, "{}", sent.hostname);
        }
    }
}

/// `connection_method = curl`: `-F pkgs=<file` sends the file verbatim in a multipart body, so
/// `%2b` arrives inside names (`libstdc%2b%2b`), versions (`1%2bdeb12u3`) and the kernel.
#[test]
fn issue_11_curl_method_percent_escapes_are_decoded() {
    for site in [None, Some("PRAGUE-LCG2")] {
        for sent in bash_reports() {
            let fields = curl_method_fields(&sent, site);
            let back = protocol4::parse_form_data(&fields)
                .unwrap_or_else(|e| panic!("{}: {e}", sent.hostname));
            check_header(&back, &sent, site);
            assert_eq!(back.packages, sent.packages, "{}", sent.hostname);
            assert!(
                !back.packages.iter().any(|p| p.name.contains('%')
                    || p.version.contains('%')
                    || p.arch.contains('%'))
            );
        }
    }
}

/// A literal `+` in a multipart value (a client that does not escape) stays a `+`; a `%` not
/// followed by two hex digits stays; an escape that is not UTF-8 keeps the value as sent.
#[test]
fn form_data_values_decode_only_escapes() {
    assert_eq!(
        protocol4::decode_form_data_value("2.36-9+deb12u4"),
        "2.36-9+deb12u4"
    );
    assert_eq!(
        protocol4::decode_form_data_value("libstdc%2b%2B"),
        "libstdc++"
    );
    assert_eq!(protocol4::decode_form_data_value("100%"), "100%");
    assert_eq!(protocol4::decode_form_data_value("a%zzb"), "a%zzb");
    assert_eq!(protocol4::decode_form_data_value("%ff%fe"), "%ff%fe");
    assert_eq!(
        protocol4::decode_form_data_value("Debian%20GNU/Linux 12"),
        "Debian GNU/Linux 12"
    );
}

/// A final line cut further than the closing quote is never guessed: `'amd6` is not an
/// architecture the list has, so that line is skipped and kept as unreadable, and the rest of
/// the list is read.
#[test]
fn issue_11_final_line_cut_worse_is_not_guessed() {
    let pkgs = "\n'libc6' '2.36-9%2bdeb12u4' '' 'amd64'\n'zlib1g' '1:1.2.13.dfsg-1' '' 'amd6";
    let fields = [
        ("host", "deb.example.org"),
        ("type", "dpkg"),
        ("pkgs", pkgs),
    ];
    let r = protocol4::parse_form_data(&fields).unwrap();
    assert_eq!(
        r.packages,
        vec![Package::new("libc6", "2.36-9+deb12u4", "amd64")]
    );
    assert_eq!(
        r.unreadable,
        Unreadable {
            count: 1,
            lines: vec![LineProblem {
                line: 3,
                reason: "final line cut off: the architecture \"amd6\" is not one this list has"
                    .into(),
                excerpt: "'zlib1g' '1:1.2.13.dfsg-1' '' 'amd6".into(),
            }],
        }
    );
    // Cut by two bytes only: read whole.
    let pkgs = "\n'libc6' '2.36-9%2bdeb12u4' '' 'amd64'\n'zlib1g' '1:1.2.13.dfsg-1' '' 'amd64";
    let fields = [
        ("host", "deb.example.org"),
        ("type", "dpkg"),
        ("pkgs", pkgs),
    ];
    let r = protocol4::parse_form_data(&fields).unwrap();
    assert_eq!(
        r.packages,
        vec![
            Package::new("libc6", "2.36-9+deb12u4", "amd64"),
            Package::new("zlib1g", "1:1.2.13.dfsg-1", "amd64"),
        ]
    );
    // A one-package list: the arch must be a known one.
    let one = [
        ("host", "h"),
        ("pkgs", "'bash' '0:4.2.46' '34.el7' 'x86_64"),
    ];
    assert_eq!(
        protocol4::parse_form_data(&one).unwrap().packages,
        vec![Package::new("bash", "0:4.2.46-34.el7", "x86_64")]
    );
    let one = [("host", "h"), ("pkgs", "'bash' '0:4.2.46' '34.el7' 'x86_")];
    let r = protocol4::parse_form_data(&one).unwrap();
    assert!(r.packages.is_empty());
    assert_eq!(
        r.require_packages().unwrap_err().to_string(),
        "no readable package: 1 line(s) could not be read; line 1: final line cut off: \
         the architecture \"x86_\" is not one this list has"
    );
}

/// `wc -m` counts characters: an OS string with multibyte characters makes the announced length
/// fall short by more bytes. The last line, cut inside its arch, is skipped and counted; every
/// other package is read.
#[test]
fn issue_11_multibyte_os_cuts_deeper() {
    let mut sent = bash_reports().swap_remove(0);
    sent.os = "Debian GNU/Linux 12 (bookworm) — Ubuntu-fréé".into();
    let (body, announced) = openssl_method(&sent, None);
    assert!(body.len() - announced > 2);
    let r = protocol4::parse_urlencoded(&body[..announced]).unwrap();
    assert_eq!(r.os, sent.os);
    assert_eq!(r.packages[..], sent.packages[..sent.packages.len() - 1]);
    assert_eq!(r.unreadable.count, 1);
    let p = &r.unreadable.lines[0];
    assert!(p.reason.starts_with("final line cut off"), "{p:?}");
}

/// The Pakiti 2 proxy path (`is_proxy = 1`, openssl method): the proxy re-sends the `stdout`
/// listing, in which the client already turned `%2b` back into `+`, without escaping it again.
/// In such a hand-built body spaces arrive raw, so a literal `+` is a `+`, never a space.
#[test]
fn issue_11_proxy_path_literal_plus_in_a_raw_body_is_a_plus() {
    for sent in bash_reports() {
        let (body, announced) = openssl_method(&sent, None);
        // What the proxy sends: the same body with every `%2b` back to `+`.
        let text = String::from_utf8(body[..announced].to_vec()).unwrap();
        let proxied = text.replace("%2b", "+");
        let back = protocol4::parse_urlencoded(proxied.as_bytes())
            .unwrap_or_else(|e| panic!("{}: {e}", sent.hostname));
        assert_eq!(back.kernel, sent.kernel, "{}", sent.hostname);
        assert_eq!(back.packages, sent.packages, "{}", sent.hostname);
    }
    // A body encoded by a form encoder (no raw space, quote or newline) keeps PHP's rule.
    let back = protocol4::parse_urlencoded(
        b"type=dpkg&host=h.example.org&os=Debian+GNU%2FLinux+12&arch=x86_64&kernel=6.1.0&version=4&pkgs=%27a%27+%271.0%2Bdeb12u1%27+%27%27+%27amd64%27%0A",
    )
    .unwrap();
    assert_eq!(back.os, "Debian GNU/Linux 12");
    assert_eq!(back.packages[0].version, "1.0+deb12u1");
}

/// A raw quote alone does not make a body hand-built: some form encoders leave `'` unescaped
/// (JavaScript's `encodeURIComponent`), so such a body is read as form-encoded throughout —
/// `+` is a space and every `&` separates fields, even before an unknown field or after
/// `pkgs`.
#[test]
fn a_raw_quote_alone_is_form_encoded() {
    let pairs = protocol4::decode_urlencoded(
        b"host=h.example.org&os=O'Brien+Linux&pkgs='a'+'1.0%2B1'+''+'amd64'&x-extra=1&kernel=6.1",
    )
    .unwrap();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("os"), Some("O'Brien Linux"));
    assert_eq!(get("pkgs"), Some("'a' '1.0+1' '' 'amd64'"));
    assert_eq!(get("x-extra"), Some("1"));
    assert_eq!(get("kernel"), Some("6.1"));
    // With a raw space the same body is hand-built: `pkgs` takes the rest of it.
    let pairs = protocol4::decode_urlencoded(
        b"host=h.example.org&os=O'Brien Linux&pkgs='a' '1.0+1' '' 'amd64'&x-extra=1",
    )
    .unwrap();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("os"), Some("O'Brien Linux"));
    assert_eq!(get("pkgs"), Some("'a' '1.0+1' '' 'amd64'&x-extra=1"));
}
