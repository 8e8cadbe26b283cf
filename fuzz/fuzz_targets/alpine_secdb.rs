//! Fuzz target `alpine_secdb`: see [`pakiti_fuzz::alpine_secdb`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::alpine_secdb(data));
}
