//! The matcher: installed packages + advisories → findings, as a pure function.
//!
//! [`AdvisoryIndex`] indexes affected entries by (stream, package name). Evaluating one
//! installed package touches only the entries for its name in its stream. Fleets share most
//! package versions, so [`AdvisoryIndex::match_fleet`] evaluates each distinct
//! (stream, name, version, arch, source) once and reuses the answer for every host that has it;
//! the server does the same with its stored package-version ids.
//!
//! Where to look:
//! - `matcher/index.rs`: the index, [`AdvisoryIndex::targets`] (which data a host's stream is
//!   matched against), evaluation of one package, one host, a fleet;
//! - `matcher/modules.rs`: module streams inferred for hosts that report none
//!   ([`AdvisoryIndex::infer_modules`], [`module_build_tag`]);
//! - `matcher/rebuild.rs`: RHEL rebuilds against Red Hat's data ([`rebuild_compare`]).

mod index;
mod modules;
mod rebuild;
#[cfg(test)]
mod tests;

pub use index::{AdvisoryIndex, Finding, Hit, HostInventory, HostResult, Target};
pub use modules::{InferredModules, module_build_tag};
pub use rebuild::rebuild_compare;
