//! An API key: a LiteLLM virtual key bound to one or more of its owner's subscriptions.

use crate::ids::{ApiKeyId, ModelId, SubscriptionId, UserId};
use crate::limits::{Limits, Money};
use crate::secret::{KeyHash, KeyPrefix};
use crate::FieldError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// ```text
/// provisioning ──► active ──► retiring ──► revoked | expired | lost
///      │             └──────────────────► revoked | expired | lost
///      └──► failed   (a provisioning row the reconciler cleans up also ends as failed)
/// lost ──► revoked
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiKeyStatus {
    /// Recorded, LiteLLM not yet confirmed; the secret has not been shown to anyone.
    Provisioning,
    Active,
    /// Replaced by a rotation; works until its deadline.
    Retiring,
    Revoked,
    Expired,
    /// Never became usable; nothing of it remains in LiteLLM (or the reconciler removes it).
    Failed,
    /// Was active, but LiteLLM no longer has it; it cannot be re-created without its secret.
    Lost,
}

impl ApiKeyStatus {
    pub const ALL: [ApiKeyStatus; 7] = [
        Self::Provisioning,
        Self::Active,
        Self::Retiring,
        Self::Revoked,
        Self::Expired,
        Self::Failed,
        Self::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisioning => "provisioning",
            Self::Active => "active",
            Self::Retiring => "retiring",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::Failed => "failed",
            Self::Lost => "lost",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Live keys count against their subscriptions (a subscription with live keys is in use). Names are held
    /// by provisioning and active keys only: a retiring key hands its name to the key that replaced it.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Provisioning | Self::Active | Self::Retiring)
    }

    pub fn can_become(self, next: ApiKeyStatus) -> bool {
        use ApiKeyStatus::*;
        matches!(
            (self, next),
            (Provisioning, Active | Failed)
                | (Active, Retiring | Revoked | Expired | Lost)
                | (Retiring, Revoked | Expired | Lost)
                | (Lost, Revoked)
        )
    }
}

/// Whether LiteLLM is known to hold what keyport recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncState {
    Synced,
    /// A change is recorded but LiteLLM has not confirmed it yet (e.g. a revocation while LiteLLM is down).
    Pending,
}

impl SyncState {
    /// Every value, in the order the API documents them.
    pub const ALL: [SyncState; 2] = [SyncState::Synced, SyncState::Pending];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Synced => "synced",
            Self::Pending => "pending",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "synced" => Some(Self::Synced),
            "pending" => Some(Self::Pending),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub user_id: UserId,
    pub name: String,
    pub prefix: KeyPrefix,
    pub hash: KeyHash,
    /// The key's `key_alias` in LiteLLM (unique across LiteLLM).
    pub litellm_alias: String,
    pub status: ApiKeyStatus,
    pub limits: Limits,
    pub expires_at: Option<DateTime<Utc>>,
    pub subscription_ids: Vec<SubscriptionId>,
    /// The models of the bound subscriptions, i.e. the key's `models` in LiteLLM.
    pub models: Vec<ModelId>,
    pub spend: Option<Money>,
    pub spend_read_at: Option<DateTime<Utc>>,
    /// When LiteLLM resets the key's budget next, as last read with the spend; `None` when unknown.
    pub budget_reset_at: Option<DateTime<Utc>>,
    pub sync_state: SyncState,
    pub last_sync_error: Option<String>,
    pub synced_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// For a `retiring` key: when it stops working (it is deleted in LiteLLM then).
    pub retire_at: Option<DateTime<Utc>>,
    /// For a rotated key: the key that replaced it.
    pub replaced_by: Option<ApiKeyId>,
    /// Blocked by an administrator (LiteLLM refuses the key until it is unblocked): since when, and why
    /// (the owner sees it). Both or neither.
    pub blocked_at: Option<DateTime<Utc>>,
    pub block_reason: Option<String>,
}

impl ApiKey {
    /// Whether an administrator has blocked the key.
    pub fn is_blocked(&self) -> bool {
        self.blocked_at.is_some()
    }

    /// Whether LiteLLM must be brought in line with a key that has just gone live, given the models
    /// LiteLLM was given for it (`granted`): it must when the key may no longer use one of them (one of its
    /// subscriptions stopped being active while the key was being created), so that the key cannot reach
    /// past its subscriptions even for a moment. [`crate::keys::ApiKeyStore::activate_key`] evaluates it
    /// in the activation's transaction and, when it holds, marks the key pending and queues its
    /// `ConvergeKey` job there.
    pub fn must_converge_after_activation(&self, granted: &[ModelId]) -> bool {
        matches!(self.status, ApiKeyStatus::Active | ApiKeyStatus::Retiring)
            && granted.iter().any(|model| !self.models.contains(model))
    }
}

/// A change to a key's settings (`PATCH /api-keys/{id}`); `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyUpdate {
    pub name: Option<String>,
    pub limits: Option<Limits>,
    pub subscription_ids: Option<Vec<SubscriptionId>>,
    /// `Some(None)` removes the expiry.
    pub expires_at: Option<Option<DateTime<Utc>>>,
}

/// What a create inserts, before LiteLLM is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub id: ApiKeyId,
    pub user_id: UserId,
    pub name: String,
    pub prefix: KeyPrefix,
    pub hash: KeyHash,
    pub litellm_alias: String,
    pub limits: Limits,
    pub expires_at: Option<DateTime<Utc>>,
    pub subscription_ids: Vec<SubscriptionId>,
    pub created_at: DateTime<Utc>,
}

/// The alias keyport gives a key in LiteLLM: unique because it embeds the key's id.
pub fn litellm_alias(id: ApiKeyId) -> String {
    format!("keyport-{id}")
}

/// A key name: at most 64 characters as sent, not blank, no control or invisible characters; kept trimmed.
pub fn validate_key_name(value: &str) -> Result<String, FieldError> {
    let sent = value.chars().count();
    let value = value.trim();
    if value.is_empty() || sent > 64 || value.chars().any(is_hidden) {
        return Err(FieldError::new(
            "name",
            "a key name is 1 to 64 characters without control, invisible or text-direction characters",
        ));
    }
    Ok(value.to_owned())
}

/// A character that changes how a name looks without being seen: control characters, zero-width ones
/// and the bidirectional overrides and isolates (a name could otherwise pass for another one in a list,
/// or reorder the text around it, as in "Trojan Source").
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}'   // zero-width space, non-joiner, joiner; LRM, RLM
            | '\u{202A}'..='\u{202E}' // LRE, RLE, PDF, LRO, RLO
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // LRI, RLI, FSI, PDI
            | '\u{061C}'              // Arabic letter mark
            | '\u{FEFF}'              // zero-width no-break space
        )
}

#[cfg(test)]
mod tests {
    use super::ApiKeyStatus::*;
    use super::*;

    #[test]
    fn litellm_follows_a_key_that_went_live_without_a_model_it_was_given() {
        let mut key = crate::fixtures::api_key(UserId::new(), Active);
        let model = |id: &str| ModelId::parse(id).unwrap();
        key.models = vec![model("gpt-4o")];
        assert!(!key.must_converge_after_activation(&[model("gpt-4o")]));
        assert!(!key.must_converge_after_activation(&[]));
        assert!(key.must_converge_after_activation(&[model("gpt-4o"), model("claude")]));
        key.models.clear();
        assert!(key.must_converge_after_activation(&[model("gpt-4o")]));
        key.status = Failed;
        assert!(
            !key.must_converge_after_activation(&[model("gpt-4o")]),
            "a key that is not live has nothing to bring in line"
        );
    }

    #[test]
    fn names_refuse_invisible_and_text_direction_characters() {
        assert_eq!(validate_key_name("  ci key ").unwrap(), "ci key");
        assert!(validate_key_name("café ✓ 鍵").is_ok());
        for hidden in [
            "a\u{202E}b",
            "a\u{200B}b",
            "a\u{2066}b",
            "\u{FEFF}a",
            "a\u{0007}",
        ] {
            let err = validate_key_name(hidden).unwrap_err();
            assert_eq!(err.field, "name", "{hidden:?}");
        }
    }

    #[test]
    fn key_status_machine_allows_only_forward_moves() {
        assert!(Provisioning.can_become(Active));
        assert!(Provisioning.can_become(Failed));
        assert!(Active.can_become(Revoked));
        assert!(Retiring.can_become(Revoked));
        assert!(!Revoked.can_become(Active));
        assert!(!Failed.can_become(Active));
        assert!(!Provisioning.can_become(Revoked));
        assert!(Provisioning.is_live() && Active.is_live() && Retiring.is_live());
        assert!(!Revoked.is_live() && !Failed.is_live() && !Expired.is_live());
    }

    #[test]
    fn key_names_are_trimmed_and_bounded() {
        assert_eq!(validate_key_name("  ci  ").unwrap(), "ci");
        assert_eq!(validate_key_name(" ").unwrap_err().field, "name");
        assert!(validate_key_name(&"x".repeat(65)).is_err());
        assert!(validate_key_name("a\nb").is_err());
    }
}
