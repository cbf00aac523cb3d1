//! Schemas the derives cannot write: string fields whose values are a domain enum's (`status`, `role`, …), so
//! that the OpenAPI document lists every value a client can receive or send, from the one list the domain
//! keeps (`ALL`). Use with `#[schema(schema_with = …)]` on a field or `#[param(schema_with = …)]` on a query.

use keyport_domain::catalog::Availability;
use keyport_domain::jobs::{JobKind, JobStatus};
use keyport_domain::keys::{ApiKeyStatus, SyncState};
use keyport_domain::subscriptions::SubscriptionStatus;
use keyport_domain::users::{Role, UserStatus};
use utoipa::openapi::schema::{ArrayBuilder, Object, ObjectBuilder, Type};

/// A string that is one of `values`.
pub fn one_of(values: impl IntoIterator<Item = &'static str>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .build()
}

/// Like [`one_of`], or null.
fn or_null(values: impl IntoIterator<Item = &'static str>) -> Object {
    use utoipa::openapi::schema::SchemaType;
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(
            values
                .into_iter()
                .map(serde_json::Value::from)
                .chain([serde_json::Value::Null]),
        ))
        .build()
}

pub fn key_status() -> Object {
    one_of(ApiKeyStatus::ALL.map(ApiKeyStatus::as_str))
}

pub fn sync_state() -> Object {
    one_of(SyncState::ALL.map(SyncState::as_str))
}

pub fn subscription_status() -> Object {
    one_of(SubscriptionStatus::ALL.map(SubscriptionStatus::as_str))
}

/// A subscription's status, or null when unknown.
pub fn subscription_status_or_null() -> Object {
    or_null(SubscriptionStatus::ALL.map(SubscriptionStatus::as_str))
}

pub fn role() -> Object {
    one_of(Role::ALL.map(Role::as_str))
}

/// A list of roles (1 to 3, each once).
pub fn roles() -> utoipa::openapi::schema::Array {
    ArrayBuilder::new()
        .items(role())
        .min_items(Some(1))
        .max_items(Some(Role::ALL.len()))
        .unique_items(true)
        .build()
}

pub fn user_status() -> Object {
    one_of(UserStatus::ALL.map(UserStatus::as_str))
}

pub fn job_status() -> Object {
    one_of(JobStatus::ALL.map(JobStatus::as_str))
}

pub fn job_kind() -> Object {
    one_of(JobKind::ALL.map(JobKind::as_str))
}

pub fn availability() -> Object {
    one_of(Availability::ALL.map(Availability::as_str))
}
