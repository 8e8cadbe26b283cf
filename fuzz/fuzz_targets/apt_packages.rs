//! Fuzz target `apt_packages`: see [`pakiti_fuzz::apt_packages`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::apt_packages(data));
}
