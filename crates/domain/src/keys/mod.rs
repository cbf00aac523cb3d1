//! API keys: the model (a key, its limits, its states), the ports that store them, and the use cases that
//! create, change, rotate, revoke and converge them. `shared` holds what several key use cases need
//! (finding the caller's key, converging it now, the created key), `rules` the checks a key must pass.

mod admin;
mod converge;
mod create;
mod get;
mod list;
mod model;
mod ports;
mod provision;
mod revoke;
mod rotate;
mod rules;
mod shared;
mod update;

pub use admin::*;
pub use converge::*;
pub use create::*;
pub use get::*;
pub use list::*;
pub use model::*;
pub use ports::*;
pub(crate) use provision::*;
pub use revoke::*;
pub use rotate::*;
pub use rules::*;
pub use shared::*;
pub use update::*;
