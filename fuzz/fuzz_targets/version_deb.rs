//! Fuzz target `version_deb`: see [`pakiti_fuzz::version_deb`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::version_deb(data));
}
