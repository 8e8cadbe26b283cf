//! Fuzz target `config`: see [`pakiti_fuzz::config`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::config(data));
}
