//! docs/security.md prints the authorization table; this keeps it equal to the code's. Regenerate with
//! `UPDATE_DOCS=1 cargo test -p keyport-api --test authz_table`.

use keyport_api::authz::{rules, Access};

const START: &str = "<!-- authz-table:start -->";
const END: &str = "<!-- authz-table:end -->";

fn render() -> String {
    let table = rules();
    let mut rules: Vec<_> = table.rules().iter().collect();
    rules.sort_by_key(|r| (r.path.as_str(), r.method.as_str()));
    let mut out = String::from("| Method | Path | Access |\n|---|---|---|\n");
    for r in rules {
        let access = match r.access {
            Access::Public if r.throttled => "public, throttled",
            Access::Public => "public",
            Access::Member => "member",
            Access::Oversight => "oversight",
            Access::Admin => "admin",
        };
        out.push_str(&format!("| `{}` | `{}` | {access} |\n", r.method, r.path));
    }
    out
}

#[test]
fn the_security_doc_shows_the_authorization_table_of_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/security.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let start = doc.find(START).expect("start marker") + START.len();
    let end = doc.find(END).expect("end marker");
    let expected = format!("\n{}", render());
    if std::env::var_os("UPDATE_DOCS").is_some() {
        let updated = format!("{}{}{}", &doc[..start], expected, &doc[end..]);
        std::fs::write(path, updated).unwrap();
        return;
    }
    assert_eq!(
        &doc[start..end],
        expected,
        "docs/security.md is out of date; run UPDATE_DOCS=1 cargo test -p keyport-api --test authz_table"
    );
}
