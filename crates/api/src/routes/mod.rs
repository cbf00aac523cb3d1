//! One module per resource, one handler per action. Handlers parse, call a use case and map the result;
//! they hold no business rules.

pub mod admin;
pub mod api_keys;
pub mod meta;
pub mod models;
pub mod subscriptions;

use utoipa_actix_web::service_config::ServiceConfig;

/// Every route under `/api/v1`. Registering through utoipa-actix-web puts each one in the OpenAPI document:
/// a route cannot exist without being documented.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(meta::config)
        .service(meta::openapi_json)
        .service(models::list)
        .service(models::get)
        .service(subscriptions::list)
        .service(subscriptions::create)
        .service(subscriptions::get)
        .service(subscriptions::cancel)
        .service(api_keys::list)
        .service(api_keys::create)
        .service(api_keys::get)
        .service(api_keys::update)
        .service(api_keys::rotate)
        .service(api_keys::revoke)
        .service(api_keys::revoke_post)
        .service(admin::jobs);
}
