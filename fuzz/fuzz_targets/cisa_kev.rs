//! Fuzz target `cisa_kev`: see [`pakiti_fuzz::cisa_kev`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::cisa_kev(data));
}
