//! Who is calling: login through OpenID Connect, sessions, personal access tokens, the development
//! login, and the per-address limits on failed authentications.

mod access_tokens;
mod authenticate;
mod begin_login;
mod dev_login;
mod finish_login;
mod login;
mod rate_limit;
mod session;
mod sessions;
mod token;

pub use access_tokens::*;
pub use authenticate::*;
pub use begin_login::*;
pub use dev_login::*;
pub use finish_login::*;
pub use login::*;
pub use rate_limit::*;
pub use session::*;
pub use sessions::*;
pub use token::*;
