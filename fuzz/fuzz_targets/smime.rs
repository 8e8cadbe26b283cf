//! Fuzz target `smime`: see [`pakiti_fuzz::smime`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::smime(data));
}
