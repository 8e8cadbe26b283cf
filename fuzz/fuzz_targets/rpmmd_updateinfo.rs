//! Fuzz target `rpmmd_updateinfo`: see [`pakiti_fuzz::rpmmd_updateinfo`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::rpmmd_updateinfo(data));
}
