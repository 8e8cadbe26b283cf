//! Package components of a CSAF product tree: rpm purls and rpm product names (NEVRA).
//!
//! Red Hat names packages by purl (`pkg:rpm/redhat/openssl@1.1.1k-9.el8_7?arch=x86_64&epoch=1`,
//! `rpmmod=nodejs:18:...` for modular builds) and by product names (`openssl-1:1.1.1k-9.el8_7.x86_64`,
//! `postgresql-jdbc::libreoffice:flatpak`, bare `samba`); SUSE by names only
//! (`libopenssl-devel-0.9.8j-0.66.1.i586`, `samba-4.19.2+git.322.7e9201cef5-1.1`, `ctdb`).

/// An rpm package named by a CSAF product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Component {
    /// The package name.
    pub(crate) name: String,
    /// `[epoch:]version-release`, epoch only when not zero; `None` for a bare component name.
    pub(crate) evr: Option<String>,
    /// The architecture (`x86_64`, `noarch`, `src`), when named.
    pub(crate) arch: Option<String>,
    /// The module stream (`nodejs:18`), when the package is modular.
    pub(crate) module: Option<String>,
}

impl Component {
    /// Whether this names a source rpm.
    pub(crate) fn is_source(&self) -> bool {
        matches!(self.arch.as_deref(), Some("src" | "nosrc"))
    }
}

/// What a product turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// An rpm package.
    Rpm(Component),
    /// Something else (a container image, a Maven artifact, a GitHub repository ...).
    NotRpm,
}

/// rpm architectures seen as the last dot-separated part of a NEVRA.
const ARCHES: &[&str] = &[
    "x86_64",
    "i686",
    "i586",
    "i486",
    "i386",
    "noarch",
    "src",
    "nosrc",
    "aarch64",
    "ppc64le",
    "ppc64",
    "ppc",
    "s390x",
    "s390",
    "ia64",
    "armv7hl",
    "armv6hl",
    "armhfp",
    "riscv64",
    "ppc64p7",
    "x86_64_v2",
    "x86_64_v3",
    "loongarch64",
];

/// File suffixes of non-rpm artifacts that Red Hat names like packages (`org.yaml.snakeyaml-1.33.0.redhat-00002.jar`).
const NOT_RPM_SUFFIXES: &[&str] = &[
    ".jar", ".war", ".ear", ".zip", ".tar.gz", ".tgz", ".whl", ".gem",
];

/// Parses a product: its purl when it has one, otherwise its name.
pub(crate) fn parse(purl: Option<&str>, name: &str) -> Parsed {
    let Some(Parsed::Rpm(mut c)) = purl.and_then(parse_purl) else {
        return match purl.and_then(parse_purl) {
            Some(Parsed::NotRpm) => Parsed::NotRpm,
            _ => parse_name(name),
        };
    };
    if let Parsed::Rpm(from_name) = parse_name(name) {
        // A purl without an `epoch` qualifier means epoch 0; a name that says otherwise wins,
        // because a lost epoch turns a vulnerable package into a "fixed" one.
        if let (Some(evr), Some(name_evr)) = (&c.evr, &from_name.evr)
            && !evr.contains(':')
            && name_evr.contains(':')
            && name_evr.ends_with(evr.as_str())
        {
            c.evr = Some(name_evr.clone());
        }
        if c.module.is_none() {
            c.module = from_name.module;
        }
    }
    Parsed::Rpm(c)
}

/// Parses `pkg:rpm/<namespace>/<name>[@<version>][?qualifiers][#subpath]`; `None` when the
/// string is not a purl at all.
pub(crate) fn parse_purl(purl: &str) -> Option<Parsed> {
    let rest = purl.strip_prefix("pkg:")?;
    let rest = rest.split('#').next().unwrap_or(rest);
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let (ty, path) = path.split_once('/')?;
    if !ty.eq_ignore_ascii_case("rpm") {
        return Some(Parsed::NotRpm);
    }
    let (path, version) = match path.rsplit_once('@') {
        Some((p, v)) => (p, Some(percent_decode(v))),
        None => (path, None),
    };
    let name = percent_decode(path.rsplit('/').next().unwrap_or(path));
    if name.is_empty() {
        return None;
    }
    let mut arch = None;
    let mut epoch = None;
    let mut module = None;
    for pair in query.unwrap_or_default().split('&') {
        let Some((k, v)) = pair.split_once('=') else {
            continue;
        };
        let v = percent_decode(v);
        match k {
            "arch" => arch = Some(v),
            "epoch" => epoch = Some(v),
            "rpmmod" => module = module_stream(&v),
            _ => {}
        }
    }
    let evr = version
        .filter(|v| !v.is_empty())
        .map(|v| match epoch.as_deref() {
            Some(e) if !e.is_empty() && e != "0" => format!("{e}:{v}"),
            _ => v,
        });
    Some(Parsed::Rpm(Component {
        name,
        evr,
        arch,
        module,
    }))
}

/// `ruby:2.7:8080020230427102918:63b34585` → `ruby:2.7`.
fn module_stream(spec: &str) -> Option<String> {
    let mut parts = spec.split(':');
    let name = parts.next().filter(|s| !s.is_empty())?;
    let stream = parts.next().filter(|s| !s.is_empty())?;
    Some(format!("{name}:{stream}"))
}

/// Decodes the `%XX` escapes of a purl component (a `%` not followed by two hex digits stays
/// literal); escapes that are not UTF-8 become U+FFFD.
pub(crate) fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Parses a product name: `name-[epoch:]version-release.arch[.rpm][ (mod:stream)|-mod:stream]`,
/// `name-version-release` (SUSE VEX), `name.arch`, `name[::mod:stream]` or a bare `name`.
pub(crate) fn parse_name(raw: &str) -> Parsed {
    let mut s = raw.trim();
    let mut module = None;
    if s.contains('/') || s.contains('@') || s.contains(' ') && !s.ends_with(')') {
        // Container images (`rh-sso-7/sso76-openshift-rhel8@sha256:...`) and prose.
        return Parsed::NotRpm;
    }
    // `ruby-2.7.8-139.module+el8.8.0+18745+f1bef313.aarch64.rpm (ruby:2.7)`
    if let Some((head, tail)) = s.rsplit_once(" (")
        && let Some(m) = tail.strip_suffix(')')
    {
        module = module_stream(m);
        s = head;
    }
    // `postgresql-jdbc::libreoffice:flatpak`
    if let Some((head, m)) = s.split_once("::") {
        module = module_stream(m);
        s = head;
    }
    // `ruby-2.7.8-139.module+el8.8.0+18745+f1bef313.aarch64.rpm-ruby:2.7`
    if let Some(idx) = s.find(".rpm-") {
        module = module_stream(&s[idx + 5..]);
        s = &s[..idx];
    }
    let s = s.strip_suffix(".rpm").unwrap_or(s);
    if s.is_empty() || s.contains(' ') || NOT_RPM_SUFFIXES.iter().any(|x| s.ends_with(x)) {
        return Parsed::NotRpm;
    }
    let (base, arch) = match s.rsplit_once('.') {
        Some((b, a)) if ARCHES.contains(&a) => (b, Some(a.to_owned())),
        _ => (s, None),
    };
    if let Some((name, evr)) = split_nevr(base) {
        return Parsed::Rpm(Component {
            name: name.to_owned(),
            evr: Some(evr),
            arch,
            module,
        });
    }
    Parsed::Rpm(Component {
        name: base.to_owned(),
        evr: None,
        arch,
        module,
    })
}

/// Splits `name-[epoch:]version-release` into the name and `[epoch:]version-release` (epoch 0
/// dropped), when the last two dash-separated parts look like a version and a release.
fn split_nevr(s: &str) -> Option<(&str, String)> {
    let (rest, release) = s.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    if name.is_empty() || release.is_empty() || version.is_empty() {
        return None;
    }
    let (epoch, version) = match version.split_once(':') {
        Some((e, v)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => (Some(e), v),
        Some(_) => return None,
        None => (None, version),
    };
    let starts_digit = |t: &str| t.as_bytes().first().is_some_and(u8::is_ascii_digit);
    if !starts_digit(version) || !starts_digit(release) {
        return None;
    }
    let evr = match epoch {
        Some(e) if e.trim_start_matches('0').is_empty() => format!("{version}-{release}"),
        Some(e) => format!("{e}:{version}-{release}"),
        None => format!("{version}-{release}"),
    };
    Some((name, evr))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rpm(name: &str, evr: Option<&str>, arch: Option<&str>, module: Option<&str>) -> Parsed {
        Parsed::Rpm(Component {
            name: name.into(),
            evr: evr.map(Into::into),
            arch: arch.map(Into::into),
            module: module.map(Into::into),
        })
    }

    #[test]
    fn purls() {
        assert_eq!(
            parse_purl("pkg:rpm/redhat/openssl@1.1.1k-9.el8_7?arch=x86_64&epoch=1"),
            Some(rpm(
                "openssl",
                Some("1:1.1.1k-9.el8_7"),
                Some("x86_64"),
                None
            ))
        );
        assert_eq!(
            parse_purl(
                "pkg:rpm/redhat/ruby@2.7.8-139.module%2Bel8.8.0%2B18745%2Bf1bef313?arch=aarch64&rpmmod=ruby:2.7:8080020230427102918:63b34585"
            ),
            Some(rpm(
                "ruby",
                Some("2.7.8-139.module+el8.8.0+18745+f1bef313"),
                Some("aarch64"),
                Some("ruby:2.7")
            ))
        );
        assert_eq!(
            parse_purl("pkg:rpm/redhat/postgresql-jdbc?arch=src&rpmmod=libreoffice:flatpak"),
            Some(rpm(
                "postgresql-jdbc",
                None,
                Some("src"),
                Some("libreoffice:flatpak")
            ))
        );
        assert_eq!(
            parse_purl("pkg:oci/openshift3/metrics-cassandra"),
            Some(Parsed::NotRpm)
        );
        assert_eq!(
            parse_purl("pkg:maven/org.yaml/snakeyaml@1.33"),
            Some(Parsed::NotRpm)
        );
        assert_eq!(parse_purl("cpe:/o:redhat:enterprise_linux:8"), None);
    }

    #[test]
    fn purl_without_epoch_takes_it_from_the_name() {
        assert_eq!(
            parse(
                Some("pkg:rpm/redhat/telnet@0.17-65.el7_6?arch=x86_64"),
                "telnet-1:0.17-65.el7_6.x86_64"
            ),
            rpm("telnet", Some("1:0.17-65.el7_6"), Some("x86_64"), None)
        );
    }

    #[test]
    fn names() {
        assert_eq!(
            parse_name("telnet-1:0.17-65.el7_6.src"),
            rpm("telnet", Some("1:0.17-65.el7_6"), Some("src"), None)
        );
        assert_eq!(
            parse_name("libcurl-devel-0:7.76.1-26.el9_3.2.i686"),
            rpm(
                "libcurl-devel",
                Some("7.76.1-26.el9_3.2"),
                Some("i686"),
                None
            )
        );
        assert_eq!(
            parse_name("libopenssl-devel-0.9.8j-0.66.1.i586"),
            rpm(
                "libopenssl-devel",
                Some("0.9.8j-0.66.1"),
                Some("i586"),
                None
            )
        );
        assert_eq!(
            parse_name("samba-4.19.2+git.322.7e9201cef5-1.1"),
            rpm("samba", Some("4.19.2+git.322.7e9201cef5-1.1"), None, None)
        );
        assert_eq!(
            parse_name("samba-winbind-krb5-locator"),
            rpm("samba-winbind-krb5-locator", None, None, None)
        );
        assert_eq!(parse_name("curl.src"), rpm("curl", None, Some("src"), None));
        assert_eq!(
            parse_name("postgresql-jdbc.src::libreoffice:flatpak"),
            rpm(
                "postgresql-jdbc",
                None,
                Some("src"),
                Some("libreoffice:flatpak")
            )
        );
        assert_eq!(
            parse_name("ruby-2.7.8-139.module+el8.8.0+18745+f1bef313.aarch64.rpm-ruby:2.7"),
            rpm(
                "ruby",
                Some("2.7.8-139.module+el8.8.0+18745+f1bef313"),
                Some("aarch64"),
                Some("ruby:2.7")
            )
        );
        assert_eq!(
            parse_name("nodejs-1:18.14.2-2.module+el8.8.0+1+a.x86_64.rpm (nodejs:18)"),
            rpm(
                "nodejs",
                Some("1:18.14.2-2.module+el8.8.0+1+a"),
                Some("x86_64"),
                Some("nodejs:18")
            )
        );
        assert_eq!(
            parse_name(
                "rh-sso-7/sso76-openshift-rhel8@sha256:89f7ae83a1818e771e20982a6a4dd2c01ded703c65e90263f961504a3d1c5b37_ppc64le"
            ),
            Parsed::NotRpm
        );
    }
}
