//! Fuzz target `epss`: see [`pakiti_fuzz::epss`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::epss(data));
}
