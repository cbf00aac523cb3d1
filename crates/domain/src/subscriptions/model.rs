//! A user's subscription to a model, under a quota.

use crate::ids::{ModelId, SubscriptionId, UserId};
use crate::limits::Limits;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `pending → active → cancelled | suspended`, `pending → rejected`; cancelled, rejected and suspended
/// subscriptions may be requested again (back to pending or active).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionStatus {
    Pending,
    Active,
    Cancelled,
    Suspended,
    Rejected,
}

impl SubscriptionStatus {
    pub const ALL: [SubscriptionStatus; 5] = [
        Self::Pending,
        Self::Active,
        Self::Cancelled,
        Self::Suspended,
        Self::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Cancelled => "cancelled",
            Self::Suspended => "suspended",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// The transitions the state machine allows.
    pub fn can_become(self, next: SubscriptionStatus) -> bool {
        use SubscriptionStatus::*;
        matches!(
            (self, next),
            (Pending, Active | Rejected | Cancelled)
                | (Active, Cancelled | Suspended)
                | (Suspended, Active | Cancelled)
                | (Cancelled | Rejected, Pending | Active)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub user_id: UserId,
    pub model_id: ModelId,
    pub status: SubscriptionStatus,
    /// Why the status is what it is (e.g. a rejection's reason).
    pub status_reason: Option<String>,
    pub quota: Limits,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::SubscriptionStatus::*;

    #[test]
    fn only_the_documented_transitions_are_allowed() {
        assert!(Pending.can_become(Active));
        assert!(Pending.can_become(Rejected));
        assert!(Active.can_become(Cancelled));
        assert!(Cancelled.can_become(Active));
        assert!(!Active.can_become(Pending));
        assert!(!Active.can_become(Rejected));
        assert!(!Rejected.can_become(Suspended));
        assert!(!Active.can_become(Active));
    }
}
