//! Criteria-tree evaluation, the same for every vendor: from OVAL definitions, tests, objects
//! and states to advisories.
//!
//! Each test is classified once into atoms: a platform check, a package check (name, EVR
//! condition, arch list), a module check (an enabled `NAME:STREAM`), a condition taken as
//! satisfied (see below), or an unknown check. What a vendor's tests *mean* — which package or
//! file says the platform, which file says a module stream, what a criterion comment adds, which
//! severity words exist — is that vendor's [`Conventions`], implemented in `redhat.rs`,
//! `ubuntu.rs` and `suse.rs`; this file never names a vendor. A definition's tree is rewritten
//! in negation normal form over those atoms; for every OS stream the tree names, the platform
//! atoms are replaced by constants, the rest is expanded into a disjunction of conjunctions,
//! and each conjunction becomes [`Affected`] entries.
//!
//! Conditions taken as satisfied (agents do not report them):
//! - signature checks (`signature_keyid equals`, "signed with Red Hat key"): a package from
//!   another vendor with the same name would be reported too, which errs on the safe side;
//! - the running kernel checks (`uname_test`) and what a vendor's [`Conventions::text_file`]
//!   calls [`FileCheck::Assumed`] (Red Hat's next-boot kernel in grubenv): the
//!   installed-package check alone decides;
//! - the "host is unix" `family_test`.
//!
//! Anything that cannot be reduced soundly yields a [`Problem`], and the entry is widened
//! (a check that cannot be represented is dropped from its conjunction, which only adds
//! findings), never silently narrowed.

use pakiti_core::advisory::{Advisory, Affected, Severity, Status};
use pakiti_core::stream::{Distro, OsStream};
use rustc_hash::{FxHashMap, FxHashSet};

use super::boolean::{Expr, dnf, simplify_and, simplify_or};
use super::document::{Definition, Document, Item, Node, Operator};
use crate::{Parsed, Problem};

/// One vendor's conventions: the only part of the reduction that differs between Red Hat,
/// Ubuntu and SUSE. Each vendor module implements it on a unit struct and hands it to
/// [`advisories`]; a new vendor is a new implementation, not a new branch here.
pub(crate) trait Conventions {
    /// The feed name (`redhat-oval`): the advisories' `source`, and the format an error names.
    fn source(&self) -> &'static str;

    /// The severity words the vendor writes, in lower case; any other word is a problem.
    fn severities(&self) -> &'static [&'static str];

    /// The platform a package test (`rpminfo_test`, `rpmverifyfile_test`, `dpkginfo_test`)
    /// checks, when it checks one (a release package with a version condition); `None` for an
    /// ordinary package check.
    fn platform(&self, _object: &Item, _states: &[&Item]) -> Option<Platform> {
        None
    }

    /// What a `textfilecontent54_test` on `path` checks; `None` when the vendor gives the file
    /// no meaning (the test is then an unknown check, taken as satisfied with a problem).
    fn text_file(&self, _path: &str, _states: &[&Item]) -> Option<FileCheck> {
        None
    }

    /// What a criterion's comment adds to its package test; `None` when nothing.
    fn criterion_hint(&self, _comment: &str) -> Option<Hint> {
        None
    }
}

/// What a platform test checks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Platform {
    /// The host runs this stream.
    Stream(OsStream),
    /// The host runs any release of this distro ("Red Hat Enterprise Linux must be installed").
    Family(Distro),
    /// A platform pakiti has no stream for (Red Hat CoreOS, SUSE Manager): false for every
    /// stream pakiti knows.
    Other,
}

/// What a file-content test checks, in a vendor's reading.
pub(crate) enum FileCheck {
    /// The host's platform (Ubuntu's `/etc/lsb-release` codename).
    Platform(Platform),
    /// An enabled module stream, `NAME:STREAM` (Red Hat's `/etc/dnf/modules.d/NAME.module`).
    Module(String),
    /// Taken as satisfied: agents do not report it (Red Hat's next-boot kernel in grubenv).
    Assumed,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Evr {
    Less(String),
    GreaterEq(String),
    Equals(String),
    Unsupported(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PkgCheck {
    name: String,
    evr: Vec<Evr>,
    /// `None`: every architecture.
    arches: Option<Vec<String>>,
    /// State fields that could not be represented (dropped: the check is widened).
    unsupported: Vec<String>,
    /// What the criterion that uses the test says beyond the test
    /// ([`Conventions::criterion_hint`]; Ubuntu only).
    hint: Option<Hint>,
}

/// What a criterion comment says about its package beyond the test: a status, when the test
/// itself only asks "is the package installed", and the architectures its source package is
/// built for, when they are fewer than the release's. Only Ubuntu writes such comments
/// (`ubuntu.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Hint {
    /// `Some` for "ignored" and "end-of-life".
    pub(crate) status: Option<HintStatus>,
    /// Architectures the source package is built for, when limited.
    pub(crate) arches: Option<Vec<String>>,
}

/// A status a criterion comment gives a package that its test cannot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum HintStatus {
    /// The vendor decided not to fix it.
    Ignored,
    /// The release left support before a fix.
    EndOfLife,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Atom {
    /// Satisfied by assumption (signature, running kernel, unix family).
    Assumed,
    Platform(Platform),
    Package(PkgCheck),
    Module(String),
    Unknown(String),
}

/// What one test reduces to: a disjunction of atoms, possibly negated.
#[derive(Clone)]
struct TestClass {
    atoms: Vec<u32>,
    negated: bool,
}

struct Ctx<'d> {
    conventions: &'d dyn Conventions,
    doc: &'d Document,
    def_index: FxHashMap<&'d str, usize>,
    atoms: Vec<Atom>,
    atom_ids: FxHashMap<Atom, u32>,
    tests: FxHashMap<&'d str, TestClass>,
}

/// Problems of one definition, de-duplicated.
struct DefProblems<'a> {
    id: &'a str,
    seen: FxHashSet<String>,
    out: Vec<Problem>,
}

impl DefProblems<'_> {
    fn push(&mut self, message: String) {
        if self.seen.insert(message.clone()) {
            self.out.push(Problem::new(Some(self.id), message));
        }
    }
}

/// Turns a document into advisories.
pub(crate) fn advisories(
    doc: &Document,
    conventions: &dyn Conventions,
    override_stream: Option<&OsStream>,
) -> Parsed<Advisory> {
    let mut ctx = Ctx {
        conventions,
        doc,
        def_index: doc
            .definitions
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id.as_str(), i))
            .collect(),
        atoms: Vec::new(),
        atom_ids: FxHashMap::default(),
        tests: FxHashMap::default(),
    };
    let mut parsed = Parsed::default();
    for def in &doc.definitions {
        if def.class == "inventory" || def.class == "compliance" || def.class == "miscellaneous" {
            continue;
        }
        let mut problems = DefProblems {
            id: &def.id,
            seen: FxHashSet::default(),
            out: Vec::new(),
        };
        let adv = ctx.advisory(def, override_stream, &mut problems);
        parsed.records.push(adv);
        parsed.problems.append(&mut problems.out);
    }
    parsed
}

impl<'d> Ctx<'d> {
    fn intern(&mut self, atom: Atom) -> u32 {
        if let Some(&id) = self.atom_ids.get(&atom) {
            return id;
        }
        let id = u32::try_from(self.atoms.len()).unwrap_or(u32::MAX);
        self.atoms.push(atom.clone());
        self.atom_ids.insert(atom, id);
        id
    }

    fn advisory(
        &mut self,
        def: &'d Definition,
        override_stream: Option<&OsStream>,
        problems: &mut DefProblems<'_>,
    ) -> Advisory {
        let mut adv = Advisory {
            id: advisory_id(def),
            source: self.conventions.source().to_owned(),
            title: def.title.clone(),
            severity: self.severity(def, problems),
            cves: cves(def),
            references: def
                .references
                .iter()
                .filter(|r| !r.url.is_empty())
                .map(|r| r.url.clone())
                .collect(),
            issued: def.issued.clone(),
            updated: def.updated.clone(),
            affected: Vec::new(),
        };
        let Some(root) = &def.criteria else {
            problems.push("definition has no criteria".into());
            return adv;
        };
        let expr = self.build(root, false, 0, problems);
        // The streams the tree names.
        let mut streams: Vec<OsStream> = Vec::new();
        collect_streams(&expr, &self.atoms, &mut streams);
        let plan: Vec<(Option<OsStream>, OsStream)> = match override_stream {
            Some(o) => {
                let same: Vec<_> = streams
                    .iter()
                    .filter(|s| s.release() == o.release())
                    .collect();
                if let Some(s) = same.first() {
                    vec![(Some((*s).clone()), o.clone())]
                } else if streams.is_empty() {
                    vec![(None, o.clone())]
                } else {
                    Vec::new()
                }
            }
            None => streams
                .iter()
                .map(|s| (Some(s.clone()), s.clone()))
                .collect(),
        };
        if plan.is_empty() && override_stream.is_none() {
            problems.push("no platform (os stream) check in the criteria".into());
        }
        for (assume, label) in plan {
            let reduced = self.substitute(&expr, assume.as_ref(), problems);
            let Some(terms) = dnf(&reduced) else {
                problems.push("criteria too large to expand".into());
                continue;
            };
            for term in terms {
                self.entries(def, &term, &label, &mut adv.affected, problems);
            }
        }
        dedup(&mut adv.affected);
        adv
    }

    fn severity(&self, def: &Definition, problems: &mut DefProblems<'_>) -> Severity {
        let Some(word) = def.severity.as_deref().map(str::trim) else {
            return Severity::Unknown;
        };
        let known = self.conventions.severities();
        let lower = word.to_ascii_lowercase();
        if !known.contains(&lower.as_str()) {
            problems.push(format!("unknown severity {word:?}"));
        }
        Severity::from_vendor(word)
    }

    /// Builds the negation normal form of a criteria node.
    fn build(
        &mut self,
        node: &'d Node,
        neg: bool,
        depth: u32,
        problems: &mut DefProblems<'_>,
    ) -> Expr {
        match node {
            Node::Criteria {
                operator,
                negate,
                children,
            } => {
                let neg = neg ^ negate;
                if *operator == Operator::OneOrXor {
                    problems.push("ONE/XOR criteria read as OR".into());
                }
                let kids: Vec<Expr> = children
                    .iter()
                    .map(|c| self.build(c, neg, depth, problems))
                    .collect();
                // De Morgan: a negated AND is an OR of negations, and vice versa.
                let is_and = (*operator == Operator::And) != neg;
                if is_and {
                    Expr::And(kids)
                } else {
                    Expr::Or(kids)
                }
            }
            Node::Criterion {
                test_ref,
                negate,
                comment,
            } => {
                let mut class = self.classify(test_ref);
                if let Some(hint) = comment
                    .as_deref()
                    .and_then(|c| self.conventions.criterion_hint(c))
                {
                    class.atoms = class
                        .atoms
                        .iter()
                        .map(|&a| match &self.atoms[a as usize] {
                            Atom::Package(p) => {
                                let hinted = PkgCheck {
                                    hint: Some(hint.clone()),
                                    ..p.clone()
                                };
                                self.intern(Atom::Package(hinted))
                            }
                            _ => a,
                        })
                        .collect();
                }
                let neg = neg ^ negate ^ class.negated;
                let lits: Vec<Expr> = class.atoms.iter().map(|&a| Expr::Lit(a, !neg)).collect();
                // A test over several names holds when any name does; its negation when none does.
                if lits.len() == 1 {
                    lits.into_iter().next().unwrap_or(Expr::Const(true))
                } else if neg {
                    Expr::And(lits)
                } else {
                    Expr::Or(lits)
                }
            }
            Node::Extend {
                definition_ref,
                negate,
            } => {
                let neg = neg ^ negate;
                let target = self
                    .def_index
                    .get(definition_ref.as_ref())
                    .and_then(|&i| self.doc.definitions[i].criteria.as_ref());
                match target {
                    Some(t) if depth < 16 => self.build(t, neg, depth + 1, problems),
                    _ => {
                        let a = self.intern(Atom::Unknown(format!(
                            "extended definition {definition_ref} not found"
                        )));
                        Expr::Lit(a, !neg)
                    }
                }
            }
        }
    }

    /// Replaces platform and assumed atoms by constants for a host on `stream`.
    fn substitute(
        &self,
        e: &Expr,
        stream: Option<&OsStream>,
        problems: &mut DefProblems<'_>,
    ) -> Expr {
        match e {
            Expr::Const(b) => Expr::Const(*b),
            Expr::And(v) => simplify_and(
                v.iter()
                    .map(|x| self.substitute(x, stream, problems))
                    .collect(),
            ),
            Expr::Or(v) => simplify_or(
                v.iter()
                    .map(|x| self.substitute(x, stream, problems))
                    .collect(),
            ),
            Expr::Lit(a, pos) => match &self.atoms[*a as usize] {
                Atom::Platform(p) => {
                    let holds = match (p, stream) {
                        (Platform::Stream(s), Some(h)) => s == h,
                        (Platform::Family(d), Some(h)) => *d == h.distro(),
                        _ => false,
                    };
                    Expr::Const(holds == *pos)
                }
                Atom::Assumed => {
                    if !pos {
                        problems.push(
                            "negated signature/kernel/family check taken as satisfied".into(),
                        );
                    }
                    Expr::Const(true)
                }
                Atom::Unknown(why) => {
                    problems.push(format!("unsupported check taken as satisfied: {why}"));
                    Expr::Const(true)
                }
                Atom::Package(_) | Atom::Module(_) => Expr::Lit(*a, *pos),
            },
        }
    }

    /// Turns one conjunction into affected entries.
    fn entries(
        &self,
        def: &Definition,
        term: &[(u32, bool)],
        stream: &OsStream,
        out: &mut Vec<Affected>,
        problems: &mut DefProblems<'_>,
    ) {
        let mut positive: Vec<&PkgCheck> = Vec::new();
        let mut negative: Vec<&PkgCheck> = Vec::new();
        let mut modules: Vec<&str> = Vec::new();
        for &(a, pos) in term {
            match (&self.atoms[a as usize], pos) {
                (Atom::Package(p), true) => positive.push(p),
                (Atom::Package(p), false) => negative.push(p),
                (Atom::Module(m), true) => modules.push(m),
                (Atom::Module(m), false) => {
                    problems.push(format!("negated module check {m} dropped"));
                }
                _ => {}
            }
        }
        // "X is installed" AND "X is not installed": Red Hat's way of saying "not affected".
        let contradiction = negative.iter().any(|n| {
            n.evr.is_empty() && n.arches.is_none() && positive.iter().any(|p| p.name == n.name)
        });
        if !contradiction {
            for n in &negative {
                problems.push(format!("negated package check on {} dropped", n.name));
            }
        }
        let mut names: Vec<&str> = positive.iter().map(|p| p.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        if names.is_empty() {
            problems.push("a branch of the criteria holds without any package check".into());
            return;
        }
        let module = match modules.as_slice() {
            [] => None,
            [m] => Some((*m).to_owned()),
            _ => {
                problems
                    .push("several module checks in one branch: module condition dropped".into());
                None
            }
        };
        let only_equals = |name: &str| {
            positive
                .iter()
                .filter(|p| p.name == name)
                .all(|p| !p.evr.is_empty() && p.evr.iter().all(|e| matches!(e, Evr::Equals(_))))
        };
        if names.len() > 1 && names.iter().any(|n| !only_equals(n)) {
            // Kernel live patches: `kernel equals X AND kpatch-patch-X earlier than Y`. The
            // kpatch entry carries the condition; the exact-kernel check cannot be represented,
            // and the kernel's own fix is a separate branch of the same definition.
            names.retain(|n| !only_equals(n));
        }
        if names.len() > 1 && !contradiction {
            problems.push(format!(
                "and of checks on different packages ({}): one entry per package",
                names.join(", ")
            ));
        }
        for name in names {
            let checks: Vec<&&PkgCheck> = positive.iter().filter(|p| p.name == name).collect();
            let mut entry = Affected::binary(stream.clone(), name, Status::Unfixed);
            entry.module.clone_from(&module);
            let mut fixed: Option<String> = None;
            let mut arches: Option<Vec<String>> = None;
            let mut hinted_status: Option<HintStatus> = None;
            for c in &checks {
                if let Some(h) = &c.hint {
                    hinted_status = hinted_status.or(h.status);
                    if c.arches.is_none()
                        && let Some(a) = &h.arches
                    {
                        arches = Some(match arches {
                            None => a.clone(),
                            Some(old) => old.into_iter().filter(|x| a.contains(x)).collect(),
                        });
                    }
                }
                for f in &c.unsupported {
                    problems.push(format!("unsupported state field {f} on {name} ignored"));
                }
                for e in &c.evr {
                    match e {
                        Evr::Less(v) => {
                            let smaller = match &fixed {
                                Some(old) => stream.scheme().compare(v, old).is_lt(),
                                None => true,
                            };
                            if smaller {
                                fixed = Some(v.clone());
                            }
                        }
                        Evr::GreaterEq(v) => entry.introduced = Some(v.clone()),
                        Evr::Equals(v) => {
                            // Equality is equality (issue 12 item 7): kpatch definitions
                            // name the one kernel a live patch is for.
                            entry.introduced = Some(v.clone());
                            entry.last_affected = Some(v.clone());
                        }
                        Evr::Unsupported(op) => {
                            problems.push(format!(
                                "unsupported evr operation {op:?} on {name} ignored"
                            ));
                        }
                    }
                }
                if let Some(a) = &c.arches {
                    arches = Some(match arches {
                        None => a.clone(),
                        Some(old) => old.into_iter().filter(|x| a.contains(x)).collect(),
                    });
                }
            }
            entry.arches = arches.unwrap_or_default();
            entry.status = if contradiction {
                Status::NotAffected
            } else if let Some(v) = fixed {
                Status::Fixed(normalise_fixed(stream, v))
            } else if let Some(h) = hinted_status {
                match h {
                    HintStatus::Ignored => Status::Ignored,
                    HintStatus::EndOfLife => Status::EndOfLife,
                }
            } else {
                self.unpatched_status(def, name, problems)
            };
            out.push(entry);
        }
    }

    /// The status of a package that is affected whatever its version.
    fn unpatched_status(
        &self,
        def: &Definition,
        name: &str,
        problems: &mut DefProblems<'_>,
    ) -> Status {
        let resolution = def
            .resolutions
            .iter()
            .find(|r| r.components.iter().any(|c| c == name))
            .or_else(|| def.resolutions.iter().find(|r| r.components.is_empty()));
        let Some(r) = resolution else {
            return Status::Unfixed;
        };
        match r.state.trim().to_ascii_lowercase().as_str() {
            "affected" | "fix deferred" | "under investigation" | "new" => Status::Unfixed,
            "will not fix" => Status::WillNotFix,
            "out of support scope" => Status::EndOfLife,
            _ => {
                problems.push(format!(
                    "unknown resolution state {:?}: taken as affected",
                    r.state
                ));
                Status::Unfixed
            }
        }
    }

    /// Classifies a test (cached).
    fn classify(&mut self, test_ref: &'d str) -> TestClass {
        if let Some(c) = self.tests.get(test_ref) {
            return c.clone();
        }
        let doc = self.doc;
        let (atoms, negated) = match doc.tests.get(test_ref) {
            None => (
                vec![Atom::Unknown(format!(
                    "test {test_ref} not in the document"
                ))],
                false,
            ),
            Some(test) => self.classify_test(test_ref, test),
        };
        let atoms = atoms.into_iter().map(|a| self.intern(a)).collect();
        let class = TestClass { atoms, negated };
        self.tests.insert(test_ref, class.clone());
        class
    }

    fn classify_test(&self, test_ref: &str, test: &Item) -> (Vec<Atom>, bool) {
        let doc = self.doc;
        let object = test.object_ref.as_deref().and_then(|o| doc.objects.get(o));
        let states: Vec<&Item> = test
            .state_refs
            .iter()
            .filter_map(|s| doc.states.get(s.as_ref()))
            .collect();
        if test.state_refs.len() != states.len() {
            return (
                vec![Atom::Unknown(format!(
                    "state of test {test_ref} not in the document"
                ))],
                false,
            );
        }
        let Some(object) = object else {
            return match &*test.kind {
                "uname_test" | "family_test" => (vec![Atom::Assumed], false),
                _ => (
                    vec![Atom::Unknown(format!(
                        "object of test {test_ref} not in the document"
                    ))],
                    false,
                ),
            };
        };
        // `none_exist`: true when no item exists, whatever the states say.
        let none_exist = test.check_existence.as_deref() == Some("none_exist");
        let none_satisfy = test.check.as_deref() == Some("none satisfy");
        match &*test.kind {
            "uname_test" | "family_test" => (vec![Atom::Assumed], false),
            "rpminfo_test" | "dpkginfo_test" | "rpmverifyfile_test" => {
                if let Some(p) = self.conventions.platform(object, &states) {
                    return (vec![Atom::Platform(p)], none_exist || none_satisfy);
                }
                let names = match self.names(object) {
                    Ok(n) => n,
                    Err(why) => return (vec![Atom::Unknown(why)], false),
                };
                let states: &[&Item] = if none_exist { &[] } else { &states };
                let (evr, arches, unsupported, signature_only) = package_state(states);
                if signature_only && !states.is_empty() && !none_exist && !none_satisfy {
                    return (vec![Atom::Assumed], false);
                }
                let atoms = names
                    .into_iter()
                    .map(|name| {
                        Atom::Package(PkgCheck {
                            name,
                            evr: evr.clone(),
                            arches: arches.clone(),
                            unsupported: unsupported.clone(),
                            hint: None,
                        })
                    })
                    .collect();
                (atoms, none_exist || none_satisfy)
            }
            "textfilecontent54_test" => {
                let path = object.field("filepath").map_or("", |f| &f.value);
                let negated = none_exist || none_satisfy;
                match self.conventions.text_file(path, &states) {
                    Some(FileCheck::Platform(p)) => (vec![Atom::Platform(p)], negated),
                    Some(FileCheck::Module(m)) => (vec![Atom::Module(m)], negated),
                    Some(FileCheck::Assumed) => (vec![Atom::Assumed], false),
                    None => (
                        vec![Atom::Unknown(format!("textfilecontent54 test on {path:?}"))],
                        false,
                    ),
                }
            }
            other => (vec![Atom::Unknown(format!("{other} test"))], false),
        }
    }

    /// The package names an object selects.
    fn names(&self, object: &Item) -> Result<Vec<String>, String> {
        let Some(name) = object.field("name") else {
            return Err(format!("{} object without a name", object.kind));
        };
        if let Some(var) = &name.var_ref {
            return match self.doc.variables.get(var.as_ref()) {
                Some(Some(values)) if !values.is_empty() => Ok(values.clone()),
                Some(_) => Err(format!("variable {var} is not a constant list")),
                None => Err(format!("variable {var} not in the document")),
            };
        }
        match name.operation.as_deref() {
            None | Some("equals") if !name.value.is_empty() => Ok(vec![name.value.to_string()]),
            op => Err(format!(
                "package name {:?} with operation {op:?}",
                name.value
            )),
        }
    }
}

type PackageState = (Vec<Evr>, Option<Vec<String>>, Vec<String>, bool);

/// Reads the package conditions of a test's states: evr, arch, and fields pakiti ignores.
/// The last value says whether the states hold only signature conditions.
fn package_state(states: &[&Item]) -> PackageState {
    let mut evr = Vec::new();
    let mut arches: Option<Vec<String>> = None;
    let mut unsupported = Vec::new();
    let mut only_signature = true;
    for s in states {
        for f in &s.fields {
            let op = f.operation.as_deref().unwrap_or("equals");
            match &*f.name {
                "signature_keyid" => continue,
                "evr" => evr.push(match op {
                    "less than" => Evr::Less(f.value.to_string()),
                    "greater than or equal" => Evr::GreaterEq(f.value.to_string()),
                    "equals" => Evr::Equals(f.value.to_string()),
                    other => Evr::Unsupported(other.to_owned()),
                }),
                "arch" => match arch_list(&f.value, op) {
                    Some(list) => arches = Some(list),
                    None => unsupported.push(format!("arch {:?}", f.value)),
                },
                other => unsupported.push(other.to_owned()),
            }
            only_signature = false;
        }
    }
    (evr, arches, unsupported, only_signature)
}

/// Debian versions with a zero epoch are published without it (`0:1.2-3` is `1.2-3`), and
/// dpkg compares them equal; rpm EVRs keep their epoch as Red Hat and SUSE write it.
fn normalise_fixed(stream: &OsStream, v: String) -> String {
    match (stream.scheme(), v.strip_prefix("0:")) {
        (pakiti_core::version::Scheme::Deb, Some(rest)) => rest.to_owned(),
        _ => v,
    }
}

/// An arch condition as a list: `x86_64`, `aarch64|x86_64`, `(aarch64|x86_64)`, `^x86_64$`.
fn arch_list(value: &str, op: &str) -> Option<Vec<String>> {
    let v = value.trim();
    let v = match op {
        "equals" => return (!v.is_empty()).then(|| vec![v.to_owned()]),
        "pattern match" => v.trim_start_matches('^').trim_end_matches('$'),
        _ => return None,
    };
    let v = v
        .strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .unwrap_or(v);
    let list: Vec<String> = v.split('|').map(str::to_owned).collect();
    list.iter()
        .all(|a| !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then_some(list)
}

fn collect_streams(e: &Expr, atoms: &[Atom], out: &mut Vec<OsStream>) {
    match e {
        Expr::Lit(a, _) => {
            if let Atom::Platform(Platform::Stream(s)) = &atoms[*a as usize]
                && !out.contains(s)
            {
                out.push(s.clone());
            }
        }
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|x| collect_streams(x, atoms, out)),
        Expr::Const(_) => {}
    }
}

fn dedup(entries: &mut Vec<Affected>) {
    let mut seen: Vec<Affected> = Vec::with_capacity(entries.len());
    for e in entries.drain(..) {
        if !seen.contains(&e) {
            seen.push(e);
        }
    }
    *entries = seen;
}

/// The advisory id: the erratum (RHSA, SUSE-SU) for patch definitions, the CVE for
/// vulnerability definitions, the OVAL id when neither is named.
fn advisory_id(def: &Definition) -> String {
    if def.class == "patch" {
        if let Some(r) = def.references.iter().find(|r| {
            !r.ref_id.is_empty()
                && !r.source.eq_ignore_ascii_case("CVE")
                && !r.source.eq_ignore_ascii_case("BUGZILLA")
        }) {
            return r.ref_id.clone();
        }
    } else if let Some(c) = cves(def).into_iter().next() {
        return c;
    }
    def.id.clone()
}

/// CVE ids from `<cve>` elements and CVE references (SUSE writes `Mitre CVE-2004-2771`).
fn cves(def: &Definition) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let refs = def
        .references
        .iter()
        .filter(|r| r.source.eq_ignore_ascii_case("CVE"))
        .map(|r| r.ref_id.as_str());
    for raw in def.cves.iter().map(String::as_str).chain(refs) {
        if let Some(id) = raw.split_whitespace().find(|w| w.starts_with("CVE-"))
            && !out.iter().any(|c| c == id)
        {
            out.push(id.to_owned());
        }
    }
    out
}
