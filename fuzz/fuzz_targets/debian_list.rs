//! Fuzz target `debian_list`: see [`pakiti_fuzz::debian_list`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::debian_list(data));
}
