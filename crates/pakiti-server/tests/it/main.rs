//! Integration tests of the pakiti server crate.

mod smime;
