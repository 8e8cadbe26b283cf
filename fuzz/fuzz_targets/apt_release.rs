//! Fuzz target `apt_release`: see [`pakiti_fuzz::apt_release`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::apt_release(data));
}
