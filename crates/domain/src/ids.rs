//! Typed identifiers, so that a subscription id can never be passed where a key id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7: good index locality).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }
    };
}

uuid_id!(
    /// A user; also the user's `user_id` in LiteLLM.
    UserId
);
uuid_id!(
    /// A subscription of one user to one model.
    SubscriptionId
);
uuid_id!(
    /// An API key (a LiteLLM virtual key) as keyport records it.
    ApiKeyId
);
uuid_id!(
    /// A personal access token for keyport's own REST API.
    AccessTokenId
);

/// A model's id: LiteLLM's public `model_name` (the model group), which may contain `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ModelId(String);

impl ModelId {
    /// Model names come from LiteLLM's configuration; keyport accepts any non-empty name without control
    /// characters, up to 256 bytes.
    pub fn parse(value: impl Into<String>) -> Result<Self, crate::FieldError> {
        let value = value.into();
        if value.trim().is_empty() || value.len() > 256 || value.chars().any(char::is_control) {
            return Err(crate::FieldError::new(
                "model_id",
                "a model id is 1 to 256 characters without control characters",
            ));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
