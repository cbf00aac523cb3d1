//! Users and the acting caller (`Actor`, which owns the role checks every use case makes); creating users,
//! the directory, roles and statuses.

mod change_roles;
mod create;
mod directory;
mod model;
mod ports;
mod set_status;
mod set_status_by_id;

pub use change_roles::*;
pub use create::*;
pub use directory::*;
pub use model::*;
pub use ports::*;
pub use set_status::*;
pub use set_status_by_id::*;
