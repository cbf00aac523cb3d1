//! The LiteLLM test double for keyport's tests: everything of `keyport-litellm-double`, plus a one-call
//! start with the demo models.

pub use keyport_litellm_double::*;

/// Starts a double serving [`DoubleConfig::demo_models`] on a free loopback port.
pub async fn start_demo() -> Result<LiteLlmDouble, Box<dyn std::error::Error + Send + Sync>> {
    Ok(LiteLlmDouble::start(DoubleConfig::demo()).await?)
}
