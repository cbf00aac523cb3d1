//! The model catalog: what LiteLLM serves, as users see it.

use crate::ids::ModelId;
use crate::limits::Limits;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Availability {
    /// LiteLLM serves it.
    Available,
    /// LiteLLM no longer lists it; its subscriptions and keys stay visible.
    Unavailable,
}

impl Availability {
    /// Every value, in the order the API documents them.
    pub const ALL: [Availability; 2] = [Availability::Available, Availability::Unavailable];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::Unavailable => "unavailable",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "available" => Some(Self::Available),
            "unavailable" => Some(Self::Unavailable),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub id: ModelId,
    pub provider: Option<String>,
    pub display_name: String,
    pub description: Option<String>,
    /// For example `chat`, `embedding`, `vision`, `function_calling`.
    pub capabilities: Vec<String>,
    pub context_window: Option<i64>,
    pub input_price_per_token: Option<Decimal>,
    pub output_price_per_token: Option<Decimal>,
    pub availability: Availability,
    /// Subscribing needs an admin's approval.
    pub restricted: bool,
    /// Not shown in the catalog to users.
    pub hidden: bool,
    /// The quota a new subscription gets.
    pub default_quota: Limits,
    pub last_synced_at: Option<DateTime<Utc>>,
}

impl Model {
    /// Whether a user may subscribe to it now.
    pub fn is_offered(&self) -> bool {
        self.availability == Availability::Available && !self.hidden
    }
}

/// One model as LiteLLM's catalog describes it (`/model_group/info`).
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogEntry {
    pub id: ModelId,
    pub provider: Option<String>,
    pub mode: Option<String>,
    pub capabilities: Vec<String>,
    pub context_window: Option<i64>,
    pub input_price_per_token: Option<Decimal>,
    pub output_price_per_token: Option<Decimal>,
}
