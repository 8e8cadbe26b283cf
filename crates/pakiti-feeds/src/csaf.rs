//! CSAF 2.0 advisories and CSAF VEX documents (Red Hat, SUSE) into [`Advisory`] records.
//!
//! Input is one CSAF JSON document or JSON lines (one document per line, as Red Hat's VEX
//! archive tooling and claircore's `example_vex.jsonl` store them). Every document becomes one
//! advisory: an RHSA / SUSE-SU advisory keeps its tracking id, a VEX document is one CVE and
//! takes the CVE id.
//!
//! How a document is read:
//! - The product tree is walked for products (`branches` recursively and `full_product_names`)
//!   and `relationships` (`default_component_of`, `optional_component_of`) join a package
//!   product to a platform product. The platform's CPE gives the stream (see `csaf/platform.rs`
//!   for which platforms are kept and why EUS/AUS/TUS/E4S and layered products are skipped);
//!   the package's purl, or failing that its name, gives name, `[epoch:]version-release`, arch
//!   and module stream (see `csaf/component.rs`).
//! - `product_status`: `fixed`/`first_fixed` → [`Status::Fixed`] at the package's version;
//!   `known_affected` (and `first_affected`/`last_affected`) → [`Status::Unfixed`], or
//!   [`Status::WillNotFix`] when a `no_fix_planned` remediation names the product, or
//!   [`Status::EndOfLife`] when its details say "Out of support scope"; `known_not_affected` →
//!   [`Status::NotAffected`]; `under_investigation` → [`Status::Unfixed`] (not knowing is not
//!   "not affected"); an unknown status key → a [`Problem`] and [`Status::Unfixed`].
//! - Binary packages give binary entries, one per (stream, name, module, status) with their
//!   arches merged; source rpms (`.src`) give [`PackageKind::Source`] entries with no arch limit.
//!   Red Hat VEX names unfixed packages by bare component name without purl
//!   (`red_hat_enterprise_linux_8:samba`): that is the source package, so it gives a source
//!   entry (which also matches the binary of the same name when a host does not report sources).
//! - A `fixed` product without a version cannot say which version is fixed: it is left out and
//!   reported. A package that one vulnerability of the document lists as affected or fixed and
//!   another as not affected keeps only its affected/fixed entries (the advisory applies to it).
//!
//! Products skipped on purpose (other platforms, non-rpm components such as container images or
//! Maven artifacts) are counted in [`Stats`], not reported one by one. Products the parser
//! cannot resolve (ids missing from the product tree, platforms without a CPE) are reported as
//! one [`Problem`] per document. A document that is not CSAF at all (no `document.csaf_version`)
//! is a [`FeedError::Format`]; a deletion marker (`"tracking": {"status": "deleted"}` with no
//! CSAF body, as in JSON-lines archives) is counted and reported, not an error.
//! OpenVEX documents (Ubuntu's VEX) are not CSAF, but answer the same question; they are read
//! too (see `csaf/openvex.rs`), one advisory per vulnerability.

mod component;
mod openvex;
mod platform;
mod raw;

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;

use pakiti_core::advisory::{Advisory, Affected, PackageKind, Severity, Status};
use pakiti_core::stream::OsStream;
use rustc_hash::FxHashMap;
use serde::de::IgnoredAny;

use crate::{FeedError, ParseOptions, Parsed, Problem};
use component::Component;
use platform::Platform;
use raw::{RawDoc, RawDocument, RawProduct, RawProductTree, RawRelationship, RawVulnerability};

/// The feed kind name recorded in [`Advisory::source`].
pub const SOURCE: &str = "csaf";

/// Counts of what a parse met and deliberately left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// CSAF documents read (deletion markers not included).
    pub documents: usize,
    /// OpenVEX documents read.
    pub openvex_documents: usize,
    /// Deletion markers (`tracking.status == "deleted"` with no CSAF body).
    pub deleted: usize,
    /// Product-status references to a package on a platform that is not an OS stream pakiti
    /// matches (layered products, EUS/AUS/TUS/E4S streams, SUSE Micro ...).
    pub skipped_platform: usize,
    /// Product-status references to something that is not an rpm (container images, Maven
    /// artifacts, upstream repositories ...).
    pub skipped_not_rpm: usize,
}

/// Parses one CSAF document or JSON lines of CSAF documents.
///
/// `opts.stream`, when set, is the stream of package products that the document does not join
/// to any platform; it never replaces a platform the document names.
///
/// # Errors
/// The input is unreadable, not JSON, or not CSAF (OpenVEX with no statement the parser can
/// use, or no `document.csaf_version`).
pub fn parse<R: BufRead>(reader: R, opts: &ParseOptions) -> Result<Parsed<Advisory>, FeedError> {
    parse_with_stats(reader, opts).map(|(parsed, _)| parsed)
}

/// [`parse`], also returning the counts of what was skipped on purpose.
///
/// # Errors
/// As [`parse`].
pub fn parse_with_stats<R: BufRead>(
    mut reader: R,
    opts: &ParseOptions,
) -> Result<(Parsed<Advisory>, Stats), FeedError> {
    let mut buf = Vec::new();
    reader.read_to_end(&mut buf)?;
    let bounds = split_documents(&buf)?;
    if bounds.is_empty() {
        return Err(FeedError::Format {
            expected: "csaf",
            reason: "empty input".into(),
        });
    }
    let single = bounds.len() == 1;
    let mut out = Parsed::default();
    let mut stats = Stats::default();
    for (n, (start, end)) in bounds.into_iter().enumerate() {
        let doc: RawDoc = match serde_json::from_slice(&buf[start..end]) {
            Ok(doc) => doc,
            Err(err) if single => return Err(FeedError::Json(err.to_string())),
            Err(err) => {
                out.problems.push(Problem::new(
                    None::<String>,
                    format!("document {} skipped: {err}", n + 1),
                ));
                continue;
            }
        };
        convert_document(doc, opts, &mut out, &mut stats)?;
    }
    Ok((out, stats))
}

/// Byte ranges of the JSON values in `buf` (one document, or several separated by whitespace).
fn split_documents(buf: &[u8]) -> Result<Vec<(usize, usize)>, FeedError> {
    let mut bounds = Vec::new();
    let mut it = serde_json::Deserializer::from_slice(buf).into_iter::<IgnoredAny>();
    loop {
        let start = it.byte_offset();
        match it.next() {
            None => break,
            Some(Ok(_)) => bounds.push((start, it.byte_offset())),
            Some(Err(err)) => return Err(FeedError::Json(err.to_string())),
        }
    }
    Ok(bounds)
}

fn convert_document(
    doc: RawDoc,
    opts: &ParseOptions,
    out: &mut Parsed<Advisory>,
    stats: &mut Stats,
) -> Result<(), FeedError> {
    let is_csaf = doc
        .document
        .as_ref()
        .is_some_and(|d| d.csaf_version.is_some());
    if is_csaf {
        let version = doc
            .document
            .as_ref()
            .and_then(|d| d.csaf_version.as_deref())
            .unwrap_or_default();
        if !version.starts_with("2.") {
            return Err(FeedError::Format {
                expected: "csaf",
                reason: format!("unsupported csaf_version {version:?} (2.x expected)"),
            });
        }
        stats.documents += 1;
        let mut conv = Converter::new(&doc, opts);
        let advisory = conv.run();
        stats.skipped_platform += conv.skipped_platform;
        stats.skipped_not_rpm += conv.skipped_not_rpm;
        out.problems.append(&mut conv.problems);
        out.records.extend(advisory);
        return Ok(());
    }
    if openvex::is_openvex(&doc) {
        stats.openvex_documents += 1;
        return openvex::convert(doc, out);
    }
    let tracking = doc.document.as_ref().and_then(|d| d.tracking.as_ref());
    if let Some(t) = tracking.filter(|t| t.status.as_deref() == Some("deleted")) {
        stats.deleted += 1;
        out.problems.push(Problem::new(
            t.id.clone(),
            "document withdrawn by the vendor (deletion marker); nothing imported",
        ));
        return Ok(());
    }
    Err(FeedError::Format {
        expected: "csaf",
        reason: "no document.csaf_version".into(),
    })
}

/// How one product id of a `product_status` list resolved.
#[derive(Clone, Debug)]
enum Resolved {
    /// A package in a stream.
    Package {
        stream: OsStream,
        component: Component,
        kind: PackageKind,
    },
    /// A package on a platform outside the model.
    SkippedPlatform,
    /// Not an rpm.
    NotRpm,
    /// The id names a platform product itself, not a package on it.
    PlatformItself,
    /// A relationship whose platform product has no CPE.
    PlatformWithoutCpe,
    /// The id is not in the product tree, or names a package with no platform.
    Unknown,
}

/// The `product_status` lists, by what they mean for pakiti.
enum Kind {
    /// `fixed`, `first_fixed`.
    Fixed,
    /// `known_affected`, `first_affected`, `last_affected`.
    Affected,
    /// `known_not_affected`.
    NotAffected,
    /// `under_investigation`: not known to be unaffected, so treated as affected.
    Investigating,
    /// `recommended`: says nothing about being affected.
    Ignored,
    /// A key CSAF 2.0 does not define: reported, treated as affected.
    Unknown,
}

/// Status ranks, so that entry keys sort and merge (a [`Status`] is not `Ord`).
fn status_key(status: &Status) -> (u8, String) {
    match status {
        Status::Fixed(v) => (0, v.clone()),
        Status::Unfixed => (1, String::new()),
        Status::WillNotFix => (2, String::new()),
        Status::EndOfLife => (3, String::new()),
        Status::NotAffected => (4, String::new()),
        Status::Ignored => (5, String::new()),
    }
}

fn status_from_key((rank, version): (u8, String)) -> Status {
    match rank {
        0 => Status::Fixed(version),
        1 => Status::Unfixed,
        2 => Status::WillNotFix,
        3 => Status::EndOfLife,
        5 => Status::Ignored,
        _ => Status::NotAffected,
    }
}

/// (stream, package, kind: 0 binary / 1 source, module, status key).
type EntryKey = (OsStream, String, u8, Option<String>, (u8, String));

/// Converts one CSAF document.
struct Converter<'d> {
    doc: &'d RawDoc,
    opts: &'d ParseOptions,
    red_hat: bool,
    id: Option<String>,
    products: FxHashMap<&'d str, &'d RawProduct>,
    relationships: FxHashMap<&'d str, &'d RawRelationship>,
    resolved: FxHashMap<&'d str, Resolved>,
    /// Entry key → arches (`None`: every arch).
    entries: BTreeMap<EntryKey, Option<BTreeSet<String>>>,
    skipped_platform: usize,
    skipped_not_rpm: usize,
    unknown_ids: usize,
    platforms_without_cpe: usize,
    fixed_without_version: usize,
    unknown_status_keys: BTreeSet<String>,
    unknown_remediations: BTreeSet<String>,
    unknown_relationships: BTreeMap<String, usize>,
    problems: Vec<Problem>,
}

impl<'d> Converter<'d> {
    fn new(doc: &'d RawDoc, opts: &'d ParseOptions) -> Self {
        let document = doc.document.as_ref();
        let red_hat = document
            .and_then(|d| d.publisher.as_ref())
            .is_some_and(|p| {
                p.name.as_deref().is_some_and(|n| n.contains("Red Hat"))
                    || p.namespace
                        .as_deref()
                        .is_some_and(|n| n.contains("redhat.com"))
            });
        let id = document
            .and_then(|d| d.tracking.as_ref())
            .and_then(|t| t.id.as_deref())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        Converter {
            doc,
            opts,
            red_hat,
            id,
            products: FxHashMap::default(),
            relationships: FxHashMap::default(),
            resolved: FxHashMap::default(),
            entries: BTreeMap::new(),
            skipped_platform: 0,
            skipped_not_rpm: 0,
            unknown_ids: 0,
            platforms_without_cpe: 0,
            fixed_without_version: 0,
            unknown_status_keys: BTreeSet::new(),
            unknown_remediations: BTreeSet::new(),
            unknown_relationships: BTreeMap::new(),
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, message: String) {
        self.problems.push(Problem::new(self.id.clone(), message));
    }

    fn run(&mut self) -> Option<Advisory> {
        let doc = self.doc;
        let Some(id) = self.id.clone() else {
            self.problem("csaf document without document.tracking.id skipped".into());
            return None;
        };
        if let Some(tree) = &doc.product_tree {
            self.index_tree(tree);
        }
        if self.products.is_empty() && !doc.vulnerabilities.is_empty() {
            self.problem("product tree names no products".into());
        }
        for vuln in &doc.vulnerabilities {
            self.vulnerability(vuln);
        }
        self.report();
        let document = doc.document.as_ref();
        Some(Advisory {
            id,
            source: SOURCE.into(),
            title: document.and_then(|d| d.title.clone()).unwrap_or_default(),
            severity: severity(document, &doc.vulnerabilities),
            cves: cves(&doc.vulnerabilities),
            references: references(document, &doc.vulnerabilities),
            issued: document
                .and_then(|d| d.tracking.as_ref())
                .and_then(|t| iso_date(t.initial_release_date.as_deref())),
            updated: document
                .and_then(|d| d.tracking.as_ref())
                .and_then(|t| iso_date(t.current_release_date.as_deref())),
            affected: self.take_entries(),
        })
    }

    fn index_tree(&mut self, tree: &'d RawProductTree) {
        let mut stack: Vec<&'d raw::RawBranch> = tree.branches.iter().collect();
        while let Some(branch) = stack.pop() {
            if let Some(p) = &branch.product {
                self.products.insert(p.product_id.as_str(), p);
            }
            stack.extend(branch.branches.iter());
        }
        for p in &tree.full_product_names {
            self.products.insert(p.product_id.as_str(), p);
        }
        for rel in &tree.relationships {
            match rel.category.as_str() {
                "default_component_of" | "optional_component_of" => {
                    self.relationships
                        .insert(rel.full_product_name.product_id.as_str(), rel);
                }
                other => {
                    *self
                        .unknown_relationships
                        .entry(other.to_owned())
                        .or_default() += 1;
                }
            }
        }
    }

    fn resolve(&mut self, product_id: &'d str) -> Resolved {
        if let Some(r) = self.resolved.get(product_id) {
            return r.clone();
        }
        let r = self.resolve_uncached(product_id);
        self.resolved.insert(product_id, r.clone());
        r
    }

    fn resolve_uncached(&self, product_id: &'d str) -> Resolved {
        let (platform, package_id) = match self.relationships.get(product_id) {
            Some(rel) => {
                let platform = match self.products.get(rel.relates_to_product_reference.as_str()) {
                    Some(p) => match p
                        .product_identification_helper
                        .as_ref()
                        .and_then(|h| h.cpe.as_deref())
                        .and_then(platform::from_cpe)
                    {
                        Some(platform) => platform,
                        None => return Resolved::PlatformWithoutCpe,
                    },
                    None => return Resolved::Unknown,
                };
                (Some(platform), rel.product_reference.as_str())
            }
            None => {
                if let Some(p) = self.products.get(product_id) {
                    let cpe = p
                        .product_identification_helper
                        .as_ref()
                        .and_then(|h| h.cpe.as_deref());
                    if cpe.and_then(platform::from_cpe).is_some() {
                        return Resolved::PlatformItself;
                    }
                }
                (None, product_id)
            }
        };
        let stream = match platform {
            Some(Platform::Stream(s)) => s,
            Some(Platform::Skipped) => return Resolved::SkippedPlatform,
            None => match &self.opts.stream {
                Some(s) if self.products.contains_key(package_id) => s.clone(),
                _ => return Resolved::Unknown,
            },
        };
        let product = self.products.get(package_id);
        let purl = product
            .and_then(|p| p.product_identification_helper.as_ref())
            .and_then(|h| h.purl.as_deref());
        let name = product
            .and_then(|p| p.name.as_deref())
            .unwrap_or(package_id);
        match component::parse(purl, name) {
            component::Parsed::NotRpm => Resolved::NotRpm,
            component::Parsed::Rpm(c) => {
                let bare_red_hat_component = self.red_hat && purl.is_none() && c.evr.is_none();
                let kind = if c.is_source() || bare_red_hat_component {
                    PackageKind::Source
                } else {
                    PackageKind::Binary
                };
                Resolved::Package {
                    stream,
                    component: c,
                    kind,
                }
            }
        }
    }

    fn vulnerability(&mut self, vuln: &'d RawVulnerability) {
        // Remediations by product id, only needed for affected products.
        let mut remediations: FxHashMap<&'d str, Vec<(&'d str, &'d str)>> = FxHashMap::default();
        for rem in &vuln.remediations {
            let category = rem.category.as_str();
            let known = is_known_remediation(category);
            if !known {
                self.unknown_remediations.insert(category.to_owned());
            }
            if !known || matches!(category, "none_available" | "no_fix_planned") {
                for pid in &rem.product_ids {
                    remediations
                        .entry(pid.as_str())
                        .or_default()
                        .push((category, rem.details.as_deref().unwrap_or_default()));
                }
            }
        }
        for (key, ids) in &vuln.product_status {
            let key = key.trim().to_ascii_lowercase().replace([' ', '-'], "_");
            let kind = match key.as_str() {
                "fixed" | "first_fixed" => Kind::Fixed,
                "known_affected" | "first_affected" | "last_affected" => Kind::Affected,
                "known_not_affected" => Kind::NotAffected,
                "under_investigation" => Kind::Investigating,
                "recommended" => Kind::Ignored,
                _ => Kind::Unknown,
            };
            if matches!(kind, Kind::Ignored) {
                continue;
            }
            if matches!(kind, Kind::Unknown) {
                self.unknown_status_keys.insert(key.clone());
            }
            for pid in ids {
                let pid = pid.as_str();
                let (stream, component, pkind) = match self.resolve(pid) {
                    Resolved::Package {
                        stream,
                        component,
                        kind,
                    } => (stream, component, kind),
                    Resolved::SkippedPlatform => {
                        self.skipped_platform += 1;
                        continue;
                    }
                    Resolved::NotRpm => {
                        self.skipped_not_rpm += 1;
                        continue;
                    }
                    Resolved::PlatformItself => continue,
                    Resolved::PlatformWithoutCpe => {
                        self.platforms_without_cpe += 1;
                        continue;
                    }
                    Resolved::Unknown => {
                        self.unknown_ids += 1;
                        continue;
                    }
                };
                let status = match kind {
                    Kind::Fixed => match &component.evr {
                        Some(evr) => Status::Fixed(evr.clone()),
                        None => {
                            self.fixed_without_version += 1;
                            continue;
                        }
                    },
                    Kind::Affected => affected_status(remediations.get(pid).map(Vec::as_slice)),
                    Kind::NotAffected => Status::NotAffected,
                    Kind::Investigating | Kind::Unknown | Kind::Ignored => Status::Unfixed,
                };
                self.add(stream, component, pkind, &status);
            }
        }
    }

    fn add(&mut self, stream: OsStream, c: Component, kind: PackageKind, status: &Status) {
        let kind_rank = match kind {
            PackageKind::Binary => 0,
            PackageKind::Source => 1,
        };
        // Source entries match installed binaries, whose arch is never `src`.
        let arch = match kind {
            PackageKind::Binary => c.arch,
            PackageKind::Source => None,
        };
        let key = (stream, c.name, kind_rank, c.module, status_key(status));
        let slot = self
            .entries
            .entry(key)
            .or_insert_with(|| Some(BTreeSet::new()));
        match arch {
            None => *slot = None,
            Some(a) => {
                if let Some(set) = slot {
                    set.insert(a);
                }
            }
        }
    }

    fn take_entries(&mut self) -> Vec<Affected> {
        let entries = std::mem::take(&mut self.entries);
        // Packages that some vulnerability lists as affected or fixed keep only those entries.
        let affected: BTreeSet<(OsStream, String, u8, Option<String>)> = entries
            .keys()
            .filter(|k| k.4.0 != 4)
            .map(|k| (k.0.clone(), k.1.clone(), k.2, k.3.clone()))
            .collect();
        entries
            .into_iter()
            .filter(|(k, _)| {
                k.4.0 != 4 || !affected.contains(&(k.0.clone(), k.1.clone(), k.2, k.3.clone()))
            })
            .map(
                |((stream, package, kind, module, status), arches)| Affected {
                    stream,
                    package,
                    kind: if kind == 0 {
                        PackageKind::Binary
                    } else {
                        PackageKind::Source
                    },
                    arches: arches.map(|a| a.into_iter().collect()).unwrap_or_default(),
                    module,
                    introduced: None,
                    last_affected: None,
                    status: status_from_key(status),
                },
            )
            .collect()
    }

    fn report(&mut self) {
        if self.unknown_ids > 0 {
            let n = self.unknown_ids;
            self.problem(format!(
                "{n} product status references name no package on a platform in the product tree"
            ));
        }
        if self.platforms_without_cpe > 0 {
            let n = self.platforms_without_cpe;
            self.problem(format!(
                "{n} product status references relate to a platform without a cpe"
            ));
        }
        if self.fixed_without_version > 0 {
            let n = self.fixed_without_version;
            self.problem(format!(
                "{n} fixed products name no package version; left out"
            ));
        }
        for key in std::mem::take(&mut self.unknown_status_keys) {
            self.problem(format!(
                "unknown product_status {key:?}; its products taken as affected"
            ));
        }
        for cat in std::mem::take(&mut self.unknown_remediations) {
            self.problem(format!(
                "unknown remediation category {cat:?}; its products keep status unfixed"
            ));
        }
        for (cat, n) in std::mem::take(&mut self.unknown_relationships) {
            self.problem(format!(
                "{n} relationships of unknown category {cat:?} ignored"
            ));
        }
    }
}

fn is_known_remediation(category: &str) -> bool {
    matches!(
        category,
        "vendor_fix"
            | "none_available"
            | "no_fix_planned"
            | "workaround"
            | "mitigation"
            | "fix_planned"
            | "optional_patch"
    )
}

/// The status of a known-affected product, from the remediations that name it.
fn affected_status(remediations: Option<&[(&str, &str)]>) -> Status {
    let mut status = Status::Unfixed;
    for &(category, details) in remediations.unwrap_or_default() {
        let details = details.to_ascii_lowercase();
        let this = if details.contains("out of support") {
            Status::EndOfLife
        } else if category == "no_fix_planned" || details.contains("will not fix") {
            Status::WillNotFix
        } else {
            // `none_available` ("Affected", "Fix deferred") and unknown categories.
            Status::Unfixed
        };
        // End of life outranks will-not-fix outranks unfixed: the strongest "no fix coming".
        if status_key(&this).0 > status_key(&status).0 {
            status = this;
        }
    }
    status
}

fn severity(document: Option<&RawDocument>, vulns: &[RawVulnerability]) -> Severity {
    let aggregate = document
        .and_then(|d| d.aggregate_severity.as_ref())
        .and_then(|s| s.text.as_deref())
        .map_or(Severity::Unknown, Severity::from_vendor);
    if aggregate != Severity::Unknown {
        return aggregate;
    }
    vulns
        .iter()
        .flat_map(|v| &v.threats)
        .filter(|t| t.category == "impact")
        .filter_map(|t| t.details.as_deref())
        .map(Severity::from_vendor)
        .max()
        .unwrap_or_default()
}

fn cves(vulns: &[RawVulnerability]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in vulns {
        if let Some(cve) = v.cve.as_deref().map(str::trim).filter(|c| !c.is_empty())
            && !out.iter().any(|c| c == cve)
        {
            out.push(cve.to_owned());
        }
    }
    out
}

/// Document references (`self` first: the vendor page), then vulnerability references.
fn references(document: Option<&RawDocument>, vulns: &[RawVulnerability]) -> Vec<String> {
    let doc_refs = document
        .map(|d| d.references.as_slice())
        .unwrap_or_default();
    let mut out: Vec<String> = Vec::new();
    let self_first = doc_refs
        .iter()
        .filter(|r| r.category.as_deref() == Some("self"))
        .chain(
            doc_refs
                .iter()
                .filter(|r| r.category.as_deref() != Some("self")),
        )
        .chain(vulns.iter().flat_map(|v| &v.references));
    for r in self_first {
        if let Some(url) = r.url.as_deref().map(str::trim).filter(|u| !u.is_empty())
            && !out.iter().any(|u| u == url)
        {
            out.push(url.to_owned());
        }
    }
    out
}

/// `2023-12-05T10:00:00Z` → `2023-12-05`.
fn iso_date(s: Option<&str>) -> Option<String> {
    let date = s?.trim().get(..10)?;
    let b = date.as_bytes();
    let ok = b.iter().enumerate().all(|(i, c)| match i {
        4 | 7 => *c == b'-',
        _ => c.is_ascii_digit(),
    });
    ok.then(|| date.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(
            iso_date(Some("2023-12-05T10:00:00Z")).as_deref(),
            Some("2023-12-05")
        );
        assert_eq!(iso_date(Some("yesterday")), None);
        assert_eq!(iso_date(None), None);
    }

    #[test]
    fn affected_statuses() {
        assert_eq!(affected_status(None), Status::Unfixed);
        assert_eq!(
            affected_status(Some(&[("none_available", "Affected")])),
            Status::Unfixed
        );
        assert_eq!(
            affected_status(Some(&[("none_available", "Fix deferred")])),
            Status::Unfixed
        );
        assert_eq!(
            affected_status(Some(&[("no_fix_planned", "Will not fix")])),
            Status::WillNotFix
        );
        assert_eq!(
            affected_status(Some(&[("no_fix_planned", "Out of support scope")])),
            Status::EndOfLife
        );
    }
}
