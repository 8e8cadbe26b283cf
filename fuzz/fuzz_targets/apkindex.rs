//! Fuzz target `apkindex`: see [`pakiti_fuzz::apkindex`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::apkindex(data));
}
