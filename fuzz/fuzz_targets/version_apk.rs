//! Fuzz target `version_apk`: see [`pakiti_fuzz::version_apk`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::version_apk(data));
}
