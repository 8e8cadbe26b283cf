//! Loading the real host lists in `shared/data/hosts/lists/`.

use std::path::{Path, PathBuf};

use pakiti_api::report::join_rpm_version;
use pakiti_api::{Mode, Package, Packager, Report};

/// The directory with `<host>.tsv` and the agent-style listings.
pub(crate) fn lists_dir() -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/hosts/lists"
    ))
    .to_path_buf()
}

/// One TSV row: name, epoch, version, release, arch.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) epoch: String,
    pub(crate) version: String,
    pub(crate) release: String,
    pub(crate) arch: String,
}

/// A host list: its name, header facts and rows.
#[derive(Debug, Clone)]
pub(crate) struct HostList {
    pub(crate) host: String,
    pub(crate) family: String,
    pub(crate) release: String,
    pub(crate) kernel: String,
    pub(crate) rows: Vec<Row>,
}

impl HostList {
    pub(crate) fn packager(&self) -> Packager {
        match self.family.as_str() {
            "debian" | "ubuntu" => Packager::Dpkg,
            "alpine" => Packager::Apk,
            _ => Packager::Rpm,
        }
    }

    /// The full version a report should carry for `row`.
    pub(crate) fn full_version(&self, row: &Row) -> String {
        match self.packager() {
            Packager::Rpm => join_rpm_version(&row.epoch, &row.version, &row.release),
            _ if row.epoch.is_empty() => row.version.clone(),
            _ => format!("{}:{}", row.epoch, row.version),
        }
    }

    /// A report with every field the old protocols carry.
    pub(crate) fn report(&self) -> Report {
        let packages = self
            .rows
            .iter()
            .map(|r| Package::new(&r.name, self.full_version(r), &r.arch))
            .collect();
        Report {
            hostname: format!("{}.example.org", self.host),
            os: format!("{} {}", self.family, self.release),
            arch: "x86_64".to_owned(),
            kernel: self.kernel.clone(),
            site: Some("PRAGUE-LCG2".to_owned()),
            tag: Some("workers".to_owned()),
            packager: self.packager(),
            mode: Mode::StoreAndReport,
            packages,
            ..Report::default()
        }
    }

    pub(crate) fn gpg_pubkeys(&self) -> usize {
        self.rows.iter().filter(|r| r.name == "gpg-pubkey").count()
    }
}

/// Every `*.tsv` in the lists directory, sorted by name.
pub(crate) fn host_lists() -> Vec<HostList> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(lists_dir())
        .expect("lists dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "tsv"))
        .collect();
    paths.sort();
    paths.iter().map(|p| load(p)).collect()
}

fn load(path: &Path) -> HostList {
    let text = std::fs::read_to_string(path).expect("read tsv");
    let mut lines = text.lines();
    let header = lines.next().expect("header line");
    let fact = |key: &str| {
        header
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{} lacks {key}=", path.display()))
            .to_owned()
    };
    let rows = lines
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 6, "{}: {l:?}", path.display());
            Row {
                name: f[0].to_owned(),
                epoch: f[1].to_owned(),
                version: f[2].to_owned(),
                release: f[3].to_owned(),
                arch: f[4].to_owned(),
            }
        })
        .collect();
    HostList {
        host: fact("host"),
        family: fact("family"),
        release: fact("release"),
        kernel: fact("kernel"),
        rows,
    }
}

/// What the bash client's "openssl method" sends: only `+` escaped (in pkgs and kernel), the
/// rest raw, `pkgs=` followed by a newline (from `echo -e`), the package file and `\n\n`.
pub(crate) fn bash_openssl_body(report: &Report) -> String {
    let pkgs =
        pakiti_api::protocol4::render_pkgs(&report.packages, &report.packager).replace('+', "%2b");
    format!(
        "type={}&host={}&os={}&arch={}&tag={}&kernel={}&version=4&report={}&proxy={}&site={}&pkgs=\n{pkgs}\n\n",
        report.packager,
        report.hostname,
        report.os,
        report.arch,
        report.tag.as_deref().unwrap_or(""),
        report.kernel.replace('+', "%2b"),
        report.mode.as_digit(),
        if report.proxy { 1 } else { 0 },
        report.site.as_deref().unwrap_or(""),
    )
}

/// The package file the Pakiti 2 bash clients write (`rpm -qa --queryformat` or
/// `dpkg-query -W --showformat`, then `sed -e 's/\+/%2b/g'`).
pub(crate) fn bash_pkgs_file(report: &Report) -> String {
    pakiti_api::protocol4::render_pkgs(&report.packages, &report.packager).replace('+', "%2b")
}

/// What the server reads of the bash clients' openssl method (`pakiti2-client`, and
/// `pakiti-client-3.0.0-egi` when `site` is given): `POST_DATA` (fields raw but for `+` → `%2b`
/// in the kernel), the newline `echo -e` adds, then the package file; the announced
/// `Content-Length` is `$(echo -n ${POST_DATA} | wc -m) + $(wc -c < file) - 1`, two bytes short
/// of the body (the unquoted `${POST_DATA}` also collapses runs of blanks, and `wc -m` counts
/// characters, not bytes). Returns the body as sent and the announced length.
pub(crate) fn openssl_method(report: &Report, site: Option<&str>) -> (Vec<u8>, usize) {
    let site = site.map(|s| format!("&site={s}")).unwrap_or_default();
    let post_data = format!(
        "type={}&host={}&os={}&arch={}&tag={}&kernel={}&version=4&report={}&proxy={}{site}&pkgs=",
        report.packager,
        report.hostname,
        report.os,
        report.arch,
        report.tag.as_deref().unwrap_or(""),
        report.kernel.replace('+', "%2b"),
        report.mode.as_digit(),
        u8::from(report.proxy),
    );
    let file = bash_pkgs_file(report);
    let echoed: Vec<&str> = post_data.split_whitespace().collect();
    let announced = echoed.join(" ").chars().count() + file.len() - 1;
    let body = format!("{post_data}\n{file}").into_bytes();
    (body, announced)
}

/// The multipart fields of the bash clients' curl method (`curl -F key="value"`, `-F pkgs=<file`):
/// values verbatim but for `+` → `%2b` in the kernel and the package file.
pub(crate) fn curl_method_fields(report: &Report, site: Option<&str>) -> Vec<(String, String)> {
    let mut fields = vec![
        ("type".to_owned(), report.packager.to_string()),
        ("host".to_owned(), report.hostname.clone()),
        ("tag".to_owned(), report.tag.clone().unwrap_or_default()),
        ("kernel".to_owned(), report.kernel.replace('+', "%2b")),
        ("arch".to_owned(), report.arch.clone()),
        ("version".to_owned(), "4".to_owned()),
        ("os".to_owned(), report.os.clone()),
        ("report".to_owned(), report.mode.as_digit().to_owned()),
        ("proxy".to_owned(), u8::from(report.proxy).to_string()),
    ];
    if let Some(site) = site {
        fields.push(("site".to_owned(), site.to_owned()));
    }
    fields.push(("pkgs".to_owned(), bash_pkgs_file(report)));
    fields
}
