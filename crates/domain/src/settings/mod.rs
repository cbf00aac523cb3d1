//! The self-service settings: what an administrator allows for subscriptions and keys, and where the
//! settings in force are read from.

mod manage;
mod model;
mod ports;
mod source;

pub use manage::*;
pub use model::*;
pub use ports::*;
pub use source::*;
