//! The browser app (web-ui/) served at `/`: the files Vite builds into `web-ui/dist`, with the SPA fallback
//! (`index.html` for every path that is not a file, so `/keys` opens the app at its keys page).
//!
//! The files are embedded in release builds, so the binary is the whole deployment; debug builds read them from
//! `web-ui/dist` on each request, so `just web-build` shows up without rebuilding the server. A binary built
//! before the UI (or without Node) still compiles and answers a short "keyport is running" page instead.
//!
//! Vite names everything under `assets/` by its content hash, so those files are cached for a year; every
//! other file (`index.html` above all) is revalidated on each load so a new release is picked up at once. A
//! missing file under `assets/` is a 404, not the app: a stale script tag must fail visibly, not load HTML as
//! JavaScript. API paths never reach this module (the fallback in `lib.rs` answers them with problem+json).

use crate::error::ProblemCode;
use crate::ApiError;
use actix_web::http::{header, Method};
use actix_web::{HttpRequest, HttpResponse};
use std::borrow::Cow;

/// The built app. `allow_missing` keeps a build without `web-ui/dist` compiling (it then has no files).
#[derive(rust_embed::Embed)]
#[folder = "$CARGO_MANIFEST_DIR/../../web-ui/dist/"]
#[allow_missing = true]
struct Dist;

/// Where the app's files come from: the embedded build in the server, fixed files in tests.
pub(crate) trait Files {
    fn get(&self, path: &str) -> Option<Cow<'static, [u8]>>;
}

/// The files Vite built, embedded (release) or read from `web-ui/dist` (debug).
pub(crate) struct Embedded;

impl Files for Embedded {
    fn get(&self, path: &str) -> Option<Cow<'static, [u8]>> {
        Dist::get(path).map(|file| file.data)
    }
}

const INDEX: &str = "index.html";
const HASHED_DIR: &str = "assets/";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// The app's Content-Security-Policy: scripts, styles, fonts and API calls from keyport only (PatternFly sets
/// inline `style` attributes; scripts are never inline), no framing (clickjacking), no foreign forms.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

/// Answers a request for a non-API path from `files`.
pub(crate) fn serve(req: &HttpRequest, files: &dyn Files) -> Result<HttpResponse, ApiError> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Err(ApiError::method_not_allowed(
            req.method().as_str(),
            req.path(),
            &["GET", "HEAD"],
        ));
    }
    let path = req.path().trim_start_matches('/');
    let Some(path) = file_path(path) else {
        return Err(not_found(req.path()));
    };
    if !path.is_empty() {
        if let Some(body) = files.get(path) {
            let cache = if path.starts_with(HASHED_DIR) {
                IMMUTABLE
            } else {
                REVALIDATE
            };
            return Ok(file(body, content_type(path), cache));
        }
        if path.starts_with(HASHED_DIR) {
            return Err(not_found(req.path()));
        }
    }
    Ok(match files.get(INDEX) {
        Some(body) => file(body, content_type(INDEX), REVALIDATE),
        None => not_built(),
    })
}

/// The API reference page the build writes next to the app (web-ui/api-docs.html, naming Scalar's standalone
/// bundle, which the build copies under assets/ by its content hash).
const API_DOCS: &str = "api-docs.html";

/// `/api/docs`: the API reference page of the built app under the app's Content-Security-Policy, its script
/// from keyport's own origin. A server built without the app answers a short page pointing at the OpenAPI
/// document instead; never a script from another origin.
pub(crate) fn api_docs(req: &HttpRequest, files: &dyn Files) -> Result<HttpResponse, ApiError> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Err(ApiError::method_not_allowed(
            req.method().as_str(),
            req.path(),
            &["GET", "HEAD"],
        ));
    }
    let body = files
        .get(API_DOCS)
        .unwrap_or(Cow::Borrowed(API_DOCS_NOT_BUILT.as_bytes()));
    Ok(file(body, content_type(API_DOCS), REVALIDATE))
}

/// `/api/docs` of a server built without the web app: no script at all.
const API_DOCS_NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\
<title>keyport API reference</title><h1>keyport API reference</h1>\
<p>This build has no API reference page: it comes with the web app (run <code>just web-build</code> and build \
the server again).</p><p>The OpenAPI document it would show is at \
<a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>; any OpenAPI viewer or client generator reads it. \
The API itself is described in docs/api.md.</p></html>";

/// The request path as a file name of the app, `""` for "not a file, open the app", or `None` for a name
/// under assets/ that cannot be one of Vite's. The app's files have plain names: no `.` or `..` segment, no
/// empty segment inside, no backslash or percent-escape. A UI route may well carry escapes (a model id with a
/// `/` is `%2F` in the URL), so elsewhere such a path just gets the app.
fn file_path(path: &str) -> Option<&str> {
    let plain = !path.contains("//")
        && path.split('/').all(|segment| {
            segment != "." && segment != ".." && !segment.contains(['\\', '%', '\0'])
        });
    if plain {
        Some(path)
    } else if path.starts_with(HASHED_DIR) {
        None
    } else {
        Some("")
    }
}

fn file(body: Cow<'static, [u8]>, content_type: &'static str, cache: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .body(body.into_owned())
}

fn not_found(path: &str) -> ApiError {
    ApiError::new(ProblemCode::NotFound, format!("no such file: {path}"))
}

/// What a server built without the web app answers in its place.
fn not_built() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, REVALIDATE))
        .body(
            "<!doctype html><title>keyport</title><h1>keyport is running</h1>\
             <p>The REST API is at <code>/api/v1</code>; its interactive documentation is at \
             <a href=\"/api/docs\">/api/docs</a>.</p>\
             <p>This build has no web app: run <code>just web-build</code> and build the server again.</p>",
        )
}

fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    match extension.to_ascii_lowercase().as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;
    use actix_web::test::TestRequest;
    use actix_web::ResponseError;
    use std::collections::HashMap;
    use std::sync::Arc;

    /// A built app: index.html, one hashed script and a favicon.
    struct Built(HashMap<&'static str, &'static [u8]>);

    impl Built {
        fn new() -> Self {
            Self(HashMap::from([
                (
                    "index.html",
                    b"<!doctype html><div id=root></div>".as_slice(),
                ),
                ("assets/index-abc123.js", b"console.log(1)".as_slice()),
                ("favicon.svg", b"<svg/>".as_slice()),
            ]))
        }
    }

    impl Files for Built {
        fn get(&self, path: &str) -> Option<Cow<'static, [u8]>> {
            self.0.get(path).map(|b| Cow::Borrowed(*b))
        }
    }

    struct NotBuilt;

    impl Files for NotBuilt {
        fn get(&self, _: &str) -> Option<Cow<'static, [u8]>> {
            None
        }
    }

    fn answer(result: Result<HttpResponse, ApiError>) -> (u16, String, String, String) {
        let response = result.unwrap_or_else(|e| e.error_response());
        let status = response.status().as_u16();
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let (content_type, cache) = (header(header::CONTENT_TYPE), header(header::CACHE_CONTROL));
        let body = response.into_body().try_into_bytes().unwrap();
        (
            status,
            content_type,
            cache,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    fn get(path: &str, files: &dyn Files) -> (u16, String, String, String) {
        answer(serve(
            &TestRequest::get().uri(path).to_http_request(),
            files,
        ))
    }

    #[test]
    fn the_root_serves_index_html_revalidated_on_every_load() {
        let (status, content_type, cache, body) = get("/", &Built::new());
        assert_eq!(status, 200);
        assert_eq!(content_type, "text/html; charset=utf-8");
        assert_eq!(cache, "no-cache");
        assert!(body.contains("<div id=root>"), "{body}");
    }

    #[test]
    fn the_app_may_not_be_framed_nor_run_foreign_or_inline_scripts() {
        let response = serve(
            &TestRequest::get().uri("/keys").to_http_request(),
            &Built::new(),
        )
        .unwrap();
        let csp = response
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-eval"), "{csp}");
        assert_eq!(
            response.headers().get(header::X_FRAME_OPTIONS).unwrap(),
            "DENY"
        );
    }

    #[test]
    fn ui_routes_serve_index_html() {
        for path in [
            "/keys",
            "/keys/0190a5e0-0000-7000-8000-000000000000",
            "/models/openai%2Fgpt-4.1",
            "/subscriptions?status=active",
            "/admin/users/",
        ] {
            let (status, content_type, _, body) = get(path, &Built::new());
            assert_eq!(status, 200, "{path}");
            assert_eq!(content_type, "text/html; charset=utf-8", "{path}");
            assert!(body.contains("<div id=root>"), "{path}: {body}");
        }
    }

    #[test]
    fn hashed_assets_are_served_with_their_type_and_cached_for_a_year() {
        let (status, content_type, cache, body) = get("/assets/index-abc123.js", &Built::new());
        assert_eq!(status, 200);
        assert_eq!(content_type, "text/javascript; charset=utf-8");
        assert_eq!(cache, "public, max-age=31536000, immutable");
        assert_eq!(body, "console.log(1)");
        let (status, content_type, cache, _) = get("/favicon.svg", &Built::new());
        assert_eq!(
            (status, content_type.as_str(), cache.as_str()),
            (200, "image/svg+xml", "no-cache")
        );
    }

    #[test]
    fn a_missing_asset_is_a_problem_404_not_the_app() {
        for path in [
            "/assets/x.js",
            "/assets/../index.html",
            "/assets/%2e%2e/index.html",
        ] {
            let (status, content_type, _, body) = get(path, &Built::new());
            assert_eq!(status, 404, "{path}");
            assert_eq!(content_type, "application/problem+json", "{path}");
            assert!(body.contains("urn:keyport:problem:not-found"), "{body}");
        }
    }

    #[test]
    fn paths_that_climb_out_never_name_a_file() {
        for path in ["/../Cargo.toml", "/./index.html", "/a//b"] {
            let (status, _, _, body) = get(path, &Built::new());
            assert_eq!(status, 200, "{path}");
            assert!(body.contains("<div id=root>"), "{path}: {body}");
        }
    }

    #[test]
    fn only_get_and_head_reach_the_app() {
        let req = TestRequest::post().uri("/keys").to_http_request();
        let (status, content_type, _, _) = answer(serve(&req, &Built::new()));
        assert_eq!(
            (status, content_type.as_str()),
            (405, "application/problem+json")
        );
        let req = TestRequest::default()
            .method(Method::HEAD)
            .uri("/")
            .to_http_request();
        assert_eq!(answer(serve(&req, &Built::new())).0, 200);
    }

    #[test]
    fn without_a_built_app_the_running_page_stays() {
        let (status, content_type, _, body) = get("/keys", &NotBuilt);
        assert_eq!(status, 200);
        assert_eq!(content_type, "text/html; charset=utf-8");
        assert!(body.contains("keyport is running"), "{body}");
        assert!(body.contains("just web-build"), "{body}");
        assert_eq!(get("/assets/x.js", &NotBuilt).0, 404);
    }

    fn docs(method: Method, files: &dyn Files) -> HttpResponse {
        let req = TestRequest::default()
            .method(method)
            .uri("/api/docs")
            .to_http_request();
        api_docs(&req, files).unwrap_or_else(|e| e.error_response())
    }

    fn csp(response: &HttpResponse) -> String {
        response
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    #[test]
    fn the_api_docs_page_is_the_built_one_under_the_apps_csp() {
        let mut built = Built::new();
        built.0.insert(
            "api-docs.html",
            b"<script id=api-reference type=application/json></script>\
              <script src=/assets/api-reference-abc.js></script>"
                .as_slice(),
        );
        let response = docs(Method::GET, &built);
        assert_eq!(csp(&response), CONTENT_SECURITY_POLICY);
        let (status, content_type, cache, body) = answer(Ok(response));
        assert_eq!(status, 200);
        assert_eq!(content_type, "text/html; charset=utf-8");
        assert_eq!(
            cache, "no-cache",
            "a new release's page is picked up at once"
        );
        assert!(body.contains("/assets/api-reference-abc.js"), "{body}");
        assert_eq!(docs(Method::HEAD, &built).status(), 200);
    }

    #[test]
    fn without_a_built_app_the_api_docs_point_at_the_document_and_load_nothing() {
        let response = docs(Method::GET, &NotBuilt);
        assert_eq!(csp(&response), CONTENT_SECURITY_POLICY);
        let (status, content_type, _, body) = answer(Ok(response));
        assert_eq!(
            (status, content_type.as_str()),
            (200, "text/html; charset=utf-8")
        );
        assert!(body.contains("<a href=\"/api/v1/openapi.json\">"), "{body}");
        assert!(body.contains("just web-build"), "{body}");
        assert!(!body.contains("<script"), "{body}");
        assert!(!body.contains("//"), "no other origin: {body}");
    }

    #[test]
    fn the_api_docs_answer_get_and_head_only() {
        let response = docs(Method::POST, &Built::new());
        assert_eq!(response.status(), 405);
        let (_, content_type, _, _) = answer(Ok(response));
        assert_eq!(content_type, "application/problem+json");
    }

    #[tokio::test]
    async fn api_paths_never_serve_the_app() {
        let routes = Arc::new(crate::RouteTable(vec![(
            "/api/v1/models".split('/').map(str::to_owned).collect(),
            vec!["GET".to_owned()],
        )]));
        for (method, path, status, code) in [
            (Method::GET, "/api/v1/nope", 404, "route-not-found"),
            (Method::GET, "/api/keys", 404, "route-not-found"),
            (Method::GET, "/api", 404, "route-not-found"),
            (Method::DELETE, "/api/v1/models", 405, "method-not-allowed"),
        ] {
            let req = TestRequest::default()
                .method(method)
                .uri(path)
                .to_http_request();
            let (actual, content_type, _, body) =
                answer(crate::fallback(req, routes.clone()).await);
            assert_eq!(actual, status, "{path}");
            assert_eq!(content_type, "application/problem+json", "{path}");
            assert!(
                body.contains(&format!("urn:keyport:problem:{code}")),
                "{path}: {body}"
            );
        }
    }
}
