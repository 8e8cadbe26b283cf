//! The boolean algebra of criteria trees: expressions over numbered atoms, their
//! simplification once platform atoms are constants, and the expansion into a disjunction of
//! conjunctions that `reduce.rs` turns into affected entries. It knows nothing of OVAL.

/// The largest disjunctive form expanded for one definition and stream.
const MAX_TERMS: usize = 50_000;

/// A criteria tree in negation normal form: negation only on literals.
#[derive(Clone, Debug)]
pub(super) enum Expr {
    /// A condition already decided.
    Const(bool),
    /// Atom number, and whether it must hold (`true`) or fail (`false`).
    Lit(u32, bool),
    /// All must hold.
    And(Vec<Expr>),
    /// One must hold.
    Or(Vec<Expr>),
}

/// `And`, with constants folded.
pub(super) fn simplify_and(v: Vec<Expr>) -> Expr {
    let mut out = Vec::with_capacity(v.len());
    for x in v {
        match x {
            Expr::Const(true) => {}
            Expr::Const(false) => return Expr::Const(false),
            other => out.push(other),
        }
    }
    match out.len() {
        0 => Expr::Const(true),
        1 => out.pop().unwrap_or(Expr::Const(true)),
        _ => Expr::And(out),
    }
}

/// `Or`, with constants folded.
pub(super) fn simplify_or(v: Vec<Expr>) -> Expr {
    let mut out = Vec::with_capacity(v.len());
    for x in v {
        match x {
            Expr::Const(false) => {}
            Expr::Const(true) => return Expr::Const(true),
            other => out.push(other),
        }
    }
    match out.len() {
        0 => Expr::Const(false),
        1 => out.pop().unwrap_or(Expr::Const(false)),
        _ => Expr::Or(out),
    }
}

/// One conjunction of literals.
pub(super) type Term = Vec<(u32, bool)>;

/// Disjunctive normal form; `None` when it would exceed [`MAX_TERMS`].
pub(super) fn dnf(e: &Expr) -> Option<Vec<Term>> {
    match e {
        Expr::Const(true) => Some(vec![Vec::new()]),
        Expr::Const(false) => Some(Vec::new()),
        Expr::Lit(a, p) => Some(vec![vec![(*a, *p)]]),
        Expr::Or(v) => {
            let mut out = Vec::new();
            for x in v {
                out.extend(dnf(x)?);
                if out.len() > MAX_TERMS {
                    return None;
                }
            }
            Some(out)
        }
        Expr::And(v) => {
            let mut acc: Vec<Term> = vec![Vec::new()];
            for x in v {
                let d = dnf(x)?;
                if acc.len().saturating_mul(d.len()) > MAX_TERMS {
                    return None;
                }
                let mut next = Vec::with_capacity(acc.len() * d.len());
                for a in &acc {
                    for b in &d {
                        let mut t = a.clone();
                        t.extend_from_slice(b);
                        next.push(t);
                    }
                }
                acc = next;
            }
            Some(acc)
        }
    }
}
