//! Where models are kept, what a catalog sync applies, and an administrator's change of a model.
//!
//! Store contract (every port of this crate): a mutating method commits its change and its audit event(s) in
//! one transaction or not at all; `StoreError::Unavailable` means nothing was committed.

use crate::audit::AuditEvent;
use crate::catalog::{CatalogEntry, Model};
use crate::error::StoreError;
use crate::ids::{ModelId, SubscriptionId};
use crate::limits::Limits;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// What a catalog sync changes, applied in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogChanges {
    /// Models to insert or refresh. Refreshing touches only the fields LiteLLM owns (provider,
    /// capabilities, context window, prices) and marks the model available; the fields an admin edits
    /// (display name, description, restricted, hidden, default quota) are kept.
    pub upserts: Vec<CatalogEntry>,
    /// Models LiteLLM no longer lists: marked unavailable, never deleted.
    pub vanished: Vec<ModelId>,
    pub synced_at: DateTime<Utc>,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ModelStore: Send + Sync {
    /// Every model, ordered by id.
    async fn list_models(&self) -> Result<Vec<Model>, StoreError>;
    async fn get_model(&self, id: &ModelId) -> Result<Option<Model>, StoreError>;
    async fn apply_catalog(&self, changes: &CatalogChanges) -> Result<(), StoreError>;
}

/// What an administrator changes on a model; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelChanges {
    pub restricted: Option<bool>,
    pub hidden: Option<bool>,
    pub display_name: Option<String>,
    /// `Some(None)` removes the description.
    pub description: Option<Option<String>>,
    /// The quota new subscriptions get; existing subscriptions keep theirs.
    pub default_quota: Option<Limits>,
}

impl ModelChanges {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// What the change really changes on `model`, for the audit log: the old values and the new ones of
    /// the fields that differ (two JSON objects, empty when nothing would change).
    pub fn audit_values(&self, model: &Model) -> (Value, Value) {
        let mut before = Map::new();
        let mut after = Map::new();
        let mut note = |field: &str, old: Value, new: Value| {
            if old != new {
                before.insert(field.to_owned(), old);
                after.insert(field.to_owned(), new);
            }
        };
        if let Some(restricted) = self.restricted {
            note("restricted", json!(model.restricted), json!(restricted));
        }
        if let Some(hidden) = self.hidden {
            note("hidden", json!(model.hidden), json!(hidden));
        }
        if let Some(name) = &self.display_name {
            note("display_name", json!(model.display_name), json!(name));
        }
        if let Some(description) = &self.description {
            note("description", json!(model.description), json!(description));
        }
        if let Some(quota) = &self.default_quota {
            note("default_quota", json!(model.default_quota), json!(quota));
        }
        (Value::Object(before), Value::Object(after))
    }
}

/// When a model stops being restricted, its pending subscriptions are approved in the same transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleasePending {
    /// The history rows' reason.
    pub reason: String,
    /// Each approved subscription gets an audit event like this one (action, actor, request), with its own
    /// target, before and after.
    pub audit: AuditEvent,
}

/// A model after an administrator's change, with the subscriptions the change approved.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelUpdated {
    pub model: Model,
    pub approved: Vec<SubscriptionId>,
}
