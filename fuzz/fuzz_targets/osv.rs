//! Fuzz target `osv`: see [`pakiti_fuzz::osv`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::osv(data));
}
