//! The tamper-evident audit log: events, the trail and its hash chain, listing, sealing and verifying.

mod list;
mod model;
mod ports;
mod seal;
mod verify;

pub use list::*;
pub use model::*;
pub use ports::*;
pub use seal::*;
pub use verify::*;
