//! The reconciler: compares LiteLLM with keyport's records, repairs drift, and records each run.

mod engine;
mod log;
mod status;

pub use engine::*;
pub use log::*;
pub use status::*;
