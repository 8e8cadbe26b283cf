//! Integration tests of the pakiti server crate and the `pakiti` binary.

mod smime;
mod vercmp;
