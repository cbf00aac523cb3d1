//! Audit events: who changed what. Written by the stores in the same transaction as the change itself.

use crate::ids::UserId;
use crate::user::Actor;
use chrono::{DateTime, Utc};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// `None` for changes made by keyport itself (the reconciler, a command).
    pub actor: Option<UserId>,
    /// A dotted verb, e.g. `api_key.create`, `subscription.cancel`.
    pub action: String,
    /// `api_key`, `subscription`, `user`, `model`, ...
    pub target_type: String,
    pub target_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub at: DateTime<Utc>,
}

impl AuditEvent {
    pub fn by(
        actor: &Actor,
        action: &str,
        target_type: &str,
        target_id: impl ToString,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            actor: Some(actor.user_id),
            action: action.to_owned(),
            target_type: target_type.to_owned(),
            target_id: target_id.to_string(),
            before: None,
            after: None,
            request_id: actor.request_id.clone(),
            client_addr: actor.client_addr.clone(),
            at,
        }
    }

    pub fn system(
        action: &str,
        target_type: &str,
        target_id: impl ToString,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            actor: None,
            action: action.to_owned(),
            target_type: target_type.to_owned(),
            target_id: target_id.to_string(),
            before: None,
            after: None,
            request_id: None,
            client_addr: None,
            at,
        }
    }

    pub fn with_before(mut self, before: Value) -> Self {
        self.before = Some(before);
        self
    }

    pub fn with_after(mut self, after: Value) -> Self {
        self.after = Some(after);
        self
    }
}
