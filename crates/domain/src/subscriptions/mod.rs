//! Subscriptions: a user's access to one model under a quota; subscribing, cancelling, and an
//! administrator's approvals, grants, suspensions and quota changes.

mod admin_list;
mod cancel;
mod control;
mod decide;
mod grant;
mod list;
mod model;
mod ports;
mod subscribe;

pub use admin_list::*;
pub use cancel::*;
pub use control::*;
pub use decide::*;
pub use grant::*;
pub use list::*;
pub use model::*;
pub use ports::*;
pub use subscribe::*;
