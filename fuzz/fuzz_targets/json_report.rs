//! Fuzz target `json_report`: see [`pakiti_fuzz::json_report`].

fn main() {
    afl::fuzz!(|data: &[u8]| pakiti_fuzz::json_report(data));
}
