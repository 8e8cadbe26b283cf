//! Fuzz target `modules_yaml`: see [`pakiti_fuzz::modules_yaml`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::modules_yaml(data));
}
