//! Fuzz target `protocol4`: see [`pakiti_fuzz::protocol4`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::protocol4(data));
}
