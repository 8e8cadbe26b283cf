//! Writes the report seeds (protocol 4, protocol 5, JSON) from real host listings: each listing
//! is read by `pakiti_api::listing` and rendered by the crate's own renderers, so the seeds are
//! what real agents send. Usage: `cargo run --example report_seeds -- DATA_DIR OUT_DIR`, with
//! DATA_DIR the shared data (`hosts/lists/`); see fuzz/README.md.

use std::path::PathBuf;

use pakiti_api::report::{Mode, Packager, Report, Unreadable};
use pakiti_api::{json, listing, protocol4, protocol5};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (Some(data), Some(out)) = (args.next(), args.next()) else {
        return Err("usage: report_seeds DATA_DIR OUT_DIR".into());
    };
    let hosts = [
        (
            "rhel_90.rpm-qa.txt",
            Packager::Rpm,
            "Red Hat Enterprise Linux release 9.0 (Plow)",
        ),
        (
            "debian_12.dpkg-query.txt",
            Packager::Dpkg,
            "Debian GNU/Linux 12 (bookworm)",
        ),
        (
            "alpine_319.apk-list.txt",
            Packager::Apk,
            "Alpine Linux v3.19",
        ),
    ];
    for (file, packager, os) in hosts {
        let text = std::fs::read_to_string(data.join("hosts/lists").join(file))?;
        let mut packages = listing::parse(&text).to_packages();
        // Small seeds fuzz faster; a few dozen packages cover every line shape of a listing.
        packages.truncate(40);
        let name = packager.as_str().to_owned();
        let report = Report {
            hostname: format!("{}.example.org", file.split('.').next().unwrap_or("host")),
            host_id: None,
            os: os.to_owned(),
            os_release: None,
            arch: "x86_64".to_owned(),
            cpu: None,
            kernel: "5.14.0-70.13.1.el9_0.x86_64".to_owned(),
            site: Some("PRAGUE-LCG2".to_owned()),
            tag: Some("workers".to_owned()),
            packager,
            mode: Mode::StoreAndReport,
            proxy: false,
            ip: None,
            packages,
            module_streams: Vec::new(),
            unreadable: Unreadable::default(),
        };
        let write = |target: &str, ext: &str, body: String| {
            let dir = out.join(target);
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join(format!("{name}.{ext}")), body)
        };
        write("protocol4", "urlencoded", protocol4::to_urlencoded(&report))?;
        write("protocol4", "stdout", protocol4::render_stdout(&report))?;
        write(
            "protocol4",
            "fields",
            protocol4::to_fields(&report)
                .into_iter()
                .map(|(k, v)| format!("{k}={v}\n"))
                .collect(),
        )?;
        write("protocol5", "txt", protocol5::render(&report))?;
        write("json_report", "json", json::render(&report))?;
    }
    Ok(())
}
