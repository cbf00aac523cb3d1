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
