//! Fuzz target `rpmmd_primary`: see [`pakiti_fuzz::rpmmd_primary`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::rpmmd_primary(data));
}
