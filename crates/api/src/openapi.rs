//! The OpenAPI 3.1 document. Paths come from the handlers as they are registered (utoipa-actix-web), so
//! the document cannot miss a route; `docs/openapi.json` is its committed snapshot, compared by a test.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "keyport",
        description = "Self-service portal for LiteLLM: model catalog, subscriptions and API keys bound to them. \
                       Errors are RFC 9457 problem documents (`application/problem+json`) with a stable `type` \
                       (`urn:keyport:problem:<code>`) and `errors[]` naming the fields that were wrong.",
        license(name = "Apache-2.0")
    ),
    components(schemas(crate::error::Problem, crate::error::FieldProblem)),
    tags(
        (name = "models", description = "The model catalog"),
        (name = "subscriptions", description = "Your subscriptions to models"),
        (name = "api-keys", description = "Your LiteLLM keys, bound to subscriptions"),
        (name = "meta", description = "About this keyport"),
        (name = "session", description = "Signing in and out, and who you are"),
        (name = "access-tokens", description = "Your personal access tokens for this API"),
        (name = "admin", description = "For administrators and auditors"),
    )
)]
struct ApiDoc;

/// The document before the routes are added.
pub fn base() -> Document {
    ApiDoc::openapi()
}

/// Adds what the routes cannot say themselves (the bearer scheme) and fixes the version to the crate's.
pub fn finish(mut document: Document) -> Document {
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    for (path, item) in document.paths.paths.iter_mut() {
        for (method, operation) in [
            ("get", &mut item.get),
            ("post", &mut item.post),
            ("put", &mut item.put),
            ("patch", &mut item.patch),
            ("delete", &mut item.delete),
        ] {
            if let Some(operation) = operation {
                operation.operation_id = Some(operation_id(method, path));
            }
        }
    }
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("A personal access token (`kp_pat_…`)"))
                .build(),
        ),
    );
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            crate::cookies::SESSION_COOKIE,
            "A browser session (set by the login); changes also need the `X-CSRF-Token` header",
        ))),
    );
    document
}

/// A unique, stable operation id from the method and path: `GET /api/v1/api-keys/{id}` is
/// `get_api_keys_by_id` (handler names repeat across resources, so they cannot serve as ids).
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_owned();
    for segment in path.trim_start_matches("/api/v1").split('/') {
        if segment.is_empty() {
            continue;
        }
        id.push('_');
        if segment.starts_with('{') {
            id.push_str("by_");
            id.push_str(segment.trim_matches(|c| c == '{' || c == '}'));
        } else {
            id.extend(
                segment
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
            );
        }
    }
    id
}

/// The complete document, as the running server serves it.
pub fn document() -> Document {
    use utoipa_actix_web::AppExt;
    let (_, document) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(base())
        .service(utoipa_actix_web::scope("/api/v1").configure(crate::routes::configure))
        .split_for_parts();
    finish(document)
}
