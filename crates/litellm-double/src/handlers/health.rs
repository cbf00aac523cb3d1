//! `/health/*`: unauthenticated probes.

use actix_web::HttpResponse;

/// 200 with the JSON string `"I'm alive!"`.
pub async fn liveliness() -> HttpResponse {
    HttpResponse::Ok().json("I'm alive!")
}

/// 200 `{"status":"healthy","db":"connected"}`: the double always has its "database".
pub async fn readiness() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "healthy", "db": "connected"}))
}
