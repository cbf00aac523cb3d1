//! The LiteLLM test double for keyport's tests: everything of `keyport-litellm-double`, re-exported so that
//! a test crate needs one dev-dependency for its database and its LiteLLM.

pub use keyport_litellm_double::*;
