//! Fuzz target `csaf`: see [`pakiti_fuzz::csaf`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::csaf(data));
}
