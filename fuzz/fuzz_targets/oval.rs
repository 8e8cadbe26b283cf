//! Fuzz target `oval`: see [`pakiti_fuzz::oval`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::oval(data));
}
