//! Fuzz target `protocol5`: see [`pakiti_fuzz::protocol5`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::protocol5(data));
}
