//! Integration tests of the `pakiti` binary.

mod vercmp;
