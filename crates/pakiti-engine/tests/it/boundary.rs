//! The engine stays below the HTTP layer: a dependency on axum or on the server would let
//! it import handlers or `AppState`, which the crate boundary exists to forbid.

#[test]
fn the_engine_does_not_depend_on_http() {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("the engine's manifest");
    for banned in ["axum", "pakiti-server", "hyper", "tower", "askama"] {
        assert!(
            !manifest.lines().any(|l| l.trim_start().starts_with(banned)),
            "pakiti-engine must not depend on {banned}"
        );
    }
}
