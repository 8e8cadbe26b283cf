//! Fuzz target `listing`: see [`pakiti_fuzz::listing`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::listing(data));
}
