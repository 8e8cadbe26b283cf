//! Fuzz target `debian_tracker`: see [`pakiti_fuzz::debian_tracker`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::debian_tracker(data));
}
