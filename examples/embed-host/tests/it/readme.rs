//! The README's embedding example is `src/bin/minimal-host.rs`, verbatim, so it compiles.

#[test]
fn readme_shows_the_minimal_host() {
    let readme = include_str!("../../../../README.md");
    let host = include_str!("../../src/bin/minimal-host.rs");
    assert!(
        readme.contains(&format!("```rust\n{host}```")),
        "README.md's embedding example differs from examples/embed-host/src/bin/minimal-host.rs: copy the file into the README"
    );
}
