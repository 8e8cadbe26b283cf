//! Fuzz target `apt_sources`: see [`pakiti_fuzz::apt_sources`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::apt_sources(data));
}
