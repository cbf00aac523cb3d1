//! The OpenAPI document is a contract: an accidental change of the API must fail this test. After an
//! intended change, regenerate the snapshot with `just openapi` (UPDATE_OPENAPI=1) and review the diff.

use std::path::PathBuf;

fn snapshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn openapi_document_matches_the_committed_snapshot() {
    let current = keyport_api::openapi::document().to_pretty_json().unwrap() + "\n";
    let path = snapshot_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &current).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == current,
        "the API changed: docs/openapi.json differs from what the code produces. \
         If the change is intended, run `just openapi` and commit the new snapshot."
    );
}

#[test]
fn openapi_document_lists_every_route_of_the_api() {
    let document = keyport_api::openapi::document();
    let paths: Vec<_> = document.paths.paths.keys().cloned().collect();
    for expected in [
        "/api/v1/config",
        "/api/v1/openapi.json",
        "/api/v1/admin/jobs",
        "/api/v1/api-keys/{id}/rotate",
        "/api/v1/models",
        "/api/v1/models/{id}",
        "/api/v1/subscriptions",
        "/api/v1/subscriptions/{id}",
        "/api/v1/subscriptions/{id}/cancel",
        "/api/v1/api-keys",
        "/api/v1/api-keys/{id}",
        "/api/v1/api-keys/{id}/revoke",
    ] {
        assert!(
            paths.iter().any(|p| p == expected),
            "{expected} missing from {paths:?}"
        );
    }
    assert!(matches!(
        document.openapi,
        utoipa::openapi::OpenApiVersion::Version31
    ));
}

#[test]
fn every_operation_has_its_own_id() {
    let json = serde_json::to_value(keyport_api::openapi::document()).unwrap();
    let mut seen = std::collections::BTreeMap::new();
    for (path, item) in json["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(id) = operation.get("operationId").and_then(|v| v.as_str()) else {
                continue;
            };
            if let Some(other) = seen.insert(id.to_owned(), format!("{method} {path}")) {
                panic!("operationId {id} is used by {other} and {method} {path}");
            }
        }
    }
    assert_eq!(
        seen.get("get_api_keys_by_id").map(String::as_str),
        Some("get /api/v1/api-keys/{id}")
    );
}

#[test]
fn the_member_key_list_is_a_page_with_the_admin_lists_query() {
    let json = serde_json::to_value(keyport_api::openapi::document()).unwrap();
    let list = &json["paths"]["/api/v1/api-keys"]["get"];
    let param = |name: &str| {
        list["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no {name} parameter: {list}"))
            .clone()
    };
    let limit = param("limit");
    assert_eq!(
        (
            &limit["in"],
            &limit["required"],
            &limit["schema"]["minimum"],
            &limit["schema"]["maximum"]
        ),
        (&"query".into(), &false.into(), &1.into(), &200.into()),
        "{limit}"
    );
    let status = param("status");
    assert_eq!(status["required"], false, "{status}");
    assert_eq!(
        status["schema"]["enum"],
        serde_json::json!([
            "provisioning",
            "active",
            "retiring",
            "revoked",
            "expired",
            "failed",
            "lost"
        ]),
        "{status}"
    );
    assert_eq!(param("cursor")["schema"]["format"], "uuid");
    let page = &list["responses"]["200"]["content"]["application/json"]["schema"]["$ref"];
    assert_eq!(page, "#/components/schemas/Page_ApiKeyDto");
    let schema = &json["components"]["schemas"]["Page_ApiKeyDto"];
    assert!(schema["properties"]["next_cursor"].is_object(), "{schema}");
    let key = &schema["properties"]["items"]["items"]["properties"];
    assert!(
        key["prefix"].is_object() && key["owner_username"].is_null(),
        "the caller's keys, without an owner: {schema}"
    );
}
