//! One module per resource, one handler per action. Handlers parse, call a use case and map the result;
//! they hold no business rules.

pub mod access_tokens;
pub mod admin;
pub mod admin_dto;
pub mod admin_keys;
pub mod admin_models;
pub mod admin_reconcile;
pub mod admin_settings;
pub mod admin_subscriptions;
pub mod admin_users;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod meta;
pub mod models;
pub mod session;
pub mod subscriptions;

use utoipa_actix_web::service_config::ServiceConfig;

/// Every route under `/api/v1`. Registering through utoipa-actix-web puts each one in the OpenAPI document:
/// a route cannot exist without being documented.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(meta::config)
        .service(meta::openapi_json)
        .service(session::me)
        .service(session::dev_login)
        .service(session::logout)
        .service(auth::login)
        .service(auth::callback)
        .service(access_tokens::list)
        .service(access_tokens::create)
        .service(access_tokens::revoke)
        .service(access_tokens::list_of_user)
        .service(access_tokens::revoke_of_user)
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
        .service(admin::jobs)
        .service(admin_reconcile::status)
        .service(admin_users::list)
        .service(admin_users::get)
        .service(admin_users::update)
        .service(admin_users::suspend)
        .service(admin_users::reactivate)
        .service(admin_keys::list)
        .service(admin_keys::get)
        .service(admin_keys::block)
        .service(admin_keys::unblock)
        .service(admin_keys::revoke)
        .service(admin_keys::set_limits)
        .service(admin_subscriptions::list)
        .service(admin_subscriptions::grant)
        .service(admin_subscriptions::approve)
        .service(admin_subscriptions::reject)
        .service(admin_subscriptions::history)
        .service(admin_subscriptions::suspend)
        .service(admin_subscriptions::reactivate)
        .service(admin_subscriptions::revoke)
        .service(admin_subscriptions::change_quota)
        .service(admin_models::update)
        .service(admin_settings::get)
        .service(admin_settings::put)
        .service(admin_settings::self_service)
        .service(audit::list);
}
