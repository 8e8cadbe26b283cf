//! Fuzz target `rpmmd_repomd`: see [`pakiti_fuzz::rpmmd_repomd`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::rpmmd_repomd(data));
}
