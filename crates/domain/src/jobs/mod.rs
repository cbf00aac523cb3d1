//! The outbox: durable jobs that carry changes to LiteLLM, their store, and the worker's run.

mod list;
mod model;
mod ports;
mod run;

pub use list::*;
pub use model::*;
pub use ports::*;
pub use run::*;
