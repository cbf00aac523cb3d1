//! The OpenAPI 3.1 document. Paths come from the handlers as they are registered (utoipa-actix-web), so
//! the document cannot miss a route; `docs/openapi.json` is its committed snapshot, compared by a test.

use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, ResponseBuilder, Type};
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
                add_common_problems(path, operation);
            }
        }
    }
    let components = document.components.get_or_insert_with(Default::default);
    for (status, _, description) in COMMON_PROBLEMS {
        let mut response = ResponseBuilder::new().description(*description).content(
            crate::error::PROBLEM_JSON,
            Content::new(Some(Ref::from_schema_name("Problem"))),
        );
        if matches!(*status, "429" | "503") {
            response = response.header(
                "Retry-After",
                Header::new(utoipa::openapi::ObjectBuilder::new().schema_type(Type::Integer)),
            );
        }
        components
            .responses
            .insert(problem_response_name(status), RefOr::T(response.build()));
    }
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
            crate::cookies::HOST_SESSION_COOKIE,
            "A browser session (set by the login), in the HttpOnly cookie `__Host-keyport_session` where keyport \
             serves HTTPS, or `keyport_session` on plain-HTTP localhost development (where Secure cookies, and so \
             the `__Host-` prefix, are impossible); keyport reads only the name of its profile. Changes also need \
             the `X-CSRF-Token` header, whose value is in the readable cookie `__Host-keyport_csrf` \
             (`keyport_csrf`) and in `GET /me`",
        ))),
    );
    document
}

/// What can go wrong with any operation of a kind: (status, when it applies, description). Operations list
/// these besides their own (a route's own description of a status wins).
const COMMON_PROBLEMS: &[(&str, When, &str)] = &[
    (
        "400",
        When::TakesInput,
        "`malformed-request`: the body is not JSON, or a query parameter cannot be parsed",
    ),
    (
        "401",
        When::Authenticated,
        "`unauthenticated`: no valid session or personal access token",
    ),
    (
        "403",
        When::Authenticated,
        "`forbidden`, `insufficient-scope` or `csrf`: the caller may not do this",
    ),
    (
        "404",
        When::HasPathParameters,
        "`not-found`: no such resource, or not the caller's",
    ),
    (
        "413",
        When::HasBody,
        "`payload-too-large`: the body is over 64 KiB",
    ),
    (
        "415",
        When::HasBody,
        "`unsupported-media-type`: the body is not sent as `application/json`",
    ),
    (
        "422",
        When::TakesInput,
        "`validation`: a value the rules refuse; `errors[]` names each field",
    ),
    (
        "429",
        When::Authenticated,
        "`rate-limited`: too many failed authentications from the caller's address",
    ),
    (
        "503",
        When::UsesTheDatabase,
        "`database-unavailable` (or `litellm-unavailable`): try again later",
    ),
];

#[derive(Debug, Clone, Copy)]
enum When {
    TakesInput,
    Authenticated,
    HasPathParameters,
    HasBody,
    UsesTheDatabase,
}

fn problem_response_name(status: &str) -> String {
    format!("Problem{status}")
}

fn add_common_problems(path: &str, operation: &mut Operation) {
    let has_body = operation.request_body.is_some();
    let has_query = operation
        .parameters
        .iter()
        .flatten()
        .any(|p| matches!(p.parameter_in, ParameterIn::Query));
    let authenticated = serde_json::to_value(&operation.security)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .is_some_and(|reqs| {
            reqs.iter()
                .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
        });
    for (status, when, _) in COMMON_PROBLEMS {
        let applies = match when {
            When::TakesInput => has_body || has_query,
            When::Authenticated => authenticated,
            When::HasPathParameters => path.contains('{'),
            When::HasBody => has_body,
            When::UsesTheDatabase => !path.ends_with("/openapi.json"),
        };
        if applies {
            operation
                .responses
                .responses
                .entry((*status).to_owned())
                .or_insert_with(|| {
                    RefOr::Ref(Ref::new(format!(
                        "#/components/responses/{}",
                        problem_response_name(status)
                    )))
                });
        }
    }
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

/// The authorization table of the API as the running server serves it: the access each handler declares
/// (see [`crate::authz::Rules::from_document`]).
pub fn rules() -> crate::authz::Rules {
    crate::authz::Rules::from_document(&document())
}
