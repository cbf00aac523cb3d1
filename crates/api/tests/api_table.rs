//! docs/api.md lists the endpoints; this generates the list from the OpenAPI document (method, path, query
//! parameters, access, the handler's summary) and fails when the committed one differs. Regenerate with
//! `just docs` (`UPDATE_DOCS=1`).

mod common;

use common::access_label;
use keyport_api::openapi::rules;
use serde_json::Value;

#[expect(
    clippy::unwrap_used,
    reason = "a test's helper: a document of another shape fails the test"
)]
fn render() -> String {
    let document = serde_json::to_value(keyport_api::openapi::document()).unwrap();
    let rules = rules();
    let mut out = String::new();
    for tag in document["tags"].as_array().unwrap() {
        let name = tag["name"].as_str().unwrap();
        let mut rows = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let tagged = operation["tags"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == name));
                if !tagged {
                    continue;
                }
                let method = method.to_ascii_uppercase();
                let actix_method = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
                let access = rules
                    .rule_for(&actix_method, path)
                    .map_or("**none: refused**", |r| access_label(r.access, r.throttled));
                let query: Vec<String> = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "query")
                    .map(|p| format!("{}=", p["name"].as_str().unwrap()))
                    .collect();
                let query = if query.is_empty() {
                    String::new()
                } else {
                    format!("?{}", query.join("&"))
                };
                let summary = one_line(&operation["summary"]);
                rows.push(format!(
                    "| `{method} {}{query}` | {access} | {summary} |\n",
                    path.trim_start_matches("/api/v1")
                ));
            }
        }
        if rows.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "\n**{name}**: {}\n\n| Method and path | Access | What it does |\n|---|---|---|\n",
            tag["description"].as_str().unwrap_or_default()
        ));
        out.extend(rows);
    }
    out.trim_start().to_owned()
}

/// A summary on one line, its pipes escaped for the table.
fn one_line(text: &Value) -> String {
    text.as_str()
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

#[test]
fn the_api_doc_lists_every_endpoint_of_the_document() {
    common::check_generated_section("api.md", "api-endpoints", &render());
}
