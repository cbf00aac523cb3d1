//! The model catalog: models as LiteLLM serves them plus what administrators set, the sync from LiteLLM,
//! and an administrator's changes.

mod list;
mod model;
mod ports;
mod sync;
mod update;

pub use list::*;
pub use model::*;
pub use ports::*;
pub use sync::*;
pub use update::*;
