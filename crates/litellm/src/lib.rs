//! keyport's LiteLLM gateway adapter. [`LiteLlmClient`] implements the domain's
//! [`Gateway`](keyport_domain::gateway::Gateway) port over LiteLLM's admin API (`/key/*`, `/user/new`,
//! `/user/info`, `/user/update`, `/spend/logs/v2`, `/model_group/info`) with reqwest, following the
//! contract in `docs/litellm-contract.md`: it sends the secret keyport generated as a custom key, never asks
//! for a key without models, creates users without a stray key, view-only and with no model until their
//! subscriptions give them some, pools quotas per user (`model_max_budget`) and per team (`ensure_team`), reads
//! LiteLLM's answers leniently, and classifies every failure (every error shape LiteLLM writes, timeouts,
//! dropped connections) into a [`GatewayError`](keyport_domain::GatewayError) that tells the use cases whether
//! a change certainly failed or may have happened. Idempotent calls (everything but `/key/generate`: updates
//! carry the whole desired state, and an existing user counts as created) are retried briefly; `/key/generate`
//! never is. The master key and secrets never reach a log line or a `Debug` output.

mod client;
mod config;
mod problem;
mod wire;

pub use client::{LiteLlmClient, MAX_LIST_PAGE_SIZE, MAX_SPEND_PAGE_SIZE, UNLIMITED_RATE};
pub use config::{LiteLlmConfig, MasterKey, RetryPolicy};
