//! What LiteLLM must hold for each user (role, reachable models, spend and rate pools) so that no key can
//! reach past its subscriptions, and the use case that converges it.

mod converge;
mod model;
mod ports;

pub use converge::*;
pub use model::*;
pub use ports::*;
