//! The generated parts of the documentation: a section between `<!-- NAME:start -->` and `<!-- NAME:end -->`
//! in a markdown file is compared with what the code produces, and rewritten under `UPDATE_DOCS=1` (`just
//! docs` regenerates them all, with `docs/openapi.json`).

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test support: a failure here is the calling test's"
)]

/// Fails when the section `name` of `doc` (a path under `docs/`) is not `content`; rewrites it under
/// `UPDATE_DOCS=1`.
pub fn check_generated_section(doc: &str, name: &str, content: &str) {
    let path = format!("{}/../../docs/{doc}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let (start_marker, end_marker) = (
        format!("<!-- {name}:start -->"),
        format!("<!-- {name}:end -->"),
    );
    let start = text
        .find(&start_marker)
        .unwrap_or_else(|| panic!("{start_marker} missing from docs/{doc}"))
        + start_marker.len();
    let end = text
        .find(&end_marker)
        .unwrap_or_else(|| panic!("{end_marker} missing from docs/{doc}"));
    let expected = format!("\n{content}");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        let updated = format!("{}{}{}", &text[..start], expected, &text[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert_eq!(
        &text[start..end],
        expected,
        "docs/{doc} is out of date; run `just docs`"
    );
}

/// How the tables of the documentation name an access.
pub fn access_label(access: keyport_api::authz::Access, throttled: bool) -> &'static str {
    use keyport_api::authz::Access;
    match access {
        Access::Public if throttled => "public, throttled",
        Access::Public => "public",
        Access::Member => "member",
        Access::Oversight => "oversight",
        Access::Admin => "admin",
    }
}
