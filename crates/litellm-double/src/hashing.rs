//! How LiteLLM turns a raw key into the `token` it stores and finds keys by (its `hash_token`).

use sha2::{Digest, Sha256};

/// `sha256(raw).hexdigest()`, LiteLLM's `token`.
pub fn hash_token(raw: &str) -> String {
    hex::encode(Sha256::digest(raw.as_bytes()))
}

/// `hash_token_if_needed`: hashes values that start with `sk-`, keeps the rest (already a hash).
pub fn hash_if_needed(value: &str) -> String {
    if value.starts_with("sk-") {
        hash_token(value)
    } else {
        value.to_owned()
    }
}
