//! Fuzz target `version_rpm`: see [`pakiti_fuzz::version_rpm`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::version_rpm(data));
}
