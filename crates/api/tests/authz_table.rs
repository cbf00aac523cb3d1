//! docs/security.md prints the authorization table; this keeps it equal to the code's. Regenerate with
//! `just docs` (`UPDATE_DOCS=1`).

mod common;

use common::access_label;
use keyport_api::openapi::rules;

fn render() -> String {
    let table = rules();
    let mut rules: Vec<_> = table.rules().iter().collect();
    rules.sort_by_key(|r| (r.path.as_str(), r.method.as_str()));
    let mut out = String::from("| Method | Path | Access |\n|---|---|---|\n");
    for r in rules {
        out.push_str(&format!(
            "| `{}` | `{}` | {} |\n",
            r.method,
            r.path,
            access_label(r.access, r.throttled)
        ));
    }
    out
}

#[test]
fn the_security_doc_shows_the_authorization_table_of_the_code() {
    common::check_generated_section("security.md", "authz-table", &render());
}
